"""The parametric engine's parameters: one table (PARAMS) of clinical units, ranges and help, and its checks.

The dashboard builds its widgets from PARAMS, so every entry says what it is: `default`, `lo`, `hi` (inclusive
range; None for a choice), `choices` (a tuple for a choice parameter, else None), `unit`, `group` ("rhythm",
"intervals", "morphology", "noise") and `help`.

Lead groups ("territories") used by the per-group parameters:
  inferior = II, III, aVF (frontal direction +90 deg)
  lateral  = I, aVL, V5, V6 (frontal direction -15 deg)
  anterior = V1-V4 (precordial only)
A change made in one group shows, attenuated or reciprocal, in the leads that look at it from elsewhere
(e.g. inferior ST elevation gives ST depression in aVL), as a cardiac vector would.
"""

from __future__ import annotations

import math

import numpy as np

GROUPS = ("inferior", "lateral", "anterior")
QT_CORRECTIONS = ("none", "bazett", "fridericia", "framingham")
BUNDLE_BRANCH = ("none", "right", "left")
# the rhythms the engine draws (ecgcore.synth.rhythms: their timing and criteria); "sinus" is the default
RHYTHMS = ("sinus", "sinus_arrhythmia", "afib", "aflutter", "avb2_mobitz1", "avb2_mobitz2", "avb3", "pac", "pvc",
           "vt", "junctional", "paced")
ESCAPE_RATIO = 1.3  # third-degree AV block: the atrial rate is at least this many times the escape rate


def _spec(default, lo, hi, unit, group, help, choices=None):
    return {"default": default, "lo": lo, "hi": hi, "choices": choices, "unit": unit, "group": group, "help": help}


