"""The one config a training job is made from: built by pages and CLI alike, saved as a run's config.json."""

from __future__ import annotations

import json
import math
import numbers
from dataclasses import asdict, dataclass, field, fields

from ecgcore.labels import TARGETS
from ecgcore.leads import LEAD_SETS

TASKS = ("pretrain", "finetune")
ARCHS = ("small_cnn", "inception1d", "resnet1d")
STRATEGIES = ("scratch", "freeze_first_block", "linear_probe", "full_finetune", "combined")
# The strategies with a random-init control (init="random"); full_finetune from random weights is scratch itself.
SCRATCH = "scratch"  # the strategy (and sweep arm) that reuses no network: every comparison's reference
CONTROLLED = ("freeze_first_block", "linear_probe", "combined")
INITS = ("pretrained", "random")  # where a reused network's weights come from; "random": a control arm
LABEL_MODES = ("single", "multi")
NORMALIZATIONS = ("zscore", "minmax", "none")
DEVICES = ("auto", "cpu", "cuda")
FRACTIONS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0)  # the labelled fractions a sweep and the pages offer
# The seed paper's set-up (arXiv 2508.11656) in JobConfig and Preprocess field names: `--setup paper` on the CLI
# and the Paper setup button on the pages apply it. `fs` is the PTB-XL rate read; `one_per_target`: one
# regressor per target.
PAPER_SETUP = {"arch": "inception1d", "epochs": 100, "lr": 0.01, "lr_decay": 0.99, "patience": 10,
               "leads": "paper8", "normalize": "minmax", "fs": 500, "strategy": "freeze_first_block",
               "label_mode": "single", "one_per_target": True}
# Resampling targets: below 50 Hz a QRS complex is a few samples; above 1000 Hz no source of the lab holds more
# detail (the engines serve up to 1000 Hz, PTB-XL 500 Hz), the records only grow.
RESAMPLE_HZ = (50.0, 1000.0)


