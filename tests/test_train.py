import json

import numpy as np
import pytest
import torch

from ecgcore import train
from ecgcore.config import JobConfig, Preprocess
from ecgcore.data.dataset import DataSet
from ecgcore.labels import CLASS_NAMES
from ecgcore.leads import LEADS
from ecgcore.models import first_block
from ecgcore.train import Cancelled, fit, load_model, save_model

QUIET = {"log": lambda *a: None}


def sine_set(n=60, seed=0, fold=None):
    """Records whose rhythm is a sine at the heart rate: HR is learnable; classes follow HR."""
    rng = np.random.default_rng(seed)
    fs, length = 100, 150
    hr = rng.uniform(50, 120, n)
    t = np.arange(length) / fs
    wave = np.sin(2 * np.pi * (hr / 60)[:, None, None] * t) * rng.uniform(0.5, 1.5, (n, 12, 1))
    signals = wave + 0.05 * rng.standard_normal((n, 12, length))
    label = np.digitize(hr, [65, 80, 95, 110])
    multilabel = np.eye(5, dtype=np.uint8)[label]
    qt = np.where(rng.random(n) < 0.3, np.nan, 450 - hr)  # measured targets have gaps
    return DataSet(signals, fs, LEADS, targets={"hr": hr, "pr": 160 + 0 * hr, "qrs": 90 + 0 * hr, "qt": qt},
                   label=label, multilabel=multilabel, fold=fold)


def config(**kw):
    base = dict(task="pretrain", arch="small_cnn", epochs=2, batch_size=16, lr=3e-3, patience=0)
    return JobConfig(**{**base, **kw})


def as_run(result, cfg, run_dir):
    run_dir.mkdir(parents=True)
    (run_dir / "config.json").write_text(cfg.to_json())
    save_model(result.model, run_dir / "model.pt")
    return run_dir


@pytest.fixture(scope="module")
def pretrained(tmp_path_factory):
    """Two single-target regressor runs (hr, qt) on 12 leads."""
    root = tmp_path_factory.mktemp("runs")
    runs = []
    for target in ("hr", "qt"):
        cfg = config(targets=[target], epochs=1)
        runs.append(as_run(fit(cfg, sine_set(40), **QUIET), cfg, root / target))
    return runs


def test_pretraining_lowers_the_loss_and_reports_clinical_units():
    batches, epochs = [], []
    result = fit(config(epochs=3, targets=["hr", "qt"]), sine_set(), on_batch=lambda *a: batches.append(a),
                 on_epoch=epochs.append, **QUIET)
    losses = [h["train_loss"] for h in result.history]
    assert losses[-1] < losses[0]
    assert epochs == result.history and len(batches) == 3 * batches[0][2]
    assert {"epoch", "train_loss", "val_loss", "lr", "time_s", "val_mae_hr", "val_mae_qt"} <= set(epochs[0])
    test = result.summary["test"]
    assert test["n_qt"] < result.summary["n_test"]  # missing QT values are left out, not scored as 0
    assert result.predictions["y_pred"].shape == (result.summary["n_test"], 2)
    assert np.allclose(result.predictions["y_true_hr"], result.predictions["y_true"][:, 0])
    # predictions are de-standardised: near the range of the truth, not around 0
    assert abs(result.predictions["y_pred_hr"].mean() - result.predictions["y_true_hr"].mean()) < 30
    json.dumps(result.summary)


def test_records_the_source_skipped_are_counted_in_the_summary():
    data = sine_set(40)
    data.config = {"skipped": [{"record": "7", "reason": "strat_fold 'x' is not a fold number"},
                               {"record": "9", "reason": "9.hea is missing"}]}
    summary = fit(config(epochs=1, targets=["hr"]), data, **QUIET).summary
    assert summary["skipped_records"] == 2
    assert any(n.startswith("2 bad record(s) skipped") and "strat_fold 'x'" in n for n in summary["notes"])
    assert fit(config(epochs=1, targets=["hr"]), sine_set(40), **QUIET).summary["skipped_records"] == 0


