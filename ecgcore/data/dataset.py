"""The data-set container shared by every source (synthetic engines, PTB-XL, measured labels).

A data set is signals + labels + the config that made them. Its per-record arrays are plain (no pickles):
`signals` (N, C, L) float32, one float32 array per target (`hr`, `pr`, `qrs`, `qt`, ... NaN where a record
has no value), optional `label` (N,) int64 single-label class index (-1: none), optional `multilabel` (N, K)
uint8, optional `fold` (N,) int64 (PTB-XL's strat_fold), optional `record_id` (N,) str. A set whose records
have rhythms (ecgcore.synth.rhythms) also holds `rhythm` (N,) int64, an index into `rhythm_names`, and its beat
annotations: `beat_samples` (N, B) int64 QRS onset samples, -1 padded; `beat_types` (N, B) str MIT-BIH beat
symbols, '' padded; `atrial_samples` (N, A) int64 onsets of the atrial activations (P or F waves), -1 padded.

On disk a data set is a folder (the format of the cache, and of `save(PATH)` for a PATH not ending in .npz):
  signals.npy   the signals, read back memory-mapped (np.load(mmap_mode="r")): a set larger than memory loads
                at once and pages in only the records a batch reads
  records.npz   the small per-record arrays above
  dataset.json  fs, lead_names, class_names, target_names, n, the signals' shape and dtype, and config;
                written last, so a folder without it is an unfinished write, never taken for a data set
`Writer` fills such a folder chunk by chunk, so building a set never holds it whole in memory. The older
single-file format, one `.npz` holding every array plus `fs`, `lead_names`, `class_names`, `target_names` and
`config` (JSON text), is still read and written (`save("x.npz")`); it loads whole into memory.

A folder is checked when it is opened: every dataset.json field for type and range, the signals' header
and file size against the shape and dtype it records (format 1 folders, which do not record them, against
`n` and the lead count), the per-record arrays against `n`. What fails is `Damaged`, naming the file; an
OSError that proves nothing about the files (too many open files, EIO, a full disk) stays an OSError.

`config` is the data spec that rebuilds the set (ecgcore.data.sources.load_dataset(config)) plus an optional
"report" dict of what the source measured while building it (e.g. records kept and dropped); load_dataset
ignores "report".
"""

from __future__ import annotations

import io
import json
import mmap
import os
import shutil
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ecgcore.config import is_whole
from ecgcore.files import atomic_write
from ecgcore.labels import CLASS_NAMES, TARGETS, rate_hz

SIGNALS_FILE, RECORDS_FILE, META_FILE = "signals.npy", "records.npz", "dataset.json"
FORMAT = 2  # dataset.json's "format": bump when the folder's layout changes (2 adds "shape" and "dtype")
FORMATS = (1, 2)  # the formats still read
# the optional per-record arrays besides the targets, and the kind of numbers (numpy dtype kinds) each holds
PER_RECORD = {"label": "i", "multilabel": "iub", "fold": "i", "record_id": "U", "rhythm": "i", "beat_samples": "i",
              "beat_types": "U", "atrial_samples": "i"}
COPY_CHUNK = 1024  # records copied at once when a memory-mapped set is saved elsewhere


