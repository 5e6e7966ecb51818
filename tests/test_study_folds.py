"""A study over every test fold on the product's path: the sweep's rotations and learning rates, the leakage guard,
the in-process runner, and the bench as a driver over them (page and bench give the same cell)."""

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ecgcore import executors, inline_executor, job, jobs, rotation, runs, sweep
from ecgcore.config import JobConfig
from ecgcore.data.ptbxl import load_ptbxl
from ptbxl_fixture import make_ptbxl_fixture

FOLDS = (1, 2, 3, 4)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """A PTB-XL folder over folds 1-4: each record's fold is in the database, so a cell's records say which
    folds it trained, validated and tested on."""
    return make_ptbxl_fixture(tmp_path_factory.mktemp("ptbxl"), n_per_class=4, folds=FOLDS, bad_record=False)


def fold_of(root):
    """{record id: fold} of the records fine-tuning labels (a record with no diagnostic statement is left out)."""
    data = load_ptbxl(root, fs=100)
    return dict(zip(np.asarray(data.record_id).astype(str), data.fold))


def base(root, **changes):
    return JobConfig(**{"task": "finetune", "data": {"source": "ptbxl", "path": str(root), "fs": 100},
                        "label_mode": "multi", "epochs": 1, "device": "cpu", "batch_size": 16, **changes})


def test_a_rotating_study_tests_each_cell_on_its_fold_and_validates_on_the_fold_before(folder, tmp_path):
    plan = rotation.rotations(FOLDS)
    config = sweep.SweepConfig(base=base(folder), fractions=[1.0], seeds=[0], folds=[list(p) for p in plan],
                               lrs=[1e-3, 3e-3], name="rotated")
    s = sweep.create_sweep(config, tmp_path / "runs", submit=False)
    cells = s.cells()
    assert sorted((c["fold"], c["lr"]) for c in cells) == sorted((t, lr) for _, t in plan for lr in (1e-3, 3e-3))
    assert all(c["state"] == "missing" for c in cells)
    assert s.run_inline() == len(cells) == 8
    folds = fold_of(folder)
    for cell in s.cells():
        run = s.run_of(cell)
        val, test = dict((t, v) for v, t in plan)[cell["fold"]], cell["fold"]
        assert run.state == "done" and run.status()["executor"] == "inline"
        assert (run.config.data["val_fold"], run.config.data["test_fold"], run.config.lr) == (val, test, cell["lr"])
        assert f"test fold {test}" in run.config.name and f"lr {cell['lr']:g}" in run.config.name
        tested = {folds[str(r)] for r in run.predictions()["record_id"]}
        assert tested == {test}  # scored on its own test fold and nothing else
        assert run.summary()["n_val"] == sum(f == val for f in folds.values())
    every = s.table(every_rate=True)
    assert len(every) == 8 and {"fold", "lr"} <= set(every.columns)
    chosen = s.table()  # each fold's rate chosen on its validation AUROC, not on the test one
    assert len(chosen) == 4
    for fold, group in every.groupby("fold"):
        best = group.loc[group.val_macro_auroc.idxmax(), "lr"]
        assert chosen.set_index("fold").at[fold, "lr"] == best


def test_choose_lr_picks_on_validation_per_fold_and_fraction():
    rows = []
    for fold in (1, 2):
        for lr, val, test in ((1e-3, 0.6, 0.9), (3e-3, 0.8, 0.5)):
            val = val if fold == 1 else 1.4 - val  # fold 2 prefers the other rate on validation
            rows += [{"fold": fold, "fraction": 0.1, "arm": "scratch", "seed": s, "lr": lr, "val_macro_auroc": val,
                      "macro_auroc": test} for s in (0, 1)]
    chosen = sweep.choose_lr(pd.DataFrame(rows))
    assert dict(zip(chosen.fold, chosen.lr)) == {1: 3e-3, 2: 1e-3} and len(chosen) == 4


