"""On-disk cache of data sets keyed by the config that makes them: same config -> same file, no rebuild."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from ecgcore.data.dataset import DataSet


def cache_dir():
    """`$ECGCORE_CACHE`, else `~/.cache/ecgcore`."""
    return Path(os.environ.get("ECGCORE_CACHE") or Path.home() / ".cache" / "ecgcore")


def config_key(config):
    """A stable hash of a JSON-serialisable config (key order does not matter)."""
    text = json.dumps(config, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def cache_path(config, kind="dataset"):
    return cache_dir() / f"{kind}-{config_key(config)}.npz"


def cached(config, build, kind="dataset"):
    """Return the cached DataSet for `config`, building and saving it with `build()` on a miss."""
    path = cache_path(config, kind)
    if path.is_file():
        try:
            return DataSet.load(path)
        except ValueError:
            path.unlink(missing_ok=True)  # a damaged cache entry is rebuilt, not trusted
    dataset = build()
    dataset.save(path)
    return dataset
