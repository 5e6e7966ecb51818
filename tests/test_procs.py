"""Detached processes: spawn starts `python -m ecgcore`, is_process tells a live, matching pid from the rest."""

import os
import subprocess
import sys

from ecgcore import procs


def test_is_process_checks_life_and_command_line_markers():
    assert procs.is_process(os.getpid())
    assert procs.is_process(os.getpid(), os.fsencode(sys.executable).rsplit(b"/", 1)[-1][:6])
    assert not procs.is_process(os.getpid(), b"no-such-marker-in-this-command-line")
    assert not procs.is_process(None) and not procs.is_process(0)
    done = subprocess.Popen([sys.executable, "-c", "pass"])
    done.wait()
    assert not procs.is_process(done.pid)


def test_spawn_runs_ecgcore_detached_with_output_in_the_log(tmp_path):
    log = tmp_path / "log.txt"
    log.write_text("earlier\n")
    proc = procs.spawn(["--help"], log)
    assert os.getsid(proc.pid) == proc.pid != os.getsid(0)  # its own session (until reaped, even as a zombie)
    assert proc.wait(60) == 0
    text = log.read_text()
    assert text.startswith("earlier\n") and "usage" in text
