import base64
import json
import shutil

import numpy as np
import plotly.graph_objects as go
import pytest

from ecgcore import plots
from ecgcore.leads import LEADS


def _record(fs=100, seconds=10):
    t = np.arange(int(fs * seconds)) / fs
    return np.stack([np.sin(2 * np.pi * t) * (i + 1) / 10 for i in range(12)]), fs


def test_ecg_paper_scales_signal_to_paper_units():
    signal, fs = _record()
    fig = plots.ecg_paper(signal, fs)
    trace = fig.data[0]
    x, y = np.asarray(trace.x, float), np.asarray(trace.y, float)
    # 12 strips of 2.5 s + one 10 s rhythm strip, NaN-separated
    finite = np.isfinite(x)
    assert finite.sum() == 12 * 250 + 1000
    # 25 mm/s: the last sample of the rhythm strip sits at 9.99 s * 25 mm/s
    assert np.nanmax(x) == pytest.approx(999 / fs * plots.MM_PER_S)
    # lead I's strip (first 250 samples) is 10 mm/mV around the top row's baseline
    top = (len(plots.PAPER_LAYOUT)) * plots.ROW_MM + plots.ROW_MM / 2
    assert np.allclose(y[:250], signal[0, :250] * plots.MM_PER_MV + top)
    # the 3x4 columns are time-aligned: aVR's strip starts at 2.5 s
    avr_start = x[251]
    assert avr_start == pytest.approx(2.5 * plots.MM_PER_S)
    assert list(fig.data[1].text) == [lead for row in plots.PAPER_LAYOUT for lead in row] + ["II"]


def test_ecg_paper_figure_passes_plotly_validation():
    signal, fs = _record()
    fig = plots.ecg_paper(signal, fs, fiducials={"p_on": [0.1]}, title="t")
    validated = go.Figure(fig.to_dict())  # ecg_paper skips validation for speed: a validated copy must build
    assert json.loads(validated.to_json()) == json.loads(fig.to_json())  # ... and be the same figure


def test_ecg_paper_grid_is_one_and_five_mm_as_one_background_picture():
    signal, fs = _record()
    fig = plots.ecg_paper(signal, fs)
    layout = fig.layout
    assert layout.yaxis.scaleanchor == "x" and layout.yaxis.scaleratio == 1  # squares stay square
    assert not layout.xaxis.showgrid and not layout.yaxis.showgrid  # no axis grid lines to lay out
    (image,) = layout.images
    assert (image.x, image.y, image.sizex, image.sizey) == (0, 4 * plots.ROW_MM, 250, 4 * plots.ROW_MM)
    svg = base64.b64decode(image.source.split(",", 1)[1]).decode()
    assert 'id="minor" width="1" height="1"' in svg and 'id="major" width="5" height="5"' in svg
    assert len(fig.data) == 2  # the 13 strips are one trace, the lead names another


def test_ecg_paper_fiducials_one_trace_per_mark_and_drops_out_of_range():
    signal, fs = _record()
    fig = plots.ecg_paper(signal, fs, fiducials={"p_on": [0.1, 1.1, 50.0], "qrs_off": [np.nan, 0.4]})
    names = [t.name for t in fig.data]
    assert names[2:] == ["P onset", "J point (QRS end)"]  # in words, not code names
    p = fig.data[2]
    xs = {v for v in p.x if v is not None}
    assert sorted(xs) == pytest.approx([0.1 * 25, 1.1 * 25])  # the mark at 50 s is beyond the 10 s record
    assert fig.data[2].line.color != fig.data[3].line.color


def test_ecg_paper_picture_draws_the_figures_strips_and_marks():
    import re

    signal, fs = _record()
    marks = {"p_on": [0.1, 1.1, 50.0], "qrs_off": [np.nan, 0.4]}
    fig = plots.ecg_paper(signal, fs, fiducials=marks)
    svg = plots.ecg_paper_svg(signal, fs, fiducials=marks)
    height = 4 * plots.ROW_MM
    assert svg.startswith("<svg ") and f'viewBox="0 0 250 {height + 7:g}"' in svg  # the sheet and a key below
    strips = [np.array([p.split(",") for p in pts.split()], float)
              for pts in re.findall(r'<polyline points="([^"]*)"', svg)]
    assert len(strips) == 13
    x, y = np.asarray(fig.data[0].x, float), np.asarray(fig.data[0].y, float)
    points = np.concatenate(strips)
    # the figure's points, y flipped (SVG's y points down), to the 0.01 mm written
    assert np.allclose(points[:, 0], x[np.isfinite(x)], atol=0.006)
    assert np.allclose(points[:, 1], height - y[np.isfinite(y)], atol=0.006)
    assert re.findall(r">([^<>]+)</text>", svg)[:13] == list(fig.data[1].text)  # the lead names
    assert "P onset" in svg and "J point (QRS end)" in svg  # the key names the marks in words
    ticks = re.findall(r'<path d="(M[^"]*)" stroke="([^"]*)" stroke-width="1" stroke-dasharray', svg)
    assert len(ticks) == 2 and ticks[0][1] != ticks[1][1]  # one path per mark, a colour each
    assert ticks[0][0].count("M") == 2 * 4  # p_on at 0.1 and 1.1 s (not 50 s): rhythm line + 3 row ticks each
    assert 'viewBox="0 0 250 120"' in plots.ecg_paper_svg(signal, fs)  # no marks, no key


