"""Run folders: one training job's config, status, metrics, checkpoint and log under a runs directory.

A run is a folder `RUNS_DIR/RUN_ID/` holding
  config.json      JobConfig.to_json(): what the job trains
  status.json      {"state": queued|running|done|failed|cancelled, "progress": 0..1, "epoch", "message",
                    "error", "pid", "created", "started", "finished"}
  metrics.jsonl    one line per epoch (what fit's on_epoch received)
  summary.json     test and validation metrics at the end (FitResult.summary)
  predictions.npz  test-split predictions (FitResult.predictions)
  model.pt         the best weights: a self-describing checkpoint (ecgcore.models.to_checkpoint)
  log.txt          the job's stdout and stderr, tracebacks included
  heartbeat        touched every second by a running job (see ecgcore.job)
  cancel           present once `cancel` asked the running job to stop
  .reserve         RESERVE_BYTES held from creation until the job writes the run's end: on a disk that fills
                   up, giving them back leaves room for the final status that says "disk full"
This module is the one place that knows these names: everyone else asks a Run for `run.model_path` etc.
No file of a run folder is a link, nor the folder itself (the lab never makes one): a run with one is damaged,
never started, and nothing of it is read or written through the link (files.open_nofollow), so a shared runs
folder cannot be made to write or show a file outside it. Every JSON file is written whole to a temp file and
moved into place (os.replace), so a reader never sees half a file; a run folder is filled under a hidden name
and renamed into place, so a reader never sees one half made, and two sessions never share or overwrite a run.
"""

from __future__ import annotations

import errno
import json
import os
import re
import secrets
import shutil
import tempfile
import time
import zipfile
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np

from ecgcore.config import JobConfig, is_whole
from ecgcore.files import append_text, json_default, locked, now, open_nofollow, read_json, read_text, \
    write_bytes, write_json, write_text
from ecgcore.labels import CLASS_NAMES
from ecgcore.words import say

# What each file of a run folder is called (see the module docstring); Run's *_path attributes name them.
FILES = {"config": "config.json", "status": "status.json", "metrics": "metrics.jsonl", "summary": "summary.json",
         "predictions": "predictions.npz", "model": "model.pt", "log": "log.txt", "heartbeat": "heartbeat",
         "cancel": "cancel", "reserve": ".reserve"}
RESERVE_BYTES = 64 * 1024
# What a status' "executor" may name: the lab's settings (ecgcore.executors.NAMES) and "inline", a run trained in
# the process that created it (ecgcore.inline_executor: a bench, a study run here)
EXECUTORS = ("local", "ray", "inline")
ACTIVE_STATES = ("queued", "running")  # a job will still change the run
FINISHED = ("done", "failed", "cancelled")
STATES = (*ACTIVE_STATES, *FINISHED)
_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")


def default_runs_dir(runs_dir=None):
    """`runs_dir` when given, else `$ECGCORE_RUNS`, else `runs/` (relative to the working directory)."""
    return Path(runs_dir or os.environ.get("ECGCORE_RUNS") or "runs")


def validate_run_id(run_id):
    """Return `run_id` if it is a safe folder name (letters, digits, '-', '_', '.'; no '..'), else ValueError."""
    if not _is_run_id(run_id):
        raise ValueError(
            f"invalid run id {run_id!r}: use 1-128 letters, digits, '-', '_' or '.', starting with a letter or "
            "digit, with no path separators and no '..'")
    return run_id


def _is_run_id(name):
    return isinstance(name, str) and _ID_RE.fullmatch(name) is not None and ".." not in name


def slug(text):
    """`text` as a short id fragment: runs of other characters become '-', at most 40 characters."""
    return re.sub(r"[^A-Za-z0-9_.]+", "-", text).strip("-.")[:40]


def new_run_id(config, name=""):
    """'20261125-161502-pretrain-small_cnn[-name]-3f9a': sortable by time, readable, random-suffixed."""
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    parts = [stamp, config.task, config.arch, slug(name or "")]
    return "-".join(p for p in parts if p) + "-" + secrets.token_hex(2)


def _file(role):
    return property(lambda run: run.path / FILES[role], doc=f"RUN_DIR/{FILES[role]}")


