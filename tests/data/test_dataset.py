"""ecgcore.data.dataset: the folder format (memory-mapped signals) and the older .npz, written whole or not at all."""

import json

import numpy as np
import pytest

from ecgcore.data.dataset import META_FILE, SIGNALS_FILE, DataSet, Writer
from ecgcore.leads import LEADS


def labelled_set(n=7, length=50):
    rng = np.random.default_rng(0)
    return DataSet(rng.standard_normal((n, 12, length)).astype(np.float32), 100.0, LEADS,
                   targets={"hr": rng.uniform(50, 90, n), "qt": np.where(np.arange(n) % 3, 400.0, np.nan)},
                   label=np.arange(n) % 5, multilabel=np.eye(5, dtype=np.uint8)[np.arange(n) % 5],
                   fold=1 + np.arange(n) % 10, record_id=np.array([f"r{i}" for i in range(n)]),
                   config={"source": "synthetic", "n": n, "report": {"kept": n}})


def assert_same(a, b):
    np.testing.assert_array_equal(a.signals, b.signals)
    assert a.fs == b.fs and a.lead_names == b.lead_names and a.class_names == b.class_names
    assert a.config == b.config and list(a.targets) == list(b.targets)
    for name in a.targets:
        np.testing.assert_array_equal(a.targets[name], b.targets[name])
    for name in ("label", "multilabel", "fold", "record_id"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))


@pytest.mark.parametrize("name", ["set", "set.npz"])
def test_round_trip_gives_the_same_arrays_and_config(tmp_path, name):
    ds = labelled_set()
    loaded = DataSet.load(ds.save(tmp_path / name))
    assert_same(ds, loaded)
    assert isinstance(loaded.signals, np.memmap) == (name == "set")  # a folder's signals are memory-mapped


def test_a_loaded_folder_saved_elsewhere_is_a_copy_and_so_is_a_subset(tmp_path):
    loaded = DataSet.load(labelled_set().save(tmp_path / "a"))
    assert_same(loaded, DataSet.load(loaded.save(tmp_path / "b")))
    assert (tmp_path / "b" / SIGNALS_FILE).stat().st_ino != (tmp_path / "a" / SIGNALS_FILE).stat().st_ino
    part = loaded.subset([1, 3])
    assert_same(part, DataSet.load(part.save(tmp_path / "c")))
    assert (tmp_path / "c" / SIGNALS_FILE).stat().st_ino != (tmp_path / "a" / SIGNALS_FILE).stat().st_ino


def test_save_replaces_an_existing_folder_only_when_the_new_one_is_complete(tmp_path, monkeypatch):
    path = labelled_set(5).save(tmp_path / "set")
    monkeypatch.setattr(DataSet, "_write_records", lambda *a: (_ for _ in ()).throw(OSError("disk full")))
    with pytest.raises(OSError, match="disk full"):
        labelled_set(9).save(path)
    monkeypatch.undo()
    assert len(DataSet.load(path)) == 5  # the old set is intact
    assert sorted(p.name for p in tmp_path.iterdir()) == ["set"]  # and no temporary is left behind


def test_a_folder_without_its_metadata_is_not_a_data_set(tmp_path):
    path = labelled_set().save(tmp_path / "set")
    (path / META_FILE).unlink()
    with pytest.raises(ValueError, match="not a finished ecgcore data set"):
        DataSet.load(path)
    with pytest.raises(FileNotFoundError):
        DataSet.load(tmp_path / "nowhere.npz")


def test_writer_fills_the_folder_a_block_at_a_time_and_keeps_only_the_records_kept(tmp_path):
    ds = labelled_set(10)
    writer = Writer(tmp_path / "w", n=12, channels=12, length=50)  # room for 12, two get dropped
    for start in range(0, 10, 4):
        writer.write(start, ds.signals[start:start + 4])
    writer.finish(10, fs=ds.fs, lead_names=ds.lead_names, targets=ds.targets, label=ds.label,
                  multilabel=ds.multilabel, fold=ds.fold, record_id=ds.record_id, config=ds.config)
    loaded = DataSet.load(tmp_path / "w")
    assert_same(ds, loaded)
    assert np.load(tmp_path / "w" / SIGNALS_FILE).shape == (10, 12, 50)  # a plain .npy, shortened in place
    assert json.loads((tmp_path / "w" / META_FILE).read_text())["n"] == 10


def test_writer_resumes_into_the_signals_an_interrupted_build_left(tmp_path):
    first = Writer(tmp_path / "w", n=4, channels=1, length=3)
    first.write(0, np.ones((2, 1, 3)))
    first.flush()
    del first
    again = Writer(tmp_path / "w", n=4, channels=1, length=3, resume=True)
    np.testing.assert_array_equal(again.signals[:2], 1.0)
    with pytest.raises(ValueError, match="not the build this one resumes"):
        Writer(tmp_path / "w", n=5, channels=1, length=3, resume=True)
