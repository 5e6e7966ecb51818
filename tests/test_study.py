"""ecgcore.study: the per-target study's grid from four regressors, and its gains table (CSV, Markdown)."""

import pandas as pd
import pytest

from ecgcore import runs, study, sweep
from ecgcore.labels import TARGETS
from run_fixtures import tiny_config, tiny_dataset_npz


@pytest.fixture
def regressors(tmp_path):
    """Four single-target pretraining runs (queued: the grid needs their configs, not their weights)."""
    npz = tiny_dataset_npz(tmp_path / "tiny.npz", n=40)
    runs_dir = tmp_path / "runs"
    made = {t: runs.create_run(tiny_config(npz, targets=[t], epochs=1), runs_dir, name=t) for t in list(TARGETS)[::-1]}
    return npz, runs_dir, made


def test_the_per_target_study_builds_the_right_grid(regressors):
    npz, runs_dir, made = regressors
    arms = study.per_target_arms([str(r.path) for r in made.values()])  # given QT first: the study orders them
    names = [a.name for a in arms]
    assert [a.strategy for a in arms] == ["scratch", *["freeze_first_block"] * 4, "combined",
                                          "freeze_first_block", "combined", "linear_probe"]
    assert [a.pretrained for a in arms[1:5]] == [[str(made[t].path)] for t in TARGETS]
    assert arms[5].pretrained == [str(made[t].path) for t in TARGETS]
    assert names[6:] == ["random init, first block frozen", "random init, combined x4", "random init, linear probe"]
    assert (arms[7].init, arms[7].backbones, arms[7].pretrained) == ("random", 4, [])
    config = sweep.SweepConfig(base=tiny_config(npz, task="finetune", epochs=1), arms=arms, fractions=[0.5, 1.0],
                               seeds=[0, 1, 2])
    s = sweep.create_sweep(config, runs_dir, submit=False)
    assert len(s.cells()) == 2 * 9 * 3
    rows = study.rows_of(s.config)
    assert [(r["target"], r["control"]) for r in rows] == [
        *[(t, "random init, first block frozen") for t in TARGETS], ("combined", "random init, combined x4")]
    assert {r["source"] for r in rows} == {"npz"}


def test_a_study_needs_one_single_target_regressor_per_target(regressors, tmp_path):
    npz, runs_dir, made = regressors
    multi = runs.create_run(tiny_config(npz, targets=["hr", "qt"]), runs_dir)
    with pytest.raises(ValueError, match="not a single-target pretraining"):
        study.per_target_arms([str(made["hr"].path), str(multi.path)])
    twin = runs.create_run(tiny_config(npz, targets=["hr"]), runs_dir)
    with pytest.raises(ValueError, match="both regress hr"):
        study.per_target_arms([str(made["hr"].path), str(twin.path)])


def hand_table():
    """2 fractions x 2 seeds: qrs transfer = scratch + 0.10 / + 0.06; the control = scratch + 0.04 everywhere."""
    rows = []
    for fraction, scratch in ((0.1, [0.60, 0.70]), (1.0, [0.80, 0.90])):
        for seed, base in enumerate(scratch):
            gain = 0.10 if fraction == 0.1 else 0.06
            for arm, value in (("scratch", base), ("qrs", base + gain + 0.01 * seed), ("control", base + 0.04)):
                rows.append({"fraction": fraction, "seed": seed, "arm": arm, "macro_auroc": value})
    return pd.DataFrame(rows)


def test_the_gains_table_pairs_by_seed_against_scratch_and_control():
    rows = [{"arm": "qrs", "source": "synthetic", "target": "qrs", "control": "control"}]
    long = study.gains_long(hand_table(), "macro_auroc", rows)
    got = long.set_index(["versus", "fraction"])
    assert got.loc[("scratch", 0.1), "gain"] == pytest.approx(0.105)
    assert got.loc[("control", 0.1), "gain"] == pytest.approx(0.065)
    assert got.loc[("control", 1.0), "gain"] == pytest.approx(0.025)
    assert got.loc[("scratch", study.POOLED), "gain"] == pytest.approx((0.105 + 0.065) / 2)
    assert got.loc[("scratch", 0.1), "lo"] < 0.105 < got.loc[("scratch", 0.1), "hi"]
    wide = study.gains_wide(long)
    assert list(wide.columns) == ["source", "target", "10%", "100%", "pooled"]
    assert wide.loc[0, "10%"].startswith("+0.105 [") and " · vs control +0.065 [" in wide.loc[0, "10%"]
    md = study.to_markdown(wide)
    assert "| synthetic | qrs" in md and "over the matching random-init control" in md
    assert md.startswith("Gain in Macro AUROC over scratch")  # the metric in words
    csv = long.to_csv(index=False)
    assert pd.read_csv(pd.io.common.StringIO(csv)).shape == long.shape
    # an arm with no control gets the scratch comparison only; an arm with no finished cell no row
    long = study.gains_long(hand_table(), "macro_auroc", [{**rows[0], "control": None},
                                                           {**rows[0], "arm": "absent"}])
    assert set(long.versus) == {"scratch"} and set(long.arm) == {"qrs"}
