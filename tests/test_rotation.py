"""ecgcore.rotation: the rotations of the test fold, and gains pooled over folds x seeds with a cluster bootstrap."""

import numpy as np
import pandas as pd
import pytest

from ecgcore import rotation, sweep


def test_each_fold_is_tested_once_with_the_fold_before_it_validating():
    assert rotation.rotations(range(1, 11))[-1] == (9, 10)  # the benchmark's split is one of them
    assert rotation.rotations(range(1, 10))[-1] == (8, 9)  # the mini folder's auto choice too
    pairs = rotation.rotations([3, 1, 2])
    assert pairs == [(3, 1), (1, 2), (2, 3)] and sorted(t for _, t in pairs) == [1, 2, 3]
    with pytest.raises(ValueError, match="at least 3 folds"):
        rotation.rotations([1, 2])


def test_a_cluster_draw_takes_whole_folds_then_seeds_within_them():
    clusters = np.repeat([1, 2, 3], 4)
    rng = np.random.default_rng(0)
    for _ in range(50):
        rows = rotation.cluster_draw(clusters, rng)
        assert len(rows) == 12
        drawn = clusters[rows]
        assert all((drawn == c).sum() % 4 == 0 for c in (1, 2, 3))  # a fold comes with all its seeds' slots


def study_table(effects, seeds=4, fractions=(0.1, 0.5), noise=0.002, seed=0):
    """A sweep table over folds: scratch, `transfer` = scratch + effects[fold], `control` below scratch."""
    rng = np.random.default_rng(seed)
    rows = []
    for fold, effect in effects.items():
        for fraction in fractions:
            for s in range(seeds):
                base = 0.7 + 0.1 * fraction + rng.normal(0, 0.01)
                for arm, value in (("scratch", base), ("transfer", base + effect + rng.normal(0, noise)),
                                   ("control", base - 0.01)):
                    rows.append({"fold": fold, "fraction": fraction, "seed": s, "arm": arm, "macro_auroc": value,
                                 "val_macro_auroc": value + rng.normal(0, 0.001)})
    return pd.DataFrame(rows)


def test_the_pooled_gain_is_the_mean_over_folds_and_its_interval_respects_them():
    steady = rotation.gains(study_table({f: 0.02 for f in range(1, 10)}), "macro_auroc", "transfer")
    pooled = steady.set_index("fraction").loc[rotation.POOLED]
    assert pooled.gain == pytest.approx(0.02, abs=0.002) and pooled.n_folds == 9 and pooled.n == 36
    assert pooled.lo < 0.02 < pooled.hi and pooled.lo > 0
    # the same mean from folds that disagree: the interval widens (the folds are the clusters)
    moving = rotation.gains(study_table({f: 0.02 + (0.03 if f % 2 else -0.03) for f in range(1, 10)}),
                            "macro_auroc", "transfer").set_index("fraction").loc[rotation.POOLED]
    assert moving.hi - moving.lo > 3 * (pooled.hi - pooled.lo)
    per_fold = rotation.per_fold(study_table({1: 0.05, 2: -0.01, 3: 0.0}), "macro_auroc", "transfer")
    got = per_fold.groupby("fold").gain.mean()
    assert got[1] == pytest.approx(0.05, abs=0.003) and got[2] == pytest.approx(-0.01, abs=0.003)


def test_the_strongest_baseline_is_chosen_per_rotation_on_validation():
    table = study_table({1: 0.02, 2: 0.02, 3: 0.02})
    lift = (table.fold == 2) & (table.arm == "control")
    table.loc[lift, ["macro_auroc", "val_macro_auroc"]] += 0.05  # fold 2's control beats scratch there
    best = rotation.best_baselines(table, "macro_auroc", ["scratch", "control"])
    assert {k: v for k, v in best.items() if k[0] == 2} == {(2, 0.1): "control", (2, 0.5): "control"}
    assert best[(1, 0.1)] == "scratch"
    vs_best = rotation.gains(table, "macro_auroc", "transfer", best).set_index("fraction").loc[rotation.POOLED]
    vs_scratch = rotation.gains(table, "macro_auroc", "transfer").set_index("fraction").loc[rotation.POOLED]
    assert vs_best.gain < vs_scratch.gain  # the verdict rests on the stronger baseline
    assert rotation.verdict(vs_scratch.lo, vs_scratch.hi) == 1 and rotation.verdict(-0.2, -0.1) == -1
    assert rotation.verdict(-0.1, 0.1) == 0 and rotation.verdict(None, None) == 0


def test_label_efficiency_over_folds():
    table = study_table({f: 0.04 for f in range(1, 5)}, fractions=(0.1, 0.25, 0.5))
    eff = sweep.label_efficiency(table, "macro_auroc", "transfer")  # a "fold" column: folds x seeds
    assert eff["reached"] and eff["n_folds"] == 4 and eff["multiplier"] > 1
    assert eff["multiplier_lo"] is None or eff["multiplier_lo"] <= eff["multiplier"] <= eff["multiplier_hi"]
    never = sweep.label_efficiency(table, "macro_auroc", "control")
    assert not never["reached"] and never["multiplier"] is None
