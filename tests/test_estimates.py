"""ecgcore.estimates: time left from measured epoch and cell times, and a plan before a job starts."""

import pytest

from ecgcore import estimates, runs
from ecgcore.config import JobConfig


def run_with_epochs(runs_dir, seconds, epochs=10, state="running", **config):
    run = runs.create_run(JobConfig(task="pretrain", epochs=epochs, **config), runs_dir)
    for epoch, s in enumerate(seconds, start=1):
        run.append_metrics({"epoch": epoch, "train_loss": 1.0, "val_loss": 1.0, "time_s": s})
    run.update_status(state=state)
    return run


def test_time_left_is_the_epochs_to_go_at_the_median_epoch_time(tmp_path):
    run = run_with_epochs(tmp_path, [4.0, 6.0, 5.0], epochs=10)
    assert runs.median_epoch_seconds(run.metrics()) == 5.0
    assert estimates.time_left(run, run.metrics()) == pytest.approx(7 * 5.0)  # metrics the caller read
    assert estimates.time_left(run) == pytest.approx(7 * 5.0)
    assert estimates.time_left(run_with_epochs(tmp_path, [], epochs=10)) is None  # nothing measured yet
    assert estimates.time_left(run_with_epochs(tmp_path, [3.0], state="done")) == 0.0


def test_a_plan_rests_on_earlier_runs_like_it(tmp_path):
    data = {"source": "synthetic", "n": 500, "seed": 0}
    run_with_epochs(tmp_path, [2.0, 2.0], state="done", data=data)
    run_with_epochs(tmp_path, [50.0], state="done", data={**data, "n": 5000})  # another data set: not like it
    seconds, found = estimates.plan([JobConfig(task="pretrain", data={**data, "seed": 3}, epochs=20)], tmp_path)
    assert found == 1 and seconds == pytest.approx(40.0)
    half = JobConfig(task="pretrain", data=data, epochs=20, fraction=0.5)
    assert estimates.plan([half], tmp_path)[0] == pytest.approx(20.0)  # half the records per epoch
    assert estimates.plan([JobConfig(task="finetune", data=data)], tmp_path) == (None, 0)


def test_a_study_is_planned_before_it_starts_from_earlier_runs_like_its_cells(tmp_path):
    from ecgcore import sweep

    data = {"source": "synthetic", "n": 500, "seed": 0, "classes": "all"}
    base = JobConfig(task="finetune", data=data, epochs=10)
    config = sweep.SweepConfig(base=base, fractions=[0.5, 1.0], seeds=[0, 1], lrs=[0.001, 0.003])
    assert len(sweep.cell_configs(config)) == 8 and estimates.plan(sweep.cell_configs(config), tmp_path) == (None, 0)
    earlier = runs.create_run(JobConfig(task="finetune", data={**data, "seed": 9}, fraction=0.5, lr=0.01), tmp_path)
    for epoch in (1, 2, 3):
        earlier.append_metrics({"epoch": epoch, "train_loss": 1.0, "val_loss": 1.0, "time_s": 1.5})
    # each epoch of the earlier run took 1.5 s on half the records: 3 s at full labels; the cells: 2 seeds x
    # 2 rates x (10 epochs x 1.5 s at 50% + 10 x 3 s at 100%) = 180 s, shared by 2 jobs at once
    assert estimates.plan(sweep.cell_configs(config), tmp_path) == (pytest.approx(180.0), 1)
    assert estimates.plan(sweep.cell_configs(config), tmp_path, workers=2)[0] == pytest.approx(90.0)


def test_the_demo_is_planned_from_its_jobs(tmp_path, monkeypatch):
    from ecgcore import demo

    monkeypatch.setenv("ECGCORE_DEMO_SIZE", "small")
    jobs_ = demo.every_config()
    assert [c.task for c in jobs_] == ["pretrain", "finetune", "finetune"] + ["finetune"] * 12
    assert estimates.plan(jobs_, tmp_path) == (None, 0)  # nothing measured on this machine yet
    for config in jobs_[:2]:  # a demo's pretraining and its scratch run, done here before
        run = runs.create_run(config, tmp_path)
        run.append_metrics({"epoch": 1, "train_loss": 1.0, "val_loss": 1.0, "time_s": 2.0})
    seconds, found = estimates.plan(jobs_, tmp_path)
    assert found == 1 and seconds == pytest.approx(2.0 + 2.0 * 2 + 12 * 2.0 * (0.25 + 1.0) / 2)


def test_durations_read_as_people_plan():
    assert estimates.say_duration(None) == "not known yet"
    assert estimates.say_duration(30) == "under a minute"
    assert estimates.say_duration(245) == "about 4 min"
    assert estimates.say_duration(3 * 3600) == "about 3.0 h"
    assert estimates.say_duration(5 * 86400) == "about 5 days"


def test_a_sweep_has_its_finished_cells_time_left_for_each_cell_to_go(tmp_path, monkeypatch):
    from datetime import datetime, timedelta

    from ecgcore import files, jobs, sweep

    monkeypatch.setattr(jobs, "start_queued", lambda runs_dir=None: [])
    config = sweep.SweepConfig(base=JobConfig(task="finetune", epochs=1), fractions=[0.5, 1.0], seeds=[0, 1])
    s = sweep.create_sweep(config, tmp_path)
    assert estimates.sweep_time_left(s) is None  # no cell finished: nothing to go on
    start = datetime(2026, 12, 3, 10, 0, 0)
    for k, cell in enumerate(s.cells()[:2]):  # two cells done, 60 s and 80 s each
        run = s.run_of(cell)
        status = files.read_json(run.status_path)
        files.write_json(run.status_path, {**status, "state": "done", "started": start.isoformat(),
                                           "finished": (start + timedelta(seconds=60 + 20 * k)).isoformat()})
    assert estimates.sweep_time_left(s) == pytest.approx(2 * 70.0)  # two cells to go at the median, 70 s
    assert estimates.sweep_time_left(s, workers=2) == pytest.approx(70.0)
