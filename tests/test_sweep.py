"""ecgcore.sweep: the grid of cells, confidence bands and paired gains from seeds, resuming a killed sweep."""

import json

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
    assert "reaches scratch@100% (Macro AUROC 0.820) with 10% of the labels" in s["text"]


def test_summary_not_reached_and_lower_is_better():
    table = hand_table()
    table.loc[table.arm != "scratch", "macro_auroc"] -= 0.5
    (s,) = sweep.summarize(table, "macro_auroc")
    assert s["reaches_at"] is None and "does not reach" in s["text"]
    # an error metric: lower is better; transfer's MAE at 10% (9.20) is above scratch@100%'s (9.18)
    (s,) = sweep.summarize(hand_table(), "mae_qrs")
    assert s["reaches_at"] == pytest.approx(1.0)


def test_pooled_gain_averages_each_seed_over_fractions_then_intervals_over_seeds():
    p = sweep.pooled_gain(hand_table(), "macro_auroc", "freeze_first_block:pre")
    # seed gains at 0.1 (0.1, 0.2, 0.3) and at 1.0 (0.01, 0.0, 0.02): per-seed means 0.055, 0.1, 0.16
    per_seed = np.array([0.055, 0.1, 0.16])
    half = T_975_DF2 * per_seed.std(ddof=1) / np.sqrt(3)
    assert p["n"] == 3 and p["gain"] == pytest.approx(per_seed.mean())
    assert (p["lo"], p["hi"]) == pytest.approx((per_seed.mean() - half, per_seed.mean() + half))


def test_summary_reports_the_gain_over_the_matching_control():
    table = hand_table()
    control = table[table.arm == "scratch"].assign(arm="random init, first block frozen")
    control["macro_auroc"] += 0.15  # the control beats scratch by 0.15 everywhere: freezing alone helps
    table = pd.concat([table, control])
    lines = {s["arm"]: s for s in sweep.summarize(table, "macro_auroc",
                                                  controls={"freeze_first_block:pre": control.arm.iloc[0]})}
    s = lines["freeze_first_block:pre"]
    g = s["gains_vs_control"].set_index("fraction")
    assert g.loc[0.1, "gain"] == pytest.approx(0.2 - 0.15) and g.loc[1.0, "gain"] == pytest.approx(0.01 - 0.15)
    assert "over its control (random init, first block frozen) 10%: +0.050 [" in s["text"]
    assert "pooled over fractions" in s["text"]
    assert lines["random init, first block frozen"]["gains_vs_control"] is None  # a control has no control
    # people's names go into the text only; the arms and their controls keep their names
    (named,) = [s for s in sweep.summarize(table, "macro_auroc", titles={"freeze_first_block:pre": "transfer"},
                                           controls={"freeze_first_block:pre": control.arm.iloc[0]})
                if s["arm"] == "freeze_first_block:pre"]
    assert named["text"].startswith("transfer: ") and named["control"] == control.arm.iloc[0]
    assert named["gains_vs_control"].equals(s["gains_vs_control"])


def test_unknown_metric_is_a_clear_error():
    with pytest.raises(ValueError, match="metric 'nope'"):
        sweep.bands(hand_table(), "nope")


# ---- sweeps of real runs ------------------------------------------------------------------------------------

FRACTIONS, SEEDS = [0.5, 1.0], [0, 1]


@pytest.fixture
def no_queue(monkeypatch):
    """Cells stay queued (no job process starts); the test runs the ones it wants in-process."""
    monkeypatch.setattr(jobs, "start_queued", lambda runs_dir=None: [])


@pytest.fixture
def tiny(tmp_path):
    from run_fixtures import tiny_config, tiny_dataset_npz

    npz = tiny_dataset_npz(tmp_path / "tiny.npz", n=40)
    runs_dir = tmp_path / "runs"
    pre = runs.create_run(tiny_config(npz, targets=["hr"], epochs=1), runs_dir)
    base = tiny_config(npz, task="finetune", epochs=1)
    config = sweep.SweepConfig(base=base, fractions=FRACTIONS, seeds=SEEDS, name="tiny", arms=[
        sweep.Arm(), sweep.Arm("freeze_first_block", [str(pre.path)])])
    return config, runs_dir, pre


