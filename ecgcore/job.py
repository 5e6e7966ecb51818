"""Inside a job: the code that fills one run folder, whichever executor started it.

`claim` marks a queued run as running in this process, `train_run` trains it (with a heartbeat, progress in
status.json, metrics per epoch) and records how it ended, `run` does both for one run. The local executor's
job process (`python -m ecgcore run-job`, ecgcore.jobs) and a Ray task (ecgcore.ray_executor) both run this
code; the queue and the executors (ecgcore.jobs, ecgcore.executors) sit above it and are never imported here,
so an executor can use the job code without importing the queue that uses the executor.
"""

from __future__ import annotations

import errno
import io
import os
import shutil
import sys
import threading
import time
import traceback
from datetime import datetime
from pathlib import Path

import numpy as np

from ecgcore.files import has_room, now, open_nofollow, write_bytes, write_json
from ecgcore.procs import is_process
from ecgcore.runs import ACTIVE_STATES, FINISHED, Run, lock_runs_dir, pretrained_problem

HEARTBEAT_S = 1.0  # a running job touches RUN_DIR/heartbeat this often
STALE_S = 30.0  # no heartbeat for this long: the job is hung or gone (a vanished pid is caught at once)
PROGRESS_EVERY_S = 0.5  # status.json writes during an epoch are throttled to this


def run(run_dir):
    """Claim and train the run in `run_dir` in this process; return its final state."""
    claimed = claim(run_dir)
    return record_end(claimed, train_run(claimed))["state"]


def claim(run_dir):
    """The Run in `run_dir`, marked running by this process; ValueError when it is finished or another live
    job runs it, FileNotFoundError when there is no run folder."""
    run = Run(Path(run_dir).absolute())  # not resolved: a run folder that is a link must be seen as one
    if not run.config_path.is_file():
        raise FileNotFoundError(f"no run folder at {run.path} (config.json missing)")
    with lock_runs_dir(run.runs_dir):
        if run.links():  # written through, a link would put the job's files outside the runs folder
            run.update_status(state="failed", finished=now(), message="damaged run folder", error=run.problem,
                              force=True)
            raise ValueError(f"run {run.id} is damaged: {run.problem}")
        status = run.status()
        if status["state"] in FINISHED:
            raise ValueError(f"run {run.id} is already {status['state']}")
        if status["state"] == "running" and status.get("pid") != os.getpid() and alive(run, status):
            raise ValueError(f"run {run.id} is already running in process {status['pid']}")
        try:
            if not has_room(run.path):
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(run.path))
            run.update_status(state="running", pid=os.getpid(), started=status.get("started") or now(),
                              message="loading data")
        except OSError as e:
            if not disk_full(e, run):
                raise
            end = record_end(run, dict(state="failed", finished=now(), message="failed", error=_disk_full(e, run)))
            raise ValueError(f"run {run.id}: {end['error']}") from None
    return run


def train_run(run):
    """Train `run` (marked running by this process) with a heartbeat; returns the status fields that end it
    (for `record_end`)."""
    run.beat()  # before training starts: whoever looks next sees a live job, however busy the machine
    beating = threading.Event()
    threading.Thread(target=_heartbeat, args=(run, beating), daemon=True).start()
    try:
        return _train(run)
    finally:
        beating.set()


def record_end(run, end):
    """Write how the run ended, in the room its reserve gave back; returns its status. When even that cannot be
    written, say so in the log and raise: the process exits, and the queue's next look marks the run failed
    with that log line."""
    run.release_reserve()
    try:
        return run.update_status(**end)
    except OSError as e:
        print(f"error: cannot record the end of run {run.id} ({end.get('error') or end['state']}): {e}",
              file=sys.stderr, flush=True)
        raise


def waiting_for(run):
    """None when `run` may start, '' while a pretrained run is still queued/running, else why it never can."""
    try:
        deps = [Run(path) for path in run.config.pretrained]
    except ValueError as e:
        return str(e)
    problems = [p for p in map(pretrained_problem, deps) if p]
    if problems:
        return problems[0]
    return "" if any(dep.state in ACTIVE_STATES for dep in deps) else None


