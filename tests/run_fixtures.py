"""Tiny inputs for tests that start real jobs: a data set .npz small enough that a job trains in seconds, and
configs that train on it. Signals are sines at the record's heart rate plus noise, so HR is learnable; every
record carries a class label (round robin over the 5 superclasses), so the same file serves fine-tuning."""

from __future__ import annotations

import numpy as np

from ecgcore.config import JobConfig
from ecgcore.data.dataset import DataSet
from ecgcore.leads import LEADS


def tiny_dataset_npz(path, n=40, fs=100, seconds=2.0, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(int(fs * seconds)) / fs
    hr = rng.uniform(50, 110, n)
    signals = np.sin(2 * np.pi * (hr / 60)[:, None, None] * t) * np.ones((1, len(LEADS), 1))
    signals = signals + 0.1 * rng.standard_normal(signals.shape)
    targets = {"hr": hr, "pr": rng.uniform(120, 200, n), "qrs": rng.uniform(80, 120, n),
               "qt": rng.uniform(350, 450, n)}
    DataSet(signals=signals, fs=fs, lead_names=LEADS, targets=targets, label=np.arange(n) % 5).save(path)
    return path


def tiny_config(npz, task="pretrain", **changes):
    """A config that trains small_cnn on `npz` in about a second per epoch."""
    fields = dict(data={"source": "npz", "path": str(npz)}, arch="small_cnn", epochs=2, batch_size=16, patience=0)
    return JobConfig(task=task, **{**fields, **changes})
