"""Fault scenarios end to end on a temporary runs folder: kill -9 mid-epoch, SIGSTOP, cancel under load,
4 processes x 30 concurrent submits, 8 concurrent first builds of one data set, damaged files of each kind
(and a read-only runs folder, when not run as root); then a fuzz: every file of a finished run and of a data
set folder damaged in several ways (truncated, empty, garbled, each field of the wrong type, a link out),
transient OSErrors at open, lock holders stopped with SIGSTOP, MLflow stores that do not answer, a full disk
(a small tmpfs when root).

Counts what was lost (a submitted run without a readable folder), stuck (a run still active after its job was
killed, stopped or cancelled), crashed (a command or reader that ended with a traceback, or any other exit
than a clean refusal), silent (a damaged input read without a word), cache entries lost (a good one deleted),
and times how long a killed job takes to read as failed, how long `cancel` takes under load (until the job's
process is gone or has moved on) and the longest wait on a lock or a store. Usage: python bench/faults.py
[--cancels 4] [--parts timed,fuzz]. Ends with one JSON line.
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
        self.lost, self.stuck, self.crashed, self.silent, self.notes = 0, 0, 0, 0, []

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


def cancel_under_load(runs_dir, tally, n, burners, load):
    """Two training jobs plus `burners` CPU burners on the machine; once the load average reaches `load` (or
    after 5 minutes), cancel each job once it trains: seconds until cancel returned with the job's process
    gone (or training another run)."""
    burners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(burners)]
    background = jobs.submit(TRAINING, runs_dir)  # the second training job
    times = []
    try:
        if until(lambda: os.getloadavg()[0] >= load, timeout=300, every=1.0) is None:
            tally.notes.append(f"the load average did not reach {load} before the cancels")
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


# ---- the fuzz: every file of a finished run and of a data set, damaged in several ways -------------------

def _wrong_values(value):
    """Values that are wrong for a field whose good value is `value`: another JSON type, or -1 for a count."""
    others = {"number": 7, "text": "text", "list": [1, 2], "object": {"a": 1}, "bool": True, "null": None}
    kind = ("bool" if isinstance(value, bool) else "number" if isinstance(value, (int, float)) else
            "text" if isinstance(value, str) else "list" if isinstance(value, list) else
            "object" if isinstance(value, dict) else "null")
    # null is "not known" wherever a field may be null, so it is only wrong in place of a list or an object
    wrong = [v for k, v in others.items() if k != kind and (k != "null" or kind in ("list", "object"))]
    if kind == "number" and value >= 0:
        wrong.append(-1)
    if kind == "null":
        wrong = [[1, 2], {"a": 1}, True]
    if kind == "list" and value and all(isinstance(x, str) for x in value):
        wrong.append([1, 2])  # names that are not names
    return wrong


def _truncate(path):
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _empty(path):
    path.write_bytes(b"")


def _garble(path):
    data = bytearray(path.read_bytes())
    for i in range(min(len(data), 96)):  # the header, where readers decide what the rest is
        data[i] ^= 0x5A
    path.write_bytes(bytes(data))


def _linker(outside):
    def link(path):
        path.unlink(missing_ok=True)
        os.symlink(outside, path)
    return link


def _field(key, value):
    def edit(path):
        data = json.loads(path.read_text())
        data[key] = value
        path.write_text(json.dumps(data))
    return edit


def _variants(path, outside):
    """[(name, damage)] for one file: truncated, empty, garbled, linked out, and each JSON field of each wrong
    type (a JSON object file) or each metrics line replaced by a wrong record (metrics.jsonl)."""
    out = [("truncated", _truncate), ("empty", _empty), ("garbled", _garble), ("linked out", _linker(outside))]
    if path.suffix == ".json":
        for key, good in json.loads(path.read_text()).items():
            out += [(f"{key}={value!r}", _field(key, value)) for value in _wrong_values(good)]
    if path.suffix == ".jsonl":
        wrong = [7, "text", [1, 2], None, True, {"epoch": "one"}, {"epoch": -1}, {"val_loss": [1]}]
        out += [(f"line {value!r}", lambda p, v=value: p.write_text(json.dumps(v) + "\n")) for value in wrong]
    return out


def _in_process(argv):
    """(exit code, output) of `python -m ecgcore ARGV` run in this process; exit code None: a traceback."""
    import contextlib
    import io

    from ecgcore import cli as ecgcli

    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
            rc = ecgcli.main(argv)
    except Exception as e:  # noqa: BLE001 - what the bench counts: anything but a clean refusal
        import traceback

        return None, out.getvalue() + "".join(traceback.format_exception(e))
    return rc, out.getvalue()


# Files whose content no reader trusts (text a person reads, a timestamp): only a link there is damage.
_CONTENT_FREE = ("log.txt", "heartbeat")


def fuzz_runs(tmp, tally):
    """A finished run's every file damaged in every way of _variants, each in a copy of the run; per copy the
    run's readers and `runs show`, then over the whole folder `runs list` (table and JSON), both exports and
    the Runs page. Returns the number of variants tried."""
    from ecgcore import train

    source = tmp / "fuzz-source"
    run = runs.create_run(JobConfig(task="pretrain", data={**DATA, "n": 60, "duration": 2}, epochs=1,
                                    batch_size=8, targets=["hr"]), source)
    if job.run(run.path) != "done":
        tally.crash("fuzz: training the run to damage", run.log_tail())
        return 0
    (run.path / "log.txt").write_text("a log\n")
    outside = tmp / "outside.txt"
    outside.write_text('{"secret": "OUTSIDE"}\n')
    folder, tried = tmp / "fuzz-runs", 0
    folder.mkdir()
    for name in sorted(os.listdir(run.path)):
        for how, damage in _variants(run.path / name, outside):
            copy = folder / f"{run.id}-{tried:04d}"
            shutil.copytree(run.path, copy)
            damage(copy / name)
            tried += 1
            damaged = runs.Run(copy)
            what = f"{name} {how}"
            try:
                problem = damaged.problem
                damaged.status(), damaged.metrics(), runs.title(damaged)
                if problem is None:
                    damaged.outputs()
                reader_ok = True
                if name == "predictions.npz":
                    damaged.predictions()
                elif name == "model.pt":
                    train.load_model(copy)
            except ValueError:
                reader_ok = False  # refused in words: what it should do
            except Exception as e:  # noqa: BLE001
                tally.crash(f"fuzz reader, {what}", f"{type(e).__name__}: {e}")
                continue
            if problem is None and reader_ok and not (name in _CONTENT_FREE and how != "linked out"):
                tally.silent += 1
                tally.notes.append(f"silent: {what} read without a word")
            rc, text = _in_process(["runs", "show", damaged.id, "--runs-dir", str(folder)])
            if rc is None or "OUTSIDE" in text:
                tally.crash(f"runs show, {what}", text)
    for argv in (["runs", "list"], ["runs", "list", "--json"],
                 ["runs", "export", "--tensorboard", str(tmp / "fuzz-tb"), "--figures", "none"],
                 ["runs", "export", "--mlflow", f"sqlite:///{tmp / 'fuzz-mlflow.db'}", "--figures", "none"]):
        rc, text = _in_process([*argv, "--runs-dir", str(folder)])
        if rc is None or "OUTSIDE" in text:
            tally.crash(" ".join(argv[:3]) + " over the fuzzed runs", text)
    if outside.read_text() != '{"secret": "OUTSIDE"}\n':
        tally.crash("fuzz", "a file outside the runs folder was written through a link")
    _runs_page(folder, tally)
    return tried


def _runs_page(folder, tally):
    from streamlit.testing.v1 import AppTest

    os.environ["ECGCORE_RUNS"] = str(folder)
    try:
        at = AppTest.from_file(str(ROOT / "views" / "4_Runs.py"), default_timeout=600).run()
        if at.exception:
            tally.crash("the Runs page over the fuzzed runs", str(at.exception[0].value))
    finally:
        del os.environ["ECGCORE_RUNS"]


def fuzz_data_sets(tmp, tally):
    """A data set folder's every file damaged in every way of _variants plus a signals header of another shape
    and per-record arrays of the wrong kind: each must be refused as Damaged (naming the file) when opened,
    and as a cache entry rebuilt to the right records. Returns (variants tried, entries lost)."""
    import numpy as np

    from ecgcore.data import cache
    from ecgcore.data.dataset import DataSet, Damaged, META_FILE, RECORDS_FILE, SIGNALS_FILE
    from ecgcore.leads import LEADS

    rng = np.random.default_rng(0)
    good = DataSet(rng.standard_normal((6, 12, 20)).astype(np.float32), 100.0, LEADS,
                   targets={"hr": rng.uniform(50, 90, 6)}, label=np.arange(6) % 5, fold=np.arange(6) % 3,
                   config={"fuzz": 1})
    base = good.save(tmp / "fuzz-set")
    outside = tmp / "outside.npy"
    np.save(outside, np.zeros((6, 12, 20), np.float32))

    def other_shape(path):
        data = path.read_bytes()
        end = data.index(b"\n") + 1
        path.write_bytes(data[:end].replace(b"(6, 12, 20)", b"(6, 12, 10)") + data[end:])

    def grown(path):
        path.write_bytes(path.read_bytes() + b"\x00" * 64)

    def records(**arrays):
        def edit(path):
            with np.load(path) as z:
                kept = {k: z[k] for k in z.files}
            with open(path, "wb") as f:
                np.savez(f, **{**kept, **arrays})
        return edit

    extra = {SIGNALS_FILE: [("header of another shape", other_shape), ("bytes appended", grown)],
             RECORDS_FILE: [("label as floats", records(label=np.linspace(0, 1, 6))),
                            ("fold as text", records(fold=np.array(list("abcdef")))),
                            ("hr of 5 records", records(hr=np.ones(5, np.float32))),
                            ("hr dropped", lambda p: records()(p) or _drop_array(p, "hr"))]}
    tried, lost = 0, 0
    os.environ["ECGCORE_CACHE"] = str(tmp / "fuzz-cache")
    for name in (SIGNALS_FILE, RECORDS_FILE, META_FILE):
        for how, damage in _variants(base / name, outside) + extra.get(name, []):
            tried += 1
            copy = tmp / f"fuzz-set-{tried:04d}"
            shutil.copytree(base, copy)
            damage(copy / name)
            what = f"data set {name} {how}"
            try:
                DataSet.load(copy)
                tally.silent += 1
                tally.notes.append(f"silent: {what} loaded without a word")
            except Damaged as e:
                if name not in str(e) and str(copy) not in str(e):
                    tally.notes.append(f"{what}: refused without naming the file: {e}")
            except Exception as e:  # noqa: BLE001
                tally.crash(f"open, {what}", f"{type(e).__name__}: {e}")
            key = {"fuzz": tried}  # the same damage to a cache entry: rebuilt to the right records
            entry = cache.cache_path(key)
            shutil.copytree(copy, entry, symlinks=True)  # a link stays a link
            try:
                rebuilt = cache.cached(key, lambda: good)
                if not np.array_equal(np.asarray(rebuilt.signals), good.signals):
                    tally.silent += 1
                    tally.notes.append(f"silent: cache entry with {name} {how} read as other records")
            except Exception as e:  # noqa: BLE001
                tally.crash(f"cache, {what}", f"{type(e).__name__}: {e}")
    lost += _transient_errors(tally, good)
    return tried, lost


def _drop_array(path, name):
    import numpy as np

    with np.load(path) as z:
        kept = {k: z[k] for k in z.files if k != name}
    with open(path, "wb") as f:
        np.savez(f, **kept)


def _transient_errors(tally, good):
    """EMFILE, EIO and ENOSPC raised while a good cache entry is opened: the error is reported and the entry
    kept. Returns the number of entries lost."""
    import errno

    import numpy as np

    from ecgcore.data import cache

    lost = 0
    for code in (errno.EMFILE, errno.EIO, errno.ENOSPC):
        key = {"transient": code}
        cache.cached(key, lambda: good)
        real = np.load

        def failing(file, *args, **kwargs):
            if str(file).endswith("signals.npy"):
                raise OSError(code, os.strerror(code), str(file))
            return real(file, *args, **kwargs)

        np.load = failing
        try:
            cache.cached(key, lambda: good)
            tally.notes.append(f"{errno.errorcode[code]} at open: not reported")
        except OSError:
            pass
        except Exception as e:  # noqa: BLE001
            tally.crash(f"{errno.errorcode[code]} at open", f"{type(e).__name__}: {e}")
        finally:
            np.load = real
        if not cache.cache_path(key).is_dir():
            lost += 1
            tally.notes.append(f"{errno.errorcode[code]} at open deleted a good cache entry")
    return lost


def stopped_lock_holders(tmp, tally):
    """A process stopped (SIGSTOP) while it holds the runs folder's lock, and one holding a run's lock: how
    long runs list, runs show, a submit and runs cancel wait (the longest, in seconds), each answering."""
    runs_dir = tmp / "locks"
    run = runs.create_run(JobConfig(epochs=1), runs_dir)
    code = ("import sys, time\nfrom ecgcore import files\nwith files.locked(sys.argv[1]):\n"
            "    print('locked', flush=True)\n    time.sleep(3600)\n")
    holders = []
    for folder in (runs_dir, run.path):
        holder = subprocess.Popen([sys.executable, "-c", code, str(folder)], cwd=ROOT, stdout=subprocess.PIPE,
                                  text=True)
        holder.stdout.readline()
        holder.send_signal(signal.SIGSTOP)
        holders.append(holder)
    waits = []
    try:
        for argv in (["runs", "list"], ["runs", "show", run.id], ["pretrain", "--epochs", "1"],
                     ["runs", "cancel", run.id]):
            t0 = time.monotonic()
            rc, text = cli(*argv, runs_dir=runs_dir)
            waits.append(time.monotonic() - t0)
            if "Traceback" in text:
                tally.crash(" ".join(argv) + " (lock held by a stopped process)", text)
    finally:
        for holder in holders:
            holder.kill()
            holder.wait()
    for other in runs.list_runs(runs_dir):
        jobs.cancel(other)
    return max(waits)


def unreachable_stores(tmp, tally):
    """MLflow stores that refuse, never answer, or cannot be opened: one line and exit 2, within the store
    timeout. Returns the longest wait (s)."""
    import socket

    source = tmp / "fuzz-source"
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)  # accepts (the kernel's backlog), never answers
    waits = []
    try:
        for uri in ("http://127.0.0.1:9", f"http://127.0.0.1:{silent.getsockname()[1]}", f"sqlite:///{tmp}",
                    "ftp://127.0.0.1/mlruns"):
            t0 = time.monotonic()
            rc, text = cli("runs", "export", "--mlflow", uri, "--figures", "none", runs_dir=source)
            waits.append(time.monotonic() - t0)
            if rc != 2 or "Traceback" in text:
                tally.crash(f"export to {uri}", text)
    finally:
        silent.close()
    return max(waits)


FILL = """
import os, sys
path, leave = sys.argv[1], int(sys.argv[2])
free = os.statvfs(os.path.dirname(path))
with open(path, "wb") as f:
    f.write(b"\\0" * max(0, free.f_bavail * free.f_frsize - leave))