PARAMS = {
    # rhythm
    "hr": _spec(70.0, 30.0, 200.0, "bpm", "rhythm", "Mean heart rate."),
    "hrv": _spec(20.0, 0.0, 150.0, "ms", "rhythm", "Beat-to-beat variability: standard deviation of the R-R interval."),
    "rhythm": _spec("sinus", None, None, "", "rhythm",
                    "The heart rhythm (ecgcore.synth.rhythms): sinus, or an arrhythmia drawn beat by beat. The rate "
                    "`hr` is the sinus (atrial) rate; in atrial fibrillation the mean ventricular rate, in a "
                    "junctional or paced rhythm that rhythm's rate.", choices=RHYTHMS),
    "resp_rate": _spec(15.0, 6.0, 30.0, "/min", "rhythm", "Breaths per minute (sinus arrhythmia)."),
    "rsa": _spec(150.0, 0.0, 400.0, "ms", "rhythm",
                 "Sinus arrhythmia: how much the R-R interval swings with breathing, peak to peak."),
    "f_rate": _spec(450.0, 350.0, 600.0, "/min", "rhythm", "Atrial fibrillation: rate of the fibrillatory f waves."),
    "f_amp": _spec(0.08, 0.0, 0.3, "mV", "rhythm",
                   "Amplitude of the fibrillatory f waves (atrial fibrillation) or flutter F waves (atrial flutter)."),
    "flutter_rate": _spec(300.0, 250.0, 350.0, "/min", "rhythm", "Atrial flutter: rate of the F waves."),
    "conduction": _spec("2:1", None, None, "", "rhythm",
                        "Atrial flutter: F waves per conducted beat ('variable': 2, 3 or 4 at random).",
                        choices=("2:1", "3:1", "4:1", "variable")),
    "av_ratio": _spec("4:3", None, None, "", "rhythm",
                      "Second-degree AV block: P waves per group : beats conducted (the last P of a group is "
                      "blocked).", choices=("3:2", "4:3", "5:4")),
    "pr_step": _spec(60.0, 10.0, 150.0, "ms", "rhythm",
                     "Mobitz I (Wenckebach): how much the PR lengthens after the first beat of a group; each "
                     "further step is half the last."),
    "escape": _spec("junctional", None, None, "", "rhythm",
                    "Third-degree AV block: the escape rhythm, junctional (narrow QRS) or ventricular (wide QRS).",
                    choices=("junctional", "ventricular")),
    "escape_rate": _spec(45.0, 20.0, 60.0, "bpm", "rhythm",
                         "Third-degree AV block: rate of the escape rhythm (junctional 40-60, ventricular 20-40); "
                         "the atrial rate `hr` must be at least 1.3 times it."),
    "ectopic_rate": _spec(15.0, 1.0, 50.0, "%", "rhythm",
                          "Premature atrial or ventricular beats: the share of beats followed by one (isolated "
                          "and couplets)."),
    "coupling": _spec(0.6, 0.4, 0.9, "x R-R", "rhythm",
                      "Coupling interval of a premature beat: its distance from the beat before, as a share of "
                      "the R-R interval."),
    "pvc_pattern": _spec("isolated", None, None, "", "rhythm",
                         "Premature ventricular beats: isolated (at random), bigeminy (every other beat), trigeminy "
                         "(every third beat) or couplets (two in a row, at random).",
                         choices=("isolated", "bigeminy", "trigeminy", "couplets")),
    "vt_rate": _spec(170.0, 120.0, 250.0, "bpm", "rhythm", "Ventricular tachycardia: its rate."),
    "wide_qrs": _spec(150.0, 120.0, 200.0, "ms", "rhythm",
                      "QRS duration of the beats that start in the ventricles: premature ventricular beats, "
                      "ventricular tachycardia, ventricular escape and paced beats."),
    "junctional_p": _spec("retrograde", None, None, "", "rhythm",
                          "Junctional rhythm: retrograde P waves (inverted in II, III, aVF, just after the QRS) "
                          "or none.", choices=("retrograde", "absent")),
    "pacing": _spec("ventricular", None, None, "", "rhythm",
                    "Paced rhythm: which chamber the pacemaker stimulates at the rate `hr`: ventricular (a spike "
                    "and a wide QRS, no P), atrial (a spike, a P wave, a normal QRS after the PR) or dual "
                    "(atrial and ventricular spikes, the AV delay = PR).", choices=("ventricular", "atrial", "dual")),
    # intervals
    "pr": _spec(160.0, 80.0, 400.0, "ms", "intervals", "PR interval: P onset to QRS onset."),
    "p_dur": _spec(100.0, 40.0, 160.0, "ms", "intervals",
                   "P-wave duration (shortened where needed to end at least 20 ms before the QRS)."),
    "qrs": _spec(90.0, 50.0, 200.0, "ms", "intervals", "QRS duration: QRS onset to J point."),
    "qt": _spec(400.0, 250.0, 650.0, "ms", "intervals",
                "QT interval (QRS onset to T end), or the QTc when qt_correction is not 'none'."),
    "qt_correction": _spec("none", None, None, "", "intervals",
                           "How `qt` is read: 'none' = the QT itself; 'bazett' (QTc = QT/RR^1/2), 'fridericia' "
                           "(QT/RR^1/3) or 'framingham' (QT + 154 ms (1 - RR)) = `qt` is the QTc and the QT "
                           "follows from the mean R-R interval realised in the record (RR in s).", choices=QT_CORRECTIONS),
    # morphology
    "axis": _spec(60.0, -90.0, 180.0, "deg", "morphology", "Frontal QRS (and T) electrical axis."),
    "p_amp": _spec(0.15, 0.0, 0.4, "mV", "morphology", "P-wave amplitude along the P axis (+60 deg)."),
    "r_amp": _spec(1.2, 0.2, 4.0, "mV", "morphology",
                   "R amplitude along the QRS axis; also scales the precordial R and S waves (voltage)."),
    "t_amp": _spec(0.35, -0.6, 1.2, "mV", "morphology",
                   "T-wave amplitude along the QRS axis (negative inverts T in every lead)."),
    "bundle_branch": _spec("none", None, None, "", "morphology",
                           "Bundle branch block pattern: 'right' (rsR' in V1, broad S in I and V6) or 'left' (QS in "
                           "V1, broad notched R in I and V6, no septal q); set qrs >= 120 ms for a complete block.",
                           choices=BUNDLE_BRANCH),
}
for _g in GROUPS:
    PARAMS[f"st_{_g}"] = _spec(0.0, -0.5, 0.6, "mV", "morphology", f"ST level at the J point in the {_g} leads.")
