"""AppTest of every page: renders with the defaults, main widgets change what is shown, jobs create runs."""

import json
import os

import numpy as np
import pandas as pd
import pytest

from ecgcore import files, jobs, runs
from ecgcore.config import JobConfig

from apptest import page


@pytest.fixture
def runs_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("ECGCORE_RUNS", str(tmp_path / "runs"))
    yield tmp_path / "runs"
    for run in runs.list_runs(tmp_path / "runs"):  # never leave a job behind
        jobs.cancel(run)


def finished_run(runs_dir, **config):
    """A done run folder written by hand (no training): config, metrics, summary, predictions, model."""
    cfg = JobConfig(**config)
    run = runs.create_run(cfg, runs_dir)
    for epoch in (1, 2):
        record = {"epoch": epoch, "train_loss": 1.0 / epoch, "val_loss": 1.1 / epoch, "lr": 1e-3}
        record.update({"val_mae_hr": 5.0 / epoch} if cfg.task == "pretrain" else {"val_macro_auroc": 0.6 + epoch / 10})
        run.append_metrics(record)
    rng = np.random.default_rng(0)
    if cfg.task == "pretrain":
        y = rng.uniform(50, 100, 20)
        summary = {"task": "pretrain", "targets": ["hr"], "test": {"mae_hr": 1.5, "rmse_hr": 2.0, "r2_hr": 0.9}}
        pred = {"y_true_hr": y, "y_pred_hr": y + 1}
    else:
        y = np.arange(20) % 5
        score = np.eye(5)[y] * 0.6 + 0.08
        summary = {"task": "finetune", "class_names": ["NORM", "MI", "STTC", "CD", "HYP"],
                   "test": {"accuracy": 0.8, "macro_f1": 0.75, "macro_auroc": 0.9, "n": 20,
                            "confusion_matrix": np.diag([4] * 5).tolist(), "classes_absent": [],
                            "per_class": {c: {"precision": 0.8, "recall": 0.8, "f1": 0.8, "support": 4}
                                          for c in sorted(["NORM", "MI", "STTC", "CD", "HYP"])}}}
        pred = {"y_true": y, "y_score": score}
    files.write_json(run.path / "summary.json", summary)
    np.savez(run.path / "predictions.npz", **pred)
    (run.path / "model.pt").write_bytes(b"weights")
    run.update_status(state="done", progress=1.0, message="done")
    return run


# ---- Synthesize ---------------------------------------------------------------------------------------------

def labels(at):
    return {m.label.split()[0]: m.value for m in at.metric}


def show_tab(at, group):
    """Open the Synthesize page's parameter tab `group` ("Intervals"): only the open tab's widgets are drawn."""
    at.session_state["param_group"] = group
    return at.run()


def open_data_set(at):
    """Open the Synthesize page's "Generate data set" section (drawn only while open)."""
    at.session_state["data_set"] = True
    return at.run()


def paper_svg(at):
    """The ECG paper the page shows as a picture: its SVG text."""
    import base64

    (image,) = at.get("image")
    url = image.proto.imgs[0].url
    assert url.startswith("data:image/svg+xml;base64,")
    return base64.b64decode(url.split(",", 1)[1]).decode()


def test_synthesize_renders_defaults_with_labels_and_ecg(runs_dir):
    at = page("1_Synthesize").run()
    assert not at.exception and not at.error
    shown = labels(at)
    assert shown["HR"] == "70" and shown["PR"] == "160" and shown["QRS"] == "90" and shown["QT"] == "400"
    assert shown["Class"] == "custom"
    # the ECG paper is a picture at first (no plotly.js to load), the interactive chart one toggle away
    assert paper_svg(at).count("<polyline") == 13 and not at.get("plotly_chart")
    at.toggle(key="zoom").set_value(True).run()
    assert len(at.get("plotly_chart")) == 1 and not at.get("image")
    linked = page("1_Synthesize")
    linked.query_params["zoom"] = "true"  # a link opens the chart the way it was shared
    assert len(linked.run().get("plotly_chart")) == 1


def test_synthesize_slider_changes_the_labels(runs_dir):
    at = show_tab(page("1_Synthesize").run(), "Intervals")
    at.slider(key="qrs").set_value(130.0).run()
    at.slider(key="pr").set_value(240.0).run()
    shown = labels(at)
    assert shown["QRS"] == "130" and shown["PR"] == "240"


