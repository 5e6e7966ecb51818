"""AppTest of the Fine-tune page: transfer and scratch twins, PTB-XL folders and their class balance, results."""

from ecgcore import jobs, runs

from apptest import page
from page_fixtures import finished_run


def test_finetune_renders_with_defaults(runs_dir):
    at = page("3_Fine-tune").run()
    assert not at.exception
    assert at.selectbox(key="ft_pretrained").value == "none (train from scratch)"


def test_finetune_transfer_from_a_pretrained_run_starts_it_and_its_scratch_twin(runs_dir, monkeypatch):
    monkeypatch.setenv("ECGCORE_MAX_JOBS", "1")
    pre = finished_run(runs_dir, task="pretrain", arch="small_cnn")
    at = page("3_Fine-tune").run()
    at.selectbox(key="ft_pretrained").set_value(pre.id).run()
    at.number_input(key="ft_n").set_value(100)
    at.number_input(key="ft_epochs").set_value(1)
    at.button(key="ft_start").click().run()
    assert not at.exception and not at.error
    made = [r for r in runs.list_runs(runs_dir) if r.config.task == "finetune"]
    assert sorted(r.config.strategy for r in made) == ["freeze_first_block", "scratch"]
    transfer = next(r for r in made if r.config.strategy != "scratch")
    assert transfer.config.pretrained == [str(pre.path.resolve())]
    assert at.selectbox(key="ft_show").value == transfer.id  # shown at once, not its twin


def test_finetune_a_started_run_is_shown_at_once_over_the_one_shown_before(runs_dir, monkeypatch):
    monkeypatch.setattr(jobs, "start_queued", lambda runs_dir=None: [])  # stays queued: shown all the same
    old = finished_run(runs_dir, task="finetune", strategy="scratch", name="old run")
    at = page("3_Fine-tune").run()
    assert at.selectbox(key="ft_show").value == old.id
    at.number_input(key="ft_n").set_value(100)
    at.number_input(key="ft_epochs").set_value(1)
    at.button(key="ft_start").click().run()
    assert not at.exception and not at.error
    (new,) = [r for r in runs.list_runs(runs_dir) if r != old]
    assert at.selectbox(key="ft_show").value == new.id and at.query_params["run"] == new.id
    assert new.state == "queued" and "queued" in at.get("progress")[0].proto.text  # its live panel
    at.run()  # and it stays chosen on the next rerun
    assert at.selectbox(key="ft_show").value == new.id


def test_finetune_paper_setup_from_scratch_reaches_the_config(runs_dir, monkeypatch):
    monkeypatch.setenv("ECGCORE_MAX_JOBS", "1")
    at = page("3_Fine-tune").run()
    at.button(key="ft_paper").click().run()
    at.number_input(key="ft_n").set_value(100)
    at.number_input(key="ft_epochs").set_value(1)
    at.button(key="ft_start").click().run()
    assert not at.exception and not at.error
    (run,) = runs.list_runs(runs_dir)
    cfg = run.config
    assert (cfg.arch, cfg.label_mode, cfg.lr, cfg.lr_decay) == ("inception1d", "single", 0.01, 0.99)
    assert (cfg.preprocess.leads, cfg.preprocess.normalize, cfg.data["fs"]) == ("paper8", "minmax", 500)
    # said before it starts: the paper's network at 500 Hz on a CPU runs for days on a set of paper size
    assert any("runs for days" in w.value for w in at.warning)


def test_finetune_ptbxl_folder_that_is_not_one_warns(runs_dir, tmp_path):
    at = page("3_Fine-tune").run()
    at.radio(key="ft_source").set_value("PTB-XL folder").run()
    at.text_input(key="ft_path").input(str(tmp_path)).run()
    assert not at.exception
    assert any("ptbxl_database.csv" in w.value for w in at.warning)


