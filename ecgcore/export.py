"""Runs leave the lab: each run's config, per-epoch metrics, test metrics, checkpoint and figures written to an
MLflow tracking store or to TensorBoard event files, for researchers who keep their runs there.

MLflow (`to_mlflow`): one MLflow run per ecgcore run in the experiment EXPERIMENT (created when absent), named
like the dashboard names it and tagged `ecgcore.run_id`, with
  params     the config, flattened to dotted keys (preprocess.fs, data.source, ...)
  metrics    each epoch's metrics with step = epoch; the test metrics as test_<name> (per-class ones as
             test_<metric>_<class>); n_train, n_val, n_test, best_epoch, epochs_run
  artifacts  checkpoint/model.pt, run/ (config.json, summary.json, metrics.jsonl, log.txt) and figures/
             (learning curves; predicted vs true, or the confusion matrix and ROC curves) as PNG (kaleido and
             the local Chromium) or HTML
  status     FINISHED, FAILED or KILLED, with the run's start and end times.
Any tracking URI MLflow takes works; tests use a local `sqlite:///...` and `file:...` store, no server. A
`file:` store is MLflow's legacy backend (MLflow 3 asks for MLFLOW_ALLOW_FILE_STORE, which is set for it here).
TensorBoard (`to_tensorboard`): DIR/<run id>/ event files with the per-epoch scalars (step = epoch), the
config and test metrics as hparams, the figures as images and the checkpoint's path as text (TensorBoard
keeps no files). A run already exported (same ecgcore run id in the experiment, or its folder under DIR) is
skipped, so exporting a runs folder again adds only the new runs; an MLflow run an interrupted export left
RUNNING is deleted and written again. Figures are rendered before anything is written, so a missing browser
stops the export with nothing half done. Queued and running runs are not exported.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
from datetime import datetime
from pathlib import Path

from ecgcore import runs as runlib
from ecgcore.extras import need

EXPERIMENT = "ECG Transfer Lab"
TAG = "ecgcore.run_id"
FIGURE_FORMATS = ("png", "html", "none")
STATUS = {"done": "FINISHED", "failed": "FAILED", "cancelled": "KILLED"}
SUMMARY_COUNTS = ("n_train", "n_val", "n_test", "best_epoch", "epochs_run")
STORE_TIMEOUT_S = 10.0  # how long the MLflow store may take to answer a connection or a request
# The tracking URI schemes MLflow reads (a bare path is a file store); any other is refused before connecting.
STORE_SCHEMES = ("file", "sqlite", "http", "https", "postgresql", "mysql", "mssql", "databricks")


def _number(value):
    """`value` as a float when it is a plain number (bools and text are not metrics), else None."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def flat_params(config):
    """{dotted key: text} of a JobConfig: nested dicts flattened, lists as JSON."""
    out = {}

    def walk(prefix, value):
        if isinstance(value, dict) and value:
            for k, v in value.items():
                walk(f"{prefix}.{k}" if prefix else str(k), v)
        else:
            out[prefix] = json.dumps(value) if isinstance(value, (list, dict)) else str(value)

    walk("", config.to_dict())
    return out


def epoch_metrics(run):
    """[(epoch, {name: value})] of a run's metrics.jsonl, numbers only ("epoch" is the step, not a metric)."""
    out = []
    for i, record in enumerate(run.metrics(), start=1):
        step = int(record.get("epoch", i))
        values = {k: _number(v) for k, v in record.items() if k != "epoch"}
        out.append((step, {k: v for k, v in values.items() if v is not None}))
    return out


def test_metrics(summary):
    """{name: value} of a summary: test_<metric> per scalar test metric, test_<metric>_<class> per class, and
    the split sizes and epochs (SUMMARY_COUNTS)."""
    summary = summary or {}
    out = {}
    for key, value in (summary.get("test") or {}).items():
        if key == "per_class" and isinstance(value, dict):
            for cls, scores in value.items():
                for metric, v in (scores or {}).items():
                    if _number(v) is not None:
                        out[f"test_{metric}_{cls}"] = _number(v)
        elif _number(value) is not None:
            out[f"test_{key}"] = _number(value)
    out.update({k: _number(summary[k]) for k in SUMMARY_COUNTS if _number(summary.get(k)) is not None})
    return out


