"""Job machinery costs: how fast `submit` returns, how long a job takes to start training, how fast `cancel`
stops a training job (flag) and a job still loading data (signal), and `refresh` over many runs.

Usage: python bench/jobs.py [--runs 100]. Uses a temp runs dir and cache; ends with one JSON line.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from ecgcore import jobs, runs
from ecgcore.config import JobConfig

import results  # bench/results.py: the JSON line and --save


def until(predicate, timeout=300, every=0.05):
    end = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > end:
            raise TimeoutError("waited too long")
        time.sleep(every)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=100, help="runs in the directory for the refresh timing")
    results.add_save(ap)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-jobs-"))
    os.environ["ECGCORE_CACHE"] = str(tmp / "cache")
    os.environ["ECGCORE_MAX_JOBS"] = "1"
    data = {"source": "synthetic", "n": 200, "fs": 100, "seed": 0}
    config = JobConfig(task="pretrain", data=data, epochs=1000, batch_size=8, patience=0)
    figures = {}

    # a job that trains: submit latency, start-up until the first batch, cancel through the flag
    t0 = time.perf_counter()
    run = jobs.submit(config, tmp / "runs")
    figures["submit_ms"] = round((time.perf_counter() - t0) * 1e3, 1)
    until(lambda: run.status()["epoch"] >= 1 or run.state != "running")  # data set built (and cached) here
    run_cancel = time.perf_counter()
    status = jobs.cancel(run)
    figures["cancel_training_s"] = round(time.perf_counter() - run_cancel, 3)
    figures["cancel_training_by"] = status["message"]

    # the same config again: the data set is cached now, so this is the job's own start-up cost
    t0 = time.perf_counter()
    run = jobs.submit(config, tmp / "runs")
    until(lambda: run.status()["epoch"] >= 1 or run.state != "running")
    figures["start_to_first_batch_s"] = round(time.perf_counter() - t0, 2)
    jobs.cancel(run)

    # a job still building its data set (no batch to poll the flag at): the signal path
    slow = JobConfig(task="pretrain", data={**data, "n": 20000, "seed": 1}, epochs=1)
    run = jobs.submit(slow, tmp / "runs")
    until(lambda: "loading" in run.status()["message"])
    t0 = time.perf_counter()
    status = jobs.cancel(run)
    figures["cancel_loading_s"] = round(time.perf_counter() - t0, 3)
    figures["cancel_loading_by"] = status["message"]

    # refresh over many finished runs (what a dashboard page polls)
    for i in range(args.runs):
        runs.create_run(JobConfig(seed=i), tmp / "runs").update_status(state="done")
    times = []
    for _ in range(5):
        t0 = time.perf_counter()
        jobs.refresh(tmp / "runs")
        times.append(time.perf_counter() - t0)
    figures[f"refresh_{args.runs}_runs_ms"] = round(statistics.median(times) * 1e3, 1)

    shutil.rmtree(tmp, ignore_errors=True)
    for k, v in figures.items():
        print(f"{k:28} {v}")
    results.publish("jobs", figures, args.save)


if __name__ == "__main__":
    main()
