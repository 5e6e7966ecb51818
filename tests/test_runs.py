"""Run folders: ids, creation, atomic status, tolerant reading, listing and deletion (no job processes here)."""

import json
import os

import pytest

from ecgcore import files, runs
from ecgcore.config import JobConfig
from ecgcore.labels import CLASS_NAMES
from run_fixtures import BAD_FIELDS, bad_fields_runs


@pytest.mark.parametrize("bad", ["../x", "a/b", "..", "a..b", "", ".hidden", "-x", "a b", "x" * 129, "a\\b", 7])
def test_unsafe_run_ids_are_refused(bad):
    with pytest.raises(ValueError, match="invalid run id"):
        runs.validate_run_id(bad)


def test_generated_ids_are_valid_and_name_task_arch_and_label(tmp_path):
    run = runs.create_run(JobConfig(arch="resnet1d"), tmp_path, name="my demo/1")
    assert runs.validate_run_id(run.id) == run.id
    assert "-pretrain-resnet1d-my-demo-1-" in run.id
    assert run.config.name == "my demo/1"


def test_create_run_writes_config_and_queued_status(tmp_path):
    config = JobConfig(task="finetune", epochs=3, seed=7)
    run = runs.create_run(config, tmp_path)
    assert run.config == config
    status = run.status()
    assert status["state"] == "queued" and status["progress"] == 0 and status["created"]
    assert run.metrics() == [] and run.summary() is None and run.predictions() is None and run.log_tail() == ""


def test_bad_config_creates_no_folder(tmp_path):
    with pytest.raises(ValueError, match="fraction"):
        runs.create_run(JobConfig(task="finetune", fraction=1.5), tmp_path)
    with pytest.raises(ValueError, match="pretrained run .* not found"):
        runs.create_run(JobConfig(task="finetune", strategy="linear_probe", pretrained=[str(tmp_path / "nope")]),
                        tmp_path)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("changes, message", [
    ({"lr": float("inf")}, "lr=inf is invalid"),
    ({"lr": float("nan")}, "lr=nan is invalid"),
    ({"lr": "0.1"}, "lr='0.1' is invalid"),
    ({"seed": -1}, "seed=-1 is invalid"),
    ({"epochs": 2.5}, "epochs=2.5 is invalid"),
    ({"weight_decay": -1.0}, "weight_decay=-1.0 is invalid"),
    ({"preprocess": {"fs": 0}}, "preprocess.fs=0 is invalid"),
    ({"preprocess": {"fs": float("nan")}}, "preprocess.fs=nan is invalid"),
    ({"preprocess": {"low_hz": 50.0, "high_hz": 40.0}}, "preprocess.high_hz=40.0 is invalid"),
    ({"preprocess": {"leads": ["I"]}}, "preprocess.leads=\\['I'\\] is invalid"),
    ({"data": {"source": "synthetic", "n": -1}}, "data.n=-1 is invalid"),
    ({"data": {"source": "synthetic", "n": 10, "colour": "red"}}, "has no option.*colour"),
    ({"data": {"source": "synthetic", "fs": 50}}, "data.fs=50 Hz is out of range"),
    ({"data": {"source": "synthetic", "classes": "NORM,XYZ"}}, "data.classes="),
    ({"data": {"source": "synthetic", "seed": -3}}, "data.seed=-3 is invalid"),
    ({"data": {"source": "ptbxl", "path": "/no/such/ptbxl"}}, "data.path='/no/such/ptbxl': no such folder"),
    ({"data": {"source": "ptbxl"}}, "needs the option.*path"),
    ({"data": {"source": "npz", "path": "/no/such.npz"}}, "no such file or folder"),
    ({"data": {"source": "mixed", "real": {"path": "/no/such"}}}, "data.real.path='/no/such'"),
    ({"data": {"source": "gan", "n": 0}}, "data.n=0 is invalid"),
    ({"data": {"source": "nope"}}, "unknown data source 'nope'"),
])
def test_create_run_refuses_what_the_job_could_not_run(tmp_path, changes, message):
    config = {**JobConfig().to_dict(), **changes}
    if "preprocess" in changes:
        config["preprocess"] = {**JobConfig().to_dict()["preprocess"], **changes["preprocess"]}
    with pytest.raises(ValueError, match=message):
        runs.create_run(config, tmp_path / "runs")
    assert not (tmp_path / "runs").exists() or list((tmp_path / "runs").iterdir()) == []


