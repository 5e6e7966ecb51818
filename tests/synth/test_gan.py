"""ecgcore.synth.gan: DeepFake GAN ECGs in mV, our lead layouts and rates; ecgcore.data.synthetic measures their labels."""

import neurokit2 as nk
import numpy as np
import pytest

from ecgcore.data.measure import INTERVAL_TARGETS
from ecgcore.data.sources import load_dataset
from ecgcore.data.synthetic import gan_labels, make_gan_dataset
from ecgcore.leads import LEADS, PAPER_LEADS, limb_leads
from ecgcore.synth import gan


@pytest.fixture(scope="module")
def raw():
    """Four records straight from the network: (4, 8, 5000) mV at 500 Hz."""
    return np.concatenate([batch for _, batch in gan.generate(4, seed=0, batch_size=2)])


@pytest.fixture(scope="module")
def twelve():
    return make_gan_dataset(n=4, fs=500, seed=0, leads="all", batch_size=2)


def test_seeded_output_is_reproducible(raw):
    again = np.concatenate([batch for _, batch in gan.generate(4, seed=0, batch_size=4)])
    np.testing.assert_allclose(again, raw, atol=1e-4)  # batch size changes only float rounding
    _, first = next(gan.generate(1, seed=0))
    np.testing.assert_array_equal(first, next(gan.generate(1, seed=0))[1])
    _, other = next(gan.generate(1, seed=1))
    assert np.abs(other - first).max() > 0.1


def test_lead_ii_r_peaks_are_in_millivolts(raw):
    lead_ii = raw[:, PAPER_LEADS.index("II")]
    for record in lead_ii:
        _, info = nk.ecg_peaks(nk.ecg_clean(record, sampling_rate=500), sampling_rate=500)
        r_height = np.median(record[info["ECG_R_Peaks"]]) - np.median(record)
        assert 0.2 < r_height < 3.0, r_height


def test_twelve_leads_with_exact_limb_relations(twelve, raw):
    assert twelve.lead_names == LEADS and twelve.fs == 500
    assert twelve.signals.shape == (len(twelve), 12, 5000)
    s = twelve.signals
    derived = limb_leads(s[:, 0], s[:, 1])
    for name, values in zip(("III", "aVR", "aVL", "aVF"), derived):
        np.testing.assert_array_equal(s[:, LEADS.index(name)], values, err_msg=name)
    assert twelve.config["report"]["n_kept"] == len(twelve) <= 4
    if len(twelve) == 4:  # the precordial leads are the network's own
        np.testing.assert_allclose(s[:, 6:], raw[:, 2:], atol=1e-4)


def test_paper8_resampled_and_cropped():
    done = []
    ds = make_gan_dataset(n=3, fs=100, duration=5.0, seed=0, leads="paper8", batch_size=2, progress=done.append)
    assert done[0] == pytest.approx(2 / 3) and done[-1] == 1.0
    assert ds.lead_names == PAPER_LEADS and ds.fs == 100
    assert ds.signals.shape == (len(ds), 8, 500)
    assert set(ds.targets) == set(INTERVAL_TARGETS)
    assert all(np.all(np.isfinite(v)) for v in ds.targets.values())
    # a resampled lead keeps the linear limb relations up to float rounding
    ds12 = make_gan_dataset(n=3, fs=100, duration=5.0, seed=0, leads="all")
    np.testing.assert_allclose(ds12.signals[:, 2], ds12.signals[:, 1] - ds12.signals[:, 0], atol=1e-5)
    np.testing.assert_allclose(ds12.signals[:, [0, 1, *range(6, 12)]], ds.signals, atol=1e-4)  # batch rounding


def test_odd_rate_and_duration_give_consistent_lengths():
    ds = make_gan_dataset(n=1, fs=360, duration=2.345, seed=0, leads="paper8")
    assert ds.signals.shape[-1] == 844  # the 1172 samples of 2.345 s at 500 Hz, x 360/500, rounded up


