"""Real-data check: scratch vs transfer (freeze_first_block from a synthetic pretraining) on a PTB-XL folder.

    python bench/ptbxl.py --data ../shared/data/ptbxl-mini [--seeds 3] [--epochs 10] [--device auto]

Per arm and seed, small_cnn at 100 Hz is fine-tuned twice on the training folds: multi-label (macro AUROC,
the headline) and single-label (accuracy, macro F1; records with exactly one superclass). Early stopping
and the best epoch are chosen on the validation fold; figures are on the test fold: fold 10, or, when the
folder has no fold 10, fold 9 with fold 8 for validation. One synthetic pretraining (HR, PR, QRS, QT
regression, seed 0) serves every transfer seed. Prints a table and ends with one JSON line.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
import warnings

import numpy as np

from ecgcore.config import JobConfig
from ecgcore.data.ptbxl import load_ptbxl, summary
from ecgcore.data.sources import DEFAULT_PRETRAIN_DATA
from ecgcore.metrics import seed_interval
from ecgcore.runs import create_run
from ecgcore.train import fit, save_model

import results  # bench/results.py: the JSON line and --save

HEADLINE = {"multi": ("macro_auroc",), "single": ("accuracy", "macro_f1")}


def pretrain(runs_dir, args):
    config = JobConfig(task="pretrain", data={**DEFAULT_PRETRAIN_DATA, "n": args.pretrain_n},
                       epochs=args.pretrain_epochs, seed=0, device=args.device)
    t0 = time.perf_counter()
    result = fit(config, log=lambda *_: None)
    run = create_run(config, runs_dir, name="bench-synthetic")
    save_model(result.model, run.model_path)
    test = result.summary["test"]
    print(f"pretrained on {args.pretrain_n} synthetic records in {time.perf_counter() - t0:.0f} s; test MAE: "
          + ", ".join(f"{t} {test.get(f'mae_{t}', float('nan')):.1f}" for t in config.targets))
    return str(run.path)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", required=True, help="a PTB-XL folder (100 Hz records)")
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--patience", type=int, default=4, help="early stopping on validation macro AUROC")
    p.add_argument("--pretrain-n", type=int, default=2000, help="synthetic records for the pretraining")
    p.add_argument("--pretrain-epochs", type=int, default=8)
    p.add_argument("--device", default="auto")
    results.add_save(p)
    args = p.parse_args(argv)
    t_start = time.perf_counter()

    with warnings.catch_warnings():  # the summary lists skipped records itself
        warnings.simplefilter("ignore", UserWarning)
        dataset = load_ptbxl(args.data, fs=100)  # auto folds: 9/10, or 8/9 when the folder has no fold 10
    print(summary(dataset))

    rows = []
    with tempfile.TemporaryDirectory() as runs_dir:
        pretrained = pretrain(runs_dir, args)
        for arm, strategy in (("scratch", "scratch"), ("transfer", "freeze_first_block")):
            for mode in ("multi", "single"):
                for seed in range(args.seeds):
                    config = JobConfig(task="finetune", label_mode=mode, strategy=strategy,
                                       pretrained=[pretrained] if strategy != "scratch" else [],
                                       epochs=args.epochs, patience=args.patience, seed=seed, device=args.device)
                    t0 = time.perf_counter()
                    result = fit(config, dataset, log=lambda *_: None)
                    test = result.summary["test"]
                    rows.append({"arm": arm, "mode": mode, "seed": seed, **{m: test[m] for m in HEADLINE[mode]},
                                 "best_epoch": result.summary["best_epoch"], "seconds": time.perf_counter() - t0})
                    print(json.dumps(rows[-1]), flush=True)

    n_test = {m: dataset.config["report"]["modes"][m]["splits"]["test"] for m in HEADLINE}
    out = {"test_fold": dataset.config["test_fold"], "val_fold": dataset.config["val_fold"], "seeds": args.seeds,
           "epochs": args.epochs, "pretrain_n": args.pretrain_n, "pretrain_epochs": args.pretrain_epochs,
           "device": result.summary["device"], "n_test_multi": n_test["multi"], "n_test_single": n_test["single"]}
    print(f"\ntest fold {out['test_fold']} ({n_test['multi']} multi-label / {n_test['single']} single-label "
          f"records), {args.seeds} seeds: mean, sd, 95% t-interval")
    for arm in ("scratch", "transfer"):
        for mode, names in HEADLINE.items():
            for metric in names:
                values = [r[metric] for r in rows if r["arm"] == arm and r["mode"] == mode]
                ci = seed_interval(values)
                sd = float(np.std(values, ddof=1)) if len(values) > 1 else None
                key = f"{arm}_{metric}"
                out.update({key: ci["mean"], f"{key}_sd": sd, f"{key}_lo": ci["low"], f"{key}_hi": ci["high"]})
                print(f"  {arm:9} {mode:6} {metric:12} {ci['mean']:.3f}  sd {sd or 0:.3f}  "
                      f"[{ci['low'] or float('nan'):.3f}, {ci['high'] or float('nan'):.3f}]  "
                      f"seeds: {', '.join(f'{v:.3f}' for v in values)}")
    out["seconds"] = round(time.perf_counter() - t_start, 1)
    results.publish("ptbxl", out, args.save)


if __name__ == "__main__":
    main()