def test_a_ptbxl_spec_is_checked_for_the_folder_and_rate(tmp_path):
    folder = tmp_path / "ptbxl"
    folder.mkdir()
    with pytest.raises(ValueError, match="ptbxl_database.csv is missing"):
        runs.create_run(JobConfig(data={"source": "ptbxl", "path": str(folder)}), tmp_path / "runs")
    (folder / "ptbxl_database.csv").write_text("ecg_id\n")
    with pytest.raises(ValueError, match="data.fs=250 is invalid: PTB-XL comes at 100 or 500 Hz"):
        runs.create_run(JobConfig(data={"source": "ptbxl", "path": str(folder), "fs": 250}), tmp_path / "runs")
    assert runs.create_run(JobConfig(data={"source": "ptbxl", "path": str(folder)}), tmp_path / "runs").state \
        == "queued"


def test_pretrained_paths_are_stored_absolute(tmp_path, monkeypatch):
    base = runs.create_run(JobConfig(), tmp_path)
    monkeypatch.chdir(tmp_path)
    run = runs.create_run(JobConfig(task="finetune", strategy="linear_probe", pretrained=[base.id]), tmp_path)
    assert run.config.pretrained == [str(base.path.resolve())]


def test_an_id_taken_by_another_session_is_never_reused(tmp_path, monkeypatch):
    first = runs.create_run(JobConfig(seed=1), tmp_path)
    ids = iter([first.id, first.id, "20260101-000000-other"])
    monkeypatch.setattr(runs, "new_run_id", lambda config, name="": next(ids))
    second = runs.create_run(JobConfig(seed=2), tmp_path)
    assert second.id == "20260101-000000-other"
    assert first.config.seed == 1 and second.config.seed == 2


