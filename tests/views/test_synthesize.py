"""AppTest of the Synthesize page: labels, tabs, links, presets, data sets, and its GAN engine."""

import numpy as np
import pytest

from ecgcore import runs
from ecgcore.data import synthetic
from ecgcore.data.dataset import DataSet
from ecgcore.data.measure import INTERVAL_TARGETS, Measurements
from ecgcore.data.sources import load_dataset
from ecgcore.synth import gan

from apptest import page
from page_fixtures import labels, open_data_set, paper_svg, show_tab


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
    assert int(shown["QTc,"]) == pytest.approx(at.slider(key="qt").value, abs=8)
    assert int(shown["QT"]) != int(shown["QTc,"])
    assert any("the Bazett QTc corrects it" in c.value for c in at.caption)


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


# ---- the GAN engine ------------------------------------------------------------------------------------------

def measured(seed):
    """The page's expected labels for the GAN's record 0 of `seed`: {"HR": "71", ...} or "not measurable"."""
    _, batch = next(gan.generate(1, seed=seed, device="cpu"))
    values = synthetic.gan_labels(batch).values
    return {t.upper(): "not measurable" if np.isnan(v[0]) else f"{v[0]:.0f}" for t, v in values.items()}


def gan_page(**query):
    at = page("1_Synthesize")
    at.query_params.update({"engine": "GAN (DeepFake ECG)", **query})  # the URL holds the shown choice
    return at.run()


def shown_intervals(at):
    return {k: v for k, v in labels(at).items() if k in {t.upper() for t in INTERVAL_TARGETS}}


def test_gan_engine_draws_an_ecg_with_measured_labels():
    at = gan_page()
    assert not at.exception and not at.error
    assert shown_intervals(at) == measured(0)
    assert paper_svg(at).count("<polyline") == 13  # the 8 GAN leads as 12, on paper
    assert "measured" in at.caption[0].value and "neurokit2" in at.caption[0].value
    view_widgets = [w.key for w in (*at.slider, *at.selectbox) if not w.key.startswith("ds_")]  # not the form's
    assert view_widgets == ["fs"]  # no engine parameters, no preset


def test_new_sample_advances_the_seed_in_the_url_and_changes_the_ecg():
    at = gan_page()
    before = paper_svg(at)
    at.button(key="new_sample").click().run()
    assert not at.exception
    assert at.number_input(key="seed").value == 1 and at.query_params["seed"] == "1"
    assert paper_svg(at) != before
    assert shown_intervals(at) == measured(1)


def test_a_link_reopens_the_same_gan_ecg_with_measured_wave_marks():
    at = gan_page(seed="3", marks="true")
    assert not at.exception
    assert at.number_input(key="seed").value == 3 and shown_intervals(at) == measured(3)
    assert "QRS onset" in paper_svg(at)  # the marks, named in words


def test_a_label_neurokit2_cannot_measure_shows_as_not_measurable(monkeypatch):
    def pr_fails(signals8, fs=gan.GAN_FS):
        values = {t: np.array([np.nan if t == "pr" else 100.0]) for t in INTERVAL_TARGETS}
        return Measurements(values=values, dropped={t: int(t == "pr") for t in INTERVAL_TARGETS})

    monkeypatch.setattr(synthetic, "gan_labels", pr_fails)
    at = gan_page(seed="91")  # a seed no other test shows: the page caches records by seed
    assert not at.exception
    shown = labels(at)
    assert shown["PR"] == "not measurable" and shown["QRS"] == "100" and shown["In"] == "dropped"