def run_figures(run):
    """{name: plotly Figure} of a run: its learning curves, then predicted vs true (pretraining) or the
    confusion matrix (single-label) and ROC curves (fine-tuning)."""
    import numpy as np

    from ecgcore import plots
    from ecgcore.labels import TARGETS

    figures = {}
    metrics = run.metrics()
    if metrics:
        figures["learning_curves"] = plots.learning_curves({run.id: metrics})
    summary, pred = run.summary() or {}, run.predictions() or {}
    test = summary.get("test") or {}
    outputs = run.outputs()
    if outputs.regression:
        names = [t for t in outputs.names if f"y_true_{t}" in pred]
        if names:
            figures["pred_vs_true"] = plots.pred_vs_true(np.stack([pred[f"y_true_{t}"] for t in names], 1),
                                                         np.stack([pred[f"y_pred_{t}"] for t in names], 1),
                                                         names, TARGETS)
        return figures
    names = list(outputs.names)
    if run.config.label_mode == "single" and test.get("confusion_matrix"):
        figures["confusion"] = plots.confusion(test["confusion_matrix"], names)
    if len(pred.get("y_score", [])):
        figures["roc_curves"] = plots.roc_curves(pred["y_true"], pred["y_score"], names)
    return figures


def rendered_figures(run_list, fmt):
    """{run id: {file name: bytes}} of every run's figures as PNG (one kaleido browser for all the runs) or
    HTML (plotly.js from its CDN: small files; viewing needs the internet). Rendered before anything is
    written, so a missing browser stops the export with nothing half done."""
    if fmt not in FIGURE_FORMATS:
        raise ValueError(f"figures={fmt!r} is invalid: choose one of {FIGURE_FORMATS}")
    if fmt == "none":
        return {run.id: {} for run in run_list}
    figures = {run.id: run_figures(run) for run in run_list}
    if fmt == "html":
        return {rid: {f"{name}.html": fig.to_html(include_plotlyjs="cdn").encode() for name, fig in figs.items()}
                for rid, figs in figures.items()}
    from ecgcore.plots import to_png

    flat = [(rid, name, fig) for rid, figs in figures.items() for name, fig in figs.items()]
    try:
        pngs = to_png([fig for _, _, fig in flat]) if flat else []
    except Exception as e:  # noqa: BLE001 - kaleido reports a missing browser with its own exception types
        raise ValueError(f"PNG figures need kaleido and a Chrome/Chromium ({type(e).__name__}: {e}); "
                         "export with --figures html or --figures none") from None
    out = {rid: {} for rid in figures}
    for (rid, name, _), png in zip(flat, pngs):
        out[rid][f"{name}.png"] = png
    return out


def _ms(iso):
    """Milliseconds since the epoch of an ISO time from status.json (None stays None)."""
    return int(datetime.fromisoformat(iso).timestamp() * 1000) if iso else None


def exportable(run_list):
    """(runs to export, [(run, why not)]): finished, healthy runs go; queued, running and damaged ones do not."""
    keep, skipped = [], []
    for run in run_list:
        if run.problem:
            skipped.append((run, f"damaged: {run.problem}"))
        elif run.state in runlib.ACTIVE_STATES:
            skipped.append((run, f"{run.state}: export it once it has finished"))
        else:
            keep.append(run)
    return keep, skipped


def run_name(run):
    """The name an exported run goes by: its config name when it has one, else its id."""
    return run.config.name or run.id


def to_mlflow(run_list, uri, experiment=EXPERIMENT, figures="png", artifact_location=None, log=print,
              timeout_s=STORE_TIMEOUT_S):
    """Write each run to the MLflow tracking store at `uri`; return {ecgcore run id: MLflow run id} of the runs
    written (runs already in the experiment are skipped and said so).

    artifact_location: where a new experiment keeps its files (default: a `sqlite:` store's folder +
    /mlartifacts; other stores: MLflow's default). timeout_s bounds each connection and request; a store
    that does not answer in time, or cannot be written, is a ValueError saying so (MLflow itself retries for
    minutes).
    """
    if uri.startswith("file:") or "://" not in uri and ":" not in uri:
        # MLflow 3 keeps the file store in maintenance mode behind this switch; the user asked for one
        os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
    need("mlflow", "Export to MLflow")
    check_store(uri, timeout_s)
    # MLflow's HTTP client retries with backoff for minutes by default: one try, within the bound
    os.environ["MLFLOW_HTTP_REQUEST_TIMEOUT"] = str(max(1, math.ceil(timeout_s)))
    os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] = "0"
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    try:
        return _to_mlflow(MlflowClient(tracking_uri=uri), uri, run_list, experiment, figures, artifact_location,
                          log)
    except MlflowException as e:
        raise ValueError(f"the MLflow store {uri} refused the export: {str(e).splitlines()[0][:300]}") from None


