"""AppTest of the Synthesize page's GAN engine: one ECG with measured labels, "New sample", GAN data sets."""

import numpy as np
import pytest

from ecgcore.data.dataset import DataSet
from ecgcore.data.measure import INTERVAL_TARGETS, Measurements
from ecgcore.data import synthetic
from ecgcore.data.sources import load_dataset
from ecgcore.synth import gan
from test_pages import labels, open_data_set, page, paper_svg


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
