"""The Ray executor (`$ECGCORE_EXECUTOR=ray`, see ecgcore.executors): each run is a Ray task.

The lab connects to the cluster at `$RAY_ADDRESS` (unset: "auto", the cluster that `ray start --head` started
on this machine); it never starts a cluster of its own, which would die with the dashboard or CLI process.

A Ray task lives only as long as the process that submitted it (its owner), and the dashboard, a CLI call or
a sweep's driver come and go. So runs are submitted by one detached actor per cluster (DISPATCHER in
namespace NAMESPACE, using no CPU), which outlives them all and holds each run's task reference:
- a fine-tuning's task gets its pretraining's reference as an argument, so Ray starts it after that ends;
- the queue's step (ecgcore.jobs) asks it which runs it holds: a run whose task has ended while its folder
  still says running died with its worker ("interrupted"); a queued run it does not know (the cluster was
  restarted) is handed over again;
- cancel asks it to `ray.cancel` the task.
The task runs `job.run`, the same job code as a local job, with stdout/stderr in the run's log.txt; run
folders (and the data-set cache) must be on storage every machine mounts at the same path (docs/runs.md).
"""

from __future__ import annotations

import logging
import os
import socket
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import ray

from ecgcore import job
from ecgcore.procs import package_root
from ecgcore.runs import Run

DISPATCHER = "ecgcore-dispatcher"
NAMESPACE = "ecgcore"
CPUS_ENV = "ECGCORE_RAY_CPUS"  # CPUs each run asks Ray for (default 1)
GPU_DEVICES = ("cuda", "auto")  # a run with one of these devices asks for a GPU when the cluster has one
_connecting = threading.Lock()  # Streamlit reruns pages in threads: one ray.init per process


def connect():
    """Join the Ray cluster at $RAY_ADDRESS (else "auto") unless this process already has; ValueError
    saying how to start one when none answers."""
    with _connecting:
        if ray.is_initialized():
            return
        address = os.environ.get("RAY_ADDRESS") or "auto"
        said = lambda: ""  # noqa: E731 - what Ray's client wrote on stderr while it tried
        try:
            _probe(address)
            with _stderr_kept() as said:
                ray.init(address=address, log_to_driver=False, logging_level=logging.WARNING)
        except ConnectionError as e:
            if any(word in said() for word in ("InvalidAuthToken", "Unauthenticated")):
                raise ValueError(
                    f"the Ray cluster at RAY_ADDRESS={address} answers but refused the lab's token: it uses token "
                    "authentication (on by default for `ray start --head` since Ray 2.59). Give the lab the head's "
                    "token (`ray get-auth-token` on the head prints it) in RAY_AUTH_TOKEN, a file named by "
                    "RAY_AUTH_TOKEN_PATH, or ~/.ray/auth_token, with RAY_AUTH_MODE=token") from None
            raise ValueError(f"the Ray executor is chosen, but no Ray cluster answers at RAY_ADDRESS={address} ({e}); "
                             "start one with `ray start --head` or point RAY_ADDRESS at one") from None


@contextmanager
def _stderr_kept():
    """Copy what this process writes to stderr (file descriptor 2) meanwhile, and pass it on after: Ray's
    C++ client says why it could not join a cluster only there (its exception says "Failed to connect")."""
    import tempfile

    saved = os.dup(2)
    with tempfile.TemporaryFile() as copy:
        sys.stderr.flush()
        os.dup2(copy.fileno(), 2)
        text = []
        try:
            yield lambda: "".join(text)
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            copy.seek(0)
            text.append(copy.read().decode(errors="replace"))
            sys.stderr.write(text[0])


def _probe(address, timeout_s=3.0):
    """ConnectionError at once when a HOST:PORT address has nothing listening (ray.init would retry for
    minutes); "auto" and other forms are left to Ray."""
    host, _, port = address.rpartition(":")
    if host and port.isdigit() and "/" not in host:
        try:
            socket.create_connection((host, int(port)), timeout=timeout_s).close()
        except OSError as e:
            raise ConnectionError(f"nothing listens at {address}: {e}") from None


def cpus_per_run():
    value = os.environ.get(CPUS_ENV) or "1"
    try:
        cpus = float(value)
    except ValueError:
        cpus = 0
    if cpus <= 0:
        raise ValueError(f"{CPUS_ENV}={value!r} is invalid: must be a number > 0")
    return cpus


def task_resources(config, cluster_gpus):
    """What a run asks Ray for: `$ECGCORE_RAY_CPUS` CPUs, and a GPU when its device is cuda or auto and the
    cluster has one (without, a cuda run fails with train's clear error rather than waiting forever)."""
    return {"num_cpus": cpus_per_run(), "num_gpus": 1 if config.device in GPU_DEVICES and cluster_gpus >= 1 else 0}