@dataclass(frozen=True)
class Outputs:
    """A run's model outputs: kind "targets" (regression, in clinical units) or "classes" (one score per class)."""

    kind: str
    names: tuple

    @property
    def regression(self):
        return self.kind == "targets"

    def index(self, name):
        """The output index of `name` (case-insensitive), an int, or a digit string; ValueError naming the choices."""
        if isinstance(name, (int, np.integer)) or (isinstance(name, str) and name.isdigit()):
            return int(name)
        lookup = {n.lower(): i for i, n in enumerate(self.names)}
        if str(name).lower() not in lookup:
            raise ValueError(f"{name!r} is not an output of this run: choose one of {list(self.names)}")
        return lookup[str(name).lower()]


class Run:
    """A view of one run folder. Reading never changes it; the job (ecgcore.jobs) is what fills it."""

    def __init__(self, path):
        self.path = Path(path)
        self.id = self.path.name

    def __repr__(self):
        return f"Run({str(self.path)!r})"

    def __eq__(self, other):
        return isinstance(other, Run) and self.path.resolve() == other.path.resolve()

    def __hash__(self):
        return hash(self.path.resolve())

    @property
    def runs_dir(self):
        return self.path.parent

    # the run folder's files (see the module docstring): run.model_path, run.log_path, ...
    config_path, status_path, metrics_path = _file("config"), _file("status"), _file("metrics")
    summary_path, predictions_path, model_path = _file("summary"), _file("predictions"), _file("model")
    log_path, heartbeat_path, cancel_path = _file("log"), _file("heartbeat"), _file("cancel")
    reserve_path = _file("reserve")

    def release_reserve(self):
        """Give back the run's reserved bytes (before its final status is written)."""
        self.reserve_path.unlink(missing_ok=True)

    @property
    def config(self):
        """The run's JobConfig; ValueError when config.json is missing or damaged."""
        try:
            data = read_json(self.config_path)
            if not isinstance(data, dict):
                raise ValueError("not a JSON object")
            return JobConfig.from_dict(data).validate()  # every field's type and range, as at creation
        except (TypeError, ValueError) as e:
            if str(e).startswith(str(self.config_path)):
                raise
            raise ValueError(f"{self.config_path} is damaged: {e}") from None

    def links(self):
        """The run folder, or its files, that are symbolic links (none in a healthy run)."""
        return [p for p in (self.path, *(self.path / name for name in FILES.values())) if p.is_symlink()]

    @property
    def problem(self):
        """None for a healthy run folder, else what is wrong with it (a damaged folder is listed, not hidden):
        a link, config.json, status.json (its state and fields) or, once written, summary.json."""
        return self.check()[0]

    def check(self):
        """(problem, config, status, summary, metrics): `problem` as that property says, and for a healthy run
        what the check read, each file once (the run index reads a folder so); Nones but the problem otherwise."""
        links = self.links()
        if links:
            return (f"{links[0].name} is a link (to {os.readlink(links[0])}): a run folder holds no links, and "
                    "nothing is read or written through one"), None, None, None, None
        try:
            config = self.config
            status = _checked_status(read_json(self.status_path), self.status_path)
            summary = self.summary()
            metrics = self.metrics(strict=True, finished=status["state"] in FINISHED)
            if status["state"] == "done" and self.metrics_path.is_file() and not self.metrics_path.stat().st_size:
                raise ValueError(f"{self.metrics_path} is empty, though the run is done")
        except ValueError as e:
            return str(e), None, None, None, None
        return None, config, {**_blank_status(), **status}, summary, metrics

    def status(self):
        """The status dict; a damaged folder reads as failed with the reason, so listing never crashes. A bad
        field (a progress that is not a number, ...) reads as its default: it is the job's to rewrite."""
        path = self.status_path
        try:
            status = read_json(path)
            _checked_status(status, path, strict=False)
        except ValueError as e:
            return {**_blank_status(), "state": "failed", "error": f"damaged run folder: {e}"}
        blank = _blank_status()
        return {**blank, **status, **{k: blank.get(k) for k in _bad_fields(status)}}

    @property
    def state(self):
        return self.status()["state"]

    def created(self, status=None):
        """Creation time (seconds since the epoch) for ordering: status.json's (or `status`'s, already read),
        else the folder's mtime."""
        try:
            return datetime.fromisoformat((status or read_json(self.status_path))["created"]).timestamp()
        except (ValueError, KeyError, TypeError):
            return self.path.stat().st_mtime if self.path.exists() else 0.0

    def metrics(self, strict=False, finished=False):
        """Per-epoch records (list of dicts of numbers, "epoch" a whole number); a half-written last line (job
        mid-append) is skipped. Any other line that is not such a record is skipped too, or with `strict`
        a ValueError naming the file and line (what `problem` reports); with `finished` too (no job appends
        any more), a half last line is such damage as well."""
        try:
            lines = read_text(self.metrics_path).splitlines()
        except (FileNotFoundError, ValueError):  # missing, or a link (the run's `problem` says so)
            return []
        records = []
        for number, line in enumerate(lines, start=1):
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                record = None
                why = "is not JSON"
            else:
                why = _bad_record(record)
            if why is None:
                records.append(record)
            elif strict and (finished or not (number == len(lines) and record is None)):  # mid-append: not damage
                raise ValueError(f"{self.metrics_path} is damaged: line {number} {why}")
        return records

    def summary(self):
        """Test/validation metrics once the run is done, else None; ValueError naming the file when damaged."""
        if not self.summary_path.exists():
            return None
        summary = read_json(self.summary_path)
        if not isinstance(summary, dict):
            raise ValueError(f"{self.summary_path} is damaged: not a JSON object")
        for key, (rule, ok) in _SUMMARY_RULES.items():
            if key in summary and not ok(summary[key]):
                raise ValueError(f"{self.summary_path} is damaged: {key}={summary[key]!r} is not {rule}")
        return summary

    def outputs(self):
        """What the run's model outputs (the one answer pages, CLI and explain ask for): Outputs("targets",
        the pretraining targets) or Outputs("classes", the fine-tuning data set's class names as training saved
        them in summary.json; before then, or in a summary without them, CLASS_NAMES: every source's classes)."""
        config, summary = self.config, self.summary() or {}
        if config.task == "pretrain":
            return Outputs("targets", tuple(summary.get("targets") or config.targets))
        return Outputs("classes", tuple(summary.get("class_names") or CLASS_NAMES))

    def predictions(self):
        """Test-split predictions {name: array} once the run is done, else None."""
        if not self.predictions_path.exists() or self.predictions_path.is_symlink():
            return None
        try:
            with np.load(self.predictions_path, allow_pickle=False) as z:
                return {k: z[k] for k in z.files}
        except (ValueError, OSError, EOFError, zipfile.BadZipFile) as e:
            raise ValueError(f"{self.predictions_path} is damaged (truncated or garbled): {e}") from None

    def log_tail(self, lines=40):
        """The last `lines` lines of log.txt ('' before the job starts)."""
        try:
            text = read_text(self.log_path, errors="replace")
        except (FileNotFoundError, ValueError):  # missing, or a link (the run's `problem` says so)
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def update_status(self, force=False, **changes):
        """Merge `changes` into status.json atomically and return the new status. A finished run stays
        finished (a late progress write from a job cannot undo `cancel`) unless `force`."""
        with locked(self.path):  # the job, `cancel` and `refresh` (three processes) never interleave
            status = self.status()
            if status["state"] in FINISHED and not force:
                return status
            status.update(changes)
            write_json(self.status_path, status)
            return status

    def beat(self):
        """The running job's sign of life: touch the heartbeat file (never through a link)."""
        fd = open_nofollow(self.heartbeat_path, os.O_WRONLY | os.O_CREAT)
        try:
            os.utime(fd)
        finally:
            os.close(fd)

    def heartbeat_age(self):
        """Seconds since the job's last heartbeat, None before its first."""
        try:
            return time.time() - self.heartbeat_path.stat().st_mtime
        except FileNotFoundError:
            return None

    def append_metrics(self, record):
        # one write() of one line in append mode: a reader sees whole lines or a partial last one (skipped)
        append_text(self.metrics_path, json.dumps(record, sort_keys=True, default=json_default) + "\n")


