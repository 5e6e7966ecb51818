"""Presets: the parameter ranges of the five simulated diagnostic superclasses, and drawing records from them.

NORMAL_RANGES are the ranges every record starts from (a healthy adult at rest, with mild noise). A preset
is a list of variants; each variant overrides some ranges to give its class's defining features:
  NORM : the normal ranges.
  MI   : pathological Q waves (0.35-0.7 mV, 40-60 ms, with loss of R) with ST elevation or isoelectric ST and flat or
         inverted T, in the inferior (II, III, aVF), anterior (V1-V4) or lateral (I, aVL, V5, V6) leads.
  STTC : ST depression (0.1-0.25 mV) in the inferior and lateral leads with flattened T, or T inversion in
         the anterior and lateral leads, or a long QT (QTc 480-560 ms, Bazett).
  CD   : first-degree AV block (PR 220-320 ms), right bundle branch block (rsR' in V1, QRS 120-160 ms)
         or left bundle branch block (QS in V1, broad notched R in V6, QRS 130-170 ms).
  HYP  : left ventricular hypertrophy voltage (R amplitude 2.6-3.6 mV: Sokolow-Lyon S V1 + R V5 above
         3.5 mV) with left axis tendency and lateral strain (ST depression, T inversion in I, aVL, V5, V6).
A range is (lo, hi) drawn uniformly, or a list of choices drawn with equal chance.
"""

from __future__ import annotations

import numpy as np

from ecgcore.labels import CLASS_NAMES
from ecgcore.synth.params import (ESCAPE_RATIO, GROUPS, MIN_T_MS, PARAMS, RHYTHMS, corrected_qt, on_grid,
                                  realised_qt, validate_params)

NORMAL_RANGES = {
    "hr": (50.0, 100.0), "hrv": (10.0, 60.0),
    "pr": (120.0, 200.0), "p_dur": (80.0, 110.0), "qrs": (70.0, 110.0),
    "qt": (370.0, 440.0), "qt_correction": ["bazett"],  # qt is the QTc: the QT follows the heart rate
    "axis": (-30.0, 90.0), "p_amp": (0.08, 0.25), "r_amp": (0.8, 1.6), "t_amp": (0.2, 0.5),
    "bundle_branch": ["none"],
    **{f"st_{g}": (-0.03, 0.03) for g in GROUPS},
    **{f"t_{g}": (0.8, 1.2) for g in GROUPS},
    **{f"q_{g}": (0.0, 0.03) for g in GROUPS},
    **{f"qw_{g}": (20.0, 35.0) for g in GROUPS},
    "baseline_mv": (0.0, 0.15), "powerline_mv": (0.0, 0.03), "powerline_hz": ["50", "60"], "emg_mv": (0.0, 0.03),
}


def _mi(group):
    return {f"q_{group}": (0.35, 0.7), f"qw_{group}": (40.0, 60.0), f"st_{group}": (0.0, 0.3),
            f"t_{group}": (-1.0, 0.3)}


PRESETS = {
    "NORM": {"normal": {}},
    "MI": {"inferior": _mi("inferior"), "anterior": _mi("anterior"), "lateral": _mi("lateral")},
    "STTC": {
        "st_depression": {"st_inferior": (-0.25, -0.1), "st_lateral": (-0.25, -0.1), "t_inferior": (0.0, 0.5),
                          "t_lateral": (0.0, 0.5)},
        "t_inversion": {"t_anterior": (-1.2, -0.4), "t_lateral": (-1.2, -0.4)},
        "long_qt": {"qt": (480.0, 560.0)},
    },
    "CD": {
        "first_degree_av_block": {"pr": (220.0, 320.0), "hr": (50.0, 85.0)},
        "right_bundle_branch_block": {"bundle_branch": ["right"], "qrs": (120.0, 160.0)},
        "left_bundle_branch_block": {"bundle_branch": ["left"], "qrs": (130.0, 170.0)},
    },
    "HYP": {"lvh_strain": {"r_amp": (2.6, 3.6), "axis": (-30.0, 30.0), "qrs": (95.0, 115.0),
                           "st_lateral": (-0.2, -0.05), "t_lateral": (-0.8, -0.1)}},
}
assert tuple(PRESETS) == tuple(sorted(PRESETS, key=CLASS_NAMES.index))