class RayExecutor:
    """Start, watch and stop runs as Ray tasks (ecgcore.executors.Executor)."""

    name = "ray"
    holds_dependents = True  # Ray starts a fine-tuning's task once its pretraining's task has ended

    def check(self):
        connect()

    def slots(self):
        return None  # Ray, not the lock file, decides how many run at once

    def watch(self, active):
        """The runs the dispatcher holds an unfinished task for; a running one also needs a fresh heartbeat."""
        held = set(ray.get(_dispatcher().held.remote([_key(run) for run, _ in active])))
        return {run for run, status in active
                if _key(run) in held and (status["state"] != "running" or job.fresh(run, status))}

    def start(self, run):
        config = run.config
        options = task_resources(config, ray.cluster_resources().get("GPU", 0)) | {"name": f"ecgcore run {run.id}"}
        # the job code reads its settings (cache folder, ...) from ECGCORE_* variables, as a local job inherits them
        env = {k: v for k, v in os.environ.items() if k.startswith("ECGCORE_")}
        ray.get(_dispatcher().submit.remote(_key(run), [str(Path(p).resolve()) for p in config.pretrained],
                                            options, env))
        run.update_status(executor=self.name,
                          message=f"queued in Ray ({options['num_cpus']:g} CPU, {options['num_gpus']} GPU)")

    def stop(self, run, status, grace_s=0.0):
        """Cancel the run's task, forced whatever the run's status says (Ray may have started a task whose
        job has not claimed the run yet): a pending one never starts, a running one's worker is killed."""
        ray.get(_dispatcher().cancel.remote(_key(run), True))

    def resources(self):
        connect()
        total = ray.cluster_resources()
        return {"executor": self.name, "cpus": total.get("CPU", 0.0), "gpus": total.get("GPU", 0.0),
                "nodes": sum(1 for node in ray.nodes() if node["Alive"]),
                "address": ray.get_runtime_context().gcs_address, "note": f"{cpus_per_run():g} CPU per run"}


def _key(run):
    return str(run.path.resolve())


def _dispatcher():
    connect()
    # the dispatcher and the tasks it submits (which inherit its runtime_env) import ecgcore from where we do
    return Dispatcher.options(name=DISPATCHER, namespace=NAMESPACE, lifetime="detached", get_if_exists=True,
                              runtime_env={"env_vars": {"PYTHONPATH": package_root()}}).remote()


@ray.remote(num_cpus=0)
class Dispatcher:
    """Submits the runs' tasks and holds their references (see the module docstring). Its methods run one at a
    time, so two lab processes handing over the same run start one task."""

    def __init__(self):
        self.tasks = {}  # run folder -> task reference, until the queue has seen the task end

    def submit(self, path, pretrained, options, env):
        if path in self.tasks:
            return False
        deps = [self.tasks[p] for p in pretrained if p in self.tasks]
        self.tasks[path] = run_task.options(**options).remote(path, env, *deps)
        return True

    def held(self, paths):
        """Which of `paths` have an unfinished task; ended tasks are forgotten once reported."""
        refs = list(self.tasks.values())
        ended = set(ray.wait(refs, num_returns=len(refs), timeout=0, fetch_local=False)[0]) if refs else set()
        held = [p for p in paths if p in self.tasks and self.tasks[p] not in ended]
        self.tasks = {p: ref for p, ref in self.tasks.items() if ref not in ended}
        return held

    def cancel(self, path, force):
        ref = self.tasks.get(path)
        if ref is not None:
            ray.cancel(ref, force=force)


@ray.remote(max_retries=0)  # a run whose worker died is failed ("interrupted"), not silently trained again
def run_task(path, env, *pretrained_ended):
    """One run as a Ray task: the job code of the local executor, in this worker, logging to log.txt."""
    import torch

    os.environ.update(env)
    # as many threads as CPUs Ray gave this task: a reused worker would keep its first task's count otherwise
    torch.set_num_threads(max(1, int(ray.get_runtime_context().get_assigned_resources().get("CPU", 1))))
    run = Run(path)
    # a pretraining Ray holds no reference for (taken by another executor) is waited for on its folder
    while (blocker := job.waiting_for(run)) == "" and run.state == "queued":
        time.sleep(1.0)
    if blocker:
        return blocker  # the queue's next step fails the run with this reason
    with _output_to(run.log_path):
        try:
            return job.run(path)
        except (ValueError, FileNotFoundError) as e:  # cancelled or deleted while it waited, or taken
            print(f"not started: {e}", flush=True)
            return str(e)


@contextmanager
def _output_to(path):
    """This worker's stdout and stderr (the file descriptors) go to `path`, and back afterwards: the worker
    goes on to run other tasks."""
    saved = os.dup(1), os.dup(2)
    try:
        job.log_to(path)
        yield
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        for fd, target in zip(saved, (1, 2)):
            os.dup2(fd, target)
            os.close(fd)
