"""The GAN engine: DeepFake ECGs (Pulse2Pulse, Thambawita et al. 2021), labelled by measurement.

The `deepfake-ecg` package (1.1.2, MIT; its generator checkpoint ships in the wheel, so this works offline)
only writes text files one ECG at a time, so we build its Generator, load its weights and run it in batches.
Each record is 10 s, 8 leads (I, II, V1-V6) at 500 Hz; the network's tanh output x 6000 is in microvolts,
so x 6 gives mV. III, aVR, aVL, aVF are derived from I and II (ecgcore.leads), so the limb-lead relations hold
exactly. The noise input of record i comes from its own torch.Generator seeded by (seed, i): a record does
not depend on n or batch_size.

The GAN has no parameters, so its labels are measured, as the paper's were (by GE MUSE): HR, PR, QRS and QT
of lead II at 500 Hz by ecgcore.data.measure (neurokit2 prominence delineation, median over beats), before
resampling. A record whose measurement fails or is implausible is dropped, never kept with a wrong label.
The DataSet's config is the spec that rebuilds it (ecgcore.data.sources.load_dataset(dataset.config)) plus
config["report"]: "n_kept" (records kept, len <= n), "dropped" (failed measurements per target) and "labels"
(how they were measured).
The GAN makes normal ECGs only: a pretraining source, not a classification data set.
"""

from __future__ import annotations

import math
import warnings
from fractions import Fraction
from functools import lru_cache
from pathlib import Path

import numpy as np

from ecgcore.data.cache import cached
from ecgcore.data.dataset import DataSet
from ecgcore.data.measure import INTERVAL_TARGETS, measure_intervals
from ecgcore.leads import LEAD_SETS, PAPER_LEADS, twelve_from_eight
from ecgcore.synth.parametric import check_fs

GAN_FS = 500
GAN_SECONDS = 10.0
MIN_SECONDS = 2.0  # shorter crops hold too few beats to measure
LABELS = "measured: neurokit2 prominence delineation of lead II at 500 Hz, median over beats"
UV_PER_UNIT = 6000.0  # the package's own scaling of the tanh output (deepfakeecg.generate)
# Part of the cache key, not of the config: bump it when the output or its config's layout changes.
ENGINE_VERSION = 2  # 2: what the build measured moved under config["report"]


@lru_cache(maxsize=2)
def load_generator(device="cpu"):
    """The Pulse2Pulse generator with the package's trained weights, in eval mode on `device`."""
    import deepfakeecg
    import torch

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # the package's deprecated init call; weights replace it
        net = deepfakeecg.Generator()
    checkpoint = Path(deepfakeecg.__file__).parent / "checkpoints" / "g_stat.pt"
    net.load_state_dict(torch.load(checkpoint, map_location=device, weights_only=True)["stat_dict"])
    return net.to(device).eval()


def _noise(seed, start, stop):
    """(stop - start, 8, 5000) uniform noise in [-1, 1); record i's from its own generator seeded by (seed, i)."""
    import torch

    out = torch.empty((stop - start, len(PAPER_LEADS), int(GAN_FS * GAN_SECONDS)))
    for row, i in enumerate(range(start, stop)):
        state = int(np.random.SeedSequence([seed, i]).generate_state(1, np.uint64)[0])
        out[row].uniform_(-1.0, 1.0, generator=torch.Generator().manual_seed(state))
    return out


def generate(n, seed=0, batch_size=64, device=None):
    """Yield (start index, (b, 8, 5000) float32 mV at 500 Hz, leads PAPER_LEADS) for records 0..n-1 in batches."""
    import torch

    if int(n) != n or n < 1:
        raise ValueError(f"n={n!r} must be a positive whole number of records")
    if int(batch_size) != batch_size or batch_size < 1:
        raise ValueError(f"batch_size={batch_size!r} must be a positive whole number")
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    net = load_generator(device)
    for start in range(0, int(n), int(batch_size)):
        stop = min(start + int(batch_size), int(n))
        with torch.inference_mode():
            out = net(_noise(seed, start, stop).to(device))
        yield start, (out * (UV_PER_UNIT / 1000.0)).cpu().numpy()


