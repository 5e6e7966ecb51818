"""Recording noise for a batch: baseline wander, powerline interference and muscle (EMG-like) noise.

Hand-written in numpy rather than neurokit2's `signal_distort`: that works on one 1-D signal at a time (a
Python call per lead and record, ~ms each, so minutes for 10,000 12-lead records) while this is one
vectorised draw for the whole batch. Noise is drawn for the 8 independent leads (I, II, V1-V6) only; the
other limb leads are derived from I and II afterwards, as electrode noise enters real recordings, so the limb
relations still hold on noisy output.
"""

from __future__ import annotations

import numpy as np

BASELINE_HZ = (0.05, 0.5)  # respiration and electrode drift
BASELINE_COMPONENTS = 3


def noise(p, n_leads, t, rng):
    """(N, n_leads, L) float32 noise in mV for full (N,) parameters `p` at sample times `t` (s, shape (L,))."""
    n = len(p["baseline_mv"])
    # sin(wt + phase) = cos(phase) sin(wt) + sin(phase) cos(wt): the sines are computed once per record and
    # frequency, and mixed into the leads with per-lead coefficients (sin() per lead and sample costs 10x more).
    freq = rng.uniform(*BASELINE_HZ, size=(n, BASELINE_COMPONENTS))
    freq = np.concatenate([freq, p["powerline_hz"].astype(float)[:, None]], axis=1)  # the mains last
    # float32 throughout (SIMD sin/cos ~10x faster than float64; the phase error, <0.03 rad at 600 s, is
    # immaterial for noise), with the phase reduced to one turn first
    cycles = freq.astype(np.float32)[:, :, None] * np.asarray(t, dtype=np.float32)
    wt = np.float32(2 * np.pi) * (cycles % np.float32(1.0))
    waves = np.concatenate([np.sin(wt), np.cos(wt)], axis=1)  # (N, 2K, L)
    # Baseline: a few slow sinusoids whose weights sum to 1, so the wander stays within +-baseline_mv.
    # Powerline: one sinusoid per lead at the mains frequency (aliased when fs is below twice it, as an
    # unfiltered recorder would alias it).
    weight = rng.dirichlet(np.ones(BASELINE_COMPONENTS), size=(n, n_leads)) * p["baseline_mv"][:, None, None]
    weight = np.concatenate([weight, np.broadcast_to(p["powerline_mv"][:, None, None], (n, n_leads, 1))], axis=2)
    phase = rng.uniform(0, 2 * np.pi, size=weight.shape)
    out = np.concatenate([weight * np.cos(phase), weight * np.sin(phase)], axis=2).astype(np.float32) @ waves
    # Muscle: broadband Gaussian noise (EMG spans 20-500 Hz, i.e. white at ECG sampling rates).
    out += p["emg_mv"].astype(np.float32)[:, None, None] * rng.standard_normal(out.shape, dtype=np.float32)
    return out
