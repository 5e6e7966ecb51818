"""Synthetic data sets: drawn parameters -> an engine -> a cached DataSet with targets hr, pr, qrs, qt."""

from __future__ import annotations

from ecgcore.data.cache import cached
from ecgcore.data.dataset import DataSet
from ecgcore.labels import CLASS_NAMES
from ecgcore.leads import LEADS
from ecgcore.synth.ecgsyn import synthesize_ecgsyn
from ecgcore.synth.parametric import synthesize
from ecgcore.synth.presets import resolve_classes, sample_params

ENGINES = ("parametric", "ecgsyn")
# Part of the cache key, not of the config: bump it when the engine's output changes for the same config.
ENGINE_VERSION = 1


def make_dataset(n=1000, fs=100, duration=10.0, seed=0, classes=None, engine="parametric", noise=True,
                 ranges=None, progress=None):
    """A labelled synthetic DataSet, from the disk cache when this config was made before.

    classes: None (every record from the normal ranges), "all", "NORM,MI" or a list of CLASS_NAMES: a
    balanced classification set with `label` = index into CLASS_NAMES. engine: "parametric" (fast, every
    option) or "ecgsyn" (neurokit2's ECGSYN, slow; normal records only). ranges: {param: (lo, hi) | value |
    [choices]} overriding the normal ranges. progress: optional callable given the share done, 0-1 (not part of
    the config). The DataSet's config is these arguments plus "source": "synthetic", so
    ecgcore.data.sources.load_dataset(dataset.config) makes the same data set again.
    """
    if engine not in ENGINES:
        raise ValueError(f"engine={engine!r} is unknown; choose one of {ENGINES}")
    classes = resolve_classes(classes)
    if engine == "ecgsyn" and classes is not None:
        raise ValueError("engine 'ecgsyn' draws normal records only; classes need engine 'parametric'")
    config = {"source": "synthetic", "n": int(n), "fs": float(fs), "duration": float(duration), "seed": int(seed),
              "classes": classes, "engine": engine, "noise": bool(noise),
              "ranges": {k: list(v) if isinstance(v, (list, tuple)) else v for k, v in (ranges or {}).items()}
              or None}

    def build():
        params, label = sample_params(n, classes=classes, seed=seed, ranges=ranges)
        if engine == "ecgsyn":
            signals, labels = synthesize_ecgsyn(params, fs, duration, seed=seed, noise=noise, progress=progress)
        else:
            batch = synthesize(params, n=n, fs=fs, duration=duration, seed=seed, noise=noise, progress=progress)
            signals, labels = batch.signals, batch.labels
        return DataSet(signals=signals, fs=float(fs), lead_names=LEADS, targets=labels, label=label,
                       class_names=CLASS_NAMES, config=config)

    dataset = cached({**config, "engine_version": ENGINE_VERSION}, build, kind="synthetic")
    if progress is not None:
        progress(1.0)
    return dataset
