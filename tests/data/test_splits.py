import numpy as np
import pytest

from ecgcore.data.dataset import DataSet
from ecgcore.data.splits import resolve_folds, split, subsample
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


@pytest.mark.parametrize("available, val, test, expected", [
    (range(1, 11), None, None, (9, 10, "chosen automatically")),
    ([1, 2, 8, 9], None, None, (8, 9, "chosen automatically: fold 10 absent")),
    ([1, 2, 8, 9], 3, 4, (3, 4, "")),  # given folds stay, present or not
    ([1, 2, 8, 9], None, 2, (8, 2, "chosen automatically: fold 10 absent")),
    (np.array([5, 10]), np.int64(5), None, (5, 10, "chosen automatically")),
])
def test_resolve_folds_auto_and_given(available, val, test, expected):
    assert resolve_folds(available, val, test) == expected


def test_resolve_folds_refuses_clashes_and_non_folds():
    with pytest.raises(ValueError, match="val_fold=None and test_fold=8 both mean fold 8"):
        resolve_folds([1, 8, 9], None, 8)
    with pytest.raises(ValueError, match="test_fold=9.0 is invalid"):
        resolve_folds([1, 8, 9], 8, 9.0)
    with pytest.raises(ValueError, match="val_fold=True is invalid"):
        resolve_folds([1, 8, 9], True, None)


def test_split_without_chosen_folds_uses_auto():
    fold = np.arange(90) % 9 + 1  # folds 1-9: no fold 10
    parts = split(dataset(90, fold))
    assert set(fold[parts.val]) == {8} and set(fold[parts.test]) == {9}


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
