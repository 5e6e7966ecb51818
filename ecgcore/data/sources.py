"""Data sources behind one typed interface: a data spec -> the source's options -> a DataSet.

A data spec is the JSON dict configs hold, `{"source": NAME, ...options}`; a run's config.json keeps it as given.
`parse(spec)` turns it into the source's options dataclass at the door: an unknown or missing option, a wrong
type or a value out of range is a ValueError naming the option, the value and what is allowed. Each options
class then answers, without reading data:
  check_paths(where)  the files and folders it names exist and are what it needs
  rate()              the sampling rate (Hz) of the records it gives
  targets()           the regression targets it gives (None: unknown before loading)
  labels()            the label modes its class labels serve: "single" (`label`), "multi" (`multilabel`)
  shape()             (records, leads, samples) of the set it gives, when the spec says (else None)
and `load(progress)` builds (or fetches from the cache) the DataSet with its source's loader:
  synthetic : Synthetic -> ecgcore.data.synthetic.make_dataset (engine "parametric" or "ecgsyn")
              with "stream": true, Stream -> ecgcore.data.stream: training draws fresh records, load gives
              its fixed holdout
  gan       : Gan -> ecgcore.data.synthetic.make_gan_dataset (DeepFake ECG GAN, measured labels)
  ptbxl     : Ptbxl -> ecgcore.data.ptbxl.load_ptbxl (real ECGs, diagnostic labels)
  measured  : Measured -> ecgcore.data.measured.make_dataset (real ECGs, measured regression targets)
  mixed     : Mixed (a Measured and a Synthetic part) -> ecgcore.data.measured.mixed_dataset
  npz       : Stored -> DataSet.load (a saved data set: a folder, or one .npz)
The loaders' modules are imported by load() only: pandas, wfdb and torch load when data is built, not at the door.

Config convention: a DataSet's config is the spec that rebuilds it, plus an optional "report" dict of what the
source measured while building (counts kept and dropped, per-fold tallies, ...). parse ignores "report", so
load_dataset(dataset.config) makes the same data set again.
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import MISSING, asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import ClassVar

import numpy as np

from ecgcore.config import is_number, is_whole
from ecgcore.data.dataset import META_FILE, RECORDS_FILE, SIGNALS_FILE, DataSet
from ecgcore.data.measure import INTERVAL_TARGETS, morphology_targets
from ecgcore.data.synthetic import ENGINES, make_dataset, make_gan_dataset
from ecgcore.labels import RHYTHM_TARGETS, TARGETS
from ecgcore.leads import LEAD_SETS, LEADS, resolve_leads
from ecgcore.synth.gan import GAN_SECONDS, MIN_SECONDS
from ecgcore.synth.parametric import DURATION_RANGE, check_fs
from ecgcore.synth.params import PARAMS
from ecgcore.synth.presets import DIFFICULTIES, resolve_classes, resolve_rhythms

# With no data argument, pretraining and fine-tuning use these small embedded synthetic sets.
DEFAULT_PRETRAIN_DATA = {"source": "synthetic", "n": 2000, "fs": 100, "seed": 0}
DEFAULT_FINETUNE_DATA = {"source": "synthetic", "n": 2000, "fs": 100, "seed": 1,
                         "classes": ["NORM", "MI", "STTC", "CD", "HYP"]}
NPZ_ARRAYS = ("signals.npy", "fs.npy", "lead_names.npy")  # what a data set .npz holds at least (DataSet._save_npz)


def default_data(task):
    """The data spec a `task` ("pretrain"/"finetune") trains on when its config gives none."""
    return DEFAULT_PRETRAIN_DATA if task == "pretrain" else DEFAULT_FINETUNE_DATA


# --- checks of one option: each raises ValueError "{where}.{name}={value!r} is invalid: must be ..." ---------

def _must(where, name, value, ok, rule):
    if not ok:
        raise ValueError(f"{where}.{name}={value!r} is invalid: must be {rule}")


def _whole(where, name, value, low, optional=False):
    if not (optional and value is None):
        _must(where, name, value, is_whole(value) and value >= low,
              f"a whole number >= {low}" + (" or null" if optional else ""))


def _flag(where, name, value):
    _must(where, name, value, isinstance(value, bool), "true or false")


def _within(where, name, value, low, high, unit):
    _must(where, name, value, is_number(value) and low <= value <= high, f"a number in [{low:g}, {high:g}] {unit}")


def _prefixed(where, check, *args):
    """Run a check of a lower floor (its message names the option) with `where.` in front of its message."""
    try:
        return check(*args)
    except ValueError as e:
        raise ValueError(f"{where}.{e}") from None


def _folds(where, name, value):
    if value is not None:
        _must(where, name, value, isinstance(value, list) and value and all(is_whole(f) for f in value),
              "a list of fold numbers, or null")


def _leads(where, name, value):
    _must(where, name, value, isinstance(value, (str, list)), "'all', 'paper8' or a list of lead names")
    _prefixed(where, resolve_leads, value)


def _path(where, value, kind):
    """The path `value` names; ValueError unless it exists (kind "file", "folder" or "file or folder")."""
    path = Path(str(value)).expanduser()
    ok = {"file": path.is_file, "folder": path.is_dir, "file or folder": path.exists}[kind]()
    if not ok:
        raise ValueError(f"{where}.path={str(value)!r}: no such {kind}")
    return path


# --- the sources ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Source:
    """What every source's options answer (see the module docstring)."""

    name: ClassVar[str]

    def check(self, where="data"):
        """Types and ranges of every option (no file is opened)."""

    def check_paths(self, where="data"):
        """The files and folders the options name (no data is read)."""

    def rate(self):
        return float(self.fs)

    def targets(self):
        return tuple(TARGETS)

    def labels(self):
        return set()

    def shape(self):
        return None

    def load(self, progress=None):
        raise NotImplementedError

    @classmethod
    def from_options(cls, options, where):
        return cls(**options)

    def normal(self):
        """The same options, each in the one form its loader records (checked options only)."""
        return self

    def to_spec(self):
        return {"source": self.name, **asdict(self)}


