"""On-disk cache of data sets keyed by the config that makes them: same config -> same entry, no rebuild.

An entry is a data set folder (ecgcore.data.dataset) named KIND-KEY. It is built once: the builder holds the
lock of KIND-KEY.partial (ecgcore.files.locked), writes into that folder and renames it to KIND-KEY when the
data set is complete. Builders that come while it works wait for the lock, then find the finished entry and
read it (several jobs or Ray workers starting on one uncached set: one builds, the rest reuse it). A
.partial folder is never read as a data set; one left by a killed builder is cleared by the next builder, or,
for a resumable build (`resume=True`), continued where it stopped. Entries of the older one-file format
(KIND-KEY.npz) are still read.

A finished entry's files are read-only on disk, and nothing outside the cache links to them (`DataSet.save`
copies). An entry proven damaged when opened (`dataset.Damaged`) is moved aside and rebuilt, once, with a
notice on stderr; any other error (too many open files, EIO, a full disk) is raised and the entry kept.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import sys
from pathlib import Path

from ecgcore.data.dataset import DataSet, Damaged, replace_folder
from ecgcore.files import locked


def cache_dir():
    """`$ECGCORE_CACHE`, else `~/.cache/ecgcore`."""
    return Path(os.environ.get("ECGCORE_CACHE") or Path.home() / ".cache" / "ecgcore")


def config_key(config):
    """A stable hash of a JSON-serialisable config (key order does not matter)."""
    text = json.dumps(config, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def cache_path(config, kind="dataset"):
    """The entry's folder (it exists only once the data set is complete)."""
    return cache_dir() / f"{kind}-{config_key(config)}"


def cached(config, build, kind="dataset", chunked=False, resume=False):
    """The cached DataSet for `config`, built on a miss and stored (see the module docstring).

    build() returns the DataSet; with chunked=True, build(folder) writes it into `folder` itself (with a
    dataset.Writer, a block at a time) and returns nothing. resume=True (chunked builds only): what an
    interrupted build left in the folder is kept for build() to go on from; otherwise it is cleared first.
    """
    entry = cache_path(config, kind)
    partial = entry.with_name(entry.name + ".partial")
    while True:
        found = _read(entry)
        if found is not None:
            return found
        partial.mkdir(parents=True, exist_ok=True)
        try:
            with locked(partial, wait_s=None):  # a builder is waited for as long as it works
                found = _read(entry)  # a builder we waited for finished it
                if found is not None:
                    _remove_if_empty(partial)
                    return found
                if not partial.is_dir():  # it was renamed to `entry` between our mkdir and the lock
                    continue
                if not resume:
                    _clear(partial)  # a killed builder's leftovers
                if chunked:
                    build(partial)
                    dataset = None
                else:
                    dataset = build()
                    dataset.write_folder(partial)
                _read_only(partial)
                replace_folder(partial, entry)
                return DataSet.load(entry) if dataset is None else dataset
        except FileNotFoundError:
            if not partial.exists() and entry.is_dir():  # the winner renamed it before we locked it
                continue
            raise


def _read(entry):
    """The finished entry's DataSet, or None (missing; a damaged one is removed to be rebuilt)."""
    legacy = entry.with_name(entry.name + ".npz")
    for path in (entry, legacy):
        if path.exists():
            try:
                _no_links(path)
                return DataSet.load(path)
            except Damaged as e:
                # a damaged entry is rebuilt, not trusted; moved aside first so no reader sees it half-deleted
                print(f"ecgcore: the cached data set {path.name} was damaged ({e}); it is rebuilt", file=sys.stderr)
                aside = path.with_name(path.name + f".damaged-{os.getpid()}")
                try:
                    os.replace(path, aside)
                except FileNotFoundError:  # another reader moved it first
                    continue
                shutil.rmtree(aside, ignore_errors=True) if aside.is_dir() else aside.unlink(missing_ok=True)
    return None


def _no_links(entry):
    """Damaged when the entry, or a file in it, is a symbolic link: the cache makes none, and reading through
    one would train on whatever it points at."""
    for path in (entry, *(entry.iterdir() if entry.is_dir() and not entry.is_symlink() else ())):
        if path.is_symlink():
            raise Damaged(f"{path} is a link (to {os.readlink(path)}): a cache entry holds no links")


def _read_only(folder):
    """Take the write bits off a finished entry's files: an entry is never edited, only replaced."""
    for child in Path(folder).iterdir():
        if child.is_file():
            child.chmod(child.stat().st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))


def _remove_if_empty(folder):
    try:
        os.rmdir(folder)  # the empty .partial a late builder made; any other builder finds the entry
    except OSError:
        pass


def _clear(folder):
    for child in Path(folder).iterdir():
        shutil.rmtree(child) if child.is_dir() else child.unlink()
