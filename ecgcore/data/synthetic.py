"""Data sets from the synthetic engines (ecgcore.synth), each cached on disk by the config that makes it.

  make_dataset      drawn parameters -> the parametric engine or ECGSYN -> targets hr, pr, qrs, qt exact
                    (the engine made them), optional class labels from the presets; with rhythms, the rhythm as
                    the label, the beat annotations and the rhythm targets (labels.RHYTHM_TARGETS).
  make_gan_dataset  DeepFake GAN ECGs (ecgcore.synth.gan) -> targets measured by ecgcore.data.measure, as the
                    GAN paper's were (by GE MUSE): HR, PR, QRS and QT of lead II at 500 Hz (neurokit2
                    prominence delineation, median over beats), before resampling. A record whose measurement
                    fails or is implausible is dropped, never kept with a wrong label.
The engines only make signals; building, labelling by measurement and caching a DataSet happen here.
A DataSet's config is the spec that rebuilds it (ecgcore.data.sources.load_dataset(dataset.config)); the GAN's
also holds config["report"]: "n_kept" (records kept, len <= n), "dropped" (failed measurements per target) and
"labels" (how they were measured).
"""

from __future__ import annotations

import math

import numpy as np

from ecgcore.data.cache import cached
from ecgcore.data.dataset import Writer
from ecgcore.data.measure import INTERVAL_TARGETS, measure_intervals
from ecgcore.files import read_json, write_json
from ecgcore.labels import CLASS_NAMES, RHYTHM_TARGETS
from ecgcore.leads import LEAD_SETS, LEADS, PAPER_LEADS, twelve_from_eight
from ecgcore.synth import gan
from ecgcore.synth.ecgsyn import synthesize_ecgsyn
from ecgcore.synth.parametric import synthesize
from ecgcore.synth.presets import resolve_classes, resolve_rhythms, sample_params

ENGINES = ("parametric", "ecgsyn")  # the engines that draw from parameters (the GAN has none)
# Part of the cache key, not of the config: bump one when its output or config layout changes for the same config.
ENGINE_VERSION = 1
GAN_VERSION = 2  # 2: what the build measured moved under config["report"]
GAN_PROGRESS, GAN_TARGETS = "progress.json", "targets.npy"  # a GAN build's state while it runs
GAN_LABELS = "measured: neurokit2 prominence delineation of lead II at 500 Hz, median over beats"


# beat symbol counted by each beats_ rhythm target
BEAT_COUNTS = {"beats_normal": "N", "beats_atrial_premature": "A", "beats_ventricular": "V", "beats_junctional": "j",
               "beats_escape": "E", "beats_paced": "/"}


def rhythm_targets(made):
    """{target: (n,) float64} of labels.RHYTHM_TARGETS from a Synthesis's beat annotations: the R-R coefficient of
    variation over the record's QRS onsets (NaN below 3 beats), the atrial rate from its atrial activations (NaN
    below 2: fibrillation has none), atrial activations per QRS (NaN without atrial activations), and the
    number of beats of each symbol."""
    n = len(made.beat_samples)
    out = {name: np.full(n, np.nan) for name in RHYTHM_TARGETS}
    for i in range(n):
        beats = made.beat_samples[i][made.beat_samples[i] >= 0] / made.fs
        atrial = made.atrial_samples[i][made.atrial_samples[i] >= 0] / made.fs
        rr = np.diff(beats)
        if len(rr) >= 2:
            out["rr_cv"][i] = rr.std() / rr.mean()
        if len(atrial) >= 2:
            out["atrial_rate"][i] = 60.0 / np.diff(atrial).mean()
        if len(atrial) and len(beats):
            out["conduction"][i] = len(atrial) / len(beats)
    for name, symbol in BEAT_COUNTS.items():
        out[name] = (made.beat_types == symbol).sum(axis=1).astype(float)
    return out


