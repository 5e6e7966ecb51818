"""`runs list|show|cancel|delete|export`: look at, manage and export run folders; `run-job RUN_DIR`: the job's own entry point
(started by the queue in ecgcore.jobs, rarely typed by hand)."""

from __future__ import annotations

import json
import os
import sys


def register(sub):
    p = sub.add_parser("runs", help="list, show, cancel, delete or export runs",
                       description="Look at and manage the runs in a runs directory.")
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    a = actions.add_parser("list", help="all runs, oldest first, with state and headline test metrics")
    a.add_argument("--json", action="store_true", help="one JSON object per run instead of a table")
    for name, text in [("show", "a run's status, config, test metrics and log tail"),
                       ("cancel", "stop a queued or running run (within about 2 s)"),
                       ("delete", "delete a run folder (a running run must be cancelled first)")]:
        a = actions.add_parser(name, help=text)
        a.add_argument("run", metavar="RUN_ID")
        if name == "show":
            a.add_argument("--log", type=int, default=20, metavar="N", help="log lines to show (default 20)")
    a = actions.add_parser("export", help="write runs to an MLflow tracking store and/or TensorBoard event files",
                           description="Write each run (params from its config, per-epoch metrics with steps, "
                                       "test metrics, the checkpoint and figures as artifacts) to an MLflow "
                                       "tracking store, and/or TensorBoard event files. Runs already exported "
                                       "are skipped; queued and running runs wait until they finish.")
    a.add_argument("runs", nargs="*", metavar="RUN", help="run ids or folders (default: every finished run)")
    a.add_argument("--mlflow", metavar="URI", help="MLflow tracking URI, e.g. sqlite:///mlflow.db or file:./mlruns")
    a.add_argument("--experiment", default=None, metavar="NAME",
                   help="MLflow experiment (created when absent; default 'ECG Transfer Lab')")
    a.add_argument("--artifacts", metavar="URI", help="where a new MLflow experiment keeps its files (default: "
                                                      "beside a sqlite store's file, in mlartifacts/)")
    a.add_argument("--store-timeout", type=float, default=None, metavar="S",
                   help="seconds to wait for the MLflow store to answer, per connection and request (default "
                        "10); past it the export stops with one line saying so")
    a.add_argument("--tensorboard", metavar="DIR", help="write TensorBoard event files to DIR/<run id>/")
    a.add_argument("--figures", choices=["png", "html", "none"], default="png",
                   help="figures as PNG (kaleido and the local Chromium; default), HTML (MLflow only; plotly.js "
                        "from its CDN) or none")
    for a in actions.choices.values():
        add_runs_dir(a)
    p.set_defaults(func=_runs)

    j = sub.add_parser("run-job", help="run a queued run, then the queue's next ones, in this process "
                                       "(the queue starts these)",
                       description="Train the run in RUN_DIR in this process, writing its status, metrics, "
                                   "checkpoint and summary. `pretrain`/`finetune` start it for you.")
    j.add_argument("run_dir", metavar="RUN_DIR")
    j.set_defaults(func=_run_job)


def add_runs_dir(parser):
    parser.add_argument("--runs-dir", "--out", dest="runs_dir", metavar="DIR",
                        help="runs directory (default: $ECGCORE_RUNS, else runs/)")


def headline(summary):
    """The test metrics worth one line: MAE per target (pretraining) or accuracy, macro F1 and AUROC."""
    from ecgcore.metrics import HEADLINE  # here: metrics imports sklearn, and --help stays instant

    test = (summary or {}).get("test") or {}
    keys = [k for k in test if k.startswith("mae_")] + [k for k in HEADLINE if k in test]
    return " ".join(f"{k}={test[k]:.4g}" for k in keys if isinstance(test[k], (int, float)))


def _runs(args):
    from ecgcore import jobs
    from ecgcore.runs import delete_run, get_run

    if args.action == "list":
        return _list(jobs.refresh(args.runs_dir), args.json)
    if args.action == "export":
        return _export(args)
    run = get_run(args.runs_dir, args.run)
    if args.action == "show":
        jobs.refresh(args.runs_dir)
        return _show(run, args.log)
    if args.action == "cancel":
        status = jobs.cancel(run)
        print(f"{run.id}: {status['state']}")
        return 0
    delete_run(run)
    print(f"deleted {run.id}")
    return 0


