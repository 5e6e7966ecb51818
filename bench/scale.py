"""Scale: full-size PTB-XL reads, 120,000-record epochs from the synthetic stream and from disk, and the streaming
path's throughput against the in-memory one.

    python bench/scale.py [--cache /work/cache-scale] [--records 21837] [--epoch-records 120000] [--parts ...]

Parts (all by default):
  ptbxl   a PTB-XL-layout folder of --records synthetic records (wfdb files under PTB-XL's own names, 10 folds,
          records100/ and records500/), written once into CACHE/ptbxl; then `load_ptbxl` at 100 and 500 Hz into
          an empty data-set cache: wall time and peak RSS.
  epochs  `python -m ecgcore pretrain ... --leads paper8 --epochs 1 --wait` (small_cnn, 500 Hz) on
          --epoch-records records, from the synthetic stream and from a memory-mapped set written by
          `python -m ecgcore synth --n N --fs 500 --seed 0 --out big` (deleted afterwards: 240 kB per record):
          wall time, samples/s and the peak RSS of the whole process tree (the CLI, the job, its DataLoader
          workers; the job's own tree apart). Goal: under 4 GB.
  ratio   one set of --ratio-records records (12 x 1,000: 10 s at 100 Hz), small_cnn, trained in memory and
          streamed from disk (ECGCORE_MEMORY_BUDGET=0), and the synthetic stream of the same shape: training
          samples/s of the second epoch. stream_vs_memory_ratio (goal >= 0.95), synthetic_stream_vs_memory_ratio.
Peak RSS is sampled every 0.2 s with psutil over the process and all its descendants. Every figure is printed
with the load average when it was taken (the machine may be shared). The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import psutil

import results  # bench/results.py: the JSON line and --save

ROOT = Path(__file__).resolve().parents[1]
GB = 1e9


def load():
    return round(os.getloadavg()[0], 2)


class PeakRSS:
    """Samples the summed RSS of a process and its descendants (and of the subtrees whose command line holds
    `mark`) until stopped; .peak and .peak_marked in bytes."""

    def __init__(self, pid, mark="run-job", every=0.2):
        self.proc, self.mark, self.every = psutil.Process(pid), mark, every
        self.peak = self.peak_marked = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop.is_set():
            try:
                procs = [self.proc, *self.proc.children(recursive=True)]
            except psutil.NoSuchProcess:
                break
            total = marked = 0
            marked_pids = set()
            for p in procs:
                try:
                    rss = p.memory_info().rss
                    if self.mark.encode() in " ".join(p.cmdline()).encode() or p.ppid() in marked_pids:
                        marked_pids.add(p.pid)
                        marked += rss
                    total += rss
                except psutil.Error:
                    continue
            self.peak, self.peak_marked = max(self.peak, total), max(self.peak_marked, marked)
            self._stop.wait(self.every)

    def stop(self):
        self._stop.set()
        self._thread.join()


def run(cmd, env, label):
    """Run `cmd`; (wall s, peak tree RSS, peak job-tree RSS, stdout). Raises when it fails."""
    t0, load0 = time.perf_counter(), load()
    proc = subprocess.Popen(cmd, env={**os.environ, **env}, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, cwd=ROOT)
    meter = PeakRSS(proc.pid)
    out, err = proc.communicate()
    meter.stop()
    wall = time.perf_counter() - t0
    if proc.returncode:
        raise RuntimeError(f"{label} failed ({proc.returncode}): {err[-3000:]}")
    print(f"{label}: {wall:.1f} s, peak RSS {meter.peak / GB:.2f} GB (job tree {meter.peak_marked / GB:.2f} GB), "
          f"load {load0} -> {load()}", flush=True)
    return wall, meter.peak, meter.peak_marked, out


# --- ptbxl ---------------------------------------------------------------------------------------------------

def write_ptbxl(root, n, chunk=256):
    """A PTB-XL-layout folder of n parametric records (one superclass each), once: `root/.complete` marks it
    (an interrupted write keeps the chunks it finished)."""
    import pandas as pd
    from scipy.signal import resample_poly

    from ecgcore.labels import CLASS_NAMES
    from ecgcore.synth import sample_params, synthesize

    if (root / ".complete").is_file() and (root / ".complete").read_text().strip() == str(n):
        return root
    statement = {"NORM": "NORM", "MI": "IMI", "STTC": "NDT", "CD": "IRBBB", "HYP": "LVH"}
    rows, t0 = [], time.perf_counter()
    for start in range(0, n, chunk):
        size = min(chunk, n - start)
        params, label = sample_params(size, classes="all", seed=start)
        names = [{100: f"records100/{(i // 1000) * 1000:05d}/{i:05d}_lr",
                  500: f"records500/{(i // 1000) * 1000:05d}/{i:05d}_hr"} for i in range(start + 1, start + size + 1)]
        done = all((root / f"{name}.dat").is_file() for pair in names for name in pair.values())
        made = None if done else synthesize(params, n=size, fs=500, duration=10.0, seed=start).signals
        low = None if done else resample_poly(made, 1, 5, axis=-1)
        for i in range(size):
            ecg_id = start + i + 1
            for fs, signal in (() if done else ((100, low[i]), (500, made[i]))):  # a chunk written before: kept
                path = root / names[i][fs]
                path.parent.mkdir(parents=True, exist_ok=True)
                write_record(path, signal, fs, check=ecg_id == 1)
            rows.append({"ecg_id": ecg_id, "patient_id": float(ecg_id), "strat_fold": 1 + (ecg_id % 10),
                         "scp_codes": repr({statement[CLASS_NAMES[label[i]]]: 100.0}),
                         "filename_lr": names[i][100], "filename_hr": names[i][500]})
        if (start // chunk) % 10 == 0 or start + size == n:
            print(f"  wrote {start + size}/{n} records ({time.perf_counter() - t0:.0f} s)", flush=True)
    pd.DataFrame(rows).to_csv(root / "ptbxl_database.csv", index=False)
    table = pd.DataFrame([{"code": code, "description": code, "diagnostic": 1.0, "diagnostic_class": cls}
                          for cls, code in statement.items()]).set_index("code")
    table.index.name = None
    table.to_csv(root / "scp_statements.csv")
    (root / ".complete").write_text(f"{n}\n")
    return root


def write_record(path, signal, fs, check=False):
    """One record's .hea and .dat as `wfdb.wrsamp` writes PTB-XL's (format 16, 1000 units per mV, PTB-XL's lead
    spelling). By hand because wrsamp spends 0.2-0.9 s a record in pandas lookups: 12 hours for the folder's
    43,674 files on this machine. check: also write it with wrsamp and require the very same bytes."""
    digital = np.clip(np.round(signal.T.astype(np.float64) * 1000.0), -32768, 32767).astype("<i2")  # (samples, leads)
    digital.tofile(path.with_suffix(".dat"))
    checksum = digital.astype(np.int64).sum(0) % 65536
    lines = [f"{path.name} {len(PTBXL_LEADS)} {fs} {len(digital)}"] + [
        f"{path.name}.dat 16 1000.0(0)/mV 16 0 {int(digital[0, j])} {int(checksum[j])} 0 {lead}"
        for j, lead in enumerate(PTBXL_LEADS)]
    path.with_suffix(".hea").write_text("\n".join(lines) + "\n")
    if check:
        import wfdb

        with tempfile.TemporaryDirectory() as folder:
            wfdb.wrsamp(path.name, fs=fs, units=["mV"] * 12, sig_name=list(PTBXL_LEADS), p_signal=signal.T.astype(np.float64),
                        fmt=["16"] * 12, adc_gain=[1000.0] * 12, baseline=[0] * 12, write_dir=folder)
            for suffix in (".hea", ".dat"):
                if (Path(folder) / (path.name + suffix)).read_bytes() != path.with_suffix(suffix).read_bytes():
                    raise RuntimeError(f"{path}{suffix} differs from what wfdb.wrsamp writes")


PTBXL_LEADS = ("I", "II", "III", "AVR", "AVL", "AVF", "V1", "V2", "V3", "V4", "V5", "V6")  # PTB-XL's spelling


def bench_ptbxl(cache, n):
    root = cache / "ptbxl"
    root.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    write_ptbxl(root, n)
    print(f"PTB-XL-layout folder of {n} records at {root} ({time.perf_counter() - t0:.0f} s)", flush=True)
    out = {}
    for fs in (100, 500):
        entries = Path(tempfile.mkdtemp(dir=cache, prefix="entries-"))
        code = ("import json; from ecgcore.data.ptbxl import load_ptbxl; "
                f"ds = load_ptbxl({str(root)!r}, fs={fs}); print(json.dumps({{'records': len(ds)}}))")
        wall, peak, _, stdout = run([sys.executable, "-c", code], {"ECGCORE_CACHE": str(entries)},
                                    f"load_ptbxl {n} records at {fs} Hz")
        out[f"load_ptbxl_{fs}hz"] = {"s": round(wall, 1), "peak_rss_gb": round(peak / GB, 2), "load": load(),
                                     "records": json.loads(stdout.splitlines()[-1])["records"]}
        shutil.rmtree(entries)
    return out


# --- epochs ------------------------------------------------------------------------------------------------

def pretrain(data, work, label, env=None):
    """`pretrain --data DATA --leads paper8 --epochs 1 --wait` in its own runs folder: figures of its run."""
    runs = work / f"runs-{label}"
    wall, peak, peak_job, _ = run(
        [sys.executable, "-m", "ecgcore", "pretrain", "--data", data, "--leads", "paper8", "--epochs", "1",
         "--wait"], {"ECGCORE_RUNS": str(runs), "ECGCORE_CACHE": str(work / "cache"), **(env or {})},
        f"pretrain on {label}")
    (run_dir,) = [p for p in runs.iterdir() if (p / "summary.json").is_file()]
    epoch = json.loads((run_dir / "metrics.jsonl").read_text().splitlines()[0])
    summary = json.loads((run_dir / "summary.json").read_text())
    return {"wall_s": round(wall, 1), "epoch_s": round(epoch["time_s"], 1), "n_train": summary["n_train"],
            "samples_per_s": round(summary["n_train"] / epoch["time_s"], 1), "peak_rss_gb": round(peak / GB, 2),
            "job_tree_peak_rss_gb": round(peak_job / GB, 2), "load": load(),
            "notes": [n for n in summary["notes"] if "stream" in n]}


def bench_epochs(cache, n, force_stream=False):
    work = Path(tempfile.mkdtemp(dir=cache, prefix="epochs-"))
    out = {}
    try:
        spec = {"source": "synthetic", "stream": True, "n": n, "fs": 500, "seed": 0}
        out["epoch_stream"] = pretrain(json.dumps(spec), work, "stream")
        print(json.dumps(out["epoch_stream"]), flush=True)
        wall, peak, _, _ = run([sys.executable, "-m", "ecgcore", "synth", "--n", str(n), "--fs", "500", "--seed", "0",
                                "--out", str(work / "big")], {"ECGCORE_CACHE": str(work / "cache")},
                               f"synth --n {n} --fs 500 --out big")
        out["synth_memmap"] = {"s": round(wall, 1), "peak_rss_gb": round(peak / GB, 2), "load": load(),
                               "disk_gb": round(sum(f.stat().st_size for f in (work / "big").iterdir()) / GB, 2)}
        # At full size the set is far over the memory budget and streams by itself; a smaller run can force it.
        out["epoch_memmap"] = pretrain(str(work / "big"), work, "memmap",
                                       {"ECGCORE_MEMORY_BUDGET": "0"} if force_stream else None)
        print(json.dumps(out["epoch_memmap"]), flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)  # the memory-mapped set and its cache entry: tens of GB at full size
    return out


# --- ratio -------------------------------------------------------------------------------------------------

def samples_per_s(config, data=None, env=None):
    """Training samples/s of the second epoch of fit(config) (the first pays start-up and page-in)."""
    from ecgcore import train
    from ecgcore.train import fit

    times = []
    train._data_cache.clear()
    old = {k: os.environ.get(k) for k in env or {}}
    os.environ.update(env or {})
    try:
        result = fit(config, data, on_epoch=lambda r: times.append(r["time_s"]), log=lambda *a: None)
    finally:
        for k, v in old.items():
            os.environ.pop(k) if v is None else os.environ.__setitem__(k, v)
    return result.summary["n_train"] / times[-1]


def bench_ratio(cache, n):
    from ecgcore.config import JobConfig
    from ecgcore.data.synthetic import make_dataset

    work = Path(tempfile.mkdtemp(dir=cache, prefix="ratio-"))
    os.environ["ECGCORE_CACHE"] = str(work)
    try:
        saved = make_dataset(n=n, fs=100, seed=0).save(work / "set")
        base = dict(task="pretrain", arch="small_cnn", epochs=2, patience=0, seed=0, device="cpu")
        on_disk = JobConfig(data={"source": "npz", "path": str(saved)}, **base)
        figures = {}
        for name, config, env in (("memory", on_disk, {"ECGCORE_MEMORY_BUDGET": "64G"}),
                                  ("streamed", on_disk, {"ECGCORE_MEMORY_BUDGET": "0"}),
                                  ("synthetic_stream", JobConfig(data={"source": "synthetic", "stream": True, "n": n,
                                                                       "fs": 100, "seed": 0}, **base), {})):
            figures[name] = round(samples_per_s(config, env=env), 1)
            print(f"{n} records 12 x 1000, small_cnn, {name}: {figures[name]} samples/s (load {load()})", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return {"ratio_records": n, "samples_per_s": figures, "load": load(),
            "stream_vs_memory_ratio": round(figures["streamed"] / figures["memory"], 3),
            "synthetic_stream_vs_memory_ratio": round(figures["synthetic_stream"] / figures["memory"], 3)}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cache", type=Path, default=Path("/work/cache-scale"), help="where the big files go")
    p.add_argument("--records", type=int, default=21837, help="records of the PTB-XL-layout folder")
    p.add_argument("--epoch-records", type=int, default=120000, help="records of the one-epoch runs")
    p.add_argument("--ratio-records", type=int, default=4000, help="records of the throughput comparison")
    p.add_argument("--parts", default="ratio,epochs,ptbxl", help="comma-separated: ratio, epochs, ptbxl")
    p.add_argument("--force-stream", action="store_true",
                   help="stream the memory-mapped epoch from disk even when it would fit in memory (for a smaller "
                        "--epoch-records than the default)")
    results.add_save(p)
    args = p.parse_args(argv)
    args.cache.mkdir(parents=True, exist_ok=True)
    parts = set(args.parts.split(","))
    result = {"machine": f"{os.cpu_count()} cores, {psutil.virtual_memory().total / GB:.0f} GB RAM, no GPU",
              "load_start": load()}
    if "ratio" in parts:
        result.update(bench_ratio(args.cache, args.ratio_records))
    if "epochs" in parts:
        result["epoch_records"] = args.epoch_records
        result["forced_stream"] = args.force_stream
        result.update(bench_epochs(args.cache, args.epoch_records, args.force_stream))
    if "ptbxl" in parts:
        result["ptbxl_records"] = args.records
        result.update(bench_ptbxl(args.cache, args.records))
    result["load_end"] = load()
    results.publish("scale", result, args.save)


if __name__ == "__main__":
    main()
