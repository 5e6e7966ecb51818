"""The default pipeline a newcomer starts with one click: pretrain, fine-tune from scratch and with transfer, and
a small data-efficiency sweep with its random-init control, all on the hard simulated task.

The hard task (difficulty "hard", ecgcore.synth.presets.HARD_PRESETS: subtle, overlapping classes in ambulatory
noise) is what makes the demo teach something: on the easy caricatures scratch and transfer both reach macro AUROC
~0.999 and the data-efficiency curve is flat. Pretraining regresses HR, PR, QRS and QT of ECGs drawn from the same
family (its class labels are never used), the way a synthetic source stands in for real ECGs. Small enough to
finish within minutes on a 2-core CPU (small_cnn, 100 Hz, 1,000 + 600 ECGs), so every page has something to show;
`$ECGCORE_DEMO_SIZE=small` runs a smaller one (SIZES).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace

from ecgcore import jobs, sweep
from ecgcore.config import JobConfig
from ecgcore.labels import CLASS_NAMES

SIZE_ENV = "ECGCORE_DEMO_SIZE"


@dataclass(frozen=True)
class Size:
    """How big the demo is: ECGs to pretrain and fine-tune on, epochs, and the sweep's fractions and seeds."""

    pretrain_n: int
    finetune_n: int
    epochs: int
    fractions: tuple  # the Data efficiency page's sweep: scratch, transfer and its control, paired by seed
    seeds: tuple


# full: what a newcomer runs (minutes on an idle 2-core CPU); small: the same pipeline on fewer ECGs, one epoch
# and a 2 x 2 sweep, for a slow machine and the browser test ($ECGCORE_DEMO_SIZE=small)
SIZES = {"full": Size(1000, 600, 8, (0.05, 0.25, 1.0), (0, 1, 2)), "small": Size(200, 200, 1, (0.25, 1.0), (0, 1))}


def size():
    """The demo's Size: `$ECGCORE_DEMO_SIZE` (full or small), else full; ValueError for anything else."""
    name = os.environ.get(SIZE_ENV) or "full"
    if name not in SIZES:
        raise ValueError(f"{SIZE_ENV}={name!r} is invalid: must be one of {', '.join(SIZES)}")
    return SIZES[name]


def _data(n, seed):
    return {"source": "synthetic", "n": n, "fs": 100, "seed": seed, "classes": list(CLASS_NAMES),
            "difficulty": "hard"}


def demo_configs(seed=0, epochs=None):
    """(pretrain, scratch, transfer) configs of the demo; transfer's `pretrained` is filled in by run_demo."""
    chosen = size()
    epochs = epochs or chosen.epochs
    pretrain = JobConfig(task="pretrain", data=_data(chosen.pretrain_n, 0), arch="small_cnn", epochs=epochs,
                         seed=seed, name="demo pretrain")
    scratch = JobConfig(task="finetune", data=_data(chosen.finetune_n, 1), arch="small_cnn", epochs=epochs,
                        seed=seed, strategy="scratch", name="demo scratch")
    transfer = replace(scratch, strategy="freeze_first_block", name="demo transfer")
    return pretrain, scratch, transfer


def demo_sweep(pretrained, epochs=None):
    """The demo's SweepConfig: scratch, transfer from the run `pretrained` and its control, at the size's
    fractions x seeds."""
    _, scratch, transfer = demo_configs(epochs=epochs)
    # the demo keeps to its time budget: the arm's own control, not the random linear probe too
    arms = sweep.with_controls([sweep.Arm(), sweep.Arm(transfer.strategy, [str(pretrained)])], random_probe=False)
    return sweep.SweepConfig(base=replace(scratch, name=""), arms=arms, fractions=list(size().fractions),
                             seeds=list(size().seeds), name="demo")


def every_config(seed=0, epochs=None):
    """Every job the demo starts, in order (its sweep's cells naming a placeholder for the pretrained run): what
    an estimate made before the demo starts looks at."""
    pretrain, scratch, transfer = demo_configs(seed, epochs)
    return [pretrain, scratch, transfer, *sweep.cell_configs(demo_sweep("the demo's pretraining", epochs))]


def run_demo(runs_dir, seed=0, epochs=None):
    """Submit the demo's jobs to the queue in order; return (runs: pretrain, scratch, transfer; the sweep)."""
    pretrain, scratch, transfer = demo_configs(seed, epochs)
    pre_run = jobs.submit(pretrain, runs_dir)  # submit validates each config (runs.create_run)
    scratch_run = jobs.submit(scratch, runs_dir)
    transfer_run = jobs.submit(replace(transfer, pretrained=[str(pre_run.path)]), runs_dir)
    demo = sweep.create_sweep(demo_sweep(pre_run.path, epochs), runs_dir)  # its cells wait for the pretraining
    return [pre_run, scratch_run, transfer_run], demo
