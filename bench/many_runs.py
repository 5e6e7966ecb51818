"""Pages with a study of hundreds of runs: each page's first render in chromium with 1,000 runs in the runs folder
against the same page with 10, measured side by side (loads alternating between the two servers).

The runs are finished study cells written by hand (no training): sweeps of scratch, transfer and its random-init
control over fractions and seeds, each cell with its 30 epochs of metrics, summary and predictions, and two
pretrained runs. Goal: every page within 1.5 s of the same page with 10 runs. Prints the figures, then one JSON
line. Usage: .venv/bin/python bench/many_runs.py [--runs 1000] [--loads 5]
"""

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import results  # bench/results.py: the JSON line and --save
from ui import CHROMIUM_ARGS, serve

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))  # the page tests' hand-written finished run: one way to write one
PAGES = ("", "Runs", "Fine-tune", "Data_efficiency", "Explain", "Pretrain")
GOAL_S = 1.5


def build(folder, n_runs, seed=0):
    """A runs folder of about `n_runs` runs (returns how many): two pretrained runs and a finished one, then sweeps
    of 3 arms x 5 fractions x seeds whose cells are done (their files copied from one finished run, with a summary
    of their own)."""
    import numpy as np

    from ecgcore import files, jobs, runs, sweep
    from ecgcore.config import JobConfig
    from page_fixtures import finished_run

    jobs.start_queued = lambda runs_dir=None: []  # no job starts: the cells are written by hand below
    data = {"source": "synthetic", "n": 200, "classes": "all", "seed": seed}
    pre = [finished_run(folder, task="pretrain", name=f"pretrain {i}", data={**data, "classes": None},
                        targets=["hr"]) for i in range(2)]
    template = finished_run(folder, task="finetune", name="template", data=data)
    for epoch in range(3, 31):
        template.append_metrics({"epoch": epoch, "train_loss": 1.0 / epoch, "val_loss": 1.1 / epoch,
                                 "val_macro_auroc": 0.9, "lr": 1e-3, "time_s": 1.0})
    rng = np.random.default_rng(seed)
    left, k = n_runs - 3, 0
    while left > 3:  # the last sweep may go past n_runs by a few cells
        fractions = [0.05, 0.1, 0.25, 0.5, 1.0] if left >= 15 else [0.1, 1.0]
        seeds = max(1, min(10, left // (3 * len(fractions))))
        config = sweep.SweepConfig(base=JobConfig(task="finetune", epochs=30, data=data), name=f"study {k}",
                                   fractions=fractions, seeds=list(range(seeds)),
                                   arms=sweep.with_controls([sweep.Arm(), sweep.Arm("freeze_first_block",
                                                                                    [str(pre[k % 2].path)])],
                                                            random_probe=False))
        made = sweep.create_sweep(config, folder)
        for cell in made.cells():
            run = runs.get_run(folder, cell["run_id"])
            for name in ("metrics.jsonl", "predictions.npz", "model.pt"):
                shutil.copyfile(template.path / name, run.path / name)
            summary = files.read_json(template.summary_path)
            summary["test"].update(macro_auroc=float(rng.uniform(0.7, 0.95)), accuracy=float(rng.uniform(0.5, 0.9)))
            summary["val"] = {"macro_auroc": float(rng.uniform(0.7, 0.95))}
            files.write_json(run.summary_path, summary)
            run.update_status(state="done", progress=1.0, message="done", started=files.now(), finished=files.now())
        left -= len(made.cells())
        k += 1
    return len(runs.list_runs(folder))


def load_s(context, url):
    """Seconds from navigation to the page's script having run once and its title drawn."""
    page = context.new_page()
    t = time.perf_counter()
    page.goto(url, timeout=120_000)
    page.locator('[data-testid="stMain"] h1').first.wait_for(timeout=120_000)
    page.locator('[data-testid="stApp"][data-test-script-state="notRunning"]').wait_for(timeout=120_000)
    elapsed = time.perf_counter() - t
    errors = page.locator('[data-testid="stException"]').count()
    page.close()
    if errors:
        raise RuntimeError(f"{url} shows an exception")
    return elapsed


def measure(folders, loads):
    """({page: {size: median seconds}}, {size: seconds of the server's very first load}): each load in a fresh
    browser context (a new session), sizes alternating; the very first load of a server (Home) is where its run
    index is built."""
    from playwright.sync_api import sync_playwright

    servers = {}
    try:
        for size, folder in folders.items():
            env = dict(os.environ, ECGCORE_RUNS=str(folder), ECGCORE_CACHE=str(folder.parent / "cache"))
            servers[size] = serve("app.py", ROOT, env)
        out, first = {}, {}
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=shutil.which("chromium"), args=CHROMIUM_ARGS)
            for page in PAGES:
                times = {size: [] for size in folders}
                for i in range(loads + 1):
                    for size, (_, base) in servers.items():
                        context = browser.new_context(viewport={"width": 1400, "height": 1000})
                        seconds = load_s(context, f"{base}/{page}")
                        context.close()
                        first.setdefault(size, seconds)
                        if i:  # the first load of each page warms the server's imports
                            times[size].append(seconds)
                out[page or "Home"] = {size: statistics.median(t) for size, t in times.items()}
            browser.close()
        return out, first
    finally:
        for proc, _ in servers.values():
            proc.terminate()
            proc.wait(timeout=20)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--small", type=int, default=10)
    parser.add_argument("--loads", type=int, default=5)
    results.add_save(parser)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp())
    try:
        folders, made = {}, {}
        for size in (args.small, args.runs):
            t = time.perf_counter()
            made[size] = build(tmp / f"runs-{size}", size)
            folders[size] = tmp / f"runs-{size}"
            print(f"{made[size]} runs written in {time.perf_counter() - t:.1f} s (asked for {size})")
        figures, first = measure(folders, args.loads)
        result, worst = {"runs": made[args.runs], "small": made[args.small], "loads": args.loads}, 0.0
        print(f"first render in chromium, median of {args.loads} fresh sessions (goal: within {GOAL_S} s of "
              f"{args.small} runs)")
        for page, by_size in figures.items():
            small, large = by_size[args.small], by_size[args.runs]
            worst = max(worst, large - small)
            key = page.lower().replace("-", "_")
            print(f"  {page:16s} {args.small} runs {small:5.2f} s · {args.runs} runs {large:5.2f} s · "
                  f"+{large - small:.2f} s")
            result.update({f"{key}_{args.small}_s": round(small, 2), f"{key}_{args.runs}_s": round(large, 2)})
        print(f"  a server's very first load (Home; the run index is built): {args.small} runs "
              f"{first[args.small]:.2f} s · {args.runs} runs {first[args.runs]:.2f} s")
        result.update({f"first_load_{size}_s": round(first[size], 2) for size in (args.small, args.runs)})
        print(f"load average while measuring: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
        result.update(worst_extra_s=round(worst, 2), goal_met=worst <= GOAL_S,
                      load_average=round(os.getloadavg()[0], 1))
        results.publish("many_runs", result, args.save)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
