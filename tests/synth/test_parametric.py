"""ecgcore.synth.parametric: shapes, reproducibility, exact lead relations, labels by construction, noise."""

import numpy as np
import pytest

from ecgcore.data.measure import measure_intervals
from ecgcore.leads import LEADS, limb_leads
from ecgcore.synth import FIDUCIALS, synthesize

II, V1 = LEADS.index("II"), LEADS.index("V1")


@pytest.mark.parametrize("fs, duration", [(100, 10.0), (500, 10.0), (1000, 2.5), (257, 3.0)])
def test_shapes_and_dtypes(fs, duration):
    s = synthesize(n=3, fs=fs, duration=duration)
    length = int(round(fs * duration))
    assert s.signals.shape == (3, 12, length) and s.signals.dtype == np.float32
    assert s.lead_names == LEADS and s.fs == fs
    assert set(s.labels) == {"hr", "pr", "qrs", "qt"}
    assert all(v.shape == (3,) for v in s.labels.values())
    assert s.fiducials.ndim == 3 and s.fiducials.shape[0] == 3 and s.fiducials.shape[2] == len(FIDUCIALS)
    assert np.all(np.isfinite(s.signals))


def test_same_seed_same_bytes_other_seed_other_record():
    a, b = synthesize(n=4, fs=100, seed=7), synthesize(n=4, fs=100, seed=7)
    assert a.signals.tobytes() == b.signals.tobytes()
    np.testing.assert_array_equal(a.labels["hr"], b.labels["hr"])
    assert not np.array_equal(a.signals, synthesize(n=4, fs=100, seed=8).signals)


@pytest.mark.parametrize("noise", [False, True])
def test_einthoven_and_goldberger_hold_exactly(noise):
    s = synthesize({"axis": [-30.0, 60.0, 120.0], "bundle_branch": ["none", "right", "left"],
                    "qrs": [90.0, 130.0, 140.0]}, n=3, fs=250, noise=noise)
    lead_i, lead_ii, lead_iii, avr, avl, avf = (s.signals[:, k] for k in range(6))
    np.testing.assert_array_equal(lead_iii, lead_ii - lead_i)
    np.testing.assert_array_equal(avr, -(lead_i + lead_ii) / 2)
    np.testing.assert_array_equal(avl, lead_i - lead_ii / 2)
    np.testing.assert_array_equal(avf, lead_ii - lead_i / 2)
    np.testing.assert_allclose(avr + avl + avf, 0, atol=1e-6)  # Goldberger: the augmented leads sum to 0
    # the engine's own derivation is ecgcore.leads.limb_leads
    for got, want in zip((lead_iii, avr, avl, avf), limb_leads(lead_i, lead_ii)):
        np.testing.assert_array_equal(got, want)


def test_labels_and_fiducials_follow_the_convention():
    params = {"hr": [50.0, 75.0, 100.0], "hrv": 0.0, "pr": [130.0, 250.0, 180.0], "qrs": [70.0, 100.0, 140.0],
              "qt": [380.0, 420.0, 330.0], "p_dur": 90.0}
    s = synthesize(params, n=3, fs=500, noise=False)
    np.testing.assert_array_equal(s.labels["pr"], params["pr"])
    np.testing.assert_array_equal(s.labels["qrs"], params["qrs"])
    np.testing.assert_array_equal(s.labels["qt"], params["qt"])
    # without variability the realised rate is the requested one up to beat onsets on whole samples
    np.testing.assert_allclose(s.labels["hr"], params["hr"], atol=0.5)
    f = s.fiducials
    beats = np.isfinite(f[..., 0])
    for i in range(3):
        b = f[i][beats[i]]
        np.testing.assert_allclose((b[:, 2] - b[:, 0]) * 1000, params["pr"][i], atol=1e-6)
        np.testing.assert_allclose((b[:, 3] - b[:, 2]) * 1000, params["qrs"][i], atol=1e-6)
        np.testing.assert_allclose((b[:, 4] - b[:, 2]) * 1000, params["qt"][i], atol=1e-6)
        np.testing.assert_allclose((b[:, 1] - b[:, 0]) * 1000, 90.0, atol=1e-6)
        assert np.all((b[:, 2] >= 0) & (b[:, 2] < 10.0))  # every listed beat has its QRS onset in the record
        np.testing.assert_allclose(60.0 / np.diff(b[:, 2]).mean(), s.labels["hr"][i], rtol=1e-9)
        # every wave is zero outside its window: lead II is flat from T end to the next P onset
        t = np.arange(s.signals.shape[-1]) / s.fs
        quiet = np.zeros_like(t, dtype=bool)
        for t_end, p_next in zip(b[:-1, 4], b[1:, 0]):
            quiet |= (t > t_end + 2 / s.fs) & (t < p_next - 2 / s.fs)
        assert quiet.sum() > 0.05 * len(t)
        np.testing.assert_array_equal(s.signals[i, II, quiet], 0.0)