def labelled(made, label, rhythms):
    """The DataSet fields of a Synthesis `made` beyond its signals: targets and, with `rhythms` (the names the
    spec asked for), the rhythm as the label (class_names the rhythms), the beat annotations and the rhythm
    targets; else the class `label` (or None) over CLASS_NAMES."""
    if rhythms is None:
        return {"targets": made.labels, "label": label, "class_names": CLASS_NAMES}
    rhythm = np.array([rhythms.index(r) for r in made.params["rhythm"]], dtype=np.int64)
    return {"targets": {**made.labels, **rhythm_targets(made)}, "label": rhythm, "class_names": tuple(rhythms),
            "rhythm": rhythm, "rhythm_names": tuple(rhythms), "beat_samples": made.beat_samples,
            "beat_types": made.beat_types, "atrial_samples": made.atrial_samples}


def make_dataset(n=1000, fs=100, duration=10.0, seed=0, classes=None, engine="parametric", noise=True,
                 ranges=None, difficulty="easy", rhythms=None, progress=None):
    """A labelled synthetic DataSet, from the disk cache when this config was made before.

    classes: None (every record from the normal ranges), "all", "NORM,MI" or a list of CLASS_NAMES: a
    balanced classification set with `label` = index into CLASS_NAMES. engine: "parametric" (fast, every
    option) or "ecgsyn" (neurokit2's ECGSYN, slow; normal records only). ranges: {param: (lo, hi) | value |
    [choices]} overriding the normal ranges. difficulty: "easy" (clear caricatures of each class) or "hard"
    (subtle, overlapping classes in ambulatory noise: ecgcore.synth.presets.HARD_PRESETS). rhythms: None (sinus
    rhythm), "all", "afib,vt" or a list of RHYTHMS: a balanced rhythm classification set whose `label` is the
    rhythm (with classes too, the classes set each record's morphology); it also holds the beat annotations and
    the rhythm targets. progress: optional callable given the share done, 0-1 (not part of the config). The
    DataSet's config is these arguments plus "source": "synthetic" ("rhythms" only when given).
    """
    if engine not in ENGINES:
        raise ValueError(f"engine={engine!r} is unknown; choose one of {ENGINES}")
    classes = resolve_classes(classes)
    rhythms = resolve_rhythms(rhythms)
    if engine == "ecgsyn" and (classes is not None or rhythms is not None):
        raise ValueError("engine 'ecgsyn' draws normal records only; classes and rhythms need engine 'parametric'")
    config = {"source": "synthetic", "n": int(n), "fs": float(fs), "duration": float(duration), "seed": int(seed),
              "classes": classes, "engine": engine, "noise": bool(noise), "difficulty": difficulty,
              "ranges": {k: list(v) if isinstance(v, (list, tuple)) else v for k, v in (ranges or {}).items()}
              or None, **({"rhythms": rhythms} if rhythms is not None else {})}  # sinus sets keep their cache key

    def build(folder):
        params, label = sample_params(n, classes=classes, seed=seed, ranges=ranges, difficulty=difficulty,
                                      rhythms=rhythms)
        if engine == "ecgsyn":  # slow enough that sets stay small: made whole, then written
            signals, labels = synthesize_ecgsyn(params, fs, duration, seed=seed, noise=noise, progress=progress)
            writer = Writer(folder, n, *signals.shape[1:])
            writer.write(0, signals)
            fields = {"targets": labels, "label": label, "class_names": CLASS_NAMES}
        else:  # straight into the file a chunk at a time: memory holds a few chunks, whatever n
            writer = Writer(folder, n, len(LEADS), int(round(duration * fs)))

            def written(share):
                writer.flush()
                if progress is not None:
                    progress(share)

            made = synthesize(params, n=n, fs=fs, duration=duration, seed=seed, noise=noise, progress=written,
                              out=writer.signals)
            fields = labelled(made, label, rhythms)
        writer.finish(n, fs=float(fs), lead_names=LEADS, config=config, **fields)

    dataset = cached({**config, "engine_version": ENGINE_VERSION}, build, kind="synthetic", chunked=True)
    if progress is not None:
        progress(1.0)
    return dataset


