"""AppTest of the Runs page: list, filter, compare, download, delete, damaged runs."""

import json
import os

import pandas as pd

from ecgcore import files, runs
from ecgcore.config import JobConfig

from apptest import page
from page_fixtures import finished_run


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
    assert list(diff.index) == ["Learning rate", "Name"]  # fields in words, runs by name and start time
    assert list(diff.columns) == [runs.title(a), runs.title(b)]
    assert len(at.get("plotly_chart")) == 1


def test_runs_compare_names_strategies_and_pretrained_runs_in_words(runs_dir):
    pre = finished_run(runs_dir, task="pretrain", name="the regressor")
    scratch = finished_run(runs_dir, task="finetune", strategy="scratch")
    transfer = finished_run(runs_dir, task="finetune", strategy="freeze_first_block", pretrained=[str(pre.path)])
    at = page("4_Runs").run()
    at.multiselect(key="runs_selected").set_value([scratch.id, transfer.id]).run()
    diff = at.dataframe[1].value
    assert diff.loc["Strategy"].tolist() == ["from scratch", "freeze first block"]
    assert diff.loc["Pretrained runs"].tolist() == ["none", runs.title(pre)]  # not a folder path
    assert str(runs_dir) not in diff.to_string()


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


def test_runs_page_draws_every_run_when_some_have_a_field_of_the_wrong_type(runs_dir):
    from run_fixtures import bad_fields_runs

    _, healthy, bad = bad_fields_runs(runs_dir)
    at = page("4_Runs").run()
    assert not at.exception and not at.error
    table = at.dataframe[0].value.set_index("run")
    assert {healthy.id, *(run.id for run in bad.values())} <= set(table.index)
    for run in bad.values():  # each one open on its own, then beside the healthy one: never a traceback
        for chosen in ([run.id], [healthy.id, run.id]):
            at.multiselect(key="runs_selected").set_value(chosen).run()
            assert not at.exception, (run.id, at.exception)


def test_runs_table_leaves_blank_what_a_run_has_not(runs_dir):
    pre = finished_run(runs_dir, task="pretrain", name="pre")
    fine = finished_run(runs_dir, task="finetune", name="fine", fraction=0.25)
    at = page("4_Runs").run()
    table = at.dataframe[0].value.set_index("run")
    assert pd.isna(table.loc[pre.id, "fraction"]) and table.loc[fine.id, "fraction"] == 0.25
    assert pd.isna(table.loc[pre.id, "accuracy"]) and "None" not in table.astype(str).to_numpy().ravel().tolist()


def test_runs_page_downloads_the_metrics_of_several_runs_in_one_csv(runs_dir):
    a = finished_run(runs_dir, task="pretrain", name="alpha")
    b = finished_run(runs_dir, task="pretrain", name="beta")
    at = page("4_Runs").run()
    at.multiselect(key="runs_selected").set_value([a.id, b.id]).run()
    assert not at.exception
    (button,) = [d for d in at.get("download_button") if d.proto.label == "Metrics of these runs (CSV)"]
    assert button.proto.label
