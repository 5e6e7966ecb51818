"""Data-efficiency sweeps: labelled fractions x arms x seeds on one data set, each cell an ordinary run.

A sweep lives in `RUNS_DIR/_sweeps/SWEEP_ID/sweep.json` (the leading "_" keeps it out of the run listing,
which only takes folders whose name starts with a letter or digit):
  {"id", "created", "config": SweepConfig.to_dict(),
   "cells": [{"arm": ARM NAME, "fraction": F, "seed": S, "run_id": RUN ID or null}, ...]}
Each cell's run is submitted with `ecgcore.jobs.submit`, so it shows on the Runs page like any other run;
its config is the sweep's base config with the arm's strategy/pretrained runs, the cell's fraction and seed,
and a name in words, "SWEEP · ARM · 5% of labels · seed 1" (a label for people only; `cells_by_run` tells which
study, arm, fraction and seed a run is). The cell map in sweep.json is what ties a cell to
its run (`Sweep.run_of`): nothing reads a run's name to find its sweep or cell. `advance` is idempotent:
it skips cells whose run is done, queued or running and (re)submits cells whose run failed, was cancelled
or is missing, writing sweep.json after every submission, so a sweep killed at any point resumes where it was.
"""

from __future__ import annotations

import functools
import secrets
import time
import warnings
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd

from ecgcore import jobs, rotation, run_index, runs, transfer
from ecgcore.config import CONTROLLED, FRACTIONS, SCRATCH, JobConfig, is_number
from ecgcore.data.admission import admit
from ecgcore.files import locked, now, read_json, write_json
from ecgcore.metrics import lower_is_better, metric_range, seed_interval
from ecgcore.words import metric_name, say

DEFAULT_SEEDS = (0, 1, 2)
SWEEPS_FOLDER = "_sweeps"


@dataclass
class Arm:
    """One strategy with its pretrained run(s), or (init="random") the strategy's random-init control arm;
    `label` names it in tables and plots."""

    strategy: str = SCRATCH
    pretrained: list = field(default_factory=list)  # run directories
    label: str = ""
    init: str = "pretrained"  # "random": a control arm (JobConfig.init)
    backbones: int = 1  # a random `combined` control's backbones (JobConfig.backbones)
    # {str(test fold): run directories} in a study over several test folds: a source pretrained on real records
    # is pretrained once per rotation, without that rotation's validation and test folds
    per_fold: dict = field(default_factory=dict)

    def pretrained_for(self, fold=None):
        """The pretrained runs of this arm's cells on test fold `fold` (None: the sweep's one split)."""
        return list(self.per_fold.get(str(fold), self.pretrained)) if fold is not None else list(self.pretrained)

    @property
    def name(self):
        if self.label:
            return self.label
        if self.init == "random":
            return transfer.control_name(self.strategy, self.backbones)
        if not self.pretrained:
            return self.strategy if not self.per_fold else f"{self.strategy}:per fold"
        return f"{self.strategy}:{','.join(Path(p).name for p in self.pretrained)}"

    def control(self):
        """The random-init control of this arm (same strategy and shape, no pretrained weights); None for an arm
        that reuses no network (scratch) or whose control is scratch itself (full_finetune)."""
        if self.init == "random" or self.strategy not in CONTROLLED:
            return None
        shape = max([len(self.pretrained), *map(len, self.per_fold.values())])
        return Arm(self.strategy, init="random", backbones=shape if self.strategy == "combined" else 1)


def with_controls(arms, random_probe=True):
    """`arms` plus the control of every arm that reuses a network, each control once (arms of one strategy from
    different pretrained runs share it: a random network does not depend on the run it stands in for), and,
    with `random_probe`, a linear probe on a random frozen backbone: the control "Evaluation of ECG
    Representations Must Be Fixed" (arXiv 2602.17531) found to match pretraining on many tasks."""
    out = list(arms)
    extra = [arm.control() for arm in arms]
    if random_probe and any(extra):
        extra.append(Arm("linear_probe", init="random"))
    for control in extra:
        if control is not None and control.name not in {a.name for a in out}:
            out.append(control)
    return out


