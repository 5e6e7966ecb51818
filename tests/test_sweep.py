"""ecgcore.sweep: the grid of cells, confidence bands and paired gains from seeds, resuming a killed sweep."""

import numpy as np
import pandas as pd
import pytest

from ecgcore import jobs, runs, sweep
from ecgcore.config import JobConfig

T_975_DF2 = 4.302652729911275  # scipy.stats.t.ppf(0.975, 2), written out so the test checks the formula


def hand_table():
    """3 seeds x 2 fractions x 2 arms; transfer = scratch + (0.1, 0.2, 0.3) at 0.1, + 0.0x at 1.0."""
    rows = []
    scratch = {0.1: [0.5, 0.6, 0.7], 1.0: [0.80, 0.82, 0.84]}
    transfer = {0.1: [0.6, 0.8, 1.0], 1.0: [0.81, 0.82, 0.86]}
    for arm, values in (("scratch", scratch), ("freeze_first_block:pre", transfer)):
        for fraction, per_seed in values.items():
            for seed, v in enumerate(per_seed):
                rows.append({"fraction": fraction, "arm": arm, "seed": seed, "macro_auroc": v, "mae_qrs": 10 - v})
    return pd.DataFrame(rows)


def test_bands_are_mean_and_t_interval_over_seeds():
    b = sweep.bands(hand_table(), "macro_auroc").set_index(["arm", "fraction"])
    row = b.loc[("scratch", 0.1)]
    half = T_975_DF2 * 0.1 / np.sqrt(3)  # sample sd of (0.5, 0.6, 0.7) is 0.1
    assert row["n"] == 3
    assert row["mean"] == pytest.approx(0.6)
    assert (row["lo"], row["hi"]) == pytest.approx((0.6 - half, 0.6 + half))
    assert len(b) == 4


def test_gains_are_paired_by_seed():
    g = sweep.gains(hand_table(), "macro_auroc", "freeze_first_block:pre").set_index("fraction")
    # paired differences at 0.1: (0.1, 0.2, 0.3) -> mean 0.2, sd 0.1; unpaired would give a far wider interval
    half = T_975_DF2 * 0.1 / np.sqrt(3)
    assert g.loc[0.1, "gain"] == pytest.approx(0.2)
    assert (g.loc[0.1, "lo"], g.loc[0.1, "hi"]) == pytest.approx((0.2 - half, 0.2 + half))
    assert g.loc[1.0, "gain"] == pytest.approx(0.01)


def test_summary_reaches_scratch_at_full_labels():
    table = hand_table()
    (s,) = sweep.summarize(table, "macro_auroc")
    assert s["reference_mean"] == pytest.approx(0.82)
    assert s["reaches_at"] == pytest.approx(1.0)  # its mean at 10% is 0.80 < 0.82; at 100% 0.83
    table.loc[(table.arm != "scratch") & (table.fraction == 0.1), "macro_auroc"] += 0.05
    (s,) = sweep.summarize(table, "macro_auroc")
    assert s["reaches_at"] == pytest.approx(0.1)
    assert "reaches scratch@100% (macro_auroc 0.820) with 10% of the labels" in s["text"]


def test_summary_not_reached_and_lower_is_better():
    table = hand_table()
    table.loc[table.arm != "scratch", "macro_auroc"] -= 0.5
    (s,) = sweep.summarize(table, "macro_auroc")
    assert s["reaches_at"] is None and "does not reach" in s["text"]
    # an error metric: lower is better; transfer's MAE at 10% (9.20) is above scratch@100%'s (9.18)
    (s,) = sweep.summarize(hand_table(), "mae_qrs")
    assert s["reaches_at"] == pytest.approx(1.0)


def test_unknown_metric_is_a_clear_error():
    with pytest.raises(ValueError, match="metric 'nope'"):
        sweep.bands(hand_table(), "nope")
