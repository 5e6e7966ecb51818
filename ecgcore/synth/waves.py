"""Wave tables: per record, each wave's time window within a beat and its amplitude in the 8 independent leads.

A beat is a sum of waves. Each wave has one time course (a window [start, start + length] in seconds from the
P onset and a bump shape on it, shared by every lead, so fiducials are the same in all leads) and one
amplitude per independent lead (I, II, V1-V6). Limb-lead amplitudes come from a frontal-plane vector
(magnitude, direction) projected on lead I (0 deg) and lead II (+60 deg); III, aVR, aVL, aVF are derived from I
and II later, so Einthoven's and Goldberger's relations hold exactly. Precordial amplitudes come from tables
of the normal R/S progression, scaled by the record's voltages.

Label convention (what the labels and fiducials mean):
  P onset / offset : start / end of the P window (the P wave is zero outside it)
  QRS onset        : start of the QRS window = P onset + PR
  QRS offset (J)   : end of the QRS window = QRS onset + QRS
  T offset         : end of the T window = QRS onset + QT
"""

from __future__ import annotations

import numpy as np

from ecgcore.synth.params import GROUPS, MIN_PR_GAP_MS, MIN_T_MS, PARAMS

# (name, shape power, peak position within the window); the ST wave has its own shape (see wave_shapes), the
# T wave's peak lies T_PEAK_TO_END_MS before its end.
WAVES = (("p", 1.2, 0.4), ("septal_q", 1.0, 0.5), ("q_inferior", 0.6, 0.5), ("q_lateral", 0.6, 0.5),
         ("q_anterior", 0.6, 0.5), ("r", 1.5, 0.5), ("s", 1.0, 0.4), ("r2", 1.0, 0.5), ("st", None, None),
         ("t", 2.0, None))
WAVE_INDEX = {name: i for i, (name, _, _) in enumerate(WAVES)}

LIMB_DEG = np.array([0.0, 60.0])  # leads I and II
GROUP_LIMB_DEG = {"inferior": 90.0, "lateral": -15.0, "anterior": None}  # anterior: precordial only
GROUP_PRECORDIAL = {  # V1..V6 weight of each lead group
    "inferior": np.zeros(6),
    "lateral": np.array([0.0, 0.0, 0.0, 0.3, 1.0, 1.0]),
    "anterior": np.array([1.0, 1.0, 1.0, 1.0, 0.3, 0.0]),
}
P_PRECORDIAL = np.array([0.5, 0.7, 0.7, 0.7, 0.7, 0.6])  # x p_amp

# Conduction modes (bundle_branch none / right / left). Precordial tables are V1..V6 in units of r_amp (QRS
# waves) or t_amp (T); limb QRS waves are vectors (share of r_amp, direction in degrees; None: along the axis).
# QRS windows are (start, end) as fractions of the QRS duration.
MODES = {
    "none": {
        "r": np.array([0.15, 0.35, 0.7, 1.1, 1.1, 0.85]),
        "s": np.array([0.85, 1.2, 0.7, 0.4, 0.2, 0.08]),
        "r2": np.zeros(6),
        "septal_q": np.array([0.0, 0.0, 0.0, 0.02, 0.06, 0.08]),
        "t": np.array([0.2, 1.0, 1.1, 1.0, 0.8, 0.6]),
        "st": np.zeros(6),
        "limb": {"septal_q": (0.1, -150.0), "s": (0.3, -120.0), "r2": (0.0, 0.0), "t": 1.0, "st": (0.0, 0.0)},
        "window": {"r": (0.0, 0.75), "s": (0.65, 1.0), "r2": (0.55, 1.0)},
    },
    "right": {  # rsR' in V1-V2, broad terminal S in I, V5, V6; T inverted in V1-V2
        "r": np.array([0.2, 0.35, 0.7, 1.1, 1.1, 0.85]),
        "s": np.array([0.5, 0.8, 0.5, 0.3, 0.15, 0.05]),
        "r2": np.array([0.8, 0.5, 0.1, -0.15, -0.3, -0.35]),
        "septal_q": np.array([0.0, 0.0, 0.0, 0.02, 0.06, 0.08]),
        "t": np.array([-0.6, -0.3, 0.6, 1.0, 0.8, 0.6]),
        "st": np.zeros(6),
        "limb": {"septal_q": (0.1, -150.0), "s": (0.1, -120.0), "r2": (0.35, 180.0), "t": 1.0, "st": (0.0, 0.0)},
        "window": {"r": (0.0, 0.4), "s": (0.25, 0.65), "r2": (0.55, 1.0)},
    },
    "left": {  # no septal q, QS in V1-V2, broad notched R in I, V5, V6; discordant ST-T
        "r": np.array([0.05, 0.1, 0.2, 0.5, 0.9, 1.0]),
        "s": np.array([1.6, 1.8, 1.2, 0.6, 0.1, 0.0]),
        "r2": np.array([0.0, 0.0, 0.1, 0.4, 0.8, 0.9]),
        "septal_q": np.zeros(6),
        "t": np.array([0.8, 1.0, 0.8, 0.2, -0.5, -0.6]),
        "st": np.array([0.15, 0.2, 0.1, 0.0, -0.1, -0.1]),
        "limb": {"septal_q": (0.0, 0.0), "s": (0.0, 0.0), "r2": (0.8, 0.0), "t": -0.6, "st": (0.1, 180.0)},
        "window": {"r": (0.0, 0.55), "s": (0.15, 1.0), "r2": (0.45, 1.0)},
    },
}
MODE_NAMES = tuple(MODES)
R_LOSS = 2.0  # mV of R amplitude lost per mV of pathological Q depth, in the same leads
T_PEAK_TO_END_MS = 100.0  # T peak to T end (at most 45% of the T window): a typical Tpeak-Tend interval
T_START = 0.2  # the T window starts this share of the J-to-T-end span after the J point (the ST segment)
ST_RAMP = 0.15  # the ST deviation builds up over this share of the QRS before the J point
QT_MAX_MS = 950.0  # cap on the QT after rate correction (Bazett at 30 bpm would give more)