@dataclass(frozen=True)
class Made(Source):
    """The options of the sources that make their records: n records of `duration` s at `fs` Hz from `seed`."""

    n: int = 1000
    fs: float = 100
    duration: float = 10.0
    seed: int = 0
    least: ClassVar[int] = 1  # records at least
    durations: ClassVar[tuple] = (*DURATION_RANGE, "s")  # (shortest, longest, unit and why)

    def check(self, where="data"):
        _whole(where, "n", self.n, self.least)
        _must(where, "fs", self.fs, is_number(self.fs), "a number of Hz")
        _prefixed(where, check_fs, self.fs)
        _within(where, "duration", self.duration, *self.durations)
        _whole(where, "seed", self.seed, 0)


@dataclass(frozen=True)
class Synthetic(Made):
    """Records from the parametric engine or ECGSYN, exact labels (ecgcore.data.synthetic.make_dataset)."""

    name: ClassVar[str] = "synthetic"
    classes: object = None  # None, "all", "NORM,MI" or a list of class names
    engine: str = "parametric"
    noise: bool = True
    ranges: dict | None = None
    difficulty: str = "easy"
    rhythms: object = None  # None (sinus), "all", "afib,vt" or a list of rhythm names
    engines: ClassVar[tuple] = ENGINES

    def check(self, where="data"):
        super().check(where)
        _must(where, "classes", self.classes, self.classes is None or isinstance(self.classes, (str, list)),
              "null, 'all', 'NORM,MI' or a list of class names")
        _prefixed(where, resolve_classes, self.classes)
        _must(where, "rhythms", self.rhythms, self.rhythms is None or isinstance(self.rhythms, (str, list)),
              "null, 'all', 'afib,vt' or a list of rhythm names")
        _prefixed(where, resolve_rhythms, self.rhythms)
        _must(where, "engine", self.engine, self.engine in self.engines, f"one of {self.engines}")
        for option in ("classes", "rhythms"):
            if self.engine == "ecgsyn" and getattr(self, option) is not None:
                raise ValueError(f"{where}.{option}: engine 'ecgsyn' draws normal records only; {option} need "
                                 "engine 'parametric'")
        _flag(where, "noise", self.noise)
        _must(where, "ranges", self.ranges, self.ranges is None or isinstance(self.ranges, dict),
              "a dict {parameter: [low, high] | value | [choices]}, or null")
        unknown = sorted(set(self.ranges or {}) - set(PARAMS))
        _must(where, "ranges", self.ranges, not unknown,
              f"keyed by engine parameters (ecgcore.synth.PARAMS); {', '.join(unknown)} is not one")
        _must(where, "difficulty", self.difficulty,
              isinstance(self.difficulty, str) and self.difficulty in DIFFICULTIES, f"one of {tuple(DIFFICULTIES)}")

    def normal(self):  # "all" -> the names
        return replace(self, classes=resolve_classes(self.classes), rhythms=resolve_rhythms(self.rhythms))

    def labels(self):
        return {"single"} if self.classes or self.rhythms else set()

    def targets(self):
        return (*TARGETS, *(RHYTHM_TARGETS if self.rhythms else ()))

    def shape(self):
        return self.n, len(LEADS), int(round(self.duration * self.fs))  # the engines make all 12 leads

    def load(self, progress=None):
        return make_dataset(**asdict(self), progress=progress)


