"""Synthetic engines: speed (ecgcore vs neurokit2's ECGSYN), 10,000 labelled ECGs, peak memory, label agreement.

Run: `.venv/bin/python bench/synth.py [--quick]`. Prints its figures, then one JSON line of all of them.
Figures:
  ECGs/s for 12-lead 10 s records at 100 and 500 Hz: ecgcore's parametric engine (with noise and labels) and
  neurokit2 `ecg_simulate(method="multileads")` (a few records only: ~1 s each), and their ratio;
  wall time for 10,000 labelled ECGs at 100 Hz (parameters drawn from the normal ranges; goal < 10 s on 2 cores);
  peak traced memory while making them (the result itself is 10,000 x 12 x 1,000 float32 = 480 MB);
  label agreement: neurokit2 delineation of lead II (ecgcore.data.measure) against the labels on a grid of
  normal PR/QRS/QT values at 500 Hz, noise-free and with default noise: Pearson r and median error.
"""

from __future__ import annotations

import argparse
import os
import time
import tracemalloc
import warnings

import numpy as np

from ecgcore.labels import TARGETS
from ecgcore.synth import sample_params, synthesize

import results  # bench/results.py: the JSON line and --save


def ecgcore_rate(fs, n):
    params, _ = sample_params(n, seed=0)
    start = time.perf_counter()
    synthesize(params, n=n, fs=fs, seed=0)
    return n / (time.perf_counter() - start)


def neurokit_rate(fs, n):
    import neurokit2 as nk

    nk.ecg_simulate(duration=1, sampling_rate=fs, method="multileads", random_state=0)  # warm up imports
    start = time.perf_counter()
    for i in range(n):
        nk.ecg_simulate(duration=10, sampling_rate=fs, heart_rate=70, method="multileads", random_state=i)
    return n / (time.perf_counter() - start)


def ten_thousand():
    """Wall time for 10,000 labelled 100 Hz ECGs, and the peak memory traced while making them again."""
    start = time.perf_counter()
    params, _ = sample_params(10_000, seed=0)
    batch = synthesize(params, n=10_000, fs=100, seed=0)
    seconds = time.perf_counter() - start
    result_mb = batch.signals.nbytes / 1e6
    del batch
    tracemalloc.start()
    params, _ = sample_params(10_000, seed=0)
    synthesize(params, n=10_000, fs=100, seed=0)
    peak_mb = tracemalloc.get_traced_memory()[1] / 1e6
    tracemalloc.stop()
    return seconds, result_mb, peak_mb


def label_agreement(n, fs=500):
    """{f"{target}_{noise}_r" | _median_err_ms | _dropped: value} on a shuffled grid of normal intervals."""
    from ecgcore.data.measure import measure_intervals

    rng = np.random.default_rng(0)
    grid = {"hr": rng.uniform(55, 75, n), "pr": rng.permutation(np.linspace(120, 220, n)),
            "qrs": rng.permutation(np.linspace(65, 110, n)), "qt": rng.permutation(np.linspace(350, 460, n))}
    out = {}
    for noise in (False, True):
        batch = synthesize(grid, n=n, fs=fs, noise=noise, seed=1)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            measured = measure_intervals(batch.signals, fs, lead_index=1)
        tag = "noisy" if noise else "clean"
        for target in TARGETS:
            got, want = measured.values[target], batch.labels[target]
            ok = np.isfinite(got)
            out[f"{target}_{tag}_r"] = round(float(np.corrcoef(want[ok], got[ok])[0, 1]), 3)
            out[f"{target}_{tag}_median_err"] = round(float(np.median(got[ok] - want[ok])), 1)
            out[f"{target}_{tag}_dropped"] = int((~ok).sum())
    return out


