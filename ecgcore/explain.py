"""What a trained model looks at: Captum attributions for one output, and their share per ECG wave.

Methods (all from captum.attr): `integrated_gradients` (zero baseline), `saliency` (|gradient|),
`gradcam` (LayerGradCam on the block that outputs the last conv feature map, ecgcore.models.last_conv -
the first backbone's in a `combined` model - upsampled linearly to the signal length; Grad-CAM has no lead
axis, so every lead gets the same map), and
`occlusion` (a zero window stepped over time, one lead at a time; the window is 1/20 of the record unless
given). Regression models are explained in
clinical units (ECGNet.regress), classifiers on their logits.

Per-wave shares: each sample of a record is labelled P (P onset..offset), QRS (QRS onset..offset), ST-T
(QRS offset..T offset) or baseline (the rest), from the engine's ground-truth fiducials for synthetic records
or from neurokit2's delineation (ecgcore.data.measure.delineate, lead II) for real ones; a wave's share is
the part of sum |attribution| over all leads that falls on its samples, next to the part of time it covers.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ecgcore.data.measure import delineated_fiducials

METHODS = ("integrated_gradients", "saliency", "gradcam", "occlusion")
WAVES = ("P", "QRS", "ST-T", "baseline")
# A wave's (onset mark, offset mark) in the engine's fiducial names (ecgcore.synth.FIDUCIALS).
WAVE_MARKS = {"P": ("p_on", "p_off"), "QRS": ("qrs_on", "qrs_off"), "ST-T": ("qrs_off", "t_off")}


def _forward(model, regression):
    return model.regress if regression else model


def explain(model, x, method, target=0, *, regression=False, n_steps=32, window_s=None, fs=None):
    """Attributions of output `target` (an index) of `model` for input `x`, the same shape as `x`.

    x: (C, L) one record or (N, C, L) a batch (numpy or torch). regression: explain `model.regress`
    (clinical units; a pretraining run's models). window_s (occlusion): window length in seconds (needs fs),
    default 1/20 of the signal.
    """
    import torch  # torch and captum load on first use: `python -m ecgcore --help` stays instant
    from captum.attr import IntegratedGradients, LayerAttribution, LayerGradCam, Occlusion, Saliency

    from ecgcore.models import last_conv

    if method not in METHODS:
        raise ValueError(f"method={method!r} is unknown: choose one of {METHODS}")
    single = np.ndim(x) == 2
    inputs = torch.as_tensor(np.asarray(x, dtype=np.float32))
    if single:
        inputs = inputs[None]
    if inputs.ndim != 3:
        raise ValueError(f"x must be (C, L) or (N, C, L), got shape {tuple(np.shape(x))}")
    model.eval()
    forward = _forward(model, regression)
    with torch.no_grad():
        n_outputs = forward(inputs[:1]).shape[1]
    if not 0 <= target < n_outputs:
        raise ValueError(f"target={target} is out of range: the model has {n_outputs} outputs")
    length = inputs.shape[-1]
    if method == "integrated_gradients":
        attr = IntegratedGradients(forward).attribute(inputs, target=target, n_steps=n_steps,
                                                      internal_batch_size=64)
    elif method == "saliency":
        attr = Saliency(forward).attribute(inputs.requires_grad_(), target=target, abs=True)
    elif method == "gradcam":
        cam = LayerGradCam(forward, last_conv(model)).attribute(inputs, target=target)
        cam = LayerAttribution.interpolate(cam, (length,), interpolate_mode="linear")
        attr = cam.expand_as(inputs)
    else:
        width = int(round(window_s * fs)) if window_s else max(1, length // 20)
        if not 1 <= width <= length:
            raise ValueError(f"occlusion window of {width} samples does not fit a signal of {length} samples")
        attr = Occlusion(forward).attribute(inputs, sliding_window_shapes=(1, width),
                                            strides=(1, width), target=target,
                                            perturbations_per_eval=64)
    attr = attr.detach().cpu().numpy().astype(np.float32)
    return attr[0] if single else attr


def wave_labels(fiducials, n_samples, fs):
    """(n_samples,) array of indices into WAVES: which wave each sample falls in.

    `fiducials` maps mark names (p_on, p_off, qrs_on, qrs_off, t_off) to per-beat times in seconds (NaN
    where a beat lacks the mark). Each onset pairs with the first offset after it and before the next
    onset; later waves paint over earlier ones, so a QRS always wins over an overlapping P.
    """
    labels = np.full(n_samples, WAVES.index("baseline"), dtype=np.int64)
    for wave, (on_mark, off_mark) in WAVE_MARKS.items():
        if on_mark not in fiducials or off_mark not in fiducials:
            raise ValueError(f"fiducials lack {on_mark!r} or {off_mark!r} (have {sorted(fiducials)})")
        onsets = _samples(fiducials[on_mark], fs, n_samples)
        offsets = _samples(fiducials[off_mark], fs, n_samples)
        for i, onset in enumerate(onsets):
            limit = onsets[i + 1] if i + 1 < len(onsets) else n_samples
            after = offsets[(offsets > onset) & (offsets <= limit)]
            if len(after):
                start = onset + 1 if wave == "ST-T" else onset  # the QRS offset sample belongs to the QRS
                labels[start:after[0] + 1] = WAVES.index(wave)
    return labels


def _samples(times_s, fs, n_samples):
    times = np.asarray(times_s, dtype=float).ravel()
    times = times[np.isfinite(times)]
    return np.sort(np.clip(np.round(times * fs), 0, n_samples - 1).astype(np.int64))


def wave_shares(attributions, labels):
    """{wave: {"share": part of sum |attribution| on the wave, "time": part of the samples it covers}}.

    attributions: (C, L) or (L,); labels: (L,) from wave_labels.
    """
    mass = np.abs(np.asarray(attributions, dtype=np.float64))
    mass = mass.reshape(-1, mass.shape[-1]).sum(axis=0)
    labels = np.asarray(labels)
    if labels.shape != mass.shape:
        raise ValueError(f"labels cover {labels.shape[0]} samples but the attributions {mass.shape[0]}")
    total = mass.sum()
    return {w: {"share": float(mass[labels == i].sum() / total) if total > 0 else 0.0,
                "time": float(np.mean(labels == i))} for i, w in enumerate(WAVES)}


@dataclass
class Record:
    """One ECG to explain: raw signal (C, L) in mV, its rate and leads, ground-truth fiducials if known."""

    signal: np.ndarray
    fs: float
    lead_names: tuple
    fiducials: dict | None = None  # {mark: per-beat seconds}; None -> neurokit2 delineation
    description: str = ""


def load_record(spec):
    """A Record from a record spec (a dict):
      {"source": "synthetic", "preset": "MI", "seed": S, "params": {...}, "fs": 100, "duration": 10}
          one engine ECG with its ground-truth fiducials: parameters drawn from the preset (or the normal
          ranges) with `seed`, then `params` (engine parameters) fixed on top
      {"data": DATA SPEC, "index": I}                 record I of a data set (ecgcore.data.sources spec,
                                                      e.g. a PTB-XL folder or a .npz); delineated by neurokit2
    """
    if not isinstance(spec, dict):
        raise ValueError(f"a record spec is a dict, got {spec!r}")
    if spec.get("source") == "synthetic":
        from ecgcore.synth import sample_params, synthesize

        unknown = set(spec) - {"source", "preset", "seed", "params", "fs", "duration"}
        if unknown:
            raise ValueError(f"record spec: unknown keys {sorted(unknown)} for a synthetic record")
        seed, preset = int(spec.get("seed", 0)), spec.get("preset")
        params, _ = sample_params(1, classes=[preset] if preset else None, seed=seed)
        params.update({k: np.atleast_1d(v) for k, v in (spec.get("params") or {}).items()})
        syn = synthesize(params, n=1, fs=spec.get("fs", 100), duration=spec.get("duration", 10.0), seed=seed)
        return Record(syn.signals[0], syn.fs, syn.lead_names, syn.marks(0),
                      f"synthetic {preset or 'ECG'}, seed {seed}")
    if "data" in spec:
        from ecgcore.data.sources import load_dataset

        dataset = load_dataset(spec["data"])
        index = int(spec.get("index", 0))
        if not 0 <= index < len(dataset):
            raise ValueError(f"record index {index} is out of range: the data set has {len(dataset)} records")
        name = dataset.record_id[index] if dataset.record_id is not None else f"record {index}"
        return Record(dataset.signals[index], dataset.fs, dataset.lead_names, None,
                      f"{spec['data'].get('source')} {name}")
    raise ValueError(f"record spec {spec!r}: give {{'source': 'synthetic', ...}} or {{'data': SPEC, 'index': I}}")


@dataclass
class Explanation:
    """explain_run's result: the preprocessed record the model saw, its attributions and per-wave shares."""

    signal: np.ndarray  # (C, L) as fed to the model
    attributions: np.ndarray  # (C, L)
    fs: float
    lead_names: tuple
    labels: np.ndarray | None  # (L,) wave index per sample (None: delineation failed)
    shares: dict | None
    method: str
    target: int
    output_name: str
    output: float  # the explained output's value (clinical units, or a class probability)
    note: str = ""


def explain_run(run_dir, record, method, target=None, **kwargs):
    """Explain output `target` (index or name; default: the first target, or the predicted class) of the
    model in `run_dir` (ecgcore.train.load_model) on `record`, preprocessed the way the run was trained (at the
    rate it trained at, also when its config kept its data's rate)."""
    import torch

    from ecgcore.data.preprocess import preprocess
    from ecgcore.data.sources import data_rate, default_data
    from ecgcore.runs import Run
    from ecgcore.train import load_model

    model, config = load_model(run_dir)
    outputs = Run(run_dir).outputs()
    steps = config.preprocess
    if steps.fs is None:  # the run kept its data's rate: a record at another rate is resampled to it
        steps = replace(steps, fs=data_rate(config.data or default_data(config.task)))
    x, fs, lead_names = preprocess(record.signal[None], record.fs, record.lead_names, steps)
    regression, names = outputs.regression, outputs.names
    # a class with no training record scores 0 here as in the run's metrics (train._evaluate masks it)
    unseen = [names.index(c) for c in (Run(run_dir).summary() or {}).get("classes_unseen_in_training") or []
              if c in names]
    with torch.no_grad():
        if regression:
            out = model.regress(torch.tensor(x))
        else:
            logits = model(torch.tensor(x))
            logits[:, unseen] = float("-inf")
            out = torch.softmax(logits, dim=1)
    out = out[0].numpy()
    index = int(np.argmax(out)) if target is None and not regression else outputs.index(target or 0)
    if not 0 <= index < len(out):
        raise ValueError(f"target={target!r} is out of range: the model has {len(out)} outputs")
    attr = explain(model, x[0], method, index, regression=regression, fs=fs, **kwargs)
    fiducials, note = record.fiducials, ""
    if fiducials is None:
        lead = "II" if "II" in record.lead_names else record.lead_names[0]
        try:
            fiducials = delineated_fiducials(record.signal[list(record.lead_names).index(lead)], record.fs)
        except Exception as e:  # noqa: BLE001 - neurokit2 raises many kinds; no shares is the honest answer
            note = f"no per-wave shares: neurokit2 could not delineate lead {lead} ({e})"
    from ecgcore.data.preprocess import STANDARDISED_NOTE, looks_standardised

    if looks_standardised(record.signal):
        note = "; ".join(filter(None, [note, f"the record's {STANDARDISED_NOTE}"]))
    labels = wave_labels(fiducials, x.shape[-1], fs) if fiducials is not None else None
    return Explanation(
        signal=x[0], attributions=attr, fs=fs, lead_names=lead_names, labels=labels,
        shares=wave_shares(attr, labels) if labels is not None else None, method=method, target=index,
        output_name=names[index] if index < len(names) else str(index), output=float(out[index]), note=note)
