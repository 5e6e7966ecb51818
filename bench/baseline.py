"""Is scratch as strong as it can be? The scratch baseline of bench/ptbxl.py with small_cnn as it is and as it
was before its first block's max-pool went from 2 to 4 (commit b322031, the suspect of its regression), each
also with its learning rate chosen on the validation fold (the budget of choices a transfer arm gets).

    python bench/baseline.py --data ../shared/data/ptbxl-mini [--seeds 3] [--epochs 10] [--lrs 0.001,0.003]

Multi-label, full labels, 100 Hz, bench/ptbxl.py's epochs and patience; the test fold is the loader's auto
choice (10, or 9 with 8 validating). Per first-block pool: the test macro AUROC at the bench's learning rate
(the first of --lrs) and at the one with the best mean validation AUROC, mean and sd over seeds. One JSON line.
"""

from __future__ import annotations

import argparse
import json
import time
import warnings

import numpy as np
import torch.nn as nn

from ecgcore import models
from ecgcore.config import JobConfig
from ecgcore.data.ptbxl import load_ptbxl
from ecgcore.train import fit

import results  # bench/results.py: the JSON line and --save

TODAY = models.BACKBONES["small_cnn"]


def first_pool_2(n_leads):
    """small_cnn with the max-pool of its first block 2, as before commit b322031 (weights alike)."""
    backbone = TODAY(n_leads)
    first = next(m for m in backbone.modules() if isinstance(m, nn.MaxPool1d))
    first.kernel_size = first.stride = 2
    return backbone


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", required=True)
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--patience", type=int, default=4)
    p.add_argument("--lrs", default="0.001,0.003", help="learning rates to choose from on validation; the first is "
                                                        "bench/ptbxl.py's")
    p.add_argument("--device", default="auto")
    results.add_save(p)
    args = p.parse_args(argv)
    lrs = [float(x) for x in args.lrs.split(",")]
    t_start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        dataset = load_ptbxl(args.data, fs=100)
    rows = []
    for pool, backbone in (("4 (today)", TODAY), ("2 (before b322031)", first_pool_2)):
        models.BACKBONES["small_cnn"] = backbone
        try:
            for lr in lrs:
                for seed in range(args.seeds):
                    config = JobConfig(task="finetune", label_mode="multi", strategy="scratch", epochs=args.epochs,
                                       patience=args.patience, lr=lr, seed=seed, device=args.device)
                    t0 = time.perf_counter()
                    result = fit(config, dataset, log=lambda *_: None)
                    rows.append({"pool": pool, "lr": lr, "seed": seed,
                                 "macro_auroc": result.summary["test"]["macro_auroc"],
                                 "val_macro_auroc": result.summary["val"]["macro_auroc"],
                                 "best_epoch": result.summary["best_epoch"],
                                 "seconds": round(time.perf_counter() - t0, 1)})
                    print(json.dumps(rows[-1]), flush=True)
        finally:
            models.BACKBONES["small_cnn"] = TODAY
    out = {"test_fold": dataset.config["test_fold"], "val_fold": dataset.config["val_fold"], "seeds": args.seeds,
           "epochs": args.epochs, "patience": args.patience, "lrs": lrs}
    lines = ["| first-block pool | learning rate | test macro AUROC, mean | sd | seeds |", "|---|---|---|---|---|"]
    for pool in dict.fromkeys(r["pool"] for r in rows):
        mine = [r for r in rows if r["pool"] == pool]
        val = {lr: np.mean([r["val_macro_auroc"] for r in mine if r["lr"] == lr]) for lr in lrs}
        chosen = max(val, key=val.get)
        tag = pool.split()[0]
        for name, label, lr in (("bench_lr", "bench's", lrs[0]), ("val_lr", "chosen on validation", chosen)):
            values = [r["macro_auroc"] for r in mine if r["lr"] == lr]
            key = f"pool{tag}_{name}"
            out.update({f"{key}_auroc": round(float(np.mean(values)), 4),
                        f"{key}_sd": round(float(np.std(values, ddof=1)), 4) if len(values) > 1 else None,
                        f"{key}_lr": lr})
            lines.append(f"| {pool} | {lr:g} ({label}) | {np.mean(values):.3f} | "
                         f"{np.std(values, ddof=1) if len(values) > 1 else float('nan'):.3f} | "
                         f"{', '.join(f'{v:.3f}' for v in values)} |")
    table = "\n".join(lines)
    print("\n" + table)
    out["seconds"] = round(time.perf_counter() - t_start, 1)
    results.publish("baseline", out, args.save, markdown=table)


if __name__ == "__main__":
    main()