def test_synthesize_preset_changes_the_class_and_parameters(runs_dir):
    at = page("1_Synthesize").run()
    at.selectbox(key="preset").set_value("CD").run()
    at.button(key="draw").click().run()
    assert not at.exception
    assert labels(at)["Class"] == "CD"
    assert at.query_params["class"] == "CD"
    # CD's defining feature: a long PR (AV block) or a broad QRS (bundle branch block)
    show_tab(at, "Intervals")
    assert at.slider(key="pr").value > 200 or at.slider(key="qrs").value >= 120
    assert labels(at)["Class"] == "CD"  # opening a tab changes nothing
    show_tab(at, "Rhythm").slider(key="hr").set_value(90.0).run()  # a manual change: no longer the preset's draw
    assert labels(at)["Class"] == "custom"


def test_synthesize_draws_only_the_open_tab_and_keeps_every_value(runs_dir):
    from ecgcore.synth.presets import drawn_params

    at = page("1_Synthesize")
    at.query_params["t_lateral"] = "0.5"  # a closed tab's value, from the link
    at.run()
    assert [s.key for s in at.slider] == ["hr", "hrv"]  # the Rhythm tab's widgets only
    assert at.query_params["t_lateral"] == "0.5"  # kept in the link, though its tab is closed
    show_tab(at, "Intervals").slider(key="qrs").set_value(130.0).run()
    show_tab(at, "Noise")
    assert "qrs" not in [s.key for s in at.slider]
    assert labels(at)["QRS"] == "130" and at.query_params["qrs"] == "130"  # a closed tab's value still counts
    assert show_tab(at, "Intervals").slider(key="qrs").value == 130  # and shows again when its tab opens
    assert show_tab(at, "Morphology").slider(key="t_lateral").value == 0.5
    # a preset drawn while a tab is open: its widgets show the draw, not what they showed before
    at.selectbox(key="preset").set_value("CD").run()
    at.button(key="draw").click().run()
    drawn = drawn_params("CD", 0)
    assert at.slider(key="t_lateral").value == drawn["t_lateral"]
    assert at.selectbox(key="bundle_branch").value == drawn["bundle_branch"] and labels(at)["Class"] == "CD"


def test_synthesize_link_reopens_the_same_ecg(runs_dir):
    at = page("1_Synthesize")
    at.query_params.update({"hr": "120", "qrs": "110", "noise": "false", "marks": "true"})
    at.run()
    assert not at.exception and not at.warning
    assert at.slider(key="hr").value == 120 and at.toggle(key="noise").value is False
    shown = labels(at)
    assert shown["QRS"] == "110" and shown["Class"] == "custom"
    assert int(shown["HR"]) == pytest.approx(120, abs=5)
    assert "QRS onset" in paper_svg(at)  # wave marks drawn on request, named in words


def test_synthesize_link_to_a_preset_draw_shows_its_class_and_criteria(runs_dir):
    from ecgcore.synth.presets import drawn_params

    at = page("1_Synthesize")
    at.query_params.update({k: f"{v:g}" if isinstance(v, float) else v for k, v in drawn_params("HYP", 4).items()})
    at.query_params.update({"class": "HYP", "draw_seed": "4"})
    at.run()
    assert not at.exception and not at.warning
    assert labels(at)["Class"] == "HYP"
    text = " ".join(m.value for m in at.markdown)
    assert "Sokolow-Lyon" in text and "Leads to look at" in text and "V1 and V5" in text


def test_synthesize_a_class_in_the_link_shows_only_on_that_presets_draw(runs_dir):
    for wrong in ({"class": "MI"}, {"class": "XYZ"}):  # normal parameters; a class that does not exist
        at = page("1_Synthesize")
        at.query_params.update(wrong)
        at.run()
        assert not at.exception
        assert labels(at)["Class"] == "custom"
        assert wrong["class"] in at.warning[0].value and "shown as custom" in at.warning[0].value
        assert "class" not in at.query_params  # the address no longer claims it either
        assert not any("Leads to look at" in m.value for m in at.markdown)


def test_synthesize_bad_values_in_a_link_are_named_with_their_range(runs_dir):
    at = page("1_Synthesize")
    at.query_params.update({"hr": "999", "qrs": "abc", "qt_correction": "sometimes", "pr": "170"})
    at.run()
    assert not at.exception
    notices = [w.value for w in at.warning]
    assert any("hr=999" in n and "30-200 bpm" in n and "default 70 bpm" in n for n in notices)
    assert any("qrs='abc' is not a number" in n and "50-200 ms" in n for n in notices)
    assert any("qt_correction='sometimes' is not one of none, bazett" in n for n in notices)
    assert len(notices) == 3  # pr=170 is a fine value
    # what the page shows is what it says: defaults for the refused values, the good one kept
    assert at.slider(key="hr").value == 70
    show_tab(at, "Intervals")
    assert at.slider(key="qrs").value == 90 and at.slider(key="pr").value == 170
    assert labels(at)["PR"] == "170" and labels(at)["QRS"] == "90"