def test_status_write_is_atomic(tmp_path, monkeypatch):
    run = runs.create_run(JobConfig(), tmp_path)
    before = (run.path / "status.json").read_text()

    def crash(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(files.os, "replace", crash)
    with pytest.raises(OSError, match="disk full"):
        run.update_status(state="running", progress=0.5)
    assert (run.path / "status.json").read_text() == before
    assert sorted(p.name for p in run.path.iterdir()) == [".reserve", "config.json", "status.json"]  # no temp left


def test_finished_state_is_sticky(tmp_path):
    run = runs.create_run(JobConfig(), tmp_path)
    run.update_status(state="cancelled")
    assert run.update_status(state="running", progress=0.7)["state"] == "cancelled"
    assert run.status()["progress"] == 0
    assert run.update_status(force=True, state="queued")["state"] == "queued"


def test_metrics_skip_a_half_written_last_line(tmp_path):
    run = runs.create_run(JobConfig(), tmp_path)
    run.append_metrics({"epoch": 1, "val_loss": 0.5})
    with open(run.path / "metrics.jsonl", "a") as f:
        f.write('{"epoch": 2, "val_lo')
    assert run.metrics() == [{"epoch": 1, "val_loss": 0.5}]


def test_list_runs_in_creation_order_and_reports_damaged_folders(tmp_path):
    made = [runs.create_run(JobConfig(seed=s), tmp_path) for s in range(3)]
    (made[1].path / "status.json").write_text("{not json")
    (tmp_path / "_sweeps").mkdir()  # other folders in the runs dir are not runs
    listed = runs.list_runs(tmp_path)
    assert [r.id for r in listed if r != made[1]] == [made[0].id, made[2].id]
    assert made[1] in listed
    assert "status.json is damaged" in made[1].problem
    assert made[1].status()["state"] == "failed" and "damaged" in made[1].status()["error"]
    assert made[0].problem is None
    assert runs.list_runs(tmp_path / "absent") == []


def test_get_run_and_resolve_run(tmp_path):
    run = runs.create_run(JobConfig(), tmp_path)
    assert runs.get_run(tmp_path, run.id) == run
    assert runs.resolve_run(run.id, tmp_path) == run
    assert runs.resolve_run(str(run.path), tmp_path / "elsewhere") == run
    with pytest.raises(FileNotFoundError, match="no run 'nope'"):
        runs.get_run(tmp_path, "nope")
    with pytest.raises(ValueError, match="invalid run id"):
        runs.resolve_run("../" + run.id, tmp_path)


def test_default_runs_dir_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("ECGCORE_RUNS", str(tmp_path / "r"))
    assert runs.default_runs_dir() == tmp_path / "r"
    assert runs.default_runs_dir(tmp_path / "x") == tmp_path / "x"
    monkeypatch.delenv("ECGCORE_RUNS")
    assert str(runs.default_runs_dir()) == "runs"


def test_delete_refuses_a_running_run_and_leaves_others(tmp_path):
    keep, running, done = (runs.create_run(JobConfig(seed=s), tmp_path) for s in range(3))
    running.update_status(state="running")
    done.update_status(state="done")
    with pytest.raises(ValueError, match="cancel it"):
        runs.delete_run(running)
    runs.delete_run(done)
    assert not done.path.exists() and running.path.is_dir() and keep.path.is_dir()
    assert {r.id for r in runs.list_runs(tmp_path)} == {keep.id, running.id}


def test_outputs_are_the_targets_or_the_data_sets_own_class_names(tmp_path):
    pre = runs.create_run(JobConfig(targets=["hr", "qrs"]), tmp_path)
    outputs = pre.outputs()
    assert outputs == runs.Outputs("targets", ("hr", "qrs")) and outputs.regression
    assert outputs.index("QRS") == 1 and outputs.index(0) == 0 and outputs.index("1") == 1
    with pytest.raises(ValueError, match=r"'qt' is not an output of this run: choose one of \['hr', 'qrs'\]"):
        outputs.index("qt")
    fine = runs.create_run(JobConfig(task="finetune"), tmp_path)
    assert fine.outputs() == runs.Outputs("classes", CLASS_NAMES) and not fine.outputs().regression
    files.write_json(fine.summary_path, {"class_names": ["NORM", "MI"]})  # what training saw in its data set
    assert fine.outputs().names == ("NORM", "MI") and fine.outputs().index("mi") == 1


def test_a_run_names_its_files_in_one_place(tmp_path):
    run = runs.create_run(JobConfig(), tmp_path)
    assert (run.config_path.name, run.status_path.name, run.model_path.name) == ("config.json", "status.json",
                                                                                 "model.pt")
    assert {p.name for p in run.path.iterdir()} == {run.config_path.name, run.status_path.name, run.reserve_path.name}


# ---- damaged files and read-only folders: every other run stays visible and usable --------------------------

def _damaged_runs_dir(root):
    """A runs folder with one healthy done run and one run of each kind of damage; returns (dir, healthy)."""
    from ecgcore import files

    healthy = runs.create_run(JobConfig(name="healthy"), root)
    healthy.update_status(state="done", progress=1.0, message="done")
    files.write_json(healthy.path / "summary.json", {"test": {"mae_hr": 1.25}})
    summary = runs.create_run(JobConfig(name="bad-summary"), root)
    summary.update_status(state="done", progress=1.0)
    (summary.path / "summary.json").write_text("{not json")
    progress = runs.create_run(JobConfig(name="bad-progress"), root)
    files.write_json(progress.path / "status.json", {**progress.status(), "state": "done", "progress": "half"})
    config = runs.create_run(JobConfig(name="bad-config"), root)  # queued: the queue will look at it
    (config.path / "config.json").write_text('{"task": ')
    return root, healthy, {"summary": summary, "progress": progress, "config": config}


def test_runs_list_shows_each_damaged_run_with_its_reason_and_the_others(tmp_path, capsys, monkeypatch):
    from ecgcore import cli, local_executor

    monkeypatch.setattr(local_executor.LocalExecutor, "start", lambda executor, run: None)  # nothing starts for real
    root, healthy, bad = _damaged_runs_dir(tmp_path / "runs")
    assert cli.main(["runs", "list", "--runs-dir", str(root), "--json"]) == 0
    rows = {row["id"]: row for row in map(json.loads, capsys.readouterr().out.splitlines())}
    assert rows[healthy.id]["problem"] is None and rows[healthy.id]["test"] == "mae_hr=1.25"
    assert "summary.json is damaged" in rows[bad["summary"].id]["problem"]
    assert "progress='half' is not a number" in rows[bad["progress"].id]["problem"]
    assert rows[bad["progress"].id]["progress"] == 0.0 and rows[bad["progress"].id]["state"] == "done"
    assert "config.json is damaged" in rows[bad["config"].id]["problem"]
    status = bad["config"].status()  # the queue failed it for what it is, not for a pretrained run
    assert status["state"] == "failed" and status["message"] == "damaged run folder"
    assert "config.json is damaged" in status["error"]
    assert cli.main(["runs", "list", "--runs-dir", str(root)]) == 0
    table = capsys.readouterr().out
    assert table.count("damaged") >= 3 and healthy.id in table
    for run in (healthy, *bad.values()):
        assert cli.main(["runs", "show", run.id, "--runs-dir", str(root)]) == 0
    assert "damaged:" in capsys.readouterr().out


def _read_only_checks(root, capsys):
    from ecgcore import cli

    run_id = runs.list_runs(root)[0].id
    assert cli.main(["runs", "list", "--runs-dir", str(root)]) == 0
    assert run_id in capsys.readouterr().out
    assert cli.main(["runs", "show", run_id, "--runs-dir", str(root)]) == 0
    for action in ("delete", "cancel"):
        assert cli.main(["runs", action, run_id, "--runs-dir", str(root)]) == 2
        err = capsys.readouterr().err
        assert "is read-only for this user" in err and "needs write access" in err
    with pytest.raises(PermissionError, match="creating a run needs write access"):
        runs.create_run(JobConfig(), root)
    assert (root / run_id).is_dir()


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes through chmod; the patched test below covers it")
def test_a_read_only_runs_folder_is_listed_and_writes_say_they_need_access(tmp_path, capsys):
    root, _, _ = _damaged_runs_dir(tmp_path / "runs")
    os.chmod(root, 0o555)
    try:
        _read_only_checks(root, capsys)
    finally:
        os.chmod(root, 0o755)


def test_a_read_only_runs_folder_patched(tmp_path, capsys, monkeypatch):
    """The same, with write access taken away by patching: any write into the folder raises PermissionError,
    and os.access says what chmod would."""
    from ecgcore import files

    root, _, _ = _damaged_runs_dir(tmp_path / "runs")
    real_access, real_atomic = os.access, files.atomic_write

    def access(path, mode, **kw):
        inside = os.path.abspath(path).startswith(str(root))
        return False if inside and mode & os.W_OK else real_access(path, mode, **kw)

    def atomic_write(path, write):
        if str(path).startswith(str(root)):
            raise PermissionError(13, "Permission denied", str(path))
        return real_atomic(path, write)

    monkeypatch.setattr(os, "access", access)
    monkeypatch.setattr(files, "atomic_write", atomic_write)
    _read_only_checks(root, capsys)


def test_the_cli_reports_an_os_error_without_a_traceback(tmp_path, capsys, monkeypatch):
    import errno

    from ecgcore import cli, jobs

    def full(*args, **kw):
        raise OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "runs"))

    monkeypatch.setattr(jobs, "create_run", full)
    assert cli.main(["pretrain", "--runs-dir", str(tmp_path / "runs"), "--epochs", "1"]) == 2
    assert capsys.readouterr().err.startswith("error: [Errno 28] No space left on device")