def test_generate_gan_data_set_reports_kept_and_dropped_and_round_trips():
    at = open_data_set(page("1_Synthesize").run())
    at.number_input(key="ds_n").set_value(6)
    at.selectbox(key="ds_engine").set_value("gan")
    at.button[-1].click().run()  # the form's submit button
    assert not at.exception and not at.error
    spec = at.session_state["synth_dataset"]
    assert spec == {"source": "gan", "n": 6, "fs": 100, "seed": 0}
    data = load_dataset(spec)
    report = data.config["report"]
    assert report["n_kept"] == len(data) <= 6 and set(report["dropped"]) == set(INTERVAL_TARGETS)
    assert f"kept {len(data)} of 6" in at.info[0].value
    # the config rebuilds the data set (its "report" ignored), also after a save and load
    again = load_dataset(data.config)
    np.testing.assert_array_equal(again.signals, data.signals)
    assert again.config == data.config
    assert load_dataset({**spec, "report": {"anything": 1}}).config == data.config


def test_config_survives_save_and_load(tmp_path):
    data = synthetic.make_gan_dataset(n=2, fs=100, seed=5, leads="paper8")
    loaded = DataSet.load(data.save(tmp_path / "gan.npz"))
    assert loaded.config == data.config and "report" in loaded.config
    np.testing.assert_array_equal(load_dataset(loaded.config).signals, data.signals)


@pytest.mark.parametrize("choice", [{"ds_classes": ["MI"]}, {"ds_noise": False}])
def test_gan_data_set_refuses_options_it_cannot_honour(choice):
    at = open_data_set(page("1_Synthesize").run())
    at.selectbox(key="ds_engine").set_value("gan")
    for key, value in choice.items():
        (at.multiselect if key == "ds_classes" else at.toggle)(key=key).set_value(value)
    at.button[-1].click().run()
    assert not at.exception
    assert "GAN engine" in at.error[0].value and "synth_dataset" not in at.session_state


def test_synthesize_shows_the_qtc_of_the_correction_chosen(runs_dir):
    from ecgcore.synth.params import corrected_qt

    at = page("1_Synthesize")
    at.query_params.update({"qt_correction": "framingham", "qt": "420", "hr": "90"})
    at.run()
    (qtc,) = [m for m in at.metric if m.label.startswith("QTc")]
    assert qtc.label == "QTc, Framingham (ms)"  # the one the slider reads, named; not Bazett's beside it
    shown = labels(at)
    want = corrected_qt(float(shown["QT"]), "framingham", 60.0 / float(shown["HR"]))
    assert int(qtc.value) == pytest.approx(want, abs=1)
    assert int(qtc.value) == pytest.approx(420, abs=3)  # the slider's QTc, as realised
    assert not any("Bazett" in c.value for c in at.caption)
    # with the QT itself chosen, the QTc shown is Bazett's, and says so
    at.query_params.clear()
    at = page("1_Synthesize").run()
    assert [m.label for m in at.metric if m.label.startswith("QTc")] == ["QTc, Bazett (ms)"]


def test_synthesize_a_fresh_page_does_not_claim_a_preset(runs_dir):
    at = page("1_Synthesize").run()
    assert at.selectbox(key="preset").value is None  # nothing drawn yet: no class named beside "custom"
    (cls,) = [m for m in at.metric if m.label == "Class"]
    assert cls.value == "custom" and "not a preset's draw" in cls.help
    at.button(key="draw").click().run()  # nothing to draw yet: said, and nothing changes
    assert any("Choose a class in Preset" in i.value for i in at.info) and labels(at)["Class"] == "custom"
    at.selectbox(key="preset").set_value("MI").run()
    at.button(key="draw").click().run()
    assert labels(at)["Class"] == "MI" and at.selectbox(key="preset").value == "MI"


def _strip(at):
    """The rhythm strip's figure as JSON: its traces by name."""
    import json

    (chart,) = [c for c in at.get("plotly_chart") if c.proto.id and "strip" in c.proto.id] or at.get("plotly_chart")
    return {t.get("name"): t for t in json.loads(chart.proto.spec)["data"]}


