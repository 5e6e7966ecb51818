"""ecgcore.synth.ecgsyn: neurokit2's ECGSYN as a second engine, labelled from its own wave parameters."""

import numpy as np

from ecgcore.leads import LEADS
from ecgcore.data.synthetic import make_dataset
from ecgcore.synth.ecgsyn import ecgsyn_labels


def test_labels_from_wave_parameters_are_plausible_and_shorten_with_rate():
    labels = ecgsyn_labels([50.0, 60.0, 90.0])
    np.testing.assert_array_equal(labels["hr"], [50.0, 60.0, 90.0])
    # at 60 bpm: P onset -70 - 2 x 14.3 deg, Q -15 - 5.7 deg, S +15 + 5.7 deg, T +100 + 2 x 22.9 deg; 1 s per 360 deg
    np.testing.assert_allclose(labels["pr"][1], (98.65 - 20.73) / 360 * 1000, atol=0.1)
    np.testing.assert_allclose(labels["qrs"][1], 2 * 20.73 / 360 * 1000, atol=0.1)
    np.testing.assert_allclose(labels["qt"][1], (145.84 + 20.73) / 360 * 1000, atol=0.1)
    for target in ("pr", "qrs", "qt"):
        assert np.all(np.diff(labels[target]) < 0), target


def test_ecgsyn_engine_makes_a_labelled_data_set():
    ds = make_dataset(n=2, fs=100, duration=3.0, seed=4, engine="ecgsyn", noise=False)
    assert ds.signals.shape == (2, 12, 300) and ds.lead_names == LEADS
    expected = ecgsyn_labels(ds.targets["hr"])
    for target in ("pr", "qrs", "qt"):
        np.testing.assert_allclose(ds.targets[target], expected[target], rtol=1e-5)
    # ECGSYN rescales every lead to [-0.4, 1.2] (before cutting its beats to the duration)
    assert ds.signals.min() >= -0.4 - 1e-5 and ds.signals.max() <= 1.2 + 1e-5
    assert np.all(np.ptp(ds.signals, axis=2) > 0.5)
    assert not np.array_equal(ds.signals[0], ds.signals[1])
    assert ds.config["engine"] == "ecgsyn"
