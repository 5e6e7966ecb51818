"""Display names: the one table of words and units a teacher can say aloud, for pages, plots and CLI help.

Code names (`hr`, `baseline_mv`, `p_on`, `val_mae_hr`) stay in configs, files and URLs; whatever a person
reads goes through `say` (or `metric_name` for a metric key), so a term reads the same everywhere.
This module imports nothing of ecgcore: every floor may use it.
"""

from __future__ import annotations

_TERRITORIES = {"inferior": "inferior leads", "lateral": "lateral leads", "anterior": "anterior leads"}

NAMES = {
    # regression targets (also the engine parameters of the same name)
    "hr": "Heart rate", "pr": "PR interval", "qrs": "QRS duration", "qt": "QT interval",
    "qtc": "QTc (Bazett)",
    # the other engine parameters (ecgcore.synth.params.PARAMS)
    "hrv": "Heart-rate variability (SD of R-R)", "p_dur": "P-wave duration",
    "qt_correction": "QT slider reads as", "axis": "QRS axis", "p_amp": "P-wave amplitude",
    "r_amp": "R-wave amplitude", "t_amp": "T-wave amplitude", "bundle_branch": "Bundle branch block",
    # the rhythm parameters (ecgcore.synth.rhythms)
    "rhythm": "Rhythm", "resp_rate": "Breathing rate", "rsa": "R-R swing with breathing",
    "f_rate": "Fibrillatory wave rate", "f_amp": "f / F wave amplitude", "flutter_rate": "Flutter wave rate",
    "conduction": "Flutter conduction (F waves : beat)", "av_ratio": "AV block ratio (P waves : beats)",
    "pr_step": "PR lengthening (Wenckebach)", "escape": "Escape rhythm", "escape_rate": "Escape rate",
    "ectopic_rate": "Premature beats", "coupling": "Coupling interval", "pvc_pattern": "Premature ventricular beats",
    "vt_rate": "Tachycardia rate", "wide_qrs": "QRS of ventricular beats", "junctional_p": "Retrograde P wave",
    "pacing": "Paced chamber",
    # the rhythm targets (ecgcore.labels.RHYTHM_TARGETS)
    "rr_cv": "R-R irregularity (coefficient of variation)", "atrial_rate": "Atrial rate",
    "beats_normal": "Normal beats", "beats_atrial_premature": "Premature atrial beats",
    "beats_ventricular": "Ventricular beats", "beats_junctional": "Junctional beats",
    "beats_escape": "Ventricular escape beats", "beats_paced": "Paced beats",
    # measured morphology (ecgcore.data.measure: KIND_LEAD, e.g. r_amp_V5, and the axis)
    "s_amp": "S-wave amplitude", "st": "ST level", "qrs_axis": "QRS axis",
    **{f"st_{g}": f"ST level, {t}" for g, t in _TERRITORIES.items()},
    **{f"t_{g}": f"T-wave scale, {t}" for g, t in _TERRITORIES.items()},
    **{f"q_{g}": f"Q-wave depth, {t}" for g, t in _TERRITORIES.items()},
    **{f"qw_{g}": f"Q-wave width, {t}" for g, t in _TERRITORIES.items()},
    "baseline_mv": "Baseline wander", "powerline_mv": "Powerline interference", "powerline_hz": "Mains frequency",
    "emg_mv": "Muscle noise",
    # wave marks (ecgcore.synth.FIDUCIALS)
    "p_on": "P onset", "p_off": "P offset", "qrs_on": "QRS onset", "qrs_off": "J point (QRS end)",
    "t_off": "T end",
    # per-epoch and test metrics (without their val_/test prefix)
    "train_loss": "Training loss", "val_loss": "Validation loss", "loss": "Loss", "accuracy": "Accuracy",
    "macro_f1": "Macro F1", "macro_auroc": "Macro AUROC", "macro_auroc_lo": "Macro AUROC, 95% interval low",
    "macro_auroc_hi": "Macro AUROC, 95% interval high", "lr": "Learning rate", "epoch": "Epoch",
    "n": "Test ECGs", "class": "Class", "precision": "Precision", "recall": "Recall", "f1": "F1",
    "support": "Test ECGs of the class",
    # the columns of sweep and study tables
    "fraction": "Labelled fraction", "arm": "Arm", "seed": "Seed", "run_id": "Run id", "state": "State",
    "source": "Pretraining source", "target": "Target", "pooled": "Pooled over fractions",
    # choices people pick from
    "scratch": "from scratch", "freeze_first_block": "freeze first block", "linear_probe": "linear probe",
    "full_finetune": "full fine-tuning", "combined": "combined regressors",
    "single": "single-label (softmax, the paper's)", "multi": "multi-label (sigmoid, the PTB-XL benchmark's)",
    "all": "12 leads", "paper8": "8 leads (I, II, V1-V6)",
    "zscore": "z-score", "minmax": "min-max (the paper's)", "none": "none",
    "auto": "auto (CUDA when present)", "cpu": "CPU", "cuda": "CUDA GPU",
    "bazett": "QTc, Bazett", "fridericia": "QTc, Fridericia", "framingham": "QTc, Framingham",
    "right": "right (RBBB)", "left": "left (LBBB)",
}
# A run's config fields (ecgcore.config.JobConfig, flattened with dots), as a comparison of configs names them;
# a data spec's options read "data: OPTION".
CONFIG_NAMES = {
    "task": "Task", "arch": "Architecture", "targets": "Targets", "label_mode": "Label mode", "strategy": "Strategy",
    "pretrained": "Pretrained runs", "init": "Initialisation", "backbones": "Backbones", "fraction": "Labelled fraction",
    "epochs": "Epochs", "batch_size": "Batch size", "lr": "Learning rate", "lr_decay": "Learning-rate decay per epoch",
    "weight_decay": "Weight decay", "patience": "Patience (epochs)", "val_size": "Validation share",
    "test_size": "Test share", "seed": "Seed", "device": "Device", "name": "Name",
    "preprocess.bandpass": "Band-pass filter", "preprocess.low_hz": "Band-pass low edge (Hz)",
    "preprocess.high_hz": "Band-pass high edge (Hz)", "preprocess.normalize": "Scaling",
    "preprocess.fs": "Resampled to (Hz)", "preprocess.leads": "Leads",
}


