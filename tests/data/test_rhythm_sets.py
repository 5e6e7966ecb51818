"""Data sets of rhythms: the spec option, the label, the beat annotations on disk, the rhythm targets, the stream."""

import numpy as np
import pytest

from ecgcore.cli import main
from ecgcore.data.dataset import DataSet
from ecgcore.data.sources import load_dataset, parse
from ecgcore.data.synthetic import make_dataset
from ecgcore.labels import RHYTHM_TARGETS, TARGETS
from ecgcore.synth.params import RHYTHMS

ANNOTATIONS = ("rhythm", "beat_samples", "beat_types", "atrial_samples")


def test_a_rhythm_set_is_balanced_labelled_by_rhythm_and_annotated():
    ds = make_dataset(n=24, fs=100, seed=2, rhythms="all", noise=False)
    assert ds.class_names == RHYTHMS and ds.rhythm_names == RHYTHMS
    np.testing.assert_array_equal(np.bincount(ds.label, minlength=12), [2] * 12)
    np.testing.assert_array_equal(ds.label, ds.rhythm)
    assert ds.config["rhythms"] == list(RHYTHMS)
    assert set(ds.targets) == {*TARGETS, *RHYTHM_TARGETS}
    afib, vt = RHYTHMS.index("afib"), RHYTHMS.index("vt")
    assert np.isnan(ds.targets["atrial_rate"][ds.label == afib]).all()  # no atrial activations in fibrillation
    assert (ds.targets["beats_ventricular"][ds.label == vt] > 10).all()
    assert (ds.targets["beats_normal"][ds.label == vt] == 0).all()
    assert np.isnan(ds.targets["pr"][ds.label == afib]).all()
    # each record's annotations: beat onsets inside the record, symbols where there are onsets
    assert ((ds.beat_samples >= 0) == (ds.beat_types != "")).all()
    assert ds.beat_samples.max() < 1000 and ds.atrial_samples.max() < 1000


def test_a_sinus_set_is_what_it_was():
    ds = make_dataset(n=6, fs=100, seed=5)
    assert "rhythms" not in ds.config and ds.rhythm is None and ds.beat_samples is None
    assert set(ds.targets) == set(TARGETS)


def test_classes_and_rhythms_combine():
    ds = make_dataset(n=10, fs=100, seed=3, classes="MI", rhythms="afib,pvc")
    assert ds.class_names == ("afib", "pvc") and sorted(np.bincount(ds.label)) == [5, 5]
    assert ds.config["classes"] == ["MI"]


@pytest.mark.parametrize("suffix", ["", ".npz"])
def test_annotations_survive_saving(tmp_path, suffix):
    ds = make_dataset(n=12, fs=100, seed=4, rhythms="afib,aflutter,pvc")
    back = DataSet.load(ds.save(tmp_path / f"set{suffix}"))
    assert back.rhythm_names == ("afib", "aflutter", "pvc")
    for name in ANNOTATIONS:
        np.testing.assert_array_equal(getattr(back, name), getattr(ds, name))
    part = back.subset([1, 3])
    np.testing.assert_array_equal(part.beat_types, ds.beat_types[[1, 3]])


def test_the_spec_option_is_checked_and_names_the_rhythms():
    options = parse({"source": "synthetic", "n": 12, "rhythms": "all"})
    assert options.rhythms == list(RHYTHMS) and options.labels() == {"single"}
    assert set(options.targets()) == {*TARGETS, *RHYTHM_TARGETS}
    assert set(parse({"source": "synthetic"}).targets()) == set(TARGETS)
    with pytest.raises(ValueError, match="data.rhythms=.*must be distinct names"):
        parse({"source": "synthetic", "rhythms": "afib,torsade"})
    with pytest.raises(ValueError, match="data.rhythms: engine 'ecgsyn'"):
        parse({"source": "synthetic", "engine": "ecgsyn", "rhythms": "afib"})
    ds = load_dataset({"source": "synthetic", "n": 12, "fs": 100, "seed": 1, "rhythms": ["vt", "paced"]})
    assert ds.class_names == ("vt", "paced")


def test_the_stream_draws_rhythms_with_their_labels():
    from ecgcore.data.stream import SyntheticStream

    stream = SyntheticStream(parse({"source": "synthetic", "stream": True, "n": 24, "fs": 100,
                                    "rhythms": "afib,vt", "n_val": 4, "n_test": 4}))
    batch = stream.records(0, 0, 8)
    assert batch.class_names == ("afib", "vt") and sorted(np.bincount(batch.label)) == [4, 4]
    assert "rr_cv" in batch.targets and batch.beat_samples.shape[0] == 8


def test_cli_writes_the_rhythm_npz(tmp_path, capsys):
    out = tmp_path / "rhythms.npz"
    assert main(["synth", "--n", "12", "--fs", "100", "--rhythms", "all", "--out", str(out)]) == 0
    assert "rhythms: sinus 1, sinus_arrhythmia 1" in capsys.readouterr().out
    with np.load(out, allow_pickle=False) as z:
        assert {"rhythm", "rhythm_names", "beat_samples", "beat_types", "atrial_samples"} <= set(z)
        assert z["rhythm"].shape == (12,) and z["rhythm"].dtype.kind == "i"
        assert list(z["rhythm_names"]) == list(RHYTHMS)
        assert z["beat_samples"].dtype.kind == "i" and z["beat_types"].dtype.kind == "U"
        assert (z["beat_samples"][z["beat_types"] == ""] == -1).all()
    assert main(["synth", "--n", "3", "--rhythms", "afib,nope", "--out", str(tmp_path / "x.npz")]) == 2
    assert "rhythms=['afib', 'nope'] must be distinct names from ['sinus'" in capsys.readouterr().err
    assert not (tmp_path / "x.npz").exists()


def test_rhythm_targets_on_a_sinus_spec_are_refused_with_the_way_to_get_them():
    from ecgcore.data.admission import admit

    with pytest.raises(ValueError, match='not given by the synthetic source.*spec option "rhythms"'):
        admit({"task": "pretrain", "data": {"source": "synthetic", "n": 100}, "targets": ["hr", "rr_cv"]})
    admit({"task": "pretrain", "data": {"source": "synthetic", "n": 100, "rhythms": "all"}, "targets": ["rr_cv"]})
