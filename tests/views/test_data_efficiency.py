"""AppTest of the Data efficiency page: a sweep's results, its arms and bands, starting studies."""

from ecgcore import jobs, runs, sweep

from apptest import page
from page_fixtures import fake_done, values


def test_data_efficiency_empty_then_sweep_results(tiny_runs, runs_dir):
    pre, npz = tiny_runs
    at = page("5_Data_efficiency").run()
    assert not at.exception
    assert any("No sweep yet" in i.value for i in at.info)
    from run_fixtures import tiny_config

    config = sweep.SweepConfig(base=tiny_config(npz, task="finetune", epochs=1), fractions=[0.5, 1.0], seeds=[0, 1],
                               arms=[sweep.Arm(), sweep.Arm("freeze_first_block", [str(pre.path)], label="transfer")])
    s = sweep.create_sweep(config, runs_dir)
    for i, cell in enumerate(s.cells()[:6]):  # 6 of 8 cells done, 2 still queued
        fake_done(runs.get_run(runs_dir, cell["run_id"]), 0.5 + 0.05 * i)
    at = page("5_Data_efficiency").run()
    assert not at.exception
    assert at.selectbox(key="de_sweep").value == s.id
    assert "2 queued · 6 done of 8 cells" in at.get("progress")[0].proto.text
    gains, table = at.table[0].value, at.dataframe[0].value
    assert len(table) == 8 and table["Accuracy"].notna().sum() == 6  # columns in words
    assert any("transfer: " in m.value for m in at.markdown)  # the summary line of the transfer arm
    assert at.get("plotly_chart")
    # the gains table: the transfer arm's row (its source, its targets), a column per fraction and pooled
    # 100%: the transfer cells still queued
    assert list(gains.columns) == ["Pretraining source", "Target", "50%", "Pooled over fractions"]
    assert gains.iloc[0]["Target"] == "hr+qrs" and gains.iloc[0]["Pretraining source"] == "npz"


def test_the_table_of_a_finished_sweep_shows_test_and_validation_metrics_under_their_own_names(tiny_runs, runs_dir):
    """A trained run's summary holds validation metrics beside the test ones (train.fit): the page's table
    once failed on the two "Macro AUROC" columns they made."""
    from ecgcore import files
    from run_fixtures import tiny_config

    pre, npz = tiny_runs
    config = sweep.SweepConfig(base=tiny_config(npz, task="finetune", epochs=1), fractions=[1.0], seeds=[0])
    s = sweep.create_sweep(config, runs_dir)
    run = runs.get_run(runs_dir, s.cells()[0]["run_id"])
    fake_done(run, 0.8)
    files.write_json(run.summary_path, {"test": {"macro_auroc": 0.8}, "val": {"macro_auroc": 0.75}})
    at = page("5_Data_efficiency").run()
    assert not at.exception, at.exception
    table = at.dataframe[0].value
    assert table["Macro AUROC"].tolist() == [0.8] and table["Macro AUROC (validation)"].tolist() == [0.75]