@dataclass(frozen=True)
class Stream(Synthetic):
    """The synthetic stream (ecgcore.data.stream): fresh records every batch; its spec has "stream": true.
    n is the records of one epoch; n_val / n_test the fixed holdout's (None: the run's val_size / test_size)."""

    n_val: int | None = None
    n_test: int | None = None
    least: ClassVar[int] = 2
    engines: ClassVar[tuple] = ("parametric",)
    HOLDOUT_MAX: ClassVar[int] = 2000  # fixed validation (and test) records at most: enough for stable metrics

    def check(self, where="data"):
        _must(where, "engine", self.engine, self.engine in self.engines,
              "'parametric': the stream draws from the parametric engine only")
        super().check(where)
        _whole(where, "n_val", self.n_val, 0, optional=True)
        _whole(where, "n_test", self.n_test, 1, optional=True)

    def shape(self):
        return None  # no set is built: batches are made as training goes

    def holdout(self, val_size, test_size):
        """(n_val, n_test): the fixed validation and test records, by default the run's shares of n."""
        n_val = self.n_val if self.n_val is not None else min(self.HOLDOUT_MAX, round(val_size * self.n))
        n_test = self.n_test if self.n_test is not None else min(self.HOLDOUT_MAX, round(test_size * self.n))
        if n_test < 1:
            raise ValueError(f"synthetic stream: n_test={n_test} (test_size={test_size} of n={self.n}): the test "
                             "needs at least one record; give n_test")
        return n_val, n_test

    @staticmethod
    def fraction_problem(fraction):
        """Why `fraction` is refused on a stream (the door and fit say the same); None for 1."""
        if fraction != 1:
            return (f"fraction={fraction!r} has no meaning on a synthetic stream: every batch is fresh records, "
                    "there is no labelled training set to take a share of; set the stream's n (records per epoch) "
                    "instead")

    def to_spec(self):
        return {**super().to_spec(), "stream": True}

    def load(self, progress=None):
        """The stream's fixed holdout (validation + test records): the only records it keeps."""
        from ecgcore.data.stream import SyntheticStream

        return SyntheticStream(self).holdout()[0]


@dataclass(frozen=True)
class Gan(Made):
    """DeepFake ECG GAN records with measured labels (ecgcore.data.synthetic.make_gan_dataset)."""

    name: ClassVar[str] = "gan"
    leads: str = "all"
    batch_size: int = 64
    durations: ClassVar[tuple] = (MIN_SECONDS, GAN_SECONDS, "s (a crop of the GAN's 10 s records)")

    def check(self, where="data"):
        super().check(where)
        _must(where, "leads", self.leads, isinstance(self.leads, str) and self.leads in LEAD_SETS,
              f"one of {sorted(LEAD_SETS)}")
        _whole(where, "batch_size", self.batch_size, 1)

    def shape(self):
        return self.n, len(LEAD_SETS[self.leads]), int(round(self.duration * self.fs))

    def load(self, progress=None):
        return make_gan_dataset(**asdict(self), progress=progress)


