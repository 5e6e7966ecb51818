"""ecgcore.explain: attribution shapes, Integrated Gradients completeness, wave labels and shares, and a
trained QRS-duration regressor that looks at the QRS."""

import numpy as np
import pytest
import torch

from ecgcore import explain as ex
from ecgcore.config import JobConfig
from ecgcore.models import build_model


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return build_model("small_cnn", 12, 3).eval()


@pytest.fixture(scope="module")
def record():
    return np.random.default_rng(0).normal(size=(12, 200)).astype(np.float32)


@pytest.mark.parametrize("method", ex.METHODS)
def test_attributions_have_the_input_shape(model, record, method):
    one = ex.explain(model, record, method, target=1)
    batch = ex.explain(model, np.stack([record, record[:, ::-1]]), method, target=1)
    assert one.shape == record.shape and batch.shape == (2, *record.shape)
    assert np.isfinite(one).all() and np.abs(one).sum() > 0
    np.testing.assert_allclose(batch[0], one, rtol=1e-3, atol=1e-6)  # a record is explained on its own


def test_gradcam_is_one_map_for_every_lead(model, record):
    cam = ex.explain(model, record, "gradcam", target=0)
    np.testing.assert_array_equal(cam, np.broadcast_to(cam[0], cam.shape))


def test_bad_method_and_target_are_clear_errors(model, record):
    with pytest.raises(ValueError, match="method='lime'"):
        ex.explain(model, record, "lime")
    with pytest.raises(ValueError, match="target=3 is out of range"):
        ex.explain(model, record, "saliency", target=3)
    with pytest.raises(ValueError, match="x must be"):
        ex.explain(model, record[0], "saliency")


def test_wave_labels_and_shares_on_hand_fiducials():
    fs, n = 100, 100  # one beat: P 0.10-0.20 s, QRS 0.30-0.40 s, ST-T to 0.70 s
    fid = {"p_on": [0.1], "p_off": [0.2], "qrs_on": [0.3], "qrs_off": [0.4], "t_off": [0.7]}
    labels = ex.wave_labels(fid, n, fs)
    P, QRS, STT, BASE = range(4)
    assert (labels[10:21] == P).all() and (labels[30:41] == QRS).all() and (labels[41:71] == STT).all()
    assert labels[25] == BASE and labels[75] == BASE and labels[9] == BASE
    attr = np.zeros((2, n))
    attr[0, 35] = 3.0  # QRS
    attr[1, 50] = -1.0  # ST-T, negative: shares count |attribution|
    shares = ex.wave_shares(attr, labels)
    assert shares["QRS"]["share"] == pytest.approx(0.75) and shares["ST-T"]["share"] == pytest.approx(0.25)
    assert shares["P"]["share"] == 0 and shares["QRS"]["time"] == pytest.approx(0.11)
    assert sum(s["time"] for s in shares.values()) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="lack 'p_on'"):
        ex.wave_labels({"qrs_on": [0.3]}, n, fs)


N_TRAIN, N_EXPLAIN = 300, 8


@pytest.fixture(scope="module")
def qrs_regressor():
    """small_cnn trained (seeded, a few epochs) to read QRS duration from synthetic ECGs whose QRS width
    varies, and held-out records with their ground-truth fiducials, preprocessed as in training."""
    from ecgcore.data.dataset import DataSet
    from ecgcore.data.preprocess import preprocess
    from ecgcore.synth import synthesize
    from ecgcore.train import fit

    n = N_TRAIN + N_EXPLAIN
    rng = np.random.default_rng(0)
    syn = synthesize({"qrs": rng.uniform(60, 160, n), "hr": rng.uniform(55, 95, n)}, n=n, fs=100, duration=5,
                     seed=0)
    train_set = DataSet(signals=syn.signals[:N_TRAIN], fs=syn.fs, lead_names=syn.lead_names,
                        targets={"qrs": syn.labels["qrs"][:N_TRAIN]})
    config = JobConfig(task="pretrain", targets=["qrs"], epochs=6, lr=3e-3, patience=0, seed=0, device="cpu")
    result = fit(config, train_set, log=lambda *a: None)
    x, fs, _ = preprocess(syn.signals[N_TRAIN:], syn.fs, syn.lead_names, config.preprocess)
    return result, x, fs, [syn.marks(i) for i in range(N_TRAIN, n)]


def test_integrated_gradients_completeness(qrs_regressor):
    # sum of attributions = output(x) - output(zero baseline), in the regression's clinical units (ms)
    result, x, _, _ = qrs_regressor
    model = result.model
    attr = ex.explain(model, x[:2], "integrated_gradients", target=0, regression=True, n_steps=64)
    with torch.no_grad():
        gap = (model.regress(torch.tensor(x[:2])) - model.regress(torch.zeros_like(torch.tensor(x[:2]))))[:, 0]
    assert (gap.abs() > 1).all()  # a real difference to account for, not 0 ~= 0
    np.testing.assert_allclose(attr.sum(axis=(1, 2)), gap.numpy(), rtol=0.02)


