"""`pretrain` and `finetune`: build a JobConfig from flags, submit it as a job, and with --wait follow it.

Both share the optimisation, preprocessing and run flags; each adds its own data and task flags. With no data
flag they use the embedded synthetic defaults (ecgcore.data.sources), so `pretrain --wait` runs anywhere.
"""

from __future__ import annotations

import sys
from pathlib import Path

from ecgcore.cli.runs import add_runs_dir, headline
from ecgcore.config import ARCHS, DEVICES, INITS, LABEL_MODES, NORMALIZATIONS, PAPER_SETUP, STRATEGIES
from ecgcore.labels import PTBXL_RATES, RHYTHM_TARGETS, TARGETS
from ecgcore.leads import LEAD_SETS
from ecgcore.words import say


def register(sub):
    p = sub.add_parser("pretrain", help="pretrain a regressor of HR, PR, QRS, QT on synthetic or measured ECGs",
                       description="Submit a pretraining job (regression of the chosen targets).")
    p.add_argument("--data", metavar="SPEC", help="data set: a spec .json file, inline JSON "
                   "('{\"source\": \"synthetic\", \"n\": 500}') or a data set .npz (default: embedded synthetic)")
    p.add_argument("--targets", default=",".join(TARGETS), metavar="LIST",
                   help="comma list of targets out of " + ", ".join(f"{t} ({say(t, u)})" for t, u in TARGETS.items())
                        + " (default: all), or measured morphology targets (r_amp_LEAD, s_amp_LEAD, st_LEAD, "
                        "t_amp_LEAD, qrs_axis)")
    p.add_argument("--per-target", action="store_true",
                   help="one run per target (the paper's way) instead of one multi-task run")
    add_job_flags(p)
    p.set_defaults(func=_pretrain)

    f = sub.add_parser("finetune", help="fine-tune a classifier of the 5 superclasses, from a pretrained run or "
                       "from scratch", description="Submit a fine-tuning job (5-class classification).")
    f.add_argument("--pretrained", default="none", metavar="RUN",
                   help="pretrained run: a run id under --runs-dir or a run folder; a comma list for "
                        "`combined`; 'none' for scratch (default)")
    f.add_argument("--strategy", choices=STRATEGIES,
                   help="how the pretrained run is reused: " + "; ".join(f"{k}: {say(k)}" for k in STRATEGIES)
                        + " (default: freeze_first_block with --pretrained, else scratch)")
    f.add_argument("--init", choices=INITS, default="pretrained",
                   help="random: the control arm of --strategy (the same network and freezing from a fresh "
                        "seeded init, no --pretrained; --backbones N for combined)")
    f.add_argument("--backbones", type=int, default=1, help="random backbones of a random-init `combined`")
    f.add_argument("--fraction", type=float, default=1.0, metavar="F",
                   help="share of the labelled training set used, in (0, 1] (default 1)")
    f.add_argument("--label-mode", choices=LABEL_MODES,
                   help="single: softmax, one class per record (the paper's); multi: sigmoid (PTB-XL's benchmark)")
    data = f.add_mutually_exclusive_group()
    data.add_argument("--data", metavar="SPEC", help="data set: a spec .json file, inline JSON or a data set "
                      ".npz (default: the simulated superclasses)")
    data.add_argument("--ptbxl", metavar="PATH", help="a PTB-XL folder (ptbxl_database.csv and records*/)")
    f.add_argument("--fs", type=int, choices=PTBXL_RATES,
                   help="PTB-XL sampling rate to read (with --ptbxl; default 100, with --setup paper 500)")
    f.add_argument("--val-fold", type=int, help="PTB-XL validation fold (default auto: 9 when the folder has "
                   "fold 10, else 8)")
    f.add_argument("--test-fold", type=int, help="PTB-XL test fold (default auto: 10 when the folder has it, else 9)")
    add_job_flags(f)
    f.set_defaults(func=_finetune)


