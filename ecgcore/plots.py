"""Plotly figures for pages, CLI export and notebooks: ECG paper, learning curves, results charts.

Every function takes plain arrays / dicts and returns a `plotly.graph_objects.Figure`; none reads files.
"""

from __future__ import annotations

import base64
import warnings

import numpy as np
import plotly.graph_objects as go
from plotly.colors import DEFAULT_PLOTLY_COLORS, qualitative
from plotly.subplots import make_subplots

from ecgcore.labels import TARGETS
from ecgcore.leads import LEADS
from ecgcore.words import metric_name, say

# ECG paper: 25 mm/s, 10 mm/mV, 1 mm minor and 5 mm major squares.
MM_PER_S = 25.0
MM_PER_MV = 10.0
# The familiar 3x4 print: each column shows 2.5 s of the leads below it, then a lead II rhythm strip.
PAPER_LAYOUT = (("I", "aVR", "V1", "V4"), ("II", "aVL", "V2", "V5"), ("III", "aVF", "V3", "V6"))
RHYTHM_LEAD = "II"
ROW_MM = 30.0  # vertical space per row (3 mV)
GRID_MINOR = "rgba(240,160,160,0.35)"
GRID_MAJOR = "rgba(220,80,80,0.55)"
GRID_MINOR_MM, GRID_MAJOR_MM = 1, 5
# Fiducial colours by wave, so onsets/offsets of one wave share a colour.
WAVE_COLOURS = {"p": "#1f77b4", "qrs": "#2ca02c", "t": "#9467bd", "r": "#ff7f0e"}
# An SVG line of the paper: it keeps its pixel width whatever the picture's size or zoom.
SVG_LINE = 'fill="none" vector-effect="non-scaling-stroke"'


def _wave_colour(name):
    key = name.lower()
    for wave in ("qrs", "p", "t", "r"):  # "qrs" first: it also starts with a letter of another wave
        if key.startswith(wave):
            return WAVE_COLOURS[wave]
    return "#7f7f7f"


def _paper(signal, fs, lead_names, rhythm_lead):
    """The ECG paper's geometry in mm (y up): the strips [(lead, x, y, baseline)] (the 3x4 print, then the
    rhythm strip), the rows' baselines, the record's duration (s), and the sheet's width and height."""
    signal = np.asarray(signal, dtype=float)
    names = list(lead_names)
    if signal.ndim != 2 or signal.shape[0] != len(names):
        raise ValueError(f"signal must be (leads, samples) with {len(names)} leads, got shape {signal.shape}")
    missing = [lead for row in PAPER_LAYOUT for lead in row if lead not in names]
    if missing:
        raise ValueError(f"ECG paper layout needs leads {missing}, not in {names}")
    n_samples = signal.shape[1]
    duration = n_samples / fs
    col_n = int(round(duration / 4 * fs))
    t_mm = np.arange(n_samples) / fs * MM_PER_S
    rows = [*PAPER_LAYOUT, (rhythm_lead,)]
    baselines = [(len(rows) - 1 - r) * ROW_MM + ROW_MM / 2 for r in range(len(rows))]
    strips = []
    for r, row in enumerate(rows):
        for c, lead in enumerate(row):
            sl = slice(0, n_samples) if len(row) == 1 else slice(c * col_n, min((c + 1) * col_n, n_samples))
            strips.append((lead, t_mm[sl], signal[names.index(lead), sl] * MM_PER_MV + baselines[r], baselines[r]))
    return strips, baselines, duration, duration * MM_PER_S, ROW_MM * len(rows)


def _label_at(x, baseline):
    """Where a strip's lead name sits: just right of its start, in the upper part of its row."""
    return x[0] + 1.5, baseline + 0.38 * ROW_MM


def _marks(fiducials, duration, baselines):
    """{mark name: [(x, y_low, y_high), ...]}: a full-height line on the rhythm strip and a short tick at the
    foot of each 3x4 row per mark time (the 3x4 columns are time-aligned, so a time has one x); NaN and times
    outside the record left out, marks without any time too."""
    out = {}
    for name, seconds in (fiducials or {}).items():
        times = np.asarray(seconds, dtype=float).ravel()
        times = times[np.isfinite(times) & (times >= 0) & (times < duration)]
        segments = []
        for x in times * MM_PER_S:
            segments.append((x, baselines[-1] - ROW_MM * 0.45, baselines[-1] + ROW_MM * 0.45))
            segments += [(x, base - ROW_MM * 0.45, base - ROW_MM * 0.3) for base in baselines[:-1]]
        if segments:
            out[name] = segments
    return out


