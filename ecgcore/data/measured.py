"""Pretraining sources "measured" (real ECGs, regression targets measured by neurokit2) and "mixed".

measured: take any ECG collection ecgcore reads (a PTB-XL folder, or a data set .npz), ignore its diagnostic
labels and measure per record the four intervals (ecgcore.data.measure.measure_intervals) and, optionally,
morphology targets on the median beat (measure_morphology). Intervals are measured at the highest rate the
folder holds (records500/ when present), whatever rate the signals are served at. A failed or implausible
measurement is NaN (training masks it) and counted per target in config["dropped"]. The measured targets are
cached apart from the signals (kind "measured"), keyed by folder, options and file timestamps, so serving
another rate does not measure again.

Leakage guard: on data with folds (PTB-XL) only the training folds are used, never `val_fold` / `test_fold`
(the folds fine-tuning validates and tests on; None is auto, resolved by the same rule fine-tuning uses:
ecgcore.data.splits.resolve_folds), whatever `folds` asks; the data set's config lists the folds and record ids
used. Its `fold` is dropped, so pretraining splits these records at random.

mixed: synthetic and measured-real records together at a chosen ratio, same leads, rate and target names
(a target one part lacks is NaN there, masked like a failed measurement).
"""

from __future__ import annotations

import multiprocessing
import os
from collections import deque
import warnings
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from ecgcore.data import measure
from ecgcore.data.cache import cached
from ecgcore.data.dataset import META_FILE, DataSet
from ecgcore.data.splits import resolve_folds

# Intervals measured on lead II alone (the paper's way) and as the median over II, V2, V5 were compared on the
# parametric engine's records (docs/results/2026-11-25-measurement-error.md): the median measured QRS
# closer to the truth and the other intervals alike, so it is the default; leads absent from a set are skipped.
DEFAULT_INTERVAL_LEADS = ("II", "V2", "V5")
# From this many records on, measuring spreads over the cores (a worker's start-up costs a neurokit2 import).
PARALLEL_MIN = 200
MAX_WORKERS = 16
MEASURE_CHUNK = 256  # records per measuring call at most (a chunk's signals travel to its worker process)


def make_dataset(path, fs=100, leads="all", val_fold=None, test_fold=None, folds=None, morphology=True,
                 interval_leads=None, progress=None):
    """Real ECGs at `path` with measured targets, restricted to training folds.

    path: a PTB-XL folder or a saved data set (folder or .npz). fs, leads: the signals served (PTB-XL: 100 or 500 Hz; an .npz
    keeps its own rate). val_fold/test_fold: the folds fine-tuning holds out (None: auto, 9/10 when fold 10 is
    present, else 8/9). folds: the folds to use (None: every fold but val_fold and test_fold; asking for
    either raises ValueError). morphology: also measure the median-beat targets of every served lead.
    interval_leads: the leads the intervals are measured on (median over them when several; None: those of
    DEFAULT_INTERVAL_LEADS the set has).
    """
    source = Path(path).expanduser()
    if source.is_dir() and not (source / META_FILE).is_file():
        data, measured = _ptbxl(source.resolve(), fs, leads, val_fold, test_fold, folds, morphology,
                                interval_leads, progress)
    elif source.exists():  # a saved data set: a folder or a .npz
        data, measured = _npz(source.resolve(), val_fold, test_fold, folds, morphology, interval_leads)
    else:
        raise ValueError(f"measured source path={str(path)!r} is neither a PTB-XL folder nor a data set file")
    targets = dict(measured.targets)
    config = {
        **measured.config, "source": "measured", "path": str(source.resolve()), "fs": float(data.fs),
        "leads": list(data.lead_names), "targets": list(targets),
        "units": {name: measure.target_unit(name) for name in targets},
    }
    return DataSet(signals=data.signals, fs=data.fs, lead_names=data.lead_names, targets=targets,
                   record_id=data.record_id, config=config)