def test_cells_are_the_right_runs(no_queue, tiny):
    config, runs_dir, pre = tiny
    s = sweep.create_sweep(config, runs_dir)
    cells = s.cells()
    transfer = f"freeze_first_block:{pre.id}"
    assert {(c["fraction"], c["arm"], c["seed"]) for c in cells} == {
        (f, a, seed) for f in FRACTIONS for a in ("scratch", transfer) for seed in SEEDS}
    assert len(cells) == 8 and len({c["run_id"] for c in cells}) == 8
    for cell in cells:
        run = runs.get_run(runs_dir, cell["run_id"])
        c = run.config
        assert (c.fraction, c.seed, c.task, c.epochs) == (cell["fraction"], cell["seed"], "finetune", 1)
        if cell["arm"] == "scratch":
            assert c.strategy == "scratch" and c.pretrained == []
        else:
            assert c.strategy == "freeze_first_block" and c.pretrained == [str(pre.path.resolve())]
        # named in words: the study, the arm, the share of labels, the seed (not run ids)
        assert c.name.startswith(sweep.sweep_title(s.config, s.id) + " · ")
        assert c.name.endswith(f" · {cell['fraction']:.0%} of labels · seed {cell['seed']}")
        assert pre.id not in c.name and (runs.title(pre) in c.name) == (cell["arm"] != "scratch")
        assert run.state == "queued"
    # the runs are ordinary runs, listed with the others; the sweep folder is not mistaken for one
    assert {r.id for r in runs.list_runs(runs_dir)} == {pre.id, *(c["run_id"] for c in cells)}
    assert [x.id for x in sweep.list_sweeps(runs_dir)] == [s.id]
    assert sweep.get_sweep(s.id, runs_dir).config.to_dict() == config.to_dict()


def test_a_cell_run_is_found_by_the_cell_map_not_by_its_name(no_queue, tiny):
    config, runs_dir, _ = tiny
    first, second = sweep.create_sweep(config, runs_dir), sweep.create_sweep(config, runs_dir)
    cell = first.cells()[0]
    run = first.run_of(cell)
    assert run.id == cell["run_id"] and run not in {second.run_of(c) for c in second.cells()}
    # renaming a run (its label) changes nothing: the sweep still finds, cancels and tabulates it
    record = json.loads((run.path / "config.json").read_text())
    (run.path / "config.json").write_text(json.dumps({**record, "name": "sweep someone-else scratch"}))
    assert first.run_of(cell) == run and first.cells()[0]["state"] == "queued"
    first.cancel()
    assert run.state == "cancelled" and {c["state"] for c in second.cells()} == {"queued"}
    assert first.table().run_id.tolist() == [c["run_id"] for c in first.cells()]
    import shutil
    shutil.rmtree(run.path)
    assert first.run_of(cell) is None and first.cells()[0]["state"] == "missing"


def test_bad_sweep_configs_are_clear_errors(tiny):
    config, runs_dir, _ = tiny
    for change, match in ((dict(fractions=[0.0, 1.0]), "fractions="), (dict(seeds=[]), "seeds is empty"),
                          (dict(arms=[sweep.Arm(), sweep.Arm()]), "arm names must be distinct"),
                          (dict(arms=[sweep.Arm("linear_probe")]), "needs a pretrained run"),
                          (dict(base=JobConfig.from_dict({**config.base.to_dict(), "arch": "resnet1d"})),
                           "is a small_cnn on leads 'all', but the sweep trains a resnet1d"),
                          # a cell the door would refuse is refused for the whole sweep, before any is made
                          (dict(base=JobConfig.from_dict({**config.base.to_dict(), "batch_size": 1})),
                           "batch_size=1 is invalid"),
                          (dict(base=JobConfig.from_dict({**config.base.to_dict(), "data": {
                              "source": "synthetic", "stream": True, "n": 100, "classes": "all"}})),
                           "fraction=.* has no meaning on a synthetic stream")):
        bad = sweep.SweepConfig(**{**config.__dict__, **change})
        with pytest.raises(ValueError, match=match):
            sweep.create_sweep(bad, runs_dir)
    assert sweep.list_sweeps(runs_dir) == []  # nothing half-made is left behind


def test_killed_sweep_resumes_without_redoing_cells(no_queue, tiny, monkeypatch):
    config, runs_dir, _ = tiny
    submit, calls = jobs.submit, []

    def dies_on_the_fifth(*args, **kwargs):
        calls.append(1)
        if len(calls) == 5:
            raise KeyboardInterrupt  # the sweep's process is killed in the middle of submitting
        return submit(*args, **kwargs)

    monkeypatch.setattr(jobs, "submit", dies_on_the_fifth)
    with pytest.raises(KeyboardInterrupt):
        sweep.create_sweep(config, runs_dir)
    (s,) = sweep.list_sweeps(runs_dir)
    cells = s.cells()
    assert [c["run_id"] is not None for c in cells] == [True] * 4 + [False] * 4
    # meanwhile the queue ran on: one cell done, one failed (its job died), one cancelled, one still queued
    done, failed, cancelled, queued = (runs.get_run(runs_dir, c["run_id"]) for c in cells[:4])
    assert jobs.run_job(done.path) == "done", done.status()
    failed.update_status(state="failed", error="interrupted")
    cancelled.update_status(state="cancelled")
    monkeypatch.setattr(jobs, "submit", submit)
    assert s.advance() == 2 + 4  # failed and cancelled again, and the four never submitted
    after = s.cells()
    assert after[0]["run_id"] == done.id and after[0]["state"] == "done"  # not redone
    assert after[3]["run_id"] == queued.id  # a queued cell is left to the queue
    assert after[1]["run_id"] != failed.id and after[2]["run_id"] != cancelled.id
    assert all(c["state"] == "queued" for c in after[1:])
    assert s.advance() == 0  # nothing left to submit: resuming twice is harmless
    import shutil
    shutil.rmtree(runs_dir / after[5]["run_id"])  # a cell whose run folder was deleted
    assert s.advance() == 1 and s.cells()[5]["state"] == "queued"