class Damaged(ValueError):
    """A data set file that is proven damaged (truncated, garbled, a field of the wrong type or range): the
    message names the file. A cache entry that raises it is rebuilt; any other error keeps the entry."""


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
    rhythm: np.ndarray | None = None
    rhythm_names: tuple = ()
    beat_samples: np.ndarray | None = None
    beat_types: np.ndarray | None = None
    atrial_samples: np.ndarray | None = None

    def __post_init__(self):
        self.signals = np.asanyarray(self.signals, dtype=np.float32)  # any: a memory map stays one
        if self.signals.ndim != 3:
            raise ValueError(f"signals must be (N, leads, samples), got shape {self.signals.shape}")
        n, c, _ = self.signals.shape
        if len(self.lead_names) != c:
            raise ValueError(f"{c} signal channels but {len(self.lead_names)} lead names")
        self.lead_names = tuple(self.lead_names)
        self.class_names = tuple(self.class_names)
        self.rhythm_names = tuple(self.rhythm_names)
        self.targets = {k: np.asarray(v, dtype=np.float32) for k, v in self.targets.items()}
        for name, values in self._per_record_arrays().items():
            if len(values) != n:
                raise ValueError(f"{name} has {len(values)} entries for {n} records")

    def _per_record_arrays(self):
        arrays = dict(self.targets)
        for name in PER_RECORD:
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
            targets={k: v[index] for k, v in self.targets.items()}, class_names=self.class_names,
            config=self.config, rhythm_names=self.rhythm_names,
            **{name: take(getattr(self, name)) for name in PER_RECORD},
        )

    def save(self, path):
        """Write to `path` whole or not at all: a folder (see the module docstring), or one file if `path`
        ends in .npz. An existing folder at `path` is replaced only once the new one is complete."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.suffix == ".npz":
            return self._save_npz(path)
        tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"))
        try:
            self.write_folder(tmp)
            replace_folder(tmp, path)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return path

    def write_folder(self, folder):
        """Write the data set's files into the existing, empty `folder` (dataset.json last)."""
        folder = Path(folder)
        source = getattr(self, "_signals_file", None)
        if source is not None and source[1] is self.signals:
            # a loaded set saved elsewhere: a copy of the file, never a link (the copy is the user's to edit
            # and must not change a cache entry)
            shutil.copyfile(source[0], folder / SIGNALS_FILE)
        else:
            out = np.lib.format.open_memmap(folder / SIGNALS_FILE, "w+", np.float32, self.signals.shape)
            for i in range(0, len(self), COPY_CHUNK):  # a memory-mapped set is read a chunk at a time
                out[i:i + COPY_CHUNK] = self.signals[i:i + COPY_CHUNK]
            out.flush()
            del out
        self._write_records(folder, len(self), self.signals.shape[1:])

    def _write_records(self, folder, n, record_shape):
        folder = Path(folder)
        with open(folder / RECORDS_FILE, "wb") as f:
            np.savez(f, **self._per_record_arrays())
        meta = {"format": FORMAT, "n": int(n), "shape": [int(n), *map(int, record_shape)], "dtype": "float32",
                "fs": float(self.fs), "lead_names": list(self.lead_names), "class_names": list(self.class_names),
                "target_names": list(self.targets), "config": self.config,
                **({"rhythm_names": list(self.rhythm_names)} if self.rhythm_names else {})}
        (folder / META_FILE).write_text(json.dumps(meta))

    def _save_npz(self, path):
        arrays = {
            "signals": self.signals, "fs": np.float64(self.fs),
            "lead_names": np.array(self.lead_names), "class_names": np.array(self.class_names),
            "target_names": np.array(list(self.targets), dtype=str), "config": np.array(json.dumps(self.config)),
            **({"rhythm_names": np.array(self.rhythm_names)} if self.rhythm_names else {}),
            **self._per_record_arrays(),
        }

        def write(tmp):
            with open(tmp, "wb") as f:  # a file, not a name: np.savez would add ".npz" to a name without it
                np.savez(f, **arrays)

        return atomic_write(path, write)

    @classmethod
    def load(cls, path):
        """A data set folder (signals memory-mapped) or .npz file (read whole); ValueError when unreadable."""
        path = Path(path)
        if path.is_dir():
            return cls._load_folder(path)
        if not path.is_file():
            raise FileNotFoundError(f"data set file not found: {path}")
        try:
            with np.load(path, allow_pickle=False) as z:
                names = [str(t) for t in z["target_names"]] if "target_names" in z else list(TARGETS)
                opt = lambda k: z[k] if k in z else None  # noqa: E731
                return cls(
                    signals=z["signals"], fs=float(z["fs"]), lead_names=tuple(str(s) for s in z["lead_names"]),
                    targets={t: z[t] for t in names if t in z},
                    class_names=tuple(str(s) for s in z["class_names"]) if "class_names" in z else CLASS_NAMES,
                    config=json.loads(str(z["config"])) if "config" in z else {},
                    rhythm_names=tuple(str(s) for s in z["rhythm_names"]) if "rhythm_names" in z else (),
                    **{name: opt(name) for name in PER_RECORD},
                )
        except (KeyError, ValueError, EOFError, zipfile.BadZipFile) as e:
            raise Damaged(f"{path} is not a readable ecgcore data set: {type(e).__name__}: {e}") from None

    @classmethod
    def _load_folder(cls, folder):
        if not (folder / META_FILE).is_file():
            raise ValueError(f"{folder} is not a finished ecgcore data set: it has no {META_FILE}")
        for name in (META_FILE, SIGNALS_FILE, RECORDS_FILE):
            if (folder / name).is_symlink():  # the lab writes none; read through, it would load another file
                raise Damaged(f"{folder / name} is a link (to {os.readlink(folder / name)}): a data set folder "
                              "holds its own files")
        try:
            meta = _read_meta(folder / META_FILE)
            signals = _open_signals(folder / SIGNALS_FILE, meta)
            records = _read_records(folder / RECORDS_FILE, meta)
            try:
                dataset = cls(signals=signals, fs=meta["fs"], lead_names=meta["lead_names"],
                              class_names=meta["class_names"], config=meta["config"],
                              rhythm_names=meta.get("rhythm_names", ()), **records)
            except ValueError as e:
                raise Damaged(f"{folder / RECORDS_FILE} does not fit {META_FILE}: {e}") from None
        except OSError as e:
            if isinstance(e, FileNotFoundError):  # a finished folder missing a file is damaged
                raise Damaged(f"{folder} is missing {Path(e.filename or '?').name}") from None
            # proves nothing about the files: reported, and a cache entry is kept
            raise OSError(e.errno, f"could not read {e.filename or folder}: {e.strerror}; the data set is kept, "
                                   "try again", e.filename) from None
        dataset._signals_file = (folder / SIGNALS_FILE, dataset.signals)  # what save() copies whole
        return dataset


