"""Plotly figures of the Data-efficiency and Explain views: metric vs labelled fraction with seed bands,
an ECG with its attribution as a colour overlay per lead, and per-wave attribution shares.

Kept apart from ecgcore.plots (the other pages' figures) while both were written at once; same conventions:
plain arrays / DataFrames in, a `plotly.graph_objects.Figure` out, no file reading. PNG via plots.to_png.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.colors import DEFAULT_PLOTLY_COLORS

WAVE_COLOURS = {"P": "#1f77b4", "QRS": "#2ca02c", "ST-T": "#9467bd", "baseline": "#bbbbbb"}


def _rgba(colour, alpha):
    """'rgb(r, g, b)' -> 'rgba(r, g, b, alpha)' (plotly's default palette is rgb strings)."""
    return colour.replace("rgb(", "rgba(").replace(")", f", {alpha})")


def sweep_figure(bands, metric, title=None):
    """`metric` against labelled fraction (log x), one mean line and 95% band per arm.

    bands: ecgcore.sweep.bands's DataFrame (arm, fraction, n, mean, lo, hi); arms from different sweeps can
    be concatenated first (give them distinct names), so several pretraining sources share one plot.
    """
    fig = go.Figure()
    for i, (arm, b) in enumerate(bands[bands.n > 0].groupby("arm", sort=False)):
        b = b.sort_values("fraction")
        colour = DEFAULT_PLOTLY_COLORS[i % len(DEFAULT_PLOTLY_COLORS)]
        band = b.dropna(subset=["lo", "hi"])
        if len(band):
            fig.add_trace(go.Scatter(
                x=np.r_[band.fraction, band.fraction[::-1]], y=np.r_[band.hi, band.lo[::-1]], fill="toself",
                mode="lines", fillcolor=_rgba(colour, 0.18), line=dict(width=0), hoverinfo="skip", showlegend=False,
                legendgroup=arm, name=f"{arm} 95% CI"))
        fig.add_trace(go.Scatter(
            x=b.fraction, y=b["mean"], mode="lines+markers", name=arm, legendgroup=arm, line=dict(color=colour),
            customdata=np.c_[b.n, b.lo, b.hi],
            hovertemplate=(f"{arm}<br>fraction %{{x:.0%}}<br>{metric} %{{y:.3f}}"
                           "<br>95% CI [%{customdata[1]:.3f}, %{customdata[2]:.3f}], n=%{customdata[0]}<extra></extra>")))
    fractions = sorted(bands.fraction.unique())
    fig.update_xaxes(type="log", title="labelled fraction", tickvals=fractions,
                     ticktext=[f"{f:.0%}" if f >= 0.01 else f"{f:.1%}" for f in fractions])
    fig.update_yaxes(title=metric)
    fig.update_layout(title=title, template="plotly_white", height=420, legend=dict(orientation="h", y=-0.2))
    return fig


def attribution_figure(signal, attributions, fs, lead_names, labels=None, title=None):
    """Leads stacked top to bottom, each drawn over a heat strip of its |attribution| (scaled to the record's
    99.5th percentile, so a few extreme samples do not wash out the rest); `labels`
    (ecgcore.explain.wave_labels) marks the waves along the bottom."""
    signal = np.asarray(signal, dtype=float)
    heat = np.abs(np.asarray(attributions, dtype=float))
    if signal.shape != heat.shape or signal.ndim != 2 or len(lead_names) != signal.shape[0]:
        raise ValueError(f"signal {signal.shape}, attributions {heat.shape} and {len(lead_names)} lead names "
                         "must agree as (leads, samples)")
    n_leads, n = signal.shape
    t = np.arange(n) / fs
    peak = np.percentile(heat, 99.5)
    fig = go.Figure(go.Heatmap(
        z=np.clip(heat[::-1] / peak, 0, 1) if peak > 0 else heat, x=t, y=np.arange(n_leads), colorscale="Reds", zmin=0, zmax=1,
        colorbar=dict(title="|attr|", len=0.6), hoverinfo="skip"))
    # each lead scaled into its row (0.45 of the row each side), so one shared axis holds all of them
    span = np.abs(signal).max(axis=1, keepdims=True)
    rows = signal / np.where(span > 0, span, 1) * 0.45 + np.arange(n_leads)[::-1, None]
    xs = np.concatenate([np.r_[t, np.nan] for _ in range(n_leads)])
    ys = np.concatenate([np.r_[r, np.nan] for r in rows])
    fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", line=dict(color="black", width=1), hoverinfo="skip",
                             showlegend=False))
    if labels is not None:
        from ecgcore.explain import WAVES

        for i, wave in enumerate(WAVES[:-1]):
            mask = np.asarray(labels) == i
            fig.add_trace(go.Scatter(x=t[mask], y=np.full(mask.sum(), -0.75), mode="markers", name=wave,
                                     marker=dict(color=WAVE_COLOURS[wave], size=4, symbol="square")))
    fig.update_yaxes(tickvals=np.arange(n_leads), ticktext=list(lead_names)[::-1], range=[-1, n_leads - 0.5],
                     showgrid=False, zeroline=False)
    fig.update_xaxes(title="time (s)", showgrid=False)
    fig.update_layout(title=title, template="plotly_white", height=80 + 45 * n_leads,
                      legend=dict(orientation="h", y=-0.12), margin=dict(l=10, r=10, t=40 if title else 10, b=10))
    return fig


def wave_shares_figure(shares_by_name):
    """Grouped bars: each wave's share of |attribution| per named result, the share of time as a marker.

    shares_by_name: {name: ecgcore.explain.wave_shares(...)}."""
    fig = go.Figure()
    for name, shares in shares_by_name.items():
        waves = list(shares)
        fig.add_trace(go.Bar(x=waves, y=[shares[w]["share"] for w in waves], name=name,
                             hovertemplate="%{x}: %{y:.1%} of |attribution|<extra>" + name + "</extra>"))
    first = next(iter(shares_by_name.values()), {})
    fig.add_trace(go.Scatter(x=list(first), y=[first[w]["time"] for w in first], mode="markers",
                             marker=dict(symbol="line-ew-open", size=40, color="black"), name="share of time"))
    fig.update_yaxes(title="share", tickformat=".0%")
    fig.update_layout(barmode="group", template="plotly_white", height=320, legend=dict(orientation="h", y=-0.2))
    return fig