"""


def full_disk(tmp, tally):
    """A job on a disk with 0, 200 KB and 400 KB left: the run ends (failed with "disk full", or done when it
    fit) and runs list/show answer. A small tmpfs when root, else ENOSPC injected into the lab's writes."""
    mount = tmp / "small-disk"
    mount.mkdir()
    if os.geteuid() == 0 and subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(mount)],
                                            capture_output=True).returncode == 0:
        mode = "tmpfs"
    else:
        return "not measured (needs root for a tmpfs)"
    try:
        for leave in (0, 200_000, 400_000):
            runs_dir = mount / f"runs-{leave}"
            run = runs.create_run(JobConfig(task="pretrain", data={**DATA, "n": 60, "duration": 2}, epochs=2,
                                            batch_size=8, targets=["hr"]), runs_dir)
            filler = mount / f"filler-{leave}"
            subprocess.run([sys.executable, "-c", FILL, str(filler), str(leave)], check=True)
            subprocess.run([sys.executable, "-m", "ecgcore", "run-job", str(run.path)], cwd=ROOT,
                           capture_output=True, text=True, timeout=600)
            status = run.status()
            if status["state"] in runs.ACTIVE_STATES:
                tally.stuck += 1
                tally.notes.append(f"disk full ({leave} B left): the run stayed {status['state']}")
            elif status["state"] == "failed" and "disk full" not in (status.get("error") or ""):
                tally.notes.append(f"disk full ({leave} B left): failed without saying so: {status.get('error')}")
                tally.crashed += 1
            for argv in (("runs", "list"), ("runs", "show", run.id)):
                rc, text = cli(*argv, runs_dir=runs_dir)
                if rc != 0 or "Traceback" in text:
                    tally.crash(" ".join(argv) + f" on a full disk ({leave} B left)", text)
            tally.notes.append(f"disk full, {leave} B left: the run {status['state']}"
                               + (f" ({status['error'][:60]})" if status.get("error") else ""))
            filler.unlink()
    finally:
        subprocess.run(["umount", str(mount)], capture_output=True)
    return mode


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cancels", type=int, default=4, help="cancels timed under load")
    ap.add_argument("--burners", type=int, default=4, help="CPU-bound processes beside the cancels")
    ap.add_argument("--load", type=float, default=5.0, help="the load average the cancels wait for")
    ap.add_argument("--parts", default="timed,fuzz", help="timed (the job scenarios), fuzz (damage, locks, "
                    "stores, a full disk), or both")
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
        parts = args.parts.split(",")
        if "timed" in parts:
            figures["kill_to_failed_s"] = kill_mid_epoch(runs_dir, tally)
            figures["sigstop_to_failed_s"] = sigstop(runs_dir, tally)
            times = cancel_under_load(runs_dir, tally, args.cancels, args.burners, args.load)
            figures["cancel_median_s"] = statistics.median(times) if times else None
            figures["cancel_max_s"] = max(times) if times else None
            figures["load_during_cancels"] = os.getloadavg()[0]
            figures["unique_submits"] = concurrent_submits(tmp / "submits", tally)
            figures["first_builds_failed"] = concurrent_builds(tmp / "build-cache", tally)
            damaged_files(tmp / "damaged", tally)
            figures["read_only"] = read_only(tmp / "damaged", tally)
        if "fuzz" in parts:
            run_variants = fuzz_runs(tmp, tally)
            data_variants, figures["entries_lost"] = fuzz_data_sets(tmp, tally)
            figures["damaged_variants_tried"] = run_variants + data_variants
            figures["lock_wait_max_s"] = stopped_lock_holders(tmp, tally)
            figures["store_wait_max_s"] = unreachable_stores(tmp, tally)
            figures["max_wait_s"] = max(figures["lock_wait_max_s"], figures["store_wait_max_s"])
            figures["disk_full_mode"] = full_disk(tmp, tally)
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
    result = {"runs_lost": tally.lost, "runs_stuck": tally.stuck, "commands_crashed": tally.crashed,
              "silent_wrong_loads": tally.silent, **figures,
              "load_before": round(load_before, 2), "cpus": os.cpu_count()}
    for note in tally.notes:
        print(note)
    for key, value in result.items():
        print(f"{key:22} {value}")
    results.publish("faults", result, args.save)


if __name__ == "__main__":
    main()
