"""File plumbing: whole-file writes (bytes, text, JSON, writer callbacks), JSON reading, the folder lock."""

import json
import os
import threading
import time

import numpy as np
import pytest

from ecgcore import files


def test_numpy_values_are_written_as_plain_json(tmp_path):
    files.write_json(tmp_path / "s.json", {"a": np.float32(0.5), "b": np.arange(2)})
    assert json.loads((tmp_path / "s.json").read_text()) == {"a": 0.5, "b": [0, 1]}
    assert oct(os.stat(tmp_path / "s.json").st_mode & 0o777) == "0o644"
    assert files.read_json(tmp_path / "s.json") == {"a": 0.5, "b": [0, 1]}


def test_text_and_bytes_round_trip(tmp_path):
    assert files.write_text(tmp_path / "t.txt", "héllo\n") == tmp_path / "t.txt"
    assert (tmp_path / "t.txt").read_text() == "héllo\n"
    files.write_bytes(tmp_path / "b.bin", b"\x00\x01")
    assert (tmp_path / "b.bin").read_bytes() == b"\x00\x01"


def test_a_failing_writer_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    files.write_text(tmp_path / "a.txt", "old")

    def half_then_crash(tmp):
        tmp.write_text("half")
        raise RuntimeError("writer died")

    with pytest.raises(RuntimeError, match="writer died"):
        files.atomic_write(tmp_path / "a.txt", half_then_crash)
    assert (tmp_path / "a.txt").read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]


def test_path_writers_get_a_unique_temporary_with_the_target_suffix(tmp_path):
    seen = []

    def save(tmp):
        seen.append(tmp)
        np.save(tmp, np.arange(3))  # np.save adds ".npy" to a name that lacks it

    files.atomic_write(tmp_path / "x.npy", save)
    files.atomic_write(tmp_path / "x.npy", save)
    assert np.array_equal(np.load(tmp_path / "x.npy"), np.arange(3))
    assert seen[0] != seen[1] and all(t.parent == tmp_path and t.suffix == ".npy" for t in seen)
    assert [p.name for p in tmp_path.iterdir()] == ["x.npy"]


def test_the_file_is_flushed_to_disk_before_it_is_moved_into_place(tmp_path, monkeypatch):
    events = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(files.os, "fsync", lambda fd: (events.append("fsync"), real_fsync(fd))[1])
    monkeypatch.setattr(files.os, "replace", lambda a, b: (events.append("replace"), real_replace(a, b))[1])
    files.write_text(tmp_path / "a.txt", "x")
    assert events == ["fsync", "replace"]


def test_read_json_names_the_file_when_missing_or_damaged(tmp_path):
    with pytest.raises(ValueError, match=r"nope\.json is missing"):
        files.read_json(tmp_path / "nope.json")
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(ValueError, match=r"bad\.json is damaged"):
        files.read_json(tmp_path / "bad.json")


def test_locked_holds_out_a_second_holder_until_released(tmp_path):
    order = []

    def second():
        with files.locked(tmp_path):
            order.append("second")

    with files.locked(tmp_path):
        t = threading.Thread(target=second)
        t.start()
        time.sleep(0.2)
        order.append("first done")
    t.join(120)  # a ceiling for a loaded machine
    assert order == ["first done", "second"]
    assert list(tmp_path.iterdir()) == []  # the folder itself is the lock: nothing is left in it
    with pytest.raises(FileNotFoundError):
        with files.locked(tmp_path / "missing"):
            pass


def test_now_is_utc_iso_text():
    assert files.now().endswith("+00:00") and "T" in files.now()


# ---- every lock wait has a bound, and past it a message naming the holder ------------------------------------

HOLDER = """
import sys, time
from ecgcore import files
with files.locked(sys.argv[1]):
    print("locked", flush=True)
    time.sleep(3600)
"""


@pytest.fixture
def holder(tmp_path):
    """A process that holds tmp_path/held's lock; yields (folder, Popen). Killed after the test."""
    import subprocess
    import sys

    folder = tmp_path / "held"
    folder.mkdir()
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(folder)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "locked"  # a state, not a time: the lock is held now
    yield folder, proc
    proc.kill()
    proc.wait()


def test_a_stopped_holder_is_named_with_its_pid_and_state_not_waited_for(holder):
    import signal

    folder, proc = holder
    proc.send_signal(signal.SIGSTOP)
    while files.process_state(proc.pid) != "T":
        time.sleep(0.01)
    with pytest.raises(files.LockBusy, match=rf"process {proc.pid} \(stopped\)") as caught:
        with files.locked(folder, wait_s=None):  # even a wait without a bound ends for a stopped holder
            pass
    assert str(folder) in str(caught.value)
    proc.send_signal(signal.SIGCONT)


def test_a_busy_holder_is_waited_for_up_to_the_bound_then_named(holder):
    folder, proc = holder
    with pytest.raises(files.LockBusy, match=rf"held by process {proc.pid} \((sleeping|running)\)"):
        with files.locked(folder, wait_s=0.2):
            pass


def test_a_try_lock_says_at_once_whether_it_got_the_lock(holder, tmp_path):
    folder, _ = holder
    with pytest.raises(files.LockBusy):
        with files.locked(folder, wait_s=0):
            pass
    with files.locked(tmp_path, wait_s=0):  # a free lock is taken
        pass