def test_ecg_paper_rejects_wrong_shape_and_missing_leads():
    signal, fs = _record()
    with pytest.raises(ValueError, match="12 leads"):
        plots.ecg_paper(signal[:8], fs)
    with pytest.raises(ValueError, match="aVR"):
        plots.ecg_paper(signal[:8], fs, lead_names=LEADS[:2] + LEADS[6:])
    with pytest.raises(ValueError, match="12 leads"):
        plots.ecg_paper_svg(signal[:8], fs)


def test_learning_curves_overlay_runs_and_pick_mae_panel():
    a = [{"epoch": e, "train_loss": 1 / e, "val_loss": 1.2 / e, "val_mae_hr": 5 / e, "val_mae_qt": 9 / e}
         for e in (1, 2, 3)]
    b = [{"epoch": e, "train_loss": 2 / e, "val_loss": 2.2 / e, "val_mae_hr": 6 / e} for e in (1, 2)]
    fig = plots.learning_curves({"a": a, "b": b})
    names = [t.name for t in fig.data]
    assert names[:4] == ["a · Training loss", "a · Validation loss", "a · MAE, heart rate (bpm)",
                         "a · MAE, QT interval (ms)"]
    assert "b · MAE, heart rate (bpm)" in names
    assert np.allclose(fig.data[1].y, [1.2, 0.6, 0.4])
    # every curve its own colour (the four MAE lines apart at a glance), each run its own dash
    colours = [t.line.color for t in fig.data]
    assert len(set(colours)) == len(colours) == 8
    assert {t.line.dash for t in fig.data[:4]} == {"solid"} and {t.line.dash for t in fig.data[4:]} == {"dash"}
    assert "epoch %{x}" in fig.data[2].hovertemplate and "MAE, heart rate (bpm)" in fig.data[2].hovertemplate
    cls = plots.learning_curves({"c": [{"epoch": 1, "train_loss": 1, "val_loss": 1, "val_macro_auroc": 0.7}]})
    assert [t.name for t in cls.data] == ["Training loss", "Validation loss", "Macro AUROC"]  # one run: no label


def test_pred_vs_true_panels_and_shape_check():
    y = np.array([[60.0, 150.0], [80.0, 170.0], [100.0, 190.0]])
    fig = plots.pred_vs_true(y, y + 1, ["hr", "pr"], {"hr": "bpm"})
    assert fig.layout.annotations[0].text == "Heart rate (bpm)" and fig.layout.annotations[1].text == "PR interval"
    assert list(fig.data[2].y) == [151.0, 171.0, 191.0]
    with pytest.raises(ValueError, match="y_pred"):
        plots.pred_vs_true(y, y[:, :1], ["hr", "pr"])


def test_confusion_rows_are_true_classes_and_normalised():
    fig = plots.confusion([[2, 1], [0, 1]], ["NORM", "MI"])
    z = np.asarray(fig.data[0].z)
    assert np.allclose(z, [[2 / 3, 1 / 3], [0, 1]])
    assert fig.data[0].text[0][1] == "0.33<br>(1)"
    with pytest.raises(ValueError, match="confusion counts"):
        plots.confusion([[1, 0], [0, 1]], ["NORM", "MI", "CD"])


def test_roc_curves_auc_and_skip_absent_class():
    y_true = np.array([0, 0, 1, 1])
    score = np.array([[0.9, 0.1, 0], [0.8, 0.2, 0], [0.3, 0.7, 0], [0.6, 0.4, 0]])
    fig = plots.roc_curves(y_true, score, ["NORM", "MI", "CD"])
    names = [t.name for t in fig.data if t.name]
    assert names == ["NORM (AUC 1.000)", "MI (AUC 1.000)"]  # CD never occurs: no curve


def test_label_histograms_group_by_class():
    targets = {"hr": np.array([60, 70, 80, 90.0]), "qt": np.array([380, 400, 420, 440.0])}
    fig = plots.label_histograms(targets, {"hr": "bpm"}, label=np.array([0, 0, 1, 1]), class_names=["NORM", "MI"])
    assert [t.name for t in fig.data] == ["NORM", "MI", "NORM", "MI"]
    assert list(fig.data[1].x) == [80, 90]
    assert [t.showlegend for t in fig.data] == [True, True, False, False]


def test_png_config_sets_modebar_export_name():
    assert plots.png_config("run-1-curves")["toImageButtonOptions"]["filename"] == "run-1-curves"


