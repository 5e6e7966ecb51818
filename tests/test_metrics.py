import math

import numpy as np
import pytest
from scipy import stats
from sklearn.metrics import roc_auc_score

from ecgcore.metrics import (bootstrap_interval, classification_metrics, metric_range, regression_metrics,
                             seed_interval)

CLASSES = ("NORM", "MI", "STTC", "CD", "HYP")


def test_regression_per_target_ignores_missing_values():
    y_true = np.array([[60, 100], [80, np.nan], [100, 140]])
    y_pred = np.array([[62, 110], [77, 999], [100, 130]])
    out = regression_metrics(y_true, y_pred, ["hr", "qrs"])
    assert out["mae_hr"] == pytest.approx(5 / 3)
    assert out["rmse_hr"] == pytest.approx(np.sqrt(13 / 3))
    assert out["mae_qrs"] == pytest.approx(10) and out["n_qrs"] == 2
    assert out["r2_hr"] == pytest.approx(1 - 13 / 800)
    with pytest.raises(ValueError, match=r"\(N, 3\)"):
        regression_metrics(y_true, y_pred, ["hr", "qrs", "qt"])


def test_single_label_scores_present_classes_and_names_absent_ones():
    y_true = np.array([0, 0, 1, 1, 2, 2])
    y_score = np.array([[.8, .1, .1, 0, 0], [.4, .5, .1, 0, 0], [.1, .8, .1, 0, 0],
                        [.2, .7, .1, 0, 0], [.1, .1, .8, 0, 0], [.3, .3, .4, 0, 0]])
    out = classification_metrics(y_true, y_score, CLASSES)
    assert out["classes_present"] == ["NORM", "MI", "STTC"] and out["classes_absent"] == ["CD", "HYP"]
    assert out["accuracy"] == pytest.approx(5 / 6)
    assert out["per_class"]["NORM"] == {"precision": 1.0, "recall": 0.5, "f1": pytest.approx(2 / 3), "support": 2}
    assert out["macro_auroc"] == pytest.approx(roc_auc_score(y_true, y_score[:, :3], multi_class="ovr"))
    assert np.array(out["confusion_matrix"]).shape == (5, 5) and out["confusion_matrix"][0][1] == 1
    assert set(out["per_class"]) == {"NORM", "MI", "STTC"}


def test_multilabel_metrics():
    y_true = np.array([[1, 0, 0, 0, 0], [0, 1, 1, 0, 0], [1, 0, 1, 0, 0], [0, 1, 0, 0, 0]])
    y_score = np.array([[.9, .1, .2, 0, 0], [.2, .8, .7, 0, 0], [.7, .3, .4, 0, 0], [.1, .6, .3, 0, 0]])
    out = classification_metrics(y_true, y_score, CLASSES, multilabel=True)
    assert out["classes_present"] == ["NORM", "MI", "STTC"]
    assert out["accuracy"] == pytest.approx(3 / 4)  # exact-match ratio
    assert out["macro_auroc"] == pytest.approx(1.0)
    assert out["confusion_matrix"][2] == [[2, 0], [1, 1]]


def test_bad_score_shape():
    with pytest.raises(ValueError, match=r"\(N, 5\)"):
        classification_metrics(np.array([0, 1]), np.zeros((2, 3)), CLASSES)


def test_seed_interval_is_a_t_interval():
    values = [0.80, 0.82, 0.78, 0.85, 0.81]
    out = seed_interval(values)
    half = stats.t.ppf(0.975, 4) * np.std(values, ddof=1) / np.sqrt(5)
    assert out["mean"] == pytest.approx(np.mean(values))
    assert out["low"] == pytest.approx(np.mean(values) - half) and out["high"] == pytest.approx(np.mean(values) + half)
    assert seed_interval([0.8])["low"] is None and seed_interval([])["mean"] is None


def test_bootstrap_interval_brackets_the_value():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 200)
    score = y + rng.normal(0, 0.8, 200)
    out = bootstrap_interval(roc_auc_score, y, score, n_boot=200)
    assert out["low"] < out["value"] < out["high"] and out["n_boot"] == 200


def test_macro_auroc_interval_covers_a_known_auroc():
    """Scores drawn from a binormal model: class c's positives score N(d_c, 1), negatives N(0, 1), so the true
    AUROC is Phi(d_c / sqrt 2); the per-run bootstrap interval must cover the true macro AUROC most times."""
    from scipy.stats import norm

    from ecgcore.metrics import macro_auroc_interval

    d = np.array([0.5, 1.0, 1.5])
    truth = norm.cdf(d / np.sqrt(2)).mean()
    covered, rng = 0, np.random.default_rng(1)
    for rep in range(40):
        y = rng.integers(0, 3, 300)
        score = rng.normal(0, 1, (300, 3)) + d * np.eye(3)[y]
        out = macro_auroc_interval(y, score, n_boot=200, seed=rep)
        # the value is classification_metrics' macro AUROC (sklearn's), exactly
        assert out["value"] == pytest.approx(classification_metrics(y, score, ["a", "b", "c"])["macro_auroc"])
        assert out["low"] < out["value"] < out["high"] and out["high"] - out["low"] < 0.15
        covered += out["low"] <= truth <= out["high"]
    assert covered >= 32  # a 95% interval: 38 of 40 expected; 32 leaves room for chance (P(< 32) ~ 0.1%)
    multi = (rng.random((300, 3)) < 0.3).astype(int)
    score = np.round(rng.normal(0, 1, (300, 3)) + multi, 1)  # rounded: ties, which sklearn averages too
    out = macro_auroc_interval(multi, score, multilabel=True, n_boot=100)
    assert out["value"] == pytest.approx(
        classification_metrics(multi, score, ["a", "b", "c"], multilabel=True)["macro_auroc"])


def test_metric_range_by_name():
    assert metric_range("macro_auroc") == metric_range("val_accuracy") == metric_range("test_macro_f1") == (0, 1)
    assert metric_range("mae_qt") == metric_range("train_loss") == (0, math.inf)
    assert metric_range("r2_hr") == (-math.inf, 1)
    assert metric_range("something_else") == (-math.inf, math.inf)
