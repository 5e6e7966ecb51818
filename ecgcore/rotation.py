"""Evidence over every test fold: a study repeated with each fold as its test fold, its gains pooled.

A rotation holds one fold out for testing and the fold before it (cyclically, in the folder's fold order) for
validation, and trains on the rest: on PTB-XL's folds 1-10 the last rotation is the benchmark's (validation 9,
test 10); on a folder without fold 10 (ptbxl-mini) the last is the lab's auto choice (8, 9). Every choice
(early stopping, a source's target variant, the strongest baseline) is made on that rotation's validation fold.
The label multiplier over folds is sweep.label_efficiency's, given a table with a "fold" column.

Pooling: the cells of one rotation share its test fold and its pretraining (a source pretrained on real
records is pretrained per rotation), so they are not independent. The interval is a two-stage cluster bootstrap:
draw the folds with replacement, then within each drawn fold its seeds with replacement, and take the mean of
the paired differences (arm minus baseline, same fold, fraction and seed); the 2.5 and 97.5 percentiles of
that mean over the draws. With one fold it is the bootstrap over seeds.

The table these functions take is a sweep table (one row per cell: fraction, arm, seed, the metric and its
val_ twin) with a "fold" column: the cell's test fold.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ecgcore.config import SCRATCH
from ecgcore.metrics import lower_is_better

POOLED = "pooled"
LEVEL, RESAMPLES = 0.95, 2000


def rotations(folds):
    """[(validation fold, test fold)] of every rotation over `folds` (sorted): each fold tested once, the fold
    before it validating."""
    folds = sorted(int(f) for f in folds)
    if len(folds) < 3:
        raise ValueError(f"rotating the test fold needs at least 3 folds (train, validation, test), got {folds}")
    return [(folds[i - 1], fold) for i, fold in enumerate(folds)]


def chosen(choice, folds):
    """The rotations a study asks for: "rotate" (every fold tested once) or a comma list of test folds, each
    validated on the fold before it; ValueError naming a fold the folder does not have."""
    every = rotations(folds)
    if choice == "rotate":
        return every
    by_test = {t: (v, t) for v, t in every}
    try:
        wanted = [int(f) for f in str(choice).split(",") if f.strip()]
    except ValueError:
        raise ValueError(f"folds {choice!r}: give 'rotate' or a comma list of test folds") from None
    missing = [f for f in wanted if f not in by_test]
    if missing:
        raise ValueError(f"fold(s) {missing} not in the folder (folds {sorted(by_test)})")
    return [by_test[f] for f in wanted]


def cluster_draw(clusters, rng):
    """Row positions of one two-stage bootstrap draw: the clusters (folds) with replacement, then each drawn
    cluster's rows (seeds) with replacement. One cluster: a plain bootstrap of its rows."""
    clusters = np.asarray(clusters)
    unique = np.unique(clusters)
    if len(unique) == 1:
        return rng.choice(len(clusters), size=len(clusters), replace=True)
    rows = []
    for cluster in rng.choice(unique, size=len(unique), replace=True):
        members = np.flatnonzero(clusters == cluster)
        rows.append(rng.choice(members, size=len(members), replace=True))
    return np.concatenate(rows)


def _interval(diffs, seed=0):
    """{"n_folds", "n", "gain", "lo", "hi"} of paired differences indexed by (fold, seed)."""
    values = diffs.to_numpy(float)
    folds = diffs.index.get_level_values("fold").to_numpy()
    out = {"n_folds": int(len(np.unique(folds))), "n": int(len(values)), "gain": float(values.mean()) if len(values)
           else np.nan, "lo": np.nan, "hi": np.nan}
    if len(values) > 1:
        rng = np.random.default_rng(seed)
        draws = [values[cluster_draw(folds, rng)].mean() for _ in range(RESAMPLES)]
        out["lo"], out["hi"] = (float(q) for q in np.quantile(draws, [(1 - LEVEL) / 2, (1 + LEVEL) / 2]))
    return out


def best_baselines(table, metric, baselines):
    """{(fold, fraction): the baseline with the best mean validation `metric` in that rotation at that fraction}:
    the strongest of scratch and the controls, chosen on the rotation's validation fold."""
    select = f"val_{metric}"
    found = table[table.arm.isin(baselines)]
    means = found.groupby(["fold", "fraction", "arm"])[select].mean().unstack("arm")
    pick = means.idxmin(axis=1) if lower_is_better(metric) else means.idxmax(axis=1)
    return pick.dropna().to_dict()


def _paired(table, metric, arm, reference):
    """`arm` minus `reference` (an arm, or {(fold, fraction): arm}) per (fold, fraction, seed)."""
    wide = table.pivot_table(index=["fold", "fraction", "seed"], columns="arm", values=metric, aggfunc="first")
    if arm not in wide:
        raise ValueError(f"arm {arm!r} has no {metric!r} values in the table")
    if isinstance(reference, dict):
        keys = zip(wide.index.get_level_values("fold"), wide.index.get_level_values("fraction"))
        base = pd.Series([wide.at[i, reference[k]] if k in reference else np.nan for i, k in zip(wide.index, keys)],
                         index=wide.index)
    else:
        if reference not in wide:
            raise ValueError(f"arm {reference!r} has no {metric!r} values in the table")
        base = wide[reference]
    return (wide[arm] - base).dropna()


def gains(table, metric, arm, reference=SCRATCH):
    """The gain of `arm` over `reference` (an arm, or {(fold, fraction): arm}) per fraction and pooled over the
    fractions (each fold and seed's gains averaged over its fractions), over every fold and seed, with the
    cluster-bootstrap interval: rows fraction (POOLED last), n_folds, n, gain, lo, hi."""
    diffs = _paired(table, metric, arm, reference)
    rows = [{"fraction": fraction, **_interval(values.droplevel("fraction"))}
            for fraction, values in diffs.groupby(level="fraction")]
    pooled = diffs.groupby(level=["fold", "seed"]).mean()
    rows.append({"fraction": POOLED, **_interval(pooled)})
    return pd.DataFrame(rows, columns=["fraction", "n_folds", "n", "gain", "lo", "hi"])


def per_fold(table, metric, arm, reference=SCRATCH):
    """The mean gain of `arm` over `reference` per (fold, fraction), paired by seed: rows fold, fraction, gain."""
    diffs = _paired(table, metric, arm, reference)
    return diffs.groupby(level=["fold", "fraction"]).mean().rename("gain").reset_index()


def verdict(lo, hi):
    """+1 when the interval of a gain lies above 0, -1 below, 0 across (or unknown)."""
    if lo is not None and np.isfinite(lo) and lo > 0:
        return 1
    if hi is not None and np.isfinite(hi) and hi < 0:
        return -1
    return 0
