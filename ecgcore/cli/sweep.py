"""`sweep`: data-efficiency sweeps headless - start, resume, status, table (CSV, PNG), list, cancel.

An arm is `STRATEGY[:RUN[,RUN...]][=LABEL]`, e.g. `scratch`, `freeze_first_block:RUN_ID`,
`combined:RUN_HR,RUN_PR,RUN_QRS,RUN_QT=combined`; runs are ids under --runs-dir or run folders.
A sweep always has a `scratch` arm: the reference its transfer arms are compared with; `--controls` adds each
transfer arm's random-init control, the second reference.
"""

from __future__ import annotations

import sys
from pathlib import Path

from ecgcore.cli.runs import add_runs_dir
from ecgcore.cli.train import Progress, add_job_flags, data_spec, job_config
from ecgcore.config import FRACTIONS, LABEL_MODES


def register(sub):
    p = sub.add_parser("sweep", help="data-efficiency sweeps: fractions x arms x seeds of fine-tuning runs",
                       description="Data-efficiency sweeps: each cell (fraction, arm, seed) is an ordinary run.")
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")

    s = actions.add_parser("start", help="create a sweep and submit its cells")
    s.add_argument("--arm", action="append", default=[], metavar="ARM",
                   help="STRATEGY[:RUN[,RUN...]][=LABEL]; repeat for several arms (scratch is always added)")
    s.add_argument("--controls", action="store_true",
                   help="add the random-init control of every arm that reuses a network (e.g. 'random init, first "
                        "block frozen'): the same architecture and freezing from a fresh seeded init, so a gain "
                        "over it is what the pretrained weights bring")
    fractions = ",".join(f"{f:g}" for f in FRACTIONS)
    s.add_argument("--fractions", default=fractions,
                   help=f"comma list of labelled fractions in (0, 1] (default {fractions})")
    s.add_argument("--seeds", default="0,1,2", help="comma list of seeds (default 0,1,2)")
    s.add_argument("--label-mode", choices=LABEL_MODES, default="single")
    data = s.add_mutually_exclusive_group()
    data.add_argument("--data", metavar="SPEC", help="data set to fine-tune on: a spec .json file, inline JSON or "
                      "a .npz (default: the simulated superclasses)")
    data.add_argument("--ptbxl", metavar="PATH", help="a PTB-XL folder as the data set (100 Hz)")
    s.add_argument("--folds", metavar="rotate|LIST",
                   help="with --ptbxl: repeat the study with each fold as the test fold ('rotate': every fold; or a "
                        "comma list of test folds), the fold before it validating (ecgcore.rotation)")
    s.add_argument("--lrs", metavar="LIST", help="comma list of learning rates every arm is trained at; each arm's "
                   "is chosen per fold and fraction on validation")
    s.add_argument("--metric", default="macro_auroc", help="metric of the summary printed with --wait")
    add_job_flags(s)  # the training, preprocessing and run flags every cell shares (--name names the sweep)
    s.set_defaults(func=_start)

    for action, helptext in (("resume", "resubmit the cells whose run failed, was cancelled or is missing"),
                             ("status", "the state of every cell"),
                             ("table", "results: one row per cell, bands per arm and fraction, summary"),
                             ("cancel", "cancel the queued and running cells")):
        a = actions.add_parser(action, help=helptext)
        a.add_argument("sweep", metavar="SWEEP", help="sweep id (see `sweep list`) or sweep folder")
        add_runs_dir(a)
        if action == "resume":
            a.add_argument("--wait", action="store_true", help="block until every cell has finished")
            a.add_argument("--metric", default="macro_auroc", help="metric of the summary printed with --wait")
        if action == "table":
            a.add_argument("--metric", default="macro_auroc", help="metric of bands, summary and plot")
            a.add_argument("--csv", metavar="PATH", help="write the per-cell table as CSV")
            a.add_argument("--png", metavar="PATH", help="write the metric-vs-fraction plot as PNG")
        a.set_defaults(func=globals()[f"_{action}"])
    a = actions.add_parser("list", help="all sweeps, newest first")
    add_runs_dir(a)
    a.set_defaults(func=_list)


def parse_arm(text, runs_dir=None):
    """`STRATEGY[:RUN[,RUN...]][=LABEL]` -> Arm with run folders resolved."""
    from ecgcore.runs import resolve_run
    from ecgcore.sweep import Arm

    body, _, label = text.partition("=")
    strategy, _, refs = body.partition(":")
    pretrained = [str(resolve_run(r.strip(), runs_dir).path) for r in refs.split(",") if r.strip()]
    return Arm(strategy=strategy.strip(), pretrained=pretrained, label=label.strip())


