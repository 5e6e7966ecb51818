"""Rhythms in the parametric engine (ecgcore.synth.rhythms): sinus records unchanged, each rhythm's defining
property on small batches, beat annotations that agree with the signal, labels honest about their beats."""

import json

import numpy as np
import pytest

from ecgcore.leads import LEADS
from ecgcore.synth import synthesize
from ecgcore.synth.params import RHYTHMS, validate_params
from tests.synth import sinus_reference

FS = 500
II, V1 = LEADS.index("II"), LEADS.index("V1")


def batch(rhythm, n=6, seed=0, **params):
    return synthesize({"rhythm": rhythm, "qt_correction": "bazett", **params}, n=n, fs=FS, noise=False, seed=seed)


def test_sinus_records_are_those_of_the_engine_before_rhythms():
    reference = json.loads(sinus_reference.FILE.read_text())
    same_numerics = sinus_reference.numerics() == reference["numerics"]
    for name, (params, kwargs) in sinus_reference.cases().items():
        got, want = sinus_reference.record(synthesize(params, **kwargs)), reference["cases"][name]
        for key in ("fiducials", "label_hr", "label_pr", "label_qrs"):
            assert got[key] == want[key], (name, key)
        if same_numerics:  # this CPU computes sin, power and einsum as the reference's did: byte for byte
            assert got["signals"] == want["signals"] and got["label_qt"] == want["label_qt"], name
        np.testing.assert_allclose(got["probe"], want["probe"], rtol=0, atol=1e-6, err_msg=name)


def test_sinus_is_the_default_and_sinus_records_carry_annotations():
    a, b = synthesize(n=3, fs=250, seed=4), synthesize({"rhythm": "sinus"}, n=3, fs=250, seed=4)
    assert a.signals.tobytes() == b.signals.tobytes()
    for i in range(3):
        marks = a.annotations(i)
        onsets = np.round(a.fiducials[i, :, 2][np.isfinite(a.fiducials[i, :, 2])] * 250).astype(int)
        assert [s for s, _ in marks["beats"]] == onsets.tolist()
        assert {t for _, t in marks["beats"]} == {"N"}
        assert a.label_beats[i] == "N"
        # every P onset in the record is an atrial activation, each 'pr' before its QRS
        p_on = np.round(a.fiducials[i, :, 0] * 250)
        assert set(p_on[np.isfinite(p_on) & (p_on >= 0)].astype(int)) == set(marks["atrial"])


@pytest.mark.parametrize("rhythm", [r for r in RHYTHMS if r != "sinus"])
def test_every_rhythm_is_reproducible_finite_and_annotated(rhythm):
    a, b = batch(rhythm, n=3, seed=5), batch(rhythm, n=3, seed=5)
    assert a.signals.tobytes() == b.signals.tobytes()
    assert not np.array_equal(a.signals, batch(rhythm, n=3, seed=6).signals)
    assert np.all(np.isfinite(a.signals)) and a.signals.shape == (3, 12, 10 * FS)
    for i in range(3):
        beats = a.annotations(i)["beats"]
        samples = [s for s, _ in beats]
        assert samples == sorted(samples) and all(0 <= s < 10 * FS for s in samples)
        # at each annotated QRS onset the ventricles are active: the signal moves within the QRS
        for s, _ in beats[:-1]:
            assert np.ptp(a.signals[i, :, s:s + int(0.08 * FS)]) > 0.2


def test_pr_is_nan_where_no_p_wave_conducts_the_beats():
    for rhythm in ("afib", "aflutter", "vt", "junctional", "avb3"):
        assert np.isnan(batch(rhythm, n=2).labels["pr"]).all(), rhythm
    assert np.isnan(batch("paced", n=2, pacing="ventricular").labels["pr"]).all()
    np.testing.assert_allclose(batch("paced", n=2, pacing="atrial").labels["pr"], 160.0, atol=2.0)
    np.testing.assert_allclose(batch("avb2_mobitz2", n=2).labels["pr"], 160.0, atol=2.0)


def test_atrial_fibrillation_has_no_p_waves_and_irregular_rr():
    b = batch("afib", n=8)
    for i in range(8):
        assert b.annotations(i)["atrial"] == []
        assert np.isnan(b.fiducials[i, :, 0]).all()  # no P onset before any beat
        rr = np.diff([s for s, _ in b.annotations(i)["beats"]]) / FS
        assert rr.min() >= 0.33 - 1 / FS
    cv = np.mean([np.std(d) / np.mean(d) for d in
                  (np.diff([s for s, _ in b.annotations(i)["beats"]]) for i in range(8))])
    assert cv > 0.15
    sinus = synthesize(n=8, fs=FS, noise=False)
    assert np.mean([np.std(d) / np.mean(d) for d in
                    (np.diff([s for s, _ in sinus.annotations(i)["beats"]]) for i in range(8))]) < 0.06


def test_flutter_waves_at_their_rate_and_conduction_ratio():
    b = batch("aflutter", n=3, flutter_rate=300.0, conduction="3:1", f_amp=0.2)
    for i in range(3):
        atrial = np.array(b.annotations(i)["atrial"])
        assert 295 <= 60 * FS / np.diff(atrial).mean() <= 305
        beats = np.array([s for s, _ in b.annotations(i)["beats"]])
        np.testing.assert_allclose(np.diff(beats), 3 * FS * 60 / 300, atol=2)
    # negative in the inferior leads, upright in V1 (typical flutter): the baseline between beats is a sawtooth
    quiet = b.signals[0, :, :int(0.1 * FS)]
    assert np.ptp(quiet[II]) > 0.1