@dataclass
class SweepConfig:
    """The grid: `base` is the JobConfig every cell starts from (task, data set, arch, epochs, ...)."""

    base: JobConfig = field(default_factory=lambda: JobConfig(task="finetune"))
    arms: list = field(default_factory=lambda: [Arm()])
    fractions: list = field(default_factory=lambda: list(FRACTIONS))
    seeds: list = field(default_factory=lambda: list(DEFAULT_SEEDS))
    name: str = ""
    # [[validation fold, test fold], ...]: the study is repeated with each as its split (ecgcore.rotation);
    # empty: the data spec's own split
    folds: list = field(default_factory=list)
    # learning rates every arm is trained at; each arm's is chosen per fold and fraction on validation
    # (choose_lr), so scratch and the controls get the same budget of choices as the transfer arms. Empty: base.lr
    lrs: list = field(default_factory=list)

    def splits(self):
        """[(validation fold, test fold)] of the cells; [None] for the data spec's own split."""
        return [tuple(int(f) for f in pair) for pair in self.folds] or [None]

    def rates(self):
        """The learning rates of the cells; [None] for base.lr alone."""
        return [float(x) for x in self.lrs] if len(self.lrs) > 1 else [None]

    def validate(self):
        """Raise ValueError naming what is wrong; return self."""
        if not self.arms:
            raise ValueError("arms is empty: a sweep needs at least one arm")
        names = [a.name for a in self.arms]
        if len(set(names)) != len(names):
            raise ValueError(f"arm names must be distinct, got {names}")
        if not self.fractions or any(not 0 < f <= 1 for f in self.fractions):
            raise ValueError(f"fractions={self.fractions!r} must be a non-empty list of values in (0, 1]")
        if len(set(self.fractions)) != len(self.fractions) or len(set(self.seeds)) != len(self.seeds):
            raise ValueError(f"fractions {self.fractions} and seeds {self.seeds} must not repeat a value")
        if not self.seeds:
            raise ValueError("seeds is empty: a sweep needs at least one seed")
        self._check_folds()
        if not learning_rates_ok(self.lrs):
            raise ValueError(f"lrs={self.lrs!r} must be {LRS_RULE}")
        learnt = functools.cache(folds_learnt_by)  # a run used by every rotation is looked at once
        for arm, split in ((arm, split) for arm in self.arms for split in self.splits()):
            fold = split[1] if split else None
            # what the door (jobs.submit) would refuse of a cell, before any cell is made
            admit(cell_config(self, arm, min(self.fractions), self.seeds[0], fold=fold))
            _check_unseen(self, arm, split, learnt)
        for arm in self.arms:  # fine-tuning reuses the network, so every arm has the base's arch
            for path in dict.fromkeys(p for fold in [None, *arm.per_fold] for p in arm.pretrained_for(fold)):
                pre_config = runs.resolve_run(path).config
                if pre_config.arch != self.base.arch or pre_config.preprocess.leads != self.base.preprocess.leads:
                    raise ValueError(
                        f"arm {arm.name!r}: pretrained run {path} is a {pre_config.arch} on leads "
                        f"{pre_config.preprocess.leads!r}, but the sweep trains a {self.base.arch} on "
                        f"{self.base.preprocess.leads!r}: every arm must share the architecture and leads")
        return self

    def _check_folds(self):
        if not self.folds:
            return
        if (self.base.data or {}).get("source") != "ptbxl":
            raise ValueError(f"folds: only a PTB-XL data set has folds to rotate over, this sweep's is "
                             f"{(self.base.data or {}).get('source') or 'synthetic'}")
        pairs = [tuple(p) for p in self.folds]
        if any(len(p) != 2 or p[0] == p[1] for p in pairs) or len({p[1] for p in pairs}) != len(pairs):
            raise ValueError(f"folds={self.folds!r} must be [validation fold, test fold] pairs of two different "
                             "folds, each test fold once")
        missing = [arm.name for arm in self.arms if arm.per_fold and {str(p[1]) for p in pairs} - set(arm.per_fold)
                   and not arm.pretrained]
        if missing:
            raise ValueError(f"arm(s) {missing} have pretrained runs for some test folds only: "
                             f"give one for each of {[p[1] for p in pairs]}")

    def baselines(self):
        """The arms a transfer arm must beat: scratch and every random-init control in this sweep."""
        return [a.name for a in self.arms if a.strategy == SCRATCH or a.init == "random"]

    def controls(self):
        """{arm name: the name of its control arm} for every arm whose control is in this sweep."""
        names = {a.name for a in self.arms}
        return {a.name: a.control().name for a in self.arms if a.control() is not None and a.control().name in names}

    def to_dict(self):
        return {"base": self.base.to_dict(), "name": self.name, "fractions": [float(f) for f in self.fractions],
                "seeds": [int(s) for s in self.seeds], "folds": [[int(f) for f in p] for p in self.folds],
                "lrs": [float(x) for x in self.lrs],
                "arms": [{"strategy": a.strategy, "pretrained": [str(p) for p in a.pretrained], "label": a.label,
                          "init": a.init, "backbones": a.backbones,
                          "per_fold": {str(k): [str(p) for p in v] for k, v in a.per_fold.items()}}
                         for a in self.arms]}

    @classmethod
    def from_dict(cls, d):
        return cls(base=JobConfig.from_dict(d["base"]), arms=[Arm(**a) for a in d["arms"]],
                   fractions=list(d["fractions"]), seeds=list(d["seeds"]), name=d.get("name", ""),
                   folds=[list(p) for p in d.get("folds", [])], lrs=list(d.get("lrs", [])))


LRS_RULE = "distinct finite numbers above 0"  # the learning rates a study chooses among


def learning_rates_ok(lrs):
    """Whether `lrs` are learning rates a study can choose among (LRS_RULE): each a finite number above 0
    (config.is_number: not a bool, not text), none twice."""
    return all(is_number(x) and x > 0 for x in lrs) and len(set(lrs)) == len(lrs)


def folds_learnt_by(path, runs_dir=None):
    """measured.folds_learnt of the pretrained run at `path` (or run id in `runs_dir`): (its PTB-XL folder, the
    folds it learnt from), None for a run on no real records."""
    from ecgcore.data.measured import folds_learnt  # the data modules load only when a sweep is checked

    return folds_learnt(runs.resolve_run(path, runs_dir).config.data)


