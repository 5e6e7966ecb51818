"""The synthetic stream: fresh parametric records for every batch, so pretraining never sees one ECG twice.

Spec: {"source": "synthetic", "stream": true, "n": N, ...} with make_dataset's options (fs, duration, seed,
classes, noise, ranges; engine "parametric"), plus "n_val" / "n_test": ecgcore.data.sources.Stream. N records
make one epoch; `fraction` has no meaning here (no fixed training set to take a share of). The records of batch
b in epoch e are drawn with the seed (seed, e, b): no disk, reproducible, and no two batches alike.
Validation and test stay fixed records: one cached synthetic data set (n_val + n_test records, default each
the run's val_size / test_size share of N, at most Stream.HOLDOUT_MAX) drawn with a seed no batch uses. Target
standardisation is fitted on CALIBRATION records of "epoch 0", which training never reaches (train.fit).
Generation runs in DataLoader workers while the model trains (bench/scale.py measures that it keeps up).
"""

from __future__ import annotations

import numpy as np
import torch

from ecgcore.data.batches import loader_workers
from ecgcore.data.dataset import DataSet
from ecgcore.data.preprocess import output_shape, preprocess
from ecgcore.data.splits import Split
from ecgcore.data.synthetic import labelled, make_dataset
from ecgcore.leads import LEADS
from ecgcore.synth import sample_params, synthesize

CALIBRATION = 1024  # records whose targets fit the standardisation


def _seed(*entropy):
    """One 63-bit seed from several whole numbers (numpy's SeedSequence mixes them)."""
    return int(np.random.SeedSequence([int(e) for e in entropy]).generate_state(1, np.uint64)[0] >> 1)


class SyntheticStream:
    """A stream's options (ecgcore.data.sources.Stream, checked) resolved: records per epoch, batches of
    records, the holdout."""

    def __init__(self, options, val_size=0.15, test_size=0.15):
        self.n, self.seed = options.n, options.seed
        self.options = {"fs": float(options.fs), "duration": float(options.duration), "classes": options.classes,
                        "noise": options.noise, "ranges": options.ranges, "difficulty": options.difficulty,
                        "rhythms": options.rhythms}
        self.n_val, self.n_test = options.holdout(val_size, test_size)

    def records(self, epoch, batch, size):
        """A DataSet of `size` fresh records: batch `batch` of epoch `epoch`."""
        seed = _seed(self.seed, epoch, batch)
        o = self.options
        params, label = sample_params(size, classes=o["classes"], seed=seed, ranges=o["ranges"],
                                      difficulty=o["difficulty"], rhythms=o["rhythms"])
        made = synthesize(params, n=size, fs=o["fs"], duration=o["duration"], seed=seed, noise=o["noise"])
        return DataSet(signals=made.signals, fs=o["fs"], lead_names=LEADS, **labelled(made, label, o["rhythms"]))

    def holdout(self):
        """The fixed validation + test records (cached on disk like any synthetic data set) and their Split."""
        dataset = make_dataset(n=self.n_val + self.n_test, seed=_seed(self.seed, 2**32), **self.options)
        index = np.arange(len(dataset))
        return dataset, Split(train=index[:0], val=index[:self.n_val], test=index[self.n_val:],
                              notes=[f"synthetic stream: {self.n} fresh records per epoch; validation "
                                     f"{self.n_val} and test {self.n_test} fixed records"])


class StreamedSynthetic:
    """The stream as a batch source (ecgcore.data.batches): training batches item (epoch, batch) made,
    preprocessed with `pre` and labelled with `label_of(DataSet) -> y` in DataLoader workers, `standardise`
    mapping y to the loss's scale; outputs and targets of the fixed holdout from `holdout` (an InMemory)."""

    def __init__(self, stream, pre, label_of, standardise, device, holdout, workers=None):
        self.stream, self.pre, self.label_of, self.standardise = stream, pre, label_of, standardise
        self.device, self.holdout = device, holdout
        self.workers = loader_workers() if workers is None else workers
        self.n_leads = output_shape((1, 12, 1), 100, pre)[0]

    def epoch(self, order, batch_size, n_batches, epoch):
        """The epoch's n_batches batches (`order` is unused: every record is new anyway)."""
        sizes = [min(batch_size, self.stream.n - b * batch_size) for b in range(n_batches)]
        items = _Batches(self.stream, self.pre, self.label_of, epoch, sizes)
        loader = torch.utils.data.DataLoader(
            items, batch_size=None, shuffle=False, num_workers=self.workers,
            pin_memory=self.device.type == "cuda", generator=torch.Generator().manual_seed(self.stream.seed),
            prefetch_factor=4 if self.workers else None)
        for x, y in loader:
            yield x.to(self.device, non_blocking=True), self.standardise(y.to(self.device, non_blocking=True))

    def outputs(self, model, index):
        return self.holdout.outputs(model, index)

    def targets(self, index):
        return self.holdout.targets(index)

    def apply(self, module, rows):
        return False  # fresh records every batch: no output to compute once


class _Batches(torch.utils.data.Dataset):
    def __init__(self, stream, pre, label_of, epoch, sizes):
        self.stream, self.pre, self.label_of, self.epoch = stream, pre, label_of, epoch
        self.sizes = sizes

    def __len__(self):
        return len(self.sizes)

    def __getitem__(self, b):
        records = self.stream.records(self.epoch, b, self.sizes[b])
        x = preprocess(records.signals, records.fs, records.lead_names, self.pre)[0]
        return torch.from_numpy(x), torch.from_numpy(self.label_of(records))
