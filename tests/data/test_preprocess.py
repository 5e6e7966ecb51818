import numpy as np
import pytest

from ecgcore.config import Preprocess
from ecgcore.data.preprocess import preprocess
from ecgcore.leads import LEADS, PAPER_LEADS


def sines(fs=500, seconds=10, n=2, freqs=(10.0,)):
    t = np.arange(int(fs * seconds)) / fs
    one = sum(np.sin(2 * np.pi * f * t) for f in freqs)
    return np.tile(one, (n, 12, 1)).astype(np.float32)


def power_at(x, fs, freq):
    spectrum = np.abs(np.fft.rfft(x, axis=-1))
    return spectrum[..., int(round(freq * x.shape[-1] / fs))].mean()


def test_bandpass_keeps_the_ecg_band_and_removes_drift_and_high_noise():
    raw = sines(freqs=(10.0,)) + sines(freqs=(0.1,)) * 3 + sines(freqs=(60.0,)) + 2.0
    out, fs, _ = preprocess(raw, 500, LEADS, Preprocess(normalize="none"))
    assert power_at(out, fs, 10) / power_at(raw, 500, 10) > 0.9
    assert power_at(out, fs, 0.1) / power_at(raw, 500, 0.1) < 0.05
    assert power_at(out, fs, 60) / power_at(raw, 500, 60) < 0.05
    assert abs(out.mean()) < 0.05  # baseline offset gone


def test_resampling_changes_length_and_rate():
    out, fs, names = preprocess(sines(fs=500), 500, LEADS, Preprocess(fs=100))
    assert fs == 100 and out.shape == (2, 12, 1000) and out.dtype == np.float32 and names == LEADS


@pytest.mark.parametrize("normalize", ["zscore", "minmax"])
def test_per_lead_scaling(normalize):
    raw = sines(fs=100) * np.arange(1, 13)[None, :, None] + np.arange(12)[None, :, None]
    out, _, _ = preprocess(raw, 100, LEADS, Preprocess(bandpass=False, normalize=normalize))
    if normalize == "zscore":
        assert np.allclose(out.mean(axis=-1), 0, atol=1e-4) and np.allclose(out.std(axis=-1), 1, atol=1e-3)
    else:
        assert np.allclose(out.min(axis=-1), 0, atol=1e-5) and np.allclose(out.max(axis=-1), 1, atol=1e-5)


def test_paper8_selects_the_eight_leads_in_order():
    raw = np.arange(12, dtype=np.float32)[None, :, None] * np.ones((1, 12, 300), np.float32)
    out, _, names = preprocess(raw, 100, LEADS, Preprocess(bandpass=False, normalize="none", leads="paper8"))
    assert names == PAPER_LEADS
    assert out[0, :, 0].tolist() == [LEADS.index(n) for n in PAPER_LEADS]


def test_nan_is_rejected_naming_the_record():
    raw = sines(fs=100, n=3)
    raw[2, 4, 10] = np.nan
    with pytest.raises(ValueError, match="NaN or inf in 1 record.*index 2"):
        preprocess(raw, 100, LEADS, Preprocess())


def test_band_above_nyquist_is_a_clear_error():
    with pytest.raises(ValueError, match="fs/2"):
        preprocess(sines(fs=50), 50, LEADS, Preprocess())


def test_z_scored_signals_are_told_from_millivolts():
    from ecgcore.data.preprocess import looks_standardised
    from ecgcore.synth import synthesize

    mv = synthesize(n=4, fs=100, seed=0).signals
    assert not looks_standardised(mv) and not looks_standardised(mv[0])
    z = (mv - mv.mean(-1, keepdims=True)) / mv.std(-1, keepdims=True)
    assert looks_standardised(z) and looks_standardised(z[0])
    assert not looks_standardised(np.zeros((12, 100))) and not looks_standardised(np.full((2, 50), np.nan))