def median_epoch_seconds(metrics):
    """The median seconds of one epoch over per-epoch records (their time_s), None before the first."""
    times = [m["time_s"] for m in metrics if isinstance(m.get("time_s"), (int, float))]
    return float(np.median(times)) if times else None


def _is_number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _is_time(v):
    try:
        return v is None or (isinstance(v, str) and datetime.fromisoformat(v) is not None)
    except ValueError:
        return False


def _bad_record(record):
    """None for a metrics line readers can use (a dict; "epoch" a whole number; values numbers, text or
    null), else what is wrong with it."""
    if not isinstance(record, dict):
        return f"is {type(record).__name__}, not a record of the epoch's metrics"
    epoch = record.get("epoch", 1)
    if not is_whole(epoch) or epoch < 0:
        return f"has epoch={epoch!r}, not a whole number"
    for key, value in record.items():
        if not (value is None or isinstance(value, str) or _is_number(value)):
            return f"has {key}={value!r}, not a number"
    return None


# summary.json fields readers iterate or index: (what they must be, the check)
_SUMMARY_RULES = {
    "test": ("an object of test metrics", lambda v: isinstance(v, dict)),
    "val": ("an object of validation metrics", lambda v: isinstance(v, dict)),
    "targets": ("a list of target names", lambda v: isinstance(v, list) and all(isinstance(t, str) for t in v)),
    "class_names": ("a list of class names", lambda v: isinstance(v, list) and all(isinstance(t, str) for t in v)),
    "task": ("pretrain or finetune", lambda v: v in ("pretrain", "finetune")),
    **{k: ("a whole number >= 0", lambda v: v is None or (is_whole(v) and v >= 0))
       for k in ("n_train", "n_val", "n_test", "best_epoch", "epochs_run", "skipped_records")},
    **{k: ("a list", lambda v: isinstance(v, list)) for k in ("classes_present", "classes_absent", "notes",
                                                             "classes_unseen_in_training")},
    **{k: ("text", lambda v: isinstance(v, str)) for k in ("device", "selection_metric")},
}