def gan_labels(signals8, fs=gan.GAN_FS):
    """ecgcore.data.measure.Measurements of lead II of (N, 8, L) GAN signals in PAPER_LEADS order."""
    return measure_intervals(signals8, fs, lead_index=PAPER_LEADS.index("II"))


def make_gan_dataset(n=1000, fs=100, duration=10.0, seed=0, leads="all", batch_size=64, progress=None):
    """A DataSet of up to n GAN ECGs with measured targets hr, pr, qrs, qt, from the disk cache when made before.

    fs: 100-1000 Hz (resampled from the GAN's 500 Hz after labelling). duration: 10 s, or a shorter crop
    (>= 2 s) of each record, measured as cropped. leads: "all" (12) or "paper8" (the GAN's own I, II, V1-V6).
    batch_size: records per network call (speed and memory only, not part of the config). progress: optional
    callable given the share done (0-1). Records whose measurement failed are dropped and counted in
    config["report"] (see the module docstring), so len(result) <= n. Memory: one batch, for any n (written
    to the cache chunk by chunk; an interrupted build resumes where it stopped).
    """
    fs, duration = float(fs), float(duration)
    gan.check(fs, duration, leads)
    config = {"source": "gan", "n": int(n), "fs": fs, "duration": duration, "seed": int(seed), "leads": leads}
    length_500 = int(round(duration * gan.GAN_FS))

    def build(folder):
        # Chunk by chunk into the entry's folder; after each chunk PROGRESS_FILE records how far it got, so a
        # build that is interrupted (killed, out of time) goes on from there the next time, nothing made twice.
        lead_names = LEAD_SETS[leads]
        writer = Writer(folder, int(n), len(lead_names), math.ceil(length_500 * gan.rate_ratio(fs)), resume=True)
        state_file = folder / GAN_PROGRESS
        resumed = state_file.is_file()
        state = read_json(state_file) if resumed else {"next": 0, "kept": 0,
                                                       "dropped": dict.fromkeys(INTERVAL_TARGETS, 0)}
        targets = np.lib.format.open_memmap(folder / GAN_TARGETS, "r+" if resumed else "w+", np.float32,
                                            (len(INTERVAL_TARGETS), int(n)))
        kept, dropped = state["kept"], state["dropped"]
        for start, batch in gan.generate(n, seed=seed, batch_size=batch_size, start=state["next"]):
            batch = batch[..., :length_500]
            measured = gan_labels(batch)  # measured per chunk, at 500 Hz before resampling
            ok = measured.complete
            dropped = {t: dropped[t] + measured.dropped[t] for t in INTERVAL_TARGETS}
            batch = batch[ok]
            if leads == "all":
                batch = twelve_from_eight(batch)
            writer.write(kept, gan.resample(batch, fs))
            for row, t in enumerate(INTERVAL_TARGETS):
                targets[row, kept:kept + len(batch)] = measured.values[t][ok]
            kept += len(batch)
            writer.flush()
            targets.flush()
            write_json(state_file, {"next": start + len(ok), "kept": kept, "dropped": dropped})
            if progress is not None:
                progress((start + len(ok)) / n)
        values = {t: np.array(targets[row, :kept]) for row, t in enumerate(INTERVAL_TARGETS)}
        del targets
        writer.finish(kept, fs=fs, lead_names=lead_names, targets=values,
                      config={**config, "report": {"n_kept": kept, "dropped": dropped, "labels": GAN_LABELS}})
        (folder / GAN_TARGETS).unlink()
        state_file.unlink()

    dataset = cached({**config, "engine_version": GAN_VERSION}, build, kind="gan", chunked=True, resume=True)
    if progress is not None:
        progress(1.0)  # a cache hit reports done too
    return dataset