def _speed_text(fs):
    return f"25 mm/s · 10 mm/mV · {fs:g} Hz"


def ecg_paper(signal, fs, lead_names=LEADS, fiducials=None, title=None, rhythm_lead=RHYTHM_LEAD, height=400):
    """One 12-lead record (12, L) in mV on ECG paper: 3x4 layout plus a rhythm strip, `height` pixels high
    (the width follows: the paper's squares stay square).

    `fiducials`, if given, maps a mark name (e.g. "p_on", "qrs_off") to that record's times in seconds (NaN
    ignored); marks are drawn as ticks on every 3x4 row and as lines on the rhythm strip, named in words.
    """
    strips, baselines, duration, width_mm, height_mm = _paper(signal, fs, lead_names, rhythm_lead)
    # One trace for all 13 strips (NaN-separated): a slider redraw sends one array, not 13 traces.
    xs, ys = [], []
    for _, x, y, _ in strips:
        xs += [x, [np.nan]]
        ys += [y, [np.nan]]
    labels = [_label_at(x, base) for _, x, _, base in strips]
    traces = [
        dict(type="scatter", x=np.concatenate(xs), y=np.concatenate(ys), mode="lines",
             line=dict(color="black", width=1), hoverinfo="skip", showlegend=False, name="ECG"),
        dict(type="scatter", x=[lx for lx, _ in labels], y=[ly for _, ly in labels], mode="text",
             text=[lead for lead, *_ in strips], textposition="middle right", textfont=dict(size=12, color="black"),
             hoverinfo="skip", showlegend=False, name="leads"),
    ]
    for name, segments in _marks(fiducials, duration, baselines).items():
        mx, my = [], []
        for x, lo, hi in segments:
            mx += [x, x, None]
            my += [lo, hi, None]
        traces.append(dict(type="scatter", x=mx, y=my, mode="lines", name=say(name), hoverinfo="name",
                           line=dict(color=_wave_colour(name), width=1, dash="dot")))
    axis = dict(showgrid=False, showticklabels=False, zeroline=False, constrain="domain")
    # This redraws on every slider move: one Figure(...) call from plain dicts, unvalidated (a sixth of the
    # time; tests check that the same dicts pass plotly's validation). The 1 and 5 mm grid is one background
    # picture, not ~450 axis grid lines for the browser to lay out.
    return go.Figure(_validate=False, data=traces, layout=dict(
        xaxis=dict(range=[0, width_mm], **axis),
        yaxis=dict(range=[0, height_mm], scaleanchor="x", scaleratio=1, **axis),
        images=[dict(source=grid_image(width_mm, height_mm), xref="x", yref="y", x=0, y=height_mm,
                     sizex=width_mm, sizey=height_mm, sizing="stretch", layer="below")],
        title=dict(text=title) if title else None, plot_bgcolor="white", paper_bgcolor="white", height=height,
        margin=dict(l=10, r=10, t=40 if title else 10, b=10), legend=dict(orientation="h", y=-0.02),
        annotations=[dict(x=width_mm, y=0, xanchor="right", yanchor="bottom", showarrow=False,
                          text=_speed_text(fs), font=dict(size=10, color="gray"))],
    ))


def ecg_paper_svg(signal, fs, lead_names=LEADS, fiducials=None, rhythm_lead=RHYTHM_LEAD):
    """The same ECG paper as `ecg_paper`, as one SVG picture (text), its marks named in a key below the sheet.

    Written by hand because plotly.js is the cost: the browser parses its 4.7 MB before the first chart shows,
    over 1 s on a 2-core machine, while an SVG of 13 polylines is drawn by the browser itself at once. The
    interactive figure stays one click away (zoom, hover) on the pages that offer both."""
    strips, baselines, duration, width_mm, height_mm = _paper(signal, fs, lead_names, rhythm_lead)
    marks = _marks(fiducials, duration, baselines)
    key_mm = 7.0 if marks else 0.0
    flip = lambda y: height_mm - y  # noqa: E731 - SVG's y points down
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width_mm:g} {height_mm + key_mm:g}" '
             f'width="{width_mm * 4:g}" height="{(height_mm + key_mm) * 4:g}" font-family="sans-serif">'
             f'<rect width="{width_mm:g}" height="{height_mm + key_mm:g}" fill="white"/>',
             _grid_svg(width_mm, height_mm)]
    for lead, x, y, base in strips:
        ok = np.isfinite(y)
        points = " ".join(f"{a:.2f},{b:.2f}" for a, b in zip(x[ok], flip(y[ok])))
        parts.append(f'<polyline points="{points}" stroke="black" stroke-width="1" {SVG_LINE}/>')
        lx, ly = _label_at(x, base)
        parts.append(f'<text x="{lx:.2f}" y="{flip(ly):.2f}" font-size="3.4" dominant-baseline="middle">{lead}</text>')
    parts.append(f'<text x="{width_mm - 1:g}" y="{height_mm - 1:g}" font-size="2.6" fill="gray" '
                 f'text-anchor="end">{_speed_text(fs)}</text>')
    for i, (name, segments) in enumerate(marks.items()):
        colour = _wave_colour(name)
        d = "".join(f"M{x:.2f} {flip(hi):.2f}V{flip(lo):.2f}" for x, lo, hi in segments)
        parts.append(f'<path d="{d}" stroke="{colour}" stroke-width="1" stroke-dasharray="2 2" {SVG_LINE}/>')
        kx, ky = 2 + i * 38, height_mm + key_mm / 2
        parts.append(f'<path d="M{kx:g} {ky:g}h6" stroke="{colour}" stroke-width="1.5" stroke-dasharray="2 2" '
                     f'{SVG_LINE}/><text x="{kx + 8:g}" y="{ky:g}" font-size="3.2" dominant-baseline="middle">'
                     f'{say(name)}</text>')
    return "".join(parts) + "</svg>"