@dataclass(frozen=True)
class Real(Source):
    """The options of the sources of real ECGs: a PTB-XL folder at `path` (fs 100 or 500 Hz), its leads, and
    the folds to read and to hold out (None: all, auto)."""

    path: str
    fs: int = 100
    leads: object = "all"  # "all", "paper8" or a list of lead names
    val_fold: int | None = None
    test_fold: int | None = None
    folds: list | None = None

    def check(self, where="data"):
        _must(where, "path", self.path, isinstance(self.path, str) and self.path, "a path")
        _leads(where, "leads", self.leads)
        _whole(where, "val_fold", self.val_fold, 1, optional=True)
        _whole(where, "test_fold", self.test_fold, 1, optional=True)
        _folds(where, "folds", self.folds)


@dataclass(frozen=True)
class Ptbxl(Real):
    """A PTB-XL folder: real ECGs with diagnostic labels (ecgcore.data.ptbxl.load_ptbxl)."""

    name: ClassVar[str] = "ptbxl"
    statements: str = "diagnostic"  # the classes: the diagnostic superclasses, or "rhythm": the rhythm statements

    def check(self, where="data"):
        super().check(where)
        _ptbxl_rate(where, self.fs)
        _must(where, "statements", self.statements, self.statements in ("diagnostic", "rhythm"),
              "'diagnostic' (the 5 diagnostic superclasses) or 'rhythm' (the rhythm statements)")

    def check_paths(self, where="data"):
        _ptbxl_folder(where, _path(where, self.path, "folder"))

    def targets(self):
        return ()  # diagnostic labels only: the measured source measures regression targets on these ECGs

    def labels(self):
        return {"single", "multi"}

    def load(self, progress=None):
        from ecgcore.data.ptbxl import load_ptbxl

        return load_ptbxl(**asdict(self), progress=progress)


def _ptbxl_rate(where, fs):
    from ecgcore.data.ptbxl import check_rate  # pandas and wfdb only for PTB-XL specs

    _must(where, "fs", fs, is_number(fs), "100 or 500 (Hz)")
    _prefixed(where, check_rate, fs)


def _ptbxl_folder(where, path):
    from ecgcore.data.ptbxl import DATABASE_CSV

    if not (path / DATABASE_CSV).is_file():
        raise ValueError(f"{where}.path: {path / DATABASE_CSV} is missing: not a PTB-XL folder")


@dataclass(frozen=True)
class Measured(Real):
    """Real ECGs (a PTB-XL folder or a saved data set) with targets measured by neurokit2, training folds only
    (ecgcore.data.measured.make_dataset)."""

    name: ClassVar[str] = "measured"
    morphology: bool = True
    interval_leads: list | None = None

    def check(self, where="data"):
        super().check(where)
        _must(where, "fs", self.fs, is_number(self.fs), "a number of Hz")
        _flag(where, "morphology", self.morphology)
        if self.interval_leads is not None:
            _leads(where, "interval_leads", self.interval_leads)

    def check_paths(self, where="data"):
        path = _path(where, self.path, "file or folder")
        if path.is_dir() and not (path / META_FILE).is_file():
            _ptbxl_folder(where, path)
            _ptbxl_rate(where, self.fs)  # a stored set keeps its own rate
        else:
            self._stored().check_paths(where)

    def _stored(self):
        return Stored(path=self.path)

    def _is_stored(self):
        path = Path(self.path).expanduser()
        return path.is_file() or (path / META_FILE).is_file()

    def rate(self):
        return self._stored().rate() if self._is_stored() else float(self.fs)  # a stored set keeps its rate

    def targets(self):
        leads = self._stored().header()["lead_names"] if self._is_stored() else resolve_leads(self.leads)
        return (*INTERVAL_TARGETS, *(morphology_targets(leads) if self.morphology else ()))

    def load(self, progress=None):
        from ecgcore.data.measured import make_dataset

        return make_dataset(**asdict(self), progress=progress)