def _gan_run(n):
    """GAN figures for n records, in a fresh process so that its peak RSS is the GAN's own."""
    import resource
    import tempfile

    from ecgcore.data.synthetic import gan_labels, make_gan_dataset
    from ecgcore.synth import gan

    os.environ["ECGCORE_CACHE"] = tempfile.mkdtemp()  # time making data sets, not reading the cache
    for _, batch in gan.generate(2):  # load the weights and neurokit2, warm up
        gan_labels(batch)
    # CPU ms per ECG (all threads) beside ECGs/s: on a shared machine it is the steadier figure.
    start, cpu = time.perf_counter(), time.process_time()
    for _ in gan.generate(n, seed=1, batch_size=64):
        pass
    out = {"gan_n": n, "gan_network_ecgs_per_s": round(n / (time.perf_counter() - start), 1),
           "gan_network_cpu_ms_per_ecg": round(1000 * (time.process_time() - cpu) / n, 1)}
    for fs in (500, 100):
        start, cpu = time.perf_counter(), time.process_time()
        ds = make_gan_dataset(n=n, fs=fs, seed=2, batch_size=64)
        out[f"gan_labelled_ecgs_per_s_{fs}hz"] = round(n / (time.perf_counter() - start), 1)
        out[f"gan_labelled_cpu_ms_per_ecg_{fs}hz"] = round(1000 * (time.process_time() - cpu) / n, 1)
    out["gan_kept"] = len(ds)
    out.update({f"gan_dropped_{t}": v for t, v in ds.config["report"]["dropped"].items()})
    for t, v in ds.targets.items():
        out[f"gan_{t}_mean"], out[f"gan_{t}_sd"] = round(float(v.mean()), 1), round(float(v.std()), 1)
    out["gan_peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    return out


def gan_figures(quick):
    """DeepFake GAN engine (ecgcore.synth.gan, labelled by ecgcore.data.synthetic): ECGs/s for the network alone and with labels at 500 and 100 Hz
    (batch 64, 12 leads), measured targets (mean, sd) and drops, and the process's peak RSS."""
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_context

    with ProcessPoolExecutor(1, mp_context=get_context("spawn")) as pool:
        out = pool.submit(_gan_run, 64 if quick else 128).result()
    print(f"GAN ({out['gan_n']} records, batch 64): network alone {out['gan_network_ecgs_per_s']:.1f} ECGs/s; "
          f"with labels {out['gan_labelled_ecgs_per_s_500hz']:.1f} ECGs/s at 500 Hz, "
          f"{out['gan_labelled_ecgs_per_s_100hz']:.1f} at 100 Hz; peak RSS {out['gan_peak_rss_mb']} MB")
    print(f"GAN CPU time per ECG: network {out['gan_network_cpu_ms_per_ecg']:.0f} ms; with labels "
          f"{out['gan_labelled_cpu_ms_per_ecg_500hz']:.0f} ms at 500 Hz, {out['gan_labelled_cpu_ms_per_ecg_100hz']:.0f}"
          " ms at 100 Hz")
    print(f"GAN measured labels: kept {out['gan_kept']}; " + "; ".join(
        f"{t} {out[f'gan_{t}_mean']:.0f} +/- {out[f'gan_{t}_sd']:.0f} (dropped {out[f'gan_dropped_{t}']})"
        for t in TARGETS))
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer records (a smoke run)")
    results.add_save(parser)
    args = parser.parse_args()
    quick = args.quick
    figures = {"cpus": os.cpu_count(), "affinity_cpus": len(os.sched_getaffinity(0))}
    for fs, n_ours, n_nk in ((100, 2000, 3), (500, 400, 2)):
        if quick:
            n_ours, n_nk = n_ours // 10, 1
        ours, theirs = ecgcore_rate(fs, n_ours), neurokit_rate(fs, n_nk)
        figures.update({f"ecgcore_ecgs_per_s_{fs}hz": round(ours, 1), f"neurokit2_ecgs_per_s_{fs}hz": round(theirs, 3),
                        f"speed_ratio_{fs}hz": round(ours / theirs)})
        print(f"{fs} Hz: ecgcore {ours:,.0f} ECGs/s, neurokit2 multileads {theirs:.2f} ECGs/s "
              f"-> {ours / theirs:,.0f}x")
    if not quick:
        seconds, result_mb, peak_mb = ten_thousand()
        figures.update({"labelled_10k_100hz_s": round(seconds, 2), "result_10k_mb": round(result_mb),
                        "peak_traced_10k_mb": round(peak_mb)})
        print(f"10,000 labelled ECGs at 100 Hz: {seconds:.2f} s; peak traced memory {peak_mb:,.0f} MB "
              f"(of which the result {result_mb:,.0f} MB)")
    agreement = label_agreement(20 if quick else 100)
    figures.update({f"labels_{k}": v for k, v in agreement.items()})
    for tag in ("clean", "noisy"):
        print(f"labels vs neurokit2 delineation of lead II ({tag}): " + "; ".join(
            f"{t} r={agreement[f'{t}_{tag}_r']:.3f} median err {agreement[f'{t}_{tag}_median_err']:+.1f}"
            f" (dropped {agreement[f'{t}_{tag}_dropped']})" for t in TARGETS))
    figures.update(gan_figures(quick))
    results.publish("synth", figures, args.save)


if __name__ == "__main__":
    main()
