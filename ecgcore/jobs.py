"""The run queue: which queued run starts next, on which executor, and cancel.

`submit` creates a queued run and returns at once; an executor (ecgcore.executors) starts its job, by default
as a detached local process (ecgcore.local_executor) that runs the job code (ecgcore.job). There is no
daemon: every submit, refresh, cancel, wait poll and job exit calls `start_queued`, which, under the runs
directory's lock, marks dead jobs failed ("interrupted") and starts queued runs oldest first while fewer
than the executor's slots run. A fine-tuning run waits in the queue until its pretrained runs are done.
A job process that finishes its run claims the next queued run in the same step and trains it too (a sweep's
cells then pay python + torch start-up and data loading once per worker, not once per run); it exits when
the queue has nothing for it. Each run keeps its own log.txt, heartbeat and cancel flag.

That is the local executor. With `$ECGCORE_EXECUTOR=ray` (ecgcore.executors) the same queue step hands
each startable run to Ray instead (ecgcore.ray_executor): no cap here, a fine-tuning is handed over
at once and Ray starts it after its pretraining; the Ray task runs the same job code.
"""

from __future__ import annotations

import os
import time

from ecgcore import job
from ecgcore.executors import UNAVAILABLE, get_executor
from ecgcore.files import LockBusy, has_room, lock_holder, now
from ecgcore.local_executor import lingering
from ecgcore.runs import ACTIVE_STATES, FINISHED, create_run, default_runs_dir, delete_run, list_runs, \
    lock_runs_dir, need_write, writable

CANCEL_GRACE_S = 0.8  # how long `cancel` lets the job stop at its cancel flag before killing it
CANCEL_S = 1.6  # by then the cancelled job's process is gone or training another run (else it is killed)


def submit(config, runs_dir=None, name=None):
    """Create a queued run for `config` and start it when a slot is free; returns the Run at once. A config
    that could only fail later is refused first, nothing queued (ecgcore.data.admission)."""
    from ecgcore.data.admission import admit  # the data modules load only when a run is submitted

    admit(config)
    get_executor().check()  # no Ray cluster answers: refused here, before anything is queued
    run = create_run(config, runs_dir, name)
    try:
        start_queued(run.runs_dir)
    except LockBusy as e:  # queued all the same: the next look at the queue starts it
        run.update_status(message=f"queued; not started yet: {e}")
    except UNAVAILABLE:  # the executor went away between the check and the start: refused, nothing left queued
        if run.state == "queued" and not run.status().get("executor"):
            delete_run(run)
        raise
    return run


def refresh(runs_dir=None):
    """Look at every run: mark dead jobs failed, start queued runs into free slots; return list_runs().
    A runs folder this user cannot write (a colleague's, a read-only mount), or whose lock another process
    holds, or whose disk is full, is only listed: a look never waits and never needs to write."""
    if writable(runs_dir):
        try_start_queued(runs_dir)
    return list_runs(runs_dir)


def start_queued(runs_dir=None):
    """The queue's one step (see the module docstring). Returns the runs it started; LockBusy when the runs
    folder's lock is not free within files.WRITE_WAIT_S (or its holder is stopped)."""
    with lock_runs_dir(runs_dir):
        return _fill_slots(default_runs_dir(runs_dir))[0]