def _own_split(config):
    """(validation fold, test fold) of the base data spec's own split over its PTB-XL folder (auto resolved)."""
    from ecgcore.data.ptbxl import folder_folds, read_tables
    from ecgcore.data.splits import resolve_folds

    data = config.base.data
    return resolve_folds(folder_folds(read_tables(data["path"])[0]), data.get("val_fold"), data.get("test_fold"))[:2]


def _check_unseen(config, arm, split, learnt=folds_learnt_by):
    """A pretrained run must not have learnt from the records a cell validates or tests on: a source on real
    records of the sweep's own PTB-XL folder must hold out the split's validation and test folds
    (measured.folds_learnt, through `learnt(path)`). Raises ValueError naming the arm, the run and the folds."""
    data = config.base.data or {}
    pretrained = arm.pretrained_for(split[1] if split else None)
    if data.get("source") != "ptbxl" or not pretrained:
        return
    root = Path(data["path"]).resolve()
    val, test = split or _own_split(config)
    for path in pretrained:
        seen = learnt(path)
        if seen is not None and seen[0] == root and seen[1] & {val, test}:
            raise ValueError(
                f"arm {arm.name!r}: pretrained run {Path(path).name} learnt from folds {sorted(seen[1])} of "
                f"{root}, which include fold(s) {sorted(seen[1] & {val, test})} its cells validate or test on "
                f"(validation {val}, test {test}): pretrain it without them (one run per test fold: Arm.per_fold)")


def arm_title(arm):
    """What people call an arm: "scratch", a control as named ("random init, first block frozen"), or the
    strategy in words and the pretrained runs' names ("freeze first block · demo pretrain · 18:57 1 Dec"), not
    `freeze_first_block:20261201-...-4c21`."""
    names = []
    for path in arm.pretrained:
        try:
            names.append(runs.title(runs.resolve_run(path)))
        except (ValueError, OSError):  # deleted since: its folder name is all there is
            names.append(Path(path).name)
    plain = arm.label or not names or arm.init == "random"  # these already read well
    return arm.name if plain else f"{say(arm.strategy)} · {' + '.join(names)}"


def arm_titles(config):
    """{arm name: arm_title} of a SweepConfig's arms."""
    return {arm.name: arm_title(arm) for arm in config.arms}


def sweep_title(config, sweep_id):
    """A sweep as people name it: its name, else "sweep of DATE TIME" from its id."""
    return config.name or f"sweep of {sweep_id[:4]}-{sweep_id[4:6]}-{sweep_id[6:8]} {sweep_id[9:11]}:{sweep_id[11:13]}"


def cell_name(config, arm, fraction, seed, sweep_id="", fold=None, lr=None):
    """A cell's run name in words: the sweep, the arm, the share of labels, the seed (and its test fold and
    learning rate in a study that has several)."""
    study = sweep_title(config, sweep_id) if sweep_id else config.name or "sweep"
    extra = (f" · test fold {int(fold)}" if fold is not None else "") + (f" · lr {lr:g}" if lr is not None else "")
    return f"{study} · {arm_title(arm)} · {float(fraction):.0%} of labels · seed {int(seed)}{extra}"


def cell_config(config, arm, fraction, seed, sweep_id="", fold=None, lr=None):
    """The JobConfig of one cell: the base config with the arm's strategy and pretrained runs, fraction, seed,
    and in a study over folds (fold: the test fold) its split, and lr where the study tries several."""
    d = config.base.to_dict()
    d.update(strategy=arm.strategy, pretrained=[str(p) for p in arm.pretrained_for(fold)], init=arm.init,
             backbones=arm.backbones, fraction=float(fraction), seed=int(seed),
             name=cell_name(config, arm, fraction, seed, sweep_id, fold, lr))
    if fold is not None:
        val = dict((t, v) for v, t in config.splits())[int(fold)]
        d["data"] = {**d["data"], "val_fold": val, "test_fold": int(fold)}
    if lr is not None:
        d["lr"] = float(lr)
    return JobConfig.from_dict(d)


def _cell_config(config, arms, cell, sweep_id=""):
    """cell_config of a sweep.json cell."""
    return cell_config(config, arms[cell["arm"]], cell["fraction"], cell["seed"], sweep_id, cell.get("fold"),
                       cell.get("lr"))


def cells_by_run(runs_dir=None):
    """{run id: {"sweep": id, "study": sweep_title, "arm": arm name, "title": arm_title, "fraction", "seed",
    "control": bool}} over every sweep in `runs_dir`: which study, arm, fraction and seed each cell run is."""
    out = {}
    for s in list_sweeps(runs_dir):
        try:
            config, cells = s.config, s.record()["cells"]
        except (OSError, ValueError, KeyError):
            continue  # a damaged sweep file names no cells; its runs are listed as runs outside a study
        arms = {arm.name: arm for arm in config.arms}
        titles = {}
        for cell in cells:
            arm = arms.get(cell["arm"])
            if cell.get("run_id") and arm is not None:
                if arm.name not in titles:
                    titles[arm.name] = arm_title(arm)
                out[cell["run_id"]] = {"sweep": s.id, "study": sweep_title(config, s.id), "arm": arm.name,
                                       "title": titles[arm.name], "fraction": float(cell["fraction"]),
                                       "seed": int(cell["seed"]), "control": arm.init == "random",
                                       "fold": cell.get("fold"), "lr": cell.get("lr")}
    return out