def check_store(uri, timeout_s=STORE_TIMEOUT_S):
    """ValueError naming `uri` unless its scheme is one MLflow reads and, for a server or a sqlite file, it
    answers within `timeout_s` (a server) and can be written (sqlite): checked here with our own bounds
    because MLflow retries a refused connection or an unopenable database for minutes."""
    from urllib.parse import urlparse

    scheme = urlparse(uri).scheme if "://" in uri or uri.startswith("file:") else "file"
    if scheme.split("+")[0] not in STORE_SCHEMES:
        raise ValueError(f"{uri} is not an MLflow tracking URI: use one of {', '.join(STORE_SCHEMES)} "
                         "(e.g. sqlite:///mlflow.db, http://host:5000, file:./mlruns)")
    if scheme in ("http", "https"):
        _check_server(uri, timeout_s)
    elif scheme == "sqlite":
        _check_sqlite(uri, timeout_s)


def _check_server(uri, timeout_s):
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(uri.rstrip("/") + "/health", timeout=timeout_s):
            return
    except urllib.error.HTTPError:  # it answers (a server without /health): MLflow's calls will tell the rest
        return
    except (urllib.error.URLError, OSError) as e:
        reason = getattr(e, "reason", e)
        raise ValueError(f"no MLflow tracking server answers at {uri} within {timeout_s:g} s ({reason}); start "
                         "it (mlflow server) or check the address, or raise --store-timeout") from None


def _check_sqlite(uri, timeout_s):
    import sqlite3

    path = uri.split(":///", 1)[1] if ":///" in uri else ""
    if path in ("", ":memory:"):
        return
    if Path(path).is_dir():
        raise ValueError(f"the MLflow store {uri} names a folder, not a database file: add a file name "
                         f"(e.g. sqlite:///{Path(path) / 'mlflow.db'})")
    if not Path(path).parent.is_dir():
        raise ValueError(f"the MLflow store {uri}: its folder {Path(path).parent} does not exist")
    try:
        with sqlite3.connect(path, timeout=timeout_s) as db:
            db.execute("BEGIN IMMEDIATE")  # takes the write lock: fails at once on a read-only file or folder
            db.rollback()
    except sqlite3.Error as e:
        raise ValueError(f"the MLflow store {uri} cannot be written ({e}); export to a store you can write, "
                         "or make this one writable") from None


