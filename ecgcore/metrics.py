"""Evaluation metrics: thin wrappers over sklearn.metrics, plus bootstrap and across-seed intervals.

Every function returns JSON-safe values (floats, lists, None where a metric is undefined), so results go
straight into a run's summary.json. Classification scores only the classes present in the evaluated split
and says which are absent: a macro average over a class with no records would be meaningless.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats
from sklearn import metrics as skm

# The classification test metrics worth one line (CLI `runs list`, the Runs page), besides MAE per target.
HEADLINE = ("accuracy", "macro_f1", "macro_auroc", "macro_auroc_lo", "macro_auroc_hi")  # lo/hi: its bootstrap 95% CI


def regression_metrics(y_true, y_pred, targets):
    """MAE, RMSE and R^2 per target, in the units given (clinical units): {"mae_hr": ..., "rmse_hr": ...}.

    y_true, y_pred: (N, T) with T = len(targets); NaN in y_true (a record with no value) is left out.
    """
    y_true = np.asarray(y_true, float).reshape(len(y_true), -1)
    y_pred = np.asarray(y_pred, float).reshape(len(y_pred), -1)
    if y_true.shape != y_pred.shape or y_true.shape[1] != len(targets):
        raise ValueError(f"y_true {y_true.shape} and y_pred {y_pred.shape} must both be (N, {len(targets)})")
    out = {}
    for j, name in enumerate(targets):
        ok = np.isfinite(y_true[:, j])
        t, p = y_true[ok, j], y_pred[ok, j]
        out[f"mae_{name}"] = _f(skm.mean_absolute_error(t, p)) if ok.any() else None
        out[f"rmse_{name}"] = _f(skm.root_mean_squared_error(t, p)) if ok.any() else None
        out[f"r2_{name}"] = _f(skm.r2_score(t, p)) if ok.sum() >= 2 else None
        out[f"n_{name}"] = int(ok.sum())
    return out


def classification_metrics(y_true, y_score, class_names, multilabel=False, threshold=0.5):
    """Accuracy, macro F1, macro AUROC, per-class precision/recall/F1 and the confusion matrix.

    Single-label: y_true (N,) class indices, y_score (N, K) probabilities; prediction = argmax; AUROC is
    one-vs-rest per present class. Multi-label: y_true (N, K) 0/1, y_score (N, K) sigmoid probabilities;
    prediction = score >= threshold; accuracy is the exact-match ratio; the confusion matrix is one 2x2
    [[TN, FP], [FN, TP]] per class. Macro averages run over the present classes only.
    """
    y_score = np.asarray(y_score, float)
    k = len(class_names)
    if y_score.ndim != 2 or y_score.shape[1] != k:
        raise ValueError(f"y_score must be (N, {k}) for classes {list(class_names)}, got {y_score.shape}")
    if multilabel:
        y_true = np.asarray(y_true).astype(int)
        y_pred = (y_score >= threshold).astype(int)
        present = [c for c in range(k) if y_true[:, c].any()]
        aurocs = [_auroc(y_true[:, c], y_score[:, c]) for c in present]
        confusion = skm.multilabel_confusion_matrix(y_true, y_pred).tolist()
    else:
        y_true = np.asarray(y_true).astype(int)
        y_pred = y_score.argmax(axis=1)
        present = sorted(int(c) for c in np.unique(y_true))
        aurocs = [_auroc(y_true == c, y_score[:, c]) for c in present]
        confusion = skm.confusion_matrix(y_true, y_pred, labels=list(range(k))).tolist()
    if not present:
        raise ValueError("no class is present in the evaluated split: nothing to score")
    precision, recall, f1, support = skm.precision_recall_fscore_support(
        y_true, y_pred, labels=present, zero_division=0)
    aurocs = [a for a in aurocs if a is not None]
    return {
        "accuracy": _f(skm.accuracy_score(y_true, y_pred)),
        "macro_f1": _f(np.mean(f1)),
        "macro_auroc": _f(np.mean(aurocs)) if aurocs else None,
        "per_class": {class_names[c]: {"precision": _f(p), "recall": _f(r), "f1": _f(f), "support": int(s)}
                      for c, p, r, f, s in zip(present, precision, recall, f1, support)},
        "confusion_matrix": confusion,
        "class_names": list(class_names),
        "classes_present": [class_names[c] for c in present],
        "classes_absent": [class_names[c] for c in range(k) if c not in present],
        "n": int(len(y_true)),
    }


def seed_interval(values, level=0.95):
    """Mean and `level` t-interval of a metric over seeds: {"mean", "low", "high", "n"} (low/high None if n < 2)."""
    values = np.asarray([v for v in values if v is not None], float)
    n = len(values)
    if n == 0:
        return {"mean": None, "low": None, "high": None, "n": 0}
    mean = float(values.mean())
    if n < 2:
        return {"mean": mean, "low": None, "high": None, "n": 1}
    half = stats.t.ppf((1 + level) / 2, n - 1) * stats.sem(values)
    return {"mean": mean, "low": _f(mean - half), "high": _f(mean + half), "n": n}


# The range each metric can take (by its name without a val_/test_ prefix): an interval drawn around a mean
# is clipped to it, so an AUROC band never reaches above 1.
SCORE_RANGE = (0.0, 1.0)
_RANGES = {"accuracy": SCORE_RANGE, "macro_f1": SCORE_RANGE, "macro_auroc": SCORE_RANGE, "mae": (0.0, math.inf),
           "rmse": (0.0, math.inf), "r2": (-math.inf, 1.0), "loss": (0.0, math.inf)}


# Metrics where lower is better (regression errors, losses); every other metric is "higher is better".
_LOWER_IS_BETTER = ("mae", "rmse", "loss")


def lower_is_better(metric):
    return any(part in _LOWER_IS_BETTER for part in metric.lower().split("_"))


def metric_range(metric):
    """(low, high) a metric's values lie in: [0, 1] for accuracy, F1 and AUROC, [0, inf) for errors and losses,
    (-inf, 1] for R^2, unbounded for anything else."""
    name = metric.removeprefix("val_").removeprefix("test_")
    for key in (name, name.split("_")[0], name.rsplit("_", 1)[-1]):  # macro_auroc, mae_hr, train_loss
        if key in _RANGES:
            return _RANGES[key]
    return (-math.inf, math.inf)


def bootstrap_interval(metric, y_true, y_pred, n_boot=1000, level=0.95, seed=0):
    """Percentile bootstrap of `metric(y_true, y_pred)` over records: {"value", "low", "high", "n_boot"}.

    Resamples whose metric is undefined (e.g. AUROC on a resample with one class) are skipped.
    """
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    rng = np.random.default_rng(seed)
    draws = []
    for _ in range(n_boot):
        idx = rng.integers(0, len(y_true), len(y_true))
        try:
            value = metric(y_true[idx], y_pred[idx])
        except ValueError:
            continue
        if value is not None and np.isfinite(value):
            draws.append(value)
    low, high = np.percentile(draws, [50 * (1 - level), 50 * (1 + level)]) if draws else (None, None)
    return {"value": _f(metric(y_true, y_pred)), "low": _f(low), "high": _f(high), "n_boot": len(draws)}


def macro_auroc_interval(y_true, y_score, multilabel=False, n_boot=1000, level=0.95, seed=0):
    """Bootstrap `level` interval over records of the macro AUROC (the PTB-XL benchmark's per-run interval):
    {"value", "low", "high", "n_boot"}; y_true and y_score as in classification_metrics. The value equals
    classification_metrics' macro_auroc (the mean over classes with both positives and negatives)."""
    y_score = np.asarray(y_score, float)
    y_true = np.asarray(y_true).astype(int)
    onehot = y_true if multilabel else np.eye(y_score.shape[1], dtype=int)[y_true]
    return bootstrap_interval(_macro_auroc, onehot, y_score, n_boot=n_boot, level=level, seed=seed)


def _macro_auroc(onehot, score):
    """Macro AUROC over the classes present (positives and negatives both), None when none is.

    Written out (the Mann-Whitney U statistic from average ranks, which is what roc_auc_score computes, ties
    included) because the bootstrap calls it a thousand times per run: sklearn's per-call input checks made
    that ~40x slower, longer than a small run's training.
    """
    n_pos = onehot.sum(axis=0)
    n_neg = len(onehot) - n_pos
    ok = (n_pos > 0) & (n_neg > 0)
    if not ok.any():
        return None
    ranks = stats.rankdata(score, axis=0)
    auc = ((ranks * onehot).sum(axis=0) - n_pos * (n_pos + 1) / 2) / np.where(ok, n_pos * n_neg, 1)
    return float(auc[ok].mean())


def _auroc(is_class, score):
    """Binary AUROC, None when only one of positive/negative occurs (undefined)."""
    is_class = np.asarray(is_class).astype(int)
    if is_class.min() == is_class.max():
        return None
    return float(skm.roc_auc_score(is_class, score))


def _f(x):
    """A JSON-safe float (None for NaN/inf/None)."""
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None
