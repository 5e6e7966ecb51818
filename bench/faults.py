"""Fault scenarios end to end on a temporary runs folder: kill -9 mid-epoch, SIGSTOP, cancel under load,
4 processes x 30 concurrent submits, 8 concurrent first builds of one data set, damaged files of each kind
(and a read-only runs folder, when not run as root).

Counts what was lost (a submitted run without a readable folder), stuck (a run still active after its job was
killed, stopped or cancelled) and crashed (a CLI command or builder process that ended with a traceback), and
times how long a killed job takes to read as failed and how long `cancel` takes under load (until the job's
process is gone or has moved on). Usage: python bench/faults.py [--cancels 4]. Ends with one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

from ecgcore import files, job, jobs, procs, runs
from ecgcore.config import JobConfig

import results  # bench/results.py: the JSON line and --save

DATA = {"source": "synthetic", "n": 200, "fs": 100, "seed": 0}
TRAINING = JobConfig(task="pretrain", data=DATA, epochs=1000, batch_size=8, patience=0)


def until(predicate, timeout=300, every=0.02):
    """Seconds until `predicate()` holds; None when it never did within `timeout`."""
    t0 = time.monotonic()
    while not predicate():
        if time.monotonic() - t0 > timeout:
            return None
        time.sleep(every)
    return time.monotonic() - t0


def training(run):
    status = run.status()
    return status["state"] == "running" and status["epoch"] >= 1 and status.get("pid")


def python(code, env=None, **kw):
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, **kw)


def cli(*args, runs_dir):
    out = subprocess.run([sys.executable, "-m", "ecgcore", *args, "--runs-dir", str(runs_dir)], cwd=ROOT,
                         capture_output=True, text=True)
    return out.returncode, out.stdout + out.stderr


class Tally:
    def __init__(self):
        self.lost, self.stuck, self.crashed, self.notes = 0, 0, 0, []

    def crash(self, what, text):
        self.crashed += 1
        self.notes.append(f"crashed: {what}: {text.strip().splitlines()[-1] if text.strip() else '?'}")


def kill_mid_epoch(runs_dir, tally):
    run = jobs.submit(TRAINING, runs_dir)
    if until(lambda: training(run)) is None:
        tally.stuck += 1
        return None
    os.killpg(run.status()["pid"], signal.SIGKILL)
    t0 = time.monotonic()
    waited = until(lambda: jobs.refresh(runs_dir) and run.state == "failed", timeout=30)
    if waited is None:
        tally.stuck += 1
        return None
    return time.monotonic() - t0


def sigstop(runs_dir, tally):
    """A stopped job (SIGSTOP: hung, swapped out) is failed once its heartbeat is STALE_S old and killed."""
    run = jobs.submit(TRAINING, runs_dir)
    if until(lambda: training(run)) is None:
        tally.stuck += 1
        return None
    pid = run.status()["pid"]
    os.kill(pid, signal.SIGSTOP)
    t0 = time.monotonic()
    waited = until(lambda: jobs.refresh(runs_dir) and run.state == "failed", timeout=job.STALE_S + 30,
                   every=0.2)
    gone = until(lambda: not procs.is_process(pid), timeout=5)
    if waited is None or gone is None:
        tally.stuck += 1
        os.killpg(pid, signal.SIGKILL)
        return None
    return time.monotonic() - t0


def cancel_under_load(runs_dir, tally, n):
    """Two training jobs plus two CPU burners on the machine; cancel each job once it trains: seconds until
    cancel returned with the job's process gone (or training another run)."""
    burners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(2)]
    background = jobs.submit(TRAINING, runs_dir)  # the second training job
    times = []
    try:
        for _ in range(n):
            run = jobs.submit(TRAINING, runs_dir)
            if until(lambda: training(run)) is None:
                tally.stuck += 1
                jobs.cancel(run)
                continue
            pid = run.status()["pid"]
            t0 = time.monotonic()
            jobs.cancel(run)
            took = time.monotonic() - t0
            if run.state != "cancelled" or procs.is_process(pid):
                tally.stuck += 1
                tally.notes.append(f"cancel: {run.id} {run.state}, process alive: {procs.is_process(pid)}")
            times.append(took)
    finally:
        jobs.cancel(background)
        for b in burners:
            b.kill()
            b.wait()
    return times


SUBMITTER = """
import sys
from ecgcore import runs
from ecgcore.config import JobConfig
ids = [runs.create_run(JobConfig(epochs=1, name=f"p{sys.argv[1]}-{i}"), sys.argv[2]).id for i in range(30)]
print(" ".join(ids))
"""


