"""ecgcore.synth.presets: balanced classes, and each simulated class shows its defining feature."""

import numpy as np
import pytest

from ecgcore.labels import CLASS_NAMES
from ecgcore.leads import LEADS
from ecgcore.synth import NORMAL_RANGES, PRESETS, sample_params, synthesize

TERRITORY = {"inferior": ("II", "III", "aVF"), "anterior": ("V1", "V2", "V3", "V4"),
             "lateral": ("I", "aVL", "V5", "V6")}
UPRIGHT_T = [LEADS.index(name) for name in ("I", "II", "V3", "V4", "V5", "V6")]
FS = 250


@pytest.fixture(scope="module")
def batch():
    params, label = sample_params(150, classes="all", seed=3)
    return params, label, synthesize(params, n=150, fs=FS, noise=False, seed=3)


def _at(signals, times):
    """(n, 12) values at one time per record."""
    idx = np.round(times * FS).astype(int)
    return np.take_along_axis(signals, np.broadcast_to(idx[:, None, None], (len(idx), 12, 1)), axis=2)[..., 0]


def test_presets_cover_the_class_names():
    assert tuple(PRESETS) == CLASS_NAMES
    assert set(NORMAL_RANGES) <= set(sample_params(1)[0])


def test_classes_are_balanced_and_indexed_by_class_names():
    params, label = sample_params(103, classes="all", seed=0)
    counts = np.bincount(label, minlength=5)
    assert counts.sum() == 103 and counts.max() - counts.min() <= 1
    _, label = sample_params(40, classes="MI,CD", seed=0)
    assert set(label) == {CLASS_NAMES.index("MI"), CLASS_NAMES.index("CD")}
    assert np.bincount(label)[CLASS_NAMES.index("MI")] == 20
    assert sample_params(5)[1] is None


def test_sampling_is_seeded_and_labels_vary_without_classes():
    a, _ = sample_params(50, seed=4)
    b, _ = sample_params(50, seed=4)
    assert all(np.array_equal(a[k], b[k]) for k in a)
    for target in ("hr", "pr", "qrs", "qt"):
        assert a[target].std() > 0
    lo, hi = NORMAL_RANGES["pr"]
    assert np.all((a["pr"] >= lo) & (a["pr"] <= hi))


def test_ranges_override_the_normal_ranges():
    params, _ = sample_params(30, seed=0, ranges={"hr": (100, 120), "qrs": 80.0, "powerline_hz": ["60"]})
    assert params["hr"].min() >= 100 and params["hr"].max() <= 120
    assert np.all(params["qrs"] == 80.0) and set(params["powerline_hz"]) == {"60"}


@pytest.mark.parametrize("kwargs, message", [
    ({"classes": "NORM,AFIB"}, r"classes=\['NORM', 'AFIB'\] must be distinct names"),
    ({"classes": []}, "must be distinct names"),
    ({"ranges": {"speed": (1, 2)}}, r"ranges names unknown parameter\(s\) \['speed'\]"),
    ({"ranges": {"hr": (120, 100)}}, r"range for 'hr' must be \(lo, hi\) with lo <= hi"),
    ({"ranges": {"hr": (100, 300)}}, r"'hr'=[\d.]+ bpm is out of range \[30, 200\] bpm"),
])
def test_bad_classes_and_ranges_raise(kwargs, message):
    with pytest.raises(ValueError, match=message):
        sample_params(10, **kwargs)


def test_norm_is_normal(batch):
    params, label, s = batch
    norm = label == CLASS_NAMES.index("NORM")
    assert np.all((s.labels["pr"][norm] >= 120) & (s.labels["pr"][norm] <= 200))
    assert np.all(s.labels["qrs"][norm] < 120)
    assert np.all(s.labels["qt"][norm] / np.sqrt(60 / s.labels["hr"][norm]) < 460)


