"""What the page tests share: hand-written finished runs and readers of what a page shows."""

import numpy as np

from ecgcore import files, runs
from ecgcore.config import JobConfig


def finished_run(runs_dir, **config):
    """A done run folder written by hand (no training): config, metrics, summary, predictions, model."""
    cfg = JobConfig(**config)
    run = runs.create_run(cfg, runs_dir)
    for epoch in (1, 2):
        record = {"epoch": epoch, "train_loss": 1.0 / epoch, "val_loss": 1.1 / epoch, "lr": 1e-3}
        record.update({"val_mae_hr": 5.0 / epoch} if cfg.task == "pretrain" else {"val_macro_auroc": 0.6 + epoch / 10})
        run.append_metrics(record)
    rng = np.random.default_rng(0)
    if cfg.task == "pretrain":
        y = rng.uniform(50, 100, 20)
        summary = {"task": "pretrain", "targets": ["hr"], "test": {"mae_hr": 1.5, "rmse_hr": 2.0, "r2_hr": 0.9}}
        pred = {"y_true_hr": y, "y_pred_hr": y + 1}
    else:
        y = np.arange(20) % 5
        score = np.eye(5)[y] * 0.6 + 0.08
        summary = {"task": "finetune", "class_names": ["NORM", "MI", "STTC", "CD", "HYP"],
                   "test": {"accuracy": 0.8, "macro_f1": 0.75, "macro_auroc": 0.9, "n": 20,
                            "confusion_matrix": np.diag([4] * 5).tolist(), "classes_absent": [],
                            "per_class": {c: {"precision": 0.8, "recall": 0.8, "f1": 0.8, "support": 4}
                                          for c in sorted(["NORM", "MI", "STTC", "CD", "HYP"])}}}
        pred = {"y_true": y, "y_score": score}
    files.write_json(run.path / "summary.json", summary)
    np.savez(run.path / "predictions.npz", **pred)
    (run.path / "model.pt").write_bytes(b"weights")
    run.update_status(state="done", progress=1.0, message="done")
    return run


def labels(at):
    return {m.label.split()[0]: m.value for m in at.metric}


def show_tab(at, group):
    """Open the Synthesize page's parameter tab `group` ("Intervals"): only the open tab's widgets are drawn."""
    at.session_state["param_group"] = group
    return at.run()


def open_data_set(at):
    """Open the Synthesize page's "Generate data set" section (drawn only while open)."""
    at.session_state["data_set"] = True
    return at.run()


def paper_svg(at):
    """The ECG paper the page shows as a picture: its SVG text."""
    import base64

    (image,) = at.get("image")
    url = image.proto.imgs[0].url
    assert url.startswith("data:image/svg+xml;base64,")
    return base64.b64decode(url.split(",", 1)[1]).decode()


def values(array):
    """A plotly JSON array: a list, or plotly 6's typed array {"dtype", "bdata" (base64)}."""
    import base64

    import numpy as np

    if isinstance(array, dict):
        return np.frombuffer(base64.b64decode(array["bdata"]), dtype=array["dtype"])
    return np.asarray(array, dtype=float)


def fake_done(run, accuracy):
    """Mark a queued cell done with a hand-written summary (the page reads only status and summary)."""
    files.write_json(run.path / "summary.json", {"test": {"accuracy": accuracy, "macro_auroc": accuracy}})
    run.update_status(state="done", progress=1.0)