def fresh(run, status):
    """Whether `run`'s heartbeat is fresh (before its first beat: whether it is still in its start-up time)."""
    beat = run.heartbeat_age()
    if beat is None:  # the job has not started its heartbeat yet: allow it the start-up time
        started = status.get("started")
        beat = time.time() - datetime.fromisoformat(started).timestamp() if started else 0.0
    return beat < STALE_S


def is_job(pid, run):
    """Whether process `pid` is a local job of `run`'s folder (a job process names the first run it was started
    for and trains later runs of the same directory too, so its command line names `run-job` and the runs
    directory)."""
    return is_process(pid, b"run-job", os.fsencode(run.path.resolve().parent))


def alive(run, status):
    """Whether the local job filling `run` still lives: its pid is that job and its heartbeat is fresh."""
    return is_job(status.get("pid"), run) and fresh(run, status)


def log_to(path):
    """Point this process's stdout and stderr (the file descriptors: tracebacks and warnings too) at `path`."""
    sys.stdout.flush()
    sys.stderr.flush()
    fd = open_nofollow(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)


def disk_full(error, run):
    """Whether `error` came of a full disk: ENOSPC in its chain, or the run's disk has no room left (torch's
    writer, for one, says only "file write failed")."""
    seen = error
    while seen is not None:
        if isinstance(seen, OSError) and seen.errno == errno.ENOSPC:
            return True
        seen = seen.__cause__ or seen.__context__
    return not has_room(run.path)


def _disk_full(error, run):
    free = shutil.disk_usage(run.path).free
    return (f"disk full: {free:,} bytes free where the run is ({run.runs_dir}); free some space and start it "
            f"again ({type(error).__name__}: {error})")


def _heartbeat(run, stop):
    while not stop.wait(HEARTBEAT_S):
        run.beat()


def _train(run):
    """Fit `run`'s config, reporting progress into its folder; returns the status fields that end the run."""
    from ecgcore import train  # torch is imported only inside the job

    config = run.config
    cancel_flag = run.cancel_path
    last_write = [0.0]

    def on_batch(epoch, batch, n_batches, loss):
        if time.monotonic() - last_write[0] < PROGRESS_EVERY_S:
            return
        last_write[0] = time.monotonic()
        done = (epoch - 1 + (batch + 1) / n_batches) / config.epochs
        run.update_status(progress=round(min(done, 1.0), 4), epoch=epoch,
                          message=f"epoch {epoch}/{config.epochs}, batch {batch + 1}/{n_batches}, loss {loss:.4g}")

    def on_epoch(record):
        run.append_metrics(record)
        epoch = record["epoch"]
        run.update_status(progress=round(min(epoch / config.epochs, 1.0), 4), epoch=epoch,
                          message=f"epoch {epoch}/{config.epochs} done, val_loss {record.get('val_loss', float('nan')):.4g}")

    def on_load(share, stage="building the data set"):  # a large set can take minutes to build: say how far it is
        if time.monotonic() - last_write[0] >= PROGRESS_EVERY_S or share >= 1:
            last_write[0] = time.monotonic()
            run.update_status(message=f"{stage}: {min(share, 1.0):.0%}")

    def log(*args):
        print(*args, flush=True)

    log(f"{now()} run {run.id}: {config.task} {config.arch}, pid {os.getpid()}")
    try:
        result = train.fit(config, on_batch=on_batch, on_epoch=on_epoch, should_stop=cancel_flag.exists,
                           on_load=on_load, log=log)
        _save_result(run, result, train.save_model)
    except train.Cancelled:
        log(f"{now()} cancelled")
        return dict(state="cancelled", finished=now(), message="cancelled")
    except Exception as e:  # the job's whole point is to report any failure into status.json
        traceback.print_exc()
        sys.stderr.flush()
        error = _disk_full(e, run) if disk_full(e, run) else f"{type(e).__name__}: {e}"
        return dict(state="failed", finished=now(), message="failed", error=error)
    log(f"{now()} done")
    return dict(state="done", progress=1.0, finished=now(), message="done")


def _save_result(run, result, save_model):
    """model.pt, summary.json and predictions.npz, each moved into place whole, before the state says done."""
    save_model(result.model, run.model_path)  # atomic itself
    write_json(run.summary_path, result.summary)
    buffer = io.BytesIO()
    np.savez(buffer, **{k: np.asarray(v) for k, v in result.predictions.items()})
    write_bytes(run.predictions_path, buffer.getvalue())