def test_data_efficiency_names_arms_by_strategy_and_pretrained_run_and_keeps_bands_in_range(tiny_runs, runs_dir):
    from run_fixtures import tiny_config

    pre, npz = tiny_runs
    arms = sweep.with_controls([sweep.Arm(), sweep.Arm("freeze_first_block", [str(pre.path)])])
    config = sweep.SweepConfig(base=tiny_config(npz, task="finetune", epochs=1), fractions=[1.0], seeds=[0, 1, 2],
                               arms=arms)
    s = sweep.create_sweep(config, runs_dir)
    by_arm = {"scratch": [0.99, 0.90, 1.0], "random init, first block frozen": [0.90, 0.91, 0.92]}
    for cell in s.cells():
        auroc = by_arm.get(cell["arm"], [0.98, 1.0, 0.97])[cell["seed"]]
        fake_done(runs.get_run(runs_dir, cell["run_id"]), auroc)
    at = page("5_Data_efficiency").run()
    assert not at.exception and not at.error
    named = f"freeze first block · {runs.title(pre)}"
    # the summary and the gains table are computed on the arms' names, shown in people's words
    (line,) = [m.value for m in at.markdown if m.value.startswith(f"- {named}: ")]
    assert "over its control (random init, first block frozen) 100%: +0.073 [" in line
    assert "label multiplier" in line  # how many times fewer labels it needs, as one number
    gains, table = at.table[0].value, at.dataframe[0].value
    assert gains.iloc[0]["100%"].startswith("+0.020 [") and "vs control +0.073 [" in gains.iloc[0]["100%"]
    arms = set(table["Arm"])
    assert arms == {"scratch", named, "random init, first block frozen", "random init, linear probe"}
    import json

    fig = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert {t["name"] for t in fig["data"] if t.get("fill") != "toself"} == arms  # the legend too
    bands = [t for t in fig["data"] if t.get("fill") == "toself"]
    assert bands and max(max(values(t["y"])) for t in bands) <= 1.0  # an AUROC band never above 1


def test_data_efficiency_starts_a_sweep(tiny_runs, runs_dir):
    at = page("5_Data_efficiency").run()
    at.multiselect(key="de_fractions").set_value([0.1, 1.0])
    at.number_input(key="de_seeds").set_value(2)
    at.multiselect(key="de_sources").set_value([tiny_runs[0].id])
    at.run()
    # the random-init control is one choice away, and on by default
    assert "2 fractions x 4 arms x 2 seeds = **16 runs**" in " ".join(c.value for c in at.caption)
    at.checkbox(key="de_controls").uncheck().run()
    assert "2 fractions x 2 arms x 2 seeds = **8 runs**" in " ".join(c.value for c in at.caption)
    at.checkbox(key="de_controls").check().run()
    at.button(key="de_start").click().run()
    assert not at.exception and not at.error
    (s,) = sweep.list_sweeps(runs_dir)
    assert len(s.cells()) == 16 and s.config.base.arch == "small_cnn"
    assert [(a.strategy, a.init) for a in s.config.arms] == [
        ("scratch", "pretrained"), ("freeze_first_block", "pretrained"), ("freeze_first_block", "random"),
        ("linear_probe", "random")]  # the ecg-fix control: a linear probe on a random frozen backbone
    assert s.config.arms[2].name == "random init, first block frozen"


def test_data_efficiency_builds_the_per_target_study_from_four_regressors(tiny_runs, runs_dir):
    import shutil

    from ecgcore.labels import TARGETS
    from run_fixtures import tiny_config

    pre, npz = tiny_runs
    made = []
    for target in TARGETS:  # four finished single-target regressors (the grid needs configs and model files)
        run = runs.create_run(tiny_config(npz, targets=[target]), runs_dir, name=f"only-{target}")
        shutil.copy(pre.path / "model.pt", run.path / "model.pt")
        run.update_status(state="done", progress=1.0)
        made.append(run)
    at = page("5_Data_efficiency").run()
    at.toggle(key="de_per_target").set_value(True).run()
    at.multiselect(key="de_per_target_runs").set_value([r.id for r in made[:1]]).run()
    assert at.button(key="de_start").disabled  # one regressor is no study
    at.multiselect(key="de_per_target_runs").set_value([r.id for r in made])
    at.multiselect(key="de_fractions").set_value([0.1, 1.0])
    at.number_input(key="de_seeds").set_value(1)
    at.run()
    assert "2 fractions x 9 arms x 1 seeds = **18 runs**" in " ".join(c.value for c in at.caption)
    at.button(key="de_start").click().run()
    assert not at.exception and not at.error
    (s,) = sweep.list_sweeps(runs_dir)
    assert [a.strategy for a in s.config.arms] == ["scratch", *["freeze_first_block"] * 4, "combined",
                                                   "freeze_first_block", "combined", "linear_probe"]
    assert s.config.controls() == {**{a.name: "random init, first block frozen" for a in s.config.arms[1:5]},
                                   s.config.arms[5].name: "random init, combined x4"}