for _g in GROUPS:
    PARAMS[f"t_{_g}"] = _spec(1.0, -1.5, 2.0, "x", "morphology",
                              f"T-wave scale in the {_g} leads: 1 normal, 0 flat, negative inverted.")
for _g in GROUPS:
    PARAMS[f"q_{_g}"] = _spec(0.0, 0.0, 1.0, "mV", "morphology", f"Pathological Q-wave depth in the {_g} leads.")
for _g in GROUPS:
    PARAMS[f"qw_{_g}"] = _spec(40.0, 10.0, 80.0, "ms", "morphology",
                               f"Pathological Q-wave width in the {_g} leads (at most 60% of the QRS).")
PARAMS.update({
    # noise (each kind its own amplitude; noise=False in synthesize switches all off)
    "baseline_mv": _spec(0.05, 0.0, 1.0, "mV", "noise", "Baseline wander amplitude (respiration, 0.05-0.5 Hz)."),
    "powerline_mv": _spec(0.01, 0.0, 0.5, "mV", "noise", "Powerline interference amplitude."),
    "powerline_hz": _spec("50", None, None, "Hz", "noise", "Mains frequency.", choices=("50", "60")),
    "emg_mv": _spec(0.01, 0.0, 0.5, "mV", "noise", "Muscle (EMG-like) noise: standard deviation of broadband noise."),
})
del _g

def step(name):
    """The value grid of a number parameter (its widget's step): about 1/100 of the range, rounded to 1, 2 or
    5 x 10^k, so a whole-number range steps by whole numbers."""
    spec = PARAMS[name]
    raw = (spec["hi"] - spec["lo"]) / 100
    base = 10 ** math.floor(math.log10(raw))
    return min((base * m for m in (1, 2, 5, 10)), key=lambda s: abs(s - raw))


def decimals(name):
    """Decimals worth showing for a number parameter: none for a whole-number step."""
    return max(0, -math.floor(math.log10(step(name)) + 1e-9))


def on_grid(name, value):
    """`value` rounded onto the parameter's grid (step) and clipped to its range."""
    spec, grid = PARAMS[name], step(name)
    return float(np.clip(round(round(float(value) / grid) * grid, 6), spec["lo"], spec["hi"]))


def text_problem(name, text):
    """What is wrong with parameter `name` given as text (e.g. in a link), naming its range or choices; None
    when `text` is a valid value."""
    spec = PARAMS[name]
    if spec["choices"] is not None:
        return None if text in spec["choices"] else f"{name}={text!r} is not one of {', '.join(spec['choices'])}"
    unit = f" {spec['unit']}" if spec["unit"] else ""
    try:
        value = float(text)
    except (TypeError, ValueError):
        value = math.nan
    if not math.isfinite(value):
        return f"{name}={text!r} is not a number (range {spec['lo']:g}-{spec['hi']:g}{unit})"
    if value < spec["lo"] or value > spec["hi"]:
        return f"{name}={text} is outside its range {spec['lo']:g}-{spec['hi']:g}{unit}"
    return None


MIN_PR_GAP_MS = 20.0  # P offset to QRS onset, at least (the PR segment)
MIN_T_MS = 120.0  # J point to T end, at least: room for an ST segment and a T wave


