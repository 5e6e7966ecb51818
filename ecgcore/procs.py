"""Detached processes: start `python -m ecgcore ...` so that it outlives its caller, and tell whether a pid
still is the process it was."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import ecgcore
from ecgcore.files import open_nofollow, process_state  # open_nofollow: a log that is a link is refused


def spawn(args, log_path):
    """Start `python -m ecgcore ARGS` as a detached process (its own session: it survives the caller, and
    killpg stops just it) with stdout/stderr appended to `log_path`; returns the Popen."""
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root(), env.get("PYTHONPATH")) if p)
    with os.fdopen(open_nofollow(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT), "ab") as log:
        return subprocess.Popen([sys.executable, "-m", "ecgcore", *args], stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT, env=env, start_new_session=True)


def package_root():
    """The folder ecgcore is imported from (a checkout or site-packages): a process started elsewhere (a job,
    a Ray worker) imports it from there too, installed or not."""
    return str(Path(ecgcore.__file__).resolve().parent.parent)


def is_process(pid, *markers):
    """Whether process `pid` lives. Through /proc (Linux) a zombie is dead and a command line that lacks one
    of the `markers` (bytes) is a reused pid; elsewhere only the pid's existence is checked."""
    if not pid:
        return False
    if Path("/proc/self/stat").exists():
        state = process_state(pid)
        if state is None:
            return False
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            return False
        # a process that has just exec'd can show an empty command line for a moment: not proof of death
        return state not in ("Z", "X") and (not cmdline or all(m in cmdline for m in markers))
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True
