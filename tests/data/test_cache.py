"""ecgcore.data.cache: one build per entry under a lock, even for several processes at once; half-written
entries are never read."""

import subprocess
import sys
import textwrap

import numpy as np
import pytest

from ecgcore.data import cache
from ecgcore.data.dataset import DataSet, Writer
from ecgcore.leads import LEADS
from ecgcore.procs import package_root


def small_set(n=6, seed=0):
    rng = np.random.default_rng(seed)
    return DataSet(rng.standard_normal((n, 12, 20)).astype(np.float32), 100.0, LEADS,
                   targets={"hr": rng.uniform(50, 90, n)}, config={"n": n, "seed": seed})


def test_a_miss_builds_once_and_a_hit_reads_the_entry(tmp_path, monkeypatch):
    monkeypatch.setenv("ECGCORE_CACHE", str(tmp_path))
    built = []
    first = cache.cached({"x": 1}, lambda: built.append(1) or small_set())
    again = cache.cached({"x": 1}, lambda: built.append(1) or small_set())
    assert built == [1]
    np.testing.assert_array_equal(first.signals, again.signals)
    assert isinstance(again.signals, np.memmap) and cache.cache_path({"x": 1}).is_dir()
    assert sorted(p.name for p in tmp_path.iterdir()) == [cache.cache_path({"x": 1}).name]  # no leftovers


def test_an_interrupted_build_is_never_taken_for_a_finished_entry(tmp_path, monkeypatch):
    monkeypatch.setenv("ECGCORE_CACHE", str(tmp_path))

    def dies_half_way(folder):
        writer = Writer(folder, n=6, channels=12, length=20)
        writer.write(0, small_set().signals[:3])
        raise KeyboardInterrupt  # the job is killed mid-write

    with pytest.raises(KeyboardInterrupt):
        cache.cached({"x": 2}, dies_half_way, chunked=True)
    assert not cache.cache_path({"x": 2}).exists()  # only the .partial folder holds the half-written records
    rebuilt = cache.cached({"x": 2}, small_set)
    np.testing.assert_array_equal(rebuilt.signals, small_set().signals)
    np.testing.assert_array_equal(DataSet.load(cache.cache_path({"x": 2})).signals, small_set().signals)


def test_a_damaged_entry_is_rebuilt_and_an_old_npz_entry_is_still_read(tmp_path, monkeypatch):
    monkeypatch.setenv("ECGCORE_CACHE", str(tmp_path))
    cache.cached({"x": 3}, small_set)
    (cache.cache_path({"x": 3}) / "records.npz").write_bytes(b"garbage")
    np.testing.assert_array_equal(cache.cached({"x": 3}, lambda: small_set(seed=1)).signals,
                                  small_set(seed=1).signals)
    legacy = cache.cache_path({"x": 4})
    small_set(seed=2).save(legacy.with_name(legacy.name + ".npz"))
    assert cache.cached({"x": 4}, lambda: pytest.fail("rebuilt an old entry")).config == {"n": 6, "seed": 2}


BUILDER = textwrap.dedent("""
    import os, sys, time
    import numpy as np
    from ecgcore.data import cache
    from ecgcore.data.dataset import DataSet
    from ecgcore.leads import LEADS

    def build():
        with open(sys.argv[1], "a") as log:
            log.write(f"{os.getpid()}\\n")
        time.sleep(0.5)  # long enough that every other process asks while this one builds
        signals = np.random.default_rng(7).standard_normal((50, 12, 100)).astype(np.float32)
        return DataSet(signals, 100.0, LEADS, targets={"hr": np.arange(50.0)}, config={"seed": 7})

    ds = cache.cached({"shared": True}, build)
    print(float(np.asarray(ds.signals, dtype=np.float64).sum()), len(ds))
""")


def test_concurrent_first_builders_all_succeed_and_one_builds(tmp_path):
    log = tmp_path / "builds.log"
    env = {"ECGCORE_CACHE": str(tmp_path / "cache"), "PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "1",
           "PYTHONPATH": package_root()}
    procs = [subprocess.Popen([sys.executable, "-c", BUILDER, str(log)], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(6)]
    results = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0] * 6, [err for _, err in results]
    assert len(log.read_text().split()) == 1  # one process built; the others waited and read its entry
    assert len({out for out, _ in results}) == 1
    assert [p.name for p in (tmp_path / "cache").iterdir()] == [cache.cache_path({"shared": True}).name]
