"""The default pipeline a newcomer starts with one click: pretrain, fine-tune from scratch and with transfer, and
a small data-efficiency sweep with its random-init control, all on the hard simulated task.

The hard task (difficulty "hard", ecgcore.synth.presets.HARD_PRESETS: subtle, overlapping classes in ambulatory
noise) is what makes the demo teach something: on the easy caricatures scratch and transfer both reach macro AUROC
~0.999 and the data-efficiency curve is flat. Pretraining regresses HR, PR, QRS and QT of ECGs drawn from the same
family (its class labels are never used), the way a synthetic source stands in for real ECGs. Small enough to
finish within minutes on a 2-core CPU (small_cnn, 100 Hz, 1,000 + 600 ECGs), so every page has something to show.
"""

from __future__ import annotations

from dataclasses import replace

from ecgcore import jobs, sweep
from ecgcore.config import JobConfig
from ecgcore.labels import CLASS_NAMES

PRETRAIN_DATA = {"source": "synthetic", "n": 1000, "fs": 100, "seed": 0, "classes": list(CLASS_NAMES),
                 "difficulty": "hard"}
FINETUNE_DATA = {"source": "synthetic", "n": 600, "fs": 100, "seed": 1, "classes": list(CLASS_NAMES),
                 "difficulty": "hard"}
EPOCHS = 8
# The Data efficiency page's sweep: scratch, transfer and transfer's random-init control, paired by seed.
SWEEP_FRACTIONS = (0.05, 0.25, 1.0)
SWEEP_SEEDS = (0, 1, 2)


def demo_configs(seed=0, epochs=EPOCHS):
    """(pretrain, scratch, transfer) configs of the demo; transfer's `pretrained` is filled in by run_demo."""
    pretrain = JobConfig(task="pretrain", data=dict(PRETRAIN_DATA), arch="small_cnn", epochs=epochs, seed=seed,
                         name="demo pretrain")
    scratch = JobConfig(task="finetune", data=dict(FINETUNE_DATA), arch="small_cnn", epochs=epochs, seed=seed,
                        strategy="scratch", name="demo scratch")
    transfer = replace(scratch, strategy="freeze_first_block", name="demo transfer")
    return pretrain, scratch, transfer


def demo_sweep(pretrained, epochs=EPOCHS):
    """The demo's SweepConfig: scratch, transfer from the run `pretrained` and its control, at SWEEP_FRACTIONS
    x SWEEP_SEEDS."""
    _, scratch, transfer = demo_configs(epochs=epochs)
    arms = sweep.with_controls([sweep.Arm(), sweep.Arm(transfer.strategy, [str(pretrained)])])
    return sweep.SweepConfig(base=replace(scratch, name=""), arms=arms, fractions=list(SWEEP_FRACTIONS),
                             seeds=list(SWEEP_SEEDS), name="demo")


def run_demo(runs_dir, seed=0, epochs=EPOCHS):
    """Submit the demo's jobs to the queue in order; return (runs: pretrain, scratch, transfer; the sweep)."""
    pretrain, scratch, transfer = demo_configs(seed, epochs)
    pre_run = jobs.submit(pretrain, runs_dir)  # submit validates each config (runs.create_run)
    scratch_run = jobs.submit(scratch, runs_dir)
    transfer_run = jobs.submit(replace(transfer, pretrained=[str(pre_run.path)]), runs_dir)
    demo = sweep.create_sweep(demo_sweep(pre_run.path, epochs), runs_dir)  # its cells wait for the pretraining
    return [pre_run, scratch_run, transfer_run], demo
