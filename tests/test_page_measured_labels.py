"""AppTest of pages/7_Measured_labels.py: a measured-label pretraining job from a PTB-XL folder, the error table."""

import pytest
from streamlit.testing.v1 import AppTest

from ecgcore import jobs, runs
from ptbxl_fixture import make_ptbxl_fixture


@pytest.fixture
def runs_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("ECGCORE_RUNS", str(tmp_path / "runs"))
    yield tmp_path / "runs"
    for run in runs.list_runs(tmp_path / "runs"):  # never leave a job behind
        jobs.cancel(run)


def page():
    return AppTest.from_file("../pages/7_Measured_labels.py", default_timeout=60).run()


def test_refuses_a_folder_that_is_not_ptbxl(runs_dir, tmp_path):
    at = page()
    at.text_input(key="ml_folder").input(str(tmp_path)).run()
    at.button(key="ml_start").click().run()
    assert "not a PTB-XL folder" in at.error[0].value
    assert runs.list_runs(runs_dir) == []


def test_starts_a_measured_pretraining_on_training_folds(runs_dir, tmp_path):
    root = make_ptbxl_fixture(tmp_path / "ptbxl", n_per_class=1, folds=(1, 9, 10), bad_record=False)
    at = page()
    at.text_input(key="ml_folder").input(str(root)).run()
    at.number_input(key="ml_val_fold").set_value(9).run()
    at.button(key="ml_start").click().run()
    assert not at.error
    (run,) = runs.list_runs(runs_dir)
    config = run.config
    assert config.task == "pretrain" and config.data["source"] == "measured"
    assert (config.data["val_fold"], config.data["test_fold"]) == (9, 10)
    assert {"hr", "qt", "r_amp_V1", "qrs_axis"} <= set(config.targets)


def test_mixing_with_synthetic_records_and_the_error_table(runs_dir, tmp_path):
    root = make_ptbxl_fixture(tmp_path / "ptbxl", n_per_class=1, folds=(1, 9, 10), bad_record=False)
    at = page()
    at.text_input(key="ml_folder").input(str(root)).run()
    at.slider(key="ml_ratio").set_value(0.5).run()
    at.checkbox(key="ml_morphology").uncheck().run()
    at.button(key="ml_start").click().run()
    (run,) = runs.list_runs(runs_dir)
    assert run.config.data["source"] == "mixed" and run.config.data["ratio"] == 0.5
    assert run.config.targets == ["hr", "pr", "qrs", "qt"]
    at.number_input(key="ml_err_n").set_value(20).run()
    at.selectbox(key="ml_err_fs").set_value(100).run()
    at.button(key="ml_measure").click().run()
    table = at.dataframe[0].value
    assert set(table.target) >= {"hr", "pr", "qrs", "qt", "qrs_axis"}
    assert set(table.noise) == {"noise-free", "default noise"}
    assert (table.loc[table.target == "hr", "median |error|"] < 5).all()
