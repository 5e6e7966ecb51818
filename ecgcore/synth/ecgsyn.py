"""The reference engine: neurokit2's ECGSYN (`ecg_simulate(method="multileads")`), one record at a time.

Slow (an ODE per lead: ~1 s per 12-lead record at 500 Hz) and kept for comparison. neurokit2 returns no
labels, so they are derived from ECGSYN's own wave parameters (McSharry et al. 2003; neurokit2's defaults):
each wave i is a Gaussian in the cardiac phase, centred at angle t_i with width b_i (radians), both scaled
with the heart rate as ECGSYN scales them; a phase angle is a time of angle / 2 pi * RR after the R peak.
  P onset    = t_P - 2 b_P         T offset = t_T + 2 b_T   (P and T fade within 2 widths)
  QRS onset  = t_Q - b_Q           QRS offset = t_S + b_S   (Q and S are small beside R: 1 width)
HR is the requested mean rate (ECGSYN's R-R process has mean 60/HR). ECGSYN min-max rescales every lead to
[-0.4, 1.2], so amplitudes are not in mV and the limb-lead relations do not hold.
"""

from __future__ import annotations

import numpy as np

from ecgcore.leads import LEADS
from ecgcore.synth.noise import noise as draw_noise

# neurokit2's ECGSYN defaults for P, Q, R, S, T: angle (deg) and Gaussian width (rad)
ANGLES_DEG = np.array([-70.0, -15.0, 0.0, 15.0, 100.0])
WIDTHS_RAD = np.array([0.25, 0.1, 0.1, 0.1, 0.4])


def ecgsyn_labels(hr):
    """{"hr", "pr", "qrs", "qt"} (bpm, ms) from ECGSYN's wave parameters at mean heart rates `hr` (bpm)."""
    hr = np.asarray(hr, dtype=np.float64)
    hrfact = np.sqrt(hr / 60.0)[:, None]
    # ECGSYN's own rate scaling (neurokit2 _ecg_simulate_ecgsyn): widths x hrfact, angles x sqrt(hrfact) (P, T)
    # or x hrfact (Q, S)
    angle = np.radians(ANGLES_DEG) * np.hstack([np.sqrt(hrfact), hrfact, np.ones_like(hrfact), hrfact,
                                                np.sqrt(hrfact)])
    width = WIDTHS_RAD * hrfact
    to_ms = (60.0 / hr)[:, None] / (2 * np.pi) * 1000.0
    p, q, _, s, t = (angle * to_ms).T
    bp, bq, _, bs, bt = (width * to_ms).T
    p_on, qrs_on, qrs_off, t_off = p - 2 * bp, q - bq, s + bs, t + 2 * bt
    return {"hr": hr, "pr": qrs_on - p_on, "qrs": qrs_off - qrs_on, "qt": t_off - qrs_on}


def synthesize_ecgsyn(params, fs, duration, seed=0, noise=True, progress=None):
    """(signals (n, 12, L) float32, labels) for full (n,) parameters `params`; only hr, hrv and noise are used."""
    import neurokit2 as nk  # heavy import kept local: CLI --help stays instant

    n, length = len(params["hr"]), int(round(duration * fs))
    signals = np.empty((n, len(LEADS), length), dtype=np.float32)
    # R-R standard deviation (ms) -> heart-rate standard deviation (bpm): d(60/RR) = 60 dRR / RR^2
    hr_std = params["hrv"] * 1e-3 * params["hr"] ** 2 / 60.0
    for i in range(n):
        frame = nk.ecg_simulate(duration=duration, sampling_rate=fs, heart_rate=params["hr"][i],
                                heart_rate_std=hr_std[i], method="multileads", noise=0,
                                random_state=[seed, i])
        signals[i] = frame[list(LEADS)].to_numpy().T[:, :length]
        if progress is not None:
            progress((i + 1) / n)
    if noise:
        signals += draw_noise(params, len(LEADS), np.arange(length) / fs, np.random.default_rng([seed, n]))
    return signals, ecgsyn_labels(params["hr"])