def config_name(key):
    """A flattened config key in words: "preprocess.normalize" -> "Scaling", "data.path" -> "data: path"."""
    if key.startswith("data."):
        return f"data: {key[5:]}"
    return CONFIG_NAMES.get(key, key)


_MORPHOLOGY = ("r_amp", "s_amp", "st", "t_amp")
# A QT slider with qt_correction 'none' reads as the QT itself.
QT_READINGS = {"none": "the QT itself", "bazett": "QTc, Bazett", "fridericia": "QTc, Fridericia",
               "framingham": "QTc, Framingham"}
_ERRORS = {"mae": "MAE", "rmse": "RMSE", "r2": "R²"}


def say(name, unit=None):
    """The display name of a code name, with its unit when one is given: say("hr", "bpm") -> "Heart rate (bpm)".

    A measured morphology target names its lead: say("r_amp_V5") -> "R-wave amplitude, V5". An unknown name is
    shown as it is."""
    kind, _, lead = name.rpartition("_")
    text = NAMES.get(name) or (f"{NAMES[kind]}, {lead}" if kind in _MORPHOLOGY and lead else name)
    return f"{text} ({unit})" if unit and unit != "x" else f"{text} (x normal)" if unit == "x" else text


def metric_name(key, units=None):
    """A metric key as words: "val_mae_hr" -> "MAE, heart rate (bpm)" (validation is said by the panel it sits
    in), "train_loss" -> "Training loss"; `units` maps a target to its unit ({"hr": "bpm", ...})."""
    if key in NAMES:
        return NAMES[key]
    bare = key.removeprefix("val_").removeprefix("test_")
    error, _, target = bare.partition("_")
    if error in _ERRORS and target:
        unit = (units or {}).get(target)
        what = say(target)
        what = what[0].lower() + what[1:] if what[:2] != what[:2].upper() else what
        return f"{_ERRORS[error]}, {what}" + (f" ({unit})" if unit and error != "r2" else "")
    return say(bare)


def say_columns(frame, units=None):
    """A table (a pandas DataFrame) with its column names as words (`metric_name`), for showing; files keep
    the code names. A validation metric beside its test metric (a sweep's table has both) is named so:
    "Macro AUROC (validation)"; a table cannot show two columns of one name."""
    words = {c: metric_name(c, units) for c in frame.columns if isinstance(c, str)}
    taken = [w for c, w in words.items() if not c.startswith("val_")]
    return frame.rename(columns={c: f"{w} (validation)" if c.startswith("val_") and w in taken else w
                                 for c, w in words.items()})
