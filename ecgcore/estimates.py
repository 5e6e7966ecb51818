"""Time people can plan with: how long a job, a sweep or a study has left, and how long one will take before it
starts, from what this machine measured (each epoch's time in a run's metrics, each finished cell's run time).

Estimates are upper bounds where early stopping may end a run sooner, and None where nothing was measured yet
(then a page says so instead of guessing).
"""

from __future__ import annotations

import json
from datetime import datetime

import numpy as np

from ecgcore import run_index
from ecgcore.runs import median_epoch_seconds


def time_left(run, metrics=None):
    """Seconds `run` has left at most (its epochs to go x its median epoch time), 0 once settled, None before
    its first epoch ends; `metrics`: its per-epoch records when the caller has read them already."""
    if run.state not in ("queued", "running"):
        return 0.0
    metrics = run.metrics() if metrics is None else metrics
    per_epoch = median_epoch_seconds(metrics)
    if per_epoch is None:
        return None
    return max(run.config.epochs - len(metrics), 0) * per_epoch


def _like(config):
    """What makes runs train alike, as a key: same task, network, data (its seed and folds aside) and batch size
    (the seed, fraction of labels, learning rate and epochs aside); `config` is a JobConfig's dict."""
    data = {k: v for k, v in (config.get("data") or {}).items() if k not in ("seed", "val_fold", "test_fold")}
    return json.dumps([config["task"], config["arch"], config["batch_size"], config["preprocess"], data],
                      sort_keys=True, default=str)


def plan(configs, runs_dir=None, workers=1):
    """(seconds, runs it rests on) for jobs not yet started (a job, a sweep's cells, the demo): each one's epochs x
    the median epoch time of earlier runs like it here, scaled by its share of labels, summed over the jobs and
    shared among the `workers` that run at once; an upper bound (early stopping may end runs sooner). (None, 0)
    when one of the jobs has no earlier run like it that finished an epoch here."""
    per_epoch = {}  # like-key: [seconds an epoch takes at every label], one look at the index for every job
    for run in run_index.indexed_runs(runs_dir):
        if run.problem is None and run.epoch_s is not None:
            config = run.config_dict()
            per_epoch.setdefault(_like(config), []).append(run.epoch_s / max(config["fraction"], 1e-3))
    total, found = 0.0, 0
    for config in configs:
        earlier = per_epoch.get(_like(config.to_dict()))
        if not earlier:
            return None, 0
        total += float(np.median(earlier)) * config.fraction * config.epochs
        found = max(found, len(earlier))
    return total / max(int(workers), 1), found


def say_plan(seconds, found, workers=1, jobs=1):
    """plan's (seconds, found) in words (the pages before Start, the CLI as it submits): how long at most, how
    many at a time, from how many earlier runs; or that it is not known yet."""
    if seconds is None:
        return ("How long this takes here is not known yet: no run like it has finished an epoch on this machine. "
                "Its time left shows after its first epoch.")
    at_once = f", {workers} at a time" if workers > 1 and jobs > 1 else ""
    return (f"On this machine: {say_duration(seconds)} at most{at_once}, from {found} earlier run(s) like it (early "
            "stopping may end it sooner).")


def slow_on_this_cpu(configs):
    """A warning, before they start, when `configs` train the paper's network at 250 Hz or more on a CPU (asked
    for, or "auto" on a machine without CUDA); None otherwise. bench/train.py measured about one ECG a second."""
    paper = [c for c in configs
             if c.arch == "inception1d" and (c.preprocess.fs or (c.data or {}).get("fs") or 0) >= 250]
    if not paper:
        return None
    if any(c.device != "cpu" for c in paper):
        import torch  # only for a job that might run on a GPU

        if torch.cuda.is_available():
            return None
    return ("The paper's network at 500 Hz on this machine's CPU: `bench/train.py` measured it training about one "
            "ECG per second or slower here, so a set of paper size (about 122,000 ECGs) runs for days. Use a GPU "
            "(device CUDA), fewer ECGs, or the small network for a lesson.")


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