# ---- a run folder cannot be turned against the lab: no file of it is followed out through a link ----------

@pytest.mark.parametrize("name", ["log.txt", "metrics.jsonl", "heartbeat"])
def test_a_queued_run_with_a_file_linked_out_never_writes_there_and_is_damaged(tmp_path, name):
    from ecgcore import jobs

    outside = tmp_path / "outside.txt"
    outside.write_text("precious\n")
    run = runs.create_run(JobConfig(epochs=1), tmp_path / "runs")
    os.symlink(outside, run.path / name)
    assert name in run.problem and "link" in run.problem
    with pytest.raises(ValueError, match="link"):
        jobs.run_job(run.path)
    assert outside.read_text() == "precious\n"
    status = run.status()
    assert status["state"] == "failed" and "link" in status["error"]
    assert outside.read_text() == "precious\n"


def test_the_queue_never_starts_a_run_with_a_link_and_shows_it_damaged(tmp_path, monkeypatch):
    from ecgcore import jobs, local_executor

    started = []
    monkeypatch.setattr(local_executor.LocalExecutor, "start", lambda executor, run: started.append(run))
    outside = tmp_path / "outside.txt"
    outside.write_text("precious\n")
    run = runs.create_run(JobConfig(epochs=1), tmp_path / "runs")
    os.symlink(outside, run.path / "log.txt")
    jobs.start_queued(tmp_path / "runs")
    assert started == [] and run.state == "failed" and "log.txt is a link" in run.status()["error"]
    assert outside.read_text() == "precious\n"


@pytest.mark.parametrize("name", ["summary.json", "config.json", "status.json", "log.txt", "metrics.jsonl"])
def test_runs_show_never_prints_a_file_linked_from_outside(tmp_path, capsys, name):
    from ecgcore import cli

    secret = tmp_path / "secret.txt"
    secret.write_text('{"test": {"mae_hr": 7.77}, "task": "pretrain", "state": "done", "secret": "TOPSECRET"}\n')
    run = runs.create_run(JobConfig(name="linked"), tmp_path / "runs")
    run.update_status(state="done", progress=1.0)
    files.write_json(run.path / "summary.json", {"test": {"mae_hr": 1.0}})
    (run.path / name).unlink(missing_ok=True)
    os.symlink(secret, run.path / name)
    assert cli.main(["runs", "show", run.id, "--runs-dir", str(tmp_path / "runs")]) == 0
    assert cli.main(["runs", "list", "--runs-dir", str(tmp_path / "runs")]) == 0
    out = capsys.readouterr().out
    assert "TOPSECRET" not in out and "7.77" not in out and "damaged" in out and "link" in out


