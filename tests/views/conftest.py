"""Page tests' set-up: a temporary runs folder whose jobs are cancelled after each test."""

import pytest

from ecgcore import jobs, runs


@pytest.fixture
def runs_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("ECGCORE_RUNS", str(tmp_path / "runs"))
    yield tmp_path / "runs"
    for run in runs.list_runs(tmp_path / "runs"):  # never leave a job behind
        jobs.cancel(run)


@pytest.fixture
def tiny_runs(runs_dir, tmp_path, monkeypatch):
    """A done pretraining run (trained in-process, tiny) and the npz it trained on; no job process starts:
    the test fills the runs itself."""
    monkeypatch.setattr(jobs, "start_queued", lambda runs_dir=None: [])
    from run_fixtures import tiny_config, tiny_dataset_npz

    npz = tiny_dataset_npz(tmp_path / "tiny.npz", n=30)
    pre = runs.create_run(tiny_config(npz, targets=["hr", "qrs"], epochs=1), runs_dir)
    assert jobs.run_job(pre.path) == "done"
    return pre, npz


