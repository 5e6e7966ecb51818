"""ecgcore.data.batches: the two training paths (tensors in memory, a DataLoader streaming from disk) agree."""

import numpy as np
import pytest

from ecgcore.config import Preprocess
from ecgcore.data import batches
from ecgcore.data.dataset import DataSet
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
    monkeypatch.setenv(batches.BUDGET_ENV, "1G")
    memory = fit(cfg, **QUIET)
    train._data_cache.clear()  # else the set preprocessed for the first run is reused
    monkeypatch.setenv(batches.BUDGET_ENV, "0")  # nothing fits: stream every batch through a DataLoader worker
    monkeypatch.setenv(batches.WORKERS_ENV, "1")
    streamed = fit(cfg, **QUIET)
    assert any("streamed from disk" in n for n in streamed.summary["notes"])
    assert not any("streamed from disk" in n for n in memory.summary["notes"])
    assert [h["train_loss"] for h in streamed.history] == [h["train_loss"] for h in memory.history]
    assert [h["val_loss"] for h in streamed.history] == [h["val_loss"] for h in memory.history]
    assert streamed.summary["test"] == memory.summary["test"]
    for name, values in memory.predictions.items():
        np.testing.assert_array_equal(streamed.predictions[name], values)


def test_the_budget_reads_units_and_defaults_to_a_quarter_of_memory(monkeypatch):
    monkeypatch.setenv(batches.BUDGET_ENV, "1.5G")
    assert batches.memory_budget() == int(1.5 * 2**30)
    monkeypatch.setenv(batches.BUDGET_ENV, "512mb")
    assert batches.memory_budget() == 512 * 2**20
    monkeypatch.setenv(batches.BUDGET_ENV, "lots")
    with pytest.raises(ValueError, match="ECGCORE_MEMORY_BUDGET='lots' is invalid"):
        batches.memory_budget()
    monkeypatch.delenv(batches.BUDGET_ENV)
    assert 2**28 < batches.memory_budget() < 2**40


def test_the_preprocessed_size_is_known_before_preprocessing():
    ds = DataSet(np.zeros((10, 12, 1000), np.float32), 500.0, sine_set(1).lead_names)
    assert batches.preprocessed_bytes(ds, Preprocess()) == 10 * 12 * 1000 * 4
    assert batches.preprocessed_bytes(ds, Preprocess(leads="paper8", fs=100)) == 10 * 8 * 200 * 4
    assert batches.preprocessed_bytes(ds, Preprocess(fs=333)) == 10 * 12 * 666 * 4  # ceil(1000 * 333 / 500)