def try_start_queued(runs_dir=None):
    """The queue's step if it can be taken now: the runs folder's lock is free (no process holds it, by
    /proc/locks) and its disk has room (files.has_room); otherwise nothing. Returns the runs it started. A
    lock taken in the instant between the look and the step is waited for within start_queued's bound."""
    folder = default_runs_dir(runs_dir)
    if folder.is_dir() and (not has_room(folder) or lock_holder(folder) is not None):
        return []
    try:
        return start_queued(runs_dir)
    except (LockBusy, *UNAVAILABLE):  # a look lists what is there; the next submit or look starts the rest
        return []


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
                    and status.get("pid") not in (None, os.getpid(), *busy) and lingering(run, status["pid"])})
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
        blocker = job.waiting_for(run)
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
    a queued run it has been handed (Ray holds it until it can start). Each is asked of its own executor; the
    runs of an executor that cannot be asked (a Ray cluster gone) count as held: nothing is failed on a guess."""
    groups, unknown = {}, set()
    for run, status in active:
        try:
            executor = _executor_of(status, current)
        except UNAVAILABLE:
            unknown.add(run)
            continue
        groups.setdefault(executor.name, (executor, []))[1].append((run, status))
    held = set(unknown)
    for executor, group in groups.values():
        try:
            held |= executor.watch(group)
        except UNAVAILABLE:
            held |= {run for run, _ in group}
    return held


def _last_log_line(run):
    """' (last log line: ...)' from the run's log.txt, '' when it has none: what the job said before it died
    (e.g. the CLI's 'error: [Errno 28] No space left on device' when it could not write its status)."""
    lines = [line for line in run.log_tail(5).splitlines() if line.strip()]
    return f" (last log line: {lines[-1].strip()[:300]})" if lines else ""


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
        while run.state == "running" and (executor.name != "local" or job.is_job(pid, run)) \
                and time.monotonic() < until:
            time.sleep(0.02)
        if run.state == "running":
            run.update_status(state="cancelled", finished=now(), message="cancelled (stopped by signal)")
            executor.stop(run, status)  # local: SIGKILL at once (everything the job writes is atomic)
        if executor.name == "local":
            until = t0 + CANCEL_S
            while job.is_job(pid, run) and not _training_another(pid, run) and time.monotonic() < until:
                time.sleep(0.02)
            if job.is_job(pid, run) and not _training_another(pid, run):  # stuck on its way out
                executor.stop(run, status)
                _wait_gone(pid, run, 0.5)
    try_start_queued(run.runs_dir)  # the cancel is done: the next run starts now or at the next look
    return run.status()


def _training_another(pid, run):
    """Whether job process `pid` has claimed another run of `run`'s directory (it keeps its slot for it)."""
    return any(other != run and other.status().get("pid") == pid and other.state == "running"
               for other in list_runs(run.runs_dir))


def _wait_gone(pid, run, limit_s):
    until = time.monotonic() + limit_s
    while job.is_job(pid, run) and time.monotonic() < until:
        time.sleep(0.02)


def wait(run, on_progress=None, poll_s=0.5):
    """Block until `run` finishes, calling `on_progress(status)` at each poll; return the final status.
    Each poll also drives the queue, so a run queued behind a dead job still starts."""
    while True:
        try_start_queued(run.runs_dir)
        status = run.status()
        if on_progress:
            on_progress(status)
        if status["state"] in FINISHED:
            return status
        time.sleep(poll_s)


def run_job(run_dir, reuse=False):
    """Train the run in `run_dir` in this process and return its final state. Normally started by the queue;
    run by hand it starts a queued run at once. With `reuse` (the job process, `python -m ecgcore run-job`),
    it then claims the queue's next run and trains it here too, with stdout/stderr moved to that run's
    log.txt, until the queue has none for it."""
    run = job.claim(run_dir)
    state, run = _run_one(run, reuse)
    while run is not None:
        job.log_to(run.log_path)
        run = _run_one(run, reuse)[1]
    return state


def _run_one(run, claim_next):
    """Train `run` (marked running by this process), record how it ended and start the queue's next runs:
    (final state, the run claimed for this process when `claim_next`, else None)."""
    try:
        end = job.train_run(run)
    except BaseException:  # KeyboardInterrupt, SystemExit: our slot is free all the same
        start_queued(run.runs_dir)
        raise
    if not claim_next:
        state = job.record_end(run, end)["state"]
        start_queued(run.runs_dir)  # our slot is free: start the next queued run
        return state, None
    with lock_runs_dir(run.runs_dir):  # one step: no other process starts a job for the slot we keep
        return job.record_end(run, end)["state"], _fill_slots(run.runs_dir, claim=True)[1]