def test_a_study_over_every_test_fold_and_two_learning_rates_is_set_up_and_planned_on_the_page(runs_dir, tmp_path,
                                                                                            monkeypatch):
    from ptbxl_fixture import make_ptbxl_fixture

    monkeypatch.setattr(jobs, "start_queued", lambda runs_dir=None: [])  # the cells are looked at, not trained
    root = make_ptbxl_fixture(tmp_path / "ptbxl", n_per_class=2, folds=(8, 9, 10), bad_record=False)
    at = page("5_Data_efficiency").run()
    assert "Test folds: a PTB-XL folder" in " ".join(c.value for c in at.caption)  # said, not offered
    at.text_input(key="de_ptbxl").input(str(root))
    at.multiselect(key="de_fractions").set_value([0.5, 1.0])
    at.number_input(key="de_seeds").set_value(2)
    for bad in ("0.001 0.003, 0.001", "0.001, inf", "nan", "0.001, -1", "fast"):
        at.text_input(key="de_lrs").input(bad).run()
        captions = " ".join(c.value for c in at.caption)
        assert f"learning rates {bad!r}" in captions and "distinct finite numbers above 0" in captions, bad
        assert at.button(key="de_start").proto.disabled, bad
    at.text_input(key="de_lrs").input("0.001, 0.003")
    at.selectbox(key="de_rotate").set_value("every fold, each tested once").run()
    captions = " ".join(c.value for c in at.caption)
    assert "2 fractions x 1 arms x 2 seeds x 3 test folds x 2 learning rates = **24 runs**" in captions
    assert "not known yet" in captions  # before the start: the plan, or that nothing like it ran here yet
    at.button(key="de_start").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    (s,) = sweep.list_sweeps(runs_dir)
    assert s.config.folds == [[10, 8], [8, 9], [9, 10]] and s.config.lrs == [0.001, 0.003]
    assert len(s.cells()) == 24 and {c["fold"] for c in s.cells()} == {8, 9, 10}


def test_a_study_over_every_fold_pretrains_a_source_on_the_folders_records_once_per_rotation(runs_dir, tmp_path,
                                                                                           monkeypatch):
    from page_fixtures import finished_run
    from ptbxl_fixture import make_ptbxl_fixture

    monkeypatch.setattr(jobs, "start_queued", lambda runs_dir=None: [])  # the runs are looked at, not trained
    root = make_ptbxl_fixture(tmp_path / "ptbxl", n_per_class=2, folds=(8, 9, 10), bad_record=False)
    own = finished_run(runs_dir, task="pretrain", name="measured here", targets=["hr"],
                       data={"source": "measured", "path": str(root), "fs": 100})
    at = page("5_Data_efficiency").run()
    at.text_input(key="de_ptbxl").input(str(root))
    at.multiselect(key="de_sources").set_value([own.id])
    at.checkbox(key="de_controls").uncheck()
    at.multiselect(key="de_fractions").set_value([1.0])
    at.number_input(key="de_seeds").set_value(1).run()
    at.selectbox(key="de_rotate").set_value("every fold, each tested once").run()
    said = " ".join(c.value for c in at.caption)
    # `own` held out folds 9 and 10 (auto): the rotation validating on 9 and testing on 10 uses it as it is
    assert ("Each is pretrained again for every rotation whose validation or test fold it learnt from, without "
            "those two folds (**2 pretrainings**)") in said
    at.button(key="de_start").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert "after 2 pretrainings, one per rotation that needs its own" in at.success[0].value
    (s,) = sweep.list_sweeps(runs_dir)
    transfer = s.config.arms[1]
    assert transfer.pretrained_for(10) == [str(own.path.resolve())]
    for val, test in s.config.folds[:2]:
        (path,) = transfer.pretrained_for(test)
        data = runs.resolve_run(path).config.data
        assert (data["val_fold"], data["test_fold"]) == (val, test) and runs.resolve_run(path).state == "queued"