def _grid_svg(width_mm, height_mm):
    """ECG paper's grid (1 mm minor, 5 mm major squares) over `width_mm` x `height_mm`, as SVG elements in mm."""
    return (f'<defs><pattern id="minor" width="{GRID_MINOR_MM}" height="{GRID_MINOR_MM}" patternUnits="userSpaceOnUse">'
            f'<path d="M{GRID_MINOR_MM} 0V{GRID_MINOR_MM}H0" stroke="{GRID_MINOR}" stroke-width="0.5" {SVG_LINE}/>'
            f'</pattern><pattern id="major" width="{GRID_MAJOR_MM}" height="{GRID_MAJOR_MM}" '
            f'patternUnits="userSpaceOnUse"><rect width="{GRID_MAJOR_MM}" height="{GRID_MAJOR_MM}" '
            f'fill="url(#minor)"/><path d="M{GRID_MAJOR_MM} 0V{GRID_MAJOR_MM}H0" stroke="{GRID_MAJOR}" '
            f'stroke-width="1" {SVG_LINE}/></pattern></defs>'
            f'<rect width="{width_mm:g}" height="{height_mm:g}" fill="url(#major)"/>'
            f'<path d="M0 0H{width_mm:g}M0 0V{height_mm:g}" stroke="{GRID_MAJOR}" stroke-width="1" {SVG_LINE}/>')


def grid_image(width_mm, height_mm):
    """The ECG paper's grid (`_grid_svg`) as an SVG data URI, the plotly figure's background picture."""
    svg = (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width_mm:g} {height_mm:g}" '
           f'width="{width_mm * 4:g}" height="{height_mm * 4:g}" preserveAspectRatio="none">'
           f'{_grid_svg(width_mm, height_mm)}</svg>')
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()


# Per-epoch metrics drawn as learning curves, grouped by panel.
LOSS_KEYS = ("train_loss", "val_loss")
CLASSIFICATION_KEYS = ("val_macro_auroc", "val_accuracy", "val_macro_f1")
PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf")
# Learning curves need a colour per metric and run: plotly's 24 well-separated colours, then they repeat.
CURVE_COLOURS = qualitative.Dark24
RUN_DASHES = ("solid", "dash", "dot", "dashdot", "longdash", "longdashdot")


