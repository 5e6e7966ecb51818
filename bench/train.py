"""Training speed and quality (issue 3): prints its figures, ends with one JSON line.

1. Samples/s of a bare model step (forward + backward + Adam step, batch 64) per arch at 12x1000 (100 Hz)
   and 12x5000 (500 Hz).
2. Loop overhead: epoch time of the full `ecgcore.train.fit` loop (batching, validation metrics, callbacks,
   cancel polling) over the time of the same number of bare steps. Goal <= 1.10. The first epoch is left
   out as warm-up; one-off work before the loop (preprocessing, splits) is reported apart.
3. Quality: inception1d multi-task pretraining on synthetic ECGs at 100 Hz; test MAE per target against
   the goals HR <= 1 bpm, PR <= 5 ms, QRS <= 3 ms, QT <= 5 ms, with wall time.

The full run (10,000 ECGs, 40 epochs) is meant for a GPU; on a CPU the default is --quick (small sizes).
  python bench/train.py            # a GPU: full sizes; a CPU: quick sizes
  python bench/train.py --full     # full sizes on a CPU too (hours on 2 cores)
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from ecgcore.config import ARCHS, JobConfig, Preprocess
from ecgcore.data.dataset import DataSet
from ecgcore.leads import LEADS
from ecgcore.models import build_model
from ecgcore.train import fit, resolve_device

import results  # bench/results.py: the JSON line and --save

GOALS = {"hr": 1.0, "pr": 5.0, "qrs": 3.0, "qt": 5.0}


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def bare_rate(arch, length, device, steps, batch=64):
    """Samples/s of forward + backward + step on one fixed batch: the floor no loop can beat."""
    torch.manual_seed(0)
    torch.backends.cudnn.benchmark = device.type == "cuda"  # as fit does
    model = build_model(arch, 12, 4).to(device).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    x, y = torch.randn(batch, 12, length, device=device), torch.randn(batch, 4, device=device)

    def step():
        loss = (model(x) - y).abs().mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    for _ in range(10 if device.type == "cuda" else 1):  # warm-up: kernel choice (cudnn autotuning)
        step()
    sync(device)
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    sync(device)
    return steps * batch / (time.perf_counter() - t0)


def random_set(n, length=1000, seed=0):
    rng = np.random.default_rng(seed)
    signals = rng.standard_normal((n, 12, length), dtype=np.float32)
    targets = {t: rng.normal(100, 20, n).astype(np.float32) for t in GOALS}
    return DataSet(signals, 100, LEADS, targets=targets)


def loop_ratio(arch, device, n, epochs, steps):
    """(ratio, details): full-loop epoch time over bare-step time for the same training records."""
    dataset = random_set(n)
    # No band-pass: filtering random noise is one-off setup work that says nothing about the loop.
    config = JobConfig(task="pretrain", arch=arch, epochs=epochs, patience=0, device=device.type,
                       preprocess=Preprocess(bandpass=False))
    t0 = time.perf_counter()
    result = fit(config, dataset, on_batch=lambda *a: None, on_epoch=lambda r: None,
                 should_stop=lambda: False, log=lambda *a: None)
    total = time.perf_counter() - t0
    loop_s = sum(h["time_s"] for h in result.history[1:])
    rate = bare_rate(arch, 1000, device, steps)
    bare_s = (epochs - 1) * result.summary["n_train"] / rate
    return loop_s / bare_s, {"loop_s": loop_s, "bare_s": bare_s, "n_train": result.summary["n_train"],
                             "epochs_timed": epochs - 1,
                             "setup_and_test_s": total - sum(h["time_s"] for h in result.history)}


def quality(n, epochs, device, patience):
    from ecgcore.data.sources import load_dataset

    t0 = time.perf_counter()
    dataset = load_dataset({"source": "synthetic", "n": n, "fs": 100, "seed": 0})
    data_s = time.perf_counter() - t0
    config = JobConfig(task="pretrain", arch="inception1d", targets=list(GOALS), epochs=epochs, lr=1e-3,
                       lr_decay=0.97, patience=patience, device=device.type, seed=0)
    t0 = time.perf_counter()
    result = fit(config, dataset, log=lambda line: print("  " + line, flush=True))
    wall = time.perf_counter() - t0
    test = result.summary["test"]
    mae = {t: test[f"mae_{t}"] for t in GOALS}
    return {"n": n, "epochs_run": result.summary["epochs_run"], "best_epoch": result.summary["best_epoch"],
            "n_train": result.summary["n_train"], "n_test": result.summary["n_test"],
            "data_s": round(data_s, 1), "train_wall_s": round(wall, 1),
            "test_mae": {t: round(v, 3) for t, v in mae.items()},
            "test_r2": {t: round(test[f"r2_{t}"], 4) for t in GOALS},
            "goals_met": {t: mae[t] <= GOALS[t] for t in GOALS}}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (the default on a CPU)")
    parser.add_argument("--full", action="store_true", help="full sizes even on a CPU (hours on 2 cores)")
    parser.add_argument("--n", type=int, help="synthetic records for the quality run (default 10000)")
    parser.add_argument("--epochs", type=int, help="epochs for the quality run (default 40)")
    parser.add_argument("--patience", type=int, default=8)
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    parser.add_argument("--archs", nargs="+", default=list(ARCHS), choices=ARCHS)
    parser.add_argument("--skip-quality", action="store_true")
    results.add_save(parser)
    args = parser.parse_args(argv)
    device = resolve_device(args.device)
    args.quick = args.quick or (device.type == "cpu" and not args.full)
    n_quality = args.n or (400 if args.quick else 10000)
    epochs_quality = args.epochs or (2 if args.quick else 40)
    steps = 2 if args.quick else (50 if device.type == "cuda" else 10)
    name = torch.cuda.get_device_name() if device.type == "cuda" else f"cpu ({torch.get_num_threads()} threads)"
    print(f"device: {name}" + ("  (quick sizes: --full for the real ones)" if args.quick else ""))
    out = {"bench": "train", "device": name, "quick": args.quick, "samples_per_s": {}, "loop_ratio": {}}

    print("bare step, batch 64 (samples/s):")
    for arch in args.archs:
        for length in (1000, 5000):
            rate = bare_rate(arch, length, device, max(1, steps // (length // 1000)))
            out["samples_per_s"][f"{arch}@12x{length}"] = round(rate, 1)
            print(f"  {arch:12s} 12x{length}: {rate:9.1f}")

    print("full loop / bare step (goal <= 1.10):")
    n_loop = 400 if args.quick else (10000 if device.type == "cuda" else 2000)
    for arch in (["small_cnn"] if args.quick else args.archs):
        ratio, detail = loop_ratio(arch, device, n_loop, epochs=3, steps=steps * 2)
        out["loop_ratio"][arch] = round(ratio, 3)
        print(f"  {arch:12s} {ratio:.3f}  ({detail['loop_s']:.2f} s loop vs {detail['bare_s']:.2f} s bare over "
              f"{detail['epochs_timed']} epochs of {detail['n_train']} records; "
              f"setup+test {detail['setup_and_test_s']:.2f} s){'' if ratio <= 1.10 else '  GOAL MISSED'}")

    if not args.skip_quality:
        print(f"quality: inception1d multi-task, {n_quality} synthetic ECGs at 100 Hz, up to {epochs_quality} epochs")
        q = quality(n_quality, epochs_quality, device, args.patience)
        out["quality"] = q
        for t in GOALS:
            met = "met" if q["goals_met"][t] else "MISSED"
            print(f"  test MAE {t:3s}: {q['test_mae'][t]:8.3f} (goal <= {GOALS[t]}) {met}   R^2 {q['test_r2'][t]}")
        print(f"  data {q['data_s']} s, training {q['train_wall_s']} s, {q['epochs_run']} epochs "
              f"(best {q['best_epoch']}), {q['n_train']} train / {q['n_test']} test records")
        if args.quick:
            print("  (quick sizes: far too few records and epochs to test the goals; run on a GPU for that)")
    results.publish("train", out, args.save)


if __name__ == "__main__":
    main()