def test_mobitz_one_pr_grows_then_a_p_wave_is_blocked():
    b = batch("avb2_mobitz1", n=3, hrv=0.0, av_ratio="4:3", pr_step=60.0)
    for i in range(3):
        f = b.fiducials[i]
        f = f[np.isfinite(f[:, 0])]
        pr = np.round((f[:, 2] - f[:, 0]) * 1000)
        steps = np.diff(pr)
        # within a group the PR lengthens by 60 then 30 ms; after the blocked P it starts again at 160
        assert set(np.round(steps / 10) * 10) <= {60.0, 30.0, -90.0}
        assert (steps < 0).any() and pr.min() == pytest.approx(160, abs=2)
        atrial, beats = b.annotations(i)["atrial"], b.annotations(i)["beats"]
        assert len(atrial) > len(beats) - 1  # blocked P waves: more P waves than conducted beats


def test_mobitz_two_keeps_the_pr_and_drops_beats():
    b = batch("avb2_mobitz2", n=3, hrv=0.0, av_ratio="3:2")
    for i in range(3):
        f = b.fiducials[i][np.isfinite(b.fiducials[i, :, 0])]
        np.testing.assert_allclose((f[:, 2] - f[:, 0]) * 1000, 160.0, atol=2.0)
        rr = np.diff([s for s, _ in b.annotations(i)["beats"]]) / FS
        assert rr.max() > 1.8 * rr.min()  # the pause where a P is blocked


def test_third_degree_block_p_and_qrs_rates_are_independent():
    b = batch("avb3", n=4, hr=80.0, escape="ventricular", escape_rate=35.0)
    for i in range(4):
        atrial = np.array(b.annotations(i)["atrial"]) / FS
        beats = np.array([s for s, _ in b.annotations(i)["beats"]]) / FS
        assert {t for _, t in b.annotations(i)["beats"]} == {"E"}
        assert 60 / np.diff(atrial).mean() >= 1.3 * 60 / np.diff(beats).mean()
        # unrelated: the P-to-next-QRS intervals vary (a conducted rhythm keeps them constant)
        after = [beats[beats > a][0] - a for a in atrial if (beats > a).any()]
        assert np.ptp(after) > 0.2
    assert b.labels["qrs"][0] == 150.0 and np.isnan(b.labels["pr"]).all()
    with pytest.raises(ValueError, match="at least 1.3"):
        validate_params({"rhythm": "avb3", "hr": 50.0, "escape_rate": 45.0})


def test_pvc_has_no_p_a_wide_complex_and_a_compensatory_pause():
    b = batch("pvc", n=3, hrv=0.0, pvc_pattern="bigeminy", coupling=0.6)
    for i in range(3):
        beats = b.annotations(i)["beats"]
        kinds = "".join(t for _, t in beats)
        assert "VV" not in kinds and "NN" not in kinds.strip("N")[:-1] and "V" in kinds
        samples = np.array([s for s, _ in beats])
        for k in range(1, len(beats) - 1):
            if beats[k][1] == "V":
                # the R-R around the premature beat is two sinus R-R intervals
                assert (samples[k + 1] - samples[k - 1]) / FS == pytest.approx(2 * 60 / 70, abs=0.01)
                assert np.isnan(b.fiducials[i, k, 0])  # no P before it
                assert b.fiducials[i, k, 3] - b.fiducials[i, k, 2] == pytest.approx(0.150)


def test_pac_pause_is_not_compensatory():
    b = batch("pac", n=10, hrv=0.0, ectopic_rate=40.0, coupling=0.6)
    found = 0
    for i in range(10):
        beats = b.annotations(i)["beats"]
        samples = np.array([s for s, _ in beats])
        for k in range(1, len(beats) - 1):
            if beats[k][1] == "A":
                found += 1
                assert np.isfinite(b.fiducials[i, k, 0])  # a P wave of its own
                assert (samples[k + 1] - samples[k - 1]) / FS < 2 * 60 / 70 - 0.1
    assert found > 3


def test_ventricular_tachycardia_rate_and_wide_beats():
    b = batch("vt", n=3, vt_rate=180.0)
    for i in range(3):
        beats = b.annotations(i)["beats"]
        assert {t for _, t in beats} == {"V"}
        assert 60 * FS / np.diff([s for s, _ in beats]).mean() == pytest.approx(180, abs=3)
    np.testing.assert_allclose(b.labels["hr"], 180, atol=3)


def test_paced_beats_follow_a_spike():
    b = batch("paced", n=2, hr=60.0, pacing="dual")
    for i in range(2):
        for s, t in b.annotations(i)["beats"]:
            assert t == "/" and b.signals[i, II, s] > 1.0  # the ventricular spike at the paced QRS onset
        assert len(b.annotations(i)["atrial"]) >= len(b.annotations(i)["beats"]) - 1


def test_a_mixed_batch_draws_each_rhythm():
    b = synthesize({"rhythm": np.array(RHYTHMS)}, n=len(RHYTHMS), fs=100, seed=3)
    assert list(b.params["rhythm"]) == list(RHYTHMS)
    kinds = {r: "".join(t for _, t in b.annotations(i)["beats"]) for i, r in enumerate(RHYTHMS)}
    assert set(kinds["vt"]) == {"V"} and set(kinds["paced"]) == {"/"} and set(kinds["junctional"]) == {"j"}
    assert set(kinds["sinus"]) == {"N"}
