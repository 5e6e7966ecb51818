"""The parametric engine: a batch of labelled 12-lead ECGs from clinical parameters, vectorised over records.

Per chunk of records: draw the sinus beat onsets, build one beat template per record from the wave tables
(ecgcore.synth.waves), place the template at every beat onset with a gather (no loop per record or beat;
one pass per overlapping beat, usually 1-2), add noise, derive III, aVR, aVL, aVF from I and II.
Records of another rhythm (ecgcore.synth.rhythms) take their activation times from their own random stream and
are drawn as an atrial track (P waves of each kind, flutter or fibrillation waves) and a ventricular track
(narrow, wide and paced complexes, pacing spikes), each template placed by the same gather at its own times.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from ecgcore.leads import LEADS, limb_leads
from ecgcore.synth import rhythms
from ecgcore.synth.noise import noise as draw_noise
from ecgcore.synth.params import MIN_T_MS, realised_qt, validate_params
from ecgcore.synth.waves import (MODE_NAMES, QT_MAX_MS, WAVE_INDEX, WAVES, amplitudes, p_wave_amplitudes,
                                 realised_qt_ms, wave_shapes, windows)

FIDUCIALS = ("p_on", "p_off", "qrs_on", "qrs_off", "t_off")
LOOKBACK_S = 1.5  # longer than any beat (PR 400 + QT 950 ms): the first sample sees every beat reaching it
CHUNK_VALUES = 2_000_000  # records x 8 leads x samples per chunk (~16 MB per float64 work array)
WORKERS = min(4, len(os.sched_getaffinity(0)))  # threads; each holds one chunk's work arrays
FS_RANGE = (100.0, 1000.0)
RHYTHM_STREAM = 1  # the rhythms' random stream of a chunk is seeded [seed, chunk, RHYTHM_STREAM]
# Beats that start in a ventricle: a left-bundle-like wide complex along these frontal axes (deg): premature
# ventricular, tachycardia and escape beats from low in the left ventricle; paced beats from the right
# ventricular apex (left superior axis).
VENTRICULAR_AXIS, PACED_AXIS = 120.0, -60.0
SPIKE_S = 0.002  # a pacing stimulus: this long (at least one sample), with these amplitudes (mV) in I, II, V1-V6
SPIKE_MV = np.array([0.8, 1.6, 1.5, 1.5, 1.3, 1.1, 1.0, 0.8])
# Flutter F waves: negative in II, III, aVF and upright in V1 (typical flutter); fibrillatory f waves: largest
# in V1 and the inferior leads. Weights in I, II, V1-V6.
FLUTTER_LEADS = np.array([-0.05, -1.0, 0.6, 0.3, 0.1, 0.0, -0.1, -0.2])
FIBRILLATION_LEADS = np.array([0.2, 0.5, 1.0, 0.6, 0.4, 0.3, 0.2, 0.15])
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
    # beat annotations (ecgcore.synth.rhythms): per QRS complex in the record its onset sample and MIT-BIH
    # symbol; the onset sample of every atrial activation (P or F wave); -1 / '' padded
    beat_samples: np.ndarray = None  # (n, B) int64
    beat_types: np.ndarray = None  # (n, B) str
    atrial_samples: np.ndarray = None  # (n, A) int64
    label_beats: np.ndarray = None  # (n,) str: the beat type the interval labels were measured over

    def __len__(self):
        return len(self.signals)

    def marks(self, i=0):
        """Record i's fiducials as {mark: times s}, one name of FIDUCIALS each (what the plots draw)."""
        return {name: self.fiducials[i, :, j] for j, name in enumerate(FIDUCIALS)}

    def annotations(self, i=0):
        """Record i's beats: {"beats": [(onset sample, symbol)], "atrial": [onset samples]} (the strip's marks)."""
        keep = self.beat_samples[i] >= 0
        return {"beats": list(zip(self.beat_samples[i][keep].tolist(), self.beat_types[i][keep].tolist())),
                "atrial": [int(a) for a in self.atrial_samples[i] if a >= 0]}

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
    return _realised_rate(onsets / fs + 1e-3 * p["pr"][:, None], length / fs, p["hr"])


