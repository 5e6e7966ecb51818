"""ecgcore.synth.params: the parameter table is complete and self-describing, and bad values are refused."""

import numpy as np
import pytest

from ecgcore.synth.params import PARAMS, corrected_qt, realised_qt, validate_params

GROUPS = {"rhythm", "intervals", "morphology", "noise"}


def test_every_parameter_describes_itself():
    for name, spec in PARAMS.items():
        assert set(spec) == {"default", "lo", "hi", "choices", "unit", "group", "help"}, name
        assert spec["group"] in GROUPS and spec["help"], name
        if spec["choices"] is None:
            assert spec["lo"] <= spec["default"] <= spec["hi"], name
        else:
            assert spec["default"] in spec["choices"] and spec["lo"] is None, name
    # what the issue asks to be tunable
    for name in ("hr", "hrv", "pr", "qrs", "qt", "qt_correction", "p_amp", "r_amp", "t_amp", "axis",
                 "st_inferior", "t_anterior", "q_lateral", "qw_lateral", "baseline_mv", "powerline_mv",
                 "powerline_hz", "emg_mv"):
        assert name in PARAMS
    assert PARAMS["qt_correction"]["choices"] == ("none", "bazett", "fridericia", "framingham")


def test_defaults_validate_and_broadcast():
    full = validate_params({"hr": [60.0, 80.0, 100.0]})
    assert set(full) == set(PARAMS)
    assert all(v.shape == (3,) for v in full.values())
    np.testing.assert_array_equal(full["pr"], [160.0] * 3)
    assert list(full["qt_correction"]) == ["none"] * 3


@pytest.mark.parametrize("name, value, message", [
    ("hr", 250.0, r"'hr'=250 bpm is out of range \[30, 200\] bpm"),
    ("pr", 50.0, r"'pr'=50 ms is out of range \[80, 400\] ms"),
    ("axis", -120.0, r"'axis'=-120 deg is out of range \[-90, 180\] deg"),
    ("emg_mv", -0.1, r"'emg_mv'=-0.1 mV is out of range"),
    ("qrs", np.nan, r"'qrs' must be a finite number"),
    ("qt_correction", "hodges", r"'qt_correction'='hodges' is not one of"),
    ("bundle_branch", "both", r"'bundle_branch'='both' is not one of"),
    ("hr", "fast", r"'hr'='fast' must be a number in bpm"),
    ("warp", 1.0, r"unknown synthesis parameter\(s\) \['warp'\]"),
])
def test_bad_values_name_the_parameter_and_range(name, value, message):
    with pytest.raises(ValueError, match=message):
        validate_params({name: value})


def test_array_values_are_checked_per_record_and_by_shape():
    with pytest.raises(ValueError, match=r"'qrs'=250 ms is out of range"):
        validate_params({"qrs": [90.0, 250.0]})
    with pytest.raises(ValueError, match=r"'pr' has shape \(2,\); give a scalar or an array of shape \(3,\)"):
        validate_params({"pr": [150.0, 160.0]}, n=3)


def test_qt_shorter_than_the_qrs_allows_is_refused():
    with pytest.raises(ValueError, match="QT of 300 ms, shorter than qrs"):
        validate_params({"qrs": 200.0, "qt": 300.0})
    # as a QTc at a fast rate the QT shrinks: Bazett at 150 bpm gives 300 * sqrt(0.4) = 190 ms
    with pytest.raises(ValueError, match="QT of 190 ms"):
        validate_params({"hr": 150.0, "qt": 300.0, "qt_correction": "bazett"})


def test_rate_corrections_and_their_inverse():
    rr = np.array([0.5, 1.0, 1.5])
    np.testing.assert_allclose(realised_qt(np.full(3, 400.0), "bazett", rr), 400 * np.sqrt(rr))
    np.testing.assert_allclose(realised_qt(np.full(3, 400.0), "fridericia", rr), 400 * np.cbrt(rr))
    np.testing.assert_allclose(realised_qt(np.full(3, 400.0), "framingham", rr), 400 - 154 * (1 - rr))
    np.testing.assert_allclose(realised_qt(np.full(3, 400.0), "none", rr), 400)
    for correction in ("none", "bazett", "fridericia", "framingham"):
        qt = np.array([350.0, 400.0, 450.0])
        np.testing.assert_allclose(realised_qt(corrected_qt(qt, correction, rr), correction, rr), qt)
