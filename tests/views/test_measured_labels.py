"""AppTest of views/7_Measured_labels.py: a measured-label pretraining job from a PTB-XL folder, the error table."""

from ecgcore import runs
from ecgcore.data.sources import load_dataset
from ptbxl_fixture import make_ptbxl_fixture

from apptest import page


def start(folder, ratio=1.0, morphology=True):
    """The page after Start pretraining was clicked with these choices."""
    at = page("7_Measured_labels").run()
    at.text_input(key="ml_folder").input(str(folder)).run()
    at.slider(key="ml_ratio").set_value(ratio).run()
    if not morphology:
        at.checkbox(key="ml_morphology").uncheck().run()
    return at.button(key="ml_start").click().run()


def test_refuses_a_folder_that_is_not_ptbxl(runs_dir, tmp_path):  # noqa: F811
    at = start(tmp_path)
    assert "not a PTB-XL folder" in at.error[0].value
    assert runs.list_runs(runs_dir) == []


def test_starts_a_measured_pretraining_on_training_folds(runs_dir, tmp_path):  # noqa: F811
    at = start(make_ptbxl_fixture(tmp_path / "ptbxl", n_per_class=1, folds=(1, 9, 10), bad_record=False))
    assert not at.error
    (run,) = runs.list_runs(runs_dir)
    config = run.config
    assert config.task == "pretrain" and config.data["source"] == "measured"
    assert (config.data["val_fold"], config.data["test_fold"]) == (None, None)  # auto: 9 and 10 here
    data = load_dataset(config.data)
    assert data.config["folds"] == [1] and (data.config["val_fold"], data.config["test_fold"]) == (9, 10)
    assert {"hr", "qt", "r_amp_V1", "qrs_axis"} <= set(config.targets)


def test_refuses_folds_that_clash(runs_dir, tmp_path):  # noqa: F811
    at = page("7_Measured_labels").run()
    at.text_input(key="ml_folder").input(str(make_ptbxl_fixture(tmp_path / "ptbxl", n_per_class=1,
                                                                folds=(1, 8, 9), bad_record=False))).run()
    at.selectbox(key="ml_test_fold").set_value(8).run()  # auto validation is fold 8 without fold 10
    at.button(key="ml_start").click().run()
    assert "both mean fold 8" in at.error[0].value
    assert runs.list_runs(runs_dir) == []


def test_mixing_with_synthetic_records_and_the_error_table(runs_dir, tmp_path):  # noqa: F811
    root = make_ptbxl_fixture(tmp_path / "ptbxl", n_per_class=1, folds=(1, 9, 10), bad_record=False)
    at = start(root, ratio=0.5, morphology=False)
    (run,) = runs.list_runs(runs_dir)
    assert run.config.data["source"] == "mixed" and run.config.data["ratio"] == 0.5
    assert run.config.targets == ["hr", "pr", "qrs", "qt"]
    at.number_input(key="ml_err_n").set_value(20).run()
    at.selectbox(key="ml_err_fs").set_value(100).run()
    at.button(key="ml_measure").click().run()
    table = at.dataframe[0].value
    assert set(table["Measured"]) >= {"Heart rate", "PR interval", "QRS duration", "QT interval", "QRS axis"}
    assert set(table["Noise"]) == {"noise-free", "default noise"}
    assert (table.loc[table["Measured"] == "Heart rate", "Median |error|"] < 5).all()