def test_hr_variability_is_realised_and_labelled():
    s = synthesize({"hr": 60.0, "hrv": 80.0}, n=20, fs=100, noise=False)
    assert s.labels["hr"].std() > 0.5  # records differ in their realised rate
    rr = np.diff(s.fiducials[..., 2], axis=1)
    np.testing.assert_allclose(60.0 / np.nanmean(rr, axis=1), s.labels["hr"], rtol=1e-9)
    assert 0.05 < np.nanstd(rr) < 0.11  # beat-to-beat R-R spread near the requested 80 ms


def test_qtc_gives_the_qt_of_the_realised_rate():
    s = synthesize({"hr": [50.0, 90.0, 120.0], "qt": 420.0, "qt_correction": "bazett"}, n=3, fs=500)
    np.testing.assert_allclose(s.labels["qt"], 420.0 * np.sqrt(60.0 / s.labels["hr"]), rtol=1e-9)
    s = synthesize({"hr": 60.0, "hrv": 0.0, "qt": 420.0, "qt_correction": "framingham"}, n=1, fs=500)
    np.testing.assert_allclose(s.labels["qt"], 420.0 - 154.0 * (1 - 60.0 / s.labels["hr"]), rtol=1e-9)


def test_each_noise_source_has_its_own_amplitude():
    quiet = {"baseline_mv": 0.0, "powerline_mv": 0.0, "emg_mv": 0.0}
    clean = synthesize(n=2, fs=500, noise=False).signals
    assert np.array_equal(synthesize(quiet, n=2, fs=500).signals, clean)  # all amplitudes 0: no noise
    emg = synthesize({**quiet, "emg_mv": 0.1}, n=2, fs=500).signals - clean
    assert 0.09 < emg[:, V1].std() < 0.11
    line = synthesize({**quiet, "powerline_mv": 0.2, "powerline_hz": "60"}, n=2, fs=500).signals - clean
    spectrum = np.abs(np.fft.rfft(line[0, V1]))
    assert np.fft.rfftfreq(line.shape[-1], 1 / 500)[spectrum.argmax()] == pytest.approx(60.0)
    assert np.abs(line[:, V1]).max() == pytest.approx(0.2, rel=0.01)
    wander = synthesize({**quiet, "baseline_mv": 0.5}, n=2, fs=500).signals - clean
    assert 0.05 < np.abs(wander[:, V1]).max() <= 0.5 + 1e-6
    spectrum = np.abs(np.fft.rfft(wander[0, V1]))
    assert np.fft.rfftfreq(wander.shape[-1], 1 / 500)[spectrum.argmax()] <= 0.5


def test_per_record_parameters_and_progress_over_chunks(monkeypatch):
    from ecgcore.synth import parametric

    monkeypatch.setattr(parametric, "CHUNK_VALUES", 8 * 1000 * 3)  # 3 records per chunk at 100 Hz, 10 s
    done = []
    s = synthesize({"pr": np.linspace(120, 240, 8)}, n=8, fs=100, progress=done.append)
    np.testing.assert_array_equal(s.labels["pr"], np.linspace(120, 240, 8))
    assert done == pytest.approx([3 / 8, 6 / 8, 1.0])


@pytest.mark.parametrize("kwargs, message", [
    ({"fs": 50}, r"fs=50 Hz is out of range \[100, 1000\] Hz"),
    ({"duration": 1.0}, r"duration=1.0 s is out of range"),
    ({"n": 0}, "n=0 must be a positive whole number"),
    ({"params": {"qrs": 20.0}}, r"'qrs'=20 ms is out of range \[50, 200\] ms"),
])
def test_bad_calls_raise(kwargs, message):
    with pytest.raises(ValueError, match=message):
        synthesize(**kwargs)


def _grid(n, rng):
    """A spread of PR, QRS and QT (a shuffled design) at rates where T and the next P do not touch."""
    return {"hr": rng.uniform(55, 75, n), "pr": rng.permutation(np.linspace(120, 220, n)),
            "qrs": rng.permutation(np.linspace(65, 110, n)), "qt": rng.permutation(np.linspace(350, 460, n))}


@pytest.mark.parametrize("noise, min_r, max_bias", [(False, 0.9, 15.0), (True, 0.8, 20.0)])
def test_neurokit2_delineation_tracks_the_labels(noise, min_r, max_bias):
    """Independent check: neurokit2 (ecg_clean, ecg_peaks, prominence delineation) on lead II."""
    fs = 500
    s = synthesize(_grid(16, np.random.default_rng(0)), n=16, fs=fs, noise=noise, seed=1)
    measured = measure_intervals(s.signals, fs, lead_index=II)
    for target in ("pr", "qrs", "qt"):
        got, want = measured.values[target], s.labels[target]
        ok = np.isfinite(got)
        assert ok.sum() >= 14, (target, measured.dropped)
        r = np.corrcoef(want[ok], got[ok])[0, 1]
        bias = np.median(got[ok] - want[ok])
        assert r >= min_r and abs(bias) <= max_bias, (target, r, bias)
    np.testing.assert_allclose(measured.values["hr"], s.labels["hr"], atol=2.0)
