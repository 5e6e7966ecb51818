"""Seeded train/validation/test splits and the stratified `fraction` subsample of the training set.

A data set with folds (PTB-XL's strat_fold) is split by fold, never by random records: records of one
patient share a fold, so a random split would leak patients between training and test.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from sklearn.model_selection import train_test_split

DEFAULT_VAL_FOLD, DEFAULT_TEST_FOLD = 9, 10  # PTB-XL's recommended folds
AUTO_NOTE = "chosen automatically"


@dataclass
class Split:
    """Record indices of each part, and notes on anything worth telling (empty parts, no stratification)."""

    train: np.ndarray
    val: np.ndarray
    test: np.ndarray
    notes: list = field(default_factory=list)


def resolve_folds(available, val_fold=None, test_fold=None):
    """(val_fold, test_fold, note): the validation and test folds, None meaning "auto".

    auto follows PTB-XL's recommendation as far as the `available` folds allow: validation 9 and test 10 when
    fold 10 is present, else validation 8 and test 9 (a subset without fold 10). A given fold is kept as is,
    present or not (its split is then empty). note says how the folds were chosen ('' when both were given),
    for reports. ValueError when a fold is not an int or None, or both resolve to the same fold.
    """
    for name, fold in (("val_fold", val_fold), ("test_fold", test_fold)):
        if fold is not None and (not isinstance(fold, (int, np.integer)) or isinstance(fold, bool)):
            raise ValueError(f"{name}={fold!r} is invalid: must be a fold number (an int) or None (auto)")
    has_ten = DEFAULT_TEST_FOLD in {int(f) for f in available}
    # without fold 10, the pair moves down one fold: test on 9, validate on 8
    auto_val, auto_test = (DEFAULT_VAL_FOLD, DEFAULT_TEST_FOLD) if has_ten else (DEFAULT_VAL_FOLD - 1, DEFAULT_VAL_FOLD)
    val = auto_val if val_fold is None else int(val_fold)
    test = auto_test if test_fold is None else int(test_fold)
    if val == test:
        raise ValueError(f"val_fold={val_fold!r} and test_fold={test_fold!r} both mean fold {val}: they must differ "
                         "(None: auto)")
    note = ""
    if val_fold is None or test_fold is None:
        note = AUTO_NOTE + ("" if has_ten else f": fold {DEFAULT_TEST_FOLD} absent")
    return val, test, note


def split(dataset, val_size=0.15, test_size=0.15, seed=0, strata=None):
    """Split `dataset` by fold when it has folds, else at random (seeded, stratified by `strata` if given).

    `strata`: one class code per record (None: no stratification). Fold numbers come from
    dataset.config["val_fold"] / ["test_fold"] (absent or None: auto, see `resolve_folds`).
    """
    index = np.arange(len(dataset))
    notes = []
    if dataset.fold is not None:
        fold = np.asarray(dataset.fold)
        val_fold, test_fold, _ = resolve_folds(np.unique(fold), dataset.config.get("val_fold"),
                                               dataset.config.get("test_fold"))
        parts = Split(index[(fold != val_fold) & (fold != test_fold)], index[fold == val_fold],
                      index[fold == test_fold], notes)
        notes.append(f"split by fold: validation fold {val_fold}, test fold {test_fold}")
    else:
        rest, test = _seeded_split(index, round(test_size * len(index)), seed, strata, notes)
        rest_strata = None if strata is None else np.asarray(strata)[rest]
        train, val = _seeded_split(rest, round(val_size * len(index)), seed, rest_strata, notes)
        parts = Split(train, val, test, notes)
    for name in ("val", "test"):
        if len(getattr(parts, name)) == 0:
            notes.append(f"the {name} split is empty")
    if len(parts.train) == 0:
        raise ValueError(f"the training split is empty ({len(dataset)} records in the data set): "
                         "give more records or, for folded data, folds other than the val/test folds")
    return parts


def subsample(index, fraction, seed=0, strata=None):
    """The stratified `fraction` of `index` (the labelled training set); returns (index, notes)."""
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction={fraction!r} is invalid: must be in (0, 1]")
    if fraction == 1:
        return np.asarray(index), []
    notes = []
    n_keep = max(1, round(fraction * len(index)))
    if n_keep == len(index):
        return np.asarray(index), notes
    _, kept = _seeded_split(np.asarray(index), n_keep, seed, strata, notes)
    notes.append(f"fraction {fraction}: {len(kept)} of {len(index)} training records")
    return np.sort(kept), notes


def _seeded_split(index, size, seed, strata, notes):
    """(rest, taken): `size` records of `index` taken at random, stratified when possible."""
    size = min(size, len(index) - 1)
    if size < 1:
        return index, index[:0]
    if strata is not None:
        try:
            rest, taken = train_test_split(index, test_size=size, random_state=seed, stratify=strata)
            return np.sort(rest), np.sort(taken)
        except ValueError as e:  # a class too small to be spread over both parts
            notes.append(f"stratification impossible ({e}); split at random instead")
    rest, taken = train_test_split(index, test_size=size, random_state=seed)
    return np.sort(rest), np.sort(taken)
