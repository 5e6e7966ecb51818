"""Whether a job may be submitted: what could only fail later is refused at the door, saying why.

`admit(config)` runs in jobs.submit (the CLI and the pages submit through it), before a run folder exists, and
reads no data. It checks
- the config's own fields (JobConfig.validate) and its data spec (ecgcore.data.sources: types, ranges, and
  that the files it names are a data set or a PTB-XL folder);
- what the job asks of its data: pretraining targets and fine-tuning labels the source gives, no `fraction` on
  a synthetic stream (every batch is fresh records), a band-pass the data's rate allows;
- what the job needs of the machine, estimated from the spec where it says how large the data is: disk for
  the data set's cache entry (none when the cache holds it) and for a preprocessed copy (a set past the memory
  budget streams from one), and memory for the preprocessed set held for training and the per-record
  bookkeeping of training (index arrays, targets). Past what the machine has (its physical memory, the free
  space of the cache's disk), the job is refused with both figures.
"""

from __future__ import annotations

import os
import shutil

from ecgcore.config import JobConfig
from ecgcore.data.cache import cache_dir
from ecgcore.data.dataset import META_FILE
from ecgcore.data.preprocess import output_shape
from ecgcore.data.sources import Stored, Stream, Synthetic, default_data, parse
from ecgcore.files import read_json
from ecgcore.labels import CLASS_NAMES, RHYTHM_TARGETS

BUDGET_ENV = "ECGCORE_MEMORY_BUDGET"
UNITS = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}
# Training's bookkeeping per training record: its position, the epoch's permutation and order (int64 each).
INDEX_BYTES = 3 * 8
SAMPLE_BYTES = 4  # float32
LABELS = {"single": "class labels", "multi": "0/1 class rows"}  # what fine-tuning's label modes learn from


def memory_budget():
    """Bytes of preprocessed signals the in-memory path may hold: `$ECGCORE_MEMORY_BUDGET` (bytes, or with a
    K/M/G suffix: "6G"; 0 always streams), else a quarter of the machine's memory (the rest is for the
    model, its activations, the raw set while it is preprocessed, and everything else the machine runs)."""
    value = os.environ.get(BUDGET_ENV, "").strip().upper().removesuffix("B")
    if not value:
        return machine_memory() // 4
    number, unit = (value[:-1], value[-1]) if value[-1] in UNITS else (value, "")
    try:
        budget = float(number) * UNITS[unit]
    except ValueError:
        raise ValueError(f"{BUDGET_ENV}={os.environ[BUDGET_ENV]!r} is invalid: give bytes, e.g. 6000000000 or "
                         "6G (0 always streams from disk)") from None
    if budget < 0:
        raise ValueError(f"{BUDGET_ENV}={os.environ[BUDGET_ENV]!r} is invalid: must be >= 0")
    return int(budget)


def machine_memory():
    """The machine's physical memory in bytes."""
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def free_disk(path):
    """Free bytes on the disk that holds `path` (or would: its nearest existing folder)."""
    path = path.resolve()
    while not path.exists():
        path = path.parent
    return shutil.disk_usage(path).free


def admit(config):
    """The checked JobConfig of `config` (a JobConfig or its dict); ValueError saying what is wrong otherwise."""
    config = JobConfig.from_dict(config.to_dict() if isinstance(config, JobConfig) else config).validate()
    options = parse(config.data or default_data(config.task))
    options.check_paths()
    _asks(config, options)
    _fits(config, options)
    return config


def _asks(config, options):
    """What the job asks of its data, against what the data gives."""
    if isinstance(options, Stream) and options.fraction_problem(config.fraction):
        raise ValueError(options.fraction_problem(config.fraction))
    offered = options.targets()
    if config.task == "pretrain" and offered is not None:
        unknown = [t for t in config.targets if t not in offered]
        if unknown:
            hint = (' (the rhythm targets come with the spec option "rhythms", e.g. "all")'
                    if isinstance(options, Synthetic) and set(unknown) <= set(RHYTHM_TARGETS) else "")
            raise ValueError(f"targets {unknown} are not given by the {options.name} source: it gives "
                             + (", ".join(offered) if offered else "no regression targets (pretrain on the measured "
                                "source for targets measured on real ECGs)") + hint)
    if config.task == "finetune" and config.label_mode not in options.labels():
        raise ValueError(_no_labels(config.label_mode, options))
    pre, fs = config.preprocess, options.rate()
    if pre.bandpass and not pre.high_hz < fs / 2:
        raise ValueError(f"preprocess.high_hz={pre.high_hz!r} is invalid for data at {fs:g} Hz: the band-pass "
                         f"needs high_hz < fs/2 = {fs / 2:g} Hz (or preprocess.bandpass=false)")


def _no_labels(mode, options):
    where = f" at {options.path}" if isinstance(options, Stored) else ""
    if options.labels():
        hint = f" (label_mode={sorted(options.labels())[0]!r} takes its labels)"
    else:
        hint = ' (give the spec "classes", e.g. "all")' if isinstance(options, Synthetic) else ""
    return f"label_mode={mode!r} needs {LABELS[mode]}: the {options.name} source{where} has none{hint}"


def _fits(config, options):
    """Refuse a job whose estimated memory or disk is past what the machine has."""
    outputs = len(config.targets) if config.task == "pretrain" else len(CLASS_NAMES)
    per_record = INDEX_BYTES + 2 * SAMPLE_BYTES * outputs  # + its targets, as an array and as a tensor
    memory = disk = 0
    if isinstance(options, Stream):  # nothing built but the fixed holdout, held in memory
        memory += options.n * per_record
        holdout = (sum(options.holdout(config.val_size, config.test_size)), *Synthetic.shape(options)[1:])
        disk += _bytes(holdout)
        memory += _bytes((holdout[0], *output_shape(holdout, options.rate(), config.preprocess)))
    elif options.shape() is not None:
        shape = options.shape()
        ready = (shape[0], *output_shape(shape, options.rate(), config.preprocess))
        in_memory = _bytes(ready) <= memory_budget()
        memory += shape[0] * per_record + (_bytes(ready) if in_memory else 0)
        built = 0 if isinstance(options, Stored) else _bytes(shape)  # a new cache entry
        disk += built + (0 if in_memory else _bytes(ready))
        if built and disk > free_disk(cache_dir()) and _cached(options):
            disk -= built
    past = []
    if disk > free_disk(cache_dir()):
        past.append(f"about {_size(disk)} of disk in the data cache ({cache_dir()}, $ECGCORE_CACHE), which has "
                    f"{_size(free_disk(cache_dir()))} free")
    if memory > machine_memory():
        past.append(f"about {_size(memory)} of memory (the machine has {_size(machine_memory())})")
    if past:
        raise ValueError(f"data: this job needs {'; and '.join(past)}: use fewer or shorter records or a lower rate")


def _cached(options):
    """Whether the cache holds the set `options` builds already: an entry whose config (the spec that rebuilds
    it) parses to the same options. Looked for only when the disk seems short, so a set that is there is not
    counted as one to build."""
    for meta in cache_dir().glob(f"{options.name}-*/{META_FILE}"):
        try:
            if parse(read_json(meta)["config"]) == options:
                return True
        except (OSError, ValueError, KeyError, TypeError):  # not ours to judge here: the loader reports damage
            continue
    return False


def _bytes(shape):
    records, leads, samples = shape
    return records * leads * samples * SAMPLE_BYTES


def _size(n):
    """Bytes in words: "3.2 GiB"."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if n < 1024 or unit == "PiB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{n} B"
        n /= 1024