def sweeps_dir(runs_dir=None):
    return runs.default_runs_dir(runs_dir) / SWEEPS_FOLDER


def _run_state(run):
    """A cell run's listed state, "missing" for no run (None)."""
    return run.listed["state"] if run is not None else "missing"


class Sweep:
    """A view of one sweep folder; `advance` is the only method that submits runs."""

    def __init__(self, path):
        self.path = Path(path)
        self.id = self.path.name

    def __repr__(self):
        return f"Sweep({str(self.path)!r})"

    @property
    def runs_dir(self):
        return self.path.parent.parent

    def record(self):
        """The sweep.json dict; ValueError naming the file when it is missing or damaged."""
        record = read_json(self.path / "sweep.json")
        if not isinstance(record, dict) or not {"config", "cells"} <= set(record):
            raise ValueError(f"{self.path / 'sweep.json'} is damaged: no config or cells")
        return record

    @property
    def config(self):
        return SweepConfig.from_dict(self.record()["config"])

    def _write(self, record):
        write_json(self.path / "sweep.json", record)

    def cells(self):
        """One dict per cell: arm, fraction, seed, run_id and the run's state ("missing" without a run)."""
        return [{**cell, "state": self._state(cell)} for cell in self.record()["cells"]]

    def run_of(self, cell):
        """The Run of `cell` (an entry of `cells()` or sweep.json) by the cell map, from the run index (a study of
        hundreds of cells reads only the runs that changed); None when it has no run yet or the run's folder is
        gone."""
        return run_index.index_of(self.runs_dir).get(cell["run_id"]) if cell.get("run_id") else None

    def _state(self, cell):
        """The state of `cell`'s run, "missing" when it has none or its folder is gone."""
        return _run_state(self.run_of(cell))

    def _has_run(self, cell):
        """Whether `cell` has a run that is done or still going (else `advance` or `run_inline` makes one)."""
        return self._state(cell) in ("done", *runs.ACTIVE_STATES)

    def advance(self):
        """Submit every cell that has no live or finished run; return the number submitted.

        Done, queued and running cells are kept; failed, cancelled and missing ones get a new run. sweep.json
        is rewritten after each submission, so an interruption loses at most the submission in flight.
        """
        jobs.refresh(self.runs_dir)  # a job whose process died reads as failed, so its cell is resubmitted
        # the sweep folder's own lock: two resumes of one sweep (two tabs, page + CLI) never double-submit
        with locked(self.path):
            record = self.record()
            config = SweepConfig.from_dict(record["config"])
            arms = {a.name: a for a in config.arms}
            submitted = 0
            for cell in record["cells"]:
                if self._has_run(cell):
                    continue
                cell["run_id"] = jobs.submit(_cell_config(config, arms, cell, self.id), self.runs_dir).id
                self._write(record)
                submitted += 1
            return submitted

    def run_inline(self, on_cell=None, order=None):
        """Train the cells without a live or finished run in this process, one after another (the in-process
        runner, ecgcore.inline_executor: one read and preprocessing of the data for every cell, no process start
        per cell); `on_cell(cell, run)` after each; `order(cell)`, a sort key, says which cell goes first (default:
        the order of sweep.json). A cell whose run fails is tried once per call. Returns the
        number of cells trained. Each cell's run is mapped in sweep.json before it trains, so a process killed
        mid-study leaves a failed run that `advance` or the next `run_inline` redoes."""
        from ecgcore import inline_executor

        jobs.refresh(self.runs_dir)  # a cell whose process died reads as failed, and is redone
        tried, trained = set(), 0
        while True:
            with locked(self.path):  # the cell map is shared with the pages' `advance`
                record = self.record()
                config = SweepConfig.from_dict(record["config"])
                arms = {a.name: a for a in config.arms}
                todo = [(i, cell) for i, cell in enumerate(record["cells"])
                        if i not in tried and not self._has_run(cell)]
                if not todo:
                    return trained
                i, cell = min(todo, key=lambda item: order(item[1])) if order else todo[0]
                run = inline_executor.create(_cell_config(config, arms, cell, self.id), self.runs_dir)
                cell["run_id"] = run.id
                self._write(record)
            tried.add(i)
            inline_executor.train(run)
            trained += 1
            if on_cell:
                on_cell(cell, run)

    def progress(self):
        """{state: count} over the cells, every state present (0 when none)."""
        counts = dict.fromkeys((*runs.STATES, "missing"), 0)
        for cell in self.cells():
            counts[cell["state"]] += 1
        return counts

    def finished(self):
        """No cell is queued or running (failed, cancelled and missing cells wait for `advance`)."""
        return settled(self.progress())

    def cancel(self):
        """Cancel every queued or running cell (a later `advance` resubmits them)."""
        for cell in self.cells():
            if cell["state"] in runs.ACTIVE_STATES:
                jobs.cancel(self.run_of(cell))

    def wait(self, poll_s=1.0, on_progress=None, timeout_s=None):
        """Block until every cell's run has finished; `on_progress(progress dict)` after each poll."""
        start = time.monotonic()
        while True:
            jobs.refresh(self.runs_dir)
            progress = self.progress()
            if on_progress:
                on_progress(progress)
            if settled(progress):  # not self.finished(): that would read every cell's status again
                return progress
            if timeout_s is not None and time.monotonic() - start > timeout_s:
                raise TimeoutError(f"sweep {self.id} not finished after {timeout_s} s: {progress}")
            time.sleep(poll_s)

    def table(self, every_rate=False):
        """The results table: one row per cell (fraction, arm, seed, and in a study over folds or rates its
        fold and lr; run_id, state) plus the run's test metrics (scalar entries of summary.json's "test", NaN
        until the run is done) and its validation metrics as val_<name> (what a choice between arms may look
        at: gains_vs_best). A study at several learning rates keeps each arm's rate chosen on validation
        (choose_lr); `every_rate` keeps every cell."""
        rows = []
        for cell in self.record()["cells"]:
            run = self.run_of(cell)  # once per cell: its state and its summary
            state = _run_state(run)
            row = {"fraction": cell["fraction"], "arm": cell["arm"], "seed": cell["seed"],
                   **{k: cell[k] for k in ("fold", "lr") if k in cell},
                   "run_id": cell["run_id"], "state": state}
            if state == "done":
                summary = run.summary() or {}
                for part, prefix in (("test", ""), ("val", "val_")):
                    row.update({prefix + k: v for k, v in summary.get(part, {}).items()
                                if isinstance(v, (int, float)) and not isinstance(v, bool)})
            rows.append(row)
        table = pd.DataFrame(rows)
        return table if every_rate else choose_lr(table)