def test_failed_measurements_are_dropped_and_counted(monkeypatch):
    real = gan.generate

    def with_flat_record(n, seed=0, batch_size=64, device=None, start=0):
        for start, batch in real(n, seed=seed, batch_size=batch_size, device=device, start=start):
            if start == 0:
                batch[1] = 0.0  # record 1 is a flat line: nothing to delineate
            yield start, batch

    monkeypatch.setattr(gan, "generate", with_flat_record)
    ds = make_gan_dataset(n=3, fs=500, seed=11, leads="paper8", batch_size=2)
    clean = np.concatenate([b for _, b in real(3, seed=11, batch_size=2)])
    assert ds.config["report"]["dropped"] == dict.fromkeys(INTERVAL_TARGETS, 1)
    assert ds.config["report"]["n_kept"] == len(ds) == 2
    np.testing.assert_allclose(ds.signals, clean[[0, 2]], atol=1e-6)  # the flat record 1 is gone
    measured = gan_labels(clean[[0, 2]])
    for t in INTERVAL_TARGETS:
        np.testing.assert_allclose(ds.targets[t], measured.values[t], rtol=1e-6)


def test_an_interrupted_build_resumes_where_it_stopped_and_makes_no_record_twice(monkeypatch, tmp_path):
    real, asked = gan.generate, []

    def killed_after_two_chunks(n, seed=0, batch_size=64, device=None, start=0):
        asked.append(start)
        for first, batch in real(n, seed=seed, batch_size=batch_size, device=device, start=start):
            if first == 4 and len(asked) == 1:
                raise KeyboardInterrupt
            yield first, batch

    monkeypatch.setattr(gan, "generate", killed_after_two_chunks)
    with pytest.raises(KeyboardInterrupt):
        make_gan_dataset(n=6, fs=100, seed=21, leads="paper8", batch_size=2)
    done = []
    resumed = make_gan_dataset(n=6, fs=100, seed=21, leads="paper8", batch_size=2, progress=done.append)
    assert asked == [0, 4] and done[0] == 1.0  # records 4-5 only, after the 4 made before the interruption
    monkeypatch.setenv("ECGCORE_CACHE", str(tmp_path))  # the same set made in one go
    whole = make_gan_dataset(n=6, fs=100, seed=21, leads="paper8", batch_size=2)
    np.testing.assert_array_equal(resumed.signals, whole.signals)
    assert resumed.config == whole.config
    for t in INTERVAL_TARGETS:
        np.testing.assert_array_equal(resumed.targets[t], whole.targets[t])
    assert not list(tmp_path.glob("*.partial"))


def test_cached_and_routed(twelve, monkeypatch):
    monkeypatch.setattr(gan, "generate", lambda *a, **k: pytest.fail("a cached data set was generated again"))
    again = load_dataset({"source": "gan", "n": 4, "fs": 500, "seed": 0, "leads": "all", "batch_size": 4})
    np.testing.assert_array_equal(again.signals, twelve.signals)
    assert again.config == twelve.config


@pytest.mark.parametrize("kwargs, match", [
    ({"duration": 12.0}, "duration"),
    ({"duration": 1.0}, "duration"),
    ({"fs": 50}, "fs"),
    ({"leads": "six"}, "leads"),
    ({"n": 0}, "n="),
    ({"batch_size": 0}, "batch_size"),
])
def test_bad_arguments_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_gan_dataset(**{"n": 2, **kwargs})


def test_synth_cli_gan_engine(tmp_path, capsys):
    from ecgcore.cli import main
    from ecgcore.data.dataset import DataSet

    out = tmp_path / "gan.npz"
    assert main(["synth", "--engine", "gan", "--n", "2", "--fs", "100", "--seed", "3", "--out", str(out)]) == 0
    ds = DataSet.load(out)
    assert ds.signals.shape == (ds.config["report"]["n_kept"], 12, 1000) and ds.config["source"] == "gan"
    assert "labels measured: kept" in capsys.readouterr().out
    assert main(["synth", "--engine", "gan", "--n", "2", "--classes", "MI", "--out", str(tmp_path / "x.npz")]) == 2
    assert "--engine gan" in capsys.readouterr().err
