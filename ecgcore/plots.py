"""Plotly figures for pages, CLI export and notebooks: ECG paper, learning curves, results charts.

Every function takes plain arrays / dicts and returns a `plotly.graph_objects.Figure`; none reads files.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots
from sklearn.metrics import auc, confusion_matrix, roc_curve

from ecgcore.leads import LEADS

# ECG paper: 25 mm/s, 10 mm/mV, 1 mm minor and 5 mm major squares.
MM_PER_S = 25.0
MM_PER_MV = 10.0
# The familiar 3x4 print: each column shows 2.5 s of the leads below it, then a lead II rhythm strip.
PAPER_LAYOUT = (("I", "aVR", "V1", "V4"), ("II", "aVL", "V2", "V5"), ("III", "aVF", "V3", "V6"))
RHYTHM_LEAD = "II"
ROW_MM = 30.0  # vertical space per row (3 mV)
GRID_MINOR = "rgba(240,160,160,0.35)"
GRID_MAJOR = "rgba(220,80,80,0.55)"
# Fiducial colours by wave, so onsets/offsets of one wave share a colour.
WAVE_COLOURS = {"p": "#1f77b4", "qrs": "#2ca02c", "t": "#9467bd", "r": "#ff7f0e"}


def _wave_colour(name):
    key = name.lower()
    for wave in ("qrs", "p", "t", "r"):  # "qrs" first: it also starts with a letter of another wave
        if key.startswith(wave):
            return WAVE_COLOURS[wave]
    return "#7f7f7f"


def ecg_paper(signal, fs, lead_names=LEADS, fiducials=None, title=None, rhythm_lead=RHYTHM_LEAD):
    """One 12-lead record (12, L) in mV on ECG paper: 3x4 layout plus a rhythm strip.

    `fiducials`, if given, maps a mark name (e.g. "P_onset", "QRS_offset") to sample indices of that record;
    marks are drawn as ticks on every lead and as lines on the rhythm strip.
    """
    signal = np.asarray(signal, dtype=float)
    names = list(lead_names)
    if signal.ndim != 2 or signal.shape[0] != len(names):
        raise ValueError(f"signal must be (leads, samples) with {len(names)} leads, got shape {signal.shape}")
    missing = [lead for row in PAPER_LAYOUT for lead in row if lead not in names]
    if missing:
        raise ValueError(f"ECG paper layout needs leads {missing}, not in {names}")
    n_samples = signal.shape[1]
    duration = n_samples / fs
    col_s = duration / 4
    col_n = int(round(col_s * fs))
    t_mm = np.arange(n_samples) / fs * MM_PER_S

    # One trace for all 13 strips (NaN-separated): a slider redraw sends one array, not 13 traces.
    xs, ys, label_x, label_y, label_text = [], [], [], [], []
    rows = [*PAPER_LAYOUT, (rhythm_lead,)]
    baselines = [(len(rows) - 1 - r) * ROW_MM + ROW_MM / 2 for r in range(len(rows))]
    for r, row in enumerate(rows):
        for c, lead in enumerate(row):
            sl = slice(0, n_samples) if len(row) == 1 else slice(c * col_n, min((c + 1) * col_n, n_samples))
            xs.append(t_mm[sl])
            ys.append(signal[names.index(lead), sl] * MM_PER_MV + baselines[r])
            xs.append([np.nan])
            ys.append([np.nan])
            label_x.append(t_mm[sl][0] + 1.5)
            label_y.append(baselines[r] + 0.38 * ROW_MM)
            label_text.append(lead)
    fig = go.Figure()
    fig.add_trace(go.Scatter(
        x=np.concatenate(xs), y=np.concatenate(ys), mode="lines", line=dict(color="black", width=1),
        hoverinfo="skip", showlegend=False, name="ECG",
    ))
    fig.add_trace(go.Scatter(
        x=label_x, y=label_y, mode="text", text=label_text, textposition="middle right",
        textfont=dict(size=12, color="black"), hoverinfo="skip", showlegend=False, name="leads",
    ))
    if fiducials:
        _add_fiducials(fig, fiducials, fs, n_samples, baselines)
    width_mm = duration * MM_PER_S
    fig.update_xaxes(
        range=[0, width_mm], dtick=5, showgrid=True, gridcolor=GRID_MAJOR, gridwidth=1,
        minor=dict(dtick=1, showgrid=True, gridcolor=GRID_MINOR, gridwidth=0.5),
        showticklabels=False, zeroline=False, fixedrange=False, constrain="domain",
    )
    fig.update_yaxes(
        range=[0, ROW_MM * len(rows)], dtick=5, showgrid=True, gridcolor=GRID_MAJOR, gridwidth=1,
        minor=dict(dtick=1, showgrid=True, gridcolor=GRID_MINOR, gridwidth=0.5),
        showticklabels=False, zeroline=False, scaleanchor="x", scaleratio=1, constrain="domain",
    )
    fig.update_layout(
        title=title, plot_bgcolor="white", paper_bgcolor="white", margin=dict(l=10, r=10, t=40 if title else 10, b=10),
        height=520, legend=dict(orientation="h", y=-0.02),
        xaxis_title=None, yaxis_title=None,
    )
    fig.add_annotation(
        x=width_mm, y=0, xanchor="right", yanchor="bottom", showarrow=False,
        text=f"25 mm/s · 10 mm/mV · {fs:g} Hz", font=dict(size=10, color="gray"),
    )
    return fig


def _add_fiducials(fig, fiducials, fs, n_samples, baselines):
    """Ticks at each mark on the 3x4 strips and full-height lines on the rhythm strip, one trace per mark."""
    rhythm_base = baselines[-1]
    for name, samples in fiducials.items():
        idx = np.asarray(samples, dtype=float).ravel()
        idx = idx[np.isfinite(idx) & (idx >= 0) & (idx < n_samples)].astype(int)
        if idx.size == 0:
            continue
        xs, ys = [], []
        for i in idx:
            # Columns of the 3x4 print are time-aligned, so a mark at time t sits at the same x on every row.
            x = i / fs * MM_PER_S
            xs += [x, x, None]
            ys += [rhythm_base - ROW_MM * 0.45, rhythm_base + ROW_MM * 0.45, None]
            for base in baselines[:-1]:  # short ticks at the foot of each 3x4 row
                xs += [x, x, None]
                ys += [base - ROW_MM * 0.45, base - ROW_MM * 0.3, None]
        fig.add_trace(go.Scatter(
            x=xs, y=ys, mode="lines", name=name, line=dict(color=_wave_colour(name), width=1, dash="dot"),
            hoverinfo="name",
        ))