# What a sweep's learning rate is chosen on: the lab's own choice for fine-tuning (train.fit's early stopping).
LR_CHOICE = "val_macro_auroc"


def choose_lr(table):
    """Each arm's learning rate per (test fold,) fraction: the one with the best mean validation macro AUROC
    over the seeds (never a test metric); the cells at the other rates are left out, the choice kept as `lr`.
    A table with one rate, or without the validation metric yet, is returned as it is."""
    if "lr" not in table or table.lr.nunique() < 2 or LR_CHOICE not in table:
        return table
    keys = [k for k in ("fold", "fraction") if k in table] + ["arm"]
    means = table.groupby([*keys, "lr"])[LR_CHOICE].mean().dropna()
    if means.empty:
        return table
    best = set(means.groupby(level=keys).idxmax())
    keep = [tuple(row) in best for row in table[[*keys, "lr"]].itertuples(index=False)]
    return table[keep].reset_index(drop=True)


def settled(progress):
    """Whether a `Sweep.progress` count has no queued or running cell."""
    return not (progress["queued"] or progress["running"])


def grid(config):
    """The sweep's cells, in the order they run: {"arm", "fraction", "seed", "run_id": None}, and a cell names its
    test fold and learning rate only in a study that has several."""
    return [{"arm": arm.name, "fraction": float(f), "seed": int(s),
             **({"fold": split[1]} if split else {}), **({"lr": lr} if lr is not None else {}), "run_id": None}
            for split in config.splits() for f in sorted(config.fractions) for arm in config.arms
            for s in config.seeds for lr in config.rates()]


def cell_configs(config):
    """The JobConfig of every cell of `config`'s grid, before any is made (what an estimate looks at)."""
    arms = {arm.name: arm for arm in config.arms}
    return [_cell_config(config, arms, cell) for cell in grid(config)]


def create_sweep(config, runs_dir=None, submit=True):
    """Validate `config`, create its sweep folder with every cell of the grid, submit them; return the Sweep."""
    for arm in config.arms:  # absolute, like create_run does: the jobs and later readers find them anywhere
        absolute = lambda paths: [str(runs.resolve_run(p, runs_dir).path.resolve()) for p in paths]  # noqa: E731
        arm.pretrained = absolute(arm.pretrained)
        arm.per_fold = {str(k): absolute(v) for k, v in arm.per_fold.items()}
    config.validate()
    root = sweeps_dir(runs_dir)
    root.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    path = root / runs.validate_run_id("-".join(p for p in (stamp, runs.slug(config.name), secrets.token_hex(2)) if p))
    path.mkdir(exist_ok=False)
    cells = grid(config)
    write_json(path / "sweep.json", {
        "id": path.name, "created": now(),
        "config": config.to_dict(), "cells": cells})
    sweep = Sweep(path)
    if submit:
        sweep.advance()
    return sweep


def get_sweep(sweep_id, runs_dir=None):
    """The sweep `sweep_id` (or a sweep folder path); FileNotFoundError when absent."""
    path = Path(sweep_id)
    if (path / "sweep.json").is_file():
        return Sweep(path)
    path = sweeps_dir(runs_dir) / runs.validate_run_id(str(sweep_id))
    if not (path / "sweep.json").is_file():
        raise FileNotFoundError(f"no sweep {sweep_id!r} in {sweeps_dir(runs_dir)}")
    return Sweep(path)