def _realised_rate(qrs_on, duration, fallback):
    """(N, B) mask of the QRS onsets `qrs_on` (s; NaN: none) inside the record, and the realised heart rate:
    60 / the mean R-R interval between them, `fallback` (N,) where the record holds fewer than two."""
    inside = (qrs_on >= 0) & (qrs_on < duration)
    count = inside.sum(1)
    first = np.where(inside, qrs_on, np.inf).min(1)
    last = np.where(inside, qrs_on, -np.inf).max(1)
    with np.errstate(divide="ignore", invalid="ignore"):
        hr = np.where(count >= 2, 60.0 * (count - 1) / (last - first), fallback)
    return inside, hr


def _place(template, onsets, length, out=None):
    """Sum of `template` (C, N, T) started at each onset (N, B) -> (N, C, length); zero outside the beats. With
    `out` ((N, C, length) float32) the sum is added into it."""
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
    out = np.zeros((n, n_leads, length), dtype=np.float32) if out is None else out
    for k in range(overlapping):
        b = beat - k
        local = t - onsets.ravel().take(record * onsets.shape[1] + np.maximum(b, 0))
        local = np.where((b < 0) | (local >= t_len), t_len, local)
        flat = record * (t_len + 1) + local  # 1-D takes: far faster than take_along_axis's broadcast indices
        for j in range(n_leads):
            out[:, j] += template[j].ravel().take(flat)
    return out


def _sinus(p, onsets, fs, length):
    """Sinus records: one beat template (P to T end) placed at each P onset. (N, 8, L) leads I, II, V1-V6,
    labels, fiducials and the beats' QRS onset samples (N, B), -1 padded."""
    mode = np.select([p["bundle_branch"] == m for m in MODE_NAMES], range(len(MODE_NAMES)))
    inside, hr = _beats_in_record(onsets, p, fs, length)
    qt = realised_qt_ms(p, realised_qt(p["qt"], p["qt_correction"], 60.0 / hr))
    start, span, peak = windows(p, mode, qt)
    tau = np.arange(int(np.ceil((start + span).max() * fs)) + 2) / fs
    shapes = wave_shapes(tau, start, span, peak, 1e-3 * p["qrs"])
    template = np.einsum("nwt,nwj->jnt", shapes, amplitudes(p, mode))
    signals = _place(template, onsets, length)
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
    beats = np.where(valid, np.round(fiducials[..., 2] * fs), -1).astype(np.int64)
    return signals, labels, fiducials, beats


def _chunk(p, fs, length, rng, with_noise, rhythm_rng):
    """(N, 8, L) leads I, II, V1-V6, labels, fiducials and beat annotations for one chunk of full parameters
    `p`. The sinus draws (beat onsets, then noise) are made for every record in today's order, so sinus records
    stay what they always were; the other rhythms draw from `rhythm_rng`."""
    n = len(p["hr"])
    onsets = _rhythm(p, fs, length, rng)
    sinus = p["rhythm"] == "sinus"
    if sinus.all():
        signals, labels, fiducials, beats = _sinus(p, onsets, fs, length)
        parts = [(np.arange(n), labels, fiducials, beats, None)]
    else:
        signals = np.zeros((n, 8, length), dtype=np.float32)
        parts = []
        for rows, make in ((np.flatnonzero(sinus), _sinus), (np.flatnonzero(~sinus), _arrhythmia)):
            if len(rows):
                sub = {k: v[rows] for k, v in p.items()}
                drawn, labels, fiducials, beats, *marks = make(sub, onsets[rows], fs, length) \
                    if make is _sinus else make(sub, fs, length, rhythm_rng)
                signals[rows] = drawn
                parts.append((rows, labels, fiducials, beats, marks[0] if marks else None))
    if with_noise:
        signals += draw_noise(p, signals.shape[1], np.arange(length) / fs, rng)
    return signals, _merge(n, parts, p, onsets, fs, length)


