"""Synthetic 12-lead ECGs with exact labels: the parametric engine, its parameters and presets (signals only;
the data sets built from the engines, GAN included, are ecgcore.data.synthetic's).

Public API
  PARAMS                     ordered {name: spec}: every parametric-engine parameter in clinical units (bpm, ms,
                             mV, deg), with default, lo, hi (inclusive), choices (choice parameters), unit,
                             group ("rhythm", "intervals", "morphology", "noise") and a one-line help.
  validate_params(params, n=None) -> {name: (n,) array}; ValueError naming the parameter and its range.
  synthesize(params=None, n=1, fs=500, duration=10.0, seed=0, noise=True, progress=None) -> Synthesis
      .signals   (n, 12, L) float32 mV, leads ecgcore.leads.LEADS (I, II, III, aVR, aVL, aVF, V1-V6)
      .labels    {"hr" bpm, "pr" ms, "qrs" ms, "qt" ms} -> (n,) float64: realised means over the record's beats
      .fiducials (n, beats, 5) seconds from the record start, columns FIDUCIALS = (p_on, p_off, qrs_on,
                 qrs_off, t_off), one row per beat whose QRS onset lies in the record, NaN-padded after the last;
                 an edge beat's P onset may be < 0 s or its T end past the record's end.
      .fs, .lead_names, .params (every parameter as used, (n,) arrays)
      .beat_samples (n, B) int, .beat_types (n, B) str, .atrial_samples (n, A) int: each QRS complex's onset
                 sample and MIT-BIH symbol, each atrial activation's onset (-1 / '' padded); .label_beats (n,)
                 the beat type the interval labels were measured over (ecgcore.synth.rhythms)
    params values are scalars or (n,) arrays; fs 100-1000 Hz; duration 2-600 s. Same arguments -> same output.
  PRESETS, NORMAL_RANGES, sample_params(n, classes=None, seed=0, ranges=None, rhythms=None) -> (params,
                             label); a label is an index into ecgcore.labels.CLASS_NAMES; rhythms draw
                             params["rhythm"] from ecgcore.synth.presets.RHYTHM_PRESETS

Label convention (labels and fiducials; the same as ecgcore.data.measure's):
  PR  = P onset -> QRS onset;  QRS = QRS onset -> J point (QRS offset);  QT = QRS onset -> T end;
  HR  = 60 / mean R-R interval between the record's beats (the requested rate if it holds fewer than two).
Every wave is exactly zero outside its window, so onsets and offsets are where the wave starts and ends.
PR and QRS are the requested values; QT is the requested one, or with qt_correction the QT that the requested
QTc gives at the record's realised heart rate; HR is realised from the drawn beat-to-beat variability.

Leads: waves are defined in I, II and V1-V6 (limb leads from a frontal-plane vector, precordial from R/S
progression tables); III, aVR, aVL, aVF are derived from I and II (ecgcore.leads.limb_leads), so Einthoven's and
Goldberger's relations hold exactly, noise included.
"""

from ecgcore.synth.params import PARAMS, validate_params
from ecgcore.synth.parametric import FIDUCIALS, Synthesis, synthesize
from ecgcore.synth.presets import NORMAL_RANGES, PRESETS, sample_params

__all__ = ["PARAMS", "validate_params", "synthesize", "Synthesis", "FIDUCIALS", "PRESETS", "NORMAL_RANGES",
           "sample_params"]