def list_sweeps(runs_dir=None):
    """All sweeps under `runs_dir`, newest first."""
    root = sweeps_dir(runs_dir)
    if not root.is_dir():
        return []
    return [Sweep(p) for p in sorted(root.iterdir(), reverse=True) if (p / "sweep.json").is_file()]


def bands(table, metric):
    """Per arm and fraction: n (seeds done), mean, and the 95% t-interval (lo, hi) of `metric` over seeds,
    clipped to the values the metric can take (metrics.metric_range: an AUROC band stops at 1)."""
    if metric not in table:
        raise ValueError(f"metric {metric!r} not in the sweep table (columns: {sorted(table.columns)})")
    rows = []
    for (arm, fraction), group in table.groupby(["arm", "fraction"], sort=True):
        rows.append({"arm": arm, "fraction": fraction, **_interval(group[metric].dropna())})
    out = pd.DataFrame(rows, columns=["arm", "fraction", "n", "mean", "lo", "hi"])
    low, high = metric_range(metric)
    out[["lo", "hi"]] = out[["lo", "hi"]].astype(float).clip(low, high)
    return out


def _interval(values):
    """seed_interval as table columns: n, mean, lo, hi (NaN where undefined)."""
    ci = seed_interval(values.to_numpy(dtype=float).tolist())
    nan = lambda x: np.nan if x is None else x  # noqa: E731
    return {"n": ci["n"], "mean": nan(ci["mean"]), "lo": nan(ci["low"]), "hi": nan(ci["high"])}


def _paired(table, metric, arm, reference):
    """`arm` minus `reference` per (fraction, seed), pairs with both values only. `reference` is an arm name, or
    {fraction: arm name} for a reference that differs by fraction (the strongest baseline)."""
    wide = table.pivot_table(index=["fraction", "seed"], columns="arm", values=metric, aggfunc="first")
    by_fraction = reference if isinstance(reference, dict) else None
    for name in (arm, *(set(by_fraction.values()) if by_fraction else [reference])):
        if name not in wide:
            raise ValueError(f"arm {name!r} has no {metric!r} values in the sweep table")
    if by_fraction is None:
        return (wide[arm] - wide[reference]).dropna()
    fractions = wide.index.get_level_values("fraction")
    chosen = pd.Series([by_fraction.get(f) for f in fractions], index=wide.index)
    base = pd.Series([wide.at[i, b] if b is not None else np.nan for i, b in chosen.items()], index=wide.index)
    return (wide[arm] - base).dropna()


def gains(table, metric, arm, reference=SCRATCH):
    """Per fraction: the gain of `arm` over `reference` (an arm, or {fraction: arm}), paired by seed (arm's seed
    s minus reference's seed s at the same fraction), as n pairs, mean and 95% t-interval (lo, hi). A table
    over several test folds (a "fold" column) pairs by fold and seed and takes rotation's cluster bootstrap."""
    if "fold" in table:
        out = rotation.gains(table, metric, arm, reference)
        out = out[out.fraction != rotation.POOLED].astype({"fraction": float})
        return out[["fraction", "n", "gain", "lo", "hi"]].reset_index(drop=True)
    rows = []
    for fraction, values in _paired(table, metric, arm, reference).groupby(level="fraction"):
        ci = _interval(values)
        rows.append({"fraction": fraction, "n": ci["n"], "gain": ci["mean"], "lo": ci["lo"], "hi": ci["hi"]})
    return pd.DataFrame(rows, columns=["fraction", "n", "gain", "lo", "hi"])


def pooled_gain(table, metric, arm, reference=SCRATCH):
    """The gain of `arm` over `reference` (an arm, or {fraction: arm}) pooled over fractions: each seed's paired
    gains averaged over the fractions where both arms have that seed, then the 95% t-interval over seeds (seeds
    are the independent repeats; the fractions of one seed share its split and init). {"n" (seeds), "gain",
    "lo", "hi"}. Over several test folds: each fold and seed's gains averaged, rotation's cluster bootstrap."""
    if "fold" in table:
        pooled = rotation.gains(table, metric, arm, reference).iloc[-1]
        return {k: pooled[k] for k in ("n", "gain", "lo", "hi")}
    ci = _interval(_paired(table, metric, arm, reference).groupby(level="seed").mean())
    return {"n": ci["n"], "gain": ci["mean"], "lo": ci["lo"], "hi": ci["hi"]}


def reach(curve, target, better):
    """(fraction, lower_bound) where the curve {fraction: mean} first reaches `target`, interpolated linearly in
    log fraction between the last point below and the first at or above it; lower_bound: already reached at
    the smallest fraction (the true one may be smaller). (None, False) when it never does."""
    points = sorted(curve.items())
    for i, (fraction, mean) in enumerate(points):
        if better(mean):
            if i == 0:
                return float(fraction), True
            f0, m0 = points[i - 1]
            t = (target - m0) / (mean - m0)
            return float(np.exp(np.log(f0) + t * (np.log(fraction) - np.log(f0)))), False
    return None, False


