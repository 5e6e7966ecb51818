"""One entry point from a data spec (a JSON-serialisable dict) to a DataSet, whatever the source.

A spec is `{"source": NAME, ...options}`. Each source's module owns its options; this table only routes.
  synthetic : ecgcore.data.synthetic.make_dataset(**options)     (engine "parametric" or "ecgsyn"; with
              "stream": true, ecgcore.data.stream: training draws fresh records, this loads its fixed holdout)
  gan       : ecgcore.data.synthetic.make_gan_dataset(**options) (DeepFake ECG GAN, measured labels)
  ptbxl     : ecgcore.data.ptbxl.load_ptbxl(**options)           (real ECGs, diagnostic labels)
  measured  : ecgcore.data.measured.make_dataset(**options)      (real ECGs, measured regression targets)
  mixed     : ecgcore.data.measured.mixed_dataset(**options)
  npz       : DataSet.load(path)                               (a saved data set: a folder, or one .npz)

Config convention: a DataSet's config is the spec that rebuilds it, plus an optional "report" dict of what the
source measured while building (counts kept and dropped, per-fold tallies, ...). load_dataset ignores "report",
so load_dataset(dataset.config) makes the same data set again.
"""

from __future__ import annotations

import importlib
import inspect

from ecgcore.data.dataset import DataSet

SOURCES = {
    "synthetic": ("ecgcore.data.synthetic", "make_dataset"),
    "gan": ("ecgcore.data.synthetic", "make_gan_dataset"),
    "ptbxl": ("ecgcore.data.ptbxl", "load_ptbxl"),
    "measured": ("ecgcore.data.measured", "make_dataset"),
    "mixed": ("ecgcore.data.measured", "mixed_dataset"),
}

# With no data argument, pretraining and fine-tuning use these small embedded synthetic sets.
DEFAULT_PRETRAIN_DATA = {"source": "synthetic", "n": 2000, "fs": 100, "seed": 0}
DEFAULT_FINETUNE_DATA = {"source": "synthetic", "n": 2000, "fs": 100, "seed": 1,
                         "classes": ["NORM", "MI", "STTC", "CD", "HYP"]}


def default_data(task):
    """The data spec a `task` ("pretrain"/"finetune") trains on when its config gives none."""
    return DEFAULT_PRETRAIN_DATA if task == "pretrain" else DEFAULT_FINETUNE_DATA


def load_dataset(spec, progress=None):
    """Build (or fetch from cache) the DataSet that `spec` describes; a "report" key is ignored (see above).
    progress: optional callable given the share built (0-1), for the sources that report it."""
    if not isinstance(spec, dict) or "source" not in spec:
        raise ValueError(f"a data spec is a dict with a 'source' key, got {spec!r}")
    options = {k: v for k, v in spec.items() if k not in ("source", "report")}
    source = spec["source"]
    if source == "npz":
        return DataSet.load(options["path"])
    if source == "synthetic" and spec.get("stream"):  # a stream has no records to load but its fixed holdout
        from ecgcore.data.stream import SyntheticStream

        return SyntheticStream(spec).holdout()[0]
    if source not in SOURCES:
        raise ValueError(f"unknown data source {source!r}; choose one of {sorted([*SOURCES, 'npz'])}")
    module, func = SOURCES[source]
    loader = getattr(importlib.import_module(module), func)
    if progress is not None and "progress" in inspect.signature(loader).parameters:
        # the synthetic sources report a share, the PTB-XL readers (records done, records in all)
        options["progress"] = lambda done, total=1: progress(done / total if total else 1.0)
    return loader(**options)


def data_rate(spec):
    """The sampling rate (Hz) of the data `spec` describes, without building it: the spec's "fs", else its
    loader's default (mixed: its real part's), a stored data set's (folder or .npz) own rate."""
    if not spec:
        raise ValueError("data_rate needs a data spec (the defaults are DEFAULT_PRETRAIN_DATA and "
                         "DEFAULT_FINETUNE_DATA)")
    source = spec.get("source")
    if source == "npz":
        from pathlib import Path

        import numpy as np

        if Path(spec["path"]).is_dir():  # a data set folder: its signals are memory-mapped, not read
            return float(DataSet.load(spec["path"]).fs)
        with np.load(spec["path"], allow_pickle=False) as z:  # reads the one array asked for
            return float(z["fs"])
    if "fs" in spec:
        return float(spec["fs"])
    if source == "mixed":
        return data_rate({"source": "measured", **spec["real"]})
    if source not in SOURCES:
        raise ValueError(f"unknown data source {source!r}; choose one of {sorted([*SOURCES, 'npz'])}")
    module, func = SOURCES[source]
    return float(inspect.signature(getattr(importlib.import_module(module), func)).parameters["fs"].default)