def test_a_pretraining_on_real_records_must_not_have_seen_a_cells_folds(folder, tmp_path):
    runs_dir = tmp_path / "runs"

    def measured(val, test):  # a measured-label pretraining run holding out (val, test)
        spec = {"source": "measured", "path": str(folder), "fs": 100, "val_fold": val, "test_fold": test}
        return str(runs.create_run(JobConfig(task="pretrain", data=spec, targets=["hr"], epochs=1), runs_dir).path)

    plan = rotation.rotations(FOLDS)
    once = measured(3, 4)  # learnt from folds 1 and 2: fine for the rotation testing 4, a leak for the others
    leaky = sweep.SweepConfig(base=base(folder), fractions=[1.0], seeds=[0], folds=[list(p) for p in plan],
                              arms=[sweep.Arm(), sweep.Arm("freeze_first_block", [once], label="measured")])
    with pytest.raises(ValueError, match=r"arm 'measured'.*learnt from folds \[1, 2\].*validate or test on"):
        leaky.validate()
    per_fold = {str(t): [measured(v, t)] for v, t in plan}
    fine = sweep.SweepConfig(base=base(folder), fractions=[1.0], seeds=[0], folds=[list(p) for p in plan],
                             arms=[sweep.Arm(), sweep.Arm("freeze_first_block", label="measured", per_fold=per_fold)])
    s = sweep.create_sweep(fine, runs_dir, submit=False)
    for cell in s.record()["cells"]:
        if cell["arm"] == "measured":
            config = sweep._cell_config(s.config, {a.name: a for a in s.config.arms}, cell)
            assert config.pretrained == [str(Path(per_fold[str(cell["fold"])][0]).resolve())]
    # one split, the data set's own: the same guard
    own = base(folder)
    own.data.update(val_fold=3, test_fold=4)
    one = sweep.SweepConfig(base=own, fractions=[1.0], seeds=[0],
                            arms=[sweep.Arm(), sweep.Arm("freeze_first_block", [measured(1, 2)], label="m")])
    with pytest.raises(ValueError, match=r"fold\(s\) \[3, 4\]"):
        one.validate()
    with pytest.raises(ValueError, match="only a PTB-XL data set has folds"):
        sweep.SweepConfig(base=JobConfig(task="finetune"), folds=[[1, 2]]).validate()


def test_a_study_pretrains_a_source_on_its_own_records_once_per_rotation_without_its_folds(folder, tmp_path,
                                                                                          monkeypatch):
    from ecgcore import per_rotation

    monkeypatch.setattr(jobs, "start_queued", lambda runs_dir=None: [])  # looked at, not trained
    runs_dir = tmp_path / "runs"
    spec = {"source": "measured", "path": str(folder), "fs": 100, "val_fold": 3, "test_fold": 4}
    own = runs.create_run(JobConfig(task="pretrain", data=spec, targets=["hr"], epochs=1, name="measured"), runs_dir)
    mixed = runs.create_run(JobConfig(task="pretrain", targets=["hr"], epochs=1, data={
        "source": "mixed", "real": {"path": str(folder), "fs": 100, "folds": [1, 2, 3]},
        "synthetic": {"n": 20, "fs": 100}, "ratio": 0.5}), runs_dir)
    synthetic = runs.create_run(JobConfig(task="pretrain", data={"source": "synthetic", "n": 20, "fs": 100},
                                          targets=["hr"], epochs=1), runs_dir)
    plan = rotation.rotations(FOLDS)
    config = sweep.SweepConfig(base=base(folder), fractions=[1.0], seeds=[0], folds=[list(p) for p in plan],
                               arms=[sweep.Arm(), sweep.Arm("freeze_first_block", [str(own.path)], label="own"),
                                     sweep.Arm("linear_probe", [str(own.path)], label="own probe"),
                                     sweep.Arm("combined", [str(mixed.path), str(synthetic.path)], label="both"),
                                     sweep.Arm("freeze_first_block", [str(synthetic.path)], label="synthetic")])
    with pytest.raises(ValueError, match="learnt from folds"):
        config.validate()  # as it stands, every rotation but one would test on records pretraining learnt from
    # `own` learnt from folds 1 and 2 (it held out 3 and 4): the rotation validating on 3 and testing on 4 uses it
    # as it is, every other one needs it again without its folds; `mixed` learnt from 1-3: every rotation does.
    again = [(v, t) for v, t in plan if (v, t) != (3, 4)]
    assert per_rotation.needs(config, runs_dir) == {str(own.path): again, str(mixed.path): plan}
    made = per_rotation.pretrain_per_rotation(config, runs_dir)
    assert len(made) == len(again) + len(plan)  # the two arms of `own` share theirs
    s = sweep.create_sweep(config, runs_dir)  # the leakage guard passes now
    arms = {a.name: a for a in s.config.arms}
    assert arms["own"].pretrained_for(4) == arms["own probe"].pretrained_for(4) == [str(own.path.resolve())]
    for val, test in plan:
        real, synth = (runs.resolve_run(p).config.data for p in arms["both"].pretrained_for(test))
        assert (real["real"]["val_fold"], real["real"]["test_fold"]) == (val, test)
        assert val not in real["real"]["folds"] and test not in real["real"]["folds"]
        assert synth["source"] == "synthetic" and arms["synthetic"].pretrained_for(test) == [
            str(synthetic.path.resolve())]  # a synthetic pretraining is shared by every rotation
    for val, test in again:
        mine = runs.resolve_run(arms["own"].pretrained_for(test)[0])
        assert arms["own probe"].pretrained_for(test) == arms["own"].pretrained_for(test)
        assert (mine.config.data["val_fold"], mine.config.data["test_fold"]) == (val, test)
        assert mine.config.name == f"measured · without folds {val} and {test}"
    assert per_rotation.needs(s.config, runs_dir) == {}  # nothing left to pretrain
    assert per_rotation.pretrain_per_rotation(sweep.SweepConfig(base=base(folder)), runs_dir) == []  # one split