def folds_learnt(spec):
    """(PTB-XL folder, the folds whose records a data spec trains on) for a spec over a PTB-XL folder's real
    records: "measured" (its training folds), "mixed" (those of its real part) and "ptbxl" (every fold but its
    validation and test folds); None for a spec without real records (synthetic, GAN) or over a file. What a
    study checks a pretrained run against: it must not have learnt from the folds a cell validates or tests on."""
    from ecgcore.data import ptbxl  # only a spec over a PTB-XL folder needs it

    spec = spec or {}
    part = spec.get("real") if spec.get("source") == "mixed" else spec
    if not part or spec.get("source") not in ("measured", "mixed", "ptbxl") or not part.get("path"):
        return None
    root = Path(part["path"]).resolve()
    if not root.is_dir():
        return None
    available = ptbxl.folder_folds(ptbxl.read_tables(root)[0])
    if spec.get("source") == "ptbxl":
        val, test, _ = resolve_folds(available, part.get("val_fold"), part.get("test_fold"))
        return root, {f for f in available if f not in (val, test)}
    return root, set(training_folds(available, part.get("val_fold"), part.get("test_fold"), part.get("folds")))


def training_folds(available, val_fold, test_fold, folds=None):
    """The folds measured-label pretraining may use: `folds` (default: all available) minus val/test folds.

    val_fold/test_fold None: auto, chosen among `available` as fine-tuning chooses them (resolve_folds).
    Raises ValueError when `folds` names the validation or test fold: their labels must stay unseen.
    """
    val_fold, test_fold, _ = resolve_folds(available, val_fold, test_fold)
    held_out = {val_fold, test_fold}
    if folds is None:
        chosen = sorted(int(f) for f in available if int(f) not in held_out)
    else:
        chosen = sorted({int(f) for f in folds})
        leaked = sorted(held_out.intersection(chosen))
        if leaked:
            raise ValueError(f"folds={chosen} includes fold(s) {leaked}, the validation/test folds "
                             f"(val_fold={val_fold}, test_fold={test_fold}) that fine-tuning is scored on: "
                             "measured-label pretraining uses training folds only")
    if not chosen:
        raise ValueError(f"no training fold left for measured-label pretraining (available folds "
                         f"{sorted(int(f) for f in available)}, val_fold={val_fold}, test_fold={test_fold})")
    return chosen


