"""Jobs: the detached processes that fill run folders, and the queue that caps how many run at once.

`submit` creates a queued run and returns at once; the job runs as `python -m ecgcore run-job RUN_DIR` in its
own session (it outlives the page or shell that started it), with stdout/stderr going to the run's log.txt.
There is no daemon: every submit, refresh, cancel, wait poll and job exit calls `start_queued`, which, under
the runs directory's lock, marks dead jobs failed ("interrupted") and starts queued runs oldest first while
fewer than `max_jobs()` run. A fine-tuning run waits in the queue until its pretrained runs are done.
A job process that finishes its run claims the next queued run in the same step and trains it too (a sweep's
cells then pay python + torch start-up and data loading once per worker, not once per run); it exits when
the queue has nothing for it. Each run keeps its own log.txt, heartbeat and cancel flag.

That is the local executor (LocalExecutor). With `$ECGCORE_EXECUTOR=ray` (ecgcore.executors) the same queue
step hands each startable run to Ray instead (ecgcore.ray_executor): no cap here, a fine-tuning is handed over
at once and Ray starts it after its pretraining; the Ray task runs the same `run_job`.
"""

from __future__ import annotations

import io
import os
import signal
import sys
import threading
import time
import traceback
from datetime import datetime
from pathlib import Path

import numpy as np

from ecgcore.executors import get_executor
from ecgcore.files import now, write_bytes, write_json
from ecgcore.procs import is_process, spawn
from ecgcore.runs import ACTIVE_STATES, FINISHED, Run, create_run, default_runs_dir, list_runs, lock_runs_dir, \
    need_write, pretrained_problem, writable

MAX_JOBS_ENV = "ECGCORE_MAX_JOBS"
HEARTBEAT_S = 1.0  # a running job touches RUN_DIR/heartbeat this often
STALE_S = 30.0  # no heartbeat for this long: the job is hung or gone (a vanished pid is caught at once)
CANCEL_GRACE_S = 0.8  # how long `cancel` lets the job stop at its cancel flag before killing it
CANCEL_S = 1.6  # by then the cancelled job's process is gone or training another run (else it is killed)
PROGRESS_EVERY_S = 0.5  # status.json writes during an epoch are throttled to this


