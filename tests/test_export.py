"""ecgcore.export and `runs export`: runs written to MLflow (read back with MLflow's own client) and TensorBoard
(read back with tensorboard's EventAccumulator)."""

import json

import pytest
import torch

from ecgcore import export, jobs, runs
from ecgcore.cli import main


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """A done pretraining run, a done fine-tuning run from it, and a queued run, in one runs folder."""
    from run_fixtures import tiny_config, tiny_dataset_npz

    tmp = tmp_path_factory.mktemp("export")
    npz = tiny_dataset_npz(tmp / "tiny.npz", n=30)
    runs_dir = tmp / "runs"
    pre = runs.create_run(tiny_config(npz, targets=["hr", "qrs"]), runs_dir, name="pre")
    assert jobs.run_job(pre.path) == "done"
    fine = runs.create_run(tiny_config(npz, task="finetune", strategy="freeze_first_block",
                                       pretrained=[str(pre.path)]), runs_dir)
    assert jobs.run_job(fine.path) == "done"
    queued = runs.create_run(tiny_config(npz), runs_dir)
    return runs_dir, pre, fine, queued


def client_for(uri):
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=uri)


def test_export_to_sqlite_reads_back_with_mlflows_client(finished, tmp_path, capsys):
    runs_dir, pre, fine, queued = finished
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    assert main(["runs", "export", "--mlflow", uri, "--figures", "html", "--runs-dir", str(runs_dir)]) == 0
    out = capsys.readouterr().out
    assert f"{queued.id}: not exported (queued: export it once it has finished)" in out
    client = client_for(uri)
    experiment = client.get_experiment_by_name(export.EXPERIMENT)
    assert experiment.artifact_location == (tmp_path / "mlartifacts").as_uri()  # beside the store, not in cwd
    found = {r.data.tags[export.TAG]: r for r in client.search_runs([experiment.experiment_id])}
    assert set(found) == {pre.id, fine.id}

    mlpre = found[pre.id]
    assert mlpre.info.run_name == "pre" and mlpre.info.status == "FINISHED"
    assert mlpre.data.params["arch"] == "small_cnn" and mlpre.data.params["preprocess.normalize"] == "zscore"
    assert json.loads(mlpre.data.params["targets"]) == ["hr", "qrs"]
    assert mlpre.data.params["data.source"] == "npz"
    history = client.get_metric_history(mlpre.info.run_id, "train_loss")
    epochs = pre.metrics()
    assert [m.step for m in history] == [e["epoch"] for e in epochs] == [1, 2]
    assert [m.value for m in history] == pytest.approx([e["train_loss"] for e in epochs])
    test = pre.summary()["test"]
    assert mlpre.data.metrics["test_mae_hr"] == pytest.approx(test["mae_hr"])
    assert mlpre.data.metrics["n_test"] == pre.summary()["n_test"]

    mlfine = found[fine.id]
    assert mlfine.data.params["strategy"] == "freeze_first_block"
    assert json.loads(mlfine.data.params["pretrained"]) == [str(pre.path)]
    assert mlfine.data.metrics["test_accuracy"] == pytest.approx(fine.summary()["test"]["accuracy"])
    assert any(k.startswith("test_f1_") for k in mlfine.data.metrics)  # per-class scores
    names = {a.path for a in client.list_artifacts(mlfine.info.run_id, "figures")}
    assert names == {"figures/learning_curves.html", "figures/confusion.html", "figures/roc_curves.html"}
    local = client.download_artifacts(mlfine.info.run_id, "checkpoint/model.pt", str(tmp_path / "dl"))
    saved = torch.load(local, weights_only=True)
    assert saved.keys() == torch.load(fine.path / "model.pt", weights_only=True).keys()
    assert {a.path for a in client.list_artifacts(mlfine.info.run_id, "run")} >= {"run/config.json", "run/summary.json"}

    # exporting again adds nothing: runs already in the experiment are skipped
    assert main(["runs", "export", pre.id, "--mlflow", uri, "--figures", "none", "--runs-dir", str(runs_dir)]) == 0
    assert "already in 'ECG Transfer Lab'" in capsys.readouterr().out
    assert len(client.search_runs([experiment.experiment_id])) == 2


def test_export_one_run_to_a_file_store_and_redo_a_half_done_export(finished, tmp_path, monkeypatch):
    _, pre, _, _ = finished
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")  # MLflow 3's switch for its legacy file store
    uri = (tmp_path / "mlruns").as_uri()
    client = client_for(uri)
    experiment = client.create_experiment("mine")
    client.create_run(experiment, tags={export.TAG: pre.id})  # left RUNNING, as by an export killed half way
    written = export.to_mlflow([pre], uri, experiment="mine", figures="none", log=lambda _: None)
    (run,) = client.search_runs([experiment])  # the half-done one is gone
    assert run.info.run_id == written[pre.id] and run.info.status == "FINISHED"
    assert run.data.tags[export.TAG] == pre.id
    assert run.data.metrics["test_mae_qrs"] == pytest.approx(pre.summary()["test"]["mae_qrs"])
    with pytest.raises(ValueError, match="figures='svg' is invalid"):
        export.rendered_figures([pre], "svg")