def add_job_flags(p):
    """The training, preprocessing and run flags every job shares (pretrain, finetune, sweep start)."""
    g = p.add_argument_group("training")
    g.add_argument("--setup", choices=("paper",), help="start from the seed paper's set-up: "
                   + ", ".join(f"{k} {v}" for k, v in PAPER_SETUP.items()) + "; flags given beside it win")
    g.add_argument("--arch", choices=ARCHS, help="network (default small_cnn)")
    g.add_argument("--epochs", type=int, help="maximum epochs (default 10)")
    g.add_argument("--batch-size", type=int, help="batch size (default 64)")
    g.add_argument("--lr", type=float, help="Adam learning rate (default 0.001)")
    g.add_argument("--lr-decay", type=float, help="exponential LR decay per epoch (default 1; the paper: 0.99)")
    g.add_argument("--patience", type=int, help="early-stopping patience in epochs, 0 = off (default 5)")
    g.add_argument("--seed", type=int, help="seed of splits, subsampling and weights (default 0)")
    g.add_argument("--device", choices=DEVICES, help="auto uses CUDA when present (default auto)")
    g = p.add_argument_group("preprocessing")
    g.add_argument("--leads", choices=tuple(LEAD_SETS), help="all 12 leads or the paper's 8 (I, II, V1-V6)")
    g.add_argument("--normalize", choices=NORMALIZATIONS, help="per-lead normalisation (default zscore; the "
                   "paper: minmax)")
    g.add_argument("--resample", type=float, metavar="HZ", help="resample to this rate (default: keep)")
    g.add_argument("--no-bandpass", action="store_true", help="skip the 0.5-40 Hz band-pass")
    g = p.add_argument_group("run")
    g.add_argument("--name", help="a free label, shown next to the run id and part of it")
    g.add_argument("--wait", action="store_true", help="block until the run ends, printing progress")
    add_runs_dir(g)


def _setup(args):
    """The set-up --setup names ({} without one): the defaults of every flag left unset."""
    return PAPER_SETUP if args.setup == "paper" else {}


def data_spec(text):
    """A data spec from --data: inline JSON, a .json spec file, a data set folder or .npz (data.sources.parse_spec)."""
    from ecgcore.data.sources import parse_spec

    return parse_spec(text, "--data")


def job_config(args, **fields):
    """A validated JobConfig from the shared flags plus the task's `fields` (unset flags keep the defaults)."""
    from ecgcore.config import JobConfig, Preprocess

    paper = _setup(args)
    flags = {"arch": args.arch, "epochs": args.epochs, "batch_size": args.batch_size, "lr": args.lr,
             "lr_decay": args.lr_decay, "patience": args.patience, "seed": args.seed, "device": args.device}
    flags = {k: paper.get(k) if v is None else v for k, v in flags.items()}
    pre = {"leads": args.leads or paper.get("leads"), "normalize": args.normalize or paper.get("normalize"),
           "fs": args.resample}
    preprocess = Preprocess(**{k: v for k, v in pre.items() if v is not None}, bandpass=not args.no_bandpass)
    config = JobConfig(**{k: v for k, v in flags.items() if v is not None}, preprocess=preprocess,
                       name=args.name or "", **fields)
    return config.validate()


def _pretrain(args):
    return _submit(pretrain_configs(args), args)


def _finetune(args):
    return _submit(finetune_configs(args), args)


def pretrain_configs(args):
    """The JobConfigs `pretrain` submits: one multi-task run, or one per target with --per-target."""
    from ecgcore.data.measure import morphology_targets
    from ecgcore.data.sources import DEFAULT_PRETRAIN_DATA
    from ecgcore.leads import LEADS

    # Intervals are case-blind (HR == hr); morphology targets of the measured source keep their lead's case.
    targets = [t.strip().lower() if t.strip().lower() in TARGETS else t.strip()
               for t in args.targets.split(",") if t.strip()]
    known = [*TARGETS, *RHYTHM_TARGETS, *morphology_targets(LEADS)]
    unknown = [t for t in targets if t not in known]
    if unknown or not targets:
        raise ValueError(f"--targets: unknown target(s) {unknown or targets}; choose from {', '.join(TARGETS)}, "
                         f"on a synthetic spec with rhythms {', '.join(RHYTHM_TARGETS)}, or, on the measured source, "
                         "morphology targets such as r_amp_V1, st_II, qrs_axis")
    data = data_spec(args.data) if args.data else dict(DEFAULT_PRETRAIN_DATA)
    per_target = args.per_target or _setup(args).get("one_per_target", False)
    groups = [[t] for t in targets] if per_target else [targets]
    configs = [job_config(args, task="pretrain", data=data, targets=g) for g in groups]
    if per_target:  # each run names its target, so the runs of one call tell apart at a glance
        for config in configs:
            config.name = "-".join(p for p in (args.name, config.targets[0]) if p)
    return configs


