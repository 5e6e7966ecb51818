"""AppTest of the Data efficiency and Explain pages: they render, show a sweep's results and explain a run."""

import pytest

from ecgcore import files, jobs, runs, sweep

from apptest import page


@pytest.fixture
def runs_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("ECGCORE_RUNS", str(tmp_path / "runs"))
    monkeypatch.setattr(jobs, "start_queued", lambda runs_dir=None: [])  # no job process: the test fills runs
    return tmp_path / "runs"


@pytest.fixture
def tiny_runs(runs_dir, tmp_path):
    """A done pretraining run (trained in-process, tiny) and the npz it trained on."""
    from run_fixtures import tiny_config, tiny_dataset_npz

    npz = tiny_dataset_npz(tmp_path / "tiny.npz", n=30)
    pre = runs.create_run(tiny_config(npz, targets=["hr", "qrs"], epochs=1), runs_dir)
    assert jobs.run_job(pre.path) == "done"
    return pre, npz


def values(array):
    """A plotly JSON array: a list, or plotly 6's typed array {"dtype", "bdata" (base64)}."""
    import base64

    import numpy as np

    if isinstance(array, dict):
        return np.frombuffer(base64.b64decode(array["bdata"]), dtype=array["dtype"])
    return np.asarray(array, dtype=float)


def fake_done(run, accuracy):
    """Mark a queued cell done with a hand-written summary (the page reads only status and summary)."""
    files.write_json(run.path / "summary.json", {"test": {"accuracy": accuracy, "macro_auroc": accuracy}})
    run.update_status(state="done", progress=1.0)


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
    gains, table = at.table[0].value, at.dataframe[0].value
    assert gains.iloc[0]["100%"].startswith("+0.020 [") and "vs control +0.073 [" in gains.iloc[0]["100%"]
    arms = set(table["Arm"])
    assert arms == {"scratch", named, "random init, first block frozen"}  # not freeze_first_block:2026...
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
    assert "2 fractions x 3 arms x 2 seeds = **12 runs**" in " ".join(c.value for c in at.caption)
    at.checkbox(key="de_controls").uncheck().run()
    assert "2 fractions x 2 arms x 2 seeds = **8 runs**" in " ".join(c.value for c in at.caption)
    at.checkbox(key="de_controls").check().run()
    at.button(key="de_start").click().run()
    assert not at.exception and not at.error
    (s,) = sweep.list_sweeps(runs_dir)
    assert len(s.cells()) == 12 and s.config.base.arch == "small_cnn"
    assert [(a.strategy, a.init) for a in s.config.arms] == [
        ("scratch", "pretrained"), ("freeze_first_block", "pretrained"), ("freeze_first_block", "random")]
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
    assert "2 fractions x 8 arms x 1 seeds = **16 runs**" in " ".join(c.value for c in at.caption)
    at.button(key="de_start").click().run()
    assert not at.exception and not at.error
    (s,) = sweep.list_sweeps(runs_dir)
    assert [a.strategy for a in s.config.arms] == ["scratch", *["freeze_first_block"] * 4, "combined",
                                                   "freeze_first_block", "combined"]
    assert s.config.controls() == {**{a.name: "random init, first block frozen" for a in s.config.arms[1:5]},
                                   s.config.arms[5].name: "random init, combined x4"}


def test_explain_renders_overlay_shares_and_side_by_side(tiny_runs):
    pre, _ = tiny_runs
    at = page("6_Explain").run()
    assert not at.exception
    at.selectbox(key="ex_method").set_value("gradcam")
    at.selectbox(key="ex_target").set_value("qrs")
    at.selectbox(key="ex_preset").set_value("CD")
    at.run()
    assert not at.exception and not at.error
    assert any("output **QRS duration**" in m.value for m in at.markdown)
    # the choices live in the URL, as codes
    assert (at.query_params["run"], at.query_params["method"], at.query_params["output"]) == (pre.id, "gradcam", "qrs")
    shares = at.dataframe[0].value
    assert list(shares.wave) == ["P", "QRS", "ST-T", "baseline"]
    assert shares["share of |attribution|"].sum() == pytest.approx(1.0)
    # a second run on the same record, side by side
    from run_fixtures import tiny_config

    other = runs.create_run(tiny_config(pre.config.data["path"], targets=["hr", "qrs"], epochs=1, seed=1),
                            runs.default_runs_dir())
    assert jobs.run_job(other.path) == "done"
    at.run()
    at.selectbox(key="ex_other").set_value(other.id)
    at.run()
    assert not at.exception and not at.error
    assert len(at.dataframe) == 2 and any("side by side" in h.value for h in at.subheader)


def test_explain_lists_runs_newest_first_and_a_link_reopens_the_choices(tiny_runs):
    from run_fixtures import tiny_config

    pre, npz = tiny_runs
    newer = runs.create_run(tiny_config(npz, targets=["hr", "qrs"], epochs=1, seed=2, name="newer"),
                            runs.default_runs_dir())
    assert jobs.run_job(newer.path) == "done"
    at = page("6_Explain").run()
    assert not at.exception
    assert at.selectbox(key="ex_run").options[:2] == [runs.title(newer), runs.title(pre)]  # newest first
    assert at.selectbox(key="ex_run").value == newer.id
    link = page("6_Explain")
    link.query_params.update({"run": pre.id, "method": "saliency", "output": "hr"})
    link.run()
    assert not link.exception
    assert (link.selectbox(key="ex_run").value, link.selectbox(key="ex_method").value,
            link.selectbox(key="ex_target").value) == (pre.id, "saliency", "hr")