def _limb(magnitude, degrees):
    """(N,) magnitude and direction (deg) of a frontal vector -> (N, 2) amplitude in leads I, II."""
    return magnitude[:, None] * np.cos(np.radians(np.asarray(degrees)[..., None] - LIMB_DEG))


def p_wave_amplitudes(p_amp, degrees, precordial=1.0):
    """(N, 8) amplitude in I, II, V1-V6 of a P wave of `p_amp` (N,) mV along the frontal direction `degrees`,
    its precordial share scaled by `precordial` (the sinus P: 60 deg and 1, as `amplitudes` draws it)."""
    return np.concatenate([_limb(p_amp, degrees), precordial * p_amp[:, None] * P_PRECORDIAL], axis=1)


def _mode_table(mode, key):
    """(N, ...) stack of a mode-table entry per record."""
    return np.stack([MODES[m][key] for m in MODE_NAMES])[mode]


def _mode_limb(mode, wave):
    """(N,) per-record limb entry of a mode: a value, or (share, direction) as two arrays."""
    return np.array([MODES[m]["limb"][wave] for m in MODE_NAMES], dtype=float)[mode].T


def amplitudes(p, mode):
    """(N, W, 8) amplitude of each wave in leads I, II, V1-V6, from full (N,) parameters `p`."""
    n = len(mode)
    amp = np.zeros((n, len(WAVES), 8))
    r_amp, t_amp, axis = p["r_amp"], p["t_amp"], p["axis"]

    def put(wave, limb, precordial):
        amp[:, WAVE_INDEX[wave], :2] += limb
        amp[:, WAVE_INDEX[wave], 2:] += precordial

    put("p", _limb(p["p_amp"], 60.0), p["p_amp"][:, None] * P_PRECORDIAL)
    put("r", _limb(r_amp, axis), r_amp[:, None] * _mode_table(mode, "r"))
    for wave, sign in (("septal_q", -1.0), ("s", -1.0), ("r2", 1.0)):
        share, deg = _mode_limb(mode, wave)
        put(wave, _limb(share * r_amp, deg), sign * r_amp[:, None] * _mode_table(mode, wave))
    share, deg = _mode_limb(mode, "st")  # a block's secondary ST shift, in mV at the default voltage
    voltage = r_amp / PARAMS["r_amp"]["default"]
    put("st", _limb(share * voltage, deg), voltage[:, None] * _mode_table(mode, "st"))
    t_sign = _mode_limb(mode, "t")
    t_limb = _limb(t_amp * t_sign, axis)
    t_pre = t_amp[:, None] * _mode_table(mode, "t")
    # Lead-group changes: a vector along the group's frontal direction (so reciprocal leads mirror it) plus
    # the group's precordial weights.
    t_scale_pre = np.ones((n, 6))
    for g in GROUPS:
        deg, weight = GROUP_LIMB_DEG[g], GROUP_PRECORDIAL[g]
        q_limb = st_limb = dt_limb = 0.0
        if deg is not None:
            q_limb, st_limb = -_limb(p[f"q_{g}"], deg), _limb(p[f"st_{g}"], deg)
            t_at_group = t_amp * t_sign * np.cos(np.radians(axis - deg))
            dt_limb = _limb((p[f"t_{g}"] - 1.0) * t_at_group, deg)
        put(f"q_{g}", q_limb, -p[f"q_{g}"][:, None] * weight)
        put("r", R_LOSS * q_limb, -R_LOSS * p[f"q_{g}"][:, None] * weight)  # necrosis: R forces lost too
        put("st", st_limb, p[f"st_{g}"][:, None] * weight)
        t_limb = t_limb + dt_limb
        t_scale_pre += (p[f"t_{g}"][:, None] - 1.0) * weight
    put("t", t_limb, t_pre * t_scale_pre)
    return amp