def _read_meta(path):
    """dataset.json's fields, each checked for type and range; Damaged naming the file and field otherwise."""
    try:
        meta = json.loads(path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise Damaged(f"{path} is not JSON (truncated or garbled): {e}") from None

    def bad(field, want):
        raise Damaged(f"{path}: field {field!r} is {meta.get(field, 'missing')!r}, expected {want}")

    if not isinstance(meta, dict):
        raise Damaged(f"{path} holds {type(meta).__name__}, not an object of fields")
    if not is_whole(meta.get("format", 1)) or meta.get("format", 1) not in FORMATS:
        bad("format", f"one of {FORMATS} (a newer lab may have written it)")
    if not is_whole(meta.get("n")) or meta["n"] < 0:
        bad("n", "a whole number of records")
    try:
        meta["fs"] = rate_hz(meta.get("fs"), f"{path}, field 'fs'")
    except ValueError as e:
        raise Damaged(str(e)) from None
    for key in ("lead_names", "class_names", "target_names", "rhythm_names"):
        if key == "rhythm_names" and key not in meta:  # only a set with rhythms has them
            continue
        names = meta.get(key)
        if not isinstance(names, list) or not all(isinstance(x, str) for x in names):
            bad(key, "a list of names")
    if not isinstance(meta.get("config", {}), dict):
        bad("config", "an object (the data spec)")
    meta.setdefault("config", {})
    if meta.get("format", 1) >= 2:
        shape = meta.get("shape")
        if not (isinstance(shape, list) and len(shape) == 3 and all(is_whole(x) and x >= 0 for x in shape)
                and shape[:2] == [meta["n"], len(meta["lead_names"])]):
            bad("shape", f"[n, leads, samples] with n={meta['n']} and {len(meta['lead_names'])} leads")
        if meta.get("dtype") != "float32":
            bad("dtype", "'float32'")
    return meta


def _open_signals(path, meta):
    """signals.npy memory-mapped, its header and size checked against `meta` (Damaged when they disagree)."""
    try:
        with open(path, "rb") as f:
            version = np.lib.format.read_magic(f)
            read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else \
                np.lib.format.read_array_header_2_0
            shape, fortran, dtype = read_header(f)
            offset = f.tell()
    except (ValueError, EOFError, SyntaxError) as e:
        raise Damaged(f"{path} has no readable .npy header (truncated or garbled): {e}") from None
    size = path.stat().st_size
    want = tuple(meta["shape"]) if "shape" in meta else None
    if dtype != np.float32 or fortran or len(shape) != 3:
        raise Damaged(f"{path} holds {dtype} {shape}, not float32 (records, leads, samples)")
    if (want is not None and shape != want) or shape[0] != meta["n"] or shape[1] != len(meta["lead_names"]):
        raise Damaged(f"{path} holds shape {shape}, {META_FILE} records "
                      f"{list(want) if want else [meta['n'], len(meta['lead_names']), '?']}")
    if size != offset + int(np.prod(shape)) * 4:
        raise Damaged(f"{path} is {size} bytes, its header's shape {shape} needs {offset + int(np.prod(shape)) * 4} "
                      "(truncated or garbled)")
    return np.load(path, mmap_mode="r", allow_pickle=False)


def _read_records(path, meta):
    """records.npz's per-record arrays as DataSet fields, each checked for kind; Damaged naming the file."""
    n = meta["n"]
    try:
        loaded = np.load(path, allow_pickle=False)
        if not isinstance(loaded, np.lib.npyio.NpzFile):  # a .npy under the archive's name
            raise ValueError("it holds one array, not an archive")
        with loaded as z:
            arrays = {k: z[k] for k in z.files}
    except (ValueError, EOFError, zipfile.BadZipFile, KeyError) as e:
        raise Damaged(f"{path} is not a readable archive of per-record arrays (truncated or garbled): "
                      f"{type(e).__name__}: {e}") from None
    missing = [t for t in meta["target_names"] if t not in arrays]
    if missing:
        raise Damaged(f"{path} lacks the target arrays {missing} that {META_FILE} names")
    for name, array in arrays.items():
        kind = PER_RECORD.get(name, "f" if name in meta["target_names"] else None)
        if kind is None:
            continue
        if array.dtype.kind not in kind or len(array) != n:
            raise Damaged(f"{path}: {name} is {array.dtype} of {len(array)} entries, expected {n} "
                          f"{'numbers' if kind != 'U' else 'names'}")
    records = {name: arrays.get(name) for name in PER_RECORD}
    records["targets"] = {t: arrays[t] for t in meta["target_names"]}
    return records


def release(signals):
    """Drop the pages of a memory-mapped `signals` that reads touched from this process's resident memory (they
    stay in the page cache for the next read): otherwise an epoch over a set larger than memory would count
    the whole file towards the process's RSS. A no-op for arrays in memory."""
    mapped = getattr(signals, "_mmap", None)  # np.memmap's mmap object (shared by its views)
    if mapped is not None and hasattr(mmap, "MADV_DONTNEED"):
        mapped.madvise(mmap.MADV_DONTNEED)


class Writer:
    """Fills a data set folder record by record: `write` blocks of signals, then `finish` with the labels.

    The signals go straight into a memory-mapped signals.npy of `n` records, so no more than one block is ever
    in memory; `finish` shortens it to the records actually kept (sources drop bad records) and writes the
    per-record arrays and dataset.json. resume=True reopens the signals an interrupted build left in `folder`
    (same shape), so it can go on where it stopped.
    """

    def __init__(self, folder, n, channels, length, resume=False):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        file = self.folder / SIGNALS_FILE
        shape = (int(n), int(channels), int(length))
        if resume and file.is_file():
            self.signals = np.load(file, mmap_mode="r+")
            if self.signals.shape != shape or self.signals.dtype != np.float32:
                raise ValueError(f"{file} holds {self.signals.shape} {self.signals.dtype}, not {shape} float32: "
                                 "not the build this one resumes")
        else:
            self.signals = np.lib.format.open_memmap(file, "w+", np.float32, shape)

    def write(self, start, block):
        self.signals[start:start + len(block)] = block

    def flush(self):
        """Make what was written so far durable (before recording how far a resumable build got), and drop
        its pages from this process's resident memory (see `release`)."""
        self.signals.flush()
        release(self.signals)

    def finish(self, n, **fields):
        """Keep the first `n` records and write the DataSet `fields` besides the signals (fs, lead_names,
        targets, label, ..., config); returns the folder."""
        self.flush()
        full = self.signals.shape
        del self.signals
        if n < full[0]:
            _shorten_npy(self.folder / SIGNALS_FILE, (int(n), *full[1:]))
        stub = np.zeros((int(n), full[1], 0), np.float32)  # the per-record arrays are checked against n
        DataSet(signals=stub, **fields)._write_records(self.folder, n, full[1:])
        return self.folder


def _shorten_npy(file, shape):
    """Cut a float32 .npy down to its first shape[0] records in place: rewrite the header (numpy pads it so the
    shape can change in place), then truncate the file."""
    with open(file, "r+b") as f:
        np.lib.format.read_magic(f)
        np.lib.format.read_array_header_1_0(f)
        offset = f.tell()
        header = io.BytesIO()
        np.lib.format.write_array_header_1_0(header, {"descr": "<f4", "fortran_order": False, "shape": shape})
        if len(header.getvalue()) != offset:
            raise ValueError(f"{file}: its header cannot be rewritten in place")
        f.seek(0)
        f.write(header.getvalue())
        f.truncate(offset + int(np.prod(shape)) * 4)


def replace_folder(new, path):
    """Move the finished folder `new` to `path`, replacing what was there only after the move."""
    path = Path(path)
    if path.exists():
        old = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.", suffix=".old"))
        os.replace(path, old / "x")
        os.replace(new, path)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(new, path)
