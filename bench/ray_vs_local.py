"""The demo sweep through the local executor and through a local Ray, in the same run (issue 14): prints its
figures, ends with one JSON line.

The demo's pretraining runs once (local executor); then the demo sweep, 4 fractions x 2 arms (scratch,
freeze_first_block) x 2 seeds = 16 cells, runs on each executor in its own runs folder and a shared warm data
cache. Each Ray run asks for as many CPUs as a local job has (this machine's cores, so one cell at a time, with
the local job's thread count: the test metrics come out identical, and checked here), so the difference
in total time is what the executor costs: ray_overhead_per_cell_s = (ray_total_s - local_total_s) / cells.
Goal (issue 25): under 0.3 s per cell, Ray's total within 1.1x the local one. Per executor it also prints where
the time goes: a cell's job (its run's started to finished) and the time between one cell's end and the next
one's start. The Ray cluster's start (ray.init) is timed
apart: a lab starts its cluster once. `--cpus-per-run 1` instead lets Ray run `cores` cells at once.

  python bench/ray_vs_local.py              # the demo's epochs
  python bench/ray_vs_local.py --epochs 2   # shorter
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

# the repository root in place of this script's folder, where `import ray` would find this file, not Ray

from ecgcore import demo, jobs, sweep
from ecgcore.data.sources import load_dataset

import results  # bench/results.py: the JSON line and --save

FRACTIONS = (0.1, 0.25, 0.5, 1.0)
SEEDS = (0, 1)
GOAL_OVERHEAD_S = 0.3
GOAL_RATIO = 1.1


def run_sweep(config, runs_dir):
    t, wall = time.perf_counter(), time.time()
    s = sweep.create_sweep(config, runs_dir)
    counts = s.wait(poll_s=0.2)
    s.begun = wall  # for timeline: when the sweep was submitted
    return s, counts, time.perf_counter() - t


def timeline(s):
    """(median seconds a cell's job ran, from its run's started to finished; summed seconds between one cell's end
    and the next one's start; seconds from the sweep's submission to its first cell's start): where an executor's
    time goes, in the cells, between them or before the first."""
    from datetime import datetime
    import statistics

    spans = sorted((datetime.fromisoformat(st["started"]).timestamp(), datetime.fromisoformat(st["finished"]).timestamp())
                   for st in (s.run_of(c).status() for c in s.cells()))
    gaps = sum(max(0.0, start - end) for (_, end), (start, _) in zip(spans, spans[1:]))
    return statistics.median(b - a for a, b in spans), gaps, spans[0][0] - s.begun


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=None, help="epochs per run (default: the demo's)")
    parser.add_argument("--cpus-per-run", type=float, default=None,
                        help="CPUs each Ray run asks for (default: this machine's cores, as a local job)")
    results.add_save(parser)
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    cpus_per_run = args.cpus_per_run or cores
    tmp = Path(tempfile.mkdtemp(prefix="bench-ray-"))
    os.environ["ECGCORE_CACHE"] = str(tmp / "cache")
    os.environ["ECGCORE_EXECUTOR"] = "local"
    os.environ["ECGCORE_RAY_CPUS"] = str(cpus_per_run)
    pretrain, scratch, _ = demo.demo_configs(epochs=args.epochs)
    load_start = os.getloadavg()[0]
    print(f"cores: {cores}, epochs per run: {pretrain.epochs}, CPUs per Ray run: {cpus_per_run:g}, "
          f"load average at start: {load_start:.1f}")
    load_dataset(pretrain.data), load_dataset(scratch.data)  # a warm cache: both executors read the same files
    pre = jobs.submit(pretrain, tmp / "pretrain")
    assert jobs.wait(pre, poll_s=0.2)["state"] == "done", pre.status()
    config = sweep.SweepConfig(base=scratch, fractions=list(FRACTIONS), seeds=list(SEEDS), name="bench",
                               arms=[sweep.Arm(), sweep.Arm("freeze_first_block", [str(pre.path)])])

    local, local_counts, local_s = run_sweep(config, tmp / "local")
    cells = len(local.cells())
    print(f"local executor: {cells} cells in {local_s:.1f} s ({local_s / cells:.2f} s per cell); {local_counts}")
    local_cell_s, local_gaps_s, local_first_s = timeline(local)
    print(f"  a cell's job: median {local_cell_s:.2f} s; between cells: {local_gaps_s:.1f} s in all; the first "
          f"cell started {local_first_s:.1f} s after the sweep was submitted")

    import ray

    # on loopback only: Ray swaps 127.0.0.1 for the machine's network address unless told it is no cluster
    os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
    ray._private.ray_constants.ENABLE_RAY_CLUSTER = False
    t = time.perf_counter()
    ray.init(num_cpus=cores, include_dashboard=False, object_store_memory=100 * 1024 ** 2, log_to_driver=False)
    ray_start_s = time.perf_counter() - t
    try:
        os.environ["ECGCORE_EXECUTOR"] = "ray"
        fresh, _, fresh_s = run_sweep(config, tmp / "ray-fresh")  # starts the dispatcher and the first workers
        on_ray, ray_counts, ray_s = run_sweep(config, tmp / "ray")  # a lab's cluster runs: a study on it
    finally:
        ray.shutdown()  # stops the raylet, GCS and workers this bench started
    print(f"Ray cluster start (ray.init, once per cluster): {ray_start_s:.1f} s")
    _, _, fresh_first_s = timeline(fresh)
    print(f"ray executor, the cluster's first study: {cells} cells in {fresh_s:.1f} s ({fresh_s / cells:.2f} s per "
          f"cell); its first cell started {fresh_first_s:.1f} s after the sweep was submitted (Ray starts the lab's "
          "dispatcher and a worker that imports torch, once per cluster)")
    print(f"ray executor, a study on the running cluster: {cells} cells in {ray_s:.1f} s ({ray_s / cells:.2f} s per "
          f"cell); {ray_counts}")
    ray_cell_s, ray_gaps_s, ray_first_s = timeline(on_ray)
    print(f"  a cell's job: median {ray_cell_s:.2f} s; between cells: {ray_gaps_s:.1f} s in all; the first "
          f"cell started {ray_first_s:.1f} s after the sweep was submitted")

    key = ["fraction", "arm", "seed"]
    columns = [c for c in local.table() if c not in ("run_id", "state")]
    identical = on_ray.table()[columns].sort_values(key).reset_index(drop=True).equals(
        local.table()[columns].sort_values(key).reset_index(drop=True))
    overhead = (ray_s - local_s) / cells
    ratio = ray_s / local_s
    load_end = os.getloadavg()[0]
    print(f"Ray overhead per cell: {overhead:+.2f} s (goal < {GOAL_OVERHEAD_S:g} s: "
          f"{'met' if overhead < GOAL_OVERHEAD_S else 'MISSED'}); Ray / local total: {ratio:.2f}x (goal <= "
          f"{GOAL_RATIO}x: {'met' if ratio <= GOAL_RATIO else 'MISSED'}); test metrics identical: {identical}; "
          f"load average at the end: {load_end:.1f}")
    results.publish("ray_vs_local", {
        "bench": "ray", "cores": cores, "epochs": pretrain.epochs, "cpus_per_ray_run": cpus_per_run,
        "cells": cells, "local_total_s": round(local_s, 1), "ray_total_s": round(ray_s, 1),
        "local_cells_done": local_counts["done"], "ray_cells_done": ray_counts["done"],
        "ray_overhead_per_cell_s": round(overhead, 2), "ray_over_local": round(ratio, 2),
        "ray_start_s": round(ray_start_s, 1), "metrics_identical": bool(identical),
        "local_cell_s": round(local_cell_s, 2), "ray_cell_s": round(ray_cell_s, 2),
        "local_between_cells_s": round(local_gaps_s, 1), "ray_between_cells_s": round(ray_gaps_s, 1),
        "local_first_cell_after_s": round(local_first_s, 1), "ray_first_cell_after_s": round(ray_first_s, 1),
        "ray_first_study_total_s": round(fresh_s, 1), "ray_first_study_first_cell_after_s": round(fresh_first_s, 1),
        "ray_first_study_over_local": round(fresh_s / local_s, 2),
        "goal_met": bool(overhead < GOAL_OVERHEAD_S and ratio <= GOAL_RATIO),
        "load_avg_start": round(load_start, 1), "load_avg_end": round(load_end, 1),
    }, args.save)


if __name__ == "__main__":
    main()
