"""Peak memory of reading an uploaded CSV (the Your ECG page's upload): a 12-lead CSV of --mb megabytes is read
by ecgcore.data.upload.read_upload in a child process; its peak RSS (ru_maxrss) is given over the file's size.
Goal (issue 24): the peak under ~3x the upload's size, interpreter and libraries included."""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time

import numpy as np

import results  # bench/results.py: the JSON line and --save

READ = """
import sys
from ecgcore.data.upload import read_upload
with open(sys.argv[1], "rb") as f:
    data = f.read()
record = read_upload({"big.csv": data}, fs=500)
print(record.signal.shape, round(record.duration_s))
"""


def write_csv(path, mb, seed=0):
    rng = np.random.default_rng(seed)
    leads = ["I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6"]
    with open(path, "w") as f:
        f.write(",".join(leads) + "\n")
        while f.tell() < mb * 1e6:
            np.savetxt(f, rng.standard_normal((50_000, 12)), fmt="%.5f", delimiter=",")
    return os.path.getsize(path)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=225.0, help="the CSV's size (the issue's case: 225 MB)")
    results.add_save(parser)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "big.csv")
        size = write_csv(path, args.mb)
        start = time.perf_counter()
        out = subprocess.run([sys.executable, "-c", READ, path], capture_output=True, text=True, check=True)
        seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024  # KiB on Linux
    print(f"read a {size / 1e6:.0f} MB CSV in {seconds:.1f} s ({out.stdout.strip()}): peak RSS {peak / 1e6:.0f} MB, "
          f"{peak / size:.2f}x its size")
    results.publish("upload", {"csv_mb": round(size / 1e6, 1), "read_s": round(seconds, 2),
                               "peak_rss_mb": round(peak / 1e6), "peak_over_size": round(peak / size, 2)}, args.save)


if __name__ == "__main__":
    main()