def test_sweep_results_table_bands_and_cli(no_queue, tiny, tmp_path, capsys):
    from ecgcore.cli import main

    config, runs_dir, pre = tiny
    assert jobs.run_job(pre.path) == "done"
    s = sweep.create_sweep(config, runs_dir)
    for cell in s.cells():
        assert jobs.run_job(runs_dir / cell["run_id"]) == "done"
    assert s.finished() and s.progress()["done"] == 8
    table = s.table()
    assert len(table) == 8 and table["macro_auroc"].notna().all() and (table.state == "done").all()
    b = sweep.bands(table, "accuracy")
    for row in b.itertuples():  # each band is the mean of its seeds' runs' test accuracy
        accs = [runs.get_run(runs_dir, c["run_id"]).summary()["test"]["accuracy"] for c in s.cells()
                if c["arm"] == row.arm and c["fraction"] == row.fraction]
        assert row.n == 2 and row.mean == pytest.approx(np.mean(accs))
    assert len(sweep.summarize(table, "accuracy")) == 1
    csv = tmp_path / "table.csv"
    assert main(["sweep", "table", s.id, "--runs-dir", str(runs_dir), "--metric", "accuracy",
                 "--csv", str(csv)]) == 0
    out = capsys.readouterr().out
    assert f"freeze_first_block:{pre.id}: " in out and "95% interval" in out
    pd.testing.assert_frame_equal(pd.read_csv(csv), table, check_dtype=False)
    assert main(["sweep", "status", s.id, "--runs-dir", str(runs_dir)]) == 0
    assert "8 done" in capsys.readouterr().out


def test_cli_start_builds_the_grid(no_queue, tiny, capsys):
    from ecgcore.cli import main

    config, runs_dir, pre = tiny
    npz = config.base.data["path"]
    assert main(["sweep", "start", "--data", npz, "--arm", f"linear_probe:{pre.id}=probe", "--fractions", "0.5,1",
                 "--seeds", "3,4", "--epochs", "1", "--runs-dir", str(runs_dir), "--name", "cli"]) == 0
    (s,) = sweep.list_sweeps(runs_dir)
    said = capsys.readouterr()
    assert said.out.strip() == s.id  # stdout: the id, for scripts; the plan on stderr
    assert ("8 cells. How long this takes here is not known yet: no run like it has finished an epoch on this "
            "machine") in said.err
    c = s.config
    assert [a.name for a in c.arms] == ["scratch", "probe"]  # scratch added as the reference
    assert c.arms[1].pretrained == [str(pre.path.resolve())] and c.seeds == [3, 4] and c.fractions == [0.5, 1.0]
    assert c.base.arch == pre.config.arch and c.base.preprocess == pre.config.preprocess and c.name == "cli"
    assert len(s.cells()) == 8
    assert main(["sweep", "start", "--data", npz, "--arm", f"combined:{pre.id},{pre.id}=both", "--controls",
                 "--fractions", "1", "--seeds", "0", "--epochs", "1", "--runs-dir", str(runs_dir)]) == 0
    s2 = next(x for x in sweep.list_sweeps(runs_dir) if x.id != s.id)
    assert [a.name for a in s2.config.arms] == ["scratch", "both", "random init, combined x2",
                                                "random init, linear probe"]  # the ecg-fix control too
    assert s2.config.baselines() == ["scratch", "random init, combined x2", "random init, linear probe"]
    assert s2.config.controls() == {"both": "random init, combined x2"}
    control = runs.get_run(runs_dir, s2.cells()[2]["run_id"]).config
    assert (control.strategy, control.init, control.backbones, control.pretrained) == ("combined", "random", 2, [])
    capsys.readouterr()
    assert main(["sweep", "start", "--arm", "linear_probe:no-such-run", "--runs-dir", str(runs_dir)]) == 2
    assert main(["sweep", "start", "--fractions", "0.5,x", "--runs-dir", str(runs_dir)]) == 2
    assert "--fractions" in capsys.readouterr().err