def test_a_refused_study_takes_its_pretrainings_back(folder, tmp_path, monkeypatch):
    from ecgcore import per_rotation

    monkeypatch.setattr(jobs, "start_queued", lambda runs_dir=None: [])
    runs_dir = tmp_path / "runs"
    own = runs.create_run(JobConfig(task="pretrain", targets=["hr"], epochs=1,
                                    data={"source": "measured", "path": str(folder), "fs": 100}), runs_dir)
    config = sweep.SweepConfig(base=base(folder), fractions=[1.5], seeds=[0],
                               folds=[list(p) for p in rotation.rotations(FOLDS)],
                               arms=[sweep.Arm(), sweep.Arm("freeze_first_block", [str(own.path)])])
    with pytest.raises(ValueError, match="fractions"):
        per_rotation.create_study(config, runs_dir)
    made = [r for r in runs.list_runs(runs_dir) if r.id != own.id]
    assert len(made) == len(FOLDS) and {r.state for r in made} == {"cancelled"}  # none left queued
    assert sweep.list_sweeps(runs_dir) == []


def test_an_inline_run_is_held_while_its_process_lives_and_failed_when_it_is_gone(folder, tmp_path, monkeypatch):
    monkeypatch.setattr(job, "STALE_S", 1e9)  # however slow the machine, its start-up time has not run out
    runs_dir = tmp_path / "runs"
    run = inline_executor.create(base(folder), runs_dir)
    jobs.refresh(runs_dir)  # the queue looks: a live inline run is left alone
    assert run.state == "running" and run.status()["executor"] == "inline"
    run.update_status(pid=2 ** 22 + 12345)  # its process gone
    jobs.refresh(runs_dir)
    assert run.state == "failed" and "interrupted" in run.status()["error"]
    monkeypatch.setenv("ECGCORE_EXECUTOR", "inline")  # a status may name it; the lab's setting may not
    with pytest.raises(ValueError, match="ECGCORE_EXECUTOR='inline' is invalid"):
        executors.executor_name()


def load_bench():
    path = Path(__file__).resolve().parents[1] / "bench" / "transfer.py"
    sys.path.insert(0, str(path.parent))  # the bench imports its neighbour results.py
    spec = importlib.util.spec_from_file_location("bench_transfer", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_page_and_the_bench_give_the_same_auroc_for_a_cell(folder, tmp_path, capsys):
    bench = load_bench()
    bench.main(["--data", str(folder), "--sources", "parametric", "--targets", "intervals", "--seeds", "1",
                "--fractions", "1.0", "--epochs", "2", "--pretrain-epochs", "1", "--pretrain-n", "40",
                "--folds", "4", "--device", "cpu", "--batch-size", "16"])
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    # the same cell as a person makes it on the Data efficiency page: a sweep whose cell runs as a local job
    page = sweep.SweepConfig(base=base(folder, epochs=2, patience=5, lr=1e-3, arch="small_cnn"), fractions=[1.0],
                             seeds=[0], folds=[[3, 4]])
    s = sweep.create_sweep(page, tmp_path / "runs")
    s.wait(poll_s=0.2)
    (cell,) = s.cells()
    assert cell["state"] == "done" and s.run_of(cell).status()["executor"] == "local"
    page_auroc = s.table().macro_auroc.iloc[0]
    assert np.isfinite(page_auroc) and out["auroc_1_scratch"] == round(page_auroc, 4)


def test_the_cli_starts_a_study_over_every_fold_and_learning_rate(folder, tmp_path, monkeypatch, capsys):
    from ecgcore.cli import main

    monkeypatch.setattr(jobs, "start_queued", lambda runs_dir=None: [])  # cells stay queued: the grid is the test
    runs_dir = str(tmp_path / "runs")
    assert main(["sweep", "start", "--ptbxl", str(folder), "--folds", "rotate", "--lrs", "0.001,0.003",
                 "--fractions", "1", "--seeds", "0", "--epochs", "1", "--runs-dir", runs_dir]) == 0
    (s,) = sweep.list_sweeps(runs_dir)
    assert s.config.folds == [list(p) for p in rotation.rotations(FOLDS)] and s.config.lrs == [0.001, 0.003]
    assert len(s.cells()) == 4 * 2
    capsys.readouterr()
    assert main(["sweep", "start", "--ptbxl", str(folder), "--folds", "7", "--runs-dir", runs_dir]) == 2
    assert "fold(s) [7] not in the folder" in capsys.readouterr().err
    assert main(["sweep", "start", "--folds", "rotate", "--runs-dir", runs_dir]) == 2
    assert "--folds needs --ptbxl" in capsys.readouterr().err


@pytest.mark.parametrize("lrs", [[1e-3, float("inf")], [1e-3, float("nan")], [1e-3, 1e-3], [0.0, 1e-3],
                                 [1e-3, "0.003"], [True, 1e-3]])
def test_a_study_refuses_learning_rates_that_are_not_distinct_finite_numbers_above_0(lrs):
    with pytest.raises(ValueError, match=r"lrs=.* must be distinct finite numbers above 0"):
        sweep.SweepConfig(base=JobConfig(task="finetune"), lrs=lrs).validate()