def is_number(value):
    """A real, finite number (not a bool, not text): what every numeric field must be."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)


def is_whole(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


@dataclass
class Preprocess:
    """One preprocessing step for synthetic and real signals alike (applied by ecgcore.data.preprocess)."""

    bandpass: bool = True  # 0.5-40 Hz Butterworth band-pass
    low_hz: float = 0.5
    high_hz: float = 40.0
    normalize: str = "zscore"  # per lead: "zscore", "minmax" (the paper's) or "none"
    fs: float | None = None  # resample to this rate; None keeps the data set's
    leads: str = "all"  # "all" (12) or "paper8" (I, II, V1-V6)


@dataclass
class JobConfig:
    task: str = "pretrain"
    data: dict = field(default_factory=dict)  # a data spec, see ecgcore.data.sources; {} -> the default set
    preprocess: Preprocess = field(default_factory=Preprocess)
    arch: str = "small_cnn"
    # pretraining
    targets: list = field(default_factory=lambda: list(TARGETS))  # one model, a head per target
    # fine-tuning
    label_mode: str = "single"  # "single" (softmax, the paper's) or "multi" (sigmoid, the benchmark's)
    strategy: str = "scratch"
    pretrained: list = field(default_factory=list)  # run dirs; `combined` takes one per target
    # "random": the control of `strategy` - the same architecture, freezing and head, from a fresh seeded
    # init instead of pretrained weights (no pretrained run); `backbones` of them side by side for `combined`
    init: str = "pretrained"
    backbones: int = 1
    fraction: float = 1.0  # share of the labelled training set used (stratified subsample)
    # optimisation
    epochs: int = 10
    batch_size: int = 64
    lr: float = 1e-3
    lr_decay: float = 1.0  # exponential decay per epoch (the paper: 0.99)
    weight_decay: float = 0.0
    patience: int = 5  # early stopping on the validation metric; 0 switches it off
    # splits of data sets that carry no folds (synthetic): seeded random split
    val_size: float = 0.15
    test_size: float = 0.15
    seed: int = 0
    device: str = "auto"
    name: str = ""  # a free label shown next to the run id

    def validate(self):
        """Raise ValueError naming the first bad field; return self."""
        p = self.preprocess
        checks = [
            ("task", self.task in TASKS, f"one of {TASKS}"),
            ("arch", self.arch in ARCHS, f"one of {ARCHS}"),
            ("label_mode", self.label_mode in LABEL_MODES, f"one of {LABEL_MODES}"),
            ("strategy", self.strategy in STRATEGIES, f"one of {STRATEGIES}"),
            ("init", self.init in INITS, f"one of {INITS}"),
            ("backbones", is_whole(self.backbones) and self.backbones >= 1, "a whole number >= 1"),
            ("fraction", is_number(self.fraction) and 0 < self.fraction <= 1, "in (0, 1]"),
            ("epochs", is_whole(self.epochs) and self.epochs >= 1, "a whole number >= 1"),
            ("batch_size", is_whole(self.batch_size) and self.batch_size >= 2,
             "a whole number >= 2 (batch norm needs two records per batch to train)"),
            ("lr", is_number(self.lr) and self.lr > 0, "a finite number > 0"),
            ("lr_decay", is_number(self.lr_decay) and 0 < self.lr_decay <= 1, "in (0, 1]"),
            ("weight_decay", is_number(self.weight_decay) and self.weight_decay >= 0, "a finite number >= 0"),
            ("patience", is_whole(self.patience) and self.patience >= 0, "a whole number >= 0"),
            ("val_size", is_number(self.val_size) and 0 < self.val_size < 1, "in (0, 1)"),
            ("test_size", is_number(self.test_size) and 0 < self.test_size < 1 and is_number(self.val_size)
             and self.val_size + self.test_size < 1,
             "in (0, 1) with val_size + test_size < 1"),
            ("seed", is_whole(self.seed) and self.seed >= 0, "a whole number >= 0"),
            ("device", self.device in DEVICES, f"one of {DEVICES}"),
            ("data", isinstance(self.data, dict), "a data spec (a dict, {} for the default set)"),
            ("targets", isinstance(self.targets, list) and all(isinstance(t, str) for t in self.targets),
             "a list of target names"),
            ("pretrained", isinstance(self.pretrained, list) and all(isinstance(r, str) for r in self.pretrained),
             "a list of run folders"),
            ("name", isinstance(self.name, str), "text"),
            ("preprocess.bandpass", isinstance(p.bandpass, bool), "true or false"),
            ("preprocess.low_hz", is_number(p.low_hz) and p.low_hz > 0, "a finite number > 0"),
            ("preprocess.high_hz", is_number(p.high_hz) and is_number(p.low_hz) and p.high_hz > p.low_hz,
             "a finite number > low_hz"),
            ("preprocess.normalize", p.normalize in NORMALIZATIONS, f"one of {NORMALIZATIONS}"),
            ("preprocess.fs", p.fs is None or (is_number(p.fs) and RESAMPLE_HZ[0] <= p.fs <= RESAMPLE_HZ[1]),
             f"a rate in [{RESAMPLE_HZ[0]:g}, {RESAMPLE_HZ[1]:g}] Hz, or null (keep the data's rate)"),
            ("preprocess.leads", isinstance(p.leads, str) and p.leads in LEAD_SETS,
             " or ".join(map(repr, LEAD_SETS))),
        ]
        for name, ok, rule in checks:
            if not ok:
                obj, attr = (self.preprocess, name.split(".")[1]) if "." in name else (self, name)
                raise ValueError(f"{name}={getattr(obj, attr)!r} is invalid: must be {rule}")
        if self.task == "pretrain":
            if not self.targets:
                raise ValueError("targets is empty: pretraining needs at least one target")
        if self.task == "finetune" and self.init == "random":
            if self.strategy not in CONTROLLED:
                raise ValueError(f"init='random' controls a strategy that reuses a network, one of {CONTROLLED}; "
                                 f"strategy {self.strategy!r} from random weights is scratch")
            if self.pretrained:
                raise ValueError("init='random' (a control arm) uses no pretrained run: drop pretrained")
        elif self.task == "finetune" and self.strategy != "scratch" and not self.pretrained:
            raise ValueError(f"strategy {self.strategy!r} needs a pretrained run (pretrained=[RUN_DIR])")
        return self

    def to_dict(self):
        return asdict(self)

    def to_json(self):
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, d):
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"unknown config keys: {sorted(unknown)}")
        d = dict(d)
        if "preprocess" in d and not isinstance(d["preprocess"], (dict, Preprocess)):
            raise ValueError(f"preprocess={d['preprocess']!r} is invalid: must be an object of preprocessing steps")
        if isinstance(d.get("preprocess"), dict):
            pknown = {f.name for f in fields(Preprocess)}
            bad = set(d["preprocess"]) - pknown
            if bad:
                raise ValueError(f"unknown preprocess keys: {sorted(bad)}")
            d["preprocess"] = Preprocess(**d["preprocess"])
        return cls(**d)

    @classmethod
    def from_json(cls, text):
        return cls.from_dict(json.loads(text))