def label_efficiency(table, metric, arm, reference=SCRATCH, level=0.95, resamples=2000, seed=0):
    """How many times fewer labels `arm` needs to reach the reference's mean at the largest fraction: the
    fraction where its mean curve reaches that score (interpolated in log fraction, `reach`) and the
    multiplier largest fraction / that fraction (arXiv 2509.25095's label-efficiency figure). The interval is a
    bootstrap over seeds (each resample redraws the seeds of both arms, pairing them), its `level` percentiles;
    a resample whose curve never reaches the score counts as the lowest value, and `multiplier_lo` is None when
    the interval includes "never". A table with a "fold" column (a study over several test folds,
    ecgcore.rotation) pools its folds x seeds, and the bootstrap draws folds, then seeds within them
    (cluster_draw). Returns {"reached", "fraction", "multiplier", "multiplier_lo", "multiplier_hi",
    "lower_bound", "reference_fraction", "target", "n" (seeds, or folds x seeds), "n_folds"}."""
    units = ["fold", "seed"] if "fold" in table else ["seed"]
    wide = table.pivot_table(index=[*units, "fraction"], columns="arm", values=metric, aggfunc="first")
    for name in (arm, reference):
        if name not in wide:
            raise ValueError(f"arm {name!r} has no {metric!r} values in the sweep table")
    top = float(table.loc[(table.arm == reference) & table[metric].notna(), "fraction"].max())
    better = (lambda m, t: m <= t) if lower_is_better(metric) else (lambda m, t: m >= t)
    curves = wide[arm].unstack("fraction")  # seeds x fractions of the arm (NaN: a cell not done)
    fractions = curves.columns.to_numpy(float)
    values, reference_top = curves.to_numpy(float), wide[reference].xs(top, level="fraction").reindex(curves.index)
    reference_top = reference_top.to_numpy(float)
    folds = curves.index.get_level_values("fold").to_numpy() if "fold" in units else np.zeros(len(values))

    def estimate(rows):  # the reach of the mean curves over the seeds at `rows`
        target = np.nanmean(reference_top[rows])
        means = np.nanmean(values[rows], axis=0)
        curve = {f: m for f, m in zip(fractions, means) if np.isfinite(m)}
        if not np.isfinite(target):
            return None, False, target
        return (*reach(curve, target, lambda m: better(m, target)), target)

    with warnings.catch_warnings():  # a resample of seeds that miss a cell gives an all-NaN mean: skipped
        warnings.simplefilter("ignore", RuntimeWarning)
        everyone = np.arange(len(values))
        fraction, bound, target = estimate(everyone)
        rng = np.random.default_rng(seed)
        draws = []
        for _ in range(resamples if len(values) > 1 else 0):
            f, _, _ = estimate(rotation.cluster_draw(folds, rng))
            draws.append(top / f if f else 0.0)
    lo = hi = None
    if draws:
        lo, hi = (float(q) for q in np.quantile(draws, [(1 - level) / 2, (1 + level) / 2]))
        lo = lo or None  # 0: some resamples never reach the score
    multiplier = top / fraction if fraction else None
    if multiplier is not None and not draws:
        lo = hi = multiplier
    return {"reached": fraction is not None, "fraction": fraction, "multiplier": multiplier, "multiplier_lo": lo,
            "multiplier_hi": hi, "lower_bound": bool(bound), "reference_fraction": top,
            "target": float(target) if np.isfinite(target) else None, "n": len(values),
            "n_folds": int(len(np.unique(folds)))}


def _best_baselines(table, metric, baselines):
    """{fraction: the baseline with the best mean validation `metric` there} (val_<metric>: chosen on
    validation, never on the test metric it is compared on); over several test folds {(fold, fraction): ...},
    each rotation choosing on its own validation fold."""
    select = f"val_{metric}"
    if select not in table:
        raise ValueError(f"the sweep table has no {select!r}: the strongest baseline is chosen on validation")
    found = [b for b in baselines if b in set(table.arm)]
    if not found:
        raise ValueError(f"none of the baselines {list(baselines)} is in the sweep table")
    if "fold" in table:
        return rotation.best_baselines(table, metric, found)
    means = table[table.arm.isin(found)].groupby(["fraction", "arm"])[select].mean().unstack("arm")
    pick = means.idxmin(axis=1) if lower_is_better(metric) else means.idxmax(axis=1)
    return pick.dropna().to_dict()


def gains_vs_best(table, metric, arm, baselines):
    """Per fraction: the gain of `arm` over the strongest of `baselines` there (scratch and the controls; the
    one with the best mean validation metric), paired by seed, as baseline, n, gain, lo, hi."""
    best = _best_baselines(table, metric, baselines)
    out = gains(table, metric, arm, best)
    if "fold" in table:  # each rotation has its own: say how often each was the strongest
        picks = pd.Series(best)
        named = {f: ", ".join(f"{b} ({n} folds)" if n > 1 else f"{b} (1 fold)"
                              for b, n in picks.xs(f, level=1).value_counts().items())
                 for f in picks.index.get_level_values(1).unique()}
        out.insert(1, "baseline", out.fraction.map(named))
    else:
        out.insert(1, "baseline", out.fraction.map(best))
    return out