# What a teacher shows for each preset: (what the preset draws, the criteria to point at, the leads to look at).
# docs/classes.md's table is this table (criteria_markdown; a test keeps the two the same).
CRITERIA = {
    "NORM": ("the normal ranges: HR 50-100 bpm, PR 120-200 ms, QRS 70-110 ms, QTc 370-440 ms (Bazett), axis -30 "
             "to 90 deg",
             ["PR 120-200 ms", "QRS < 120 ms", "QTc < 460 ms", "Sokolow-Lyon (S in V1 + R in V5) < 3.5 mV",
              "upright T where the QRS is upright"],
             "all twelve; the rhythm strip (II) for the rate"),
    "MI": ("pathological Q waves 0.35-0.7 mV deep and 40-60 ms wide with loss of R, ST elevation up to 0.3 mV, "
           "flat or inverted T, in one territory",
           ["pathological Q: wider than 40 ms or deeper than a quarter of the R", "ST elevation in the same leads",
            "flat or inverted T", "reciprocal ST depression in the opposite leads"],
           "the territory drawn: inferior II, III, aVF; anterior V1-V4; lateral I, aVL, V5, V6"),
    "STTC": ("ST depression 0.1-0.25 mV with flattened T (inferior and lateral leads); or T inversion (anterior "
             "and lateral leads); or a long QT (QTc 480-560 ms)",
             ["horizontal ST depression of at least 0.1 mV", "T flattened or inverted",
              "or a long QTc: above 460 ms (women) / 450 ms (men)"],
             "II, III, aVF and I, aVL, V5, V6 for the ST; V1-V6 for T inversion; II or V5 for the QT"),
    "CD": ("first-degree AV block (PR 220-320 ms); or right bundle branch block (QRS 120-160 ms); or left bundle "
           "branch block (QRS 130-170 ms)",
           ["first-degree AV block: PR > 200 ms", "RBBB: QRS >= 120 ms, rsR' in V1, broad S in I and V6",
            "LBBB: QRS >= 120 ms, QS in V1, broad notched R in I and V6, no septal q, discordant ST-T"],
           "II for the PR; V1, V6 and I for the bundle branch blocks"),
    "HYP": ("left ventricular hypertrophy: R voltage 2.6-3.6 mV, axis -30 to 30 deg, lateral strain",
            ["Sokolow-Lyon: S in V1 + R in V5 (or V6) > 3.5 mV", "left axis tendency",
             "strain: ST depression and T inversion in the lateral leads"],
            "V1 and V5 for the voltage; I, aVL, V5, V6 for the strain"),
}
assert tuple(CRITERIA) == tuple(PRESETS)


def criteria_markdown():
    """CRITERIA as docs/classes.md's markdown table."""
    rows = ["| class | what the preset draws | criteria to show | leads to look at |", "|---|---|---|---|"]
    rows += [f"| {c} | {draws} | {'; '.join(criteria)} | {leads} |" for c, (draws, criteria, leads) in CRITERIA.items()]
    return "\n".join(rows)


# The ranges each rhythm draws from, on top of the record's normal (or class) ranges: rates and conduction as a
# teacher would show them. Third-degree block draws its escape rate by the escape's kind (ESCAPE_RATES).
RHYTHM_PRESETS = {
    "sinus": {},
    "sinus_arrhythmia": {"hr": (55.0, 90.0), "resp_rate": (10.0, 20.0), "rsa": (150.0, 350.0)},
    "afib": {"hr": (60.0, 140.0), "f_rate": (350.0, 600.0), "f_amp": (0.03, 0.15)},
    "aflutter": {"flutter_rate": (250.0, 350.0), "conduction": ["2:1", "3:1", "4:1", "variable"],
                 "f_amp": (0.1, 0.25)},
    "avb2_mobitz1": {"hr": (60.0, 100.0), "pr": (140.0, 220.0), "av_ratio": ["3:2", "4:3", "5:4"],
                     "pr_step": (40.0, 120.0)},
    "avb2_mobitz2": {"hr": (60.0, 100.0), "pr": (140.0, 200.0), "av_ratio": ["3:2", "4:3", "5:4"]},
    "avb3": {"hr": (60.0, 100.0), "escape": ["junctional", "ventricular"]},
    "pac": {"ectopic_rate": (10.0, 30.0), "coupling": (0.5, 0.75)},
    "pvc": {"ectopic_rate": (10.0, 30.0), "coupling": (0.45, 0.7), "wide_qrs": (130.0, 180.0),
            "pvc_pattern": ["isolated", "bigeminy", "trigeminy", "couplets"]},
    "vt": {"vt_rate": (130.0, 220.0), "wide_qrs": (130.0, 190.0)},
    "junctional": {"hr": (40.0, 60.0), "junctional_p": ["retrograde", "absent"]},
    "paced": {"hr": (60.0, 80.0), "pacing": ["ventricular", "atrial", "dual"], "wide_qrs": (140.0, 180.0)},
}
assert tuple(RHYTHM_PRESETS) == RHYTHMS
ESCAPE_RATES = {"junctional": (40.0, 55.0), "ventricular": (20.0, 40.0)}
RHYTHM_STREAM = 26  # sample_params draws rhythms from the stream seeded [seed, RHYTHM_STREAM]