def test_finetune_ptbxl_folds_default_to_auto(runs_dir, tmp_path, monkeypatch):
    from ptbxl_fixture import make_ptbxl_fixture

    monkeypatch.setenv("ECGCORE_MAX_JOBS", "1")
    root = make_ptbxl_fixture(tmp_path / "ptbxl", n_per_class=1, folds=(1, 8, 9), bad_record=False)
    at = page("3_Fine-tune").run()
    at.radio(key="ft_source").set_value("PTB-XL folder").run()
    at.text_input(key="ft_path").input(str(root)).run()
    assert (at.selectbox(key="ft_val_fold").value, at.selectbox(key="ft_test_fold").value) == ("auto", "auto")
    captions = " ".join(c.value for c in at.caption)
    assert "Held out: validation fold 8, test fold 9 (chosen automatically: fold 10 absent)" in captions
    at.selectbox(key="ft_test_fold").set_value(8).run()  # auto validation would be 8 as well
    assert any("both mean fold 8" in w.value for w in at.warning)
    at.selectbox(key="ft_test_fold").set_value("auto")
    at.number_input(key="ft_epochs").set_value(1)
    at.button(key="ft_start").click().run()
    assert not at.exception and not at.error
    (run,) = runs.list_runs(runs_dir)
    assert (run.config.data["val_fold"], run.config.data["test_fold"]) == (None, None)


def balance_table(at):
    """The Fine-tune page's class-balance table (classes and "records" as rows)."""
    return next(d.value for d in at.dataframe if "records" in d.value.index)


def test_finetune_ptbxl_folder_shows_class_balance_per_fold_before_training(runs_dir, tmp_path):
    from ptbxl_fixture import make_ptbxl_fixture

    root = make_ptbxl_fixture(tmp_path / "ptbxl", n_per_class=2, folds=(8, 9, 10), bad_record=False)
    at = page("3_Fine-tune").run()
    at.radio(key="ft_source").set_value("PTB-XL folder").run()
    at.text_input(key="ft_path").input(str(root)).run()
    assert not at.exception
    single = balance_table(at)  # classes as rows, folds (and all) as columns
    assert list(single.columns) == ["8", "9", "10", "all"]
    assert list(single.index) == ["NORM", "MI", "STTC", "CD", "HYP", "records"]
    assert single.loc["records", "all"] == 10 and (single.loc[["NORM", "MI", "STTC", "CD", "HYP"], "all"] == 2).all()
    assert not runs.list_runs(runs_dir)  # nothing trains to show it
    at.radio(key="ft_label_mode").set_value("multi").run()
    multi = balance_table(at)
    assert multi.loc["records", "all"] > 10  # the fixture's multi-label records count now
    assert any("Class balance" in m.value and "multi-label" in m.value for m in at.markdown)


def test_finetune_class_balance_names_absent_classes(runs_dir, tmp_path):
    import pandas as pd
    from ptbxl_fixture import make_ptbxl_fixture

    root = make_ptbxl_fixture(tmp_path / "ptbxl", n_per_class=2, folds=(8, 9, 10), bad_record=False)
    db = pd.read_csv(root / "ptbxl_database.csv")
    db[~db["scp_codes"].str.contains("IMI|AMI")].to_csv(root / "ptbxl_database.csv", index=False)  # no MI left
    at = page("3_Fine-tune").run()
    at.radio(key="ft_source").set_value("PTB-XL folder").run()
    at.text_input(key="ft_path").input(str(root)).run()
    assert balance_table(at).loc["MI", "all"] == 0
    assert any("No record of MI" in w.value for w in at.warning)


def test_finetune_results_side_by_side_with_scratch_twin(runs_dir):
    pre = finished_run(runs_dir, task="pretrain")
    twin = finished_run(runs_dir, task="finetune", strategy="scratch")
    run = finished_run(runs_dir, task="finetune", strategy="freeze_first_block", pretrained=[str(pre.path)])
    at = page("3_Fine-tune").run()
    at.selectbox(key="ft_show").set_value(run.id).run()
    assert not at.exception and not at.error
    shown = " ".join(m.value for m in at.markdown)
    assert runs.title(run) in shown and runs.title(twin) in shown
    assert runs.title(run) != runs.title(twin)  # named apart: strategy in words (and the start time)
    # curves + (confusion, ROC) for the run and its twin
    assert len(at.get("plotly_chart")) == 5
    per_class = [d.value for d in at.dataframe if "Class" in d.value.columns][0]
    assert list(per_class["Class"]) == ["NORM", "MI", "STTC", "CD", "HYP"]  # class order, not alphabetical
    assert set(per_class.columns) == {"Class", "Precision", "Recall", "F1", "Test ECGs of the class"}


