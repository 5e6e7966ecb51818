import numpy as np
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


def test_ecg_paper_grid_is_one_and_five_mm():
    signal, fs = _record()
    layout = plots.ecg_paper(signal, fs).layout
    assert layout.xaxis.dtick == 5 and layout.xaxis.minor.dtick == 1
    assert layout.yaxis.scaleanchor == "x" and layout.yaxis.scaleratio == 1


def test_ecg_paper_fiducials_one_trace_per_mark_and_drops_out_of_range():
    signal, fs = _record()
    fig = plots.ecg_paper(signal, fs, fiducials={"P_onset": [10, 110, 5000], "QRS_offset": [np.nan, 40]})
    names = [t.name for t in fig.data]
    assert names[2:] == ["P_onset", "QRS_offset"]
    p = fig.data[2]
    xs = {v for v in p.x if v is not None}
    assert xs == {10 / fs * 25, 110 / fs * 25}  # the mark at sample 5000 is beyond the record
    assert fig.data[2].line.color != fig.data[3].line.color


def test_ecg_paper_rejects_wrong_shape_and_missing_leads():
    signal, fs = _record()
    with pytest.raises(ValueError, match="12 leads"):
        plots.ecg_paper(signal[:8], fs)
    with pytest.raises(ValueError, match="aVR"):
        plots.ecg_paper(signal[:8], fs, lead_names=LEADS[:2] + LEADS[6:])
