"""The runs folder's index: what pickers and tables need of every run (its config, state, summary, creation time,
whether it is damaged), kept current from the files' stamps, so a page of a folder with 1,000 runs reads only the run
folders that changed since it last looked instead of every folder on every rerun.

A run's entry holds while none of its files changed: each listing takes one lstat of the folder and of the files
the entry rests on (config, status, metrics, summary), and reads a folder again when any of them differs (a file
added, removed, rewritten, replaced by a link). A file changed within the file system's clock tick of the read
could keep its stamp, so an entry read that recently is not trusted and is read again next time (git's "racy
clean" rule). The index lives in the process (a Streamlit server's sessions share it); nothing is written, so a
read-only runs folder is indexed too, and nothing on disk can hold a stale index.
"""

from __future__ import annotations

import copy
import os
import threading
import time

from ecgcore.config import JobConfig
from ecgcore.runs import FILES, Run, _is_run_id, default_runs_dir, median_epoch_seconds

_WATCHED = ("config", "status", "metrics", "summary")  # what `problem`, `config` and `status` read
RACY_NS = 2_000_000_000  # a file written this close to its read is read again: wider than any file system's tick


class IndexedRun(Run):
    """A Run whose config, summary, damage and creation time come from the index (as read at its last change);
    status, metrics and everything else are read from its files as for any Run (a page that follows a running
    job sees each change). `listed` is the status as listed."""

    def __init__(self, path, config, summary, problem, created, listed, epoch_s=None):
        super().__init__(path)
        self._config, self._summary, self._problem, self._created = config, summary, problem, created
        self._listed = listed
        self.epoch_s = epoch_s  # the median seconds of its epochs (metrics' time_s), None before the first

    def config_dict(self):
        """config.to_dict() of a healthy run, without building the config."""
        return copy.deepcopy(self._config)

    @property
    def listed(self):
        return dict(self._listed)

    @property
    def config(self):
        if self._config is None:  # damaged: Run.config raises and says why
            return super().config
        return JobConfig.from_dict(self._config)  # a fresh object: a page may change it, the index never

    @property
    def problem(self):
        return self._problem

    def created(self, status=None):  # as read when the entry was made
        return self._created

    def summary(self):
        if self._problem:  # damaged: Run.summary raises or reads what is there
            return super().summary()
        return copy.deepcopy(self._summary)


def _stamp(path):
    """What changes when the folder or one of its watched files is written, replaced, removed or linked."""
    out = []
    for name in (None, *(FILES[role] for role in _WATCHED)):
        try:
            st = os.lstat(path if name is None else os.path.join(path, name))
        except OSError:
            out.append(None)
            continue
        out.append((st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_mode))
    return tuple(out)


def _newest_ns(stamp):
    """The latest content change in `stamp` (mtime, as git's racy check: a change of the inode alone, a chmod,
    changes the stamp's ctime and so is seen anyway; a write is what can hide inside a clock tick)."""
    return max((s[2] for s in stamp if s), default=0)


def _read(path):
    run = Run(path)
    problem, config, status, summary, metrics = run.check()  # each file read once
    if problem:
        return IndexedRun(path, None, None, problem, run.created(), run.status())
    return IndexedRun(path, config.to_dict(), summary, None, run.created(status), status,
                      median_epoch_seconds(metrics))


class RunIndex:
    """The entries of one runs folder: {run id: (stamp, IndexedRun, read at ns)}."""

    def __init__(self, folder):
        self.folder = folder
        self.entries = {}
        self.reads = 0  # run folders read so far (what a test and the bench look at)
        self._lock = threading.Lock()  # sessions of one server list at once

    def _entry(self, name, old):
        """(stamp, IndexedRun, read at) of run folder `name`: `old` while none of its files changed, else read
        afresh; None when it is no run folder (gone, or neither config nor status: sweeps/)."""
        path = os.path.join(self.folder, name)
        stamp = _stamp(path)
        if stamp[1] is None and stamp[2] is None:
            return None
        if old and old[0] == stamp and old[2] - _newest_ns(stamp) > RACY_NS:
            return old
        read_at = time.time_ns()
        self.reads += 1
        return stamp, _read(self.folder / name), read_at

    def runs(self):
        """Every run folder, oldest first, as IndexedRuns; a folder is read only when it changed."""
        try:
            names = [e.name for e in os.scandir(self.folder) if _is_run_id(e.name)]
        except (FileNotFoundError, NotADirectoryError):  # no runs folder yet (or a file there): no runs, as list_runs
            names = []
        with self._lock:
            fresh = {name: entry for name in names if (entry := self._entry(name, self.entries.get(name)))}
            self.entries = fresh
        return sorted((entry[1] for entry in fresh.values()), key=lambda r: (r.created(), r.id))

    def get(self, run_id):
        """The IndexedRun of `run_id`, None when there is no such run folder; only that folder is looked at."""
        if not _is_run_id(run_id):
            return None
        with self._lock:
            entry = self._entry(run_id, self.entries.get(run_id))
            if entry is None:
                self.entries.pop(run_id, None)
                return None
            self.entries[run_id] = entry
            return entry[1]


_INDEXES = {}
_INDEXES_LOCK = threading.Lock()


def index_of(runs_dir=None):
    """This process's index of `runs_dir` (made at first use)."""
    folder = default_runs_dir(runs_dir).resolve()
    with _INDEXES_LOCK:
        return _INDEXES.setdefault(folder, RunIndex(folder))


def indexed_runs(runs_dir=None):
    """runs.list_runs from the index: the same runs in the same order, each an IndexedRun."""
    return index_of(runs_dir).runs()


# What may differ between a transfer run and its scratch twin (same data, seed, fraction and the rest).
TWIN_FIELDS = ("strategy", "pretrained", "name")


def scratch_twin(run, runs_dir=None):
    """The newest finished scratch run whose config equals `run`'s but for TWIN_FIELDS, else None."""
    key = {k: v for k, v in run.config.to_dict().items() if k not in TWIN_FIELDS}
    for other in reversed(indexed_runs(runs_dir if runs_dir is not None else run.runs_dir)):
        if other.id == run.id or other.problem is not None or other.listed["state"] != "done":
            continue
        cfg = other._config  # only read here: no copy
        if cfg["strategy"] == "scratch" and {k: v for k, v in cfg.items() if k not in TWIN_FIELDS} == key:
            return other
    return None
