"""Rhythms: when the atria and the ventricles activate, and which atrial activations conduct (the timing; the
parametric engine draws the waves at these times, ecgcore.synth.parametric).

A rhythm is two tracks joined by conduction rules: atrial activations (sinus P waves, premature or retrograde P
waves, flutter F waves; none in fibrillation) and ventricular complexes, each with its MIT-BIH beat symbol and
the P wave that conducted it, if one did. So a record can hold P waves without QRS complexes (a blocked P) and
QRS complexes without P waves (fibrillation, an escape rhythm, a ventricular beat).

Hand-written: no library draws arrhythmias with beat annotations (neurokit2's ecg_simulate and ECGSyn make sinus
rhythm only). `timing` is a short Python loop per record over its beats (tens per record), far cheaper than
the drawing of the waves, which stays vectorised over the records.

Beat symbols (MIT-BIH): N normal (conducted from a sinus P or a flutter wave, or in fibrillation), A atrial
premature, V ventricular (premature beat or tachycardia), j junctional (escape or rhythm), E ventricular
escape, / paced. Interval labels are measured over one beat type per rhythm (LABEL_BEATS): PR only where a P
wave conducts those beats, else NaN.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ecgcore.synth.params import RHYTHMS

# In words, for a teacher: (name, the criteria to point at).
CRITERIA = {
    "sinus": ("sinus rhythm", "a P wave before every QRS, the same PR each beat, a regular R-R interval"),
    "sinus_arrhythmia": ("sinus arrhythmia", "a P wave before every QRS with a constant PR; the R-R interval "
                         "shortens and lengthens with breathing"),
    "afib": ("atrial fibrillation", "irregularly irregular R-R intervals, no P waves, a fibrillatory baseline "
             "(f waves)"),
    "aflutter": ("atrial flutter", "sawtooth F waves at 250-350/min, negative in II, III and aVF, with no flat "
                 "baseline between them; a QRS after every 2nd, 3rd or 4th F wave"),
    "avb2_mobitz1": ("second-degree AV block, Mobitz I (Wenckebach)", "the PR lengthens beat by beat until a P "
                     "wave is not followed by a QRS; then the cycle starts again"),
    "avb2_mobitz2": ("second-degree AV block, Mobitz II", "a constant PR, and now and then a P wave that is not "
                     "followed by a QRS"),
    "avb3": ("third-degree (complete) AV block", "P waves and QRS complexes each regular at their own rate, "
             "unrelated (the PR varies at random); the atrial rate is faster than the escape rhythm"),
    "pac": ("premature atrial beats", "an early beat with a P wave of another shape and a normal QRS; the "
            "pause after it is shorter than two R-R intervals (not compensatory)"),
    "pvc": ("premature ventricular beats", "an early wide QRS with no P wave before it and a T wave opposite to "
            "the QRS; a compensatory pause (the R-R around it is two normal R-R intervals)"),
    "vt": ("ventricular tachycardia", "a fast regular rhythm (120-250 bpm) of wide QRS complexes; P waves, if "
           "seen, march through at their own rate (AV dissociation)"),
    "junctional": ("junctional rhythm", "narrow QRS complexes at 40-60 bpm, no P wave before them; an inverted "
                   "(retrograde) P after the QRS, or none"),
    "paced": ("paced rhythm", "a pacing spike before each paced wave: a wide QRS after a ventricular spike, a P "
              "wave after an atrial spike"),
}
assert tuple(CRITERIA) == RHYTHMS
# The rhythm parameters each rhythm reads, beside hr and hrv (a page shows only these for the chosen rhythm).
PARAMETERS = {
    "sinus": (), "sinus_arrhythmia": ("resp_rate", "rsa"), "afib": ("f_rate", "f_amp"),
    "aflutter": ("flutter_rate", "conduction", "f_amp"), "avb2_mobitz1": ("av_ratio", "pr_step"),
    "avb2_mobitz2": ("av_ratio",), "avb3": ("escape", "escape_rate"), "pac": ("ectopic_rate", "coupling"),
    "pvc": ("pvc_pattern", "ectopic_rate", "coupling", "wide_qrs"), "vt": ("vt_rate", "wide_qrs"),
    "junctional": ("junctional_p",), "paced": ("pacing", "wide_qrs"),
}
assert tuple(PARAMETERS) == RHYTHMS
# The general rhythm parameters a rhythm does not read: flutter's ventricular rate follows its F waves and its
# conduction, and fibrillation and a pacemaker set their own beat-to-beat variability.
IGNORES = {"aflutter": ("hr", "hrv"), "afib": ("hrv",), "paced": ("hrv",)}
BEAT_SYMBOLS = {"N": "normal", "A": "atrial premature", "V": "ventricular", "j": "junctional",
                "E": "ventricular escape", "/": "paced"}
# The atrial waves the engine draws: sinus P, premature atrial P (another axis), retrograde P (from the AV
# junction, inverted in the inferior leads); flutter F waves are drawn as one continuous wave (no template).
ATRIAL_WAVES = ("P", "P'", "retrograde")
NARROW, WIDE = ("N", "A", "j"), ("V", "E", "/")  # beats conducted through the His bundle / started in a ventricle


def label_beat(p):
    """The beat symbol record `p`'s interval labels are measured over: its rhythm's main beat type."""
    rhythm = p["rhythm"]
    if rhythm == "vt":
        return "V"
    if rhythm == "junctional" or (rhythm == "avb3" and p["escape"] == "junctional"):
        return "j"
    if rhythm == "avb3":
        return "E"
    if rhythm == "paced" and p["pacing"] != "atrial":
        return "/"
    return "N"


@dataclass
class Timing:
    """One record's activations, in seconds from the record's start (some before it: earlier beats reach in)."""

    atrial: list  # (time, wave) for each drawn atrial wave, wave one of ATRIAL_WAVES
    flutter: list  # onsets of the flutter F waves (drawn as one continuous wave)
    beats: list  # (time of QRS onset, beat symbol, onset of the P wave that conducted it or NaN)
    spikes: list  # pacing stimuli

    def atrial_onsets(self):
        """Every atrial activation's onset, sorted: P waves of every kind and F waves."""
        return sorted([t for t, _ in self.atrial] + list(self.flutter))