def resolve_rhythms(rhythms):
    """None -> None; "all" -> every rhythm; "afib,vt" or ["afib", "vt"] -> that list, checked."""
    return _resolve("rhythms", rhythms, RHYTHMS)


def _draw_rhythms(params, n, rhythms, seed):
    """Give the records rhythms, split as evenly as possible in random order, each drawing its RHYTHM_PRESETS
    ranges; from its own random stream, so the other parameters are drawn as without rhythms."""
    rng = np.random.default_rng([seed, RHYTHM_STREAM])
    which = np.array(rhythms, dtype=object)[rng.permutation(np.arange(n) % len(rhythms))]
    params["rhythm"] = which
    for rhythm in rhythms:
        rows = np.flatnonzero(which == rhythm)
        for name, spec in RHYTHM_PRESETS[rhythm].items():
            if name not in params:
                params[name] = _draw(name, PARAMS[name]["default"], n, rng)
            params[name][rows] = _draw(name, spec, len(rows), rng)
        if rhythm == "avb3":
            for kind, (lo, hi) in ESCAPE_RATES.items():
                kind_rows = rows[params["escape"][rows] == kind]
                params.setdefault("escape_rate", np.full(n, PARAMS["escape_rate"]["default"]))
                params["escape_rate"][kind_rows] = rng.uniform(lo, hi, len(kind_rows))
            # the atrial rate at least ESCAPE_RATIO x the escape rate, with room for beat-to-beat variability
            params["hr"][rows] = np.maximum(params["hr"][rows], 1.1 * ESCAPE_RATIO * params["escape_rate"][rows])
    return params


def rhythms_markdown():
    """docs/rhythms.md's table: each rhythm in words, its criteria, what its preset draws."""
    from ecgcore.synth.rhythms import CRITERIA as RHYTHM_CRITERIA

    def drawn(rhythm):
        ranges = {**RHYTHM_PRESETS[rhythm], **({"escape_rate": "by escape: junctional 40-55, ventricular 20-40 bpm"}
                                                if rhythm == "avb3" else {})}
        return "; ".join(f"`{k}` " + (v if isinstance(v, str) else " / ".join(v) if isinstance(v, list)
                                      else f"{v[0]:g}-{v[1]:g}") for k, v in ranges.items()) or "the normal ranges"

    rows = ["| rhythm | name | criteria to show | the preset draws |", "|---|---|---|---|"]
    rows += [f"| `{r}` | {name} | {criteria} | {drawn(r)} |" for r, (name, criteria) in RHYTHM_CRITERIA.items()]
    return "\n".join(rows)


def resolve_classes(classes):
    """None -> None; "all" -> every class; "NORM,MI" or ["NORM", "MI"] -> that list, checked."""
    return _resolve("classes", classes, CLASS_NAMES)


def _resolve(what, chosen, names):
    """None, "all", a comma list or a list of `names` -> None or the list, checked (ValueError naming `what`)."""
    if chosen is None:
        return None
    if isinstance(chosen, str):
        chosen = list(names) if chosen == "all" else [c.strip() for c in chosen.split(",") if c.strip()]
    chosen = list(chosen)
    bad = [c for c in chosen if c not in names]
    if bad or not chosen or len(set(chosen)) != len(chosen):
        raise ValueError(f"{what}={chosen!r} must be distinct names from {list(names)} (or 'all')")
    return chosen