def _export(args):
    from ecgcore import export
    from ecgcore.runs import list_runs, resolve_run

    if not args.mlflow and not args.tensorboard:
        raise ValueError("runs export needs --mlflow URI and/or --tensorboard DIR")
    chosen = [resolve_run(r, args.runs_dir) for r in args.runs] if args.runs else list_runs(args.runs_dir)
    run_list, skipped = export.exportable(chosen)
    for run, why in skipped:
        print(f"{run.id}: not exported ({why})")
    if not run_list:
        print("no finished run to export")
        return 1 if args.runs else 0
    if args.mlflow:
        export.to_mlflow(run_list, args.mlflow, experiment=args.experiment or export.EXPERIMENT,
                         figures=args.figures, artifact_location=args.artifacts,
                         timeout_s=args.store_timeout or export.STORE_TIMEOUT_S)
    if args.tensorboard:
        export.to_tensorboard(run_list, args.tensorboard, figures="none" if args.figures == "html" else args.figures)
    return 1 if skipped and args.runs else 0


def _describe(run):
    status = run.status()
    row = {"id": run.id, "state": status["state"], "progress": status["progress"], "problem": run.problem}
    if row["problem"] is None:
        config = run.config
        row.update(task=config.task, arch=config.arch, name=config.name,
                   detail=config.strategy if config.task == "finetune" else ",".join(config.targets))
    summary = run.summary() if status["state"] == "done" and row["problem"] is None else None
    row["test"] = headline(summary) if summary else (status.get("error") or status.get("message") or "")
    return row


def _list(runs, as_json):
    rows = [_describe(run) for run in runs]
    if as_json:
        for row in rows:
            print(json.dumps(row, sort_keys=True))
        return 0
    if not rows:
        print("no runs")
        return 0
    print(f"{'RUN ID':44} {'STATE':9} {'PROG':>4}  {'TASK':8} {'ARCH':11} {'DETAIL':18} TEST / MESSAGE")
    for r in rows:
        if r["problem"]:
            print(f"{r['id']:44} {'damaged':9} {'':>4}  {r['problem']}")
            continue
        print(f"{r['id']:44} {r['state']:9} {r['progress']:>4.0%}  {r['task']:8} {r['arch']:11} "
              f"{r['detail'][:18]:18} {r['test']}")
    return 0


def _show(run, log_lines):
    from ecgcore.estimates import say_duration, time_left
    from ecgcore.runs import median_epoch_seconds

    status, metrics = run.status(), run.metrics()
    print(f"run {run.id} ({run.path})")
    for key in ("state", "progress", "epoch", "message", "error", "executor", "pid", "created", "started", "finished"):
        if status.get(key) not in (None, ""):
            print(f"  {key}: {status[key]}")
    if run.problem:
        print(f"  damaged: {run.problem}")
    else:
        left = time_left(run, metrics)
        if left:  # as the pages say it: epochs to go at the run's median epoch so far
            print(f"  time left: {say_duration(left)} at most ({run.config.epochs - len(metrics)} epochs at "
                  f"{median_epoch_seconds(metrics):.0f} s)")
        print("config:")
        print("  " + run.config.to_json().replace("\n", "\n  "))
    if metrics:
        print(f"last epoch ({len(metrics)} so far): " + json.dumps(metrics[-1], sort_keys=True))
    summary = None if run.problem else run.summary()
    if summary:
        print("test: " + headline(summary))
    tail = run.log_tail(log_lines)
    if tail and log_lines:
        print(f"log (last {log_lines} lines):")
        print(tail)
    return 0


def _run_job(args):
    from ecgcore.jobs import run_job

    # the job's own stdout is the run's log.txt; its exit status says whether training succeeded
    state = run_job(os.path.abspath(args.run_dir), reuse=True)  # then the queue's next runs, in this process
    sys.stdout.flush()
    return 0 if state == "done" else 1