def test_qrs_regressor_attends_to_the_qrs(qrs_regressor):
    result, x, fs, fiducials = qrs_regressor
    assert result.summary["test"]["r2_qrs"] > 0.5  # it did learn to read the QRS width
    attr = ex.explain(result.model, x, "integrated_gradients", target=0, regression=True, n_steps=16)
    shares = [ex.wave_shares(a, ex.wave_labels(f, x.shape[-1], fs))
              for a, f in zip(attr, fiducials)]
    qrs = np.array([s["QRS"]["share"] for s in shares])
    base = np.array([s["baseline"]["share"] for s in shares])
    # on every held-out record, not just on average, though the QRS covers far less time than the baseline
    assert (qrs > base).all(), (qrs, base)
    assert np.mean([s["QRS"]["time"] for s in shares]) < np.mean([s["baseline"]["time"] for s in shares])


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    """A real run folder (tiny pretraining on HR, QRS, run in-process) that load_model can read."""
    from run_fixtures import tiny_config, tiny_dataset_npz

    from ecgcore import jobs, runs

    tmp = tmp_path_factory.mktemp("explain-run")
    npz = tiny_dataset_npz(tmp / "tiny.npz", n=30)
    run = runs.create_run(tiny_config(npz, targets=["hr", "qrs"], epochs=1), tmp / "runs")
    assert jobs.run_job(run.path) == "done"
    return run, npz


def test_cli_writes_attributions_and_wave_shares(finished_run, tmp_path, capsys):
    from ecgcore.cli import main

    run, _ = finished_run
    out = tmp_path / "out" / "qrs_ig"
    assert main(["explain", "--run", str(run.path), "--record", "synthetic:CD:2", "--method", "gradcam",
                 "--target", "qrs", "--out", str(out)]) == 0
    with np.load(out.with_suffix(".npz")) as z:
        assert z["attributions"].shape == z["signal"].shape == (12, 1000) and float(z["fs"]) == 100
        assert z["wave_labels"].shape == (1000,)
    meta = __import__("json").loads(out.with_suffix(".json").read_text())
    assert meta["target"] == 1 and meta["output_name"] == "qrs" and meta["method"] == "gradcam"
    assert sum(s["share"] for s in meta["shares"].values()) == pytest.approx(1.0)
    assert "QRS" in capsys.readouterr().out
    assert main(["explain", "--run", str(run.path), "--record", "synthetic:XYZ", "--out", str(out)]) == 2
    assert "XYZ" in capsys.readouterr().err


def test_real_record_without_delineation_says_so(finished_run):
    # the tiny set's records are sines: neurokit2 finds no P/QRS/T, so no shares, and a note says why
    run, npz = finished_run
    record = ex.load_record({"data": {"source": "npz", "path": str(npz)}, "index": 3})
    result = ex.explain_run(run.path, record, "saliency", "hr")
    assert result.attributions.shape == result.signal.shape == (12, 200)
    assert result.target == 0 and result.output_name == "hr"
    assert result.shares is None and "neurokit2 could not delineate lead II" in result.note
    with pytest.raises(ValueError, match="out of range: the data set has 30 records"):
        ex.load_record({"data": {"source": "npz", "path": str(npz)}, "index": 30})


def test_a_record_at_another_rate_is_resampled_to_the_runs(finished_run):
    # the run trained on a 100 Hz .npz and kept its rate (preprocess.fs None): a 500 Hz upload is fed at 100 Hz
    from ecgcore.data.sources import data_rate

    run, npz = finished_run
    assert data_rate(run.config.data) == 100.0
    syn = ex.load_record({"source": "synthetic", "seed": 1, "fs": 500, "duration": 4.0})
    result = ex.explain_run(run.path, syn, "saliency", "qrs")
    assert result.fs == 100 and result.signal.shape == (12, 400) and result.labels.shape == (400,)
    assert result.shares["QRS"]["time"] > 0.05  # wave labels placed at the new rate, not the record's


def test_data_rate_reads_specs_without_building_them(tmp_path):
    from ecgcore.data.sources import DEFAULT_PRETRAIN_DATA, data_rate

    assert data_rate({"source": "ptbxl", "path": "/nowhere"}) == 100.0  # load_ptbxl's default
    assert data_rate({"source": "gan", "fs": 250}) == 250.0 and data_rate(DEFAULT_PRETRAIN_DATA) == 100.0
    assert data_rate({"source": "synthetic", "stream": True, "n": 1000}) == 100.0  # make_dataset's default
    assert data_rate({"source": "mixed", "real": {"path": "/nowhere", "fs": 500}}) == 500.0
    with pytest.raises(ValueError, match="unknown data source 'nope'"):
        data_rate({"source": "nope"})


def test_data_rate_of_a_data_set_folder(tmp_path):
    from ecgcore.data.dataset import DataSet
    from ecgcore.data.sources import data_rate
    from ecgcore.leads import LEADS

    folder = tmp_path / "set"
    DataSet(signals=np.zeros((2, 12, 250)), fs=250.0, lead_names=LEADS).save(folder)
    assert data_rate({"source": "npz", "path": str(folder)}) == 250.0


def test_a_class_never_seen_in_training_is_never_the_explained_prediction(tmp_path):
    """The fine-tuned model's masked classes (summary "classes_unseen_in_training") score 0 here too, as in its
    test metrics: Explain and Your ECG never show a class the model never learnt as its prediction."""
    from run_fixtures import tiny_config, tiny_dataset_npz

    from ecgcore import files, jobs, runs

    npz = tiny_dataset_npz(tmp_path / "tiny.npz", n=30)
    run = runs.create_run(tiny_config(npz, task="finetune", epochs=1), tmp_path / "runs")
    assert jobs.run_job(run.path) == "done"
    record = ex.load_record({"data": {"source": "npz", "path": str(npz)}, "index": 0})
    free = ex.explain_run(run.path, record, "saliency")
    summary = files.read_json(run.summary_path)
    names = summary["class_names"]
    files.write_json(run.summary_path, {**summary, "classes_unseen_in_training": [names[free.target]]})
    masked = ex.explain_run(run.path, record, "saliency")
    assert masked.target != free.target  # the predicted class is another now
    assert ex.explain_run(run.path, record, "saliency", target=names[free.target]).output == 0.0
