"""Does regression pretraining pay on real labels? Scratch vs transfer from each pretraining source on PTB-XL.

    python bench/transfer.py --data ../shared/data/ptbxl-mini [--seeds 5] [--fractions 0.05,0.1,0.25]
                             [--sources parametric,gan,measured,mixed] [--device auto]

Sources: "parametric" (our engine, exact HR/PR/QRS/QT), "gan" (DeepFake GAN, when ecgcore.synth.gan exists),
"measured" (the folder's own training-fold ECGs, targets measured by neurokit2: intervals + median-beat
morphology, no diagnostic label used) and "mixed" (measured-real and parametric, half each). Each source is
pretrained once (small_cnn, 100 Hz, seed 0) and that model serves every fraction and seed. Then, per
labelled fraction and seed, small_cnn is fine-tuned multi-label from scratch and with `--strategy` from each
pretrained model, on the same stratified subsample (paired seeds). Early stopping and the best epoch are
chosen on the validation fold; macro AUROC is scored on the test fold: fold 10, or fold 9 with fold 8 for
validation when the folder has no fold 10. The measured source never sees the validation or test fold.
Prints a table of mean AUROC and the paired gain over scratch (mean, 95% t-interval over seeds) and ends with
one JSON line (keys gain_FRACTION_SOURCE, gain_FRACTION_SOURCE_lo/_hi, auroc_FRACTION_ARM, ...).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ecgcore.config import JobConfig  # noqa: E402
from ecgcore.data import measured  # noqa: E402
from ecgcore.data.measure import INTERVAL_TARGETS as INTERVALS  # noqa: E402
from ecgcore.data.ptbxl import load_ptbxl  # noqa: E402
from ecgcore.data.sources import load_dataset  # noqa: E402
from ecgcore.metrics import seed_interval  # noqa: E402
from ecgcore.runs import create_run  # noqa: E402
from ecgcore.sweep import gains  # noqa: E402
from ecgcore.train import fit, save_model  # noqa: E402

SOURCES = ("parametric", "gan", "measured", "mixed")


def quiet(*_):
    pass


def pretraining_set(source, args, folds):
    """(data spec, DataSet) of one pretraining source; None when the source is not available here."""
    synthetic = {"source": "synthetic", "n": args.pretrain_n, "fs": 100, "seed": 0}
    real = {"source": "measured", "path": str(Path(args.data).resolve()), "fs": 100, **folds}
    spec = {"parametric": synthetic, "measured": real,
            "gan": {"source": "gan", "n": args.pretrain_n, "fs": 100, "seed": 0},
            "mixed": {"source": "mixed", "real": {k: v for k, v in real.items() if k != "source"},
                      "synthetic": {k: v for k, v in synthetic.items() if k != "source"}, "ratio": 0.5,
                      "seed": 0}}[source]
    if source == "gan" and importlib.util.find_spec("ecgcore.synth.gan") is None:
        return None
    return spec, load_dataset(spec)


def pretrain(source, variant, args, folds, runs_dir):
    """Pretrain on `source` with the `variant` targets ("all" or "intervals"); return the run dir, or None when
    the source is not available here or the variant adds nothing (a source with the four intervals only)."""
    t0 = time.perf_counter()
    made = pretraining_set(source, args, folds)
    if made is None:
        print(f"{source}: not available here, skipped")
        return None
    spec, data = made
    # a target with (almost) no measured value teaches nothing and cannot be standardised
    usable = [t for t in data.targets if np.isfinite(data.targets[t]).sum() >= 0.1 * len(data)]
    targets = usable if variant == "all" else [t for t in INTERVALS if t in usable]
    if variant == "all" and set(targets) <= set(INTERVALS) and "intervals" in args.targets.split(","):
        return None  # the same pretraining as the "intervals" variant
    config = JobConfig(task="pretrain", data=spec, targets=targets, arch=args.arch, epochs=args.pretrain_epochs,
                       patience=5, lr=args.lr, seed=0, device=args.device, batch_size=args.batch_size)
    result = fit(config, data, log=quiet)
    run = create_run(config, runs_dir, name=f"bench-{source}-{variant}")
    save_model(result.model, run.path / "model.pt")
    test = result.summary["test"]
    shown = ", ".join(f"{t} {test[f'mae_{t}']:.1f}" for t in INTERVALS if test.get(f"mae_{t}") is not None)
    dropped = data.config.get("dropped", {})
    print(f"{source} ({variant}): {len(data)} records, {len(targets)} targets, {result.summary['epochs_run']} epochs "
          f"(best {result.summary['best_epoch']}), {time.perf_counter() - t0:.0f} s; held-out MAE {shown}"
          + (f"; dropped (NaN) hr/pr/qrs/qt {'/'.join(str(dropped.get(t, 0)) for t in INTERVALS)}"
             if dropped else ""), flush=True)
    return str(run.path)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", required=True, help="a PTB-XL folder (records100/)")
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--fractions", default="0.05,0.1,0.25")
    p.add_argument("--sources", default="parametric,gan,measured", help=f"comma list from {SOURCES}")
    p.add_argument("--strategy", default="freeze_first_block")
    p.add_argument("--targets", default="all,intervals",
                   help="pretraining target variants, comma list: 'all' (every target the source has: intervals "
                        "and morphology) and/or 'intervals' (HR, PR, QRS, QT); with both, each source's variant "
                        "is chosen on the validation fold")
    p.add_argument("--pretrained", action="append", default=[], metavar="SOURCE=RUN_DIR",
                   help="use this finished pretraining run for SOURCE instead of pretraining it here")
    p.add_argument("--arch", default="small_cnn")
    p.add_argument("--epochs", type=int, default=30, help="fine-tuning epochs at most (early stopping: 5)")
    p.add_argument("--pretrain-epochs", type=int, default=30)
    p.add_argument("--pretrain-n", type=int, default=4000, help="synthetic records per synthetic source")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--device", default="auto")
    args = p.parse_args(argv)
    fractions = [float(f) for f in args.fractions.split(",")]
    sources = [s for s in args.sources.split(",") if s]
    unknown = [s for s in sources if s not in SOURCES]
    if unknown:
        p.error(f"unknown sources {unknown}: choose from {SOURCES}")
    t_start = time.perf_counter()

    with warnings.catch_warnings():  # the PTB-XL report lists skipped records itself
        warnings.simplefilter("ignore", UserWarning)
        ptbxl = load_ptbxl(args.data, fs=100)  # auto folds: 9/10, or 8/9 when the folder has no fold 10
    folds = {"val_fold": ptbxl.config["val_fold"], "test_fold": ptbxl.config["test_fold"]}
    splits = ptbxl.config["report"]["modes"]["multi"]["splits"]
    print(f"PTB-XL {args.data}: {len(ptbxl)} records; train folds {ptbxl.config['report']['splits']['train']} "
          f"({splits['train']}), validation fold {folds['val_fold']} ({splits['val']}), test fold "
          f"{folds['test_fold']} ({splits['test']})", flush=True)

    given = dict(item.split("=", 1) for item in args.pretrained)
    variants = [v for v in args.targets.split(",") if v]
    rows = []
    with tempfile.TemporaryDirectory() as runs_dir:
        arms = {"scratch": None}  # arm name -> pretrained run; an arm is one source with one target variant
        for source in sources:
            if source in given:
                arms[source] = given[source]
                continue
            for variant in variants:
                run = pretrain(source, variant, args, folds, runs_dir)
                if run:
                    arms[f"{source}:{variant}"] = run
        for fraction in fractions:
            for seed in range(args.seeds):
                for arm, run in arms.items():
                    config = JobConfig(task="finetune", label_mode="multi", arch=args.arch,
                                       strategy="scratch" if run is None else args.strategy,
                                       pretrained=[] if run is None else [run], fraction=fraction,
                                       epochs=args.epochs, patience=5, lr=args.lr, seed=seed, device=args.device,
                                       batch_size=args.batch_size)
                    t0 = time.perf_counter()
                    result = fit(config, ptbxl, log=quiet)
                    rows.append({"fraction": fraction, "arm": arm, "seed": seed,
                                 "macro_auroc": result.summary["test"]["macro_auroc"],
                                 "val_macro_auroc": result.summary["val"]["macro_auroc"],
                                 "n_train": result.summary["n_train"], "best_epoch": result.summary["best_epoch"],
                                 "seconds": round(time.perf_counter() - t0, 1)})
                    print(json.dumps(rows[-1]), flush=True)

    table = pd.DataFrame(rows)
    # Each source's target variant is the one with the best mean validation AUROC (never the test fold's).
    val = table.groupby("arm").val_macro_auroc.mean()
    chosen = {}
    for arm in val.index.drop("scratch"):
        source = arm.split(":")[0]
        if source not in chosen or val[arm] > val[chosen[source]]:
            chosen[source] = arm
    table["arm"] = table.arm.map({arm: source for source, arm in chosen.items()}).fillna(table.arm)
    out = {"test_fold": folds["test_fold"], "val_fold": folds["val_fold"], "seeds": args.seeds,
           "strategy": args.strategy, "pretrain_epochs": args.pretrain_epochs, "epochs": args.epochs,
           "chosen_on_val": chosen, "val_auroc_of_arms": {a: round(float(v), 4) for a, v in val.items()}}
    print("\nmean validation AUROC per arm (chooses each source's targets): "
          + ", ".join(f"{a} {v:.3f}" for a, v in val.items()))
    columns = list(chosen) + [a for a in table.arm.unique() if a != "scratch" and a not in chosen]
    print(f"macro AUROC on test fold {folds['test_fold']}, {args.seeds} paired seeds; gain = transfer - scratch "
          f"(mean [95% t-interval]); a source's column is its variant chosen on validation")
    print(f"{'fraction':>8}  {'scratch':>7}  " + "  ".join(f"{c:>34}" for c in columns))
    for fraction in fractions:
        here = table[table.fraction == fraction]
        mean = here.groupby("arm").macro_auroc.mean()
        out.update({f"auroc_{fraction:g}_{arm}": round(float(m), 4) for arm, m in mean.items()})
        cells = []
        for arm in columns:
            g = gains(here, "macro_auroc", arm).iloc[0]
            out.update({f"gain_{fraction:g}_{arm}": _r(g.gain), f"gain_{fraction:g}_{arm}_lo": _r(g.lo),
                        f"gain_{fraction:g}_{arm}_hi": _r(g.hi)})
            cells.append(f"{mean[arm]:.3f} {g.gain:+.3f} [{g.lo:+.3f}, {g.hi:+.3f}]")
        print(f"{fraction:>8g}  {mean['scratch']:>7.3f}  " + "  ".join(f"{c:>34}" for c in cells))
    wide = table.pivot_table(index=["fraction", "seed"], columns="arm", values="macro_auroc")
    for arm in columns:  # every fraction and seed together, as the reference figures were pooled
        ci = seed_interval((wide[arm] - wide["scratch"]).dropna().tolist())
        out.update({f"gain_pooled_{arm}": _r(ci["mean"]), f"gain_pooled_{arm}_lo": _r(ci["low"]),
                    f"gain_pooled_{arm}_hi": _r(ci["high"])})
        print(f"pooled over fractions and seeds, {arm}: {ci['mean']:+.4f} [{_r(ci['low'])}, {_r(ci['high'])}] "
              f"(n={ci['n']})")
    out["seconds"] = round(time.perf_counter() - t_start, 1)
    print(json.dumps(out))


def _r(x):
    return None if x is None or not np.isfinite(x) else round(float(x), 4)


if __name__ == "__main__":
    main()
