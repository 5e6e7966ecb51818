"""Jobs: the queue's decisions (with a stand-in launcher), dead and hung jobs, cancel, and real job processes
that train, get cancelled and crash."""

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from ecgcore import files, job, jobs, local_executor, runs
from ecgcore.config import JobConfig
from run_fixtures import tiny_config, tiny_dataset_npz


@pytest.fixture(autouse=True)
def no_job_outlives_its_test(tmp_path):
    """Cancel what a test left queued or running in its runs folder: a failed assertion must not leave a
    detached job process training for minutes on the machine the next tests run on."""
    yield
    for run in runs.list_runs(tmp_path):
        if run.problem is None and run.state in ("queued", "running"):
            jobs.cancel(run)


@pytest.fixture
def fake_launch(monkeypatch):
    """Record the order runs would start in; a 'started' run counts as alive until its state changes."""
    started = []

    def launch(executor, run):
        started.append(run.id)
        run.update_status(state="running", pid=None, started=files.now())

    monkeypatch.setattr(local_executor.LocalExecutor, "start", launch)
    monkeypatch.setattr(local_executor, "alive", lambda run, status: True)
    return started


@pytest.fixture
def sleeper():
    """A stand-in job process: its command line names `run-job` and the run, but it never trains."""
    procs = []

    def start(run, ignore_term=False):
        code = ("import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(60)"
                if ignore_term else "import time; time.sleep(60)")
        proc = subprocess.Popen([sys.executable, "-c", code, "run-job", str(run.path)], start_new_session=True)
        procs.append(proc)
        run.update_status(state="running", pid=proc.pid, started=files.now())
        return proc

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


def test_queue_starts_runs_in_creation_order_under_a_cap_of_one(tmp_path, monkeypatch, fake_launch):
    monkeypatch.setenv("ECGCORE_MAX_JOBS", "1")
    a, b, c = (jobs.submit(JobConfig(seed=s), tmp_path) for s in range(3))
    assert fake_launch == [a.id]
    assert b.state == c.state == "queued"
    a.update_status(state="done")
    jobs.refresh(tmp_path)
    assert fake_launch == [a.id, b.id] and c.state == "queued"
    jobs.cancel(c)  # a queued run that is cancelled never starts
    b.update_status(state="failed")
    jobs.refresh(tmp_path)
    assert fake_launch == [a.id, b.id] and c.state == "cancelled"


def test_queue_fills_every_free_slot(tmp_path, monkeypatch, fake_launch):
    monkeypatch.setenv("ECGCORE_MAX_JOBS", "2")
    made = [jobs.submit(JobConfig(seed=s), tmp_path) for s in range(3)]
    assert fake_launch == [made[0].id, made[1].id]


def test_finetune_waits_for_its_pretrained_run(tmp_path, monkeypatch, fake_launch):
    monkeypatch.setenv("ECGCORE_MAX_JOBS", "2")
    base = jobs.submit(JobConfig(), tmp_path)
    tuned = jobs.submit(JobConfig(task="finetune", strategy="linear_probe", pretrained=[str(base.path)]), tmp_path)
    assert fake_launch == [base.id] and tuned.state == "queued"
    base.update_status(state="done")
    (base.path / "model.pt").write_bytes(b"weights")
    jobs.refresh(tmp_path)
    assert fake_launch == [base.id, tuned.id]


def test_finetune_fails_when_its_pretrained_run_failed(tmp_path, fake_launch):
    base = runs.create_run(JobConfig(), tmp_path)
    base.update_status(state="running")
    tuned = jobs.submit(JobConfig(task="finetune", strategy="linear_probe", pretrained=[str(base.path)]), tmp_path)
    base.update_status(state="failed")
    jobs.refresh(tmp_path)
    assert tuned.state == "failed" and "has no model.pt" in tuned.status()["error"]
    with pytest.raises(ValueError, match="has no model.pt"):  # refused at once when already failed
        jobs.submit(JobConfig(task="finetune", strategy="linear_probe", pretrained=[str(base.path)]), tmp_path)
    assert fake_launch == []


