"""The rhythm strip's ladder diagram: each beat's path read from its annotations."""

import numpy as np

from ecgcore.rhythm_strip import ladder, rhythm_strip
from ecgcore.synth import synthesize

FS = 250


def record(rhythm, **params):
    made = synthesize({"rhythm": rhythm, "hrv": 0.0, **params}, n=1, fs=FS, noise=False, seed=1)
    marks = made.annotations(0)
    return marks["beats"], made.fiducials[0, :len(marks["beats"]), 0], marks["atrial"]


def test_second_degree_block_conducts_each_beat_and_blocks_the_rest():
    beats, p_on, atrial = record("avb2_mobitz2", av_ratio="3:2")
    lines = ladder(beats, p_on, atrial, FS)
    conducted = np.isfinite(p_on).sum()
    assert len(lines["conducted"]) == 3 * len(beats)  # atrium, AV node, ventricle per beat
    assert len(lines["blocked"]) == 2 * (len(atrial) - conducted) > 0  # every P without a beat stops in the node
    assert not lines["ectopic"]


def test_ventricular_tachycardia_starts_in_the_ventricles_and_dissociated_p_waves_stop():
    beats, p_on, atrial = record("vt")
    lines = ladder(beats, p_on, atrial, FS)
    assert len(lines["ectopic"]) == len(beats) and not lines["conducted"]
    assert len(lines["blocked"]) == 2 * len(atrial)
    for (t0, y0), (t1, y1) in lines["ectopic"]:
        assert y0 == 0.0 and y1 == 1.0  # from the ventricular row up to the node


def test_junctional_beats_start_in_the_node_and_their_retrograde_p_goes_up():
    beats, p_on, atrial = record("junctional", junctional_p="retrograde")
    lines = ladder(beats, p_on, atrial, FS)
    up = [s for s in lines["ectopic"] if s[1][1] == 3.0]
    assert len(up) >= len(atrial) - 1 and not lines["blocked"]


def test_flutter_links_each_beat_to_the_f_wave_before_it():
    beats, p_on, atrial = record("aflutter", conduction="2:1")
    lines = ladder(beats, p_on, atrial, FS)
    assert len(lines["conducted"]) == 3 * len(beats)
    assert len(lines["blocked"]) // 2 >= len(beats) - 2  # 2:1: about one blocked F wave per beat


def test_the_quiz_strip_has_no_marks():
    beats, p_on, atrial = record("afib")
    assert [t.name for t in rhythm_strip(np.zeros(10 * FS), FS, [], [], []).data] == ["II"]
    names = {t.name for t in rhythm_strip(np.zeros(10 * FS), FS, beats, p_on, atrial, fibrillation=True).data}
    assert {"beats", "conducted", "fibrillation"} <= names