# status fields a reader does arithmetic or formatting with: (what they must be, the check)
_FIELD_RULES = {
    "progress": ("a number in [0, 1]", lambda v: isinstance(v, (int, float)) and not isinstance(v, bool)
                 and 0 <= v <= 1),
    "epoch": ("a whole number >= 0", lambda v: is_whole(v) and v >= 0),
    "pid": ("a process id", lambda v: v is None or (is_whole(v) and v > 0)),
    "message": ("text", lambda v: v is None or isinstance(v, str)),
    "error": ("text", lambda v: v is None or isinstance(v, str)),
    "executor": (f"one of {EXECUTORS}", lambda v: v is None or v in EXECUTORS),
    **{k: ("an ISO time", _is_time) for k in ("created", "started", "finished")},
}


def _bad_fields(status):
    return [k for k, (_, ok) in _FIELD_RULES.items() if k in status and not ok(status[k])]


def _checked_status(status, path, strict=True):
    """`status`, or ValueError naming `path` unless it is a dict with a valid state (and, when `strict`, every
    field of _FIELD_RULES valid)."""
    if not isinstance(status, dict) or status.get("state") not in STATES:
        raise ValueError(f"{path} has no valid state")
    bad = _bad_fields(status) if strict else []
    if bad:
        rule = _FIELD_RULES[bad[0]][0]
        raise ValueError(f"{path} is damaged: {bad[0]}={status[bad[0]]!r} is not {rule}")
    return status


def _blank_status():
    return {"state": "queued", "progress": 0.0, "epoch": 0, "message": "", "error": None, "pid": None,
            "created": None, "started": None, "finished": None}


def create_run(config, runs_dir=None, name=None):
    """Validate `config` (every field, and the data spec's options: ecgcore.data.sources.check_spec) and
    create a new queued run folder for it; return the Run.

    `name` (optional) is a free label: saved as config.name and put into the run id. Pretrained run paths
    are made absolute, so the job and any later reader find them whatever their working directory.
    """
    config = JobConfig.from_dict(config.to_dict() if isinstance(config, JobConfig) else config)
    if name:
        config.name = name
    config.validate()
    from ecgcore.data.sources import check_spec  # the sources' modules load only when a run is created

    check_spec(config.data)
    config.pretrained = [str(_pretrained_dir(p)) for p in config.pretrained]
    runs_dir = default_runs_dir(runs_dir)
    need_write(runs_dir, "creating a run")
    runs_dir.mkdir(parents=True, exist_ok=True)
    # filled under a hidden name (no run id starts with "."), then renamed: a reader never sees a run folder
    # without its config and status, which would read as damaged
    draft = Run(Path(tempfile.mkdtemp(dir=runs_dir, prefix=".new-run-")))
    try:
        write_text(draft.config_path, config.to_json() + "\n")
        write_json(draft.status_path, {**_blank_status(), "created": now(), "message": "queued"})
        write_bytes(draft.reserve_path, bytes(RESERVE_BYTES))
        os.chmod(draft.path, 0o755)  # mkdtemp's 0700 would hide the run from the other users of a shared folder
        for _ in range(100):
            path = runs_dir / validate_run_id(new_run_id(config, config.name))
            if path.exists():
                continue
            try:
                os.rename(draft.path, path)  # the claim: fails when a second session took the id meanwhile
                return Run(path)
            except OSError as e:
                if e.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                    raise
        raise FileExistsError(f"could not find a free run id in {runs_dir}")
    finally:
        shutil.rmtree(draft.path, ignore_errors=True)


