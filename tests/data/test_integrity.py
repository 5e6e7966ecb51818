"""Data sets and cache entries are right or loudly refused: written files never share bytes with the cache,
a transient error keeps a good entry, and damage is found at open, named with its file, and rebuilt once."""

import errno
import json
import os
import stat

import numpy as np
import pytest

from ecgcore.data import cache
from ecgcore.data.dataset import META_FILE, RECORDS_FILE, SIGNALS_FILE, DataSet, Damaged
from ecgcore.leads import LEADS


def small_set(n=6, seed=0):
    rng = np.random.default_rng(seed)
    return DataSet(rng.standard_normal((n, 12, 20)).astype(np.float32), 100.0, LEADS,
                   targets={"hr": rng.uniform(50, 90, n)}, label=np.arange(n) % 5, config={"n": n, "seed": seed})


@pytest.fixture
def entry(tmp_path, monkeypatch):
    """A finished cache entry of small_set() under a temporary cache."""
    monkeypatch.setenv("ECGCORE_CACHE", str(tmp_path / "cache"))
    cache.cached({"x": 1}, small_set)
    return cache.cache_path({"x": 1})


def writable(folder):
    for f in folder.iterdir():
        f.chmod(0o644)


# ---- finding 1: output files never share bytes with a cache entry ------------------------------------------

def test_a_saved_copy_of_a_cache_entry_shares_no_bytes_and_editing_it_leaves_the_entry(entry, tmp_path):
    out = DataSet.load(entry).save(tmp_path / "out")
    assert (out / SIGNALS_FILE).stat().st_ino != (entry / SIGNALS_FILE).stat().st_ino
    signals = np.load(out / SIGNALS_FILE, mmap_mode="r+")
    signals[:] = 0  # the user edits the written file in place
    signals.flush()
    del signals
    again = cache.cached({"x": 1}, lambda: pytest.fail("rebuilt a good entry"))
    np.testing.assert_array_equal(again.signals, small_set().signals)


def test_cache_files_are_read_only_on_disk(entry):
    for name in (SIGNALS_FILE, RECORDS_FILE, META_FILE):
        assert not (entry / name).stat().st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH), name


def test_synth_out_writes_its_own_copy(tmp_path, monkeypatch):
    from ecgcore.cli import main

    monkeypatch.setenv("ECGCORE_CACHE", str(tmp_path / "cache"))
    main(["synth", "--n", "4", "--fs", "100", "--duration", "2", "--seed", "3", "--out", str(tmp_path / "a")])
    (entry,) = [p for p in (tmp_path / "cache").iterdir() if p.is_dir()]
    assert (tmp_path / "a" / SIGNALS_FILE).stat().st_ino != (entry / SIGNALS_FILE).stat().st_ino
    assert (tmp_path / "a" / SIGNALS_FILE).stat().st_mode & stat.S_IWUSR  # the user's copy is theirs to edit


# ---- finding 2: a transient error is reported and the entry kept -------------------------------------------

@pytest.mark.parametrize("code", [errno.EMFILE, errno.EIO, errno.ENOSPC])
def test_a_transient_error_at_open_keeps_the_entry(entry, monkeypatch, code):
    real_load = np.load

    def failing(file, *a, **k):
        if str(file).endswith(SIGNALS_FILE):
            raise OSError(code, os.strerror(code), str(file))
        return real_load(file, *a, **k)

    monkeypatch.setattr(np, "load", failing)
    with pytest.raises(OSError, match=os.strerror(code)) as caught:
        cache.cached({"x": 1}, lambda: pytest.fail("rebuilt after a transient error"))
    assert not isinstance(caught.value, Damaged) and "kept" in str(caught.value)
    monkeypatch.setattr(np, "load", real_load)
    assert entry.is_dir()
    np.testing.assert_array_equal(DataSet.load(entry).signals, small_set().signals)


# ---- finding 3: damage found at open, named with its file, rebuilt once ------------------------------------

def truncate(path):
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def empty(path):
    path.write_bytes(b"")


def garble_header(path):
    data = bytearray(path.read_bytes())
    data[:16] = b"\x93GARBLEDGARBLED!"
    path.write_bytes(bytes(data))


