"""The default pipeline a newcomer starts with one click: pretrain, then fine-tune from scratch and with transfer.

Small enough to finish in minutes on a laptop CPU (small_cnn, 100 Hz, about a thousand synthetic ECGs), so that
every page of the dashboard has something to show.
"""

from __future__ import annotations

from dataclasses import replace

from ecgcore import jobs
from ecgcore.config import JobConfig
from ecgcore.labels import CLASS_NAMES

PRETRAIN_DATA = {"source": "synthetic", "n": 1000, "fs": 100, "seed": 0}
FINETUNE_DATA = {"source": "synthetic", "n": 600, "fs": 100, "seed": 1, "classes": list(CLASS_NAMES)}
EPOCHS = 8


def demo_configs(seed=0, epochs=EPOCHS):
    """(pretrain, scratch, transfer) configs of the demo; transfer's `pretrained` is filled in by run_demo."""
    pretrain = JobConfig(task="pretrain", data=dict(PRETRAIN_DATA), arch="small_cnn", epochs=epochs, seed=seed,
                         name="demo pretrain")
    scratch = JobConfig(task="finetune", data=dict(FINETUNE_DATA), arch="small_cnn", epochs=epochs, seed=seed,
                        strategy="scratch", name="demo scratch")
    transfer = replace(scratch, strategy="freeze_first_block", name="demo transfer")
    return pretrain, scratch, transfer


def run_demo(runs_dir, seed=0, epochs=EPOCHS):
    """Submit the demo's three jobs to the queue in order and return their runs (pretrain, scratch, transfer)."""
    pretrain, scratch, transfer = demo_configs(seed, epochs)
    pre_run = jobs.submit(pretrain, runs_dir)  # submit validates each config (runs.create_run)
    scratch_run = jobs.submit(scratch, runs_dir)
    transfer_run = jobs.submit(replace(transfer, pretrained=[str(pre_run.path)]), runs_dir)
    return [pre_run, scratch_run, transfer_run]