def _train(rate, jitter_ms, start, end, rng):
    """Onsets of a regular pacemaker at `rate` bpm from `start` to `end` s, R-R jittered by `jitter_ms` (sd)."""
    rr = 60.0 / rate
    count = int(np.ceil((end - start) / (0.5 * rr))) + 2
    steps = np.clip(rr + 1e-3 * jitter_ms * rng.standard_normal(count), 0.5 * rr, 1.5 * rr)
    times = start + np.concatenate([[0.0], np.cumsum(steps)])
    return times[times < end]


def _groups(ratio):
    """'4:3' -> 4 (P waves per group: the last is blocked)."""
    return int(ratio.split(":")[0])


def timing(p, start, end, rng):
    """The activations of one record with parameters `p` ({name: value}) from `start` to `end` seconds."""
    rhythm, ms = p["rhythm"], 1e-3
    rr, pr = 60.0 / p["hr"], ms * p["pr"]
    first = start - rng.uniform() * rr  # a random phase, as the sinus engine's
    t = Timing(atrial=[], flutter=[], beats=[], spikes=[])

    def conducted(times, prs, symbol="N", wave="P"):
        for time, delay in zip(times, prs):
            t.atrial.append((time, wave))
            if np.isfinite(delay):
                t.beats.append((time + delay, symbol, time))

    def blocked(times):
        t.atrial.extend((time, "P") for time in times)

    if rhythm == "sinus_arrhythmia":
        times, now = [], first
        phase = rng.uniform(0, 2 * np.pi)
        while now < end:
            times.append(now)
            swing = 0.5 * ms * p["rsa"] * np.sin(2 * np.pi * p["resp_rate"] / 60.0 * now + phase)
            now += max(rr + swing + ms * 0.2 * p["hrv"] * rng.standard_normal(), 0.25)
        conducted(times, np.full(len(times), pr))
    elif rhythm == "afib":
        # R-R log-normal about the mean rate (coefficient of variation ~0.25), never shorter than the AV node's
        # refractory period (0.33 s) nor longer than three mean R-R intervals
        now = first
        while now < end:
            t.beats.append((now, "N", np.nan))
            now += float(np.clip(rr * np.exp(0.25 * rng.standard_normal() - 0.03), 0.33, 3 * rr))
    elif rhythm == "aflutter":
        period = 60.0 / p["flutter_rate"]
        t.flutter = list(np.arange(first, end, period))
        ratio = p["conduction"]
        k = int(rng.integers(4))
        while k < len(t.flutter):
            t.beats.append((t.flutter[k] + pr, "N", np.nan))
            k += int(rng.integers(2, 5)) if ratio == "variable" else int(ratio.split(":")[0])
    elif rhythm in ("avb2_mobitz1", "avb2_mobitz2"):
        times = _train(p["hr"], p["hrv"], first, end, rng)
        group = _groups(p["av_ratio"])
        position = (np.arange(len(times)) + int(rng.integers(group))) % group
        if rhythm == "avb2_mobitz1":  # each step half the last: the PR lengthens less and less, then a P is blocked
            prs = pr + 2 * ms * p["pr_step"] * (1 - 0.5 ** position)
        else:
            prs = np.full(len(times), pr)
        conducted(times, np.where(position == group - 1, np.nan, prs))
    elif rhythm == "avb3":
        blocked(_train(p["hr"], p["hrv"], first, end, rng))  # no P conducts
        symbol = "j" if p["escape"] == "junctional" else "E"
        for time in _train(p["escape_rate"], 0.2 * p["hrv"], start - rng.uniform() * 60.0 / p["escape_rate"], end,
                           rng):
            t.beats.append((time, symbol, np.nan))
    elif rhythm == "pac":
        now, was_premature = first, True
        while now < end:
            t.atrial.append((now, "P"))
            t.beats.append((now + pr, "N", now))
            step = rr + ms * p["hrv"] * rng.standard_normal()
            if not was_premature and rng.uniform() < 0.01 * p["ectopic_rate"]:
                early = now + p["coupling"] * rr
                t.atrial.append((early, "P'"))
                t.beats.append((early + pr, "A", early))
                now, was_premature = early + rr, True  # the sinus node is reset: the pause is not compensatory
            else:
                now, was_premature = now + max(step, 0.5 * rr), False
    elif rhythm == "pvc":
        times = _train(p["hr"], p["hrv"], first, end, rng)
        pattern, k, since = p["pvc_pattern"], 0, 0
        while k < len(times):
            t.atrial.append((times[k], "P"))
            t.beats.append((times[k] + pr, "N", times[k]))
            since += 1
            every = {"bigeminy": 1, "trigeminy": 2}.get(pattern)
            fire = since >= every if every else (k > 0 and rng.uniform() < 0.01 * p["ectopic_rate"])
            if fire:
                early = times[k] + pr + p["coupling"] * rr
                t.beats.append((early, "V", np.nan))
                if pattern == "couplets":
                    t.beats.append((early + p["coupling"] * rr, "V", np.nan))
                if k + 1 < len(times):  # the next sinus P falls in the ventricles' refractory period: blocked
                    t.atrial.append((times[k + 1], "P"))
                k, since = k + 2, 0  # the compensatory pause: the next beat is on the sinus schedule
            else:
                k += 1
    elif rhythm == "vt":
        blocked(_train(p["hr"], p["hrv"], first, end, rng))  # P waves dissociated from the ventricles
        vt_first = start - rng.uniform() * 60.0 / p["vt_rate"]
        t.beats += [(time, "V", np.nan) for time in _train(p["vt_rate"], 3.0, vt_first, end, rng)]
    elif rhythm == "junctional":
        for time in _train(p["hr"], 0.3 * p["hrv"], first, end, rng):
            t.beats.append((time, "j", np.nan))
            if p["junctional_p"] == "retrograde":  # after the QRS, in the ST segment
                t.atrial.append((time + ms * p["qrs"] + 0.04, "retrograde"))
    elif rhythm == "paced":
        times = np.arange(first, end, rr)  # a pacemaker is regular
        if p["pacing"] == "ventricular":
            t.spikes = list(times)
            t.beats = [(time, "/", np.nan) for time in times]
        elif p["pacing"] == "atrial":
            t.spikes = list(times)
            conducted(times, np.full(len(times), pr))
        else:  # dual chamber: atrial spike and P, then after the AV delay a ventricular spike and a paced QRS
            t.spikes = sorted([*times, *(times + pr)])
            t.atrial = [(time, "P") for time in times]
            t.beats = [(time + pr, "/", np.nan) for time in times]
    else:
        raise ValueError(f"rhythm {rhythm!r} is not drawn beat by beat (sinus has its own, vectorised path)")
    t.beats.sort(key=lambda b: b[0])
    t.atrial.sort(key=lambda a: a[0])
    return t
