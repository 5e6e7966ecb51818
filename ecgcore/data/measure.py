"""Measured regression targets: HR, PR, QRS and QT of real or GAN ECGs, delineated with neurokit2.

Per record (one lead, lead II by convention): `nk.ecg_clean`, `nk.ecg_peaks`, then
`nk.ecg_delineate(method="prominence")` (it measured realistic ECGs close to a commercial program; "dwt"
misplaced QRS onsets and offsets), and the median over beats of each interval. The onset/offset
convention is the synthetic engine's label convention:
  PR  = P onset   -> QRS onset (neurokit2's ECG_P_Onsets -> ECG_R_Onsets)
  QRS = QRS onset -> J point   (ECG_R_Onsets -> ECG_R_Offsets)
  QT  = QRS onset -> T end     (ECG_R_Onsets -> ECG_T_Offsets)
  HR  = 60 / median R-R interval (bpm)
A measurement that fails, rests on too few beats, comes from an irregular "rhythm" (noise picked up as
beats), scatters from beat to beat, or falls outside BOUNDS is NaN and counted as dropped: a record never
carries a wrong label. No state is kept between records, so callers may measure in chunks of any size.
`delineate` is the per-record step; `measure_morphology` builds on it: R, S, ST and T of every lead's median
beat and the QRS axis (the morphology targets of measured-label pretraining, ecgcore.data.measured).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

INTERVAL_TARGETS = ("hr", "pr", "qrs", "qt")
# Physiological bounds (bpm for hr, ms otherwise): a value outside is a failed measurement, not a finding.
BOUNDS = {"hr": (20.0, 250.0), "pr": (50.0, 400.0), "qrs": (40.0, 200.0), "qt": (200.0, 700.0)}
MIN_BEATS = 3  # beats with a valid interval needed for a median
# R-R coefficient of variation above this is not a rhythm: noise detected as beats gives 0.5-1.1.
MAX_RR_CV = 0.3
# Median absolute deviation / median of an interval's per-beat values above this: delineation unstable.
MAX_BEAT_SPREAD = 0.25
# (start wave, end wave) in neurokit2's names for each interval target.
_INTERVAL_WAVES = {
    "pr": ("ECG_P_Onsets", "ECG_R_Onsets"),
    "qrs": ("ECG_R_Onsets", "ECG_R_Offsets"),
    "qt": ("ECG_R_Onsets", "ECG_T_Offsets"),
}


@dataclass
class Measurements:
    """Per-record measured targets (NaN where dropped) and how many records each target dropped."""

    values: dict  # target -> (N,) float64
    dropped: dict  # target -> int

    @classmethod
    def of_rows(cls, rows, names):
        """Measurements of per-record {target: value} `rows` for the targets `names`, with the NaNs counted."""
        values = {t: np.array([row[t] for row in rows], dtype=np.float64) for t in names}
        return cls(values=values, dropped=count_dropped(values))

    @property
    def complete(self):
        """(N,) bool: records with every target measured."""
        return np.all([np.isfinite(v) for v in self.values.values()], axis=0)


# neurokit2's delineation names for the wave marks, keyed by the synthetic engine's fiducial names
# (ecgcore.synth.FIDUCIALS), so a measured record's marks draw like a synthetic one's.
NEUROKIT_MARKS = {"p_on": "ECG_P_Onsets", "p_off": "ECG_P_Offsets", "qrs_on": "ECG_R_Onsets",
                  "qrs_off": "ECG_R_Offsets", "t_off": "ECG_T_Offsets"}


def count_dropped(values):
    """{target: number of NaN entries} of {target: (N,) array}: the records where each target failed."""
    return {t: int(np.isnan(v).sum()) for t, v in values.items()}


def delineate(signal, fs):
    """(cleaned signal, R-peak sample indices, {wave name: (beats,) float sample indices, NaN if missing}).

    Raises whatever neurokit2 raises on a record it cannot delineate.
    """
    import neurokit2 as nk  # heavy import kept local: CLI --help stays instant

    cleaned = nk.ecg_clean(signal, sampling_rate=fs)
    _, info = nk.ecg_peaks(cleaned, sampling_rate=fs)
    rpeaks = np.asarray(info["ECG_R_Peaks"], dtype=np.int64)
    if len(rpeaks) < MIN_BEATS:
        raise ValueError(f"{len(rpeaks)} R peaks found, need {MIN_BEATS}")
    _, waves = nk.ecg_delineate(cleaned, rpeaks, sampling_rate=fs, method="prominence")
    return cleaned, rpeaks, {k: np.asarray(v, dtype=np.float64) for k, v in waves.items()}


def _rhythm(signal, fs):
    """(R-peak indices, waves) of `delineate(signal, fs)`, or None when neurokit2 fails on the record or its
    R-R intervals are too irregular to be a rhythm (noise picked up as beats)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # neurokit2 warns on every imperfect record
            _, rpeaks, waves = delineate(signal, fs)
    # neurokit2 raises a wide, undocumented set of types on bad records; any of them means "not measured".
    except Exception:  # noqa: BLE001
        return None
    rr = np.diff(rpeaks)
    if rr.std() > MAX_RR_CV * rr.mean():
        return None
    return rpeaks, waves


