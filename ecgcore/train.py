"""The fit loop: regression pretraining and classification fine-tuning, one flat loop for both.

fit(config) reads load -> split -> build -> loop -> score: it loads and preprocesses the data set, splits it,
builds the model for the strategy (ecgcore.transfer: fresh, or pretrained runs adapted), trains with Adam + ExponentialLR, stops early on a validation metric and restores the best
weights, then scores the test split. The loop takes its batches from one batch source whatever the data
(ecgcore.data.batches): tensors on the device when the set fits the memory budget (a batch is one index into
them, so the loop adds little over the bare model step: bench/train.py measures it), else a DataLoader reading
the memory-mapped set, or the synthetic stream making fresh records.
"""

from __future__ import annotations

import copy
import os
import random
import time
from collections import OrderedDict
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ecgcore import metrics, runs, transfer
from ecgcore.data import batches, splits
from ecgcore.data.admission import BUDGET_ENV, memory_budget
from ecgcore.data.cache import config_key
from ecgcore.data.preprocess import preprocess, preprocessed_on_disk
from ecgcore.data.sources import Stream, default_data, load_dataset, parse
from ecgcore.data.stream import CALIBRATION, StreamedSynthetic, SyntheticStream
from ecgcore.files import atomic_write
from ecgcore.leads import LEAD_SETS
from ecgcore.models import build_model, from_checkpoint, is_checkpoint, to_checkpoint

EVAL_BATCH = 256
READ_EVERY_S = 0.5


class Cancelled(Exception):
    """Raised inside fit when should_stop() answers True."""


@dataclass
class FitResult:
    model: nn.Module  # best weights restored
    history: list  # one dict per epoch (what on_epoch received)
    summary: dict  # JSON-safe: test/val metrics, split sizes, best epoch, notes
    predictions: dict  # test split, see _predictions