@dataclass(frozen=True)
class Mixed(Source):
    """Measured-real and synthetic records together at a ratio (ecgcore.data.measured.mixed_dataset). The
    synthetic part is made at the real part's rate unless its options name one (then it is resampled)."""

    name: ClassVar[str] = "mixed"
    real: Measured
    synthetic: Synthetic = field(default_factory=Synthetic)
    ratio: float = 0.5
    n: int | None = None
    seed: int = 0

    @classmethod
    def from_options(cls, options, where):
        real, synthetic = options.pop("real", None), options.pop("synthetic", None)
        for name, part in (("real", real), ("synthetic", synthetic)):
            _must(where, name, part, isinstance(part, dict) or (name == "synthetic" and part is None),
                  "a dict of the part's options")
        real = parse({"source": "measured", **real}, f"{where}.real")
        synthetic = parse({"source": "synthetic", "fs": real.rate(), **(synthetic or {})}, f"{where}.synthetic")
        return cls(real=real, synthetic=synthetic, **options)

    def check(self, where="data"):
        _within(where, "ratio", self.ratio, 0, 1, "(the share of real records)")
        _whole(where, "n", self.n, 1, optional=True)
        _whole(where, "seed", self.seed, 0)

    def check_paths(self, where="data"):
        self.real.check_paths(f"{where}.real")

    def rate(self):
        return self.real.rate()

    def targets(self):
        return tuple(dict.fromkeys([*self.real.targets(), *self.synthetic.targets()]))

    def load(self, progress=None):
        from ecgcore.data.measured import mixed_dataset

        return mixed_dataset(self.real.load(progress), self.synthetic.load(), ratio=self.ratio, n=self.n,
                             seed=self.seed)


@dataclass(frozen=True)
class Stored(Source):
    """A saved data set: a folder (signals memory-mapped) or one .npz (DataSet.load)."""

    name: ClassVar[str] = "npz"
    path: str

    def check(self, where="data"):
        _must(where, "path", self.path, isinstance(self.path, str) and self.path, "a data set folder's or .npz's path")

    def check_paths(self, where="data"):
        _path(where, self.path, "file or folder")
        self.header(where)

    def header(self, where="data"):
        """{"n", "fs", "lead_names", "samples", "target_names"} read from the set's small files and array
        headers; ValueError saying why when the path is not an ecgcore data set."""
        path = Path(self.path).expanduser()
        try:
            return _folder_header(path) if path.is_dir() else _npz_header(path)
        except (OSError, ValueError, KeyError, TypeError, IndexError, zipfile.BadZipFile) as e:
            raise ValueError(f"{where}.path={self.path!r} is not an ecgcore data set: {_why(e)}") from None

    def rate(self):
        return self.header()["fs"]

    def targets(self):
        return tuple(self.header()["target_names"])

    def labels(self):
        return self.header()["labels"]

    def shape(self):
        h = self.header()
        return h["n"], len(h["lead_names"]), h["samples"]

    def load(self, progress=None):
        return DataSet.load(self.path)


def _why(error):
    """The reason a stored set is unreadable, in words (not a library's exception text)."""
    if isinstance(error, zipfile.BadZipFile):
        return "not an .npz (a zip of arrays) nor a data set folder"
    if isinstance(error, KeyError):
        return f"it lacks {error.args[0]}"
    return str(error)


def _folder_header(folder):
    if not (folder / META_FILE).is_file():
        raise ValueError(f"a folder without {META_FILE}")
    meta = json.loads((folder / META_FILE).read_text())
    signals = np.load(folder / SIGNALS_FILE, mmap_mode="r", allow_pickle=False)  # the header only
    if signals.ndim != 3:
        raise ValueError(f"{SIGNALS_FILE} is {signals.shape}, not (records, leads, samples)")
    with zipfile.ZipFile(folder / RECORDS_FILE) as z:
        labels = _label_modes(z.namelist())
    return {"n": int(signals.shape[0]), "fs": float(meta["fs"]), "lead_names": tuple(meta["lead_names"]),
            "samples": int(signals.shape[2]), "target_names": tuple(meta["target_names"]), "labels": labels}