def _draw(name, spec, size, rng):
    """(size,) values for one parameter; choices as objects, so later overrides are never truncated."""
    if PARAMS[name]["choices"] is not None:
        return np.array(rng.choice([str(c) for c in np.atleast_1d(spec)], size=size), dtype=object)
    if np.ndim(spec) == 0:  # a fixed value
        return np.full(size, float(spec))
    if len(spec) != 2 or not spec[0] <= spec[1]:
        raise ValueError(f"range for {name!r} must be (lo, hi) with lo <= hi, got {spec!r}")
    return rng.uniform(spec[0], spec[1], size=size)


# The hard task (difficulty "hard"): the same five classes as caricatures no longer, for a demo whose labels
# matter. Every defining feature is subtler (a 0.1-0.4 mV Q, 0.04-0.14 mV of ST depression, an incomplete-to-
# complete bundle branch block of 110-145 ms, borderline PR and QTc), the normal ranges widen to meet them
# (a normal record may carry a small q, ST or T change, a QRS up to 118 ms, a QTc up to 465 ms), and the noise
# is that of an ambulatory recording (baseline wander to 0.4 mV, EMG to 0.08 mV). The ranges of neighbouring
# classes overlap, so no single measurement separates them: tests/test_synthetic.py holds scratch training
# below the difficulty bounds the demo needs.
HARD_RANGES = {
    **NORMAL_RANGES, "hr": (50.0, 110.0), "pr": (120.0, 210.0), "qrs": (70.0, 118.0), "qt": (370.0, 465.0),
    "r_amp": (0.7, 2.0), "t_amp": (0.15, 0.5),
    **{f"st_{g}": (-0.05, 0.05) for g in GROUPS},
    **{f"t_{g}": (0.6, 1.2) for g in GROUPS},
    **{f"q_{g}": (0.0, 0.12) for g in GROUPS},
    **{f"qw_{g}": (20.0, 40.0) for g in GROUPS},
    "baseline_mv": (0.05, 0.4), "powerline_mv": (0.0, 0.05), "emg_mv": (0.01, 0.08),
}


def _subtle_mi(group):
    return {f"q_{group}": (0.1, 0.4), f"qw_{group}": (30.0, 50.0), f"st_{group}": (-0.02, 0.15),
            f"t_{group}": (-0.4, 0.9)}


HARD_PRESETS = {
    "NORM": {"normal": {}},
    "MI": {"inferior": _subtle_mi("inferior"), "anterior": _subtle_mi("anterior"), "lateral": _subtle_mi("lateral")},
    "STTC": {
        "st_depression": {"st_inferior": (-0.14, -0.04), "st_lateral": (-0.14, -0.04), "t_inferior": (0.3, 0.9),
                          "t_lateral": (0.3, 0.9)},
        "t_inversion": {"t_anterior": (-0.6, 0.3), "t_lateral": (-0.6, 0.3)},
        "long_qt": {"qt": (450.0, 510.0)},
    },
    "CD": {
        "first_degree_av_block": {"pr": (200.0, 260.0)},
        "right_bundle_branch_block": {"bundle_branch": ["right"], "qrs": (110.0, 135.0)},
        "left_bundle_branch_block": {"bundle_branch": ["left"], "qrs": (115.0, 145.0)},
    },
    "HYP": {"lvh_strain": {"r_amp": (1.7, 2.8), "axis": (-30.0, 40.0), "qrs": (90.0, 118.0),
                           "st_lateral": (-0.1, 0.0), "t_lateral": (0.0, 0.8)}},
}
assert tuple(HARD_PRESETS) == tuple(PRESETS)
# difficulty -> (the ranges every record starts from, the class presets drawn on top)
DIFFICULTIES = {"easy": (NORMAL_RANGES, PRESETS), "hard": (HARD_RANGES, HARD_PRESETS)}