def test_late_failures_name_the_file_the_record_or_the_option(tmp_path):
    bad = sine_set(40)
    bad.label[7] = 99
    with pytest.raises(ValueError, match=r"label 99 \(record 7\) is not a class index: it has 5 classes"):
        fit(config(task="finetune", epochs=1), bad, **QUIET)
    short = DataSet(np.zeros((20, 12, 20)), 100, LEADS, label=np.arange(20) % 5)
    with pytest.raises(ValueError, match="records of 20 samples are too short for the band-pass filter"):
        fit(config(task="finetune", epochs=1), short, **QUIET)
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(ValueError, match=rf"{junk} is not a readable ecgcore data set: BadZipFile"):
        DataSet.load(junk)


def test_lr_decays_each_epoch():
    result = fit(config(epochs=2, lr_decay=0.5, targets=["hr"]), sine_set(40), **QUIET)
    assert [h["lr"] for h in result.history] == pytest.approx([3e-3, 1.5e-3])


def test_best_weights_are_restored_as_a_real_copy(monkeypatch):
    # Make epoch 1 the best whatever happens: the returned model must then be epoch 1's, not the last.
    monkeypatch.setattr(train, "_selection_score", lambda cfg, record: -record["epoch"])
    result = fit(config(epochs=2, lr=1e-2, targets=["hr"]), sine_set(), **QUIET)
    assert result.summary["best_epoch"] == 1
    assert result.summary["val"]["loss"] == pytest.approx(result.history[0]["val_loss"], rel=1e-5)
    assert result.summary["val"]["loss"] != pytest.approx(result.history[-1]["val_loss"], rel=1e-5)


def test_early_stopping_stops():
    result = fit(config(epochs=3, patience=1, targets=["hr"]), sine_set(40), **QUIET)
    stopped = any("early stop" in n for n in result.summary["notes"])
    assert stopped == (len(result.history) < 3)
    assert result.summary["best_epoch"] <= len(result.history)


def test_should_stop_cancels():
    with pytest.raises(Cancelled):
        fit(config(targets=["hr"]), sine_set(40), should_stop=lambda: True, **QUIET)


def test_checkpoint_round_trip(tmp_path):
    cfg = config(epochs=1, targets=["hr", "pr"])
    result = fit(cfg, sine_set(40), **QUIET)
    model, loaded_cfg = load_model(as_run(result, cfg, tmp_path / "run"))
    assert loaded_cfg == cfg
    x = torch.randn(3, 12, 150)
    assert torch.equal(model.regress(x), result.model.eval().regress(x))


def test_the_checkpoint_describes_itself_and_loads_with_weights_only(pretrained, tmp_path):
    from ecgcore.models import from_checkpoint

    cfg = config(task="finetune", strategy="combined", pretrained=[str(p) for p in pretrained], epochs=1)
    result = fit(cfg, sine_set(40, seed=2), **QUIET)
    run = as_run(result, cfg, tmp_path / "run")
    saved = torch.load(run / "model.pt", weights_only=True)
    assert {k: saved[k] for k in ("arch", "lead_names", "output_names", "n_backbones")} == {
        "arch": "small_cnn", "lead_names": list(LEADS), "output_names": list(CLASS_NAMES), "n_backbones": 2}
    assert set(saved["state_dict"]) == set(result.model.state_dict())
    # the file alone rebuilds the model: no config.json, no strategy to derive the two backbones from
    (run / "config.json").unlink()
    model = from_checkpoint(saved, run / "model.pt")
    x = torch.randn(2, 12, 150)
    assert torch.equal(model(x), result.model.eval()(x)) and model.output_names == CLASS_NAMES
    with pytest.raises(ValueError, match=r"model\.pt is not an ecgcore checkpoint"):
        from_checkpoint({**saved, "format": "something else"}, run / "model.pt")
    with pytest.raises(ValueError, match=r"model\.pt does not rebuild its model"):
        from_checkpoint({**saved, "n_backbones": 1}, run / "model.pt")


def test_a_checkpoint_from_before_still_loads(tmp_path):
    # model.pt used to be the bare state_dict: its run's config says what it is
    cfg = config(epochs=1, targets=["hr", "qt"])
    result = fit(cfg, sine_set(40), **QUIET)
    run = tmp_path / "old"
    run.mkdir()
    (run / "config.json").write_text(cfg.to_json())
    torch.save(result.model.state_dict(), run / "model.pt")
    model, loaded = load_model(run)
    x = torch.randn(2, 12, 150)
    assert loaded == cfg and torch.equal(model.regress(x), result.model.eval().regress(x))
    assert model.output_names == ("hr", "qt") and model.lead_names == LEADS and model.arch == "small_cnn"
    torch.save({"something": torch.zeros(1)}, run / "model.pt")
    with pytest.raises(ValueError, match=r"old/model\.pt is not an ecgcore checkpoint"):
        load_model(run)