def pooled_gain_vs_best(table, metric, arm, baselines):
    """gains_vs_best pooled over fractions as pooled_gain pools: each seed's gains over the fraction's strongest
    baseline averaged, then the 95% t-interval over seeds. {"n", "gain", "lo", "hi"}."""
    return pooled_gain(table, metric, arm, _best_baselines(table, metric, baselines))


def summarize(table, metric, reference=SCRATCH, controls=None, titles=None, baselines=None):
    """Per transfer arm: the fraction at which its mean first reaches the reference's mean at the largest
    fraction ("reaches scratch@100% with X% of the labels", None when not reached) and its paired gains.

    `controls` ({arm: its control arm}, SweepConfig.controls) adds each arm's paired gains over its control.
    `titles` ({arm: what people call it}) names the arms in the text only; table and controls keep arm names.
    `baselines` (SweepConfig.baselines; default: the reference and the controls) are the arms a transfer arm is
    compared with as a whole. Each arm also gets its label efficiency (label_efficiency: the interpolated
    fraction and multiplier) and, where the table holds validation metrics and there are two baselines or more,
    its gains over the strongest baseline at each fraction (scratch or a control, whichever scored best on
    validation: gains_vs_best), the comparison a verdict rests on.
    Returns a list of {"arm", "reference_fraction", "reference_mean", "reaches_at", "gains": DataFrame,
    "pooled": pooled_gain, "gains_vs_control": DataFrame or None, "control", "label_efficiency",
    "gains_vs_best": DataFrame or None, "pooled_vs_best", "text"}.
    """
    controls = controls or {}
    name = (titles or {}).get
    b = bands(table, metric)
    ref = b[(b.arm == reference) & (b.n > 0)]
    if ref.empty:
        raise ValueError(f"reference arm {reference!r} has no finished cells with {metric!r}")
    top = ref.loc[ref.fraction.idxmax()]
    better = (lambda m: m <= top["mean"]) if lower_is_better(metric) else (lambda m: m >= top["mean"])
    out = []
    for arm in sorted(set(b.arm) - {reference}):
        curve = b[(b.arm == arm) & (b.n > 0)].sort_values("fraction")
        reached = curve[curve["mean"].map(better)]
        reaches_at = float(reached.fraction.iloc[0]) if len(reached) else None
        g = gains(table, metric, arm, reference)
        where = f"{name(reference, reference)}@{top.fraction:.0%}"
        level = f"({metric_name(metric)} {top['mean']:.3f})"
        text = (f"{name(arm, arm)}: reaches {where} {level} with {reaches_at:.0%} of the labels"
                if reaches_at is not None else f"{name(arm, arm)}: does not reach {where} {level}")
        pooled = pooled_gain(table, metric, arm, reference)
        text += _gain_text(f"; gain over {name(reference, reference)}", g, pooled)
        control = controls.get(arm)
        vs_control = None
        if control in set(b.arm[b.n > 0]):
            vs_control = gains(table, metric, arm, control)
            text += _gain_text(f"; over its control ({name(control, control)})", vs_control,
                               pooled_gain(table, metric, arm, control))
        efficiency = label_efficiency(table, metric, arm, reference)
        text += "; " + _efficiency_text(efficiency)
        present = [x for x in (baselines or [reference, *controls.values()]) if x in set(b.arm[b.n > 0])]
        vs_best = pooled_best = None
        if f"val_{metric}" in table and arm not in present and len(present) > 1:
            vs_best = gains_vs_best(table, metric, arm, present)
            pooled_best = pooled_gain_vs_best(table, metric, arm, present)
            text += _gain_text("; over the strongest baseline on validation", vs_best, pooled_best)
        out.append({"arm": arm, "reference_fraction": float(top.fraction), "reference_mean": float(top["mean"]),
                    "reaches_at": reaches_at, "gains": g, "pooled": pooled, "control": control,
                    "gains_vs_control": vs_control, "label_efficiency": efficiency, "gains_vs_best": vs_best,
                    "pooled_vs_best": pooled_best, "text": text})
    return out


def _efficiency_text(e):
    if not e["reached"]:
        return "label multiplier: not reached"
    interval = (f" [{e['multiplier_lo']:.1f}x, {e['multiplier_hi']:.1f}x]" if e["multiplier_lo"] else
                f" [never reached, {e['multiplier_hi']:.1f}x]" if e["multiplier_hi"] else "")
    bound = "at least " if e["lower_bound"] else ""
    return f"label multiplier {bound}{e['multiplier']:.1f}x{interval} ({e['fraction']:.1%} of the labels)"


def format_gain(gain, lo, hi):
    """"+0.012 [-0.004, +0.028]" (an interval is left out where it is undefined: one seed)."""
    if gain is None or not np.isfinite(gain):
        return "-"
    return f"{gain:+.3f}" + (f" [{lo:+.3f}, {hi:+.3f}]" if lo is not None and np.isfinite(lo) else "")


def _gain_text(head, per_fraction, pooled):
    parts = [f"{r.fraction:.0%}: {format_gain(r.gain, r.lo, r.hi)}" for r in per_fraction.itertuples()]
    if not parts:
        return ""
    pooled = format_gain(pooled["gain"], pooled["lo"], pooled["hi"])
    return f"{head} " + ", ".join(parts) + f"; pooled over fractions {pooled}"
