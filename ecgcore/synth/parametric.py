"""The parametric engine: a batch of labelled 12-lead ECGs from clinical parameters, vectorised over records.

Per chunk of records: draw the rhythm (beat onsets), build one beat template per record from the wave tables
(ecgcore.synth.waves), place the template at every beat onset with a gather (no loop per record or beat;
one pass per overlapping beat, usually 1-2), add noise, derive III, aVR, aVL, aVF from I and II.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from ecgcore.leads import LEADS, limb_leads
from ecgcore.synth.noise import noise as draw_noise
from ecgcore.synth.params import realised_qt, validate_params
from ecgcore.synth.waves import amplitudes, MODE_NAMES, realised_qt_ms, wave_shapes, windows

FIDUCIALS = ("p_on", "p_off", "qrs_on", "qrs_off", "t_off")
LOOKBACK_S = 1.5  # longer than any beat (PR 400 + QT 950 ms): the first sample sees every beat reaching it
CHUNK_VALUES = 2_000_000  # records x 8 leads x samples per chunk (~16 MB per float64 work array)
WORKERS = min(4, len(os.sched_getaffinity(0)))  # threads; each holds one chunk's work arrays
FS_RANGE = (100.0, 1000.0)
DURATION_RANGE = (2.0, 600.0)  # s


@dataclass
class Synthesis:
    """A synthesized batch. Labels are the realised per-record means over the record's beats."""

    signals: np.ndarray  # (n, 12, L) float32, mV, leads in `lead_names` order
    labels: dict  # "hr" (bpm), "pr", "qrs", "qt" (ms) -> (n,) float64
    fiducials: np.ndarray  # (n, beats, 5) float64 s, columns FIDUCIALS, NaN-padded past a record's last beat
    fs: float
    lead_names: tuple
    params: dict  # every parameter as used, (n,) arrays

    def __len__(self):
        return len(self.signals)

    def marks(self, i=0):
        """Record i's fiducials as {mark: times s}, one name of FIDUCIALS each (what the plots draw)."""
        return {name: self.fiducials[i, :, j] for j, name in enumerate(FIDUCIALS)}

    def record(self, i=0):
        """Record i as the pages show it: (signal (12, L) mV, {target: value}, {mark: times s})."""
        return self.signals[i], {k: float(v[i]) for k, v in self.labels.items()}, self.marks(i)


def check_fs(fs):
    """ValueError unless `fs` lies in FS_RANGE (the rates every synthetic engine serves)."""
    if not FS_RANGE[0] <= fs <= FS_RANGE[1]:
        raise ValueError(f"fs={fs!r} Hz is out of range [{FS_RANGE[0]:g}, {FS_RANGE[1]:g}] Hz")


def _check_call(n, fs, duration):
    if int(n) != n or n < 1:
        raise ValueError(f"n={n!r} must be a positive whole number of records")
    check_fs(fs)
    if not DURATION_RANGE[0] <= duration <= DURATION_RANGE[1]:
        raise ValueError(f"duration={duration!r} s is out of range [{DURATION_RANGE[0]:g}, {DURATION_RANGE[1]:g}] s")


def _rhythm(p, fs, length, rng):
    """(N, B) beat onsets (P onsets) in whole samples, the first LOOKBACK_S or more before the record."""
    rr_mean = 60.0 / p["hr"]
    lo, hi = np.maximum(0.5 * rr_mean, 0.2), 1.5 * rr_mean
    n_beats = int(np.ceil((length / fs + LOOKBACK_S + hi.max()) / lo.min())) + 1
    rr = rr_mean[:, None] + 1e-3 * p["hrv"][:, None] * rng.standard_normal((len(rr_mean), n_beats))
    rr = np.clip(rr, lo[:, None], hi[:, None])
    first = -(LOOKBACK_S + rng.uniform(size=len(rr_mean)) * rr_mean)
    onsets = first[:, None] + np.cumsum(rr, axis=1) - rr
    return np.round(onsets * fs).astype(np.int64)


def _beats_in_record(onsets, p, fs, length):
    """(N, B) mask of the beats whose QRS onset falls inside the record, and the realised heart rate."""
    qrs_on = onsets / fs + 1e-3 * p["pr"][:, None]
    inside = (qrs_on >= 0) & (qrs_on < length / fs)
    count = inside.sum(1)
    first = np.where(inside, qrs_on, np.inf).min(1)
    last = np.where(inside, qrs_on, -np.inf).max(1)
    with np.errstate(divide="ignore", invalid="ignore"):
        hr = np.where(count >= 2, 60.0 * (count - 1) / (last - first), p["hr"])
    return inside, hr


