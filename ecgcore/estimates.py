"""Time people can plan with: how long a job, a sweep or a study has left, and how long one will take before it
starts, from what this machine measured (each epoch's time in a run's metrics, each finished cell's run time).

Estimates are upper bounds where early stopping may end a run sooner, and None where nothing was measured yet
(then a page says so instead of guessing).
"""

from __future__ import annotations

from datetime import datetime

import numpy as np

from ecgcore import run_index


def epoch_seconds(run):
    """The median measured seconds of one of `run`'s epochs (metrics' time_s), None before its first epoch."""
    times = [m["time_s"] for m in run.metrics() if isinstance(m.get("time_s"), (int, float))]
    return float(np.median(times)) if times else None


def time_left(run):
    """Seconds `run` has left at most (its epochs to go x its median epoch time), 0 once settled, None before
    its first epoch ends."""
    if run.state not in ("queued", "running"):
        return 0.0
    metrics = run.metrics()
    per_epoch = epoch_seconds(run)
    if per_epoch is None:
        return None
    return max(run.config.epochs - len(metrics), 0) * per_epoch


def _like(config, other):
    """Whether a finished run's config trains as `config` would: same task, network, data and batch size (the
    seed, fraction of labels and epochs aside)."""
    keep = lambda c: (c.task, c.arch, c.batch_size, c.preprocess, {k: v for k, v in (c.data or {}).items()  # noqa: E731
                                                                    if k != "seed"})
    return keep(config) == keep(other)


def before_start(config, runs_dir=None):
    """(seconds, runs it rests on): how long `config` would run on this machine at most (its epochs x the
    median epoch time of earlier runs like it, scaled by its share of labels), or (None, 0) when no run like
    it has finished an epoch here."""
    per_epoch, found = [], 0
    for run in run_index.indexed_runs(runs_dir):  # the index: only the runs like it are read
        if run.problem is not None or not _like(config, run.config):
            continue
        seconds = epoch_seconds(run)
        if seconds is not None:
            found += 1
            per_epoch.append(seconds / max(run.config.fraction, 1e-3))  # an epoch scales with the records used
    if not per_epoch:
        return None, 0
    return float(np.median(per_epoch)) * config.fraction * config.epochs, found


def _seconds(run):
    status = run.status()
    try:
        return (datetime.fromisoformat(status["finished"]) - datetime.fromisoformat(status["started"])).total_seconds()
    except (KeyError, TypeError, ValueError):
        return None


def sweep_time_left(sweep, workers=1):
    """Seconds a sweep has left: the median time of its finished cells x the cells not yet done, over the jobs
    that run at once (`workers`); 0 when every cell is settled, None before a first cell has finished."""
    cells = sweep.cells()
    waiting = [c for c in cells if c["state"] in ("queued", "running", "missing")]
    if not waiting:
        return 0.0
    done = []
    for cell in cells:
        if cell["state"] == "done" and cell.get("run_id"):
            seconds = _seconds(sweep.run_of(cell))
            if seconds is not None:
                done.append(seconds)
    if not done:
        return None
    return float(np.median(done)) * len(waiting) / max(int(workers), 1)


def say_duration(seconds):
    """Seconds in words a person plans with: "under a minute", "about 4 min", "about 2.5 h", "about 3 days"."""
    if seconds is None:
        return "not known yet"
    if seconds < 60:
        return "under a minute"
    if seconds < 3600:
        return f"about {round(seconds / 60)} min"
    if seconds < 2 * 86400:
        return f"about {seconds / 3600:.1f} h"
    return f"about {seconds / 86400:.0f} days"
