"""AppTest of the Pretrain page: defaults, starting runs, the paper's setup, a finished run's results."""

import pytest

from ecgcore import jobs, runs

from apptest import page
from page_fixtures import finished_run


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


def test_pretrain_rhythms_offer_the_rhythm_targets(runs_dir, monkeypatch):
    monkeypatch.setenv("ECGCORE_MAX_JOBS", "1")
    at = page("2_Pretrain").run()
    assert "rr_cv" not in at.multiselect(key="pt_targets").options  # a sinus set has no rhythm targets
    at.toggle(key="pt_rhythms").set_value(True).run()
    box = at.multiselect(key="pt_targets")
    assert "R-R irregularity (coefficient of variation) (share)" in box.options
    box.set_value(["hr", "rr_cv", "beats_ventricular"]).run()
    at.number_input(key="pt_n").set_value(100)
    at.number_input(key="pt_epochs").set_value(1)
    at.button(key="pt_start").click().run()
    assert not at.exception and not at.error
    (run,) = runs.list_runs(runs_dir)
    assert run.config.data["rhythms"] == "all" and run.config.targets == ["hr", "rr_cv", "beats_ventricular"]


def test_pretrain_says_how_long_before_it_starts(runs_dir):
    at = page("2_Pretrain").run()
    assert any("not known yet" in c.value for c in at.caption)  # nothing like it has run here
    from ecgcore.config import JobConfig
    from ecgcore.data.sources import DEFAULT_PRETRAIN_DATA

    done = runs.create_run(JobConfig(task="pretrain", data=dict(DEFAULT_PRETRAIN_DATA), epochs=10), runs_dir)
    for epoch in (1, 2):
        done.append_metrics({"epoch": epoch, "train_loss": 1.0, "val_loss": 1.0, "time_s": 30.0})
    done.update_status(state="done")
    at.run()
    assert any("On this machine: about 5 min at most, from 1 earlier run" in c.value for c in at.caption)


def test_a_reload_shows_the_settings_of_the_run_in_the_link(runs_dir):
    from ecgcore.config import JobConfig

    run = runs.create_run(JobConfig(task="pretrain", data={"source": "synthetic", "n": 700, "fs": 250, "seed": 9},
                                    targets=["hr", "qt"], epochs=7, seed=3, lr=0.003, arch="resnet1d"), runs_dir)
    at = page("2_Pretrain")
    at.query_params["run"] = run.id  # a reload: a new session, the link keeps the run
    at.run()
    assert not at.exception and not at.warning
    assert (at.number_input(key="pt_n").value, at.selectbox(key="pt_fs").value) == (700, 250)
    assert at.number_input(key="pt_data_seed").value == 9 and at.multiselect(key="pt_targets").value == ["hr", "qt"]
    assert (at.number_input(key="pt_epochs").value, at.number_input(key="pt_seed").value) == (7, 3)
    assert at.selectbox(key="pt_arch").value == "resnet1d" and at.number_input(key="pt_lr").value == 0.003
    at.number_input(key="pt_epochs").set_value(12).run()  # the session's own changes are kept from then on
    assert at.number_input(key="pt_epochs").value == 12


def test_a_reload_of_a_run_the_form_cannot_show_keeps_the_defaults_for_those_fields(runs_dir):
    from ecgcore.config import JobConfig

    run = runs.create_run(JobConfig(task="pretrain", data={"source": "synthetic", "n": 50, "fs": 300, "seed": 1},
                                    epochs=1000, seed=4), runs_dir)  # made from the command line
    at = page("2_Pretrain")
    at.query_params["run"] = run.id
    at.run()
    assert not at.exception
    assert at.number_input(key="pt_n").value == 2000 and at.number_input(key="pt_epochs").value == 10
    assert at.selectbox(key="pt_fs").value == 100 and at.number_input(key="pt_seed").value == 4
