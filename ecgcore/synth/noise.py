"""Recording noise for a batch: baseline wander, powerline interference and muscle (EMG-like) noise.

Hand-written in numpy rather than neurokit2's `signal_distort`: that works on one 1-D signal at a time (a
Python call per lead and record, ~ms each, so minutes for 10,000 12-lead records) while this is one
vectorised draw for the whole batch. Noise is drawn for the 8 independent leads (I, II, V1-V6) only; the
other limb leads are derived from I and II afterwards, as electrode noise enters real recordings, so the limb
relations still hold on noisy output.
"""

from __future__ import annotations

import numpy as np

# Baseline wander mixes sinusoids on this grid (respiration and electrode drift); the powerline is one of the
# mains frequencies. A fixed grid lets one sine table serve the whole batch: a matrix product then mixes it
# into every lead of every record (sin() per record, lead and sample costs far more).
BASELINE_HZ = np.linspace(0.05, 0.5, 8)
MAINS_HZ = (50.0, 60.0)


def noise(p, n_leads, t, rng):
    """(N, n_leads, L) float32 noise in mV for full (N,) parameters `p` at sample times `t` (s, shape (L,))."""
    n, n_base = len(p["baseline_mv"]), len(BASELINE_HZ)
    cycles = np.outer(np.concatenate([BASELINE_HZ, MAINS_HZ]), t) % 1.0
    table = np.concatenate([np.sin(2 * np.pi * cycles), np.cos(2 * np.pi * cycles)]).astype(np.float32)
    # Baseline: per lead, weights summing to 1 over the grid, so the wander stays within +-baseline_mv.
    # Powerline: one sinusoid per lead at the record's mains frequency (aliased when fs is below twice it, as an
    # unfiltered recorder would alias it).
    weight = np.zeros((n, n_leads, len(cycles)))
    weight[..., :n_base] = rng.dirichlet(np.full(n_base, 0.5), size=(n, n_leads)) * p["baseline_mv"][:, None, None]
    mains = n_base + (p["powerline_hz"] == str(int(MAINS_HZ[1]))).astype(int)
    weight[np.arange(n), :, mains] = p["powerline_mv"][:, None]
    phase = rng.uniform(0, 2 * np.pi, size=weight.shape)  # sin(wt + phase) = cos(phase) sin(wt) + sin(phase) cos(wt)
    mix = np.concatenate([weight * np.cos(phase), weight * np.sin(phase)], axis=2).astype(np.float32)
    # Muscle: broadband white noise (EMG spans 20-500 Hz, i.e. white at ECG sampling rates) with standard
    # deviation emg_mv. Uniformly distributed: drawing it is 5x faster than Gaussian and, once any ECG filter
    # averages a few samples, its distribution is Gaussian anyway.
    out = rng.random((n, n_leads, len(t)), dtype=np.float32)
    out -= np.float32(0.5)
    out *= (np.sqrt(12.0) * p["emg_mv"]).astype(np.float32)[:, None, None]
    out += (mix.reshape(n * n_leads, -1) @ table).reshape(out.shape)
    return out