def _broadcast(name, value, n, choice):
    """A scalar or (n,) value as an (n,) array (str for a choice, else float64), with a clear error otherwise."""
    arr = np.asarray(value)
    if arr.ndim > 1 or (arr.ndim == 1 and arr.shape != (n,)):
        raise ValueError(f"parameter {name!r} has shape {arr.shape}; give a scalar or an array of shape ({n},)")
    if choice:
        return np.broadcast_to(arr.astype(str), (n,))
    try:
        return np.broadcast_to(arr.astype(np.float64), (n,))
    except ValueError:
        raise ValueError(f"parameter {name!r}={value!r} must be a number in {PARAMS[name]['unit']}") from None


def validate_params(params, n=None):
    """Check every given parameter against PARAMS; raise ValueError naming the first bad one and its range.

    Values may be scalars or (n,) arrays. Unknown names, NaNs, out-of-range values, unknown choices and
    inconsistent intervals (qt shorter than qrs + 120 ms) are errors. Returns the full parameter set
    (defaults filled in) as {name: (n,) array}; n defaults to the longest array given, else 1.
    """
    params = dict(params or {})
    unknown = sorted(set(params) - set(PARAMS))
    if unknown:
        raise ValueError(f"unknown synthesis parameter(s) {unknown}; known: {list(PARAMS)}")
    if n is None:
        n = max([np.size(v) for v in params.values() if np.ndim(v) > 0] or [1])
    full = {}
    for name, spec in PARAMS.items():
        value = _broadcast(name, params.get(name, spec["default"]), n, spec["choices"] is not None)
        if spec["choices"] is not None:
            bad = sorted(set(value) - set(spec["choices"]))
            if bad:
                raise ValueError(f"parameter {name!r}={str(bad[0])!r} is not one of {spec['choices']}")
        else:
            if not np.all(np.isfinite(value)):
                raise ValueError(f"parameter {name!r} must be a finite number in {spec['unit'] or 'units'}")
            out = (value < spec["lo"]) | (value > spec["hi"])
            if out.any():
                raise ValueError(f"parameter {name!r}={value[out][0]:g} {spec['unit']} is out of range "
                                 f"[{spec['lo']:g}, {spec['hi']:g}] {spec['unit']}")
        full[name] = value
    slow = (full["rhythm"] == "avb3") & (full["hr"] < ESCAPE_RATIO * full["escape_rate"])
    if slow.any():
        i = np.flatnonzero(slow)[0]
        raise ValueError(f"rhythm 'avb3': the atrial rate hr={full['hr'][i]:g} bpm must be at least {ESCAPE_RATIO:g} x "
                         f"the escape rate ({full['escape_rate'][i]:g} bpm): raise hr or lower escape_rate")
    qt = realised_qt(full["qt"], full["qt_correction"], 60.0 / full["hr"])
    short = qt < full["qrs"] + MIN_T_MS
    if short.any():
        i = np.flatnonzero(short)[0]
        raise ValueError(f"parameter 'qt' gives a QT of {qt[i]:.0f} ms, shorter than qrs ({full['qrs'][i]:.0f} ms) "
                         f"+ {MIN_T_MS:.0f} ms: raise qt or lower qrs")
    return full


def realised_qt(qt, correction, rr):
    """QT (ms) from `qt` read through its rate correction at the mean R-R interval `rr` (s)."""
    return _correct(qt, correction, rr, inverse=False)


def corrected_qt(qt, correction, rr):
    """The inverse of realised_qt: the value of `qt` (QTc under `correction`) that gives the QT `qt` (ms)."""
    return _correct(qt, correction, rr, inverse=True)


def _correct(qt, correction, rr, inverse):
    correction = np.broadcast_to(np.asarray(correction, dtype=str), np.shape(qt))
    sign = -1.0 if inverse else 1.0
    return np.select(
        [correction == "bazett", correction == "fridericia", correction == "framingham"],
        [qt * rr ** (sign / 2), qt * rr ** (sign / 3), qt - sign * 154.0 * (1.0 - rr)],
        default=qt,
    )