def measure_targets(signals, fs, lead_names, morphology=True, interval_leads=None, workers=None):
    """{target: (N,) float32, NaN where dropped} for (N, C, L) signals: intervals, then morphology targets.

    workers: processes to measure in (None: every core from PARALLEL_MIN records on, else 1).
    """
    lead_names = list(lead_names)
    interval_leads = _interval_leads(lead_names, interval_leads)
    missing = [lead for lead in interval_leads if lead not in lead_names]
    if missing or not interval_leads:
        raise ValueError(f"interval_leads={list(interval_leads)!r}: leads {missing} are not among {lead_names}")
    workers = _workers(len(signals), workers)
    if workers > 1:
        chunks = _chunks(len(signals), workers)
        return _concat(_map(measure_targets, ((signals[c], fs, lead_names, morphology, interval_leads, 1)
                                              for c in chunks), workers))
    per_lead = [measure.measure_intervals(signals, fs, lead_index=lead_names.index(lead)).values
                for lead in interval_leads]
    targets = {}
    for name in measure.INTERVAL_TARGETS:
        stacked = np.stack([values[name] for values in per_lead])
        # A target needs most leads to agree it is measurable: noise passes on one lead now and then.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # nanmedian of an all-NaN column
            median = np.nanmedian(stacked, axis=0)
        targets[name] = np.where(np.isfinite(stacked).sum(0) >= (len(per_lead) + 1) // 2, median, np.nan)
    if morphology:
        targets.update(measure.measure_morphology(signals, fs, lead_names).values)
    return {name: np.asarray(values, dtype=np.float32) for name, values in targets.items()}


def _workers(n, workers):
    if workers is not None:
        return max(1, int(workers))
    return min(os.cpu_count() or 1, MAX_WORKERS) if n >= PARALLEL_MIN else 1


def _chunks(n, workers):
    """Record indices 0..n-1 in at least 4 chunks per worker (a slow chunk then holds up little) of at most
    MEASURE_CHUNK records (none empty)."""
    return [c for c in np.array_split(np.arange(n), max(4 * workers, -(-n // MEASURE_CHUNK))) if len(c)]


def _map(func, calls, workers, done=None):
    """[func(*args) for args in calls] in order, spread over `workers` processes (in this one for 1). `calls`
    may be a generator that reads each chunk's records: at most two calls per worker wait, so memory holds a
    few chunks, not the set (all of PTB-XL at 500 Hz is 5.2 GB). done(k): after the k-th result."""
    results, waiting = [], deque()

    def collect(result):
        results.append(result)
        if done is not None:
            done(len(results))

    if workers <= 1:
        for args in calls:
            collect(func(*args))
        return results
    # spawn, not fork: the caller (a training job) may already run torch's thread pools
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        for args in calls:
            waiting.append(pool.submit(func, *args))
            if len(waiting) >= 2 * workers:
                collect(waiting.popleft().result())
        while waiting:
            collect(waiting.popleft().result())
    return results


def _concat(parts):
    return {name: np.concatenate([part[name] for part in parts]) for name in parts[0]}


def _interval_leads(lead_names, interval_leads):
    if interval_leads is None:
        return [lead for lead in DEFAULT_INTERVAL_LEADS if lead in lead_names] or ["II"]
    return list(interval_leads)


def _targets_set(key, records, measure_records):
    """The cached targets-only DataSet (no signal samples) of `records`, measured on a miss."""
    def build():
        targets = measure_records()
        dropped = measure.count_dropped(targets)
        return DataSet(signals=np.zeros((len(records), 0, 0), np.float32), fs=key["measure_fs"], lead_names=(),
                       targets=targets, record_id=np.asarray(records, dtype=str),
                       config={"measured_at_fs": key["measure_fs"], "dropped": dropped, "n_records": len(records),
                               "morphology": key["morphology"], "interval_leads": key["interval_leads"]})
    return cached(key, build, kind="measured")


def _ptbxl(root, fs, leads, val_fold, test_fold, folds, morphology, interval_leads, progress):
    from ecgcore.data import ptbxl  # wfdb and pandas only when a folder is read

    database, _ = ptbxl.read_tables(root)
    available = ptbxl.folder_folds(database)
    val_fold, test_fold, _ = resolve_folds(available, val_fold, test_fold)  # auto: as load_ptbxl decides it
    use = training_folds(available, val_fold, test_fold, folds)
    # Every record of the folder is measured once, whichever folds are held out: a study that rotates its test
    # fold measures nothing again. The signals and targets handed to pretraining are the training folds' only,
    # taken from the one read of the folder.
    everything = ptbxl.load_ptbxl(root, fs=fs, leads=leads, val_fold=val_fold, test_fold=test_fold,
                                  progress=progress)
    data = everything.subset(np.isin(everything.fold, use))
    measure_fs = 500.0 if (root / ptbxl.RATES[500][1]).is_dir() else float(data.fs)  # int on a cache miss
    column = ptbxl.RATES[measure_fs][0]
    all_ids = [str(r) for r in everything.record_id]
    files = [ptbxl.DATABASE_CSV] + [f"{database.loc[int(i), column]}{ext}" for i in all_ids
                                    for ext in (".hea", ".dat")]
    key = {"source": "measured", "path": str(root), "folds": "all", "measure_fs": measure_fs,
           "leads": list(data.lead_names), "morphology": bool(morphology),
           "interval_leads": _interval_leads(data.lead_names, interval_leads),
           "stamp": ptbxl.folder_stamp(root, files)}

    def measure_records():
        workers = _workers(len(all_ids), None)
        chunks = _chunks(len(all_ids), workers)
        done = None if progress is None else (
            lambda k: progress(sum(map(len, chunks[:k])), len(all_ids), "measuring the ECGs (neurokit2)"))
        signals = everything.signals
        if measure_fs == everything.fs:
            calls = ((signals[c], everything.fs, everything.lead_names, morphology, interval_leads, 1)
                     for c in chunks)
            return _concat(_map(measure_targets, calls, workers, done))
        names = [str(database.loc[int(i), column]) for i in all_ids]
        calls = ((root, [names[i] for i in c], measure_fs, signals[c], everything.fs, everything.lead_names,
                  morphology, interval_leads) for c in chunks)  # read a chunk at a time, as _map takes them
        return _concat(_map(_measure_files, calls, workers, done))

    folder_wide = _targets_set(key, all_ids, measure_records)
    ids = [str(r) for r in data.record_id]
    position = {record: i for i, record in enumerate(str(r) for r in folder_wide.record_id)}
    rows = np.array([position[record] for record in ids], dtype=np.int64)
    targets = {name: values[rows] for name, values in folder_wide.targets.items()}
    measured = DataSet(signals=np.zeros((len(ids), 0, 0), np.float32), fs=folder_wide.fs, lead_names=(),
                       targets=targets, record_id=np.asarray(ids),
                       config={**folder_wide.config, "dropped": measure.count_dropped(targets),
                               "n_records": len(ids), "folds": use, "val_fold": val_fold, "test_fold": test_fold,
                               "record_ids": ids})
    return data, measured


def _measure_files(root, files, fs, served, served_fs, lead_names, morphology, interval_leads):
    """Measure PTB-XL records read one at a time at `fs` (a whole PTB-XL at 500 Hz does not fit in memory);
    a record whose high-rate file is unusable is measured on its `served` signal instead."""
    from ecgcore.data import ptbxl

    rows = []
    for file, signal in zip(files, served):
        try:
            record, rate = ptbxl.read_record(root, file, fs, lead_names)[None], fs
        except ValueError:
            record, rate = signal[None], served_fs
        rows.append(measure_targets(record, rate, lead_names, morphology, interval_leads, workers=1))
    return _concat(rows)


def _npz(file, val_fold, test_fold, folds, morphology, interval_leads):
    data = DataSet.load(file)
    use = None
    if data.fold is not None:
        val_fold, test_fold, _ = resolve_folds(np.unique(data.fold), val_fold, test_fold)
        use = training_folds(np.unique(data.fold), val_fold, test_fold, folds)
        data = data.subset(np.isin(data.fold, use))
    elif folds is not None:
        raise ValueError(f"folds={folds!r} given but {file} has no folds")
    ids = [str(r) for r in data.record_id] if data.record_id is not None else [str(i) for i in range(len(data))]
    st = (file / META_FILE if file.is_dir() else file).stat()  # a folder's dataset.json is rewritten on save
    key = {"source": "measured", "path": str(file), "size": st.st_size, "mtime_ns": st.st_mtime_ns,
           "folds": use, "measure_fs": float(data.fs), "leads": list(data.lead_names),
           "morphology": bool(morphology), "interval_leads": _interval_leads(data.lead_names, interval_leads)}
    measured = _targets_set(key, ids, lambda: measure_targets(data.signals, data.fs, data.lead_names,
                                                              morphology, interval_leads))
    measured.config = {**measured.config, "folds": use, "val_fold": val_fold, "test_fold": test_fold,
                       "record_ids": ids}
    data.record_id = np.asarray(ids)
    return data, measured


def mixed_dataset(real_set, synth_set, ratio=0.5, n=None, seed=0):
    """Measured-real and synthetic records together: `ratio` of the `n` records are real.

    real_set, synth_set: the two parts, loaded (ecgcore.data.sources.Mixed loads them from the mixed spec).
    The synthetic part is resampled to the real part's rate when it has another, and takes the real part's
    leads. n: total records (None: as many as both parts allow at this ratio). Targets are the union of both
    parts' (NaN where a part lacks one: masked in training).
    """
    from ecgcore.config import Preprocess
    from ecgcore.data.preprocess import preprocess
    from ecgcore.leads import select

    if not 0 <= ratio <= 1:
        raise ValueError(f"ratio={ratio!r} is invalid: the share of real records must be in [0, 1]")
    signals, fs, _ = preprocess(synth_set.signals, synth_set.fs, synth_set.lead_names,
                                Preprocess(bandpass=False, normalize="none", fs=real_set.fs))
    signals, _ = select(signals, synth_set.lead_names, real_set.lead_names)
    if signals.shape[-1] != real_set.signals.shape[-1]:
        raise ValueError(f"synthetic records last {signals.shape[-1] / fs:g} s, the real ones "
                         f"{real_set.duration:g} s: give the synthetic spec the same duration")
    if n is None:
        n = int(min(len(real_set) / ratio if ratio else np.inf, len(synth_set) / (1 - ratio) if ratio < 1 else np.inf))
    n_real = int(round(ratio * n))
    for name, need, have in (("real", n_real, len(real_set)), ("synthetic", n - n_real, len(synth_set))):
        if need > have:
            raise ValueError(f"n={n} at ratio={ratio} needs {need} {name} records but the {name} spec gives {have}")
    rng = np.random.default_rng(seed)
    take_real = np.sort(rng.choice(len(real_set), n_real, replace=False))
    take_synth = np.sort(rng.choice(len(synth_set), n - n_real, replace=False))
    names = list(dict.fromkeys([*real_set.targets, *synth_set.targets]))
    nan = lambda k: np.full(k, np.nan, np.float32)  # noqa: E731
    targets = {t: np.concatenate([real_set.targets[t][take_real] if t in real_set.targets else nan(n_real),
                                  synth_set.targets[t][take_synth] if t in synth_set.targets else nan(n - n_real)])
               for t in names}
    real_ids = real_set.record_id[take_real] if real_set.record_id is not None else take_real
    ids = [f"real:{r}" for r in real_ids] + [f"synthetic:{i}" for i in take_synth]
    units = {**{t: measure.target_unit(t) for t in names}, **real_set.config.get("units", {})}
    config = {"source": "mixed", "ratio": float(ratio), "n": n, "n_real": n_real, "n_synthetic": n - n_real,
              "seed": seed, "targets": names, "units": units, "dropped": measure.count_dropped(targets),
              "real": real_set.config, "synthetic": synth_set.config}
    return DataSet(signals=np.concatenate([real_set.signals[take_real], signals[take_synth]]), fs=real_set.fs,
                   lead_names=real_set.lead_names, targets=targets, record_id=np.asarray(ids), config=config)


def measurement_error(n=100, fs=500, noise=True, seed=0, interval_leads=None):
    """How far the measured targets fall from the parametric engine's exact labels.

    Draws `n` records from the engine's normal ranges (the synthetic pretraining distribution), measures them
    as the measured source does, and returns {target: {"median": ..., "p90": ..., "dropped": count}} of the
    absolute error (bpm or ms; degrees for qrs_axis against the engine's axis).
    """
    from ecgcore.synth import sample_params, synthesize

    params, _ = sample_params(n, seed=seed)
    batch = synthesize(params, n=n, fs=fs, seed=seed, noise=noise)
    measured = measure_targets(batch.signals, fs, batch.lead_names, morphology=True, interval_leads=interval_leads)
    truth = {**batch.labels, measure.QRS_AXIS: batch.params["axis"]}
    out = {}
    for name, true in truth.items():
        error = np.abs(measured[name] - true)
        if name == measure.QRS_AXIS:
            error = np.abs((measured[name] - true + 180) % 360 - 180)  # angles wrap
        ok = np.isfinite(error)
        out[name] = {"median": float(np.median(error[ok])) if ok.any() else None,
                     "p90": float(np.percentile(error[ok], 90)) if ok.any() else None, "dropped": int((~ok).sum())}
    return out