def test_synthesize_a_rhythm_shows_its_strip_marks_ladder_and_criteria(runs_dir):
    at = page("1_Synthesize").run()
    assert not at.get("plotly_chart")  # sinus: the strip waits for its toggle (the first paint stays a picture)
    at.selectbox(key="rhythm").set_value("avb2_mobitz1").run()
    assert not at.exception and at.query_params["rhythm"] == "avb2_mobitz1"
    assert any("Rhythm: second-degree AV block, Mobitz I (Wenckebach)." in m.value for m in at.markdown)
    traces = _strip(at)
    assert set(traces["beats"]["text"]) == {"N"}
    assert traces["blocked"]["x"] and traces["conducted"]["x"]  # the ladder: conducted beats and blocked P waves
    assert any("the PR lengthens beat by beat" in m.value for m in at.markdown)
    # the Rhythm tab shows this rhythm's own parameters, not every rhythm's
    assert [s.key for s in at.slider] == ["hr", "hrv", "pr_step"] and at.selectbox(key="av_ratio")
    at.selectbox(key="rhythm").set_value("afib").run()
    assert labels(at)["PR"] == "none" and [s.key for s in at.slider] == ["hr", "f_rate", "f_amp"]  # no hrv: its own
    at.toggle(key="atrial_marks").set_value(True).run()
    assert "atrial" not in _strip(at)  # fibrillation: no P or F wave to mark


def test_synthesize_a_rhythm_preset_draws_its_ranges_and_a_link_reopens_it(runs_dir):
    at = page("1_Synthesize").run()
    at.selectbox(key="rhythm").set_value("vt").run()
    at.button(key="draw_rhythm").click().run()
    assert not at.exception
    vt_rate = at.slider(key="vt_rate").value
    assert 130 <= vt_rate <= 220 and at.query_params["vt_rate"] == f"{vt_rate:g}"
    assert set(_strip(at)["beats"]["text"]) == {"V"}
    linked = page("1_Synthesize")
    linked.query_params.update({"rhythm": "vt", "vt_rate": f"{vt_rate:g}"})
    linked.run()
    assert labels(linked)["HR"] == labels(at)["HR"] or abs(int(labels(linked)["HR"]) - vt_rate) <= 3


def test_synthesize_quiz_hides_the_answer_until_asked_and_its_link_reproduces_it(runs_dir):
    from ecgcore.synth.presets import quiz
    from ecgcore.synth.rhythms import CRITERIA

    at = page("1_Synthesize")
    at.query_params.update({"mode": "Quiz", "quiz": "5"})
    at.run()
    assert not at.exception and not at.success
    rhythm = quiz(5)[0]
    assert set(_strip(at)) == {"II"}  # the strip alone: no beat symbols, no ladder before the answer
    assert not at.metric and not any("Rhythm:" in m.value for m in at.markdown)
    picture = paper_svg(at)
    again = page("1_Synthesize")
    again.query_params.update({"mode": "Quiz", "quiz": "5"})
    assert paper_svg(again.run()) == picture  # the same number, the same ECG
    wrong = next(r for r in CRITERIA if r != rhythm)
    at.selectbox(key="quiz_answer").set_value(wrong).run()
    at.button(key="reveal").click().run()
    (said,) = at.success
    assert f"Not {CRITERIA[wrong][0]}" in said.value and CRITERIA[rhythm][0] in said.value
    assert "beats" in _strip(at)
    at.button(key="next_quiz").click().run()
    assert at.query_params["quiz"] == "6" and not at.success


def test_synthesize_generates_a_rhythm_data_set(runs_dir):
    at = open_data_set(page("1_Synthesize").run())
    at.number_input(key="ds_n").set_value(24)
    at.multiselect(key="ds_rhythms").set_value(["afib", "pvc"])
    at.button[-1].click().run()
    assert not at.exception and not at.error
    spec = at.session_state["synth_dataset"]
    assert spec["rhythms"] == ["afib", "pvc"] and load_dataset(spec).class_names == ("afib", "pvc")
    hist = at.get("plotly_chart")[-1].proto.spec.replace(" ", "")
    assert '"name":"afib"' in hist and '"name":"pvc"' in hist
    assert any("the label is the rhythm" in c.value for c in at.caption)
