"""Does regression pretraining pay on real labels? Scratch vs transfer from each pretraining source on PTB-XL,
and (--controls) vs the random-init control of each strategy: what the pretrained *weights* bring.

    python bench/transfer.py --data ../shared/data/ptbxl-mini [--seeds 10] [--fractions 0.05,0.1,0.25]
                             [--sources parametric,gan,measured,mixed] [--targets all,intervals,per-target]
                             [--controls] [--device auto]

Sources: "parametric" (our engine, exact HR/PR/QRS/QT), "gan" (DeepFake GAN, when ecgcore.synth.gan exists),
"measured" (the folder's own training-fold ECGs, targets measured by neurokit2: intervals + median-beat
morphology, no diagnostic label used) and "mixed" (measured-real and parametric, half each). Each source is
pretrained once (small_cnn, 100 Hz, seed 0) per target variant: "all" (every target it has) and "intervals" (HR,
PR, QRS, QT) as one multi-task regressor, of which the validation fold picks one per source; "per-target" (the
paper's study) as four single-target regressors, arms SOURCE-hr ... SOURCE-qt, plus SOURCE-combined (`combined`
of the four). Then, per labelled fraction and seed, small_cnn is fine-tuned multi-label from scratch, with
`--strategy` from each pretrained model and (--controls) from the random-init control of each strategy used
("control": random init, --strategy; "control-combined": random init, combined x4), all on the same stratified
subsample (paired seeds). Early stopping and the best epoch are chosen on the validation fold; macro AUROC is
scored on the test fold: fold 10, or fold 9 with fold 8 for validation when the folder has no fold 10. The
measured source never sees the validation or test fold.

The bench is a driver over the product's own study code: the pretrainings are ordinary runs, the fine-tuning
grid is one `ecgcore.sweep` study (arms, controls, rotations, learning rates: `study_config`), trained in this
process by `Sweep.run_inline` (ecgcore.inline_executor: the data set is read and preprocessed once per rotation
for all its cells), and every figure comes from ecgcore.sweep / ecgcore.rotation / ecgcore.study. A sweep the
Data efficiency page builds with the same settings gives the same AUROC cell by cell
(tests/test_study_folds.py). Prints mean AUROC per arm, the study's table (rows source x target, columns fractions, cells gain over
scratch [95% CI] and over the control, paired by seed; pooled = each seed's gains averaged over fractions, then
the interval over seeds), its Markdown, the time per cell, and ends with one JSON line: gain_FRACTION_SOURCE
(+ _lo/_hi), gain_vs_control_FRACTION_SOURCE (+ _lo/_hi), FRACTION "pooled" too, auroc_FRACTION_ARM, and with
--controls (which adds "control-linear_probe", a linear probe on a random frozen backbone: the ecg-fix control)
gain_vs_best_FRACTION_ARM (+ _lo/_hi; over the strongest of scratch and the controls at that fraction, chosen on
validation), verdict_FRACTION_ARM (+1: that interval above 0, -1: below, 0: across) and label_multiplier_ARM
(+ _lo/_hi, _reached: sweep.label_efficiency).

--folds rotate (or a list of test folds, "--folds 8,9") repeats the whole study with each fold as the test fold
and the fold before it validating (ecgcore.rotation.rotations): sources pretrained on real records (measured,
mixed) are pretrained per rotation without its validation and test folds (checked record by record, printed as
the leakage guard), the synthetic ones once; every choice is made on the rotation's validation fold. It prints
the per-fold table and the pooled one; the JSON line's gain keys are then pooled over folds x seeds with a
cluster bootstrap (ecgcore.rotation), with test_folds, gain_FRACTION_ARM_fold_K and auroc_FRACTION_ARM_fold_K
beside them.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from ecgcore import inline_executor, rotation, study, sweep
from ecgcore.config import CONTROLLED, JobConfig
from ecgcore.data.measure import INTERVAL_TARGETS as INTERVALS
from ecgcore.data.ptbxl import load_ptbxl
from ecgcore.data.sources import load_dataset

import results  # bench/results.py: the JSON line and --save

SOURCES = ("parametric", "gan", "measured", "mixed")


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


def pretrain(source, variant, args, folds, runs_dir, targets=None):
    """Pretrain on `source` with the `variant` targets ("all" or "intervals", or `targets` given); return the run
    dir, or None when the source is not available here or the variant adds nothing (a source with the four
    intervals only)."""
    t0 = time.perf_counter()
    made = pretraining_set(source, args, folds)
    if made is None:
        print(f"{source}: not available here, skipped")
        return None
    spec, data = made
    # a target with (almost) no measured value teaches nothing and cannot be standardised
    usable = [t for t in data.targets if np.isfinite(data.targets[t]).sum() >= 0.1 * len(data)]
    if targets is None:
        targets = usable if variant == "all" else [t for t in INTERVALS if t in usable]
        if variant == "all" and set(targets) <= set(INTERVALS) and "intervals" in args.targets.split(","):
            return None  # the same pretraining as the "intervals" variant
    elif not set(targets) <= set(usable):
        print(f"{source}: {targets} not measured often enough here, skipped")
        return None
    config = JobConfig(task="pretrain", data=spec, targets=targets, arch=args.arch, epochs=args.pretrain_epochs,
                       patience=args.patience, lr=args.lr, seed=0, device=args.device, batch_size=args.batch_size)
    run = inline_executor.run_inline(config, runs_dir, name=f"bench-{source}-{variant}")
    summary = run.summary() or {}
    if run.state != "done":
        raise SystemExit(f"pretraining {source} ({variant}) {run.state}: {run.status().get('error')}")
    guard(source, data, folds, args)
    test = summary["test"]
    shown = ", ".join(f"{t} {test[f'mae_{t}']:.1f}" for t in INTERVALS if test.get(f"mae_{t}") is not None)
    dropped = data.config.get("dropped", {})
    print(f"{source} ({variant}): {len(data)} records, {len(targets)} targets, {summary['epochs_run']} epochs "
          f"(best {summary['best_epoch']}), {time.perf_counter() - t0:.0f} s; held-out MAE {shown}"
          + (f"; dropped (NaN) hr/pr/qrs/qt {'/'.join(str(dropped.get(t, 0)) for t in INTERVALS)}"
             if dropped else ""), flush=True)
    return str(run.path)


def guard(source, data, folds, args):
    """The leakage guard, record by record: a source pretrained on real ECGs holds none of the rotation's
    validation or test fold. Raises (the bench stops) on a leak; prints what it checked."""
    if source not in ("measured", "mixed") or data.record_id is None:
        return
    ids = {str(r).removeprefix("real:") for r in data.record_id if not str(r).startswith("synthetic:")}
    held = load_ptbxl(args.data, fs=100, **folds)
    held_out = set(held.record_id[np.isin(held.fold, [folds["val_fold"], folds["test_fold"]])].astype(str))
    leaked = ids & held_out
    if leaked:
        raise RuntimeError(f"{source} pretraining holds {len(leaked)} record(s) of validation fold "
                           f"{folds['val_fold']} / test fold {folds['test_fold']}: {sorted(leaked)[:5]}")
    print(f"leakage guard ({source}, validation {folds['val_fold']}, test {folds['test_fold']}): {len(ids)} real "
          f"pretraining records, none of the {len(held_out)} held out", flush=True)


def plan_folds(choice, ptbxl):
    """[(validation fold, test fold)] the bench runs: "auto" (the folder's one auto choice), "rotate" (every
    fold tested once) or a comma list of test folds (each validated on the fold before it)."""
    if choice == "auto":
        return [(ptbxl.config["val_fold"], ptbxl.config["test_fold"])]
    try:
        return rotation.chosen(choice, np.unique(ptbxl.fold))
    except ValueError as e:
        raise SystemExit(f"--folds: {e}") from None


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", required=True, help="a PTB-XL folder (records100/)")
    p.add_argument("--seeds", type=int, default=10)
    p.add_argument("--fractions", default="0.05,0.1,0.25")
    p.add_argument("--sources", default="parametric,gan,measured", help=f"comma list from {SOURCES}")
    p.add_argument("--strategy", default="freeze_first_block")
    p.add_argument("--targets", default="all,intervals",
                   help="pretraining target variants, comma list: 'all' (every target the source has: intervals "
                        "and morphology) and/or 'intervals' (HR, PR, QRS, QT), one multi-task regressor each; with "
                        "both, each source's variant is chosen on the validation fold; 'per-target': the paper's "
                        "study, one regressor per interval and their `combined`")
    p.add_argument("--controls", action="store_true",
                   help="add the random-init control of each strategy (same network and freezing, no pretrained "
                        "weights) and report every gain over it too")
    p.add_argument("--folds", default="auto",
                   help="'auto' (one test fold: 10, or 9 without fold 10), 'rotate' (every fold tested once, the fold "
                        "before it validating) or a comma list of test folds such as 8,9")
    p.add_argument("--pretrained", action="append", default=[], metavar="SOURCE=RUN_DIR",
                   help="use this finished pretraining run for SOURCE instead of pretraining it here")
    p.add_argument("--arch", default="small_cnn")
    p.add_argument("--epochs", type=int, default=30, help="fine-tuning epochs at most (early stopping: --patience)")
    p.add_argument("--patience", type=int, default=5)
    p.add_argument("--pretrain-epochs", type=int, default=30)
    p.add_argument("--pretrain-n", type=int, default=4000, help="synthetic records per synthetic source")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--lrs", default=None, metavar="LIST",
                   help="fine-tuning learning rates every arm (scratch and controls too) is trained at, each arm's "
                        "chosen per rotation and fraction on its mean validation AUROC: the same budget of choices "
                        "for every arm (default: --lr only)")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--device", default="auto")
    p.add_argument("--report", type=Path, metavar="LOG",
                   help="print the report of an earlier run from its output LOG (its arms line and cell rows), over "
                        "the seeds it finished: for a run stopped early; the other options must be that run's")
    results.add_save(p)
    args = p.parse_args(argv)
    if args.report:
        return report_log(args)
    fractions = [float(f) for f in args.fractions.split(",")]
    sources = [s for s in args.sources.split(",") if s]
    unknown = [s for s in sources if s not in SOURCES]
    if unknown:
        p.error(f"unknown sources {unknown}: choose from {SOURCES}")
    t_start, load_start = time.perf_counter(), os.getloadavg()
    print(f"cores: {os.cpu_count()}, torch threads: {torch.get_num_threads()}, load average at the start: "
          f"{' '.join(f'{x:.1f}' for x in load_start)}", flush=True)

    t0 = time.perf_counter()
    with warnings.catch_warnings():  # the PTB-XL report lists skipped records itself
        warnings.simplefilter("ignore", UserWarning)
        ptbxl = load_ptbxl(args.data, fs=100)  # auto folds: 9/10, or 8/9 when the folder has no fold 10
    t_load = time.perf_counter() - t0
    plan = plan_folds(args.folds, ptbxl)
    splits = ptbxl.config["report"]["modes"]["multi"]["splits"]
    print(f"PTB-XL {args.data}: {len(ptbxl)} records, folds {sorted(map(int, np.unique(ptbxl.fold)))}; read in "
          f"{t_load:.1f} s; " + ("; ".join(f"test fold {t} (validation {v})" for v, t in plan) if len(plan) > 1 else
          f"train folds {ptbxl.config['report']['splits']['train']} ({splits['train']}), validation fold "
          f"{plan[0][0]} ({splits['val']}), test fold {plan[0][1]} ({splits['test']})"), flush=True)
    given = dict(item.split("=", 1) for item in args.pretrained)
    variants = [v for v in args.targets.split(",") if v]
    lrs = [float(x) for x in args.lrs.split(",")] if args.lrs else [args.lr]
    rotating = args.folds != "auto"  # "auto" is the folder's one split; any other choice names its folds
    with tempfile.TemporaryDirectory() as runs_dir:
        # the pretrainings first (a source on real records once per rotation, a synthetic one once), then the
        # study itself: one sweep over the rotations, trained here by the product's in-process runner
        once, by_fold = {}, {}  # once: (source, variant) -> the run of a source that needs no real records
        for val_fold, test_fold in plan:
            by_fold[test_fold] = rotation_arms(sources, variants, given, once, args,
                                               {"val_fold": val_fold, "test_fold": test_fold}, runs_dir)
        study = study_config(by_fold, plan if rotating else [], lrs, fractions, args)
        s = sweep.create_sweep(study, runs_dir, submit=False)
        rows, clock = [], [time.perf_counter()]

        def on_cell(cell, run):  # one row per cell, printed as it ends: --report rebuilds a stopped bench's
            summary = run.summary() or {}
            test, val = summary.get("test", {}), summary.get("val", {})
            rows.append({"fold": run.config.data.get("test_fold", plan[0][1]), "fraction": cell["fraction"],
                         "arm": cell["arm"], "seed": cell["seed"], "lr": run.config.lr,
                         "macro_auroc": test.get("macro_auroc"), "macro_auroc_lo": test.get("macro_auroc_lo"),
                         "macro_auroc_hi": test.get("macro_auroc_hi"), "val_macro_auroc": val.get("macro_auroc"),
                         "n_train": summary.get("n_train"), "best_epoch": summary.get("best_epoch"),
                         "epochs_run": summary.get("epochs_run"),
                         "seconds": round(time.perf_counter() - clock[0], 1), "state": run.state})
            clock[0] = time.perf_counter()
            print(json.dumps(rows[-1]), flush=True)

        # rotation by rotation (its data set read and preprocessed once, at its first cell), seed by seed: a
        # bench stopped early still has whole seeds (--report)
        s.run_inline(on_cell, order=lambda cell: (cell.get("fold", 0), cell["seed"]))
    failed = [r for r in rows if r["state"] != "done"]
    if failed:
        raise SystemExit(f"{len(failed)} cell(s) failed, e.g. {failed[0]}: see the log above")
    table = sweep.choose_lr(pd.DataFrame(rows).drop(columns="state"))
    arms = {arm.name: (arm.strategy, arm.pretrained, arm.init, arm.backbones) for arm in study.arms}
    if len(plan) > 1:
        return report_folds(table, arms, args, plan, fractions, t_start, load_start)
    report(table.drop(columns="fold"), arms, args, {"val_fold": plan[0][0], "test_fold": plan[0][1]}, fractions,
           t_start, load_start)


def study_config(by_fold, plan, lrs, fractions, args):
    """The study as the product's sweep: PTB-XL multi-label fine-tuning, every arm of every rotation (an arm
    whose pretraining differs by rotation carries one run per test fold, Arm.per_fold), the fractions, seeds
    0..N-1, the rotations (`plan`, empty: the folder's own split) and the learning rates."""
    base = JobConfig(task="finetune", data={"source": "ptbxl", "path": str(Path(args.data).resolve()), "fs": 100},
                     label_mode="multi", arch=args.arch, epochs=args.epochs, patience=args.patience, lr=lrs[0],
                     device=args.device, batch_size=args.batch_size)
    arms = []
    for name in dict.fromkeys(n for arms_of in by_fold.values() for n in arms_of):
        specs = {fold: arms_of[name] for fold, arms_of in by_fold.items() if name in arms_of}
        strategy, pretrained, init, backbones = next(iter(specs.values()))
        per_fold = {str(f): spec[1] for f, spec in specs.items()} if len({tuple(p) for _, p, _, _ in
                                                                         specs.values()}) > 1 else {}
        arms.append(sweep.Arm(strategy, [] if per_fold else list(pretrained), label=name, init=init,
                              backbones=backbones, per_fold=per_fold))
    return sweep.SweepConfig(base=base, arms=arms, fractions=fractions, seeds=list(range(args.seeds)),
                             name="bench transfer", folds=[list(p) for p in plan], lrs=lrs if len(lrs) > 1 else [])


def rotation_arms(sources, variants, given, once, args, folds, runs_dir):
    """arm name -> (strategy, pretrained runs, init, backbones) for one rotation. A multi-task arm is
    SOURCE:VARIANT until the rotation's validation fold picks the source's variant; a source on real records is
    pretrained for this rotation, a synthetic one once (`once` keeps its runs)."""
    def pretrained(source, variant, targets=None):
        if source in ("measured", "mixed"):
            return pretrain(source, variant, args, folds, runs_dir, targets=targets)
        if (source, variant) not in once:
            once[source, variant] = pretrain(source, variant, args, folds, runs_dir, targets=targets)
        return once[source, variant]

    arms = {"scratch": ("scratch", [], "pretrained", 1)}
    for source in sources:
        if source in given:
            arms[source] = (args.strategy, [given[source]], "pretrained", 1)
            continue
        for variant in [v for v in variants if v != "per-target"]:
            run = pretrained(source, variant)
            if run:
                arms[f"{source}:{variant}"] = (args.strategy, [run], "pretrained", 1)
        if "per-target" in variants:
            singles = [(t, pretrained(source, f"{t} only", targets=[t])) for t in INTERVALS]
            singles = [(t, run) for t, run in singles if run]
            for target, run in singles:
                arms[f"{source}-{target}"] = (args.strategy, [run], "pretrained", 1)
            if len(singles) > 1:
                arms[f"{source}-combined"] = ("combined", [run for _, run in singles], "pretrained", 1)
    if args.controls:
        used = {(strategy, len(pre)) for strategy, pre, _, _ in arms.values() if strategy in CONTROLLED}
        used.add(("linear_probe", 1))  # the ecg-fix control: a linear probe on a random frozen backbone
        for strategy, n in sorted(used):
            name = "control" if strategy == args.strategy else f"control-{strategy}"
            arms[name] = (strategy, [], "random", n if strategy == "combined" else 1)
    print("arms: " + ", ".join(f"{a} ({s}{', random init' if i == 'random' else ''})"
                               for a, (s, _, i, _) in arms.items()), flush=True)
    return arms


def report_log(args):
    """The report of a run from its printed output: the arms line, the folds line and one JSON row per cell;
    only the seeds with every cell are kept."""
    import re

    arms, rows, folds, load_start = {}, [], {}, (float("nan"),) * 3
    for line in args.report.read_text().splitlines():
        if line.startswith("cores: "):
            load_start = tuple(float(x) for x in line.split("at the start: ")[1].split())
        elif line.startswith("arms: "):
            for name, strategy, random in re.findall(r"([\w:.-]+) \((\w+)(, random init)?\)", line[6:]):
                arms[name] = (strategy, [], "random" if random else "pretrained", 1)
        elif line.startswith("PTB-XL "):
            found = re.search(r"validation fold (\d+) .*test fold (\d+)", line)
            folds = {"val_fold": int(found[1]), "test_fold": int(found[2])}
        elif line.startswith('{"fraction"'):
            rows.append(json.loads(line))
    table = pd.DataFrame(rows)
    fractions = sorted(table.fraction.unique())
    cells = table.groupby("seed").size()
    whole = cells.index[cells == len(fractions) * len(arms)]
    table = table[table.seed.isin(whole)].reset_index(drop=True)
    args.seeds = len(whole)
    print(f"{args.report}: {len(whole)} whole seed(s) of {len(arms)} arms x {len(fractions)} fractions "
          f"(seeds {list(map(int, whole))}); {len(rows) - len(table)} cell(s) of an unfinished seed left out")
    report(table, arms, args, folds, fractions, time.perf_counter() - table.seconds.sum(), load_start)


def report(table, arms, args, folds, fractions, t_start, load_start):
    """Print the figures and the JSON line of a finished bench."""
    # Each source's target variant is the one with the best mean validation AUROC (never the test fold's).
    val = table.groupby("arm").val_macro_auroc.mean()
    chosen = {}
    for arm in val.index:
        if ":" not in arm:
            continue
        source = arm.split(":")[0]
        if source not in chosen or val[arm] > val[chosen[source]]:
            chosen[source] = arm
    table["arm"] = table.arm.map({arm: source for source, arm in chosen.items()}).fillna(table.arm)
    out = {"test_fold": folds["test_fold"], "val_fold": folds["val_fold"], "seeds": args.seeds,
           "strategy": args.strategy, "controls": args.controls, "pretrain_epochs": args.pretrain_epochs,
           "epochs": args.epochs, "patience": args.patience, "chosen_on_val": chosen,
           "val_auroc_of_arms": {a: round(float(v), 4) for a, v in val.items()}}
    print("\nmean validation AUROC per arm (chooses each source's targets): "
          + ", ".join(f"{a} {v:.3f}" for a, v in val.items()))
    mean = table.groupby(["fraction", "arm"]).macro_auroc.mean().unstack()
    print(f"\nmean macro AUROC on test fold {folds['test_fold']} over {args.seeds} seeds "
          "(each run's own bootstrap 95% CI is in its row above)")
    print(mean.round(3).to_string())
    for (fraction, arm), m in table.groupby(["fraction", "arm"]).macro_auroc.mean().items():
        out[f"auroc_{fraction:g}_{arm}"] = _r(m)

    # rows of the study: every transfer arm, and each control against scratch
    controls = {name: spec for name, spec in arms.items() if spec[2] == "random"}
    study_rows = []
    for arm in table.arm.unique():
        if arm == "scratch":
            continue
        if arm in controls:
            study_rows.append({"arm": arm, "source": "random init", "target": controls[arm][0], "control": None})
            continue
        source, _, target = arm.partition("-")
        if not target:  # a multi-task arm: its chosen variant
            target = chosen[arm].split(":")[1] if arm in chosen else "given run"
        control = control_of(arm, controls, args)
        study_rows.append({"arm": arm, "source": source, "target": target, "control": control})
    long = study.gains_long(table, "macro_auroc", study_rows)
    for r in long.itertuples():
        fraction = r.fraction if r.fraction == study.POOLED else format(r.fraction, "g")
        key = f"{'gain' if r.versus == 'scratch' else 'gain_vs_control'}_{fraction}_{r.arm}"
        out.update({key: _r(r.gain), f"{key}_lo": _r(r.lo), f"{key}_hi": _r(r.hi)})
    baselines = ["scratch", *controls]
    print("\nover the strongest baseline at each fraction (scratch or a control, best on validation), and the label "
          "multiplier (fraction at which the arm reaches scratch's score at the largest fraction)")
    for arm in sorted(set(table.arm) - set(baselines)):
        best = sweep.gains_vs_best(table, "macro_auroc", arm, baselines)
        pooled = sweep.pooled_gain_vs_best(table, "macro_auroc", arm, baselines)
        for fraction, baseline, gain, lo, hi in [(format(r.fraction, "g"), r.baseline, r.gain, r.lo, r.hi)
                                                 for r in best.itertuples()] + \
                [(study.POOLED, "each fraction's strongest", pooled["gain"], pooled["lo"], pooled["hi"])]:
            key = f"gain_vs_best_{fraction}_{arm}"
            out.update({key: _r(gain), f"{key}_lo": _r(lo), f"{key}_hi": _r(hi)})
            # +1: the interval of the gain over the strongest baseline is above 0, -1 below, 0 across
            out[f"verdict_{fraction}_{arm}"] = (1 if _r(lo) is not None and lo > 0 else
                                                -1 if _r(hi) is not None and hi < 0 else 0)
            print(f"  {arm} {fraction}: {sweep.format_gain(gain, lo, hi)} over {baseline}")
        eff = sweep.label_efficiency(table, "macro_auroc", arm)
        out.update({f"label_multiplier_{arm}": _r(eff["multiplier"]), f"label_multiplier_{arm}_lo":
                    _r(eff["multiplier_lo"]), f"label_multiplier_{arm}_hi": _r(eff["multiplier_hi"]),
                    f"label_multiplier_{arm}_reached": eff["reached"]})
        print(f"  {arm}: {sweep._efficiency_text(eff)}")
    wide = study.gains_wide(long)
    print("\ngain in macro AUROC over scratch [95% CI] and over the matching random-init control ('vs control'), "
          "paired by seed; pooled = each seed's gains averaged over the fractions, then the interval over seeds")
    print(wide.to_string(index=False))
    print("\n" + study.to_markdown(wide))
    finish(table, out, args, t_start, load_start, study.to_markdown(wide))


def finish(table, out, args, t_start, load_start, markdown):
    """The time per cell and the load, then the JSON line (and with --save the report)."""
    per_cell = table.groupby("fraction").agg(seconds=("seconds", "mean"), epochs_run=("epochs_run", "mean"),
                                             best_epoch=("best_epoch", "mean"), n_train=("n_train", "mean"))
    print("time per cell (mean over arms and seeds), epochs run and the best epoch (the rest is patience):")
    print(per_cell.round(1).to_string())
    load_end = os.getloadavg()
    out.update({"cells": len(table), "seconds": round(time.perf_counter() - t_start, 1),
                "seconds_per_cell": round(float(table.seconds.mean()), 1),
                "load_start": round(load_start[0], 2), "load_end": round(load_end[0], 2)})
    print(f"{len(table)} cells in {table.seconds.sum():.0f} s ({table.seconds.mean():.1f} s per cell); whole bench "
          f"{out['seconds']:.0f} s; load average at the start {load_start[0]:.1f}, at the end {load_end[0]:.1f}")
    results.publish("transfer", out, args.save, markdown=markdown)


def control_of(arm, controls, args):
    """The control arm of transfer arm `arm`: the random-init arm of its strategy (`combined` for SOURCE-combined,
    else --strategy); None without one."""
    strategy = "combined" if arm.endswith("-combined") else args.strategy
    return next((c for c, spec in controls.items() if spec[0] == strategy), None)


def report_folds(table, arms, args, plan, fractions, t_start, load_start):
    """Print the per-fold and pooled figures of a bench over several test folds, and its JSON line."""
    metric = "macro_auroc"
    # each source's target variant, chosen per rotation on its validation fold
    val = table.groupby(["fold", "arm"]).val_macro_auroc.mean()
    chosen = {}
    for (fold, arm), v in val.items():
        if ":" in arm:
            source = arm.split(":")[0]
            best = chosen.setdefault(int(fold), {}).get(source)
            if best is None or v > val[fold, best]:
                chosen[int(fold)][source] = arm
    rename = {(fold, arm): source for fold, picks in chosen.items() for source, arm in picks.items()}
    table = table[[":" not in a or (int(f), a) in rename for f, a in zip(table.fold, table.arm)]].copy()
    table["arm"] = [rename.get((int(f), a), a) for f, a in zip(table.fold, table.arm)]
    test_folds = [t for _, t in plan]
    out = {"test_folds": test_folds, "val_folds": {str(t): v for v, t in plan}, "seeds": args.seeds,
           "strategy": args.strategy, "controls": args.controls, "pretrain_epochs": args.pretrain_epochs,
           "epochs": args.epochs, "patience": args.patience, "chosen_on_val": {str(k): v for k, v in chosen.items()},
           "pooling": "mean over folds x seeds; 95% interval: two-stage cluster bootstrap (folds, then seeds)",
           "lrs": args.lrs or str(args.lr),
           "lr_chosen": {a: {str(k): int(v) for k, v in g.lr.value_counts().sort_index().items()}
                         for a, g in table.groupby("arm")} if "lr" in table else None}
    mean = table.groupby(["fraction", "arm"])[metric].mean()
    for (fraction, arm), m in mean.items():
        out[f"auroc_{fraction:g}_{arm}"] = _r(m)
    for (fold, fraction, arm), m in table.groupby(["fold", "fraction", "arm"])[metric].mean().items():
        out[f"auroc_{fraction:g}_{arm}_fold_{fold}"] = _r(m)
    print(f"\nmean macro AUROC over test folds {test_folds} x {args.seeds} seeds")
    print(mean.unstack().round(3).to_string())

    controls = {name: spec for name, spec in arms.items() if spec[2] == "random"}
    baselines = ["scratch", *controls]
    best = rotation.best_baselines(table, metric, baselines) if len(baselines) > 1 else None
    per_fold_rows, pooled_rows = [], []
    for arm in [a for a in dict.fromkeys(table.arm) if a != "scratch"]:
        control = None if arm in controls else control_of(arm, controls, args)
        comparisons = [("gain", "scratch"), ("gain_vs_control", control)] + \
            ([("gain_vs_best", best)] if best is not None and arm not in controls else [])
        for key, reference in comparisons:
            if reference is None:
                continue
            for r in rotation.gains(table, metric, arm, reference).itertuples():
                fraction = r.fraction if r.fraction == rotation.POOLED else format(r.fraction, "g")
                out.update({f"{key}_{fraction}_{arm}": _r(r.gain), f"{key}_{fraction}_{arm}_lo": _r(r.lo),
                            f"{key}_{fraction}_{arm}_hi": _r(r.hi)})
                if key == "gain_vs_best":
                    out[f"verdict_{fraction}_{arm}"] = rotation.verdict(_r(r.lo), _r(r.hi))
                if key in ("gain", "gain_vs_best"):
                    pooled_rows.append({"arm": arm, "versus": "scratch" if key == "gain" else "strongest baseline",
                                        "fraction": fraction, "cell": sweep.format_gain(r.gain, r.lo, r.hi)})
        for r in rotation.per_fold(table, metric, arm).itertuples():
            out[f"gain_{r.fraction:g}_{arm}_fold_{r.fold}"] = _r(r.gain)
            per_fold_rows.append({"arm": arm, "fraction": format(r.fraction, "g"), "fold": r.fold, "gain": r.gain})
        if arm not in controls:
            eff = sweep.label_efficiency(table, metric, arm)
            out.update({f"label_multiplier_{arm}": _r(eff["multiplier"]),
                        f"label_multiplier_{arm}_lo": _r(eff["multiplier_lo"]),
                        f"label_multiplier_{arm}_hi": _r(eff["multiplier_hi"]),
                        f"label_multiplier_{arm}_reached": eff["reached"]})
    per_fold = pd.DataFrame(per_fold_rows).pivot_table(index=["arm", "fraction"], columns="fold", values="gain")
    print("\ngain in macro AUROC over scratch per test fold (mean over seeds, paired by seed)")
    print(per_fold.round(3).to_string())
    pooled = pd.DataFrame(pooled_rows).pivot_table(index=["arm", "versus"], columns="fraction", values="cell",
                                                   aggfunc="first")
    print("\npooled over folds x seeds [95% cluster-bootstrap interval]; the strongest baseline is scratch or a "
          "control, whichever scored best on the rotation's validation fold at that fraction")
    print(pooled.to_string())
    markdown = ("Gain over scratch per test fold:\n\n" + per_fold.round(3).reset_index().to_markdown(index=False)
                + "\n\nPooled over folds x seeds [95% cluster-bootstrap interval]:\n\n"
                + pooled.reset_index().to_markdown(index=False))
    finish(table, out, args, t_start, load_start, markdown)


def _r(x):
    return None if x is None or not np.isfinite(x) else round(float(x), 4)


if __name__ == "__main__":
    main()