def _robust_median(values):
    """Median of the finite per-beat values, NaN when too few or too scattered to trust."""
    values = values[np.isfinite(values) & (values > 0)]
    if len(values) < MIN_BEATS:
        return np.nan
    median = np.median(values)
    if np.median(np.abs(values - median)) > MAX_BEAT_SPREAD * median:
        return np.nan
    return median


def intervals_of_record(signal, fs):
    """{target: value} for one single-lead record; NaN for every target neurokit2 could not measure."""
    nan = dict.fromkeys(INTERVAL_TARGETS, np.nan)
    signal = np.asarray(signal, dtype=np.float64)
    if not np.all(np.isfinite(signal)) or np.ptp(signal) == 0:
        return nan
    found = _rhythm(signal, fs)
    if found is None:
        return nan
    rpeaks, waves = found
    out = {"hr": 60.0 / np.median(np.diff(rpeaks) / fs)}
    for target, (start, end) in _INTERVAL_WAVES.items():
        # neurokit2 now and then returns one wave list a beat longer than another: they no longer pair up
        paired = len(waves[end]) == len(waves[start])
        out[target] = _robust_median(waves[end] - waves[start]) * 1000.0 / fs if paired else np.nan
    for target, (lo, hi) in BOUNDS.items():
        if not lo <= out[target] <= hi:
            out[target] = np.nan
    return out


def measure_intervals(signals, fs, lead_index=None):
    """Measure HR (bpm), PR, QRS, QT (ms) per record.

    signals: (N, L) one lead (lead II), or (N, C, L) with `lead_index` naming the lead to measure.
    Returns Measurements: values {target: (N,) float64, NaN where dropped} and dropped {target: count}.
    """
    signals = np.asarray(signals)
    if signals.ndim == 3:
        if lead_index is None or not -signals.shape[1] <= lead_index < signals.shape[1]:
            raise ValueError(f"lead_index={lead_index!r} must pick one of the {signals.shape[1]} leads of "
                             f"signals shaped {signals.shape}")
        signals = signals[:, lead_index]
    elif signals.ndim != 2 or lead_index is not None:
        raise ValueError(f"signals must be (N, L) with lead_index=None or (N, C, L) with a lead_index, got "
                         f"shape {signals.shape} and lead_index={lead_index!r}")
    if fs <= 0:
        raise ValueError(f"fs={fs!r} must be a positive sampling rate in Hz")
    rows = [intervals_of_record(record, fs) for record in signals]
    return Measurements.of_rows(rows, INTERVAL_TARGETS)


# Morphology targets, measured on the median beat of every lead (beats aligned on lead II's R peaks):
# R and S amplitude, ST level at J+60 ms and T amplitude (signed, largest deviation), each relative to the
# PR-segment baseline, in the signal's units (mV for raw PTB-XL), plus the frontal QRS axis (degrees) from
# the net QRS deflections of leads I and aVF (aVF = II - I/2 where absent).
MORPHOLOGY_KINDS = ("r_amp", "s_amp", "st", "t_amp")
QRS_AXIS = "qrs_axis"
_BEAT_WINDOW_S = (-0.25, 0.6)  # around each R peak: holds the PR segment and the T wave at usual rates
_ST_AFTER_J_S = 0.06


def morphology_targets(lead_names):
    """Target names of the morphology measurements of `lead_names`: "r_amp_V1", ..., "qrs_axis"."""
    return [f"{kind}_{lead}" for lead in lead_names for kind in MORPHOLOGY_KINDS] + [QRS_AXIS]