def max_jobs():
    """How many jobs run at once: `$ECGCORE_MAX_JOBS`, else one per two CPU cores (at least one)."""
    value = os.environ.get(MAX_JOBS_ENV)
    if value:
        if not value.isdigit() or int(value) < 1:
            raise ValueError(f"{MAX_JOBS_ENV}={value!r} is invalid: must be an integer >= 1")
        return int(value)
    return max(1, (os.cpu_count() or 1) // 2)


def submit(config, runs_dir=None, name=None):
    """Create a queued run for `config` and start it when a slot is free; returns the Run at once. A config
    that could only fail later is refused first, nothing queued (ecgcore.data.admission)."""
    from ecgcore.data.admission import admit  # the data modules load only when a run is submitted

    admit(config)
    run = create_run(config, runs_dir, name)
    start_queued(run.runs_dir)
    return run


def refresh(runs_dir=None):
    """Look at every run: mark dead jobs failed, start queued runs into free slots; return list_runs().
    A runs folder this user cannot write (a colleague's, a read-only mount) is only listed."""
    if writable(runs_dir):
        start_queued(runs_dir)
    return list_runs(runs_dir)


def start_queued(runs_dir=None):
    """The queue's one step (see the module docstring). Returns the runs it started."""
    with lock_runs_dir(runs_dir):
        return _fill_slots(default_runs_dir(runs_dir))[0]


def _fill_slots(runs_dir, claim=False):
    """The queue's step, under the runs directory's lock: (runs started by the executor, run claimed for
    this process or None). With `claim`, the first run that may start is this process's next run.

    A local slot is taken by a live job process, not by a run's state: a job that has written its run's end
    but is still on its way out (or about to claim the next run) keeps its slot until its process is gone, so
    a freed slot never runs two jobs. The calling process's own slot is free: it is finishing a run."""
    executor = get_executor()
    started, claimed = [], None
    statuses = [(run, run.status()) for run in list_runs(runs_dir)]
    active = [(run, status) for run, status in statuses if status["state"] in ACTIVE_STATES]
    held = _held(executor, active)
    running = 0
    for run, status in active:
        if status["state"] != "running":
            continue
        if run in held:
            running += 1
        else:
            _executor_of(status, executor).stop(run, status)  # a hung job (stale heartbeat) must not come back
            run.update_status(state="failed", finished=now(), message="interrupted",
                              error="interrupted: the job's process died or stopped responding"
                                    + _last_log_line(run))
    busy = {status.get("pid") for run, status in active if run in held}
    running += len({status["pid"] for run, status in statuses
                    if status["state"] in FINISHED and (status.get("executor") or "local") == "local"
                    and status.get("pid") not in (None, os.getpid(), *busy) and _lingering(run, status["pid"])})
    cap = executor.slots()  # None: the executor (Ray) decides how many run at once
    for run, _ in active:
        if cap is not None and running >= cap:
            break
        if run in held or run.state != "queued":
            continue
        problem = run.problem
        if problem:  # its own config.json is damaged: it can never start, and it is not its pretrained run's fault
            run.update_status(state="failed", finished=now(), message="damaged run folder", error=problem)
            continue
        blocker = _waiting_for(run)
        if blocker is None or (blocker == "" and executor.holds_dependents):
            if claim and claimed is None:
                run.update_status(state="running", pid=os.getpid(), started=now(), message="loading data")
                claimed = run
            else:
                executor.start(run)
                started.append(run)
            running += 1
        elif blocker:
            run.update_status(state="failed", finished=now(), message="pretrained run unusable",
                              error=blocker)
    return started, claimed


def _executor_of(status, current):
    """The executor that took a run (its status' `executor`; a running run without one is a local job);
    a queued run nobody took yet belongs to the lab's current executor."""
    name = status.get("executor") or ("local" if status["state"] == "running" else current.name)
    return current if name == current.name else get_executor(name)


def _held(current, active):
    """The active runs (a list of (run, status)) that their executor holds: a running run whose job lives,
    a queued run it has been handed (Ray holds it until it can start). Each is asked of its own executor."""
    groups = {}
    for run, status in active:
        executor = _executor_of(status, current)
        groups.setdefault(executor.name, (executor, []))[1].append((run, status))
    return set().union(*(executor.watch(group) for executor, group in groups.values()))


class LocalExecutor:
    """Jobs as detached processes on this machine (see the module docstring); the lock file caps how many."""

    name = "local"
    holds_dependents = False  # a fine-tuning waits in the queue until its pretrained runs are done

    def slots(self):
        return max_jobs()

    def watch(self, active):
        return {run for run, status in active if status["state"] == "running" and _alive(run, status)}

    def start(self, run):
        _launch(run)

    def stop(self, run, status, grace_s=0.0):
        """Kill the job's process group: SIGKILL at once, or SIGTERM first when given `grace_s`."""
        pid = status.get("pid")
        if grace_s:
            _kill(pid, run, signal.SIGTERM)
            deadline = time.monotonic() + grace_s
            while _is_job(pid, run) and time.monotonic() < deadline:
                time.sleep(0.05)
        _kill(pid, run)

    def resources(self):
        return {"executor": self.name, "cpus": os.cpu_count() or 1, "gpus": _local_gpus(), "nodes": 1,
                "address": None, "note": f"{max_jobs()} job(s) at once"}


def _local_gpus():
    import torch

    return torch.cuda.device_count()


def _lingering(run, pid):
    """Whether the process `pid` that ended `run` still lives (exiting, or training another run) and had a
    heartbeat for `run` within STALE_S."""
    beat = _age(run.path / "heartbeat")
    return beat is not None and beat < STALE_S and _is_job(pid, run)


def _last_log_line(run):
    """' (last log line: ...)' from the run's log.txt, '' when it has none: what the job said before it died
    (e.g. the CLI's 'error: [Errno 28] No space left on device' when it could not write its status)."""
    lines = [line for line in run.log_tail(5).splitlines() if line.strip()]
    return f" (last log line: {lines[-1].strip()[:300]})" if lines else ""


def _waiting_for(run):
    """None when `run` may start, '' while a pretrained run is still queued/running, else why it never can."""
    try:
        deps = [Run(path) for path in run.config.pretrained]
    except ValueError as e:
        return str(e)
    problems = [p for p in map(pretrained_problem, deps) if p]
    if problems:
        return problems[0]
    return "" if any(dep.state in ACTIVE_STATES for dep in deps) else None


def _launch(run):
    """Start the job's detached process and record its pid (called under the runs directory's lock)."""
    proc = spawn(["run-job", str(run.path.resolve())], run.log_path)
    run.update_status(state="running", executor="local", pid=proc.pid, started=now(), message="starting")


def _alive(run, status):
    """Whether the job filling `run` still lives: its pid is that job and its heartbeat is fresh."""
    return _is_job(status.get("pid"), run) and fresh(run, status)


def fresh(run, status):
    """Whether `run`'s heartbeat is fresh (before its first beat: whether it is still in its start-up time)."""
    beat = _age(run.heartbeat_path)
    if beat is None:  # the job has not started its heartbeat yet: allow it the start-up time
        started = status.get("started")
        beat = time.time() - datetime.fromisoformat(started).timestamp() if started else 0.0
    return beat < STALE_S


def _is_job(pid, run):
    """Whether process `pid` is `run`'s job (a job process names the first run it was started for and trains
    later runs of the same directory too, so its command line names `run-job` and the runs directory)."""
    return is_process(pid, b"run-job", os.fsencode(run.path.resolve().parent))


def _age(path):
    try:
        return time.time() - path.stat().st_mtime
    except FileNotFoundError:
        return None


def _kill(pid, run, sig=signal.SIGKILL):
    """Signal the job's process group, only while that pid still is `run`'s job."""
    if _is_job(pid, run):
        try:
            os.killpg(pid, sig)
        except (ProcessLookupError, PermissionError):
            pass


def cancel(run):
    """Stop `run` within about 2 s (CANCEL_S) and mark it cancelled; returns the status. Queued: it never
    starts. Running: the job sees the cancel flag at its next batch, marks the run cancelled and exits or
    trains the queue's next run; a job that has not within CANCEL_GRACE_S (busy loading data, hung, slow
    under load) has its process group killed. Either way cancel returns once the process is gone or has moved
    on to another run, so the slot it frees is really free. Finished runs are left as they are."""
    t0 = time.monotonic()
    need_write(run.runs_dir, "cancelling a run")
    with lock_runs_dir(run.runs_dir):  # the queue must not start it while we decide
        status = run.status()
        if status["state"] == "queued":
            run.update_status(state="cancelled", finished=now(), message="cancelled before it started")
            if status.get("executor"):  # handed to an executor that holds it until it can start (Ray)
                _executor_of(status, get_executor()).stop(run, status)
    if status["state"] == "running":
        pid, executor = status.get("pid"), _executor_of(status, get_executor())
        run.cancel_path.touch()
        until = t0 + CANCEL_GRACE_S
        while run.state == "running" and (executor.name != "local" or _is_job(pid, run)) \
                and time.monotonic() < until:
            time.sleep(0.02)
        if run.state == "running":
            run.update_status(state="cancelled", finished=now(), message="cancelled (stopped by signal)")
            executor.stop(run, status)  # local: SIGKILL at once (everything the job writes is atomic)
        if executor.name == "local":
            until = t0 + CANCEL_S
            while _is_job(pid, run) and not _training_another(pid, run) and time.monotonic() < until:
                time.sleep(0.02)
            if _is_job(pid, run) and not _training_another(pid, run):  # stuck on its way out
                executor.stop(run, status)
                _wait_gone(pid, run, 0.5)
    start_queued(run.runs_dir)
    return run.status()


def _training_another(pid, run):
    """Whether job process `pid` has claimed another run of `run`'s directory (it keeps its slot for it)."""
    return any(other != run and other.status().get("pid") == pid and other.state == "running"
               for other in list_runs(run.runs_dir))


def _wait_gone(pid, run, limit_s):
    until = time.monotonic() + limit_s
    while _is_job(pid, run) and time.monotonic() < until:
        time.sleep(0.02)


def wait(run, on_progress=None, poll_s=0.5):
    """Block until `run` finishes, calling `on_progress(status)` at each poll; return the final status.
    Each poll also drives the queue, so a run queued behind a dead job still starts."""
    while True:
        start_queued(run.runs_dir)
        status = run.status()
        if on_progress:
            on_progress(status)
        if status["state"] in FINISHED:
            return status
        time.sleep(poll_s)


# ---- inside the job's process -------------------------------------------------------------------------------

def run_job(run_dir, reuse=False):
    """Train the run in `run_dir` in this process and return its final state. Normally started by the queue;
    run by hand it starts a queued run at once. With `reuse` (the job process, `python -m ecgcore run-job`),
    it then claims the queue's next run and trains it here too, with stdout/stderr moved to that run's
    log.txt, until the queue has none for it."""
    run = Run(Path(run_dir).resolve())
    if not run.config_path.is_file():
        raise FileNotFoundError(f"no run folder at {run.path} (config.json missing)")
    with lock_runs_dir(run.runs_dir):
        status = run.status()
        if status["state"] in FINISHED:
            raise ValueError(f"run {run.id} is already {status['state']}")
        if status["state"] == "running" and status.get("pid") != os.getpid() and _alive(run, status):
            raise ValueError(f"run {run.id} is already running in process {status['pid']}")
        run.update_status(state="running", pid=os.getpid(), started=status.get("started") or now(),
                          message="loading data")
    state, run = _run_one(run, reuse)
    while run is not None:
        _log_to(run.log_path)
        run = _run_one(run, reuse)[1]
    return state


def _run_one(run, claim_next):
    """Train `run` (marked running by this process), record how it ended and start the queue's next runs:
    (final state, the run claimed for this process when `claim_next`, else None)."""
    beating = threading.Event()
    threading.Thread(target=_heartbeat, args=(run.heartbeat_path, beating), daemon=True).start()
    try:
        end = _train(run)
    except BaseException:  # KeyboardInterrupt, SystemExit: our slot is free all the same
        start_queued(run.runs_dir)
        raise
    finally:
        beating.set()
    if not claim_next:
        state = _record_end(run, end)["state"]
        start_queued(run.runs_dir)  # our slot is free: start the next queued run
        return state, None
    with lock_runs_dir(run.runs_dir):  # one step: no other process starts a job for the slot we keep
        return _record_end(run, end)["state"], _fill_slots(run.runs_dir, claim=True)[1]


def _record_end(run, end):
    """Write how the run ended. When even that cannot be written (a full disk), say so in the log and give
    up: the process exits, and the next look at the queue marks the run failed with that log line."""
    try:
        return run.update_status(**end)
    except OSError as e:
        print(f"error: cannot record the end of run {run.id} ({end.get('error') or end['state']}): {e}",
              file=sys.stderr, flush=True)
        raise


def _log_to(path):
    """Point this process's stdout and stderr (the file descriptors: tracebacks and warnings too) at `path`."""
    sys.stdout.flush()
    sys.stderr.flush()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)


def _heartbeat(path, stop):
    while not stop.is_set():
        path.touch()
        stop.wait(HEARTBEAT_S)


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
        error = f"{type(e).__name__}: {e}"
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
