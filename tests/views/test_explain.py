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