def finetune_configs(args):
    """The one JobConfig `finetune` submits, its pretrained run ids resolved to absolute run folders."""
    from ecgcore.data.sources import DEFAULT_FINETUNE_DATA
    from ecgcore.runs import resolve_run

    refs = [] if args.pretrained.strip().lower() == "none" else \
        [r.strip() for r in args.pretrained.split(",") if r.strip()]
    paper = _setup(args)
    strategy = args.strategy or ("freeze_first_block" if refs or args.init == "random" else "scratch")
    if args.init == "random" and refs:
        raise ValueError("--init random (a control arm) uses no pretrained run: drop --pretrained")
    if strategy == "scratch" and refs:
        raise ValueError("--strategy scratch uses no pretrained run: drop --pretrained or pick another strategy")
    if strategy != "scratch" and not refs and args.init != "random":
        raise ValueError(f"--strategy {strategy} needs --pretrained RUN")
    if len(refs) > 1 and strategy != "combined":
        raise ValueError(f"--strategy {strategy} takes one pretrained run, got {len(refs)}; "
                         "several runs go with --strategy combined")
    pretrained = [str(resolve_run(ref, args.runs_dir).path.resolve()) for ref in refs]
    if args.ptbxl:
        data = {"source": "ptbxl", "path": str(Path(args.ptbxl).resolve()), "fs": args.fs or paper.get("fs", 100),
                "val_fold": args.val_fold, "test_fold": args.test_fold}
    else:
        data = data_spec(args.data) if args.data else dict(DEFAULT_FINETUNE_DATA)
    config = job_config(args, task="finetune", data=data, strategy=strategy, pretrained=pretrained,
                        init=args.init, backbones=args.backbones, fraction=args.fraction,
                        label_mode=args.label_mode or paper.get("label_mode", "single"))
    return [config]


def say_plan(configs, runs_dir):
    """On stderr (stdout is the ids, for scripts), as jobs are submitted: how long they take here, and the warning
    for the paper's network on a CPU (what the pages say before their Start buttons)."""
    from ecgcore import estimates
    from ecgcore.local_executor import max_jobs

    workers = max_jobs()
    print(estimates.say_plan(*estimates.plan(configs, runs_dir, workers), workers, len(configs)), file=sys.stderr)
    warning = estimates.slow_on_this_cpu(configs)
    if warning:
        print(f"warning: {warning}", file=sys.stderr)
    sys.stderr.flush()


def _submit(configs, args):
    from ecgcore import jobs
    from ecgcore.estimates import time_left

    runs = [jobs.submit(config, args.runs_dir) for config in configs]
    say_plan(configs, args.runs_dir)
    for run in runs:
        print(run.id, flush=True)
    if not args.wait:
        return 0
    failed = 0
    for run in runs:
        try:
            status = jobs.wait(run, Progress(run.id, left=lambda run=run: time_left(run)))
        except KeyboardInterrupt:  # the job is detached: stopping the wait must not look like stopping the run
            print(f"\nstopped waiting; {run.id} goes on (`python -m ecgcore runs cancel {run.id}` stops it)",
                  file=sys.stderr)
            return 130
        if status["state"] == "done":
            print(f"{run.id} done: {headline(run.summary())}", flush=True)
        else:
            failed += 1
            print(f"{run.id} {status['state']}: {status.get('error') or status.get('message')}", flush=True)
    return 1 if failed else 0


class Progress:
    """--wait's progress: a redrawn bar on a terminal, else a plain line whenever the state or epoch moves. With
    `left` (a callable: seconds left, None while not known), a running job's line says its time left, asked
    again whenever the state or epoch moves."""

    def __init__(self, label, stream=None, width=30, left=None):
        self.label, self.stream, self.width, self.left = label, stream or sys.stderr, width, left
        self.last, self.left_text = None, ""

    def __call__(self, status):
        from ecgcore.estimates import say_duration

        state, progress, epoch = status["state"], float(status.get("progress") or 0), status.get("epoch")
        if self.left and (state, epoch) != self.last:
            seconds = self.left() if state == "running" else None
            self.left_text = f" · {say_duration(seconds)} left" if seconds else ""
        message = status.get("message") or ""
        if self.stream.isatty():
            filled = int(round(progress * self.width))
            bar = "#" * filled + "-" * (self.width - filled)
            end = "\n" if state in ("done", "failed", "cancelled") else ""
            shown = f"{message[:60]}{self.left_text}"  # the time left is never cut off with a long message
            self.stream.write(f"\r{self.label} [{bar}] {progress:4.0%} {state}: {shown:85}{end}")
        elif (state, epoch) != self.last:
            self.stream.write(f"{self.label} {state} {progress:.0%} {message}{self.left_text}\n")
        self.last = (state, epoch)
        self.stream.flush()