def test_corrupt_or_missing_model_is_a_clear_error(tmp_path, pretrained):
    run = tmp_path / "bad"
    run.mkdir()
    (run / "config.json").write_text(config().to_json())
    with pytest.raises(ValueError, match="model.pt is missing"):
        load_model(run)
    (run / "model.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="corrupt"):
        load_model(run)
    # the other runs are untouched and still load
    assert load_model(pretrained[0])[0] is not None


def test_bad_inputs():
    with pytest.raises(ValueError, match=r"targets \['st'\] are not in the data set"):
        fit(config(targets=["st"]), sine_set(20), **QUIET)
    with pytest.raises(ValueError, match="fraction"):
        fit(config(fraction=1.5), sine_set(20), **QUIET)
    with pytest.raises(ValueError, match="training split is empty"):
        fit(config(targets=["hr"]), sine_set(20, fold=np.full(20, 10)), **QUIET)
    unlabelled = sine_set(20)
    unlabelled.label[:] = -1
    with pytest.raises(ValueError, match="training split is empty"):
        fit(config(task="finetune"), unlabelled, **QUIET)


@pytest.mark.parametrize("label_mode", ["single", "multi"])
def test_finetune_from_scratch_scores_classes(label_mode):
    result = fit(config(task="finetune", label_mode=label_mode, epochs=1), sine_set(), **QUIET)
    test = result.summary["test"]
    assert {"accuracy", "macro_f1", "macro_auroc", "per_class", "confusion_matrix"} <= set(test)
    assert result.summary["classes_present"] == test["classes_present"]
    assert result.predictions["y_score"].shape == (result.summary["n_test"], 5)
    assert "val_macro_auroc" in result.history[0]
    # the run's bootstrap 95% interval over its test records brackets its macro AUROC
    assert test["macro_auroc_lo"] <= test["macro_auroc"] <= test["macro_auroc_hi"]
    assert test["macro_auroc_hi"] - test["macro_auroc_lo"] > 0


def test_linear_probe_really_freezes_the_backbone(pretrained):
    source, _ = load_model(pretrained[0])
    result = fit(config(task="finetune", strategy="linear_probe", pretrained=[str(pretrained[0])], epochs=1),
                 sine_set(), **QUIET)
    for key, value in source.backbone.state_dict().items():  # weights and batch-norm statistics
        assert torch.equal(value, result.model.backbone.state_dict()[key]), key


def test_freeze_first_block_loads_pretrained_and_trains_the_rest(pretrained):
    source, _ = load_model(pretrained[0])
    result = fit(config(task="finetune", strategy="freeze_first_block", pretrained=[str(pretrained[0])], epochs=1),
                 sine_set(), **QUIET)
    for key, value in first_block(source).state_dict().items():
        assert torch.equal(value, first_block(result.model).state_dict()[key]), key
    later = [k for k in source.backbone.state_dict() if not k.startswith("features.0.") and "weight" in k]
    assert any(not torch.equal(source.backbone.state_dict()[k], result.model.backbone.state_dict()[k])
               for k in later)


def test_combined_joins_single_target_regressors(pretrained, tmp_path):
    cfg = config(task="finetune", strategy="combined", pretrained=[str(p) for p in pretrained], epochs=1)
    result = fit(cfg, sine_set(), **QUIET)
    sources = [load_model(p)[0] for p in pretrained]
    for part, source in zip(result.model.backbone.parts, sources):
        for key, value in first_block(source).state_dict().items():
            assert torch.equal(value, part.features[0].state_dict()[key])
    model, _ = load_model(as_run(result, cfg, tmp_path / "combined"))
    assert len(model.backbone.parts) == 2


def test_pretrained_lead_and_arch_mismatch_are_errors(pretrained):
    with pytest.raises(ValueError, match="trained on 12 leads"):
        fit(config(task="finetune", strategy="full_finetune", pretrained=[str(pretrained[0])],
                   preprocess=Preprocess(leads="paper8")), sine_set(), **QUIET)
    with pytest.raises(ValueError, match="is a small_cnn"):
        fit(config(task="finetune", strategy="full_finetune", arch="resnet1d", pretrained=[str(pretrained[0])]),
            sine_set(), **QUIET)


def test_fraction_subsamples_the_training_set():
    full = fit(config(targets=["hr"], epochs=1), sine_set(), **QUIET)
    half = fit(config(targets=["hr"], epochs=1, fraction=0.5), sine_set(), **QUIET)
    assert half.summary["n_train"] == round(full.summary["n_train"] / 2)
    assert half.summary["n_test"] == full.summary["n_test"]  # evaluation is unchanged


def test_folded_data_without_a_validation_fold_selects_on_training_loss():
    fold = np.where(np.arange(60) % 6 == 0, 10, 1 + np.arange(60) % 8)  # folds 1-8 and 10: no fold 9
    result = fit(config(targets=["hr"], epochs=1), sine_set(fold=fold), **QUIET)
    assert "the val split is empty" in result.summary["notes"]
    assert result.summary["selection_metric"] == "train_loss" and result.summary["val"] == {}
    assert result.history[0]["val_loss"] is None
    assert result.summary["n_test"] == 10


def test_load_preprocessed_keeps_recent_sets_in_memory_and_sees_a_rewritten_file(tmp_path):
    path = tmp_path / "set.npz"
    sine_set(20).save(path)
    spec = {"source": "npz", "path": str(path)}
    first = train.load_preprocessed(spec, Preprocess())
    assert train.load_preprocessed(spec, Preprocess()) is first  # a sweep's next cell: no reload
    assert first.signals.std(axis=-1) == pytest.approx(1.0, abs=1e-3)  # preprocessed (z-score per lead)
    raw = train.load_preprocessed(spec, Preprocess(bandpass=False, normalize="none"))
    np.testing.assert_allclose(raw.signals, sine_set(20).signals, rtol=1e-6)
    sine_set(30, seed=1).save(path)  # the same path, new contents
    assert len(train.load_preprocessed(spec, Preprocess())) == 30
    assert len(train._data_cache) == train.DATA_CACHE_SIZE


def test_fit_depends_only_on_its_config_so_a_reused_job_process_repeats_a_run_exactly():
    cfg = config(epochs=2, targets=["hr"], seed=4)
    first = fit(cfg, sine_set(40), **QUIET)
    other = fit(config(epochs=2, targets=["hr"], seed=5), sine_set(40), **QUIET)  # moves every RNG on
    again = fit(cfg, sine_set(40), **QUIET)
    assert [h["train_loss"] for h in again.history] == [h["train_loss"] for h in first.history]
    assert [h["train_loss"] for h in other.history] != [h["train_loss"] for h in first.history]
    np.testing.assert_array_equal(again.predictions["y_pred"], first.predictions["y_pred"])


@pytest.mark.parametrize("label_mode", ["single", "multi"])
def test_a_class_with_no_training_records_is_never_predicted_and_named(label_mode):
    """On the mini PTB-XL folder MI and HYP have no training record in single-label mode, and the model still
    predicted MI for every test ECG: such a class is masked (score 0) and the summary names it."""
    data = sine_set(n=120, seed=3, fold=np.arange(120) % 10 + 1)
    unseen = (data.fold <= 8) & np.isin(data.label, [1, 4])  # MI and HYP only in the validation and test folds
    data.label[unseen] = 0
    data.multilabel[unseen] = np.eye(5, dtype=np.uint8)[0]
    data.config = {"val_fold": 9, "test_fold": 10}
    result = fit(config(task="finetune", label_mode=label_mode, epochs=2), data, **QUIET)
    summary, scores = result.summary, result.predictions["y_score"]
    assert summary["classes_unseen_in_training"] == ["MI", "HYP"]
    assert np.all(scores[:, [1, 4]] == 0)
    if label_mode == "single":
        assert not np.isin(scores.argmax(axis=1), [1, 4]).any()
        assert np.allclose(scores.sum(axis=1), 1.0)  # the other classes' probabilities, renormalised
