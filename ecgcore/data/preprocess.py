"""One preprocessing step for synthetic and real signals alike: lead selection, band-pass, resampling, scaling.

A run records the `ecgcore.config.Preprocess` it used (JobConfig.preprocess), so a model is always fed the
same kind of signal it was trained on.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import asdict
from fractions import Fraction

import numpy as np
from scipy.signal import butter, resample_poly, sosfiltfilt

from ecgcore import leads as leadlib
from ecgcore.data.cache import cache_path, cached
from ecgcore.data.dataset import Writer, release

CHUNK = 1024  # records filtered at once: bounds the float64 working copies scipy makes
DISK_CHUNK = 256  # records per block written to a preprocessed entry (about 0.5 GB of float64 at 12 x 5,000)


# A signal "looks z-scored" when nearly every lead of every record has mean ~0 and SD ~1: raw ECGs in mV have a
# per-lead SD of about 0.05-0.5 mV, so the two do not meet.
STANDARDISED_TOL, STANDARDISED_SHARE = 0.05, 0.9
STANDARDISED_NOTE = ("values look z-scored per lead (each lead mean 0, SD 1), not millivolts, whatever the header "
                     "says: the paper's mV scale and amplitudes in mV do not apply")


def looks_standardised(signals):
    """Whether (C, L) or (N, C, L) signals look z-scored per lead (STANDARDISED_SHARE of the leads with a mean
    within STANDARDISED_TOL of 0 and an SD within it of 1). A flat lead (SD 0) counts against it."""
    x = np.asarray(signals, dtype=np.float64)
    x = x.reshape(-1, x.shape[-1]) if x.ndim > 1 else x[None]
    if x.shape[-1] < 2 or not np.isfinite(x).all():
        return False
    mean, sd = x.mean(axis=1), x.std(axis=1)
    fits = (np.abs(mean) < STANDARDISED_TOL) & (np.abs(sd - 1) < STANDARDISED_TOL)
    return bool(fits.mean() >= STANDARDISED_SHARE)


def preprocess(signals, fs, lead_names, cfg):
    """(N, C, L) signals -> (signals, fs, lead_names) after the steps `cfg` (a config.Preprocess) asks for.

    Order: lead selection, band-pass at the original rate (it doubles as the anti-alias filter), resampling,
    per-record per-lead scaling. Returns float32.
    """
    signals = np.asanyarray(signals)  # a memory-mapped set is read a chunk at a time, never whole
    if signals.ndim != 3:
        raise ValueError(f"signals must be (N, leads, samples), got shape {signals.shape}")
    if cfg.normalize not in ("zscore", "minmax", "none"):
        raise ValueError(f"preprocess.normalize={cfg.normalize!r} is invalid: must be zscore, minmax or none")
    if cfg.fs is not None and cfg.fs <= 0:
        raise ValueError(f"preprocess.fs={cfg.fs} is invalid: must be > 0 (or None to keep the rate)")
    fs = float(fs)
    sos = _bandpass(cfg, fs) if cfg.bandpass else None
    out, names = [], leadlib.select(signals[:0], lead_names, cfg.leads)[1]
    for i in range(0, len(signals), CHUNK):
        chunk = np.asarray(signals[i:i + CHUNK])
        bad = ~np.isfinite(chunk).all(axis=(1, 2))
        if bad.any():
            raise ValueError(f"signals contain NaN or inf in {int(bad.sum())} record(s) of records {i}-"
                             f"{i + len(chunk) - 1}, first at index {i + int(np.argmax(bad))}: clean or drop them "
                             "before preprocessing")
        out.append(_process_chunk(leadlib.select(chunk, lead_names, cfg.leads)[0], fs, sos, cfg))
        release(signals)
    signals = np.concatenate(out) if out else np.zeros((0, len(names), 0), np.float32)
    return signals, float(cfg.fs or fs), tuple(names)


def preprocessed_on_disk(dataset, cfg, progress=None):
    """`dataset`'s signals preprocessed with `cfg`, as a cache entry (ecgcore.data.cache) read memory-mapped:
    built once, DISK_CHUNK records at a time, then reused by every run on the same file and settings. The streamed
    training path reads its batches from it, so an epoch only reads: preprocessing every batch of every epoch
    again costs the trainer its cores (on 2 cores, half its speed). None when `dataset`'s signals are not a
    whole file. The key is the file (path, size, modification time) and `cfg`. progress(share) while it builds."""
    file = getattr(dataset.signals, "filename", None)
    if file is None or np.load(file, mmap_mode="r").shape != dataset.signals.shape:  # in memory, or part of a file
        return None
    stat = os.stat(file)
    key = {"signals": os.path.realpath(file), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns,
           "inode": stat.st_ino, "preprocess": asdict(cfg)}

    def build(folder):
        n = len(dataset)
        writer = Writer(folder, n, *output_shape(dataset.signals.shape, dataset.fs, cfg))
        names = leadlib.select(dataset.signals[:0], dataset.lead_names, cfg.leads)[1]
        for start in range(0, n, DISK_CHUNK):
            writer.write(start, preprocess(dataset.signals[start:start + DISK_CHUNK], dataset.fs, dataset.lead_names,
                                           cfg)[0])
            writer.flush()
            if progress is not None:
                progress(min(start + DISK_CHUNK, n) / n)
        writer.finish(n, fs=float(cfg.fs or dataset.fs), lead_names=tuple(names),
                      config={"preprocessed": {"from": key["signals"], "preprocess": key["preprocess"]}})

    try:
        return cached(key, build, kind="preprocessed", chunked=True)
    except OSError:  # e.g. the disk is full: leave no half-written file of this size behind
        partial = cache_path(key, "preprocessed")
        shutil.rmtree(partial.with_name(partial.name + ".partial"), ignore_errors=True)
        raise


def output_shape(shape, fs, cfg):
    """(leads, samples) that preprocess(cfg) makes of records of `shape` (N, C, L) at `fs` Hz."""
    leads = len(leadlib.LEAD_SETS.get(cfg.leads, cfg.leads)) if isinstance(cfg.leads, str) else len(cfg.leads)
    length = shape[-1]
    if cfg.fs and cfg.fs != fs:
        ratio = Fraction(cfg.fs / float(fs)).limit_denominator(1000)
        length = -(-length * ratio.numerator // ratio.denominator)  # resample_poly's ceil(L * up / down)
    return leads, int(length)


def _bandpass(cfg, fs):
    if not 0 < cfg.low_hz < cfg.high_hz < fs / 2:
        raise ValueError(f"band-pass {cfg.low_hz}-{cfg.high_hz} Hz is invalid at fs={fs} Hz: "
                         f"need 0 < low_hz < high_hz < fs/2 = {fs / 2}")
    return butter(4, [cfg.low_hz, cfg.high_hz], btype="band", fs=fs, output="sos")


def _process_chunk(x, fs, sos, cfg):
    x = x.astype(np.float64)
    if sos is not None:
        pad = 3 * (2 * len(sos) + 1)  # sosfiltfilt's default edge padding: records must be longer
        if x.shape[-1] <= pad:
            raise ValueError(f"records of {x.shape[-1]} samples are too short for the band-pass filter "
                             f"(preprocess.bandpass needs more than {pad}): use longer records or bandpass=false")
        x = sosfiltfilt(sos, x, axis=-1)
    if cfg.fs and cfg.fs != fs:
        ratio = Fraction(cfg.fs / fs).limit_denominator(1000)
        x = resample_poly(x, ratio.numerator, ratio.denominator, axis=-1)
    if cfg.normalize == "zscore":
        x = (x - x.mean(axis=-1, keepdims=True)) / (x.std(axis=-1, keepdims=True) + 1e-8)
    elif cfg.normalize == "minmax":  # the paper's: each lead to [0, 1]
        lo, hi = x.min(axis=-1, keepdims=True), x.max(axis=-1, keepdims=True)
        x = (x - lo) / (hi - lo + 1e-8)
    return x.astype(np.float32)