def _merge(n, parts, p, onsets, fs, length):
    """One chunk's labels, fiducials and annotations from its sinus and other-rhythm parts, in record order."""
    labels = {k: np.empty(n) for k in ("hr", "pr", "qrs", "qt")}
    width = max(part[2].shape[1] for part in parts)
    fiducials = np.full((n, width, len(FIDUCIALS)), np.nan)
    beats = np.full((n, width), -1, np.int64)
    types = np.full((n, width), "", "<U1")
    atrial = [[] for _ in range(n)]
    label_beats = np.full(n, "N", "<U1")
    for rows, part_labels, part_fiducials, part_beats, marks in parts:
        for k, v in part_labels.items():
            labels[k][rows] = v
        fiducials[rows, :part_fiducials.shape[1]] = part_fiducials
        beats[rows, :part_beats.shape[1]] = part_beats
        if marks is None:  # sinus: every beat normal, every P onset in the record an atrial activation
            types[rows, :part_beats.shape[1]] = np.where(part_beats >= 0, "N", "")
            for r in rows:
                atrial[r] = [int(o) for o in onsets[r] if 0 <= o < length]
        else:
            part_types, part_atrial, part_label_beats = marks
            types[rows, :part_types.shape[1]] = part_types
            label_beats[rows] = part_label_beats
            for r, a in zip(rows, part_atrial):
                atrial[r] = a
    return {"labels": labels, "fiducials": fiducials, "beat_samples": beats, "beat_types": types,
            "atrial": atrial, "label_beats": label_beats}


def _events(times, fs, length, t_len):
    """Rows with events and their onsets in samples (R, B), only those before the record's end, padded past it
    with onsets t_len apart (so _place sees increasing onsets and never reaches a pad). When most rows have
    events, every row is given (a row of pads only adds nothing): cheaper than gathering rows out and back."""
    rows = [i for i, ts in enumerate(times) if any(t * fs < length - 0.5 for t in ts)]
    if len(rows) >= 0.6 * len(times):
        rows = list(range(len(times)))
    samples = [np.round(np.asarray(times[i]) * fs).astype(np.int64) for i in rows]
    samples = [s[s < length] for s in samples]
    width = max((len(s) for s in samples), default=0) + 1
    onsets = length + t_len * (1 + np.arange(width))[None, :].repeat(len(rows), 0)
    for r, s in enumerate(samples):
        onsets[r, :len(s)] = s
    return rows, onsets


def _add_events(out, template, times, fs, length):
    """Add `template` (8, N, T) at each record's event times (a list per record, s) into `out` (N, 8, L)."""
    rows, onsets = _events(times, fs, length, template.shape[2])
    if len(rows) == len(out):
        _place(template, onsets, length, out=out)
    elif rows:
        out[rows] += _place(template[:, rows], onsets, length)


def _template(p, mode, qt, fs, shift, waves, amp=None):
    """(8, N, T) beat template of the `waves` named (others zero), its time 0 `shift` s after the P onset."""
    start, span, peak = windows(p, mode, qt)
    start = start - shift[:, None]
    keep = np.isin(np.arange(len(WAVES)), [WAVE_INDEX[w] for w in waves])
    tau = np.arange(int(np.ceil(max((start + span)[:, keep].max(), 0.0) * fs)) + 2) / fs
    shapes = wave_shapes(tau, start, span, peak, 1e-3 * p["qrs"])
    amps = amplitudes(p, mode) if amp is None else amp
    return np.einsum("nwt,nwj->jnt", shapes[:, keep], amps[:, keep]), span


def _wide(p, axis):
    """The parameters of beats that start in a ventricle: wide (wide_qrs), a block-like pattern with discordant
    ST-T along frontal `axis` (deg), taller."""
    return {**p, "qrs": p["wide_qrs"], "axis": np.full(len(p["qrs"]), float(axis)), "r_amp": 1.3 * p["r_amp"]}


def _continuous_atria(p, timings, seeds, fs, length):
    """(N, 8, L) flutter F waves (a sawtooth) and fibrillatory f waves (three drifting sinusoids), zero elsewhere."""
    n, t = len(timings), np.arange(length) / fs
    out = np.zeros((n, 8, length), dtype=np.float32)
    for i, timing in enumerate(timings):
        amp = p["f_amp"][i]
        if timing.flutter:  # a slow rise, then a fast fall; with the vector below, negative in II, III, aVF
            period = timing.flutter[1] - timing.flutter[0]
            phase = ((t - timing.flutter[0]) / period) % 1.0
            wave = np.where(phase < 0.75, phase / 0.75, (1.0 - phase) / 0.25) - 0.5
            out[i] = FLUTTER_LEADS[:, None] * (amp * wave)[None, :]
        elif p["rhythm"][i] == "afib":
            rng = np.random.default_rng(seeds[i])
            base = p["f_rate"][i] / 60.0
            wave = np.zeros(length)
            for share in (0.85, 1.0, 1.15):
                drift = 0.08 * np.sin(2 * np.pi * rng.uniform(0.1, 0.3) * t + rng.uniform(0, 2 * np.pi))
                wave += np.sin(2 * np.pi * base * share * (t + drift / (2 * np.pi * base)) + rng.uniform(0, 2 * np.pi))
            out[i] = FIBRILLATION_LEADS[:, None] * (amp / 1.5 * wave)[None, :]
    return out


