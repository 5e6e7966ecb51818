import numpy as np
import pytest

from ecgcore.data.dataset import DataSet
from ecgcore.data.splits import split, subsample
from ecgcore.leads import LEADS


def dataset(n, fold=None, config=None):
    return DataSet(np.zeros((n, 12, 10), np.float32), 100, LEADS, fold=fold, config=config or {})


def test_random_split_is_a_seeded_partition():
    parts = split(dataset(200), 0.15, 0.15, seed=3)
    together = np.concatenate([parts.train, parts.val, parts.test])
    assert sorted(together) == list(range(200))
    assert len(parts.test) == 30 and len(parts.val) == 30
    again = split(dataset(200), 0.15, 0.15, seed=3)
    assert np.array_equal(parts.test, again.test)
    assert not np.array_equal(parts.test, split(dataset(200), 0.15, 0.15, seed=4).test)


def test_stratified_split_puts_every_class_in_every_part():
    strata = np.repeat(np.arange(5), 20)
    parts = split(dataset(100), 0.15, 0.15, seed=0, strata=strata)
    for index in (parts.train, parts.val, parts.test):
        assert set(strata[index]) == set(range(5))


def test_folds_are_split_by_fold_not_by_record():
    fold = np.arange(100) % 10 + 1
    parts = split(dataset(100, fold, {"val_fold": 3, "test_fold": 4}))
    assert set(fold[parts.val]) == {3} and set(fold[parts.test]) == {4}
    assert not {3, 4} & set(fold[parts.train])
    default = split(dataset(100, fold))
    assert set(fold[default.val]) == {9} and set(fold[default.test]) == {10}


def test_missing_folds_are_reported_and_an_empty_training_set_is_an_error():
    parts = split(dataset(20, np.full(20, 2)))
    assert "the val split is empty" in parts.notes and "the test split is empty" in parts.notes
    with pytest.raises(ValueError, match="training split is empty"):
        split(dataset(20, np.where(np.arange(20) < 10, 9, 10)))


def test_subsample_is_stratified_and_checks_fraction():
    index = np.arange(100, 200)
    strata = np.repeat([0, 1], [80, 20])
    kept, notes = subsample(index, 0.25, seed=0, strata=strata)
    assert len(kept) == 25 and set(kept) <= set(index)
    assert np.sum(strata[kept - 100] == 1) == 5  # the 80/20 mix survives
    assert np.array_equal(subsample(index, 1.0)[0], index)
    for bad in (0, 1.5, -0.1):
        with pytest.raises(ValueError, match="fraction"):
            subsample(index, bad)
