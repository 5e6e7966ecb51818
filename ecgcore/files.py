"""File plumbing every layer uses: whole-file writes, JSON, the folder lock and the clock.

A file written here appears whole or not at all: it is written under a unique temporary name in its own
folder (so two writers of one file never share a temporary), flushed to disk (fsync), then moved into place
with os.replace; on any failure the temporary is removed and the old file is left as it was.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import shutil
import tempfile
import time
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

import numpy as np


def atomic_write(path, write):
    """Make the file `path` by calling `write(tmp)` with a temporary path beside it (np.save, torch.save,
    ...), then fsync and move it into place. The temporary ends in `path`'s suffix, so np.save/np.savez add
    none of their own. The file is readable by every user (a shared runs dir or cache). Returns `path`."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=f".tmp{path.suffix}")
    try:
        os.fchmod(fd, 0o644)  # mkstemp's 0600 would hide the file from other users
        os.close(fd)
        write(Path(tmp))
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_bytes(path, data):
    """Write `data` (bytes) to `path` whole (see atomic_write)."""
    return atomic_write(path, lambda tmp: tmp.write_bytes(data))


def write_text(path, text):
    """Write `text` (UTF-8) to `path` whole (see atomic_write)."""
    return write_bytes(path, text.encode())


def write_json(path, obj):
    """Write `obj` as indented, key-sorted JSON to `path` whole; numpy scalars and arrays become numbers/lists."""
    return write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=json_default) + "\n")


def json_default(o):
    """`json.dumps(default=...)` for numpy values: metrics and reports hold numpy scalars and arrays."""
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(f"{type(o).__name__} is not JSON serialisable")


def open_nofollow(path, flags, mode=0o644):
    """os.open(`path`, `flags`) that never follows a symbolic link at `path`: the lab's own files are never
    links, and following one would read or write outside the lab's folder (a shared runs folder, a cache).
    ValueError naming the link when it is one."""
    try:
        return os.open(path, flags | os.O_NOFOLLOW | os.O_CLOEXEC, mode)
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise ValueError(f"{path} is a link (to {os.readlink(path)}): the lab never follows a link out of "
                             "its folder") from None
        raise


def read_text(path, errors="strict"):
    """The text (UTF-8; `errors` as open's) of `path`, not followed through a link (see open_nofollow)."""
    with os.fdopen(open_nofollow(path, os.O_RDONLY), encoding="utf-8", errors=errors) as f:
        return f.read()


def append_text(path, text):
    """Append `text` to `path` in one write (created when missing), not through a link (see open_nofollow)."""
    with os.fdopen(open_nofollow(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT), "a", encoding="utf-8") as f:
        f.write(text)


def read_json(path):
    """The JSON in `path` (never followed through a link); ValueError naming the file when it is missing,
    a link or damaged."""
    try:
        return json.loads(read_text(path))
    except FileNotFoundError:
        raise ValueError(f"{path} is missing") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"{path} is damaged: {e}") from None


ROOM_BYTES = 4 << 20  # free space below this is a full disk: a run's final status and log lines need far less


def has_room(folder, need=ROOM_BYTES):
    """Whether the disk of `folder` has `need` bytes free (a look that would write skips its write otherwise)."""
    try:
        return shutil.disk_usage(folder).free >= need
    except OSError:
        return False


# Reads take no lock; a look that would also write (the queue step of `runs list`) only tries (wait_s=0).
WRITE_WAIT_S = 10.0  # how long a change waits: a healthy holder keeps a lock for milliseconds
STOPPED_GRACE_S = 1.0  # a holder stopped this long (SIGSTOP, Ctrl-Z) is not waited for, whatever the bound


class LockBusy(TimeoutError):
    """A folder's lock was not free within its bound (or its holder is stopped); the message names the holder."""


@contextmanager
def locked(folder, wait_s=WRITE_WAIT_S):
    """Hold an exclusive lock on the folder `folder` (fcntl.flock on the folder itself: no lock file is left
    behind, and the lock goes when the process dies). Read-modify-writes of the folder's files by several
    processes (jobs, pages, the CLI) then happen one at a time. FileNotFoundError when the folder is missing.

    The wait is bounded: past `wait_s` seconds (0: one try; None: as long as the holder works, e.g. a data
    set being built) LockBusy names the holder's pid and state, and a holder that is stopped is named after
    STOPPED_GRACE_S whatever `wait_s`, so no command hangs on a stopped process."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        start, pause, stopped_since = time.monotonic(), 0.002, None
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                pass
            waited = time.monotonic() - start
            holder = lock_holder(folder)
            stopped = holder is not None and holder[1] == "stopped"
            stopped_since = (stopped_since or time.monotonic()) if stopped else None
            if (wait_s is not None and waited >= wait_s) or (
                    stopped and time.monotonic() - stopped_since >= STOPPED_GRACE_S):
                who = f"process {holder[0]} ({holder[1]})" if holder else "another process"
                hint = (f"; resume it (kill -CONT {holder[0]}) or end it" if stopped else
                        "; try again once it is done")
                raise LockBusy(f"{folder} is locked: held by {who} for {waited:.1f} s or more{hint}")
            time.sleep(pause)
            pause = min(pause * 2, 0.05)
        yield
    finally:
        os.close(fd)


_STATES = {"R": "running", "S": "sleeping", "D": "waiting on the disk", "T": "stopped", "t": "stopped",
           "Z": "exiting"}


def lock_holder(folder):
    """(pid, state in words) of the process holding `folder`'s flock, from /proc/locks (Linux), else None."""
    try:
        st = os.stat(folder)
        with open("/proc/locks") as f:
            lines = f.read().splitlines()
    except OSError:
        return None
    key = f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:{st.st_ino}"
    for line in lines:
        fields = line.split()
        if "->" in fields or len(fields) < 6 or fields[1] != "FLOCK" or fields[5] != key:
            continue  # "->": a process waiting for the lock, not holding it
        pid = int(fields[4])
        code = process_state(pid)
        return pid, "gone" if code is None else _STATES.get(code, code)
    return None


def process_state(pid):
    """Process `pid`'s one-letter state from /proc/PID/stat ("R", "S", "T", "Z", ...), None when it is gone or
    there is no /proc."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return None


def now():
    """The current UTC time as ISO text (microseconds: runs created in a burst still sort in order)."""
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")