def test_bands_stay_inside_the_metric_range():
    # three seeds near the top: the t-interval of the mean reaches past 1, which an AUROC cannot
    table = pd.DataFrame({"arm": ["scratch"] * 3, "fraction": [0.1] * 3, "seed": [0, 1, 2],
                          "macro_auroc": [0.99, 0.90, 1.0], "mae_hr": [0.1, 3.0, 0.2]})
    auroc = sweep.bands(table, "macro_auroc").iloc[0]
    assert auroc["hi"] == 1.0 and auroc["lo"] < auroc["mean"] < 1.0
    mae = sweep.bands(table, "mae_hr").iloc[0]
    assert mae["lo"] == 0.0 and mae["hi"] > mae["mean"]  # an error is never below 0 either


# ---- label efficiency as one number, and the gain over the strongest baseline --------------------------------

def curve_table(arm_curve, scratch_curve, seeds=3, noise=0.0):
    """A sweep table of two arms over the fractions of the curves ({fraction: mean}); seed s adds
    noise * (s - 1) to the arm, so the seeds spread around the curve."""
    rows = []
    for arm, curve in (("scratch", scratch_curve), ("freeze_first_block:pre", arm_curve)):
        for fraction, value in curve.items():
            for seed in range(seeds):
                shift = noise * (seed - (seeds - 1) / 2) if arm != "scratch" else 0.0
                rows.append({"fraction": fraction, "arm": arm, "seed": seed, "macro_auroc": value + shift})
    return pd.DataFrame(rows)


SCRATCH_CURVE = {0.05: 0.60, 0.1: 0.65, 0.25: 0.72, 1.0: 0.80}


def test_the_label_multiplier_interpolates_in_log_fraction():
    table = curve_table({0.05: 0.70, 0.1: 0.78, 0.25: 0.84, 1.0: 0.86}, SCRATCH_CURVE)
    eff = sweep.label_efficiency(table, "macro_auroc", "freeze_first_block:pre")
    fraction = 0.1 * 2.5 ** (1 / 3)  # 0.80 lies a third of the way from 0.78 (10%) to 0.84 (25%), in log fraction
    assert eff["reached"] and eff["fraction"] == pytest.approx(fraction)
    assert eff["multiplier"] == pytest.approx(1.0 / fraction)
    assert eff["multiplier_lo"] == pytest.approx(eff["multiplier"]) == pytest.approx(eff["multiplier_hi"])
    spread = sweep.label_efficiency(curve_table({0.05: 0.70, 0.1: 0.78, 0.25: 0.84, 1.0: 0.86}, SCRATCH_CURVE,
                                                seeds=5, noise=0.01), "macro_auroc", "freeze_first_block:pre")
    assert spread["multiplier_lo"] < spread["multiplier"] < spread["multiplier_hi"]


def test_a_curve_that_never_reaches_scratch_has_no_multiplier():
    eff = sweep.label_efficiency(curve_table({0.05: 0.5, 0.1: 0.6, 0.25: 0.7, 1.0: 0.79}, SCRATCH_CURVE),
                                 "macro_auroc", "freeze_first_block:pre")
    assert eff["reached"] is False and eff["multiplier"] is None and eff["fraction"] is None


def test_a_curve_above_scratch_from_the_smallest_fraction_gives_a_lower_bound():
    eff = sweep.label_efficiency(curve_table({0.05: 0.81, 0.1: 0.82, 0.25: 0.84, 1.0: 0.86}, SCRATCH_CURVE),
                                 "macro_auroc", "freeze_first_block:pre")
    assert eff["reached"] and eff["fraction"] == pytest.approx(0.05) and eff["multiplier"] == pytest.approx(20)
    assert eff["lower_bound"] is True


def test_the_gain_over_the_best_baseline_picks_it_on_validation_not_on_test():
    rows = []
    # (test, validation) per arm at one fraction: control B is best on test but worse than control A on validation
    arms = {"scratch": (0.70, 0.70), "random A": (0.74, 0.76), "random B": (0.78, 0.72), "transfer": (0.80, 0.80)}
    for arm, (test, val) in arms.items():
        for seed, shift in enumerate((-0.01, 0.0, 0.01)):
            rows.append({"fraction": 0.1, "arm": arm, "seed": seed, "macro_auroc": test + shift,
                         "val_macro_auroc": val + shift})
    table = pd.DataFrame(rows)
    best = sweep.gains_vs_best(table, "macro_auroc", "transfer", ["scratch", "random A", "random B"])
    (row,) = best.itertuples()
    assert row.baseline == "random A" and row.gain == pytest.approx(0.80 - 0.74)
    assert sweep.pooled_gain_vs_best(table, "macro_auroc", "transfer",
                                     ["scratch", "random A", "random B"])["gain"] == pytest.approx(0.06)