def test_max_jobs_default_and_bad_value(monkeypatch):
    monkeypatch.delenv("ECGCORE_MAX_JOBS", raising=False)
    assert local_executor.max_jobs() == max(1, (os.cpu_count() or 1) // 2)
    monkeypatch.setenv("ECGCORE_MAX_JOBS", "0")
    with pytest.raises(ValueError, match="ECGCORE_MAX_JOBS"):
        local_executor.max_jobs()


def test_a_job_whose_process_died_is_marked_interrupted(tmp_path, sleeper):
    run = runs.create_run(JobConfig(), tmp_path)
    proc = sleeper(run)
    jobs.refresh(tmp_path)
    assert run.state == "running"
    proc.kill()
    proc.wait()
    jobs.refresh(tmp_path)
    status = run.status()
    assert status["state"] == "failed" and status["error"].startswith("interrupted")


def test_a_hung_job_with_a_stale_heartbeat_is_failed_and_stopped(tmp_path, sleeper):
    run = runs.create_run(JobConfig(), tmp_path)
    proc = sleeper(run)
    (run.path / "heartbeat").touch()
    old = time.time() - job.STALE_S - 5
    os.utime(run.path / "heartbeat", (old, old))
    jobs.refresh(tmp_path)
    assert run.state == "failed"
    assert proc.wait(timeout=120) == -signal.SIGKILL


def test_cancel_signals_a_job_that_ignores_the_flag(tmp_path, sleeper):
    run = runs.create_run(JobConfig(), tmp_path)
    proc = sleeper(run, ignore_term=True)  # deaf to the flag and to SIGTERM: only SIGKILL stops it
    status = jobs.cancel(run)
    assert status["state"] == "cancelled" and "signal" in status["message"]
    assert proc.wait(timeout=120) == -signal.SIGKILL
    assert (run.path / "cancel").exists()


def test_cancel_leaves_a_finished_run_alone(tmp_path):
    run = runs.create_run(JobConfig(), tmp_path)
    run.update_status(state="done")
    assert jobs.cancel(run)["state"] == "done"


# ---- real job processes -------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def npz(tmp_path_factory):
    return tiny_dataset_npz(tmp_path_factory.mktemp("data") / "tiny.npz")


def test_a_job_trains_in_its_own_process_and_fills_the_run(tmp_path, npz):
    run = jobs.submit(tiny_config(npz), tmp_path)
    seen = []
    status = jobs.wait(run, lambda s: seen.append((s["state"], s["progress"])), poll_s=0.2)
    assert status["state"] == "done", run.log_tail()
    assert status["progress"] == 1.0 and status["pid"] != os.getpid() and status["finished"]
    progress = [p for _, p in seen]
    assert progress == sorted(progress)
    assert [m["epoch"] for m in run.metrics()] == [1, 2]
    assert {"train_loss", "val_loss", "val_mae_hr"} <= set(run.metrics()[0])
    assert run.summary()["n_train"] > 0 and "mae_hr" in run.summary()["test"]
    assert run.predictions()["y_pred"].shape == run.predictions()["y_true"].shape
    for name in ("model.pt", "heartbeat", "log.txt"):
        assert (run.path / name).is_file(), name
    assert "done" in run.log_tail()


def test_one_job_process_trains_the_queued_runs_in_order_each_in_its_own_folder(tmp_path, npz, monkeypatch):
    monkeypatch.setenv("ECGCORE_MAX_JOBS", "1")
    first = jobs.submit(tiny_config(npz, epochs=1), tmp_path)
    second = jobs.submit(tiny_config(npz, epochs=1, seed=1), tmp_path)
    assert jobs.wait(second, poll_s=0.2)["state"] == "done", second.log_tail()
    a, b = first.status(), second.status()
    assert a["state"] == "done" and a["pid"] == b["pid"] != os.getpid()  # the same process, reused
    assert a["finished"] <= b["started"]
    log_a, log_b = ((run.path / "log.txt").read_text() for run in (first, second))
    assert f"run {first.id}" in log_a and second.id not in log_a
    assert f"run {second.id}" in log_b and first.id not in log_b and "done" in log_b
    assert [m["epoch"] for m in second.metrics()] == [1] and (second.path / "heartbeat").is_file()


def test_cancelling_a_run_a_job_process_took_over_leaves_the_queue_going(tmp_path, npz, monkeypatch):
    monkeypatch.setenv("ECGCORE_MAX_JOBS", "1")
    first, long, last = (jobs.submit(tiny_config(npz, **kw), tmp_path)
                         for kw in (dict(epochs=1), dict(epochs=500, batch_size=4), dict(epochs=1)))
    deadline = time.monotonic() + 180  # a guard, not a timing: the first run takes over a minute under load
    while long.status()["epoch"] < 1 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert long.status()["pid"] == first.status()["pid"], long.log_tail()  # taken over by the first's process
    assert jobs.cancel(long)["state"] == "cancelled"
    assert jobs.wait(last, poll_s=0.2)["state"] == "done", last.log_tail()
    assert long.state == "cancelled" and not (long.path / "model.pt").exists()
    assert f"run {long.id}" in (long.path / "log.txt").read_text()


def test_cancel_stops_a_training_job(tmp_path, npz):
    run = jobs.submit(tiny_config(npz, epochs=500, batch_size=4), tmp_path)
    deadline = time.monotonic() + 300  # a guard, not a timing
    while run.status()["epoch"] < 1 and time.monotonic() < deadline:  # training has really begun
        time.sleep(0.1)
    assert run.state == "running", run.log_tail()
    pid = run.status()["pid"]
    assert jobs.cancel(run)["state"] == "cancelled"
    assert not job.is_job(pid, run)  # gone when cancel returns: its slot is really free
    assert run.state == "cancelled" and not (run.path / "model.pt").exists()


def test_a_finished_run_whose_process_still_lives_keeps_its_slot(tmp_path, monkeypatch, sleeper):
    """A job that wrote 'cancelled' (or 'done') and is still on its way out holds the slot until it is gone."""
    monkeypatch.setenv("ECGCORE_MAX_JOBS", "1")
    started = []
    monkeypatch.setattr(local_executor.LocalExecutor, "start", lambda executor, run: started.append(run.id))
    first = runs.create_run(JobConfig(), tmp_path)
    proc = sleeper(first)
    (first.path / "heartbeat").touch()
    first.update_status(state="cancelled", message="cancelled")
    waiting = runs.create_run(JobConfig(seed=1), tmp_path)
    jobs.start_queued(tmp_path)
    assert started == [] and waiting.state == "queued"
    proc.kill()
    proc.wait()
    jobs.start_queued(tmp_path)
    assert started == [waiting.id]


def test_the_job_stops_itself_at_the_cancel_flag(tmp_path, monkeypatch):
    from ecgcore import train

    def fit(config, *, on_batch, on_epoch, should_stop, log, on_load=None):
        on_epoch({"epoch": 1, "train_loss": 1.0, "val_loss": 1.0})
        assert not should_stop()
        (run.path / "cancel").touch()  # what jobs.cancel writes
        if should_stop():
            raise train.Cancelled("stopped at batch 0")
        raise AssertionError("should_stop ignored the cancel flag")

    monkeypatch.setattr(train, "fit", fit)
    run = runs.create_run(JobConfig(epochs=4), tmp_path)
    assert jobs.run_job(run.path) == "cancelled"
    status = run.status()
    assert status["message"] == "cancelled" and status["epoch"] == 1 and status["progress"] == 0.25
    assert [m["epoch"] for m in run.metrics()] == [1] and run.heartbeat_path.exists()


def test_a_corrupt_pretrained_model_fails_the_run_clearly(tmp_path, npz):
    base = runs.create_run(tiny_config(npz), tmp_path)
    base.update_status(state="done")
    (base.path / "model.pt").write_bytes(b"not a checkpoint")
    run = runs.create_run(tiny_config(npz, task="finetune", strategy="freeze_first_block",
                                      pretrained=[str(base.path)]), tmp_path)
    assert jobs.run_job(run.path) == "failed"  # in this process: the same code path, no start-up cost
    assert "model.pt is corrupt" in run.status()["error"]
    assert base.state == "done" and (base.path / "model.pt").read_bytes() == b"not a checkpoint"


def test_a_crash_inside_fit_fails_the_run_with_the_error(tmp_path, npz):
    from ecgcore.data.dataset import DataSet

    config = tiny_config(npz)
    data = DataSet.load(npz)  # a data set, so it passes the door; a NaN sample, so preprocessing in the job fails
    data.signals[3, 0, 5] = np.nan
    config.data = {"source": "npz", "path": str(data.save(tmp_path / "junk.npz"))}
    run = jobs.submit(config, tmp_path)
    status = jobs.wait(run, poll_s=0.2)
    assert status["state"] == "failed"
    assert "signals contain NaN or inf in 1 record(s)" in status["error"]
    log = (run.path / "log.txt").read_text()
    assert "Traceback" in log and "NaN" in log


FULL_DISK_JOB = """
import errno, sys
from pathlib import Path
import torch
from ecgcore import cli, runs

def no_space(path):
    raise OSError(errno.ENOSPC, "No space left on device", str(path))

def save(obj, f, *args, **kwargs):  # the checkpoint's temporary file fills the disk
    Path(f).write_bytes(b"half a checkpoint")
    no_space(f)

real_write_json = runs.write_json
def write_json(path, obj):  # and the disk stays full for the job's last status
    if path.name == "status.json" and obj.get("state") in runs.FINISHED:
        no_space(path)
    return real_write_json(path, obj)

torch.save, runs.write_json = save, write_json
sys.exit(cli.main(sys.argv[1:]))
"""


def test_a_job_that_cannot_write_ends_failed_with_the_os_error_and_leaves_no_temporary(tmp_path, npz):
    run = runs.create_run(tiny_config(npz, epochs=1), tmp_path)
    with open(run.path / "log.txt", "ab") as log:
        code = subprocess.run([sys.executable, "-c", FULL_DISK_JOB, "run-job", str(run.path)], stdout=log,
                              stderr=subprocess.STDOUT, timeout=120).returncode
    assert code == 2, run.log_tail()  # the CLI's own error exit, not a traceback's 1
    jobs.refresh(tmp_path)  # the first look at the queue
    status = run.status()
    assert status["state"] == "failed" and "No space left on device" in status["error"], status
    assert [p.name for p in run.path.iterdir() if ".tmp" in p.name] == []
    assert not (run.path / "model.pt").exists()
    assert "error: cannot record the end of run" in run.log_tail()


def test_runs_list_and_show_skip_the_queue_step_while_a_stopped_process_holds_the_runs_lock(tmp_path, capsys):
    """A process stopped (SIGSTOP) while holding the runs folder's lock never blocks runs list/show; runs cancel
    waits a bounded time for a run's lock and names the holder."""
    import signal
    import subprocess
    import sys

    from ecgcore import cli

    runs_dir = tmp_path / "runs"
    run = runs.create_run(JobConfig(epochs=1), runs_dir)
    holders = []
    for folder in (runs_dir, run.path):
        code = ("import sys, time\nfrom ecgcore import files\nwith files.locked(sys.argv[1]):\n"
                "    print('locked', flush=True)\n    time.sleep(3600)\n")
        proc = subprocess.Popen([sys.executable, "-c", code, str(folder)], stdout=subprocess.PIPE, text=True)
        assert proc.stdout.readline().strip() == "locked"
        proc.send_signal(signal.SIGSTOP)
        holders.append(proc)
    try:
        assert cli.main(["runs", "list", "--runs-dir", str(runs_dir)]) == 0
        assert run.id in capsys.readouterr().out
        assert cli.main(["runs", "show", run.id, "--runs-dir", str(runs_dir)]) == 0
        assert cli.main(["runs", "cancel", run.id, "--runs-dir", str(runs_dir)]) == 2
        err = capsys.readouterr().err
        assert f"process {holders[1].pid} (stopped)" in err or f"process {holders[0].pid} (stopped)" in err
    finally:
        for proc in holders:
            proc.kill()
            proc.wait()
    assert run.state == "queued"  # nothing was half done


# ---- a full disk ends a run as failed with the words "disk full"; looking never needs to write ------------

def no_room(monkeypatch, run=None):
    """The disk reads as full: no bytes free, and every whole-file write of the lab fails with ENOSPC until
    `run`'s reserve is given back (what giving it back does on a real disk)."""
    import errno
    import shutil
    from collections import namedtuple

    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage(1 << 30, 1 << 30, 0))
    write = files.atomic_write

    def full(path, *args):
        if run is None or run.reserve_path.exists():
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return write(path, *args)

    monkeypatch.setattr(files, "atomic_write", full)