def test_synthesize_says_which_number_is_the_qt_and_which_the_qtc(runs_dir):
    at = show_tab(page("1_Synthesize").run(), "Intervals")
    assert at.slider(key="qt").label == "QT interval (ms)"  # qt_correction none: the slider is the QT
    at.selectbox(key="preset").set_value("NORM").run()
    at.button(key="draw").click().run()  # presets draw a QTc (Bazett)
    assert at.selectbox(key="qt_correction").value == "bazett"
    assert at.slider(key="qt").label == "QTc, Bazett (ms)"
    shown = labels(at)
    # the QTc metric is the slider's value (at the realised rate, within a few ms); the QT metric is the QT
    assert int(shown["QTc"]) == pytest.approx(at.slider(key="qt").value, abs=8)
    assert int(shown["QT"]) != int(shown["QTc"])
    assert any("QTc is Bazett's correction" in c.value for c in at.caption)


def test_synthesize_warns_when_the_qt_is_longer_than_a_beat(runs_dir):
    at = page("1_Synthesize").run()
    assert not at.warning  # 70 bpm, QT 400 ms: fits
    at.slider(key="hr").set_value(200.0).run()  # R-R 300 ms, the QT still 400 ms
    (warning,) = at.warning
    assert "longer than one beat" in warning.value and "QT (4" in warning.value


def test_synthesize_widgets_speak_words_and_units(runs_dir):
    at = page("1_Synthesize").run()
    assert at.slider(key="hr").label == "Heart rate (bpm)"
    assert at.slider(key="hr").proto.format == "%.0f"  # whole numbers without ".00"
    show_tab(at, "Noise")
    assert at.slider(key="baseline_mv").label == "Baseline wander (mV)"
    show_tab(at, "Morphology")
    assert at.slider(key="t_lateral").label == "T-wave scale, lateral leads (x normal)"
    assert at.slider(key="r_amp").proto.format == "%.2f"


def test_synthesize_choices_read_as_words_and_the_link_keeps_their_codes(runs_dir):
    at = page("1_Synthesize")
    at.query_params.update({"bundle_branch": "right"})
    show_tab(at.run(), "Morphology")
    assert not at.exception and not at.warning
    box = at.selectbox(key="bundle_branch")
    assert box.value == "right" and box.options == ["none", "right (RBBB)", "left (LBBB)"]
    box.set_value("left").run()
    assert at.query_params["bundle_branch"] == "left"  # the code, not "left (LBBB)"
    at.selectbox(key="bundle_branch").set_value("none").run()
    assert "bundle_branch" not in at.query_params  # the default leaves the address, as a bound widget's does
    assert show_tab(at, "Intervals").selectbox(key="qt_correction").options[0] == "the QT itself"


def test_synthesize_inconsistent_parameters_show_an_error_not_a_traceback(runs_dir):
    at = show_tab(page("1_Synthesize").run(), "Intervals")
    at.slider(key="qrs").set_value(200.0).run()
    at.slider(key="qt").set_value(250.0).run()
    assert not at.exception
    assert "qt" in at.error[0].value


def test_synthesize_generate_data_set_error_is_a_message(runs_dir):
    at = open_data_set(page("1_Synthesize").run())
    at.multiselect(key="ds_classes").set_value(["MI"])
    at.selectbox(key="ds_engine").set_value("ecgsyn")  # ECGSYN draws normal records only
    at.button[-1].click().run()
    assert not at.exception
    assert "ecgsyn" in at.error[0].value and "synth_dataset" not in at.session_state