def learning_curves(metrics_by_run, units=TARGETS):
    """Loss and validation metrics per epoch; `metrics_by_run` maps a run label to its list of epoch dicts.

    Every curve has a colour of its own (a metric of a run); with several runs each run also has its own dash,
    and the legend names the run first. Hovering shows the curve, the epoch and the value.
    """
    keys = sorted({k for metrics in metrics_by_run.values() for m in metrics for k in m})
    mae_keys = [k for k in keys if k.startswith("val_mae_")]
    second = mae_keys or [k for k in CLASSIFICATION_KEYS if k in keys]
    title = "Validation MAE" if mae_keys else "Validation metrics"
    fig = make_subplots(rows=1, cols=2, subplot_titles=("Loss", title))
    n_epochs = 1
    curves = [*LOSS_KEYS, *second]
    for i, (label, metrics) in enumerate(metrics_by_run.items()):
        prefix = f"{label} · " if len(metrics_by_run) > 1 else ""  # one run: the legend names just the curves
        epochs = [m.get("epoch") for m in metrics]
        n_epochs = max([n_epochs, *[e for e in epochs if e is not None]])
        for j, key in enumerate(curves):
            name = prefix + metric_name(key, units)
            fig.add_trace(go.Scatter(
                x=epochs, y=[m.get(key) for m in metrics], mode="lines+markers", name=name,
                line=dict(color=CURVE_COLOURS[(i * len(curves) + j) % len(CURVE_COLOURS)],
                          dash=RUN_DASHES[i % len(RUN_DASHES)]),
                hovertemplate=f"{name}<br>epoch %{{x}}: %{{y:.4g}}<extra></extra>"),
                row=1, col=1 if key in LOSS_KEYS else 2)
    fig.update_xaxes(title_text="Epoch", tick0=1, dtick=max(1, n_epochs // 10))  # whole epochs only
    fig.update_layout(height=380, margin=dict(l=10, r=10, t=40, b=10), legend=dict(orientation="h", y=-0.25),
                      hovermode="closest")
    return fig


def _target_titles(names, units=None):
    """Panel titles such as "QT interval (ms)": the name in words (ecgcore.words), with its unit when `units`
    has one."""
    units = units or {}
    return [say(n, units.get(n)) for n in names]


def pred_vs_true(y_true, y_pred, names, units=None):
    """Predicted against true value, one panel per target; `y_true`, `y_pred` are (N, len(names))."""
    y_true, y_pred = np.atleast_2d(np.asarray(y_true, float).T).T, np.atleast_2d(np.asarray(y_pred, float).T).T
    if y_true.shape != y_pred.shape or y_true.shape[1] != len(names):
        raise ValueError(f"y_true {y_true.shape} and y_pred {y_pred.shape} must both be (N, {len(names)})")
    fig = make_subplots(rows=1, cols=len(names), subplot_titles=_target_titles(names, units))
    for j in range(len(names)):
        t, p = y_true[:, j], y_pred[:, j]
        ok = np.isfinite(t) & np.isfinite(p)
        lo, hi = (float(np.min(t[ok])), float(np.max(t[ok]))) if ok.any() else (0.0, 1.0)
        fig.add_trace(go.Scattergl(x=t[ok], y=p[ok], mode="markers", marker=dict(size=4, opacity=0.5,
                                   color=PALETTE[0]), showlegend=False, name=names[j]), row=1, col=j + 1)
        fig.add_trace(go.Scatter(x=[lo, hi], y=[lo, hi], mode="lines", line=dict(color="gray", dash="dash"),
                                 showlegend=False, hoverinfo="skip"), row=1, col=j + 1)
    fig.update_xaxes(title_text="True value")
    fig.update_yaxes(title_text="Predicted value", col=1)
    fig.update_layout(height=340, margin=dict(l=10, r=10, t=40, b=10))
    return fig


def confusion(counts, class_names):
    """Confusion matrix heatmap from counts (rows: true class, as sklearn and a run's summary store it);
    row-normalised shares annotated with counts."""
    counts = np.asarray(counts)
    k = len(class_names)
    if counts.shape != (k, k):
        raise ValueError(f"confusion counts must be ({k}, {k}) for classes {list(class_names)}, got {counts.shape}")
    shares = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    text = [[f"{shares[i, j]:.2f}<br>({counts[i, j]})" for j in range(k)] for i in range(k)]
    fig = go.Figure(go.Heatmap(z=shares, x=list(class_names), y=list(class_names), text=text,
                               texttemplate="%{text}", colorscale="Blues", showscale=False))
    fig.update_yaxes(title_text="true class", autorange="reversed")
    fig.update_xaxes(title_text="predicted class")
    fig.update_layout(height=380, margin=dict(l=10, r=10, t=30, b=10))
    return fig


def roc_curves(y_true, y_score, class_names):
    """One-vs-rest ROC curve per class with its AUC; `y_true` is class indices (N,) or multi-hot (N, K)."""
    from sklearn.metrics import auc, roc_curve  # here: sklearn takes seconds to import, and only this needs it

    y_score = np.asarray(y_score, float)
    y_true = np.asarray(y_true)
    onehot = y_true if y_true.ndim == 2 else np.eye(len(class_names), dtype=int)[y_true]
    fig = go.Figure()
    for k, name in enumerate(class_names):
        if onehot[:, k].min() == onehot[:, k].max():
            continue  # a class absent from (or alone in) the test split has no ROC curve
        fpr, tpr, _ = roc_curve(onehot[:, k], y_score[:, k])
        fig.add_trace(go.Scatter(x=fpr, y=tpr, mode="lines", name=f"{name} (AUC {auc(fpr, tpr):.3f})",
                                 line=dict(color=PALETTE[k % len(PALETTE)])))
    fig.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", line=dict(color="gray", dash="dash"),
                             showlegend=False, hoverinfo="skip"))
    fig.update_xaxes(title_text="false positive rate", range=[0, 1])
    fig.update_yaxes(title_text="true positive rate", range=[0, 1.02])
    fig.update_layout(height=380, margin=dict(l=10, r=10, t=30, b=10))
    return fig