def test_a_run_carries_a_reserve_for_its_final_status(tmp_path):
    run = runs.create_run(JobConfig(epochs=1), tmp_path / "runs")
    assert run.reserve_path.stat().st_size >= 16 * 1024


def test_a_full_disk_at_the_start_fails_the_run_saying_disk_full(tmp_path, monkeypatch):
    npz = tiny_dataset_npz(tmp_path / "tiny.npz", n=30)
    run = runs.create_run(tiny_config(npz), tmp_path / "runs")
    with monkeypatch.context() as patched:
        no_room(patched, run)
        with pytest.raises(ValueError, match="disk full"):
            jobs.run_job(run.path)
    assert run.state == "failed" and "disk full" in run.status()["error"]
    assert not run.reserve_path.exists()  # spent on the final status


def test_a_disk_that_fills_while_saving_fails_the_run_saying_disk_full(tmp_path, monkeypatch):
    import shutil
    from collections import namedtuple

    from ecgcore import train

    npz = tiny_dataset_npz(tmp_path / "tiny.npz", n=30)
    run = runs.create_run(tiny_config(npz), tmp_path / "runs")
    usage = namedtuple("usage", "total used free")

    def torch_fails(model, path):  # what torch says when the disk fills under its writer
        monkeypatch.setattr(shutil, "disk_usage", lambda p: usage(1 << 30, 1 << 30, 0))
        raise RuntimeError("[enforce fail at inline_container.cc:783] . PytorchStreamWriter failed writing file "
                           "data/0: file write failed")

    monkeypatch.setattr(train, "save_model", torch_fails)
    assert jobs.run_job(run.path) == "failed"
    status = run.status()
    assert "disk full" in status["error"] and status["state"] == "failed"


def test_runs_list_and_show_work_on_a_full_disk(tmp_path, monkeypatch, capsys):
    from ecgcore import cli

    run = runs.create_run(JobConfig(epochs=1), tmp_path / "runs")
    no_room(monkeypatch)
    assert cli.main(["runs", "list", "--runs-dir", str(tmp_path / "runs")]) == 0
    assert cli.main(["runs", "show", run.id, "--runs-dir", str(tmp_path / "runs")]) == 0
    assert run.id in capsys.readouterr().out