def _arrhythmia(p, fs, length, rng):
    """Records of the rhythms other than sinus: their timing (ecgcore.synth.rhythms), then an atrial track (P
    waves of each kind, flutter or fibrillation waves) and a ventricular track (narrow and wide complexes,
    pacing spikes) drawn from the record's own wave tables. (N, 8, L), labels, fiducials, beats, annotations."""
    n, ms, duration = len(p["hr"]), 1e-3, length / fs
    rows = [{k: (str(v[i]) if v.dtype.kind in "UO" else float(v[i])) for k, v in p.items()} for i in range(n)]
    timings = [rhythms.timing(row, -LOOKBACK_S, duration + 0.1, rng) for row in rows]
    f_seeds = rng.integers(2**31, size=n)  # each fibrillating record's own f waves
    # the realised ventricular rate, as the sinus engine's: over the QRS onsets inside the record (with fewer
    # than two inside, over all the record's drawn beats)
    beat_times = [np.array([b[0] for b in tm.beats]) for tm in timings]
    qrs_on = np.full((n, max(1, max(len(t) for t in beat_times))), np.nan)
    for i, times in enumerate(beat_times):
        qrs_on[i, :len(times)] = times
    fallback = np.array([60.0 / np.mean(np.diff(t)) if len(t) >= 2 else p["hr"][i] for i, t in enumerate(beat_times)])
    _, hr = _realised_rate(qrs_on, duration, fallback)
    mode = np.select([p["bundle_branch"] == m for m in MODE_NAMES], range(len(MODE_NAMES)))
    qt = realised_qt_ms(p, realised_qt(p["qt"], p["qt_correction"], 60.0 / hr))
    ventricle = [w for w, _, _ in WAVES if w != "p"]
    narrow, _ = _template(p, mode, qt, fs, ms * p["pr"], ventricle)
    p_shape, span = _template(p, mode, qt, fs, np.zeros(n), ["p"], amp=np.ones((n, len(WAVES), 8)))
    left = np.full(n, MODE_NAMES.index("left"))
    # a wide beat keeps the record's J point to T end: its QT is longer by the extra QRS width
    wide_qt = np.clip(qt + p["wide_qrs"] - p["qrs"], p["wide_qrs"] + MIN_T_MS, QT_MAX_MS)
    signals = _continuous_atria(p, timings, f_seeds, fs, length)
    # sinus P (as `amplitudes` draws it), premature atrial P (another axis), retrograde P (inverted inferiorly)
    p_amp = dict(zip(rhythms.ATRIAL_WAVES, (p_wave_amplitudes(p["p_amp"], 60.0),
                                            p_wave_amplitudes(0.9 * p["p_amp"], -30.0, 0.5),
                                            p_wave_amplitudes(0.8 * p["p_amp"], -90.0, -0.5))))
    for wave, amp in p_amp.items():
        template = p_shape[0][None] * amp.T[:, :, None]  # the P time course (N, T) in each lead
        _add_events(signals, template, [[a for a, w in tm.atrial if w == wave] for tm in timings], fs, length)
    _add_events(signals, narrow, [[b[0] for b in tm.beats if b[1] in rhythms.NARROW] for tm in timings], fs, length)
    for symbols, axis in ((("V", "E"), VENTRICULAR_AXIS), (("/",), PACED_AXIS)):  # the few records that have them
        times = [[b[0] for b in tm.beats if b[1] in symbols] for tm in timings]
        having = [i for i, t in enumerate(times) if t]
        if having:
            sub = {k: v[having] for k, v in p.items()}
            template = _template(_wide(sub, axis), left[having], wide_qt[having], fs, ms * sub["pr"], ventricle)[0]
            part = np.zeros((len(having), 8, length), dtype=np.float32)
            _add_events(part, template, [times[i] for i in having], fs, length)
            signals[having] += part
    spike = np.repeat(SPIKE_MV[:, None, None], n, 1).repeat(max(1, int(round(SPIKE_S * fs))), 2)
    _add_events(signals, spike, [tm.spikes for tm in timings], fs, length)
    # per beat in the record: fiducials, symbol; the labels over the rhythm's label beats
    labels = {k: np.full(n, np.nan) for k in ("hr", "pr", "qrs", "qt")}
    labels["hr"] = hr
    in_record = [[b for b in tm.beats if 0 <= round(b[0] * fs) < length] for tm in timings]
    width = max(1, max(len(b) for b in in_record))
    fiducials = np.full((n, width, len(FIDUCIALS)), np.nan)
    beats = np.full((n, width), -1, np.int64)
    types = np.full((n, width), "", "<U1")
    label_beats = np.array([rhythms.label_beat(row) for row in rows], dtype="<U1")
    for i, record_beats in enumerate(in_record):
        for j, (time, symbol, p_on) in enumerate(record_beats):
            onset = round(time * fs)
            is_wide = symbol in rhythms.WIDE
            qrs, beat_qt = (p["wide_qrs"][i], wide_qt[i]) if is_wide else (p["qrs"][i], qt[i])
            p_start = round(p_on * fs) / fs if np.isfinite(p_on) else np.nan
            fiducials[i, j] = (p_start, p_start + span[i, 0], onset / fs, onset / fs + ms * qrs,
                               onset / fs + ms * beat_qt)
            beats[i, j], types[i, j] = onset, symbol
        mine = np.array([b[1] == label_beats[i] for b in record_beats], dtype=bool)
        wide = label_beats[i] in rhythms.WIDE
        labels["qrs"][i] = p["wide_qrs"][i] if wide else p["qrs"][i]
        labels["qt"][i] = wide_qt[i] if wide else qt[i]
        prs = (fiducials[i, :len(mine), 2] - fiducials[i, :len(mine), 0])[mine] if len(mine) else np.array([])
        prs = prs[np.isfinite(prs)]
        labels["pr"][i] = 1000.0 * prs.mean() if len(prs) else np.nan
    atrial = [[int(round(a * fs)) for a in tm.atrial_onsets() if 0 <= round(a * fs) < length] for tm in timings]
    return signals, labels, fiducials, beats, (types, atrial, label_beats)


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
        """Fill chunk i's rows in place (chunks are disjoint) and return its fiducials and annotations."""
        part = parts[i]
        eight, found = _chunk({k: v[part] for k, v in p.items()}, fs, length, np.random.default_rng([seed, i]),
                              noise, np.random.default_rng([seed, i, RHYTHM_STREAM]))
        signals[part, :2], signals[part, 6:] = eight[:, :2], eight[:, 2:]
        for k, lead in enumerate(limb_leads(eight[:, 0], eight[:, 1]), start=2):
            signals[part, k] = lead
        for k, v in found["labels"].items():
            labels[k][part] = v
        return found

    # Chunks run on a few threads (numpy releases the GIL in its loops); each chunk has its own seed, so the
    # output does not depend on the number of threads or their timing.
    found = []
    with ThreadPoolExecutor(max_workers=min(WORKERS, len(parts))) as pool:
        for i, chunk_found in enumerate(pool.map(run, range(len(parts)))):
            found.append(chunk_found)
            if progress is not None:
                progress(parts[i].stop / n)
    fiducials = _stack([f["fiducials"] for f in found], np.nan)
    atrial = [a for f in found for a in f["atrial"]]
    atrial_samples = np.full((n, max([len(a) for a in atrial] + [1])), -1, np.int64)
    for i, a in enumerate(atrial):
        atrial_samples[i, :len(a)] = a
    return Synthesis(signals=signals, labels=labels, fiducials=fiducials, fs=float(fs), lead_names=LEADS, params=p,
                     beat_samples=_stack([f["beat_samples"] for f in found], -1),
                     beat_types=_stack([f["beat_types"] for f in found], ""), atrial_samples=atrial_samples,
                     label_beats=np.concatenate([f["label_beats"] for f in found]))


def _stack(blocks, fill):
    """Per-chunk (rows, beats, ...) arrays as one, padded with `fill` to the widest chunk's beats."""
    width = max(b.shape[1] for b in blocks)
    return np.concatenate([np.pad(b, ((0, 0), (0, width - b.shape[1])) + ((0, 0),) * (b.ndim - 2),
                                  constant_values=fill) for b in blocks])