def other_shape(path):
    """Edit the .npy header to another shape of the same size class (fewer samples per record)."""
    text = path.read_bytes()
    header_end = text.index(b"\n") + 1
    header = text[:header_end].replace(b"(6, 12, 20)", b"(6, 12, 10)")
    path.write_bytes(header + text[header_end:])


def meta(field, value):
    def edit(path):
        data = json.loads(path.read_text())
        data[field] = value
        path.write_text(json.dumps(data))
    edit.__name__ = f"meta_{field}_{value!r}"
    return edit


DAMAGE = [
    (RECORDS_FILE, truncate), (RECORDS_FILE, empty), (RECORDS_FILE, garble_header),
    (SIGNALS_FILE, truncate), (SIGNALS_FILE, empty), (SIGNALS_FILE, garble_header), (SIGNALS_FILE, other_shape),
    (META_FILE, truncate), (META_FILE, empty), (META_FILE, meta("fs", "abc")), (META_FILE, meta("fs", -1)),
    (META_FILE, meta("fs", None)), (META_FILE, meta("n", "6")), (META_FILE, meta("n", True)),
    (META_FILE, meta("n", 7)), (META_FILE, meta("lead_names", ["I"])), (META_FILE, meta("lead_names", 5)),
    (META_FILE, meta("class_names", "NORM")), (META_FILE, meta("target_names", ["zz"])),
    (META_FILE, meta("config", [1])), (META_FILE, meta("format", 99)), (META_FILE, meta("format", True)),
]


def linked_out(path):
    outside = path.parent.parent / f"outside-{path.name}"
    outside.write_bytes(path.read_bytes() if path.suffix != ".npz" else b"")
    np.save(outside.with_suffix(".npy"), np.zeros((6, 12, 20), np.float32))
    path.unlink()
    os.symlink(outside.with_suffix(".npy"), path)


DAMAGE += [(name, linked_out) for name in (SIGNALS_FILE, RECORDS_FILE, META_FILE)]


@pytest.mark.parametrize("name,damage", DAMAGE, ids=[f"{n}-{d.__name__}" for n, d in DAMAGE])
def test_damage_is_found_at_open_and_named_with_its_file(entry, tmp_path, name, damage):
    folder = DataSet.load(entry).save(tmp_path / "copy")
    damage(folder / name)
    with pytest.raises(Damaged, match=name):
        DataSet.load(folder)


@pytest.mark.parametrize("name,damage", DAMAGE[:7], ids=[f"{n}-{d.__name__}" for n, d in DAMAGE[:7]])
def test_a_damaged_cache_entry_is_rebuilt_once_with_a_notice(entry, capsys, name, damage):
    writable(entry)
    damage(entry / name)
    built = []
    again = cache.cached({"x": 1}, lambda: built.append(1) or small_set())
    assert built == [1]
    np.testing.assert_array_equal(again.signals, small_set().signals)
    err = capsys.readouterr().err
    assert "damaged" in err and "rebuilt" in err and name in err
    assert sorted(p.name for p in entry.parent.iterdir()) == [entry.name]  # the damaged copy is gone


def test_the_new_format_records_shape_and_dtype_and_the_old_format_still_reads(tmp_path):
    folder = small_set().save(tmp_path / "new")
    data = json.loads((folder / META_FILE).read_text())
    assert data["format"] == 2 and data["shape"] == [6, 12, 20] and data["dtype"] == "float32"
    del data["shape"], data["dtype"]
    (folder / META_FILE).write_text(json.dumps({**data, "format": 1}))  # what today's entries hold
    np.testing.assert_array_equal(DataSet.load(folder).signals, small_set().signals)


def test_a_cache_entry_file_linked_out_is_damaged_and_rebuilt_not_followed(entry, tmp_path, capsys):
    outside = tmp_path / "outside.npy"
    np.save(outside, np.zeros((6, 12, 20), np.float32))
    writable(entry)
    (entry / SIGNALS_FILE).unlink()
    os.symlink(outside, entry / SIGNALS_FILE)
    again = cache.cached({"x": 1}, small_set)
    np.testing.assert_array_equal(again.signals, small_set().signals)
    assert "is a link" in capsys.readouterr().err and np.load(outside).sum() == 0  # the outside file untouched