def test_cd_has_a_long_pr_or_a_wide_qrs(batch):
    _, label, s = batch
    cd = label == CLASS_NAMES.index("CD")
    assert np.all((s.labels["pr"][cd] > 200) | (s.labels["qrs"][cd] >= 120))
    others = ~cd & (label != CLASS_NAMES.index("NORM"))
    assert not np.any((s.labels["pr"][others] > 200) | (s.labels["qrs"][others] >= 120))


def test_hyp_meets_sokolow_lyon_and_norm_does_not(batch):
    _, label, s = batch
    sokolow = -s.signals[:, LEADS.index("V1")].min(1) + s.signals[:, LEADS.index("V5")].max(1)
    hyp = label == CLASS_NAMES.index("HYP")
    assert np.all(sokolow[hyp] >= 3.5), sokolow[hyp].min()
    # (left bundle branch block may meet it too, as in real ECGs, where voltage criteria then do not apply)
    norm = label == CLASS_NAMES.index("NORM")
    assert np.all(sokolow[norm] < 3.5), sokolow[norm].max()


def test_sttc_has_st_depression_t_inversion_or_a_long_qt(batch):
    _, label, s = batch
    beat = s.fiducials[:, 1]
    st = _at(s.signals, beat[:, 3] + 0.04).min(1)  # ST level 40 ms after the J point
    t_peak = _at(s.signals, beat[:, 4] - 0.1)  # the T peak lies 100 ms before its end
    inverted = (t_peak[:, UPRIGHT_T] <= -0.1).sum(1) >= 2
    qtc = s.labels["qt"] / np.sqrt(60 / s.labels["hr"])
    feature = (st <= -0.08) | inverted | (qtc >= 470)
    assert np.all(feature[label == CLASS_NAMES.index("STTC")])
    assert not np.any(feature[label == CLASS_NAMES.index("NORM")])


def test_mi_has_pathological_q_waves_in_its_territory(batch):
    params, label, s = batch
    beat = s.fiducials[:, 1]
    steps = np.arange(1, int(0.08 * FS))
    start = np.stack([_at(s.signals, beat[:, 2] + k / FS) for k in steps], axis=-1)  # first 80 ms of the QRS
    negative = start < 0
    q_width_ms = np.where(negative.all(-1), len(steps), np.argmin(negative, axis=-1)) * 1000 / FS
    q_depth = -np.minimum(start.min(-1), 0)
    for i in np.flatnonzero(label == CLASS_NAMES.index("MI")):
        territory = max(TERRITORY, key=lambda g: params[f"q_{g}"][i])
        leads = [LEADS.index(name) for name in TERRITORY[territory]]
        assert np.any((q_width_ms[i, leads] >= 30) & (q_depth[i, leads] >= 0.1)), (territory, q_width_ms[i, leads])


def test_the_hard_family_is_subtler_and_overlaps_the_normal_ranges():
    from ecgcore.synth.presets import HARD_PRESETS, HARD_RANGES

    params, label = sample_params(500, classes="all", seed=0, difficulty="hard")  # every draw is in range
    assert tuple(HARD_PRESETS) == CLASS_NAMES and np.bincount(label).tolist() == [100] * 5
    cd = HARD_PRESETS["CD"]
    assert cd["first_degree_av_block"]["pr"][0] < HARD_RANGES["pr"][1]  # a borderline PR is either class
    assert cd["right_bundle_branch_block"]["qrs"][0] < HARD_RANGES["qrs"][1]
    assert HARD_PRESETS["MI"]["inferior"]["q_inferior"][0] < PRESETS["MI"]["inferior"]["q_inferior"][0]
    assert HARD_RANGES["emg_mv"][1] > NORMAL_RANGES["emg_mv"][1]  # noisier recordings
    easy, _ = sample_params(500, classes="all", seed=0)
    assert not np.array_equal(easy["q_inferior"], params["q_inferior"])
    with pytest.raises(ValueError, match="difficulty='nope'"):
        sample_params(3, difficulty="nope")
