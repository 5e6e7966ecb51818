"""The Ray executor on a local Ray (2 CPUs, loopback only, one per module): a sweep started by a driver that
is gone, with a fine-tuning arm submitted before its pretraining ended, gives the local executor's test metrics;
cancel, a killed worker, and the executor setting and its resources."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import ray

from ecgcore import executors, jobs, ray_executor, runs, sweep
from ecgcore.cli import main
from ecgcore.config import JobConfig
from run_fixtures import tiny_config, tiny_dataset_npz

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def ray_address():
    with pytest.MonkeyPatch.context() as mp:
        loopback_only(mp)
        ray.init(num_cpus=2, include_dashboard=False, object_store_memory=80 * 1024 ** 2, log_to_driver=False)
        try:
            yield ray.get_runtime_context().gcs_address
        finally:
            ray.shutdown()  # stops the raylet, GCS and workers this module started


def loopback_only(mp):
    """Keep the test's Ray on 127.0.0.1: Ray swaps a loopback address for the machine's network address
    unless it is told it is no cluster, here (ray_constants, read at import) and in every process it starts."""
    mp.setenv("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    mp.setattr(ray._private.ray_constants, "ENABLE_RAY_CLUSTER", False)


@pytest.fixture
def ray_lab(ray_address, monkeypatch):
    monkeypatch.setenv("ECGCORE_EXECUTOR", "ray")
    monkeypatch.setenv("RAY_ADDRESS", ray_address)
    return ray_address


@pytest.fixture(scope="module")
def npz(tmp_path_factory):
    return tiny_dataset_npz(tmp_path_factory.mktemp("data") / "tiny.npz", n=48)


def wait_for(predicate, timeout_s, what):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"not {what} after {timeout_s} s")


def test_executor_setting_and_its_errors(monkeypatch):
    monkeypatch.delenv("ECGCORE_EXECUTOR", raising=False)
    assert executors.executor_name() == "local"
    monkeypatch.setenv("ECGCORE_EXECUTOR", "slurm")
    with pytest.raises(ValueError, match="ECGCORE_EXECUTOR='slurm' is invalid"):
        executors.executor_name()
    info = executors.describe()
    assert info["error"] and "slurm" in info["text"]
    monkeypatch.delenv("ECGCORE_EXECUTOR")
    local = executors.describe()
    assert (local["executor"], local["nodes"], local["cpus"]) == ("local", 1, os.cpu_count())
    assert local["text"].startswith("Executor: local · ")


def test_a_run_asks_ray_for_cpus_and_a_gpu_when_the_cluster_has_one(monkeypatch):
    monkeypatch.delenv("ECGCORE_RAY_CPUS", raising=False)
    auto, cpu = JobConfig(device="auto"), JobConfig(device="cpu")
    assert ray_executor.task_resources(auto, 0) == {"num_cpus": 1.0, "num_gpus": 0}
    assert ray_executor.task_resources(auto, 2) == {"num_cpus": 1.0, "num_gpus": 1}
    assert ray_executor.task_resources(cpu, 2)["num_gpus"] == 0
    monkeypatch.setenv("ECGCORE_RAY_CPUS", "4")
    assert ray_executor.task_resources(JobConfig(device="cuda"), 1) == {"num_cpus": 4.0, "num_gpus": 1}
    monkeypatch.setenv("ECGCORE_RAY_CPUS", "-1")
    with pytest.raises(ValueError, match="ECGCORE_RAY_CPUS='-1' is invalid"):
        ray_executor.task_resources(cpu, 0)


def test_cli_flag_sets_the_executor_for_the_command_and_its_jobs(monkeypatch, tmp_path, capsys):
    monkeypatch.delenv("ECGCORE_EXECUTOR", raising=False)
    assert main(["--executor", "local", "runs", "list", "--runs-dir", str(tmp_path)]) == 0
    assert os.environ["ECGCORE_EXECUTOR"] == "local"
    with pytest.raises(SystemExit):
        main(["--executor", "slurm", "runs", "list"])


def test_ray_without_a_cluster_says_how_to_start_one(npz, tmp_path):
    env = dict(os.environ, ECGCORE_EXECUTOR="ray", RAY_ADDRESS="127.0.0.1:9", PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, "-m", "ecgcore", "pretrain", "--data", str(npz), "--runs-dir",
                           str(tmp_path)], env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "no Ray cluster answers at RAY_ADDRESS=127.0.0.1:9" in proc.stderr
    assert "ray start --head" in proc.stderr
    assert runs.list_runs(tmp_path) == []  # a refused submit leaves nothing queued for a later look to start


def test_a_cluster_that_asks_for_a_token_is_named_so(monkeypatch):
    """Ray says only "Failed to connect" when its head refuses the token; its C++ client writes why on stderr."""
    def refused(*args, **kwargs):
        os.write(2, b"gcs_client.cc:210: Failed to get cluster ID from GCS server: Unauthenticated: RPC error: "
                    b"InvalidAuthToken: Authentication token is missing or incorrect\n")
        raise ConnectionError("Failed to connect to Ray cluster at 127.0.0.1:6399")

    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    monkeypatch.setattr(ray, "init", refused)
    monkeypatch.setattr(ray_executor, "_probe", lambda address: None)  # the head answers on its port
    monkeypatch.setenv("RAY_ADDRESS", "127.0.0.1:6399")
    with pytest.raises(ValueError, match="token") as caught:
        ray_executor.connect()
    assert "RAY_AUTH_TOKEN" in str(caught.value) and "no Ray cluster answers" not in str(caught.value)


def test_cancel_forces_the_task_whatever_the_run_status_says(monkeypatch, tmp_path):
    """A task Ray has started while the run's status still says queued (the job has not claimed it yet) is
    forced too: a gentle cancel would let it go on."""
    asked = []

    class Dispatcher:
        class cancel:
            @staticmethod
            def remote(key, force):
                asked.append(force)

    monkeypatch.setattr(ray_executor, "_dispatcher", lambda: Dispatcher)
    monkeypatch.setattr(ray, "get", lambda ref: None)
    run = runs.create_run(JobConfig(), tmp_path)
    for state in ("queued", "running"):
        ray_executor.RayExecutor().stop(run, {**run.status(), "state": state, "executor": "ray"})
    assert asked == [True, True]


@pytest.mark.slow
def test_a_sweep_through_ray_matches_the_local_executor(ray_lab, npz, tmp_path, monkeypatch):
    # a local job has all cores' threads; a run on Ray as many as CPUs it asks for (float sums differ in the
    # last digits with another thread count), so each Ray run asks for this machine's cores
    monkeypatch.setenv("ECGCORE_RAY_CPUS", str(os.cpu_count()))
    ray_runs, local_runs = tmp_path / "ray-runs", tmp_path / "local-runs"
    pre = jobs.submit(tiny_config(npz, epochs=1), ray_runs)
    assert pre.status()["executor"] == "ray"
    # the sweep is started by a CLI process that exits at once, while the pretraining is queued or running:
    # its fine-tuning cells wait for it in Ray, and the cells go on without the driver that submitted them
    start = subprocess.run(
        [sys.executable, "-m", "ecgcore", "--executor", "ray", "sweep", "start", "--runs-dir", str(ray_runs),
         "--data", str(npz), "--arch", "small_cnn", "--epochs", "1", "--batch-size", "16", "--patience", "0",
         "--fractions", "0.5,1", "--seeds", "0,1", "--arm", f"freeze_first_block:{pre.path}=transfer"],
        env=dict(os.environ, PYTHONPATH=str(ROOT)), capture_output=True, text=True, timeout=300)
    assert start.returncode == 0, start.stderr
    on_ray = sweep.get_sweep(start.stdout.split()[-1], ray_runs)
    assert on_ray.advance() == 0  # a resume from another process: every cell is held by Ray or done
    counts = on_ray.wait(poll_s=0.5, timeout_s=300)
    assert counts["done"] == 8, counts
    pre_end = pre.status()["finished"]
    for cell in on_ray.cells():
        run = on_ray.run_of(cell)
        assert {"config.json", "status.json", "metrics.jsonl", "summary.json", "predictions.npz", "model.pt",
                "log.txt"} <= {p.name for p in run.path.iterdir()}
        assert run.status()["executor"] == "ray" and "done" in run.log_tail()
        if cell["arm"] == "transfer":
            assert run.status()["started"] > pre_end  # waited for its pretraining

    monkeypatch.setenv("ECGCORE_EXECUTOR", "local")
    local = sweep.create_sweep(on_ray.config, local_runs)
    assert local.wait(poll_s=0.5, timeout_s=300)["done"] == 8
    metric_cols = [c for c in on_ray.table() if c not in ("run_id", "state")]
    key = ["fraction", "arm", "seed"]
    got = on_ray.table()[metric_cols].sort_values(key).reset_index(drop=True)
    want = local.table()[metric_cols].sort_values(key).reset_index(drop=True)
    assert len(metric_cols) > 4
    assert got.equals(want), (got, want)


def long_run(ray_runs, npz):
    run = jobs.submit(tiny_config(npz, epochs=200, task="pretrain"), ray_runs)

    def training():
        jobs.refresh(ray_runs)
        return run.status()["epoch"] >= 1

    wait_for(training, 120, "training")
    return run


def test_cancel_a_running_ray_run_stops_its_task(ray_lab, npz, tmp_path):
    # how fast (the goal: within 2 s) is bench/faults.py's figure; here only what cancel leaves behind
    run = long_run(tmp_path, npz)
    assert jobs.cancel(run)["state"] == "cancelled"
    wait_for(lambda: not ray_executor.RayExecutor().watch([(run, run.status())]), 120, "the task gone")
    assert run.state == "cancelled" and not (run.path / "model.pt").exists()


def test_a_killed_ray_worker_fails_its_run(ray_lab, npz, tmp_path):
    run = long_run(tmp_path, npz)
    os.kill(run.status()["pid"], signal.SIGKILL)

    def failed():
        jobs.refresh(tmp_path)
        return run.state == "failed"

    wait_for(failed, 30, "failed")
    assert run.status()["error"].startswith("interrupted")


def test_the_runs_page_figures_come_from_the_cluster(ray_lab):
    info = executors.describe()
    assert (info["executor"], info["cpus"], info["gpus"], info["nodes"]) == ("ray", 2, 0, 1)
    assert info["text"].startswith("Executor: ray at 127.0.0.1:") and "2 CPUs, 0 GPUs, 1 node" in info["text"]
