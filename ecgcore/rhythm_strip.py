"""The rhythm strip a teacher shows: one lead with the symbol of each beat over its QRS, the atrial activations
(P or F waves) marked on request, and under it a ladder diagram (atria, AV node, ventricles) of how each
impulse travelled.

The ladder is read from a record's beat annotations (ecgcore.synth.rhythms): a beat conducted from a P or F
wave slants from the atrial row through the AV node to the ventricles; an atrial activation that no beat
follows stops in the AV node with a bar (blocked); a junctional beat starts in the AV node (its retrograde P
goes up); a ventricular, escape or paced beat starts in the ventricles; in fibrillation beats come from a
chaotic atrial row (no single atrial activation).
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ecgcore.synth.rhythms import BEAT_SYMBOLS

ROWS = {"A": (3.0, 2.0), "AV": (2.0, 1.0), "V": (1.0, 0.0)}  # (top, bottom) of each ladder row
CONDUCTION_S = 0.5  # an F wave conducts the beat that follows it within this (flutter has no P to link)
BEAT_COLOURS = {"N": "#2ca02c", "A": "#1f77b4", "V": "#d62728", "j": "#9467bd", "E": "#8c564b", "/": "#e377c2"}


def ladder(beats, p_onsets, atrial, fs):
    """Segments of the ladder diagram: {"conducted", "blocked", "ectopic"}: lists of ((t0, y0), (t1, y1)), from
    the beats [(sample, symbol)], each beat's conducting P onset (s, NaN: none) and the atrial onsets (samples)."""
    lines = {"conducted": [], "blocked": [], "ectopic": []}
    atrial_s = np.asarray(atrial, dtype=float) / fs
    used = np.zeros(len(atrial_s), bool)
    a_top, a_bottom = ROWS["A"]
    v_top, v_bottom = ROWS["V"]
    for (sample, symbol), p_on in zip(beats, p_onsets):
        t = sample / fs
        if symbol in ("V", "E", "/"):  # from the ventricles
            lines["ectopic"].append(((t, v_bottom), (t + 0.04, v_top)))
            continue
        if symbol == "j":  # from the AV junction: down to the ventricles (and up, if a retrograde P follows)
            lines["ectopic"].append(((t - 0.03, 1.5), (t, v_top)))
            lines["ectopic"].append(((t, v_top), (t + 0.03, v_bottom)))
            after = np.flatnonzero(~used & (atrial_s > t) & (atrial_s < t + 0.3))
            if len(after):
                used[after[0]] = True
                lines["ectopic"].append(((t - 0.03, 1.5), (atrial_s[after[0]], a_top)))
            continue
        source = np.nan
        if np.isfinite(p_on):
            source = p_on
        else:  # flutter: the latest F wave before it; fibrillation: none
            before = np.flatnonzero((atrial_s < t) & (atrial_s > t - CONDUCTION_S))
            if len(before):
                source = atrial_s[before[-1]]
        if np.isfinite(source):
            hit = np.flatnonzero(np.isclose(atrial_s, source, atol=1.5 / fs))
            used[hit] = True
            lines["conducted"].append(((source, a_top), (source + 0.03, a_bottom)))
            lines["conducted"].append(((source + 0.03, a_bottom), (t, v_top)))
        else:
            lines["conducted"].append(((t - 0.06, a_bottom), (t, v_top)))
        lines["conducted"].append(((t, v_top), (t + 0.03, v_bottom)))
    for onset in atrial_s[~used]:  # no beat followed: stopped in the AV node
        lines["blocked"].append(((onset, a_top), (onset + 0.03, a_bottom)))
        lines["blocked"].append(((onset + 0.03, a_bottom), (onset + 0.08, 1.55)))
    return lines


def _trace(segments, **style):
    x, y = [], []
    for (t0, y0), (t1, y1) in segments:
        x += [t0, t1, None]
        y += [y0, y1, None]
    return go.Scatter(x=x, y=y, mode="lines", hoverinfo="skip", **style)


def rhythm_strip(signal, fs, beats, p_onsets, atrial, atrial_marks=False, atrial_wave="P", lead="II",
                 fibrillation=False, height=360):
    """The strip of `signal` (one lead, mV) with each beat's symbol over its QRS, optional atrial marks
    (`atrial_wave`: "P" or "F"), and the ladder diagram under it; beats/p_onsets/atrial as `ladder` takes. With
    no beats given, the strip alone (a quiz before its answer)."""
    t = np.arange(len(signal)) / fs
    rows = 2 if beats else 1
    fig = make_subplots(rows=rows, cols=1, shared_xaxes=True, row_heights=[0.62, 0.38][:rows] if rows == 2 else None,
                        vertical_spacing=0.04)
    fig.add_trace(go.Scatter(x=t, y=signal, mode="lines", line=dict(color="black", width=1), name=lead,
                             hovertemplate="%{x:.2f} s, %{y:.2f} mV<extra></extra>"), row=1, col=1)
    fig.update_yaxes(title_text=f"{lead} (mV)", row=1, col=1)
    fig.update_xaxes(title_text="time (s)", row=rows, col=1)
    fig.update_layout(height=height if rows == 2 else int(0.6 * height), margin=dict(l=70, r=10, t=10, b=40),
                      showlegend=False, plot_bgcolor="white")
    if not beats:
        return fig
    top = float(np.max(signal)) + 0.25
    symbols = [s for _, s in beats]
    fig.add_trace(go.Scatter(x=[b / fs for b, _ in beats], y=[top] * len(beats), mode="text", text=symbols,
                             textfont=dict(color=[BEAT_COLOURS.get(s, "black") for s in symbols], size=14),
                             hovertext=[BEAT_SYMBOLS.get(s, s) for s in symbols], hoverinfo="text",
                             name="beats"), row=1, col=1)
    if atrial_marks and len(atrial):
        bottom = float(np.min(signal)) - 0.2
        fig.add_trace(go.Scatter(x=np.asarray(atrial) / fs, y=[bottom] * len(atrial), mode="text",
                                 text=[atrial_wave] * len(atrial), textfont=dict(color="#1f77b4", size=11),
                                 hoverinfo="skip", name="atrial"), row=1, col=1)
    lines = ladder(beats, p_onsets, atrial, fs)
    styles = {"conducted": dict(color="#2ca02c", width=2), "blocked": dict(color="#d62728", width=2, dash="dot"),
              "ectopic": dict(color="#9467bd", width=2)}
    for kind, segments in lines.items():
        if segments:
            fig.add_trace(_trace(segments, line=styles[kind], name=kind), row=2, col=1)
    if fibrillation:  # chaotic atrial activity: a jagged line along the atrial row
        x = np.arange(0, len(signal) / fs, 0.06)
        fig.add_trace(go.Scatter(x=x, y=2.5 + 0.35 * np.where(np.arange(len(x)) % 2, 1, -1), mode="lines",
                                 line=dict(color="#1f77b4", width=1), hoverinfo="skip", name="fibrillation"),
                      row=2, col=1)
    for y in (1.0, 2.0):
        fig.add_hline(y=y, line=dict(color="#bbbbbb", width=1), row=2, col=1)
    fig.update_yaxes(tickvals=[2.5, 1.5, 0.5], ticktext=["atria", "AV node", "ventricles"], range=[0, 3],
                     row=2, col=1)
    return fig
