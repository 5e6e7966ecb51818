"""Data-efficiency demo and attribution speed (issue 6): prints its figures, ends with one JSON line.

1. The demo (ecgcore.demo.run_demo), timed end to end the way a user runs it (background jobs through the
   queue, in a fresh runs folder and data cache): synthesize its hard-task data sets, pretrain its small_cnn at
   100 Hz, fine-tune from scratch and with transfer, and its sweep of 3 fractions x 3 arms (scratch, transfer,
   the random-init control) x 3 seeds. Goal: < 5 minutes on 2 cores. The sweep's summary is printed too (a
   demo-sized set: a few seeds, read it as what the demo shows, not a finding).
2. Attribution time per record for each method, on the pretrained model and a synthetic record (after one
   warm-up call).

  python bench/sweep.py            # the demo (epochs as ecgcore.demo) and attributions
  python bench/sweep.py --epochs 3 # shorter
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from ecgcore import demo, explain, jobs, local_executor, sweep
from ecgcore.data.sources import load_dataset

import results  # bench/results.py: the JSON line and --save

GOAL_S = 300.0


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=None, help="epochs per run (default: the demo's)")
    results.add_save(parser)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-sweep-"))
    os.environ["ECGCORE_CACHE"] = str(tmp / "cache")  # a cold cache: synthesis is part of the demo's time
    runs_dir = tmp / "runs"
    pretrain, scratch, _ = demo.demo_configs(epochs=args.epochs)
    # the machine may be shared: the load average says how much of the 2 cores the demo really had
    load_start = os.getloadavg()[0]
    print(f"cores: {os.cpu_count()}, concurrent jobs: {local_executor.max_jobs()}, epochs per run: {pretrain.epochs}, "
          f"load average at start: {load_start:.1f}")

    t0 = time.perf_counter()
    n_pretrain, n_finetune = len(load_dataset(pretrain.data)), len(load_dataset(scratch.data))
    t_synth = time.perf_counter() - t0
    print(f"synthesize {n_pretrain} + {n_finetune} ECGs: {t_synth:.1f} s")

    t1 = time.perf_counter()
    (pre, *tuned), s = demo.run_demo(runs_dir, epochs=pretrain.epochs)
    state = jobs.wait(pre)["state"]
    t_pre = time.perf_counter() - t1
    print(f"pretrain ({pre.id}): {state}, {t_pre:.1f} s; test {pre.summary()['test'] if state == 'done' else '-'}")
    t2 = time.perf_counter()
    for run in tuned:
        jobs.wait(run)
    counts = s.wait(poll_s=0.5)
    t_sweep = time.perf_counter() - t2
    total = time.perf_counter() - t0
    n_cells = len(s.cells())
    # a job process trains queued runs one after another: how many processes the sweep's runs took
    n_procs = len({s.run_of(c).status().get("pid") for c in s.cells()})
    config = s.config
    print(f"fine-tune scratch and transfer, then sweep {len(config.fractions)} fractions x {len(config.arms)} arms "
          f"x {len(config.seeds)} seeds = {n_cells} runs: {t_sweep:.1f} s ({t_sweep / (n_cells + 2):.1f} s per run, "
          f"{n_procs} job process(es)); {counts}")
    table = s.table()
    print(sweep.bands(table, "macro_auroc").to_string(index=False))
    for line in sweep.summarize(table, "macro_auroc", controls=config.controls(), baselines=config.baselines()):
        print(line["text"])
    load_end = os.getloadavg()[0]
    print(f"whole demo: {total:.1f} s (goal < {GOAL_S:.0f} s: {'met' if total < GOAL_S else 'MISSED'}); "
          f"load average at the end: {load_end:.1f}")

    record = explain.load_record({"source": "synthetic", "seed": 0, "fs": 100})
    times = {}
    for method in explain.METHODS:
        explain.explain_run(pre.path, record, method, "qrs")  # warm-up
        t = time.perf_counter()
        result = explain.explain_run(pre.path, record, method, "qrs")
        times[method] = time.perf_counter() - t
        print(f"attribution {method:<21} {times[method] * 1000:7.0f} ms per record (12 x "
              f"{result.signal.shape[-1]}), QRS share {result.shares['QRS']['share']:.0%}")

    results.publish("sweep", {
        "bench": "sweep", "cores": os.cpu_count(), "epochs": pretrain.epochs, "synth_s": round(t_synth, 1),
        "pretrain_s": round(t_pre, 1), "sweep_s": round(t_sweep, 1), "sweep_runs": n_cells,
        "sweep_job_processes": n_procs, "sweep_done": counts["done"], "demo_total_s": round(total, 1),
        "goal_s": GOAL_S, "goal_met": total < GOAL_S,
        "load_avg_start": round(load_start, 1), "load_avg_end": round(load_end, 1),
        "attribution_ms_per_record": {m: round(v * 1000, 1) for m, v in times.items()},
    }, args.save)


if __name__ == "__main__":
    main()