def test_a_run_folder_that_is_itself_a_link_is_damaged(tmp_path):
    elsewhere = runs.create_run(JobConfig(name="elsewhere"), tmp_path / "other")
    (tmp_path / "runs").mkdir()
    os.symlink(elsewhere.path, tmp_path / "runs" / elsewhere.id)
    (listed,) = runs.list_runs(tmp_path / "runs")
    assert "link" in listed.problem


# ---- every field read from a run folder is checked where it is read ---------------------------------------

@pytest.fixture
def bad_fields_dir(tmp_path):
    return bad_fields_runs(tmp_path / "runs")


def test_a_bad_field_shows_its_run_damaged_naming_file_and_field_and_every_other_run_works(bad_fields_dir, capsys,
                                                                                          tmp_path):
    from ecgcore import cli

    root, healthy, bad = bad_fields_dir
    for key, run in bad.items():
        file, _, field = BAD_FIELDS[key]
        assert run.problem and file in run.problem and field in run.problem, (key, run.problem)
    assert healthy.problem is None
    assert cli.main(["runs", "list", "--runs-dir", str(root)]) == 0
    assert cli.main(["runs", "list", "--json", "--runs-dir", str(root)]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    assert {row["id"] for row in rows} == {healthy.id, *(run.id for run in bad.values())}
    for run in [healthy, *bad.values()]:
        assert cli.main(["runs", "show", run.id, "--runs-dir", str(root)]) == 0
    capsys.readouterr()
    assert cli.main(["runs", "export", "--tensorboard", str(tmp_path / "tb"), "--figures", "none",
                     "--runs-dir", str(root)]) == 0
    assert cli.main(["runs", "export", "--mlflow", f"sqlite:///{tmp_path / 'ml.db'}", "--figures", "none",
                     "--runs-dir", str(root)]) == 0
    out = capsys.readouterr().out
    assert f"{healthy.id}: TensorBoard events" in out and f"{healthy.id}: MLflow run" in out
    assert all(f"{run.id}: not exported (damaged" in out for run in bad.values())


def test_a_ray_run_whose_cluster_is_gone_does_not_break_the_listing(tmp_path, capsys, monkeypatch):
    from ecgcore import cli, executors

    def no_cluster(name=None):
        if (name or "local") == "ray":
            raise ValueError("the Ray executor is chosen, but no Ray cluster answers at RAY_ADDRESS=auto")
        return real(name)

    real = executors.get_executor
    monkeypatch.setattr(executors, "get_executor", no_cluster)
    import ecgcore.jobs as jobs_module

    monkeypatch.setattr(jobs_module, "get_executor", no_cluster)
    root = tmp_path / "runs"
    ray_run = runs.create_run(JobConfig(name="on-ray"), root)
    ray_run.update_status(state="running", executor="ray", started=files.now(), message="epoch 1")
    other = runs.create_run(JobConfig(name="done"), root)
    other.update_status(state="done", progress=1.0)
    assert cli.main(["runs", "list", "--runs-dir", str(root)]) == 0
    out = capsys.readouterr().out
    assert ray_run.id in out and other.id in out
    assert cli.main(["runs", "show", ray_run.id, "--runs-dir", str(root)]) == 0
    assert ray_run.state == "running"  # nobody could ask Ray: it is not marked failed on a guess


def test_a_run_being_created_is_never_seen_half_made(tmp_path, monkeypatch):
    """The browser test caught a just-created run between its config and its status, read as damaged."""
    seen = []
    write_json = runs.write_json

    def look_while_writing(path, obj):
        seen.extend((run.id, run.problem) for run in runs.list_runs(tmp_path))  # a reader in the middle
        return write_json(path, obj)

    monkeypatch.setattr(runs, "write_json", look_while_writing)
    run = runs.create_run(JobConfig(), tmp_path)
    assert seen == [] and run.problem is None and [r.id for r in runs.list_runs(tmp_path)] == [run.id]
    assert oct(run.path.stat().st_mode & 0o777) == "0o755"
    assert sorted(p.name for p in tmp_path.iterdir()) == [run.id]  # no draft left
