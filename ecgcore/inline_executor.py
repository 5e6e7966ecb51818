"""Runs trained in the process that creates them: a bench, or a study run from one command (`Sweep.run_inline`).

The cells of a study all read one data set; in one process the preprocessed set stays in train.fit's memory
cache, so the folder is read and preprocessed once for all of them, and nothing pays a process start per cell.
A run made here is an ordinary run folder (config, metrics per epoch, checkpoint, status, heartbeat): the
pages list, watch and compare it like any other, and its status records executor "inline" and this
process's pid, so the queue (ecgcore.jobs) counts it in its slots and, should the process die, marks it
failed like a dead local job. It is created already running, under the runs directory's lock, so no other
executor can take it first. `InlineExecutor` is what the queue asks about such a run; it never starts one.
"""

from __future__ import annotations

import os

from ecgcore import job
from ecgcore.files import now
from ecgcore.procs import is_process
from ecgcore.runs import create_run, lock_runs_dir


class InlineExecutor:
    """The queue's view of inline runs (ecgcore.executors.Executor); it never starts a queued run."""

    name = "inline"
    holds_dependents = False

    def check(self):
        raise ValueError("the inline executor trains only the runs its own process creates (ecgcore.inline_executor)")

    def slots(self):
        return 0

    def watch(self, active):
        """The running runs whose process lives and whose heartbeat is fresh."""
        return {run for run, status in active if status["state"] == "running" and is_process(status.get("pid"))
                and job.fresh(run, status)}

    def start(self, run):
        raise RuntimeError(f"run {run.id}: the inline executor does not start queued runs")

    def stop(self, run, status, grace_s=0.0):
        """Nothing to kill: the run's process is whoever trains it inline (a bench, a study); it stops at the
        cancel flag at its next batch (ecgcore.jobs.cancel touches it)."""

    def resources(self):
        return {"executor": self.name, "cpus": os.cpu_count() or 1, "gpus": 0, "nodes": 1, "address": None,
                "note": "runs in the process that created them"}


def create(config, runs_dir=None, name=None):
    """A new run for `config`, created running in this process (refused first as jobs.submit refuses)."""
    from ecgcore.data.admission import admit  # the data modules load only when a run is made

    admit(config)
    with lock_runs_dir(runs_dir):  # created and claimed in one step: the queue never sees it queued
        run = create_run(config, runs_dir, name)
        run.update_status(state="running", executor=InlineExecutor.name, pid=os.getpid(), started=now(),
                          message="loading data")
    return run


def train(run):
    """Train `run` (made by `create`) here and record how it ended; returns its final state."""
    return job.record_end(run, job.train_run(run))["state"]


def run_inline(config, runs_dir=None, name=None):
    """Create and train a run for `config` in this process; returns the finished Run."""
    run = create(config, runs_dir, name)
    train(run)
    return run