def fit(config, dataset=None, *, on_batch=None, on_epoch=None, should_stop=None, on_load=None, log=print):
    """Train the model `config` describes on `dataset` (None: config.data or the task's default set).
    on_load: optional callable given the share (0-1) of the data set built while a source builds it, and
    on_load(share, "preparing the data set for training") while a set too large for memory is preprocessed."""
    config.validate()
    _seed_everything(config.seed)
    device = resolve_device(config.device)
    notes = []
    data = _load(config, dataset, notes, on_load)
    dataset, y, output_names = data.dataset, data.y, data.output_names
    parts, train_idx, y_train = data.split(config, notes)
    unseen = _unseen_classes(config, y_train, output_names)
    if unseen:
        notes.append(f"no training record of {', '.join(output_names[c] for c in unseen)}: never predicted")
    model, frozen = _build(config, data.lead_names, y_train, output_names, notes)
    model.to(device)
    torch.backends.cudnn.benchmark = device.type == "cuda"  # few fixed shapes: autotuning pays off at once

    # --- the loop
    standardise = (lambda t: (t - model.target_mean) / model.target_std) if config.task == "pretrain" else \
        (lambda t: t)
    # one batch source whatever the data: tensors on the device, a DataLoader reading from disk, the stream
    source = data.batches(standardise(torch.from_numpy(y).to(device)), standardise, device, config.seed)
    # A frozen prefix (linear probe's backbone, a frozen first block) gives every record the same output in every
    # epoch: compute it once for the records used and train the rest on it (same numbers, less time per epoch).
    net, prefix = model, transfer.fixed_prefix(model, config.strategy) if config.task == "finetune" else None
    if prefix is not None and source.apply(prefix[0], np.union1d(np.union1d(train_idx, parts.val), parts.test)):
        net = prefix[1]
    loss_fn = _loss_fn(config)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.Adam(params, lr=config.lr, weight_decay=config.weight_decay)
    scheduler = torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=config.lr_decay)
    train_t = torch.from_numpy(train_idx)
    n_train = len(train_idx)
    # A last batch of one record breaks batch norm; drop it (it returns next epoch, the order is shuffled).
    n_batches = max(1, n_train // config.batch_size if n_train % config.batch_size == 1
                    else -(-n_train // config.batch_size))
    generator = torch.Generator(device="cpu").manual_seed(config.seed)
    log(f"{config.task} {config.arch} on {device}: {n_train} train / {len(parts.val)} val / "
        f"{len(parts.test)} test records, {n_batches} batches per epoch")

    history, best, best_score, best_epoch, bad_epochs = [], None, None, 0, 0
    last_loss, last_read = float("nan"), float("-inf")
    for epoch in range(1, config.epochs + 1):
        t0 = time.perf_counter()
        model.train()
        for module in frozen:  # frozen layers keep their batch-norm statistics too
            module.eval()
        order = train_t[torch.randperm(n_train, generator=generator)]
        total = torch.zeros((), device=device)
        for b, (xb, yb) in enumerate(source.epoch(order, config.batch_size, n_batches, epoch)):
            if should_stop is not None and should_stop():
                raise Cancelled(f"cancelled in epoch {epoch}, batch {b}")
            loss = loss_fn(net(xb), yb)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += loss.detach() * len(xb)
            if on_batch is not None:
                # Reading a loss back waits for the GPU; on CUDA do it at most every READ_EVERY_S and
                # report the latest value read, so the loop never stalls the device for a progress line.
                if device.type == "cpu" or time.perf_counter() - last_read > READ_EVERY_S:
                    last_loss, last_read = loss.item(), time.perf_counter()
                on_batch(epoch, b, n_batches, last_loss)
        record = {"epoch": epoch, "train_loss": total.item() / min(n_train, n_batches * config.batch_size),
                  "lr": optimizer.param_groups[0]["lr"]}
        scheduler.step()
        val = _evaluate(config, net, source, y, parts.val, output_names, loss_fn, unseen=unseen)
        record["val_loss"] = val.get("loss")
        record.update({f"val_{k}": v for k, v in val.items()  # scalar metrics only, not counts
                       if k != "loss" and k.split("_")[0] != "n" and not isinstance(v, (dict, list))})
        record["time_s"] = time.perf_counter() - t0
        history.append(record)
        if on_epoch is not None:
            on_epoch(record)
        log(" ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in record.items()))

        score = _selection_score(config, record)
        if best_score is None or score > best_score:
            best, best_score, best_epoch, bad_epochs = copy.deepcopy(model.state_dict()), score, epoch, 0
        else:
            bad_epochs += 1
            if config.patience and bad_epochs >= config.patience:
                notes.append(f"early stop after epoch {epoch}: no improvement for {config.patience} epochs")
                break
    model.load_state_dict(best)
    model.eval()

    summary, predictions = _score(config, net, dataset, source, y, parts, output_names, loss_fn, unseen)
    summary.update(n_train=n_train, best_epoch=best_epoch, epochs_run=len(history), device=str(device),
                   notes=notes, skipped_records=len(dataset.config.get("skipped") or []))
    return FitResult(model=model, history=history, summary=summary, predictions=predictions)


def resolve_device(name):
    """"auto" -> CUDA when available, else CPU."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("device='cuda' but no CUDA device is available: use 'auto' or 'cpu'")
    return torch.device(name)


def save_model(model, path):
    """Write the model's self-describing checkpoint (models.to_checkpoint: a state_dict and what rebuilds it,
    never a pickled object) whole, under a unique temporary name (files.atomic_write)."""
    checkpoint = to_checkpoint(model)
    return atomic_write(path, lambda tmp: torch.save(checkpoint, tmp))


def load_model(run_dir):
    """(model, config) of a finished run. model.pt rebuilds the model by itself (models.from_checkpoint); a
    model.pt from before checkpoints described themselves (a bare state_dict) is rebuilt from the run's config.
    ValueError naming the file when one is missing, damaged or does not fit."""
    run = runs.Run(run_dir)
    if not run.config_path.is_file():
        raise ValueError(f"{run.config_path} is missing: {run.path} is not a finished run")
    config, path = run.config, run.model_path
    if not path.is_file():
        raise ValueError(f"{path} is missing: the run has no trained model (not finished, or failed)")
    if path.is_symlink():
        raise ValueError(f"{path} is a link (to {os.readlink(path)}): a run's model is never read through one")
    try:
        saved = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises many kinds (UnpicklingError, RuntimeError, EOFError) for a bad file
        raise ValueError(f"{path} is corrupt or not an ecgcore checkpoint: {e}") from e
    if is_checkpoint(saved):
        return from_checkpoint(saved, path), config
    if not isinstance(saved, dict) or "target_mean" not in saved:
        raise ValueError(f"{path} is not an ecgcore checkpoint")
    lead_names = LEAD_SETS[config.preprocess.leads]
    model = build_model(config.arch, len(lead_names), len(saved["target_mean"]), transfer.n_backbones(config))
    try:
        model.load_state_dict(saved)
    except RuntimeError as e:
        raise ValueError(f"{path} does not match {run.config_path} (arch {config.arch}): {e}") from e
    names = run.outputs().names
    return model.set_names(lead_names, names if len(names) == len(saved["target_mean"]) else
                           [str(i) for i in range(len(saved["target_mean"]))]).eval(), config


def load_preprocessed(spec, pre, raw=None):
    """The data set `spec` describes (ecgcore.data.sources), preprocessed with `pre`. The last
    DATA_CACHE_SIZE results stay in memory, so a job process that trains a sweep's cells one after another
    loads and filters their data set once (shared: never modify it); a file the spec names is part of the key
    by its size and mtime. raw: the set `spec` describes when the caller has loaded it already."""
    key = _data_key(spec, pre)
    if key in _data_cache:
        _data_cache.move_to_end(key)
        return _data_cache[key]
    dataset = _preprocessed(load_dataset(spec) if raw is None else raw, pre)
    _data_cache[key] = dataset
    while len(_data_cache) > DATA_CACHE_SIZE:
        _data_cache.popitem(last=False)
    return dataset


def _data_key(spec, pre):
    files = {k: _file_stamp(v) for k, v in spec.items() if isinstance(v, str) and Path(v).is_file()}
    return config_key({"spec": spec, "preprocess": asdict(pre), "files": files})


DATA_CACHE_SIZE = 2  # a pretraining and a fine-tuning set
_data_cache = OrderedDict()


def _file_stamp(path):
    stat = Path(path).stat()
    return [stat.st_size, stat.st_mtime_ns]


def _preprocessed(dataset, pre):
    signals, fs, lead_names = preprocess(dataset.signals, dataset.fs, dataset.lead_names, pre)
    return replace(dataset, signals=signals, fs=fs, lead_names=lead_names)


# --- pieces of fit ---------------------------------------------------------------------------------------

@dataclass
class Data:
    """What fit trains on, whatever the data (in memory, memory-mapped on disk, a synthetic stream): the records'
    labels and how to make their one batch source (the interface of ecgcore.data.batches)."""

    dataset: object  # DataSet: labels, record ids and config of the records used; signals only when in memory
    y: np.ndarray  # what the model learns: target values, class indices or 0/1 rows
    strata: np.ndarray | None  # classes to stratify splits by
    output_names: tuple
    lead_names: tuple  # of the preprocessed inputs
    batches: object  # (standardised targets on the device, standardise, device, seed) -> the batch source
    stream: StreamSetup | None = None  # a synthetic stream: fresh training records, `dataset` its holdout

    def split(self, config, notes):
        """(parts, train_idx, y_train): validation/test records and the training records used."""
        if self.stream is None:
            parts, train_idx = _split(config, self.dataset, self.strata, notes)
            return parts, train_idx, self.y[train_idx]
        notes += self.stream.parts.notes  # fresh records every batch; validation and test: the fixed holdout
        return self.stream.parts, np.arange(self.stream.stream.n), self.stream.calibration_targets()


def _load(config, dataset, notes, on_load=None):
    """The Data that fit trains on: the data set (None: config.data or the task's default) and what the model
    learns from it, records with no label dropped. When the preprocessed set fits memory_budget() it is
    preprocessed into memory; otherwise its records stay in their memory-mapped file (preprocessed once into
    the cache when it can be) and a DataLoader reads each batch. A synthetic stream spec makes fresh records
    for every batch and holds its fixed holdout in memory."""
    spec = config.data or default_data(config.task)
    pre, lazy, from_spec = config.preprocess, None, dataset is None
    options = parse(spec) if from_spec else None
    setup = StreamSetup(SyntheticStream(options, config.val_size, config.test_size), config) \
        if isinstance(options, Stream) else None
    if setup is not None:
        if options.fraction_problem(config.fraction):
            raise ValueError(options.fraction_problem(config.fraction))
        dataset, from_spec = setup.holdout, False
    elif from_spec:
        if _data_key(spec, pre) in _data_cache:  # preprocessed by an earlier fit in this process
            dataset, from_spec = load_preprocessed(spec, pre), None
        else:
            dataset = load_dataset(spec, on_load)  # a cached or saved folder opens memory-mapped: nothing read yet
    if from_spec is not None:  # not preprocessed yet
        size = batches.preprocessed_bytes(dataset, pre)
        if size > memory_budget():
            lazy = _preprocessed_on_disk(dataset, pre, notes, on_load)
            notes.append(f"data streamed from disk: the preprocessed set ({size / 2**30:.1f} GiB) exceeds the "
                         f"memory budget ({memory_budget() / 2**30:.1f} GiB, ${BUDGET_ENV})")
        else:
            dataset = load_preprocessed(spec, pre, dataset) if from_spec else _preprocessed(dataset, pre)
    skipped = dataset.config.get("skipped") or []  # bad records the source skipped (PTB-XL: unreadable, bad fold)
    if skipped:
        notes.append(f"{len(skipped)} bad record(s) skipped while reading the data set, first: "
                     f"{skipped[0].get('record')}: {skipped[0].get('reason')}")
    y, keep, strata, output_names = _labels(config, dataset)
    if not keep.all():
        notes.append(f"{int((~keep).sum())} of {len(keep)} records have no usable label and were dropped")
    rows = np.flatnonzero(keep)
    y, strata = y[keep], None if strata is None else strata[keep]
    if lazy is None:
        dataset = dataset.subset(rows) if not keep.all() else dataset
        signals = dataset.signals

        def source(Y, standardise, device, seed):
            in_memory = batches.InMemory(signals, Y, device)
            return in_memory if setup is None else \
                StreamedSynthetic(setup.stream, pre, setup.label_of, standardise, device, holdout=in_memory)
    else:  # the labels of the kept records; their signals stay on disk, read by row
        dataset = replace(dataset, signals=np.zeros((len(dataset), 0, 0), np.float32), lead_names=()).subset(rows)

        def source(Y, standardise, device, seed):
            return batches.Streamed(lazy[0], rows, lazy[1], Y, device, seed=seed)
    lead_names = LEAD_SETS[pre.leads] if lazy or setup else dataset.lead_names
    return Data(dataset, y, strata, output_names, tuple(lead_names), source, setup)


def _preprocessed_on_disk(dataset, pre, notes, on_load):
    """(signals to stream, the preprocessing still to do per batch): the set preprocessed once into the cache
    when it can be (ecgcore.data.preprocess.preprocessed_on_disk), else the raw set and `pre`."""
    progress = None if on_load is None else (lambda share: on_load(share, "preparing the data set for training"))
    try:
        ready = preprocessed_on_disk(dataset, pre, progress)
    except OSError as e:
        notes.append(f"the preprocessed set could not be kept on disk ({e}): every batch is preprocessed as it is "
                     "read, which is slower")
        ready = None
    return (dataset, pre) if ready is None else (ready, None)


class StreamSetup:
    """A synthetic stream ready for fit: its holdout (validation + test records) and its training labels."""

    def __init__(self, stream, config):
        self.stream, self.config = stream, config
        self.holdout, self.parts = stream.holdout()

    def label_of(self, records):
        return _labels(self.config, records)[0]

    def calibration_targets(self):
        return self.label_of(self.stream.records(0, 0, min(CALIBRATION, self.stream.n)))


def _split(config, dataset, strata, notes):
    """(parts, train_idx): train/val/test split and the labelled fraction of the training split."""
    parts = splits.split(dataset, config.val_size, config.test_size, config.seed, strata)
    train_idx, sub_notes = splits.subsample(parts.train, config.fraction, config.seed,
                                            None if strata is None else strata[parts.train])
    notes += parts.notes + sub_notes
    if len(train_idx) < 2:
        raise ValueError(f"the training set has {len(train_idx)} record(s) after fraction={config.fraction}: "
                         "training needs at least 2 (batch norm)")
    return parts, train_idx


def _build(config, lead_names, y_train, output_names, notes):
    """(model, frozen modules): the strategy's model (ecgcore.transfer), named for its checkpoint, regression
    targets standardised on the training split only (the model's buffers undo it at prediction time)."""
    reused = config.task == "finetune" and config.strategy != "scratch" and config.init == "pretrained"
    pretrained = [load_model(run_dir) for run_dir in config.pretrained] if reused else []
    model, frozen = transfer.model_for(config, len(lead_names), len(output_names), pretrained, notes)
    model.set_names(lead_names, output_names)
    if config.task == "pretrain":
        missing = [t for t, has in zip(output_names, np.isfinite(y_train).any(axis=0)) if not has]
        if missing:
            raise ValueError(f"targets {missing} have no value in the training split")
        mean, std = np.nanmean(y_train, axis=0), np.nanstd(y_train, axis=0)
        model.target_mean.copy_(torch.from_numpy(mean))
        model.target_std.copy_(torch.from_numpy(np.where(std > 0, std, 1.0)))
    return model, frozen


def _score(config, model, dataset, data, y, parts, output_names, loss_fn, unseen=()):
    """(summary, predictions) of the trained model: test and validation metrics, the test split's outputs."""
    test = _evaluate(config, model, data, y, parts.test, output_names, loss_fn, keep_outputs=True, unseen=unseen)
    outputs = test.pop("outputs", None)
    if config.task == "finetune" and test.get("macro_auroc") is not None:  # bootstrap over the test records
        ci = metrics.macro_auroc_interval(y[parts.test], outputs, config.label_mode == "multi", seed=config.seed)
        test.update(macro_auroc_lo=ci["low"], macro_auroc_hi=ci["high"])
    val = _evaluate(config, model, data, y, parts.val, output_names, loss_fn, unseen=unseen)
    summary = {
        "task": config.task, "test": test, "val": val, "n_val": len(parts.val), "n_test": len(parts.test),
        "selection_metric": _selection_metric(config, parts),
        "classes_present": test.get("classes_present", []),
        ("targets" if config.task == "pretrain" else "class_names"): list(output_names),
    }
    if config.task == "finetune":
        summary["classes_unseen_in_training"] = [output_names[c] for c in unseen]
    return summary, _predictions(config, dataset, y, parts.test, outputs, output_names)


def _seed_everything(seed):
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _labels(config, dataset):
    """(y, keep, strata, output_names): what the model learns, which records have it, classes to stratify."""
    if config.task == "pretrain":
        unknown = [t for t in config.targets if t not in dataset.targets]
        if unknown:
            raise ValueError(f"targets {unknown} are not in the data set (it has {sorted(dataset.targets)})")
        y = np.stack([dataset.targets[t] for t in config.targets], axis=1).astype(np.float32)
        return y, np.isfinite(y).any(axis=1), None, tuple(config.targets)
    if config.label_mode == "single":
        if dataset.label is None:
            raise ValueError("label_mode='single' but the data set has no single-label `label` array")
        y = np.asarray(dataset.label, np.int64)
        bad = (y >= len(dataset.class_names)) | (y < -1)
        if bad.any():
            raise ValueError(f"the data set's label {int(y[bad][0])} (record {int(np.argmax(bad))}) is not a class "
                             f"index: it has {len(dataset.class_names)} classes {list(dataset.class_names)}, "
                             "-1 meaning none")
        return y, y >= 0, y, dataset.class_names
    if dataset.multilabel is None:
        raise ValueError("label_mode='multi' but the data set has no `multilabel` array")
    y = np.asarray(dataset.multilabel, np.float32)
    strata = np.unique(y, axis=0, return_inverse=True)[1].ravel()  # label combinations as classes
    return y, y.any(axis=1), strata, dataset.class_names


def _loss_fn(config):
    if config.task == "pretrain":
        def masked_l1(pred, target):  # measured targets have gaps (NaN): they add nothing to the loss
            ok = ~torch.isnan(target)
            return (pred - torch.nan_to_num(target)).abs().mul(ok).sum() / ok.sum().clamp(min=1)
        return masked_l1
    return nn.CrossEntropyLoss() if config.label_mode == "single" else nn.BCEWithLogitsLoss()


def _unseen_classes(config, y_train, output_names):
    """The class indices with no training record (single-label: no record of the class; multi-label: no
    record carrying it): the model never learnt them, so they are never predicted (see _evaluate)."""
    if config.task != "finetune":
        return []
    y_train = np.asarray(y_train)
    if config.label_mode == "single":
        seen = set(np.unique(y_train[y_train >= 0]).tolist())
        return [c for c in range(len(output_names)) if c not in seen]
    return [c for c in range(len(output_names)) if not y_train[:, c].any()]


def _evaluate(config, model, data, y, index, output_names, loss_fn, keep_outputs=False, unseen=()):
    """Loss and metrics on the records at `index` of `data` (a batch source; {} when there are none). The
    classes in `unseen` (no training record) get a score of 0: single-label, their logits are masked before the
    softmax, so the other classes' probabilities sum to 1; multi-label, their sigmoid is 0. The loss is the
    unmasked network's."""
    if not len(index):
        return {}
    model.eval()
    with torch.no_grad():
        raw = data.outputs(model, index)
    out = {"loss": loss_fn(raw, data.targets(index)).item()}
    if config.task == "pretrain":
        scores = model.destandardise(raw).cpu().numpy()
        out.update(metrics.regression_metrics(y[index], scores, output_names))
    else:
        masked = raw
        if len(unseen):
            masked = raw.clone()
            masked[:, list(unseen)] = float("-inf")
        scores = (masked.softmax(dim=1) if config.label_mode == "single" else masked.sigmoid()).cpu().numpy()
        out.update(metrics.classification_metrics(y[index], scores, output_names,
                                                  multilabel=config.label_mode == "multi"))
    if keep_outputs:
        out["outputs"] = scores
    return out


def _selection_metric(config, parts):
    if not len(parts.val):
        return "train_loss"
    return "val_loss" if config.task == "pretrain" else "val_macro_auroc (val_loss where undefined)"


def _selection_score(config, record):
    """Higher is better: macro AUROC for classification, else minus the validation (or training) loss."""
    if config.task == "finetune" and record.get("val_macro_auroc") is not None:
        return record["val_macro_auroc"]
    return -(record["val_loss"] if record["val_loss"] is not None else record["train_loss"])


def _predictions(config, dataset, y, index, outputs, output_names):
    """The test split's truth and predictions, as plain arrays (saved as a run's predictions.npz)."""
    pred = {}
    if dataset.record_id is not None:
        pred["record_id"] = np.asarray(dataset.record_id)[index].astype(str)
    if outputs is None:
        outputs = np.zeros((0, len(output_names)), np.float32)
    pred["y_true"] = y[index]
    if config.task == "pretrain":
        pred["y_pred"] = outputs
        for j, name in enumerate(output_names):
            pred[f"y_true_{name}"], pred[f"y_pred_{name}"] = y[index, j], outputs[:, j]
    else:
        pred["y_score"] = outputs
    return pred