def windows(p, mode, qt):
    """(start, length, peak), each (N, W): every wave's window from the beat's P onset in seconds, and the
    position of its peak as a share of the window.

    `qt` is the realised QT (ms) per record; the P wave is shortened to end MIN_PR_GAP_MS before the QRS.
    """
    ms = 1e-3
    pr, qrs = p["pr"] * ms, p["qrs"] * ms
    jt = qt * ms - qrs  # J point to T end
    start = np.zeros((len(mode), len(WAVES)))
    length = np.zeros_like(start)
    peak = np.tile([0.5 if c is None else c for _, _, c in WAVES], (len(mode), 1))

    def put(wave, a, d):
        start[:, WAVE_INDEX[wave]], length[:, WAVE_INDEX[wave]] = a, d

    put("p", 0.0, np.minimum(p["p_dur"], p["pr"] - MIN_PR_GAP_MS) * ms)
    put("septal_q", pr, 0.15 * qrs)
    for g in GROUPS:
        put(f"q_{g}", pr, np.minimum(p[f"qw_{g}"] * ms, 0.6 * qrs))
    for wave in ("r", "s", "r2"):
        frac = np.array([MODES[m]["window"][wave] for m in MODE_NAMES])[mode]  # (N, 2): start, end
        put(wave, pr + frac[:, 0] * qrs, (frac[:, 1] - frac[:, 0]) * qrs)
    put("st", pr + (1 - ST_RAMP) * qrs, ST_RAMP * qrs + jt)  # ramp before J, then decays to 0 at T end
    put("t", pr + qrs + T_START * jt, (1 - T_START) * jt)
    peak[:, WAVE_INDEX["t"]] = 1 - np.minimum(T_PEAK_TO_END_MS * ms / ((1 - T_START) * jt), 0.45)
    return start, length, peak


def realised_qt_ms(p, qt_from_correction):
    """The QT actually drawn: the corrected value, kept within [qrs + MIN_T_MS, QT_MAX_MS]."""
    return np.clip(qt_from_correction, p["qrs"] + MIN_T_MS, QT_MAX_MS)


def wave_shapes(tau, start, length, peak, qrs):
    """(N, W, T) time course of every wave on beat-local times `tau` (s, shape (T,)); zero outside windows."""
    u = (tau[None, None, :] - start[:, :, None]) / length[:, :, None]
    inside = (u > 0) & (u < 1)
    u = np.clip(u, 0.0, 1.0)
    out = np.zeros(u.shape)
    for i, (name, power, _) in enumerate(WAVES):
        if name == "st":
            # rises over the ramp (the last ST_RAMP of the QRS), then flat-topped decay to 0 at the T end
            ramp = ST_RAMP * qrs / length[:, i]
            ui = u[:, i]
            rise = np.sin(0.5 * np.pi * np.clip(ui / ramp[:, None], 0.0, 1.0)) ** 2
            v = np.clip((ui - ramp[:, None]) / (1 - ramp[:, None]), 0.0, 1.0)
            out[:, i] = np.where(inside[:, i], rise * (1 - v**2) ** 2, 0.0)
            continue
        ui = u[:, i]
        c = peak[:, i, None]
        warped = np.where(ui < c, 0.5 * ui / c, 0.5 + 0.5 * (ui - c) / (1 - c))
        out[:, i] = np.where(inside[:, i], np.sin(np.pi * warped) ** power, 0.0)
    return out
