"""Tiny inputs for tests that start real jobs: a data set .npz small enough that a job trains in seconds, and
configs that train on it. Signals are sines at the record's heart rate plus noise, so HR is learnable; every
record carries a class label (round robin over the 5 superclasses), so the same file serves fine-tuning."""

from __future__ import annotations

import json

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


# ---- run folders with a field of the wrong type (issue 24's finding 10) ----

def _edit_json(path, **changes):
    data = json.loads(path.read_text())
    data.update(changes)
    path.write_text(json.dumps(data))


BAD_FIELDS = {
    "config-targets": ("config.json", lambda run: _edit_json(run.config_path, targets=7), "targets"),
    "config-preprocess": ("config.json", lambda run: _edit_json(run.config_path, preprocess=7), "preprocess"),
    "metrics-empty": ("metrics.jsonl", lambda run: run.metrics_path.write_text(""), "empty"),
    "summary-test": ("summary.json", lambda run: _edit_json(run.summary_path, test=[1, 2]), "test"),
    "status-started": ("status.json", lambda run: _edit_json(run.status_path, started=5), "started"),
    "status-executor": ("status.json", lambda run: _edit_json(run.status_path, executor="bogus"), "executor"),
    "status-executor-number": ("status.json", lambda run: _edit_json(run.status_path, executor=5), "executor"),
    "metrics-list": ("metrics.jsonl", lambda run: run.metrics_path.write_text('[1, 2]\n{"epoch": 2}\n'), "line 1"),
    "metrics-epoch": ("metrics.jsonl", lambda run: run.metrics_path.write_text('{"epoch": "x", "val_loss": 1}\n'
                                                                               '{"epoch": 2}\n'), "epoch"),
}


def bad_fields_runs(root):
    """A runs folder `root` with a healthy done run and one done run per entry of BAD_FIELDS (a field of the
    wrong type in each file readers use); returns (root, healthy, {key: run})."""
    from ecgcore import files, runs

    def done(name):
        run = runs.create_run(JobConfig(name=name), root)
        run.update_status(state="done", progress=1.0, message="done", started=files.now(), finished=files.now())
        files.write_json(run.summary_path, {"task": "pretrain", "targets": ["hr"], "test": {"mae_hr": 1.25}})
        run.append_metrics({"epoch": 1, "train_loss": 1.0, "val_loss": 1.0})
        return run

    healthy = done("healthy")
    bad = {}
    for key, (_, damage, _) in BAD_FIELDS.items():
        bad[key] = done(key)
        damage(bad[key])
    return root, healthy, bad