def test_showing_a_started_run_gives_no_session_state_warning(runs_dir, monkeypatch):
    """The server log said 'widget with key "ft_show" was created with a default value but also had its value
    set via the Session State API' each time a started run was shown at once."""
    from streamlit.elements.lib import policies

    said = []
    monkeypatch.setattr(policies, "_shown_default_value_warning", False)
    monkeypatch.setattr(policies._LOGGER, "warning", lambda text, *args, **kw: said.append(text % args))
    monkeypatch.setattr(jobs, "start_queued", lambda runs_dir=None: [])
    finished_run(runs_dir, task="finetune", strategy="scratch", name="old run")
    at = page("3_Fine-tune").run()
    at.number_input(key="ft_n").set_value(100)
    at.number_input(key="ft_epochs").set_value(1)
    at.button(key="ft_start").click().run()
    at.run()
    assert not at.exception and not [s for s in said if "Session State API" in s]


def test_finetune_simulated_rhythms_reach_the_config(runs_dir, monkeypatch):
    monkeypatch.setenv("ECGCORE_MAX_JOBS", "1")
    at = page("3_Fine-tune").run()
    at.radio(key="ft_source").set_value("simulated rhythms").run()
    assert at.radio(key="ft_label_mode").options == ["single-label (softmax, the paper's)"]
    at.multiselect(key="ft_rhythms").set_value(["afib", "vt", "sinus"]).run()
    at.number_input(key="ft_n").set_value(100)
    at.number_input(key="ft_epochs").set_value(1)
    at.button(key="ft_start").click().run()
    assert not at.exception and not at.error
    (run,) = runs.list_runs(runs_dir)
    assert run.config.data["rhythms"] == ["afib", "vt", "sinus"] and "classes" not in run.config.data


def test_finetune_ptbxl_rhythm_statements_show_their_balance_and_reach_the_config(runs_dir, tmp_path, monkeypatch):
    from ptbxl_fixture import make_ptbxl_fixture

    monkeypatch.setenv("ECGCORE_MAX_JOBS", "1")
    root = make_ptbxl_fixture(tmp_path / "ptbxl", n_per_class=2, folds=(8, 9, 10), bad_record=False, rhythms=True)
    at = page("3_Fine-tune").run()
    at.radio(key="ft_source").set_value("PTB-XL folder").run()
    at.text_input(key="ft_path").input(str(root)).run()
    at.radio(key="ft_statements").set_value("rhythm").run()
    assert not at.exception
    assert list(balance_table(at).index) == ["SR", "AFIB", "STACH", "records"]
    at.number_input(key="ft_epochs").set_value(1)
    at.button(key="ft_start").click().run()
    assert not at.exception and not at.error
    (run,) = runs.list_runs(runs_dir)
    assert run.config.data["statements"] == "rhythm"


def test_finetune_a_reload_shows_the_settings_of_the_run_in_the_link(runs_dir):
    pre = finished_run(runs_dir, task="pretrain")
    run = finished_run(runs_dir, task="finetune", strategy="linear_probe", pretrained=[str(pre.path)], fraction=0.25,
                       epochs=4, seed=2, data={"source": "synthetic", "n": 600, "fs": 500, "seed": 5,
                                               "rhythms": ["afib", "vt"]})
    at = page("3_Fine-tune")
    at.query_params["run"] = run.id
    at.run()
    assert not at.exception and not at.warning
    assert at.radio(key="ft_source").value == "simulated rhythms"
    assert at.multiselect(key="ft_rhythms").value == ["afib", "vt"] and at.number_input(key="ft_n").value == 600
    assert at.selectbox(key="ft_pretrained").value == pre.id and at.selectbox(key="ft_strategy").value == "linear_probe"
    assert at.select_slider(key="ft_fraction").value == 0.25 and at.number_input(key="ft_epochs").value == 4
