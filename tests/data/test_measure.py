"""ecgcore.data.measure: neurokit2 delineation into HR/PR/QRS/QT, with failures NaN and counted."""

import neurokit2 as nk
import numpy as np
import pytest
from scipy.signal import resample_poly

from ecgcore.data import measure
from ecgcore.data.measure import BOUNDS, INTERVAL_TARGETS, measure_intervals

RATES = (50, 75, 100)


@pytest.fixture(scope="module")
def ecgsyn500():
    return np.stack([nk.ecg_simulate(duration=10, sampling_rate=500, heart_rate=hr, random_state=i)
                     for i, hr in enumerate(RATES)])


def _bad_records(length):
    rng = np.random.default_rng(0)
    with_nan = np.sin(np.arange(length) / 50.0)
    with_nan[100] = np.nan
    return np.stack([np.zeros(length), rng.normal(size=length), rng.normal(size=length), with_nan])


def test_measures_ecgsyn_records(ecgsyn500):
    m = measure_intervals(ecgsyn500, 500)
    assert set(m.values) == set(INTERVAL_TARGETS)
    assert m.dropped == dict.fromkeys(INTERVAL_TARGETS, 0)
    assert np.all(m.complete)
    np.testing.assert_allclose(m.values["hr"], RATES, atol=2)
    # ECGSYN shortens its waves as the rate rises, and its intervals sit in the normal adult ranges.
    for target, (lo, hi) in {"pr": (110, 250), "qrs": (60, 110), "qt": (300, 480)}.items():
        values = m.values[target]
        assert np.all((lo < values) & (values < hi)), (target, values)
        assert np.all(np.diff(values) < 0), (target, values)


def test_measures_at_100_hz(ecgsyn500):
    # ECGSYN itself stalls at 100 Hz, so decimate its 500 Hz records.
    m = measure_intervals(resample_poly(ecgsyn500, 1, 5, axis=-1), 100)
    assert np.all(m.complete)
    np.testing.assert_allclose(m.values["hr"], RATES, atol=2)


def test_failed_records_are_nan_and_counted(ecgsyn500):
    signals = np.concatenate([ecgsyn500[:2], _bad_records(5000)])
    m = measure_intervals(signals, 500)
    assert m.complete.tolist() == [True, True, False, False, False, False]
    for target in INTERVAL_TARGETS:
        assert np.all(np.isnan(m.values[target][2:])), target
        assert m.dropped[target] == 4
    # No state between records: measuring in chunks gives the same numbers.
    alone = measure_intervals(ecgsyn500[:2], 500)
    for target in INTERVAL_TARGETS:
        np.testing.assert_array_equal(alone.values[target], m.values[target][:2])


def test_out_of_bounds_value_is_dropped(ecgsyn500, monkeypatch):
    # Narrow QT's bounds below ECGSYN's QT: the value must become NaN, the other targets stay.
    monkeypatch.setitem(measure.BOUNDS, "qt", (BOUNDS["qt"][0], 300.0))
    m = measure_intervals(ecgsyn500[:1], 500)
    assert np.isnan(m.values["qt"][0]) and m.dropped["qt"] == 1
    assert m.dropped["hr"] == m.dropped["pr"] == m.dropped["qrs"] == 0


def test_lead_index_picks_one_lead(ecgsyn500):
    multi = np.stack([np.zeros_like(ecgsyn500), ecgsyn500], axis=1)  # (N, 2, L), lead 1 is the ECG
    picked = measure_intervals(multi, 500, lead_index=1)
    direct = measure_intervals(ecgsyn500, 500)
    for target in INTERVAL_TARGETS:
        np.testing.assert_array_equal(picked.values[target], direct.values[target])
    assert measure_intervals(multi, 500, lead_index=0).dropped["hr"] == len(ecgsyn500)


@pytest.mark.parametrize("shape, lead_index, fs, match", [
    ((2, 3, 500), None, 500, "lead_index"),
    ((2, 3, 500), 3, 500, "lead_index"),
    ((2, 500), 0, 500, "lead_index"),
    ((500,), None, 500, "shape"),
    ((2, 500), None, 0, "fs"),
])
def test_bad_arguments_raise(shape, lead_index, fs, match):
    with pytest.raises(ValueError, match=match):
        measure_intervals(np.zeros(shape), fs, lead_index=lead_index)


def test_recovers_parametric_engine_labels():
    # Noise-free records of our engine on a grid of normal intervals: its labels share measure's convention.
    from ecgcore.synth import synthesize

    rng = np.random.default_rng(0)
    n = 8
    grid = {"hr": rng.uniform(55, 75, n), "pr": rng.permutation(np.linspace(120, 220, n)),
            "qrs": rng.permutation(np.linspace(65, 110, n)), "qt": rng.permutation(np.linspace(350, 460, n))}
    batch = synthesize(grid, n=n, fs=500, noise=False, seed=1)
    m = measure_intervals(batch.signals, 500, lead_index=1)
    tolerance = {"hr": 2, "pr": 15, "qrs": 15, "qt": 25}  # bpm, ms; seen: +-1, -9..0, -10..+9, +5..+17
    for target, tol in tolerance.items():
        np.testing.assert_allclose(m.values[target], batch.labels[target], atol=tol, err_msg=target)