def test_export_to_tensorboard_reads_back_with_event_accumulator(finished, tmp_path, capsys):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    runs_dir, pre, fine, _ = finished
    log_dir = tmp_path / "tb"
    assert main(["runs", "export", pre.id, str(fine.path), "--tensorboard", str(log_dir),
                 "--runs-dir", str(runs_dir)]) == 0
    events = EventAccumulator(str(log_dir / pre.id), size_guidance={"scalars": 0, "images": 0, "tensors": 0})
    events.Reload()
    tags = events.Tags()
    assert [s.step for s in events.Scalars("val_loss")] == [e["epoch"] for e in pre.metrics()] == [1, 2]
    assert [s.value for s in events.Scalars("val_loss")] == pytest.approx([e["val_loss"] for e in pre.metrics()])
    assert events.Scalars("test_mae_hr")[0].value == pytest.approx(pre.summary()["test"]["mae_hr"])
    assert set(tags["images"]) == {"figures/learning_curves", "figures/pred_vs_true"}  # PNGs by kaleido
    assert {"config/text_summary", "checkpoint/text_summary"} <= set(tags["tensors"])
    assert (log_dir / fine.id).is_dir()
    assert main(["runs", "export", pre.id, "--tensorboard", str(log_dir), "--runs-dir", str(runs_dir)]) == 0
    assert "exists, skipped" in capsys.readouterr().out


def test_export_needs_a_destination_and_names_what_it_will_not_export(finished, tmp_path, capsys):
    runs_dir, _, _, queued = finished
    assert main(["runs", "export", "--runs-dir", str(runs_dir)]) == 2
    assert "needs --mlflow URI and/or --tensorboard DIR" in capsys.readouterr().err
    assert main(["runs", "export", queued.id, "--tensorboard", str(tmp_path / "tb"), "--runs-dir", str(runs_dir)]) == 1
    assert f"{queued.id}: not exported (queued" in capsys.readouterr().out
    assert main(["runs", "export", "nope", "--tensorboard", str(tmp_path / "tb"), "--runs-dir", str(runs_dir)]) == 2
    assert "no run 'nope'" in capsys.readouterr().err


def test_a_tensorboard_export_that_fails_half_way_leaves_nothing_that_counts_as_done(finished, tmp_path,
                                                                                     monkeypatch):
    from torch.utils.tensorboard import SummaryWriter

    runs_dir, pre, _, _ = finished
    log_dir = tmp_path / "tb"

    def fails(*args, **kwargs):
        raise RuntimeError("the export broke half way")

    with monkeypatch.context() as patched:
        patched.setattr(SummaryWriter, "add_text", fails)  # after the scalars and hparams were written
        with pytest.raises(RuntimeError, match="half way"):
            export.to_tensorboard([pre], log_dir, figures="none", log=lambda *a: None)
    assert not log_dir.exists() or list(log_dir.iterdir()) == []  # no folder, not even a hidden partial one
    said = []
    assert export.to_tensorboard([pre], log_dir, figures="none", log=said.append) == {pre.id: log_dir / pre.id}
    assert "TensorBoard events in" in said[0] and sorted(p.name for p in log_dir.iterdir()) == [pre.id]


# ---- a store that does not answer: one clear line and a non-zero exit, within a settable bound ------------

@pytest.fixture
def silent_server():
    """A TCP server on 127.0.0.1 that accepts connections and never answers; yields its URL."""
    import socket
    import threading

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    accepted = []
    stop = threading.Event()

    def accept():
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}"
    stop.set()
    thread.join()
    for conn in accepted:
        conn.close()
    server.close()


@pytest.mark.parametrize("store", ["refused", "silent", "directory", "ftp"])
def test_an_unreachable_mlflow_store_gets_one_clear_line_and_exit_2(finished, tmp_path, capsys, silent_server,
                                                                    store):
    runs_dir, pre, _, _ = finished
    uri = {"refused": "http://127.0.0.1:9", "silent": silent_server,
           "directory": f"sqlite:///{tmp_path}",  # a folder, not a database file: sqlite cannot open it
           "ftp": "ftp://127.0.0.1/mlruns"}[store]
    assert main(["runs", "export", pre.id, "--mlflow", uri, "--figures", "none", "--store-timeout", "2",
                 "--runs-dir", str(runs_dir)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "Traceback" not in err and len(err.splitlines()) == 1, err
    assert uri in err