def _label_modes(arrays):
    """The label modes a stored set's arrays (names in its zip) serve."""
    return {mode for mode, array in (("single", "label.npy"), ("multi", "multilabel.npy")) if array in arrays}


def _npz_header(file):
    with zipfile.ZipFile(file) as z:
        labels = _label_modes(z.namelist())
        missing = [name for name in NPZ_ARRAYS if name not in z.namelist()]
        if missing:
            raise ValueError(f"an .npz without the array(s) {', '.join(m[:-4] for m in missing)}")
        with z.open("signals.npy") as f:
            read = {(1, 0): np.lib.format.read_array_header_1_0}.get(np.lib.format.read_magic(f),
                                                                      np.lib.format.read_array_header_2_0)
            shape = read(f)[0]  # the header only, not the samples
    if len(shape) != 3:
        raise ValueError(f"its signals are {shape}, not (records, leads, samples)")
    with np.load(file, allow_pickle=False) as z:  # reads only the small arrays asked for
        names = [str(t) for t in z["target_names"]] if "target_names" in z else [t for t in TARGETS if t in z]
        return {"n": int(shape[0]), "fs": float(z["fs"]), "lead_names": tuple(str(s) for s in z["lead_names"]),
                "samples": int(shape[2]), "target_names": tuple(names), "labels": labels}


SOURCES = {cls.name: cls for cls in (Synthetic, Gan, Ptbxl, Measured, Mixed, Stored)}


def _options(spec):
    return {k: v for k, v in spec.items() if k not in ("source", "report")}


def parse(spec, where="data"):
    """The options of data spec `spec` (a dict with a "source" key; "report" is ignored), checked for types and
    ranges (Source.check); ValueError naming the option otherwise. Nothing is read from disk but a stored set's
    rate where a mixed source needs it."""
    if not isinstance(spec, dict) or "source" not in spec:
        raise ValueError(f"{where}: a data spec is a dict with a 'source' key, got {spec!r}")
    name, options = spec["source"], _options(spec)
    if name not in SOURCES:
        raise ValueError(f"{where}: unknown data source {name!r}; choose one of {sorted(SOURCES)}")
    cls = SOURCES[name]
    if cls is Synthetic and "stream" in options:
        _flag(where, "stream", options["stream"])
        cls = Stream if options.pop("stream") else Synthetic
    accepted = [f.name for f in fields(cls)]
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise ValueError(f"{where}: source {name!r} has no option(s) {unknown}; it takes {sorted(accepted)}")
    required = {f.name for f in fields(cls) if f.default is MISSING and f.default_factory is MISSING}
    missing = sorted(required - set(options))
    if missing:
        raise ValueError(f"{where}: source {name!r} needs the option(s) {missing}")
    options = cls.from_options(options, where)
    options.check(where)
    return options.normal()


def check_spec(spec, where="data"):
    """Raise ValueError naming the option when `spec` cannot build a data set: types and ranges (parse), and
    that the files and folders it names exist and are what it needs; no data is read. {} (the default) passes.
    Run when a job is submitted, so a bad spec fails at once, not minutes later inside the job."""
    if spec != {}:
        parse(spec, where).check_paths(where)
    return spec


def load_dataset(spec, progress=None):
    """Build (or fetch from cache) the DataSet that `spec` describes; a "report" key is ignored (see above).
    progress: optional callable given the share built (0-1), for the sources that report it, and the stage's name
    as a second argument for a stage after the first (e.g. "measuring the ECGs")."""
    options = parse(spec)
    if progress is None:
        return options.load()

    # the synthetic sources report a share, the PTB-XL readers (records done, records in all); a source with
    # several stages (the measured one: reading, then measuring) names the later ones
    def share(done, total=1, stage=None):
        value = done / total if total else 1.0
        return progress(value) if stage is None else progress(value, stage)

    return options.load(share)


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
    """The sampling rate (Hz) of the data `spec` describes, without building it (Source.rate)."""
    if not spec:
        raise ValueError("data_rate needs a data spec (the defaults are DEFAULT_PRETRAIN_DATA and "
                         "DEFAULT_FINETUNE_DATA)")
    return parse(spec).rate()