def sample_params(n, classes=None, seed=0, ranges=None, difficulty="easy", rhythms=None):
    """Draw parameters for `n` records: (params {name: (n,) array}, class index (n,) or None).

    Without classes every record draws from NORMAL_RANGES (updated by `ranges`, {name: (lo, hi) | value |
    [choices]}), so its labels vary from record to record. With classes (names, "NORM,MI" or "all") the
    records are split as evenly as possible between them, in random order, each drawing a variant of its
    class's preset on top; the class index refers to CLASS_NAMES. QTs too short for the QRS are lengthened.
    difficulty: "easy" (NORMAL_RANGES and PRESETS, clear caricatures) or "hard" (HARD_RANGES and HARD_PRESETS).
    rhythms: None (sinus), "all", "afib,vt" or a list of RHYTHMS: the records are split evenly between them too
    (params["rhythm"]), each drawing its RHYTHM_PRESETS ranges from a stream of its own (the other draws are
    the same as without rhythms).
    """
    if difficulty not in DIFFICULTIES:
        raise ValueError(f"difficulty={difficulty!r} is unknown; choose one of {tuple(DIFFICULTIES)}")
    normal, presets = DIFFICULTIES[difficulty]
    classes = resolve_classes(classes)
    rng = np.random.default_rng(seed)
    base = dict(normal)
    unknown = sorted(set(ranges or {}) - set(PARAMS))
    if unknown:
        raise ValueError(f"ranges names unknown parameter(s) {unknown}; known: {list(PARAMS)}")
    base.update(ranges or {})
    params = {name: _draw(name, spec, n, rng) for name, spec in base.items()}
    label = None
    if classes is not None:
        label = np.array([CLASS_NAMES.index(c) for c in classes])[rng.permutation(np.arange(n) % len(classes))]
        for c in classes:
            variants = list(presets[c].values())
            which = rng.integers(len(variants), size=n)
            for v, overrides in enumerate(variants):
                rows = np.flatnonzero((label == CLASS_NAMES.index(c)) & (which == v))
                for name, spec in overrides.items():
                    params[name][rows] = _draw(name, spec, len(rows), rng)
    rhythms = resolve_rhythms(rhythms)
    if rhythms is not None:
        params = _draw_rhythms(params, n, rhythms, seed)
    # keep the QT long enough for the QRS at this heart rate (PARAMS' cross-check), with 10 ms to spare
    rr, min_qt = 60.0 / params["hr"], params["qrs"] + MIN_T_MS + 10.0
    shortest = corrected_qt(min_qt, params["qt_correction"], rr)
    too_short = realised_qt(params["qt"], params["qt_correction"], rr) < min_qt
    params["qt"] = np.where(too_short, np.minimum(shortest, PARAMS["qt"]["hi"]), params["qt"])
    return validate_params(params, n), label


def drawn_params(name=None, seed=0, rhythm=None):
    """One record's parameters from class `name`'s preset (None: the normal ranges) and, with `rhythm`, that
    rhythm's ranges, drawn with `seed`, each number on its widget's grid (the values a page shows and then
    synthesizes): {parameter: float, or str for a choice}."""
    drawn, _ = sample_params(1, classes=None if name is None else [name], seed=seed,
                             rhythms=None if rhythm is None else [rhythm])
    return {k: str(v[0]) if PARAMS[k]["choices"] is not None else on_grid(k, v[0]) for k, v in drawn.items()}


QUIZ_STREAM = 7  # which rhythm quiz number `seed` shows is drawn from the stream seeded [seed, QUIZ_STREAM]


def quiz(seed):
    """Quiz number `seed`: (its rhythm, one record's parameters drawn from that rhythm's preset): the same
    seed, the same ECG, so a teacher can hand out a quiz as a link."""
    rhythm = RHYTHMS[int(np.random.default_rng([seed, QUIZ_STREAM]).integers(len(RHYTHMS)))]
    return rhythm, drawn_params(seed=seed, rhythm=rhythm)


def is_draw(params, name, seed=0):
    """Whether `params` (one record's {parameter: value}) are exactly class `name`'s draw with `seed`."""
    if name not in PRESETS:
        return False
    drawn = drawn_params(name, seed)
    return all(str(params.get(k)) == v if isinstance(v, str) else
               params.get(k) is not None and abs(float(params[k]) - v) < 1e-9 for k, v in drawn.items())