@pytest.mark.skipif(shutil.which("chromium") is None, reason="kaleido needs a Chrome/Chromium")
def test_to_png_renders_png_bytes_with_kaleido():
    (png,) = plots.to_png([plots.learning_curves({"a": [{"epoch": 1, "train_loss": 1.0, "val_loss": 1.2}]})])
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 1000


def test_sweep_figure_one_band_and_line_per_arm_on_a_log_fraction_axis():
    import pandas as pd

    bands = pd.DataFrame({"arm": ["scratch", "scratch", "transfer", "transfer", "empty"],
                          "fraction": [0.1, 1.0, 0.1, 1.0, 0.1], "n": [2, 2, 2, 1, 0],
                          "mean": [0.6, 0.8, 0.7, 0.85, np.nan], "lo": [0.5, 0.7, 0.6, np.nan, np.nan],
                          "hi": [0.7, 0.9, 0.8, np.nan, np.nan]})
    fig = plots.sweep_figure(bands, "macro_auroc", title="t")
    assert [t.name for t in fig.data] == ["scratch 95% CI", "scratch", "transfer 95% CI", "transfer"]  # no "empty"
    assert list(fig.data[0].y) == [0.7, 0.9, 0.7, 0.5]  # hi forward, lo back: one closed band
    assert list(fig.data[2].x) == [0.1, 0.1]  # transfer's band leaves out the fraction without an interval
    assert fig.data[1].line.color != fig.data[3].line.color
    assert fig.layout.xaxis.type == "log" and list(fig.layout.xaxis.ticktext) == ["10%", "100%"]


def test_attribution_figure_scales_heat_and_checks_shapes():
    signal = np.array([[0.0, 1.0, -1.0, 0.5], [0.0, 2.0, 0.0, -2.0]])
    attributions = np.array([[0.0, -4.0, 2.0, 1.0], [0.0, 0.0, 0.0, 1.0]])
    fig = plots.attribution_figure(signal, attributions, 2, ["I", "II"], labels=np.array([0, 1, 2, 3]))
    z = np.asarray(fig.data[0].z)
    assert z.shape == (2, 4) and z.max() == 1.0 and z.min() == 0.0  # |attr| over its 99.5th percentile, clipped
    assert list(fig.layout.yaxis.ticktext) == ["II", "I"]  # first lead on top
    assert [t.name for t in fig.data[2:]] == ["P", "QRS", "ST-T"]  # baseline is not marked
    with pytest.raises(ValueError, match="must agree"):
        plots.attribution_figure(signal, attributions[:, :3], 2, ["I", "II"])


def test_wave_shares_figure_bars_per_result_and_time_marker():
    shares = {"a": {"P": {"share": 0.2, "time": 0.1}, "QRS": {"share": 0.8, "time": 0.9}},
              "b": {"P": {"share": 0.5, "time": 0.1}, "QRS": {"share": 0.5, "time": 0.9}}}
    fig = plots.wave_shares_figure(shares)
    assert [t.name for t in fig.data] == ["a", "b", "share of time"]
    assert list(fig.data[1].y) == [0.5, 0.5] and list(fig.data[2].y) == [0.1, 0.9]


def test_measured_morphology_and_table_columns_read_as_words():
    import pandas as pd

    from ecgcore.words import metric_name, say, say_columns

    assert say("r_amp_V5", "mV") == "R-wave amplitude, V5 (mV)" and say("st_aVR") == "ST level, aVR"
    assert say("st_inferior") == "ST level, inferior leads"  # the engine parameter, not a lead named "inferior"
    assert metric_name("val_mae_t_amp_V2", {"t_amp_V2": "mV"}) == "MAE, T-wave amplitude, V2 (mV)"
    table = say_columns(pd.DataFrame(columns=["fraction", "arm", "seed", "macro_auroc", "test_mae_qt", 3]))
    assert list(table.columns) == ["Labelled fraction", "Arm", "Seed", "Macro AUROC", "MAE, QT interval", 3]


def test_png_without_a_browser_says_so_at_once_instead_of_waiting(monkeypatch):
    from choreographer.browsers.chromium import Chromium

    monkeypatch.setattr(Chromium, "find_browser", classmethod(lambda cls, **kw: None))
    with pytest.raises(RuntimeError, match="no Chrome or Chromium"):
        plots.to_png([go.Figure()])


def test_png_tries_a_fresh_browser_when_kaleido_runs_before_its_page_loaded(monkeypatch):
    """On a loaded machine kaleido raised "kaleido_scopes is not defined" (its JavascriptError) now and then."""
    import kaleido

    class JavascriptError(Exception):
        pass

    calls = []

    def to_image(fig, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise JavascriptError("ReferenceError: kaleido_scopes is not defined")
        return b"\x89PNG"

    monkeypatch.setattr(kaleido, "start_sync_server", lambda **kw: None)
    monkeypatch.setattr(kaleido, "stop_sync_server", lambda **kw: None)
    monkeypatch.setattr(go.Figure, "to_image", to_image)
    assert plots.to_png([go.Figure()]) == [b"\x89PNG"] and len(calls) == 2