def test_synthesize_generate_data_set_previews_labels(runs_dir, monkeypatch):
    monkeypatch.setenv("ECGCORE_MAX_JOBS", "1")
    at = page("1_Synthesize").run()
    assert "ds_n" not in [w.key for w in at.number_input]  # the form is drawn only while its section is open
    open_data_set(at)
    at.number_input(key="ds_n").set_value(40)
    at.multiselect(key="ds_classes").set_value(["NORM", "CD"])
    at.button[-1].click().run()  # the form's submit button
    assert not at.exception and not at.error
    spec = at.session_state["synth_dataset"]
    assert spec == {"source": "synthetic", "n": 40, "fs": 100, "seed": 0, "noise": True, "classes": ["NORM", "CD"]}
    hist = at.get("plotly_chart")[-1].proto.spec
    assert '"name":"NORM"' in hist.replace(" ", "") and '"name":"CD"' in hist.replace(" ", "")
    # the Pretrain page (same session) offers the generated data set and trains on exactly that spec
    pre = page("2_Pretrain")
    pre.session_state["synth_dataset"] = spec
    pre.run()
    pre.radio(key="pt_source").set_value("synthesize").run()
    pre.number_input(key="pt_epochs").set_value(1)
    pre.button(key="pt_start").click().run()
    assert not pre.exception and not pre.error
    assert runs.list_runs(runs_dir)[0].config.data == spec


# ---- Pretrain ------------------------------------------------------------------------------------------------

def test_pretrain_renders_with_defaults_and_no_runs(runs_dir):
    at = page("2_Pretrain").run()
    assert not at.exception
    assert any("No pretraining run yet" in i.value for i in at.info)


def test_pretrain_start_creates_a_queued_run(runs_dir, monkeypatch):
    monkeypatch.setattr(jobs, "start_queued", lambda runs_dir=None: [])  # no job starts: the run stays queued
    at = page("2_Pretrain").run()
    at.number_input(key="pt_n").set_value(100)
    at.number_input(key="pt_epochs").set_value(1)
    at.button(key="pt_start").click().run()
    assert not at.exception and not at.error
    made = runs.list_runs(runs_dir)
    assert len(made) == 1
    assert made[0].config.task == "pretrain" and made[0].config.data["n"] == 100 and made[0].config.epochs == 1
    assert made[0].state == "queued" and made[0].status()["message"] == "queued"
    assert at.query_params["run"] == made[0].id  # a reload shows this run


def test_pretrain_can_pick_the_synthetic_stream_at_the_papers_scale(runs_dir, monkeypatch):
    monkeypatch.setattr(jobs, "start_queued", lambda runs_dir=None: [])
    at = page("2_Pretrain").run()
    at.radio(key="pt_source").set_value("stream").run()
    at.number_input(key="pt_n").set_value(120000)
    at.button(key="pt_start").click().run()
    assert not at.exception and not at.error
    assert runs.list_runs(runs_dir)[0].config.data == {"source": "synthetic", "stream": True, "n": 120000,
                                                       "fs": 100, "seed": 0}


def test_pretrain_data_spec_is_parsed_like_the_cli(runs_dir, monkeypatch):
    monkeypatch.setenv("ECGCORE_MAX_JOBS", "1")
    at = page("2_Pretrain").run()
    at.radio(key="pt_source").set_value("spec").run()
    assert at.button(key="pt_start").disabled  # nothing to train on yet
    at.text_input(key="pt_spec").input("{not json").run()
    assert not at.exception and "not valid JSON" in at.error[0].value
    at.text_input(key="pt_spec").input('{"source": "synthetic", "n": 100, "fs": 100, "seed": 5}').run()
    at.number_input(key="pt_epochs").set_value(1)
    at.button(key="pt_start").click().run()
    assert runs.list_runs(runs_dir)[0].config.data == {"source": "synthetic", "n": 100, "fs": 100, "seed": 5}


def test_pretrain_one_run_per_target(runs_dir, monkeypatch):
    monkeypatch.setenv("ECGCORE_MAX_JOBS", "1")
    at = page("2_Pretrain").run()
    at.multiselect(key="pt_targets").set_value(["hr", "qt"])
    at.checkbox(key="pt_one_per_target").check()
    at.number_input(key="pt_n").set_value(100)
    at.button(key="pt_start").click().run()
    made = runs.list_runs(runs_dir)
    assert sorted(r.config.targets[0] for r in made) == ["hr", "qt"]
    assert all(len(r.config.targets) == 1 for r in made)


def test_pretrain_paper_setup_fills_in_the_papers_configuration(runs_dir):
    at = page("2_Pretrain").run()
    at.button(key="pt_paper").click().run()
    assert at.selectbox(key="pt_arch").value == "inception1d"
    assert at.selectbox(key="pt_leads").value == "paper8"
    assert at.selectbox(key="pt_fs").value == 500
    assert at.selectbox(key="pt_normalize").value == "minmax"
    assert at.number_input(key="pt_lr").value == pytest.approx(0.01)
    assert at.number_input(key="pt_lr_decay").value == pytest.approx(0.99)
    assert at.checkbox(key="pt_one_per_target").value is True
    assert any("What differs here" in c.value for c in at.caption)


