"""Where runs execute: one setting for the whole lab, `$ECGCORE_EXECUTOR` (or `python -m ecgcore --executor`).

  local  (default) each job is a detached process on this machine, at most `local_executor.max_jobs()` at
         once (ecgcore.local_executor.LocalExecutor); no daemon, no cluster.
  ray    each run is a Ray task on the cluster at `$RAY_ADDRESS` (Ray's own convention; unset: "auto", the
         cluster `ray start --head` started on this machine); Ray decides how many run at once
         (ecgcore.ray_executor.RayExecutor).

The queue (ecgcore.jobs) and the job code that fills a run folder (ecgcore.job) are the same for both: an
executor only starts, watches and stops runs (the `Executor` protocol). A run records in its status which
executor took it, so it is watched and stopped by that one even when the setting changes later.
The queue depends on this protocol, the executors on the job code; neither executor imports the queue.
"""

from __future__ import annotations

import os
from typing import Protocol

from ecgcore.extras import MissingExtra, need
from ecgcore.runs import EXECUTORS

NAMES = ("local", "ray")  # the lab's settings; a status may also record "inline" (ecgcore.inline_executor)

EXECUTOR_ENV = "ECGCORE_EXECUTOR"
# What asking an executor raises when it cannot be reached (no Ray cluster, its extra missing, a head gone).
UNAVAILABLE = (ValueError, ConnectionError, RuntimeError, MissingExtra)


class Executor(Protocol):
    """What the queue asks of an executor; `active` is a list of (Run, status dict) of queued/running runs."""

    name: str
    holds_dependents: bool  # True: a fine-tuning is handed over at once and starts after its pretraining

    def check(self):
        """Nothing when the executor can take runs now, else ValueError saying why (no Ray cluster answers):
        asked before a run is created, so a refused submit leaves nothing queued."""

    def slots(self):
        """How many runs may run at once, None when the executor decides."""

    def watch(self, active):
        """The set of runs in `active` this executor holds (a live job, a task it was handed)."""

    def start(self, run):
        """Hand a queued run over (called under the runs directory's lock); it records itself in the status."""

    def stop(self, run, status, grace_s=0.0):
        """Stop the run's job or task (status: the run's status when the decision was taken)."""

    def resources(self):
        """{"executor", "cpus", "gpus", "nodes", "address", "note"}: what it runs on."""


def executor_name():
    """The lab's executor: `$ECGCORE_EXECUTOR` when set, else "local"; ValueError for anything else."""
    name = os.environ.get(EXECUTOR_ENV) or "local"
    if name not in NAMES:
        raise ValueError(f"{EXECUTOR_ENV}={name!r} is invalid: must be one of {', '.join(NAMES)}")
    return name


def get_executor(name=None):
    """The executor called `name` (default: the lab's setting)."""
    name = name or executor_name()
    if name == "ray":
        need("ray", "The Ray executor")  # ray is imported only when it is asked for
        from ecgcore.ray_executor import RayExecutor

        return RayExecutor()
    if name == "local":
        from ecgcore.local_executor import LocalExecutor

        return LocalExecutor()
    if name == "inline":  # asked of a run that records it, never the lab's setting
        from ecgcore.inline_executor import InlineExecutor

        return InlineExecutor()
    raise ValueError(f"unknown executor {name!r}: must be one of {', '.join(EXECUTORS)}")


def describe():
    """What the Runs page shows: {"executor", "cpus", "gpus", "nodes", "address", "error", "text"}, where
    the counts are the cluster's (Ray) or this machine's (local) and `error` says why Ray cannot be reached."""
    try:
        info = get_executor().resources()
    except UNAVAILABLE as e:
        info = {"executor": os.environ.get(EXECUTOR_ENV), "cpus": None, "gpus": None, "nodes": None,
                "address": None, "error": str(e)}
    info.setdefault("error", None)
    if info["error"]:
        info["text"] = f"Executor: {info['executor']} — unavailable: {info['error']}"
    else:
        where = f" at {info['address']}" if info.get("address") else ""
        nodes = f"{info['nodes']} node{'s' if info['nodes'] != 1 else ''}"
        note = f" · {info['note']}" if info.get("note") else ""
        info["text"] = (f"Executor: {info['executor']}{where} · {info['cpus']:g} CPUs, {info['gpus']:g} GPUs, "
                        f"{nodes}{note}")
    return info
