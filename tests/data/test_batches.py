"""ecgcore.data.batches: the two training paths (tensors in memory, a DataLoader streaming from disk) agree."""

import shutil

import numpy as np
import pytest

from ecgcore.config import Preprocess
from ecgcore.data import admission, batches
from ecgcore.data.dataset import DataSet
from ecgcore.leads import LEAD_SETS
from ecgcore import train
from ecgcore.train import fit
from test_train import QUIET, config, sine_set


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """A folded, partly unlabelled set saved as a folder: fit opens it memory-mapped."""
    fold = 1 + np.arange(60) % 10
    ds = sine_set(60, fold=fold)
    ds.label[::7] = -1  # records without a single label are dropped on both paths
    return {"source": "npz", "path": str(ds.save(tmp_path_factory.mktemp("set") / "sine"))}


@pytest.mark.parametrize("task", ["pretrain", "finetune"])
def test_streaming_from_disk_gives_the_same_numbers_as_tensors_in_memory(saved, task, monkeypatch):
    cfg = config(task=task, data=saved, epochs=2, seed=3, preprocess=Preprocess(leads="paper8", fs=50))
    monkeypatch.setenv(admission.BUDGET_ENV, "1G")
    memory = fit(cfg, **QUIET)
    train._data_cache.clear()  # else the set preprocessed for the first run is reused
    monkeypatch.setenv(admission.BUDGET_ENV, "0")  # nothing fits: stream every batch through a DataLoader worker
    monkeypatch.setenv(batches.WORKERS_ENV, "1")
    streamed = fit(cfg, **QUIET)
    assert any("streamed from disk" in n for n in streamed.summary["notes"])
    assert not any("streamed from disk" in n for n in memory.summary["notes"])
    assert [h["train_loss"] for h in streamed.history] == [h["train_loss"] for h in memory.history]
    assert [h["val_loss"] for h in streamed.history] == [h["val_loss"] for h in memory.history]
    assert streamed.summary["test"] == memory.summary["test"]
    for name, values in memory.predictions.items():
        np.testing.assert_array_equal(streamed.predictions[name], values)


def test_the_preprocessed_size_is_known_before_preprocessing():
    ds = DataSet(np.zeros((10, 12, 1000), np.float32), 500.0, sine_set(1).lead_names)
    assert batches.preprocessed_bytes(ds, Preprocess()) == 10 * 12 * 1000 * 4
    assert batches.preprocessed_bytes(ds, Preprocess(leads="paper8", fs=100)) == 10 * 8 * 200 * 4
    assert batches.preprocessed_bytes(ds, Preprocess(fs=333)) == 10 * 12 * 666 * 4  # ceil(1000 * 333 / 500)


@pytest.fixture
def streaming(monkeypatch):
    """Nothing fits the memory budget, batches are read in the training process, no preprocessed entry yet."""
    from ecgcore.data import cache

    monkeypatch.setenv(admission.BUDGET_ENV, "0")
    monkeypatch.setenv(batches.WORKERS_ENV, "0")
    for entry in cache.cache_dir().glob("preprocessed-*"):
        shutil.rmtree(entry)


def test_a_set_streamed_from_disk_is_preprocessed_once_into_the_cache(saved, monkeypatch, streaming):
    from ecgcore.data import cache, preprocess as prep

    cfg = config(task="pretrain", data=saved, epochs=1, seed=3, preprocess=Preprocess(leads="paper8", fs=50))
    built = []
    real = prep.preprocess
    monkeypatch.setattr(prep, "preprocess", lambda *a: built.append(len(a[0])) or real(*a))
    first = fit(cfg, **QUIET)
    assert sum(built) == 60  # every record of the file once, in the builder
    (entry,) = cache.cache_dir().glob("preprocessed-*")
    ready = DataSet.load(entry)
    raw = DataSet.load(saved["path"])
    np.testing.assert_array_equal(ready.signals, real(raw.signals, raw.fs, raw.lead_names, cfg.preprocess)[0])
    assert ready.lead_names == tuple(LEAD_SETS["paper8"]) and ready.fs == 50.0
    train._data_cache.clear()
    again = fit(cfg, **QUIET)
    assert sum(built) == 60  # the second run reads the entry: nothing preprocessed again, per batch or whole
    assert again.summary["test"] == first.summary["test"]


def test_when_the_preprocessed_set_cannot_be_kept_each_batch_is_preprocessed_with_the_same_numbers(saved, monkeypatch,
                                                                                               streaming):
    from ecgcore.data import cache, preprocess as prep

    cfg = config(task="finetune", data=saved, epochs=1, seed=4, preprocess=Preprocess(leads="paper8", fs=50))
    kept = fit(cfg, **QUIET)

    def full(*a):
        raise OSError(28, "No space left on device")

    for entry in cache.cache_dir().glob("preprocessed-*"):
        shutil.rmtree(entry)
    monkeypatch.setattr(prep.Writer, "write", lambda self, start, block: full())
    train._data_cache.clear()
    per_batch = fit(cfg, **QUIET)
    assert any("could not be kept on disk" in n and "No space left" in n for n in per_batch.summary["notes"])
    assert not list(cache.cache_dir().glob("preprocessed-*"))  # no half-written entry left behind
    assert per_batch.summary["test"] == kept.summary["test"]