def label_histograms(targets, units=None, label=None, class_names=None):
    """Histogram of each target (dict name -> values); overlaid per class when `label` indices are given."""
    names = list(targets)
    fig = make_subplots(rows=1, cols=len(names), subplot_titles=_target_titles(names, units))
    groups = [("all", np.ones(len(targets[names[0]]), bool))] if label is None else [
        (class_names[k] if class_names else str(k), np.asarray(label) == k) for k in np.unique(label)]
    for j, name in enumerate(names):
        values = np.asarray(targets[name], float)
        for g, (group, mask) in enumerate(groups):
            fig.add_trace(go.Histogram(x=values[mask], name=group, legendgroup=group, showlegend=j == 0,
                                       marker_color=PALETTE[g % len(PALETTE)], opacity=0.6, nbinsx=30),
                          row=1, col=j + 1)
    fig.update_layout(barmode="overlay", height=300, margin=dict(l=10, r=10, t=40, b=10))
    return fig


# The browser's modebar exports PNG without a server-side Chrome; pages pass this as plotly_chart's config.
def png_config(filename):
    return {"toImageButtonOptions": {"format": "png", "filename": filename, "scale": 2}, "displaylogo": False}


def to_png(figs):
    """Render figures to PNG bytes with kaleido (needs a Chrome/Chromium; one browser for the whole batch)."""
    import kaleido  # imported here: only exports need it, and it starts a browser
    from choreographer.browsers.chromium import Chromium  # kaleido's browser finder

    if Chromium.find_browser(skip_local=False) is None:  # kaleido would wait for one without a bound
        raise RuntimeError("no Chrome or Chromium found: install chromium (or set BROWSER_PATH to one)")
    for attempt in range(3):
        kaleido.start_sync_server(silence_warnings=True)
        try:
            with warnings.catch_warnings():  # plotly notes that its per-call browser options yield to the server's
                warnings.filterwarnings("ignore", "The kopts argument is ignored", UserWarning)
                return [fig.to_image(format="png", scale=2) for fig in figs]
        except Exception as e:
            # on a loaded machine kaleido may run its script before its page has loaded ("kaleido_scopes is
            # not defined"): a fresh browser is tried, twice at most
            if type(e).__name__ != "JavascriptError" or attempt == 2:
                raise
        finally:
            kaleido.stop_sync_server(silence_warnings=True)


# --- Data efficiency and Explain -------------------------------------------------------------------------
# Colours of the per-wave attribution segments (explain.WAVES), not of the wave marks above.
SEGMENT_COLOURS = {"P": "#1f77b4", "QRS": "#2ca02c", "ST-T": "#9467bd", "baseline": "#bbbbbb"}


def _rgba(colour, alpha):
    """'rgb(r, g, b)' -> 'rgba(r, g, b, alpha)' (plotly's default palette is rgb strings)."""
    return colour.replace("rgb(", "rgba(").replace(")", f", {alpha})")


def sweep_figure(bands, metric, title=None):
    """`metric` against labelled fraction (log x), one mean line and 95% band per arm.

    bands: ecgcore.sweep.bands's DataFrame (arm, fraction, n, mean, lo, hi); arms from different sweeps can
    be concatenated first (give them distinct names), so several pretraining sources share one plot.
    """
    fig = go.Figure()
    label = metric_name(metric)
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
            hovertemplate=(f"{arm}<br>labelled fraction %{{x:.0%}}<br>{label} %{{y:.3f}}<br>95% CI "
                           "[%{customdata[1]:.3f}, %{customdata[2]:.3f}], n=%{customdata[0]}<extra></extra>")))
    fractions = sorted(bands.fraction.unique())
    fig.update_xaxes(type="log", title="Labelled fraction", tickvals=fractions,
                     ticktext=[f"{f:.0%}" if f >= 0.01 else f"{f:.1%}" for f in fractions])
    fig.update_yaxes(title=label)
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
        z=np.clip(heat[::-1] / peak, 0, 1) if peak > 0 else heat, x=t, y=np.arange(n_leads), colorscale="Reds",
        zmin=0, zmax=1, colorbar=dict(title="|attr|", len=0.6), hoverinfo="skip"))
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
                                     marker=dict(color=SEGMENT_COLOURS[wave], size=4, symbol="square")))
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