def _place(template, onsets, length):
    """Sum of `template` (C, N, T) started at each onset (N, B) -> (N, C, length); zero outside the beats."""
    n_leads, n, t_len = template.shape
    # index t_len of each record's row is a zero that every sample outside a beat points at
    template = np.concatenate([template, np.zeros((n_leads, n, 1))], axis=2).astype(np.float32)
    # beat index of each sample: beats started at or before it, minus one
    rows, cols = np.nonzero((onsets > 0) & (onsets < length))
    marks = np.zeros((n, length), dtype=np.int64)
    marks[rows, onsets[rows, cols]] = 1
    beat = (onsets <= 0).sum(1)[:, None] - 1 + np.cumsum(marks, axis=1)
    t = np.arange(length)
    record = np.arange(n)[:, None]
    overlapping = int(np.ceil(t_len / np.diff(onsets, axis=1).min()))  # beats one sample can lie in
    out = np.zeros((n, n_leads, length), dtype=np.float32)
    for k in range(overlapping):
        b = beat - k
        local = t - onsets.ravel().take(record * onsets.shape[1] + np.maximum(b, 0))
        local = np.where((b < 0) | (local >= t_len), t_len, local)
        flat = record * (t_len + 1) + local  # 1-D takes: far faster than take_along_axis's broadcast indices
        for j in range(n_leads):
            out[:, j] += template[j].ravel().take(flat)
    return out


def _chunk(p, fs, length, rng, with_noise):
    """(N, 8, L) leads I, II, V1-V6, labels and fiducials for one chunk of full parameters `p`."""
    mode = np.select([p["bundle_branch"] == m for m in MODE_NAMES], range(len(MODE_NAMES)))
    onsets = _rhythm(p, fs, length, rng)
    inside, hr = _beats_in_record(onsets, p, fs, length)
    qt = realised_qt_ms(p, realised_qt(p["qt"], p["qt_correction"], 60.0 / hr))
    start, span, peak = windows(p, mode, qt)
    tau = np.arange(int(np.ceil((start + span).max() * fs)) + 2) / fs
    shapes = wave_shapes(tau, start, span, peak, 1e-3 * p["qrs"])
    template = np.einsum("nwt,nwj->jnt", shapes, amplitudes(p, mode))
    signals = _place(template, onsets, length)
    if with_noise:
        signals += draw_noise(p, signals.shape[1], np.arange(length) / fs, rng)
    # fiducials of the in-record beats, left-aligned (they are consecutive beats)
    count = inside.sum(1)
    beat = np.argmax(inside, axis=1)[:, None] + np.arange(max(count.max(), 1))
    valid = np.arange(beat.shape[1]) < count[:, None]
    p_on = np.take_along_axis(onsets, np.minimum(beat, onsets.shape[1] - 1), axis=1) / fs
    p_on = np.where(valid, p_on, np.nan)
    pr, qrs = 1e-3 * p["pr"][:, None], 1e-3 * p["qrs"][:, None]
    fiducials = np.stack([p_on, p_on + span[:, :1], p_on + pr, p_on + pr + qrs, p_on + pr + 1e-3 * qt[:, None]],
                         axis=-1)
    labels = {"hr": hr, "pr": p["pr"].copy(), "qrs": p["qrs"].copy(), "qt": qt}
    return signals, labels, fiducials


def synthesize(params=None, n=1, fs=500, duration=10.0, seed=0, noise=True, progress=None, out=None):
    """Synthesize `n` labelled 12-lead ECGs. See ecgcore.synth for the parameters and the label convention.

    params: {name: scalar or (n,) array} (missing names take PARAMS defaults); noise=False switches all
    noise off; progress: optional callable given the share done (0-1) after each chunk. out: an (n, 12, L)
    float32 array to write the signals into (a data set file being built: ecgcore.data.dataset.Writer).
    Same arguments and seed -> the same signals, whatever the machine.
    """
    _check_call(n, fs, duration)
    p = validate_params(params, n)
    length = int(round(duration * fs))
    signals = np.empty((n, len(LEADS), length), dtype=np.float32) if out is None else out
    if signals.shape != (n, len(LEADS), length):
        raise ValueError(f"out has shape {signals.shape}, the records need {(n, len(LEADS), length)}")
    labels = {k: np.empty(n) for k in ("hr", "pr", "qrs", "qt")}
    chunk = max(1, CHUNK_VALUES // (8 * length))
    parts = [slice(lo, min(lo + chunk, n)) for lo in range(0, n, chunk)]

    def run(i):
        """Fill chunk i's rows in place (chunks are disjoint) and return its fiducials."""
        part = parts[i]
        eight, chunk_labels, chunk_fiducials = _chunk({k: v[part] for k, v in p.items()}, fs, length,
                                                      np.random.default_rng([seed, i]), noise)
        signals[part, :2], signals[part, 6:] = eight[:, :2], eight[:, 2:]
        for k, lead in enumerate(limb_leads(eight[:, 0], eight[:, 1]), start=2):
            signals[part, k] = lead
        for k, v in chunk_labels.items():
            labels[k][part] = v
        return chunk_fiducials

    # Chunks run on a few threads (numpy releases the GIL in its loops); each chunk has its own seed, so the
    # output does not depend on the number of threads or their timing.
    fiducials = []
    with ThreadPoolExecutor(max_workers=min(WORKERS, len(parts))) as pool:
        for i, chunk_fiducials in enumerate(pool.map(run, range(len(parts)))):
            fiducials.append(chunk_fiducials)
            if progress is not None:
                progress(parts[i].stop / n)
    beats = max(f.shape[1] for f in fiducials)
    fiducials = np.concatenate([np.pad(f, ((0, 0), (0, beats - f.shape[1]), (0, 0)), constant_values=np.nan)
                                for f in fiducials])
    return Synthesis(signals=signals, labels=labels, fiducials=fiducials, fs=float(fs), lead_names=LEADS, params=p)