def concurrent_submits(runs_dir, tally):
    """4 processes x 30 create_run at once: every id unique, every folder readable."""
    procs_ = [subprocess.Popen([sys.executable, "-c", SUBMITTER, str(i), str(runs_dir)], cwd=ROOT,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for i in range(4)]
    ids = []
    for p in procs_:
        out, err = p.communicate()
        if p.returncode:
            tally.crash("submitter", err)
        ids += out.split()
    readable = {r.id for r in runs.list_runs(runs_dir) if r.problem is None}
    tally.lost += 120 - len(set(ids) & readable)
    return len(set(ids))


BUILDER = """
import sys
from ecgcore.data.sources import load_dataset
ds = load_dataset({"source": "synthetic", "n": 300, "fs": 100, "seed": 5})
print(len(ds))
"""


def concurrent_builds(cache, tally):
    """8 processes build the same not-yet-cached data set at once: each must get it."""
    env = {**os.environ, "ECGCORE_CACHE": str(cache)}
    builders = [subprocess.Popen([sys.executable, "-c", BUILDER], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True) for _ in range(8)]
    failed = 0
    for p in builders:
        out, err = p.communicate()
        if p.returncode or out.strip() != "300":
            failed += 1
            tally.crash("first build", err)
    leftovers = [p.name for p in cache.rglob("*") if ".tmp" in p.name or p.name.endswith(".partial")]
    if leftovers:
        tally.notes.append(f"temporary files left in the cache: {leftovers[:3]}")
    return failed


def damaged_files(runs_dir, tally):
    """One run of each kind of damage beside a healthy one: every command still answers, the healthy run
    still reads as done, a queued run with a damaged config is not called 'pretrained run unusable'."""
    healthy = runs.create_run(JobConfig(epochs=1, name="healthy"), runs_dir)
    healthy.update_status(state="done", progress=1.0, message="done")
    files.write_json(healthy.path / "summary.json", {"test": {"mae_hr": 1.0}})
    damage = {
        "summary": lambda r: (r.update_status(state="done", progress=1.0),
                              (r.path / "summary.json").write_text("{not json")),
        "progress": lambda r: files.write_json(r.path / "status.json", {**r.status(), "progress": "half"}),
        "config": lambda r: (r.path / "config.json").write_text("{\"task\": "),
        "status": lambda r: (r.path / "status.json").write_bytes(b"\x00\x01"),
        "metrics": lambda r: (r.path / "metrics.jsonl").write_text("{\"epoch\": 1}\n{garb"),
    }
    for kind, edit in damage.items():
        edit(runs.create_run(JobConfig(epochs=1, name=f"damaged-{kind}"), runs_dir))
    for args in (("runs", "list"), ("runs", "list", "--json")):
        rc, out = cli(*args, runs_dir=runs_dir)
        if rc or "Traceback" in out:
            tally.crash(" ".join(args), out)
    for run in runs.list_runs(runs_dir):
        rc, out = cli("runs", "show", run.id, runs_dir=runs_dir)
        if "Traceback" in out:
            tally.crash(f"runs show {run.config.name if run.problem is None else run.id}", out)
        if "pretrained run unusable" in json.dumps(run.status()):
            tally.notes.append(f"{run.id}: a damaged config reported as 'pretrained run unusable'")
            tally.crashed += 1
    if healthy.state != "done" or healthy.problem:
        tally.lost += 1


def read_only(runs_dir, tally):
    """runs list and runs show on a folder this user cannot write: they answer; cancel says what it needs."""
    if os.geteuid() == 0:
        return "skipped (root: chmod does not bite)"
    mode = runs_dir.stat().st_mode
    os.chmod(runs_dir, 0o555)
    try:
        run_id = runs.list_runs(runs_dir)[0].id
        for args in (("runs", "list"), ("runs", "show", run_id)):
            rc, out = cli(*args, runs_dir=runs_dir)
            if rc or "Traceback" in out:
                tally.crash(" ".join(args) + " (read-only)", out)
        rc, out = cli("runs", "delete", run_id, runs_dir=runs_dir)
        if "Traceback" in out or "write access" not in out:
            tally.crash("runs delete (read-only)", out)
    finally:
        os.chmod(runs_dir, mode)
    return "checked"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cancels", type=int, default=4, help="cancels timed under load")
    ap.add_argument("--stale-s", type=float, default=5.0, help="heartbeat age that fails a stopped job (the "
                    "library's STALE_S is 30 s; shortened here so the bench ends sooner)")
    results.add_save(ap)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-faults-"))
    os.environ["ECGCORE_CACHE"] = str(tmp / "cache")
    os.environ["ECGCORE_MAX_JOBS"] = "2"
    job.STALE_S = args.stale_s
    tally, figures = Tally(), {}
    load_before = os.getloadavg()[0]
    try:
        runs_dir = tmp / "runs"
        figures["kill_to_failed_s"] = kill_mid_epoch(runs_dir, tally)
        figures["sigstop_to_failed_s"] = sigstop(runs_dir, tally)
        times = cancel_under_load(runs_dir, tally, args.cancels)
        figures["cancel_median_s"] = statistics.median(times) if times else None
        figures["cancel_max_s"] = max(times) if times else None
        figures["load_during_cancels"] = os.getloadavg()[0]
        figures["unique_submits"] = concurrent_submits(tmp / "submits", tally)
        figures["first_builds_failed"] = concurrent_builds(tmp / "build-cache", tally)
        damaged_files(tmp / "damaged", tally)
        figures["read_only"] = read_only(tmp / "damaged", tally)
        for run in runs.list_runs(runs_dir):  # every job of the timed scenarios ended
            if run.state in runs.ACTIVE_STATES:
                tally.stuck += 1
                jobs.cancel(run)
    finally:
        for d in (tmp / "runs", tmp / "submits"):
            for run in runs.list_runs(d):
                if run.state in runs.ACTIVE_STATES:
                    jobs.cancel(run)
        shutil.rmtree(tmp, ignore_errors=True)
    figures = {k: round(v, 3) if isinstance(v, float) else v for k, v in figures.items()}
    result = {"runs_lost": tally.lost, "runs_stuck": tally.stuck, "commands_crashed": tally.crashed, **figures,
              "load_before": round(load_before, 2), "cpus": os.cpu_count()}
    for note in tally.notes:
        print(note)
    for key, value in result.items():
        print(f"{key:22} {value}")
    results.publish("faults", result, args.save)


if __name__ == "__main__":
    main()