def _numbers(text, kind, flag):
    try:
        return [kind(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise ValueError(f"{flag} {text!r}: give a comma list of numbers") from None


def _rotations(choice, data):
    """The [validation, test] pairs of --folds over the PTB-XL folder in `data`."""
    from ecgcore.data.ptbxl import folder_folds, read_tables
    from ecgcore.rotation import chosen

    if data.get("source") != "ptbxl":
        raise ValueError("--folds needs --ptbxl: only a PTB-XL folder has folds to rotate over")
    try:
        return [list(p) for p in chosen(choice, folder_folds(read_tables(data["path"])[0]))]
    except ValueError as e:
        raise ValueError(f"--folds: {e}") from None


def _start(args):
    from ecgcore.data.sources import DEFAULT_FINETUNE_DATA
    from ecgcore.sweep import SCRATCH, Arm, SweepConfig, with_controls

    if args.ptbxl:
        data = {"source": "ptbxl", "path": str(Path(args.ptbxl).resolve()), "fs": 100}
    else:
        data = data_spec(args.data) if args.data else dict(DEFAULT_FINETUNE_DATA)
    arms = [parse_arm(a, args.runs_dir) for a in args.arm]
    if not any(a.strategy == SCRATCH for a in arms):
        arms.insert(0, Arm())
    if args.controls:
        arms = with_controls(arms)
    base = job_config(args, task="finetune", data=data, label_mode=args.label_mode)
    transfer = [a for a in arms if a.pretrained]
    if transfer and args.arch is None:  # arms share one network: the first pretrained run's, unless given
        from ecgcore.runs import resolve_run

        pre_config = resolve_run(transfer[0].pretrained[0]).config
        base.arch, base.preprocess = pre_config.arch, pre_config.preprocess
    config = SweepConfig(base=base, arms=arms, fractions=_numbers(args.fractions, float, "--fractions"),
                         seeds=_numbers(args.seeds, int, "--seeds"), name=args.name or "",
                         folds=_rotations(args.folds, data) if args.folds else [],
                         lrs=_numbers(args.lrs, float, "--lrs") if args.lrs else [])
    from ecgcore.cli.train import say_plan
    from ecgcore.per_rotation import create_study, pretrainings
    from ecgcore.sweep import cell_configs

    cells = cell_configs(config)
    jobs = [*pretrainings(config, args.runs_dir).values(), *cells]  # before create_study sets the arms' per_fold
    sweep, made = create_study(config, args.runs_dir)
    print(f"{len(cells)} cells.", end=" ", file=sys.stderr)
    say_plan(jobs, args.runs_dir)
    if made:
        print(f"{len(made)} pretrainings, one per rotation whose folds a pretrained run learnt from, without them: "
              f"{', '.join(r.id for r in made)}", file=sys.stderr, flush=True)
    print(sweep.id, flush=True)
    return _follow(sweep, args) if args.wait else 0


def _resume(args):
    from ecgcore.sweep import get_sweep

    sweep = get_sweep(args.sweep, args.runs_dir)
    print(f"{sweep.id}: {sweep.advance()} cell(s) submitted", flush=True)
    return _follow(sweep, args) if args.wait else 0


def _follow(sweep, args):
    """Wait with a progress bar, then print the summary; exit 1 when a cell did not finish done."""
    from ecgcore.estimates import sweep_time_left
    from ecgcore.local_executor import max_jobs

    bar = Progress(sweep.id, left=lambda: sweep_time_left(sweep, max_jobs()))
    total = len(sweep.record()["cells"])

    def on_progress(counts):
        done = counts["done"]
        finished = done + counts["failed"] + counts["cancelled"]
        bar({"state": "done" if finished == total else "running", "progress": finished / total, "epoch": finished,
             "message": ", ".join(f"{n} {s}" for s, n in counts.items() if n)})

    counts = sweep.wait(on_progress=on_progress)
    _print_results(sweep, args.metric)
    return 0 if counts["done"] == total else 1


def _print_results(sweep, metric, csv=None, png=None):
    from ecgcore.files import write_bytes, write_text
    from ecgcore.sweep import bands, summarize

    table = sweep.table()
    print(table.to_string(index=False))
    if csv:
        write_text(csv, table.to_csv(index=False))
        print(f"wrote {csv}")
    if metric not in table:
        print(f"no finished cell has {metric!r} yet", file=sys.stderr)
        return
    b = bands(table, metric)
    print(f"\n{metric}: mean and 95% interval over seeds")
    print(b.to_string(index=False))
    try:
        for line in summarize(table, metric, controls=sweep.config.controls(), baselines=sweep.config.baselines()):
            print(line["text"])
    except ValueError as e:  # no finished scratch cell yet: bands are still worth printing
        print(f"no summary yet: {e}", file=sys.stderr)
    if png:
        from ecgcore.plots import sweep_figure, to_png

        write_bytes(png, to_png([sweep_figure(b, metric, title=sweep.id)])[0])
        print(f"wrote {png}")


def _status(args):
    from ecgcore.sweep import get_sweep

    sweep = get_sweep(args.sweep, args.runs_dir)
    for cell in sweep.cells():
        print(f"{cell['fraction']:<6g} {cell['arm']:<40} seed {cell['seed']:<3} {cell['state']:<9} "
              f"{cell['run_id'] or '-'}")
    print(", ".join(f"{n} {s}" for s, n in sweep.progress().items() if n))
    return 0


def _table(args):
    from ecgcore.sweep import get_sweep

    _print_results(get_sweep(args.sweep, args.runs_dir), args.metric, args.csv, args.png)
    return 0


def _cancel(args):
    from ecgcore.sweep import get_sweep

    get_sweep(args.sweep, args.runs_dir).cancel()
    return 0


def _list(args):
    from ecgcore.sweep import list_sweeps

    sweeps = list_sweeps(args.runs_dir)
    if not sweeps:
        print("no sweeps yet")
    for sweep in sweeps:
        config = sweep.config
        counts = sweep.progress()
        print(f"{sweep.id}  arms {', '.join(a.name for a in config.arms)}  fractions {config.fractions}  "
              f"seeds {config.seeds}  {counts['done']}/{sum(counts.values())} done")
    return 0