def _to_mlflow(client, uri, run_list, experiment, figures, artifact_location, log):
    from mlflow.entities import Metric, Param

    found = client.get_experiment_by_name(experiment)
    if found is None:
        if artifact_location is None and uri.startswith("sqlite:///"):
            artifact_location = (Path(uri.removeprefix("sqlite:///")).resolve().parent / "mlartifacts").as_uri()
        experiment_id = client.create_experiment(experiment, artifact_location=artifact_location)
    else:
        experiment_id = found.experiment_id
    todo = []
    for run in run_list:
        done = client.search_runs([experiment_id], filter_string=f"tags.`{TAG}` = '{run.id}'")
        for partial in [r for r in done if r.info.status == "RUNNING"]:  # an export that died half way
            client.delete_run(partial.info.run_id)
        done = [r for r in done if r.info.status != "RUNNING"]
        if done:
            log(f"{run.id}: already in {experiment!r} as MLflow run {done[0].info.run_id}, skipped")
        else:
            todo.append(run)
    pictures = rendered_figures(todo, figures)
    written = {}
    for run in todo:
        status = run.status()
        start = _ms(status.get("started") or status.get("created"))
        mlrun = client.create_run(experiment_id, start_time=start, run_name=run_name(run),
                                  tags={TAG: run.id, "ecgcore.task": run.config.task, "ecgcore.state": status["state"]})
        run_id = mlrun.info.run_id
        params = [Param(k, v) for k, v in flat_params(run.config).items()]
        metrics = [Metric(k, v, (start or 0) + step, step) for step, values in epoch_metrics(run)
                   for k, v in values.items()]
        end = _ms(status.get("finished")) or start or 0
        metrics += [Metric(k, v, end, 0) for k, v in test_metrics(run.summary()).items()]
        for i in range(0, len(params), 100):  # log_batch takes at most 100 params and 1000 metrics a call
            client.log_batch(run_id, params=params[i:i + 100])
        for i in range(0, len(metrics), 1000):
            client.log_batch(run_id, metrics=metrics[i:i + 1000])
        if run.model_path.is_file():
            client.log_artifact(run_id, str(run.model_path), artifact_path="checkpoint")
        for path in (run.config_path, run.summary_path, run.metrics_path, run.log_path):
            if path.is_file():
                client.log_artifact(run_id, str(path), artifact_path="run")
        with tempfile.TemporaryDirectory(prefix="ecgcore-export-") as tmp:
            for name, data in pictures[run.id].items():
                (Path(tmp) / name).write_bytes(data)
                client.log_artifact(run_id, str(Path(tmp) / name), artifact_path="figures")
        client.set_terminated(run_id, status=STATUS.get(status["state"], "FAILED"), end_time=end or None)
        written[run.id] = run_id
        log(f"{run.id}: MLflow run {run_id} in {experiment!r}")
    return written


def to_tensorboard(run_list, log_dir, figures="png", log=print):
    """Write each run's event files to `log_dir`/<run id>/; return {ecgcore run id: folder} of the runs
    written (a run whose folder already exists is skipped and said so)."""
    SummaryWriter = need("torch.utils.tensorboard", "Export to TensorBoard").SummaryWriter

    todo = []
    for run in run_list:
        folder = Path(log_dir) / run.id
        if folder.exists():
            log(f"{run.id}: {folder} exists, skipped")
        else:
            todo.append(run)
    # TensorBoard shows images, not HTML
    pictures = rendered_figures(todo, "png" if figures == "png" else "none")
    written = {}
    Path(log_dir).mkdir(parents=True, exist_ok=True)
    for run in todo:
        folder = Path(log_dir) / run.id
        status = run.status()
        start = _ms(status.get("started") or status.get("created"))
        # written into a hidden folder beside its place, moved there only when complete: a failed export
        # leaves nothing that a later one would take for done
        partial = Path(tempfile.mkdtemp(dir=log_dir, prefix=f".{run.id}.", suffix=".partial"))
        try:
            _write_events(SummaryWriter(log_dir=str(partial)), run, start, pictures[run.id])
            os.replace(partial, folder)
        finally:
            shutil.rmtree(partial, ignore_errors=True)
        written[run.id] = folder
        log(f"{run.id}: TensorBoard events in {folder}")
    return written


def _write_events(writer, run, start, pictures):
    """One run's scalars, hparams, config, checkpoint path and figures through the SummaryWriter `writer`."""
    import io

    import numpy as np
    from PIL import Image

    with writer:
        last = 0
        for step, values in epoch_metrics(run):
            for k, v in values.items():
                writer.add_scalar(k, v, step, walltime=(start or 0) / 1000 + step if start else None)
            last = step
        hparams = {k: _hparam(v) for k, v in flat_params(run.config).items()}
        writer.add_hparams(hparams, {k: v for k, v in test_metrics(run.summary()).items()
                                     if math.isfinite(v)} or {"epochs_run": float(last)}, run_name=".")
        writer.add_text("config", "```\n" + run.config.to_json() + "\n```", 0)
        if run.model_path.is_file():
            writer.add_text("checkpoint", str(run.model_path.resolve()), 0)
        for name, data in pictures.items():
            image = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
            writer.add_image(f"figures/{Path(name).stem}", image, last, dataformats="HWC")


def _hparam(text):
    """A flattened config value as TensorBoard's hparams take it: a number or bool where it is one, else text."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        return text
    return value if isinstance(value, (bool, int, float)) else text
