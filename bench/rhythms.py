"""Rhythms: an independent check of the engine's beat annotations, and the speed of rhythm sets.

Run: `.venv/bin/python bench/rhythms.py [--quick] [--save]`. Prints a table per rhythm and one JSON line.
Figures, per rhythm, on records drawn from its preset (ecgcore.synth.presets.RHYTHM_PRESETS), 500 Hz, 10 s, no
noise (50 records each; --quick 10):
  F1 of neurokit2's R-peak detection (ecg_clean, then ecg_peaks with its default method, as ecg_process and the
  lab's measurements do) on lead V5 against the annotated QRS complexes: a peak counts when it lies 0-180 ms
  after an annotated QRS onset, one peak per complex; beats within 0.4 s of either end are not scored. Goal >=
  0.95 for every rhythm but vt and paced (the detector is not made for them: their F1 is printed, not judged).
  Beside it the recall (annotated complexes found) and the false peaks, with how many of them lie on an
  annotated P wave (0-150 ms after an atrial onset): the detector's threshold is relative to the last 0.75 s, so
  a P wave alone in a long flat pause (a blocked P) passes it.
  The R-R coefficient of variation (mean over records) from the annotations: afib > 0.15 with its shortest R-R
  >= 0.33 s, sinus < 0.06; atrial activations annotated in afib (goal 0); the atrial rate (from atrial_samples)
  of aflutter (goal 250-350/min) and, for avb3, the atrial rate over the ventricular rate (goal >= 1.3).
Speed: ECGs/s of a balanced "all rhythms" set and of a sinus set at 500 Hz with noise and labels, in the same run
(goal: rhythms at least half the sinus speed).
"""

from __future__ import annotations

import argparse
import os
import time
import warnings

import numpy as np

from ecgcore.leads import LEADS
from ecgcore.synth import sample_params, synthesize
from ecgcore.synth.params import RHYTHMS

import results  # bench/results.py: the JSON line and --save

FS, SECONDS = 500, 10.0
WINDOW_S, EDGE_S = 0.18, 0.4
NOT_FOR_THE_DETECTOR = ("vt", "paced")


def detection(batch):
    """(true positives, false positives, false negatives, false positives on an annotated P wave: 0-150 ms after
    an atrial onset) of neurokit2's R peaks in V5 over the batch."""
    import neurokit2 as nk

    tp = fp = fn = on_p = 0
    v5 = LEADS.index("V5")
    for i in range(len(batch)):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            cleaned = nk.ecg_clean(batch.signals[i, v5], sampling_rate=FS)  # as ecg_process and the lab do
            peaks = np.flatnonzero(nk.ecg_peaks(cleaned, sampling_rate=FS)[0]["ECG_R_Peaks"]) / FS
        onsets = batch.beat_samples[i][batch.beat_samples[i] >= 0] / FS
        scored = (onsets >= EDGE_S) & (onsets <= SECONDS - EDGE_S)
        used = np.zeros(len(peaks), bool)
        for onset, score in zip(onsets, scored):
            hit = np.flatnonzero(~used & (peaks >= onset) & (peaks <= onset + WINDOW_S))
            if len(hit):
                used[hit[0]] = True
                tp += int(score)
            else:
                fn += int(score)
        false = peaks[~used & (peaks >= EDGE_S) & (peaks <= SECONDS - EDGE_S)]
        fp += len(false)
        atrial = batch.atrial_samples[i][batch.atrial_samples[i] >= 0] / FS
        on_p += sum(bool(((f - atrial >= 0) & (f - atrial <= 0.15)).any()) for f in false)
    return tp, fp, fn, on_p


def rr_figures(batch):
    """Mean R-R coefficient of variation, the shortest R-R (s), mean atrial rate (/min), mean ventricular rate."""
    cvs, shortest, atrial_rates, ventricular_rates, atrial_counts = [], [], [], [], []
    for i in range(len(batch)):
        beats = batch.beat_samples[i][batch.beat_samples[i] >= 0] / FS
        atrial = batch.atrial_samples[i][batch.atrial_samples[i] >= 0] / FS
        rr = np.diff(beats)
        cvs.append(rr.std() / rr.mean())
        shortest.append(rr.min())
        ventricular_rates.append(60 / rr.mean())
        atrial_counts.append(len(atrial))
        atrial_rates.append(60 / np.diff(atrial).mean() if len(atrial) >= 2 else np.nan)
    return {"rr_cv": float(np.mean(cvs)), "shortest_rr_s": float(np.min(shortest)),
            "atrial_rate": float(np.nanmean(atrial_rates)) if np.isfinite(atrial_rates).any() else None,
            "ventricular_rate": float(np.mean(ventricular_rates)), "atrial_activations": int(np.sum(atrial_counts)),
            "atrial_over_ventricular_min": float(np.nanmin(np.array(atrial_rates) / np.array(ventricular_rates)))
            if np.isfinite(atrial_rates).any() else None}