def test_pretrain_shows_results_of_a_finished_run(runs_dir):
    run = finished_run(runs_dir, task="pretrain", targets=["hr"])
    at = page("2_Pretrain").run()
    assert not at.exception and not at.error
    assert at.selectbox(key="pt_show").value == run.id
    table = at.dataframe[0].value
    assert list(table["target"]) == ["Heart rate"] and table["MAE"][0] == pytest.approx(1.5)
    assert len(at.get("plotly_chart")) == 2  # learning curves + predicted vs true


# ---- Fine-tune -----------------------------------------------------------------------------------------------

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


# ---- Runs ----------------------------------------------------------------------------------------------------

def test_runs_page_lists_filters_and_compares(runs_dir):
    a = finished_run(runs_dir, task="pretrain", name="alpha")
    b = finished_run(runs_dir, task="pretrain", name="beta", lr=0.01)
    at = page("4_Runs").run()
    assert not at.exception
    assert at.caption[0].value.startswith(f"Executor: local · {os.cpu_count()} CPUs, ")  # executors.describe
    assert set(at.dataframe[0].value["run"]) == {a.id, b.id}
    at.text_input(key="runs_filter").input("alpha").run()
    assert list(at.dataframe[0].value["run"]) == [a.id]
    at.text_input(key="runs_filter").input("").run()
    at.multiselect(key="runs_selected").set_value([a.id, b.id]).run()
    diff = at.dataframe[1].value
    assert list(diff.index) == ["lr", "name"]
    assert len(at.get("plotly_chart")) == 1


def test_runs_page_single_run_downloads_and_delete_with_confirmation(runs_dir):
    a = finished_run(runs_dir, task="finetune")
    at = page("4_Runs").run()
    at.multiselect(key="runs_selected").set_value([a.id]).run()
    assert not at.exception
    labels = [d.proto.label for d in at.get("download_button")]
    assert labels == ["Metrics (CSV)", "Checkpoint (model.pt)"]
    at.button(key="delete").click().run()
    assert a.path.is_dir()  # nothing deleted before the confirmation
    at.button(key="delete_yes").click().run()
    assert not at.exception
    assert not a.path.exists()
    assert any("No runs yet" in i.value for i in at.info)


def test_skipped_records_reach_the_run_pages(runs_dir):
    run = finished_run(runs_dir, task="finetune")
    files.write_json(run.path / "summary.json", {**run.summary(), "skipped_records": 3})
    at = page("4_Runs").run()
    at.multiselect(key="runs_selected").set_value([run.id]).run()
    assert not at.exception and any("3 bad record(s)" in w.value for w in at.warning)
    at = page("3_Fine-tune").run()
    assert not at.exception and any("3 bad record(s)" in w.value for w in at.warning)


def test_runs_page_and_home_show_damaged_runs_beside_the_others(runs_dir):
    good = finished_run(runs_dir, task="pretrain", name="good")
    summary = finished_run(runs_dir, task="pretrain", name="bad-summary")
    (summary.path / "summary.json").write_text("{not json")
    progress = finished_run(runs_dir, task="pretrain", name="bad-progress")
    runs.write_json(progress.path / "status.json", {**progress.status(), "progress": "half"})
    active = runs.create_run(JobConfig(name="bad-config"), runs_dir)
    runs.write_json(active.path / "status.json", {**active.status(), "state": "running", "pid": os.getpid()})
    (active.path / "config.json").write_text('{"task": ')
    at = page("4_Runs").run()
    assert not at.exception
    table = at.dataframe[0].value.set_index("run")
    assert table.loc[good.id, "mae_hr"] == 1.5 and pd.isna(table.loc[good.id, "problem"])
    assert "summary.json is damaged" in table.loc[summary.id, "problem"]
    assert "progress='half'" in table.loc[progress.id, "problem"]
    assert "config.json is damaged" in table.loc[active.id, "problem"]
    at.multiselect(key="runs_selected").set_value([summary.id]).run()
    assert not at.exception
    home = page("app").run()
    assert not home.exception and any(active.id in w.value and "damaged" in w.value for w in home.warning)


def test_runs_page_lists_a_damaged_run_without_crashing(runs_dir):
    finished_run(runs_dir, task="pretrain")
    bad = runs_dir / "broken-run"
    bad.mkdir()
    (bad / "config.json").write_text("{not json")
    at = page("4_Runs").run()
    assert not at.exception
    table = at.dataframe[0].value
    assert table.set_index("run").loc["broken-run", "state"] == "failed"
    json.dumps(list(table["run"]))