def _pretrained_dir(path):
    run = Run(Path(path).resolve())
    if not run.config_path.is_file():
        raise ValueError(f"pretrained run {run.path} not found (no config.json there)")
    problem = pretrained_problem(run)
    if problem:
        raise ValueError(problem)
    return run.path


def pretrained_problem(run):
    """None when `run` can serve as a pretrained run (now, or once it finishes), else why it never can."""
    state = run.state
    if state not in ACTIVE_STATES and not run.model_path.is_file():
        return f"pretrained run {run.path} has no model.pt (its state: {state})"
    return None


def get_run(runs_dir, run_id):
    """The run `run_id` in `runs_dir`; ValueError for an unsafe id, FileNotFoundError when absent."""
    runs_dir = default_runs_dir(runs_dir)
    path = runs_dir / validate_run_id(run_id)
    if not path.is_dir():
        raise FileNotFoundError(f"no run {run_id!r} in {runs_dir}")
    return Run(path)


def resolve_run(ref, runs_dir=None):
    """A run from a folder path (any run folder with a config.json) or a run id under `runs_dir`."""
    run = Run(Path(ref).resolve())
    if run.config_path.is_file():
        return run
    return get_run(runs_dir, str(ref))


def list_runs(runs_dir=None):
    """All run folders in `runs_dir`, oldest first. A damaged folder is listed too (its `problem` says
    what is wrong; its status reads as failed), so one bad folder never hides the others."""
    runs_dir = default_runs_dir(runs_dir)
    if not runs_dir.is_dir():
        return []
    # a run folder holds config.json or status.json from its first moment; other folders (sweeps/) are not runs
    runs = [run for run in map(Run, runs_dir.iterdir()) if _is_run_id(run.id)
            and (run.config_path.exists() or run.status_path.exists())]
    return sorted(runs, key=lambda r: (r.created(), r.id))


def delete_run(run):
    """Delete a run folder. A running run is refused: cancel it first."""
    need_write(run.runs_dir, "deleting a run")
    with lock_runs_dir(run.runs_dir):  # so the queue cannot start it while it goes
        if run.state == "running":
            raise ValueError(f"run {run.id} is running; cancel it before deleting it")
        shutil.rmtree(run.path)


def writable(runs_dir=None):
    """Whether this user may change `runs_dir` (create, update and delete runs in it). Reading needs no
    lock and no write access, so a read-only runs folder (a colleague's, a read-only mount) can be listed."""
    runs_dir = default_runs_dir(runs_dir)
    folder = runs_dir if runs_dir.exists() else next((p for p in runs_dir.parents if p.exists()), Path("."))
    return os.access(folder, os.W_OK)


def need_write(runs_dir, what):
    """PermissionError that says so unless `runs_dir` is writable: `what` needs write access."""
    if not writable(runs_dir):
        raise PermissionError(f"the runs folder {default_runs_dir(runs_dir)} is read-only for this user: "
                              f"{what} needs write access to it")


@contextmanager
def lock_runs_dir(runs_dir):
    """Hold the runs directory's lock (created when missing): the queue's decisions (which run starts next)
    and deletions happen one at a time across every process. LockBusy past files.locked's bound."""
    runs_dir = default_runs_dir(runs_dir)
    runs_dir.mkdir(parents=True, exist_ok=True)
    with locked(runs_dir):
        yield


def title(run):
    """A run as people name it: its name (else what it trains) and start time, e.g. "demo transfer · 18:57:03
    1 Dec" or "freeze first block small_cnn · ..."; the id stays for hover, tables and links."""
    if run.problem is not None:
        return f"{run.id} (damaged)"
    cfg = run.config
    what = cfg.name or (f"{say(cfg.strategy)} {cfg.arch}" if cfg.task == "finetune" else
                        f"pretrain {cfg.arch} ({', '.join(t.upper() for t in cfg.targets[:4])}"
                        + (", ..." if len(cfg.targets) > 4 else "") + ")")
    return f"{what} · {datetime.fromtimestamp(run.created()).strftime('%H:%M:%S %-d %b')}"