def label(signals8, fs=GAN_FS):
    """ecgcore.data.measure.Measurements of lead II of (N, 8, L) signals in PAPER_LEADS order."""
    return measure_intervals(signals8, fs, lead_index=PAPER_LEADS.index("II"))


def _check(fs, duration, leads):
    check_fs(fs)
    if not MIN_SECONDS <= duration <= GAN_SECONDS:
        raise ValueError(f"duration={duration!r} s is out of range for the GAN engine: it makes "
                         f"{GAN_SECONDS:g} s records, cropped to [{MIN_SECONDS:g}, {GAN_SECONDS:g}] s")
    if leads not in LEAD_SETS:
        raise ValueError(f"leads={leads!r} is unknown; choose one of {sorted(LEAD_SETS)}")


def _ratio(fs):
    """fs / GAN_FS as an exact fraction (exact for rates given to 1/1000 Hz)."""
    return Fraction(float(fs)).limit_denominator(1000) / GAN_FS


def resample(signals, fs):
    """GAN_FS signals resampled along the last axis to `fs` Hz (to ceil(L * fs / GAN_FS) samples), float32."""
    ratio = _ratio(fs)
    if ratio == 1:
        return np.asarray(signals, dtype=np.float32)
    from scipy.signal import resample_poly

    return resample_poly(signals, ratio.numerator, ratio.denominator, axis=-1).astype(np.float32)


def make_dataset(n=1000, fs=100, duration=10.0, seed=0, leads="all", batch_size=64, progress=None):
    """A DataSet of up to n GAN ECGs with measured targets hr, pr, qrs, qt, from the disk cache when made before.

    fs: 100-1000 Hz (resampled from the GAN's 500 Hz after labelling). duration: 10 s, or a shorter crop
    (>= 2 s) of each record, measured as cropped. leads: "all" (12) or "paper8" (the GAN's own I, II, V1-V6).
    batch_size: records per network call (speed and memory only, not part of the config). progress: optional
    callable given the share done (0-1). Records whose measurement failed are dropped and counted in
    config["report"] (see the module docstring), so len(result) <= n. Memory: the result plus one batch, for any n.
    """
    fs, duration = float(fs), float(duration)
    _check(fs, duration, leads)
    config = {"source": "gan", "n": int(n), "fs": fs, "duration": duration, "seed": int(seed), "leads": leads}
    length_500 = int(round(duration * GAN_FS))

    def build():
        lead_names = LEAD_SETS[leads]
        out = np.empty((int(n), len(lead_names), math.ceil(length_500 * _ratio(fs))), dtype=np.float32)
        targets = {t: np.empty(int(n), dtype=np.float32) for t in INTERVAL_TARGETS}
        dropped, kept = dict.fromkeys(INTERVAL_TARGETS, 0), 0
        for start, batch in generate(n, seed=seed, batch_size=batch_size):
            batch = batch[..., :length_500]
            measured = label(batch)
            ok = measured.complete
            dropped = {t: dropped[t] + measured.dropped[t] for t in INTERVAL_TARGETS}
            batch = batch[ok]
            if leads == "all":
                batch = twelve_from_eight(batch)
            out[kept:kept + len(batch)] = resample(batch, fs)
            for t in INTERVAL_TARGETS:
                targets[t][kept:kept + len(batch)] = measured.values[t][ok]
            kept += len(batch)
            if progress is not None:
                progress((start + len(ok)) / n)
        return DataSet(signals=out[:kept], fs=fs, lead_names=lead_names,
                       targets={t: v[:kept] for t, v in targets.items()},
                       config={**config, "report": {"n_kept": kept, "dropped": dropped, "labels": LABELS}})

    dataset = cached({**config, "engine_version": ENGINE_VERSION}, build, kind="gan")
    if progress is not None:
        progress(1.0)  # a cache hit reports done too
    return dataset