def target_unit(name):
    """Unit of any measured target (intervals and morphology)."""
    if name == "hr":
        return "bpm"
    if name in INTERVAL_TARGETS:
        return "ms"
    return "degrees" if name == QRS_AXIS else "mV"


def median_beat(signals, fs, rpeaks):
    """(C, W) median over beats of (C, L) `signals` in windows around `rpeaks`, and the R peak's index in it."""
    start, stop = (round(s * fs) for s in _BEAT_WINDOW_S)
    rpeaks = rpeaks[(rpeaks + start >= 0) & (rpeaks + stop <= signals.shape[-1])]
    if len(rpeaks) < MIN_BEATS:
        raise ValueError(f"{len(rpeaks)} whole beats, need {MIN_BEATS}")
    beats = signals[:, rpeaks[:, None] + np.arange(start, stop)]  # (C, beats, W)
    return np.median(beats, axis=1), -start


def _median_offset(wave, rpeaks, default):
    """Median samples from each R peak to a delineated wave; `default` when neurokit2 gave none (or a list
    that does not pair with the R peaks)."""
    offsets = wave - rpeaks if len(wave) == len(rpeaks) else np.array([np.nan])
    return int(round(np.nanmedian(offsets))) if np.isfinite(offsets).any() else int(round(default))


def morphology_of_record(record, fs, lead_names):
    """{target: value} for one (C, L) record; NaN everywhere when lead II cannot be delineated."""
    names = morphology_targets(lead_names)
    nan = dict.fromkeys(names, np.nan)
    record = np.asarray(record, dtype=np.float64)
    if "II" not in lead_names or not np.all(np.isfinite(record)):
        return nan
    found = _rhythm(record[list(lead_names).index("II")], fs)
    if found is None:
        return nan
    rpeaks, waves = found
    try:
        beat, r = median_beat(record, fs, rpeaks)
    except ValueError:  # too few whole beats
        return nan
    width = beat.shape[1]
    on = r + _median_offset(waves["ECG_R_Onsets"], rpeaks, -0.05 * fs)
    off = r + _median_offset(waves["ECG_R_Offsets"], rpeaks, 0.05 * fs)
    pr = slice(max(on - round(0.04 * fs), 0), max(on - round(0.01 * fs), 1))
    if not 0 <= pr.start < on < r <= off < width:
        return nan
    baseline = beat[:, pr].mean(axis=1)
    qrs = beat[:, on:off + 1] - baseline[:, None]
    j60 = min(off + round(_ST_AFTER_J_S * fs), width - 1)
    t_wave = beat[:, min(off + round(0.08 * fs), width - 1):] - baseline[:, None]
    t_amp = t_wave[np.arange(len(beat)), np.abs(t_wave).argmax(axis=1)]
    values = {"r_amp": qrs.max(axis=1).clip(min=0), "s_amp": qrs.min(axis=1).clip(max=0),
              "st": beat[:, j60] - baseline, "t_amp": t_amp}
    out = {f"{kind}_{lead}": float(values[kind][i]) for i, lead in enumerate(lead_names) for kind in MORPHOLOGY_KINDS}
    net = {lead: out[f"r_amp_{lead}"] + out[f"s_amp_{lead}"] for lead in lead_names}
    if "I" in net:
        avf = net["aVF"] if "aVF" in net else net["II"] - net["I"] / 2
        out[QRS_AXIS] = float(np.degrees(np.arctan2(avf, net["I"])))
    else:
        out[QRS_AXIS] = np.nan
    return out


def measure_morphology(signals, fs, lead_names):
    """Morphology targets (see morphology_targets) of (N, C, L) `signals`: Measurements with NaN where dropped."""
    signals = np.asarray(signals)
    if signals.ndim != 3 or signals.shape[1] != len(lead_names):
        raise ValueError(f"signals must be (N, C, L) with C = {len(lead_names)} lead names, got {signals.shape}")
    if fs <= 0:
        raise ValueError(f"fs={fs!r} must be a positive sampling rate in Hz")
    rows = [morphology_of_record(record, fs, lead_names) for record in signals]
    return Measurements.of_rows(rows, morphology_targets(lead_names))


def delineated_fiducials(signal, fs):
    """Wave marks of one lead by neurokit2 (delineate), in the engine's mark names and seconds:
    {mark: times (s)}."""
    _, _, waves = delineate(np.asarray(signal, dtype=np.float64), fs)
    return {name: waves[nk] / fs for name, nk in NEUROKIT_MARKS.items() if nk in waves}
