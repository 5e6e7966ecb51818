"""The data-set container shared by every source (synthetic engines, PTB-XL, measured labels).

A data set is signals + labels + the config that made them. It saves to one `.npz` whose arrays are plain
(no pickles): `signals` (N, C, L) float32, one float32 array per target (`hr`, `pr`, `qrs`, `qt`, ... NaN
where a record has no value), optional `label` (N,) int64 single-label class index (-1: none),
optional `multilabel` (N, K) uint8, optional `fold` (N,) int64 (PTB-XL's strat_fold), optional
`record_id` (N,) str, plus `fs`, `lead_names`, `class_names`, `target_names` and `config` (JSON text).

`config` is the data spec that rebuilds the set (ecgcore.data.sources.load_dataset(config)) plus an optional
"report" dict of what the source measured while building it (e.g. records kept and dropped); load_dataset
ignores "report".
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ecgcore.files import atomic_write
from ecgcore.labels import CLASS_NAMES, TARGETS


@dataclass
class DataSet:
    signals: np.ndarray
    fs: float
    lead_names: tuple
    targets: dict = field(default_factory=dict)
    label: np.ndarray | None = None
    multilabel: np.ndarray | None = None
    class_names: tuple = CLASS_NAMES
    fold: np.ndarray | None = None
    record_id: np.ndarray | None = None
    config: dict = field(default_factory=dict)

    def __post_init__(self):
        self.signals = np.asarray(self.signals, dtype=np.float32)
        if self.signals.ndim != 3:
            raise ValueError(f"signals must be (N, leads, samples), got shape {self.signals.shape}")
        n, c, _ = self.signals.shape
        if len(self.lead_names) != c:
            raise ValueError(f"{c} signal channels but {len(self.lead_names)} lead names")
        self.lead_names = tuple(self.lead_names)
        self.class_names = tuple(self.class_names)
        self.targets = {k: np.asarray(v, dtype=np.float32) for k, v in self.targets.items()}
        for name, values in self._per_record_arrays().items():
            if len(values) != n:
                raise ValueError(f"{name} has {len(values)} entries for {n} records")

    def _per_record_arrays(self):
        arrays = dict(self.targets)
        for name in ("label", "multilabel", "fold", "record_id"):
            if getattr(self, name) is not None:
                arrays[name] = getattr(self, name)
        return arrays

    def __len__(self):
        return len(self.signals)

    @property
    def duration(self):
        return self.signals.shape[-1] / self.fs

    def subset(self, index):
        """A new DataSet with the records at `index` (array of ints or a boolean mask)."""
        index = np.asarray(index)
        take = lambda a: None if a is None else a[index]  # noqa: E731
        return DataSet(
            signals=self.signals[index], fs=self.fs, lead_names=self.lead_names,
            targets={k: v[index] for k, v in self.targets.items()}, label=take(self.label),
            multilabel=take(self.multilabel), class_names=self.class_names, fold=take(self.fold),
            record_id=take(self.record_id), config=self.config,
        )

    def save(self, path):
        """Write to `path` (.npz) atomically: a crash mid-write never leaves a half file behind."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        arrays = {
            "signals": self.signals, "fs": np.float64(self.fs),
            "lead_names": np.array(self.lead_names), "class_names": np.array(self.class_names),
            "target_names": np.array(list(self.targets), dtype=str), "config": np.array(json.dumps(self.config)),
            **self._per_record_arrays(),
        }

        def write(tmp):
            with open(tmp, "wb") as f:  # a file, not a name: np.savez would add ".npz" to a name without it
                np.savez(f, **arrays)

        return atomic_write(path, write)

    @classmethod
    def load(cls, path):
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"data set file not found: {path}")
        try:
            with np.load(path, allow_pickle=False) as z:
                names = [str(t) for t in z["target_names"]] if "target_names" in z else list(TARGETS)
                opt = lambda k: z[k] if k in z else None  # noqa: E731
                return cls(
                    signals=z["signals"], fs=float(z["fs"]), lead_names=tuple(str(s) for s in z["lead_names"]),
                    targets={t: z[t] for t in names if t in z}, label=opt("label"), multilabel=opt("multilabel"),
                    class_names=tuple(str(s) for s in z["class_names"]) if "class_names" in z else CLASS_NAMES,
                    fold=opt("fold"), record_id=opt("record_id"),
                    config=json.loads(str(z["config"])) if "config" in z else {},
                )
        except (KeyError, ValueError, OSError) as e:
            raise ValueError(f"{path} is not a readable ecgcore data set: {e}") from e