def speed(n, rhythms):
    params, _ = sample_params(n, seed=0, rhythms=rhythms)
    start = time.perf_counter()
    synthesize(params, n=n, fs=FS, seed=0)
    return n / (time.perf_counter() - start)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10 records per rhythm, a smaller speed run")
    results.add_save(parser)
    args = parser.parse_args()
    per_rhythm = 10 if args.quick else 50
    figures = {"cpus": os.cpu_count(), "records_per_rhythm": per_rhythm, "fs": FS}
    rows = ["| rhythm | F1 (V5) | recall | false peaks (on a P wave) | R-R CV | shortest R-R (s) | atrial rate (/min) "
            "| ventricular rate (bpm) | atrial activations |", "|---|---|---|---|---|---|---|---|---|"]
    print(f"{'rhythm':18} {'F1':>6} {'recall':>6} {'false(P)':>9} {'RR CV':>6} {'min RR':>7} {'atrial/min':>10} "
          f"{'vent/min':>8} {'atrial n':>8}")
    for k, rhythm in enumerate(RHYTHMS):
        params, _ = sample_params(per_rhythm, seed=100 + k, rhythms=[rhythm])
        batch = synthesize(params, n=per_rhythm, fs=FS, duration=SECONDS, seed=100 + k, noise=False)
        tp, fp, fn, on_p = detection(batch)
        f1 = 2 * tp / (2 * tp + fp + fn)
        figures[f"recall_{rhythm}"] = round(tp / (tp + fn), 3)
        figures[f"false_peaks_{rhythm}"], figures[f"false_peaks_on_p_{rhythm}"] = fp, on_p
        rr = rr_figures(batch)
        figures[f"f1_{rhythm}"] = round(f1, 3)
        figures[f"rr_cv_{rhythm}"] = round(rr["rr_cv"], 3)
        figures[f"atrial_activations_{rhythm}"] = rr["atrial_activations"]
        if rhythm == "afib":
            figures["shortest_rr_afib_s"] = round(rr["shortest_rr_s"], 3)
        if rhythm == "aflutter":
            figures["atrial_rate_aflutter"] = round(rr["atrial_rate"], 1)
        if rhythm == "avb3":
            figures["atrial_over_ventricular_min_avb3"] = round(rr["atrial_over_ventricular_min"], 2)
        atrial = "-" if rr["atrial_rate"] is None else f"{rr['atrial_rate']:.0f}"
        print(f"{rhythm:18} {f1:6.3f} {tp / (tp + fn):6.3f} {f'{fp} ({on_p})':>9} {rr['rr_cv']:6.3f} "
              f"{rr['shortest_rr_s']:7.3f} {atrial:>10} {rr['ventricular_rate']:8.0f} {rr['atrial_activations']:8d}")
        rows.append(f"| {rhythm} | {f1:.3f}{' (not judged)' if rhythm in NOT_FOR_THE_DETECTOR else ''} | "
                    f"{tp / (tp + fn):.3f} | {fp} ({on_p}) | {rr['rr_cv']:.3f} | {rr['shortest_rr_s']:.3f} | {atrial} | "
                    f"{rr['ventricular_rate']:.0f} | "
                    f"{rr['atrial_activations']} |")
    judged = [figures[f"f1_{r}"] for r in RHYTHMS if r not in NOT_FOR_THE_DETECTOR]
    figures["f1_min_judged"] = min(judged)
    n_speed = 240 if args.quick else 1200
    speed(24, "all"), speed(24, None)  # warm up
    sinus, mixed = [], []
    for _ in range(3):  # alternate, so a busy moment of the machine hits both
        sinus.append(speed(n_speed, None))
        mixed.append(speed(n_speed, "all"))
    figures["sinus_ecgs_per_s_500hz"] = round(float(np.median(sinus)), 1)
    figures["rhythms_ecgs_per_s_500hz"] = round(float(np.median(mixed)), 1)
    figures["rhythms_over_sinus_speed"] = round(figures["rhythms_ecgs_per_s_500hz"] / figures["sinus_ecgs_per_s_500hz"],
                                                3)
    checks = {"f1_judged_at_least_0.95": figures["f1_min_judged"] >= 0.95,
              "afib_rr_cv_above_0.15": figures["rr_cv_afib"] > 0.15,
              "afib_shortest_rr_at_least_0.33": figures["shortest_rr_afib_s"] >= 0.33,
              "sinus_rr_cv_below_0.06": figures["rr_cv_sinus"] < 0.06,
              "afib_no_atrial_activations": figures["atrial_activations_afib"] == 0,
              "aflutter_atrial_rate_250_350": 250 <= figures["atrial_rate_aflutter"] <= 350,
              "avb3_atrial_at_least_1.3x": figures["atrial_over_ventricular_min_avb3"] >= 1.3,
              "rhythms_at_least_half_sinus_speed": figures["rhythms_over_sinus_speed"] >= 0.5}
    figures.update(checks)
    print(f"speed at 500 Hz, {n_speed} records, median of 3: sinus {figures['sinus_ecgs_per_s_500hz']:.0f} ECGs/s, "
          f"all rhythms {figures['rhythms_ecgs_per_s_500hz']:.0f} ECGs/s ({figures['rhythms_over_sinus_speed']:.2f}x)")
    for name, ok in checks.items():
        print(f"  {'ok  ' if ok else 'MISS'} {name}")
    speed_row = (f"\nSpeed at 500 Hz ({n_speed} records, median of 3): sinus {figures['sinus_ecgs_per_s_500hz']:.0f} "
                 f"ECGs/s, every rhythm {figures['rhythms_ecgs_per_s_500hz']:.0f} ECGs/s "
                 f"({figures['rhythms_over_sinus_speed']:.2f}x).")
    table = "\n".join(["<!-- --8<-- [start:table] -->", *rows, speed_row, "<!-- --8<-- [end:table] -->"])
    results.publish("rhythms", figures, args.save, markdown=table)


if __name__ == "__main__":
    main()
