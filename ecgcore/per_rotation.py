"""Pretraining per rotation: a study over every test fold whose transfer arms reuse a pretraining on the study's own
PTB-XL records (the measured or mixed source) must pretrain again for each rotation whose validation or test fold
it learnt from, without those two folds, or its cells would test on records the pretraining learnt from (the
sweep's leakage guard refuses that). `pretrain_per_rotation` submits those pretrainings and gives each arm its
run per test fold (Arm.per_fold); the cells wait in the queue for their pretraining. A pretraining on synthetic
records, or on another folder, is shared by every rotation as it is.
"""

from __future__ import annotations

from pathlib import Path

from ecgcore import jobs, runs, sweep
from ecgcore.config import JobConfig


def held_out(config, val, test):
    """`config` (a pretraining on real records) with validation fold `val` and test fold `test` held out."""
    d = config.to_dict()
    spec = d["data"] = dict(d["data"])
    if spec.get("source") == "mixed":
        spec["real"] = part = dict(spec["real"])
    else:
        part = spec
    part.update(val_fold=int(val), test_fold=int(test))
    if part.get("folds"):  # a pretraining on chosen folds keeps them, less the two held out
        part["folds"] = [f for f in part["folds"] if int(f) not in (val, test)]
    d["name"] = f"{config.name or 'pretraining'} · without folds {val} and {test}"
    return JobConfig.from_dict(d)


def needs(config, runs_dir=None):
    """{pretrained run path: [(validation fold, test fold), ...]}: the pretrainings `config` (a SweepConfig over
    folds) must make again, for each rotation whose folds a run of its arms learnt from (of its own PTB-XL
    folder). A rotation whose two folds the run held out already uses it as it is: pretrained again without
    them, it would learn from the very same folds."""
    data = config.base.data or {}
    if not config.folds or data.get("source") != "ptbxl":
        return {}
    root = Path(data["path"]).resolve()
    paths = dict.fromkeys(str(p) for arm in config.arms if not arm.per_fold for p in arm.pretrained)
    out = {}
    for path in paths:
        learnt = sweep.folds_learnt_by(path, runs_dir)  # the sweep's leakage guard's reading
        if learnt is not None and learnt[0] == root:
            splits = [(val, test) for val, test in config.splits() if learnt[1] & {val, test}]
            if splits:
                out[path] = splits
    return out


def pretrainings(config, runs_dir=None):
    """{(pretrained run path, test fold): the JobConfig of its pretraining for that rotation}, of every run `needs`
    names (what `pretrain_per_rotation` submits, and what an estimate before the start adds up)."""
    out = {}
    for path, splits in needs(config, runs_dir).items():
        original = runs.resolve_run(path, runs_dir).config
        out.update({(path, test): held_out(original, val, test) for val, test in splits})
    return out


def pretrain_per_rotation(config, runs_dir=None):
    """Submit each pretraining `needs` names once per rotation (a run several arms use is pretrained once) and set
    those arms' per_fold; returns the runs submitted (none for a study that needs none). `config` is changed."""
    made = {}  # (pretrained run, test fold): its run for that rotation
    try:
        for key, pretraining in pretrainings(config, runs_dir).items():
            made[key] = jobs.submit(pretraining, runs_dir)
    except (ValueError, OSError):
        _take_back(made.values())
        raise
    wanted = {path for path, _ in made}
    for arm in config.arms:
        if not arm.per_fold and wanted & {str(p) for p in arm.pretrained}:
            arm.per_fold = {str(test): [str(made[str(p), test].path) if (str(p), test) in made else str(p)
                                        for p in arm.pretrained] for _, test in config.splits()}
    return list(made.values())


def create_study(config, runs_dir=None):
    """sweep.create_sweep after pretrain_per_rotation: (the Sweep, the pretrainings submitted for it). A study
    refused takes its pretrainings back, so nothing of it is left queued."""
    made = pretrain_per_rotation(config, runs_dir)
    try:
        return sweep.create_sweep(config, runs_dir), made
    except (ValueError, OSError):
        _take_back(made)
        raise


def _take_back(made):
    for run in made:
        jobs.cancel(run)
