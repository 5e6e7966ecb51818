"""The local executor (the default, see ecgcore.executors): each job is a detached process on this machine.

A job runs as `python -m ecgcore run-job RUN_DIR` in its own session (it outlives the page or shell that
started it), with stdout/stderr going to the run's log.txt; at most `max_jobs()` run at once, counted by the
queue (ecgcore.jobs) under the runs directory's lock.
"""

from __future__ import annotations

import os
import signal
import time

from ecgcore.files import now
from ecgcore import job
from ecgcore.job import alive, is_job
from ecgcore.procs import spawn

MAX_JOBS_ENV = "ECGCORE_MAX_JOBS"


def max_jobs():
    """How many jobs run at once: `$ECGCORE_MAX_JOBS`, else one per two CPU cores (at least one)."""
    value = os.environ.get(MAX_JOBS_ENV)
    if value:
        if not value.isdigit() or int(value) < 1:
            raise ValueError(f"{MAX_JOBS_ENV}={value!r} is invalid: must be an integer >= 1")
        return int(value)
    return max(1, (os.cpu_count() or 1) // 2)


class LocalExecutor:
    """Jobs as detached processes on this machine; the queue's lock caps how many (ecgcore.executors.Executor)."""

    name = "local"
    holds_dependents = False  # a fine-tuning waits in the queue until its pretrained runs are done

    def check(self):
        pass  # this machine always takes runs; the queue's cap makes them wait for a slot

    def slots(self):
        return max_jobs()

    def watch(self, active):
        return {run for run, status in active if status["state"] == "running" and alive(run, status)}

    def start(self, run):
        """Start the job's detached process and record its pid (called under the runs directory's lock)."""
        proc = spawn(["run-job", str(run.path.resolve())], run.log_path)
        run.update_status(state="running", executor=self.name, pid=proc.pid, started=now(), message="starting")

    def stop(self, run, status, grace_s=0.0):
        """Kill the job's process group: SIGKILL at once, or SIGTERM first when given `grace_s`."""
        pid = status.get("pid")
        if grace_s:
            _kill(pid, run, signal.SIGTERM)
            deadline = time.monotonic() + grace_s
            while is_job(pid, run) and time.monotonic() < deadline:
                time.sleep(0.05)
        _kill(pid, run)

    def resources(self):
        return {"executor": self.name, "cpus": os.cpu_count() or 1, "gpus": _local_gpus(), "nodes": 1,
                "address": None, "note": f"{max_jobs()} job(s) at once"}


def lingering(run, pid):
    """Whether the process `pid` that ended `run` still lives (exiting, or training another run) and had a
    heartbeat for `run` within job.STALE_S."""
    beat = run.heartbeat_age()
    return beat is not None and beat < job.STALE_S and is_job(pid, run)


def _local_gpus():
    import torch

    return torch.cuda.device_count()


def _kill(pid, run, sig=signal.SIGKILL):
    """Signal the job's process group, only while that pid still is `run`'s job."""
    if is_job(pid, run):
        try:
            os.killpg(pid, sig)
        except (ProcessLookupError, PermissionError):
            pass
