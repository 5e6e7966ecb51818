"""Where the fit loop's batches come from: tensors on the device, or a DataLoader streaming from disk or the stream.

Every batch source has one interface, whatever the data: `epoch(order, batch_size, n_batches, epoch)` yields
(inputs, standardised targets) on the device, `outputs(model, index)` / `targets(index)` give what evaluation
needs of the records at `index`, `apply(module, rows)` replaces inputs by a frozen prefix's outputs where that
pays (only in memory; else it answers False). In memory and from disk give the same batches in the same order,
so a run gives the same numbers whichever it takes (tests/test_batches.py):
- InMemory: the preprocessed set lives on the device as one tensor and a batch is one index into it. Fast, and
  chosen whenever the preprocessed set fits `ecgcore.data.admission.memory_budget()`.
- Streamed: the records stay in their memory-mapped file, preprocessed once into the cache
  (ecgcore.data.preprocess.preprocessed_on_disk); a torch DataLoader reads each batch's records (in worker
  processes on a GPU, pinned memory; in the training process on a CPU). Memory holds a few batches, whatever
  the set's size. Where the preprocessed set cannot be kept, workers preprocess every batch as it is read.
- StreamedSynthetic (ecgcore.data.stream): fresh synthetic records for every batch, made in the workers.
"""

from __future__ import annotations

import os

import numpy as np
import torch

from ecgcore.data.dataset import release
from ecgcore.data.preprocess import output_shape, preprocess

WORKERS_ENV = "ECGCORE_LOADER_WORKERS"
EVAL_BATCH = 256


def preprocessed_bytes(dataset, pre):
    """The size of `dataset`'s signals once preprocessed with `pre` (float32), without preprocessing them."""
    leads, length = output_shape(dataset.signals.shape, dataset.fs, pre)
    return len(dataset) * leads * length * 4


def loader_workers(read_only=False, device_type="cpu"):
    """DataLoader worker processes: `$ECGCORE_LOADER_WORKERS`, else one per spare core (1 to 4): the main
    process trains while they read and preprocess (or make) the next batches. Batches that are only read
    (read_only: the set is preprocessed already) are read by the training process itself on a CPU: training
    uses every core there, and handing a batch over from a worker costs more than reading it (bench/scale.py,
    4,000 records at 12 x 1,000: 0.75 of the in-memory speed with one worker, 0.96 without)."""
    value = os.environ.get(WORKERS_ENV)
    if value:
        if not value.isdigit():
            raise ValueError(f"{WORKERS_ENV}={value!r} is invalid: must be an integer >= 0")
        return int(value)
    if read_only and device_type == "cpu":
        return 0
    return max(1, min(4, len(os.sched_getaffinity(0)) - 1))


class InMemory:
    """The preprocessed signals `signals` (N, C, L) and standardised targets `Y` as tensors on `device`."""

    def __init__(self, signals, Y, device):
        self.X, self.Y = torch.from_numpy(np.asarray(signals)).to(device), Y
        self.n_leads = self.X.shape[1]

    def epoch(self, order, batch_size, n_batches, epoch):
        """(inputs, targets) of the records at `order` (a CPU permutation of record positions), in batches."""
        order = order.to(self.X.device)
        for b in range(n_batches):
            idx = order[b * batch_size:(b + 1) * batch_size]
            yield self.X[idx], self.Y[idx]

    def outputs(self, model, index):
        index = torch.as_tensor(np.asarray(index)).to(self.X.device)
        return torch.cat([model(self.X[index[i:i + EVAL_BATCH]]) for i in range(0, len(index), EVAL_BATCH)])

    def targets(self, index):
        return self.Y[torch.as_tensor(np.asarray(index)).to(self.Y.device)]

    @torch.no_grad()
    def apply(self, module, rows):
        """Replace the inputs at `rows` by module(inputs) (module in eval mode; other rows become zeros, unused),
        unless its output is larger than its input; return whether it did."""
        module.eval()
        rows = torch.as_tensor(np.asarray(rows)).to(self.X.device)
        probe = module(self.X[rows[:1]])
        if probe[0].numel() > self.X[0].numel():  # e.g. inception1d's first stage: 10x the input; leave it
            return False
        out = self.X.new_zeros((len(self.X), *probe.shape[1:]))
        for i in range(0, len(rows), EVAL_BATCH):
            out[rows[i:i + EVAL_BATCH]] = module(self.X[rows[i:i + EVAL_BATCH]])
        self.X = out
        return True


class Records(torch.utils.data.Dataset):
    """A DataLoader's view of a data set on disk: item = an array of record positions, value = those records
    read (rows[positions] of the file) and preprocessed with `pre` (None: they already are), as one float32
    tensor."""

    def __init__(self, dataset, rows, pre):
        self.signals, self.fs, self.lead_names = dataset.signals, dataset.fs, dataset.lead_names
        self.rows, self.pre = np.asarray(rows), pre

    def __len__(self):
        return len(self.rows)

    def __getitem__(self, positions):
        rows = self.rows[np.asarray(positions)]
        raw = np.asarray(self.signals[rows])  # a copy of just these records
        release(self.signals)
        return torch.from_numpy(raw if self.pre is None else preprocess(raw, self.fs, self.lead_names, self.pre)[0])


class Streamed:
    """Batches read from `dataset` (its signals memory-mapped) at `rows` in `workers` DataLoader processes and
    preprocessed with `pre` per batch (None: `dataset` is preprocessed already, the usual case: see
    ecgcore.data.preprocess.preprocessed_on_disk); `Y` (standardised targets of `rows`) stays on `device`."""

    def __init__(self, dataset, rows, pre, Y, device, workers=None, seed=0):
        self.records, self.Y, self.device = Records(dataset, rows, pre), Y, device
        self.n_leads = dataset.signals.shape[1] if pre is None else output_shape(dataset.signals.shape, dataset.fs, pre)[0]
        self.workers = loader_workers(pre is None, device.type) if workers is None else workers
        self.seed = seed

    def _load(self, batches):
        """A DataLoader over `batches` (lists of positions), in that order. Its own generator, so loading
        never draws from torch's global RNG (dropout): both paths train alike."""
        return torch.utils.data.DataLoader(
            self.records, batch_size=None, sampler=batches, num_workers=self.workers,
            pin_memory=self.device.type == "cuda", generator=torch.Generator().manual_seed(self.seed),
            prefetch_factor=2 if self.workers else None)

    def epoch(self, order, batch_size, n_batches, epoch):
        order = order.numpy()
        batches = [order[b * batch_size:(b + 1) * batch_size] for b in range(n_batches)]
        for positions, x in zip(batches, self._load(batches)):
            yield x.to(self.device, non_blocking=True), self.targets(positions)

    def outputs(self, model, index):
        index = np.asarray(index)
        chunks = [index[i:i + EVAL_BATCH] for i in range(0, len(index), EVAL_BATCH)]
        return torch.cat([model(x.to(self.device, non_blocking=True)) for x in self._load(chunks)])

    def targets(self, index):
        return self.Y[torch.as_tensor(np.asarray(index)).to(self.Y.device)]

    def apply(self, module, rows):
        return False  # the inputs stay on disk: a frozen prefix runs with every batch
