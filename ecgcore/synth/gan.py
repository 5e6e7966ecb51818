"""The GAN engine: DeepFake ECGs (Pulse2Pulse, Thambawita et al. 2021), signals only.

The `deepfake-ecg` package (1.1.2, MIT; its generator checkpoint ships in the wheel, so this works offline)
only writes text files one ECG at a time, so we build its Generator, load its weights and run it in batches.
Each record is 10 s, 8 leads (I, II, V1-V6) at 500 Hz; the network's tanh output x 6000 is in microvolts,
so x 6 gives mV. III, aVR, aVL, aVF are derived from I and II (ecgcore.leads), so the limb-lead relations hold
exactly. The noise input of record i comes from its own torch.Generator seeded by (seed, i): a record does
not depend on n or batch_size.

The GAN has no parameters, so its labels are measured: ecgcore.data.synthetic.make_gan_dataset does that
(lead II at 500 Hz, before resampling) and builds the cached DataSet.
The GAN makes normal ECGs only: a pretraining source, not a classification data set.
"""

from __future__ import annotations

import warnings
from fractions import Fraction
from functools import lru_cache
from pathlib import Path

import numpy as np

from ecgcore.extras import need
from ecgcore.leads import LEAD_SETS, PAPER_LEADS
from ecgcore.synth.parametric import check_fs

GAN_FS = 500
GAN_SECONDS = 10.0
MIN_SECONDS = 2.0  # shorter crops hold too few beats to measure
UV_PER_UNIT = 6000.0  # the package's own scaling of the tanh output (deepfakeecg.generate)


@lru_cache(maxsize=2)
def load_generator(device="cpu"):
    """The Pulse2Pulse generator with the package's trained weights, in eval mode on `device`."""
    import torch

    deepfakeecg = need("deepfakeecg", "The GAN engine")

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


def generate(n, seed=0, batch_size=64, device=None, start=0):
    """Yield (start index, (b, 8, 5000) float32 mV at 500 Hz, leads PAPER_LEADS) for records start..n-1 in
    batches (a record is the same whatever `start`: a build can go on where it stopped)."""
    import torch

    if int(n) != n or n < 1:
        raise ValueError(f"n={n!r} must be a positive whole number of records")
    if int(batch_size) != batch_size or batch_size < 1:
        raise ValueError(f"batch_size={batch_size!r} must be a positive whole number")
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    net = load_generator(device)
    for first in range(int(start), int(n), int(batch_size)):
        stop = min(first + int(batch_size), int(n))
        with torch.inference_mode():
            out = net(_noise(seed, first, stop).to(device))
        yield first, (out * (UV_PER_UNIT / 1000.0)).cpu().numpy()


def check(fs, duration, leads):
    """ValueError unless `fs`, `duration` (a crop of the 10 s records) and `leads` are ones the GAN can give."""
    check_fs(fs)
    if not MIN_SECONDS <= duration <= GAN_SECONDS:
        raise ValueError(f"duration={duration!r} s is out of range for the GAN engine: it makes "
                         f"{GAN_SECONDS:g} s records, cropped to [{MIN_SECONDS:g}, {GAN_SECONDS:g}] s")
    if leads not in LEAD_SETS:
        raise ValueError(f"leads={leads!r} is unknown; choose one of {sorted(LEAD_SETS)}")


def rate_ratio(fs):
    """fs / GAN_FS as an exact fraction (exact for rates given to 1/1000 Hz)."""
    return Fraction(float(fs)).limit_denominator(1000) / GAN_FS


def resample(signals, fs):
    """GAN_FS signals resampled along the last axis to `fs` Hz (to ceil(L * fs / GAN_FS) samples), float32."""
    ratio = rate_ratio(fs)
    if ratio == 1:
        return np.asarray(signals, dtype=np.float32)
    from scipy.signal import resample_poly

    return resample_poly(signals, ratio.numerator, ratio.denominator, axis=-1).astype(np.float32)
