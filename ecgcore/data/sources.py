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
import json
import math
from pathlib import Path

from ecgcore.data.dataset import META_FILE, DataSet

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


def check_spec(spec, where="data"):
    """Raise ValueError naming the option when `spec` cannot build a data set; cheap checks only (options the
    source takes, value ranges, that named files and folders exist), no data is read. {} (the default) passes.
    Run when a job is submitted, so a bad spec fails at once, not minutes later inside the job."""
    if spec == {}:
        return spec
    if not isinstance(spec, dict) or "source" not in spec:
        raise ValueError(f"{where}: a data spec is a dict with a 'source' key, got {spec!r}")
    source = spec["source"]
    options = {k: v for k, v in spec.items() if k not in ("source", "report")}
    if source == "npz":
        _check_options(where, source, options, {"path"}, {"path"})
        _check_path(where, options["path"], file=None)  # a data set .npz or folder
        return spec
    if source not in SOURCES:
        raise ValueError(f"{where}: unknown data source {source!r}; choose one of {sorted([*SOURCES, 'npz'])}")
    module, func = SOURCES[source]
    params = inspect.signature(getattr(importlib.import_module(module), func)).parameters
    accepted = {name for name in params if name != "progress"}
    if source == "synthetic" and "stream" in options:  # the synthetic stream (ecgcore.data.stream)
        accepted |= {"stream", "n_val", "n_test"}
    required = {name for name, p in params.items() if p.default is inspect.Parameter.empty}
    _check_options(where, source, options, accepted, required)
    for name, value in options.items():
        rule = _OPTION_RULES.get(name)
        if rule and not (value is None and params[name].default is None):
            problem = rule(value)
            if problem:
                raise ValueError(f"{where}.{name}={value!r} is invalid: {problem}")
    if source in ("ptbxl", "measured"):
        from ecgcore.data.ptbxl import DATABASE_CSV, check_rate

        path = _check_path(where, options["path"], file=None if source == "measured" else False)
        if path.is_dir() and not (path / DATABASE_CSV).is_file():
            raise ValueError(f"{where}.path: {path / DATABASE_CSV} is missing: not a PTB-XL folder")
        if path.is_dir():
            try:
                check_rate(options.get("fs", 100))
            except ValueError as e:
                raise ValueError(f"{where}.{e}") from None
    if source == "synthetic":
        from ecgcore.data.synthetic import ENGINES
        from ecgcore.synth.parametric import check_fs
        from ecgcore.synth.presets import resolve_classes

        if options.get("engine", "parametric") not in ENGINES:
            raise ValueError(f"{where}.engine={options['engine']!r} is unknown; choose one of {ENGINES}")
        try:
            resolve_classes(options.get("classes"))
            check_fs(options.get("fs", 100))
        except ValueError as e:
            raise ValueError(f"{where}.{e}") from None
        if options.get("stream"):
            from ecgcore.data.stream import SyntheticStream

            try:
                SyntheticStream(spec)  # its own options: n, n_val, n_test, engine
            except ValueError as e:
                raise ValueError(f"{where}: {e}") from None
    if source == "mixed":
        check_spec({"source": "measured", **(options.get("real") or {})}, f"{where}.real")
        check_spec({"source": "synthetic", **(options.get("synthetic") or {})}, f"{where}.synthetic")
    return spec


def _check_options(where, source, options, accepted, required):
    unknown = sorted(set(options) - accepted)
    if unknown:
        raise ValueError(f"{where}: source {source!r} has no option(s) {unknown}; it takes {sorted(accepted)}")
    missing = sorted(required - set(options))
    if missing:
        raise ValueError(f"{where}: source {source!r} needs the option(s) {missing}")


def _check_path(where, value, file=False):
    """The path `value` names; ValueError unless it exists (a file when `file`, a folder when False, either
    when None)."""
    path = Path(str(value)).expanduser()
    ok = path.exists() if file is None else path.is_file() if file else path.is_dir()
    if not ok:
        kind = "file or folder" if file is None else "file" if file else "folder"
        raise ValueError(f"{where}.path={str(value)!r}: no such {kind}")
    return path


def _whole(low):
    return lambda v: None if isinstance(v, int) and not isinstance(v, bool) and v >= low \
        else f"must be a whole number >= {low}"


def _positive(v):
    ok = isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and v > 0
    return None if ok else "must be a finite number > 0"


def _share(v):
    ok = isinstance(v, (int, float)) and not isinstance(v, bool) and 0 <= v <= 1
    return None if ok else "must be a number in [0, 1]"


# value rules by option name, shared by every source that takes the option (the sources check the rest)
_OPTION_RULES = {"n": _whole(1), "seed": _whole(0), "batch_size": _whole(1), "fs": _positive,
                 "duration": _positive, "ratio": _share}


def load_dataset(spec, progress=None):
    """Build (or fetch from cache) the DataSet that `spec` describes; a "report" key is ignored (see above).
    progress: optional callable given the share built (0-1), for the sources that report it, and the stage's name
    as a second argument for a stage after the first (e.g. "measuring the ECGs")."""
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
        # the synthetic sources report a share, the PTB-XL readers (records done, records in all); a source with
        # several stages (the measured one: reading, then measuring) names the later ones
        def share(done, total=1, stage=None):
            value = done / total if total else 1.0
            return progress(value) if stage is None else progress(value, stage)

        options["progress"] = share
    return loader(**options)


def parse_spec(text, what="data spec"):
    """A data spec from text: inline JSON, a .json spec file, a data set folder or .npz (ecgcore.data.dataset);
    errors say `what` was given (the CLI says "--data", a page "data spec")."""
    if text.lstrip().startswith("{"):
        try:
            spec = json.loads(text)
        except json.JSONDecodeError as e:
            raise ValueError(f"{what} is not valid JSON: {e}") from None
    elif text.endswith(".npz") or (Path(text) / META_FILE).is_file():  # a saved data set (.npz or folder)
        if not Path(text).exists():
            raise FileNotFoundError(f"{what}: data set file not found: {text}")
        spec = {"source": "npz", "path": str(Path(text).resolve())}
    elif text.endswith(".json"):
        try:
            spec = json.loads(Path(text).read_text())
        except FileNotFoundError:
            raise FileNotFoundError(f"{what}: spec file not found: {text}") from None
        except json.JSONDecodeError as e:
            raise ValueError(f"{what}: {text} is not valid JSON: {e}") from None
    else:
        raise ValueError(f"{what} {text!r}: give inline JSON, a spec .json file, a data set folder or a data set "
                         ".npz")
    if not isinstance(spec, dict) or "source" not in spec:
        raise ValueError(f"{what}: a data spec is a JSON object with a 'source' key, got {spec!r}")
    return spec


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
