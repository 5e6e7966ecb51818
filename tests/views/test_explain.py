"""AppTest of the Explain page: saliency overlay, shares per wave, side by side, links."""

import pytest

from ecgcore import jobs, runs

from apptest import page


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
    assert shares["share of |attribution|"].sum() == pytest.approx(100.0)  # percents, shown with one decimal
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
    import json

    legend = {t["name"] for t in json.loads(at.get("plotly_chart")[-1].proto.spec)["data"]}
    names = legend - {"share of time"}  # runs named as people do: by name (or what they train) and start time
    assert len(names) == 2 and all(any(n.startswith(runs.title(r)) for r in (pre, other)) for n in names)


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


def study_of_tiny_runs(pre, npz):
    """A sweep whose cells (a transfer arm and its random-init control, two seeds) trained for real."""
    from ecgcore import sweep
    from run_fixtures import tiny_config

    config = sweep.SweepConfig(base=tiny_config(npz, task="finetune", epochs=1), fractions=[1.0], seeds=[0, 1],
                               arms=sweep.with_controls([sweep.Arm("freeze_first_block", [str(pre.path)])],
                                                        random_probe=False), name="tiny study")
    s = sweep.create_sweep(config, runs.default_runs_dir())
    for cell in s.cells():
        assert jobs.run_job(runs.default_runs_dir() / cell["run_id"]) == "done"
    return s


def test_explain_opens_on_a_trained_model_and_groups_a_studys_runs(tiny_runs):
    pre, npz = tiny_runs
    s = study_of_tiny_runs(pre, npz)
    controls = [c["run_id"] for c in s.cells() if c["arm"] != "freeze_first_block:" + pre.path.name]
    at = page("6_Explain").run()
    assert not at.exception and not at.error
    assert at.selectbox(key="ex_run").value not in controls  # the newest run is a control: not opened first
    assert "tiny study" in at.selectbox(key="ex_run_study").options
    at.selectbox(key="ex_run_study").set_value("tiny study").run()
    shown = at.selectbox(key="ex_run").options
    assert len(shown) == 4 and all("tiny study" in o and "100% of labels · seed" in o for o in shown)
    assert all(pre.id not in o for o in shown)  # named in words, not by run ids
    at.text_input(key="ex_run_filter").input("Random INIT").run()  # words, any case
    controls_shown = at.selectbox(key="ex_run").options
    assert len(controls_shown) == 2 and all("random init" in o for o in controls_shown)
    at.text_input(key="ex_run_filter").input("no such words").run()
    assert any("No finished run matches" in i.value for i in at.info)
