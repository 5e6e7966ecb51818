"""Download PTB-XL from PhysioNet with wfdb's own download functions: one sampling rate only, resumable, checked.

wfdb's `dl_database` would fetch both rates (records100 and records500, ~3 GB), and `dl_files` looks the
version up on physionet.org/content whatever the index URL, so this module drives wfdb's per-file worker
(`wfdb.io.download.dl_pn_file`, what `dl_files` runs in its pool) over the files the chosen rate needs.
Resuming works per record: a record that already reads back correctly is not fetched again; one that does
not (absent, partial, damaged) is deleted and fetched whole, which stays correct with servers that ignore
HTTP range requests (wfdb would otherwise append a second full copy to a partial file). When the server has
PhysioNet's SHA256SUMS.txt, every file is checked against it (a mismatching table stops the download, a
mismatching record is fetched again and reported). A record name in the CSV that leads out of the destination
(absolute, `..`) is refused and reported, never fetched, written or deleted.

`tracked_download` (what `python -m ecgcore data ptbxl` runs) keeps DEST/.ecgcore-download.json up to date
(state running/done/failed, progress, pid, error, the report's summary) so that others can follow it;
`start_download` runs it as a detached process (the dashboard's way: a download outlives any page rerun) and
refuses to start a second one into a folder whose download still runs.
"""

from __future__ import annotations

import hashlib
import os
import posixpath
import time
from multiprocessing.dummy import Pool
from pathlib import Path

from wfdb.io import _url, download

from ecgcore.data.ptbxl import DATABASE_CSV, RATES, STATEMENTS_CSV, check_rate, read_record, read_tables, \
    record_path
from ecgcore.files import locked, now, read_json, write_bytes, write_json
from ecgcore.procs import is_process, spawn

DATABASE = "ptb-xl"
VERSION = "1.0.3"
CONNECTIONS = 2  # like wfdb's dl_files: PhysioNet asks clients not to open more
URL_ENV = "ECGCORE_PTBXL_URL"  # the default index to download from, when set (a mirror; the tests' server)
STATUS_FILE = ".ecgcore-download.json"
LOG_FILE = ".ecgcore-download.log"  # the detached download's stdout/stderr
STATUS_EVERY_S = 0.5  # progress writes to the status file are throttled to this
MAX_LISTED_PROBLEMS = 50  # the status file lists this many problem records (and counts them all)
CHECKSUMS = "SHA256SUMS.txt"  # PhysioNet's list of every file's SHA-256, at the database's root


def _inputs(dest, files, overwrite=False):
    """wfdb's per-file download arguments for `files` (paths relative to the database root), PhysioNet's layout."""
    db_dir = posixpath.join(DATABASE, VERSION)
    return [(posixpath.basename(f), posixpath.dirname(f), db_dir, str(dest), True, overwrite) for f in files]


def _prepare(dest, fs):
    """(`dest` resolved and created, `fs` checked): every entry point's first step."""
    fs = check_rate(fs)
    dest = Path(dest).expanduser().resolve()
    dest.mkdir(parents=True, exist_ok=True)
    return dest, fs


def record_problem(dest, name, fs, sums=None):
    """None when record `name` reads back as a usable PTB-XL record at `fs` Hz (and, given `sums` from
    SHA256SUMS.txt, its files have the listed hashes), else the reason."""
    try:
        read_record(dest, name, fs)
    except ValueError as e:
        return str(e)
    for file in (f"{name}.hea", f"{name}.dat"):
        problem = checksum_problem(dest, file, sums)
        if problem:
            return problem
    return None


def parse_checksums(text):
    """SHA256SUMS.txt's lines ('HASH  PATH', PATH relative to the database root) as {PATH: HASH}."""
    sums = {}
    for line in text.splitlines():
        parts = line.strip().split(maxsplit=1)
        if len(parts) == 2:
            sums[parts[1].lstrip("*").removeprefix("./")] = parts[0].lower()
    return sums


def checksum_problem(dest, file, sums):
    """None when `sums` lists no hash for `file` or the file has it, else the reason."""
    want = (sums or {}).get(file)
    if want is None:
        return None
    try:
        got = hashlib.sha256((Path(dest) / file).read_bytes()).hexdigest()
    except OSError as e:
        return f"{file}: cannot be read to check its checksum ({e})"
    return None if got == want else f"{file}: SHA-256 differs from {CHECKSUMS} (damaged or altered download)"


def _fetch_checksums(dest, index_url):
    """The mirror's SHA256SUMS.txt as {path: hash} (also saved into `dest`), or None when it serves none."""
    url = posixpath.join(index_url, DATABASE, VERSION, CHECKSUMS)
    try:
        with _url.openurl(url, "rb") as f:
            data = f.read()
    except FileNotFoundError:  # wfdb's NetFileNotFoundError: a mirror without the list
        return None
    except OSError as e:
        raise ValueError(f"cannot download {url}: {e}") from e
    write_bytes(dest / CHECKSUMS, data)
    try:
        return parse_checksums(data.decode())
    except UnicodeDecodeError as e:
        raise ValueError(f"{url} is not a checksum list: {e}") from e


def download_ptbxl(dest, fs=100, progress=None, base_url=None):
    """Download PTB-XL 1.0.3 (the two CSVs and records100/ or records500/) into `dest`, then check it.

    progress: called as progress(done, total) over the records still to fetch. base_url: the index wfdb downloads from
    (default $ECGCORE_PTBXL_URL, else PhysioNet's https://physionet.org/files/; a mirror or a test server).
    Returns a report dict: records, fetched, already_complete, problems ([{"record", "reason"}] for records that
    still fail).
    """
    dest, fs = _prepare(dest, fs)
    index_url = base_url or os.environ.get(URL_ENV) or download.PN_INDEX_URL
    previous, download.config.db_index_url = download.config.db_index_url, index_url
    try:
        tables = _inputs(dest, [DATABASE_CSV, STATEMENTS_CSV], overwrite=True)
        try:  # always fetched afresh: they list the records, and a stale copy would hide new ones
            for item in tables:
                download.dl_pn_file(item)
        except OSError as e:
            raise ValueError(f"cannot download PTB-XL's tables from {index_url}{DATABASE}/{VERSION}/: {e}") from e
        sums = _fetch_checksums(dest, index_url)
        for table in (DATABASE_CSV, STATEMENTS_CSV):
            problem = checksum_problem(dest, table, sums)
            if problem:
                raise ValueError(f"{index_url}{DATABASE}/{VERSION}/{problem}")
        database, _ = read_tables(dest)
        names = database[RATES[fs][0]].astype(str).tolist()
        # a name leading out of dest (absolute, '..') is never fetched, deleted or written: only reported
        refused = {}
        for name in names:
            try:
                record_path(dest, name)
            except ValueError as e:
                refused[name] = str(e)
        todo = [name for name in names if name not in refused and record_problem(dest, name, fs, sums) is not None]
        # folders made here, not in the pool's threads (wfdb's make_local_dirs is not race-free)
        download.make_local_dirs(str(dest), _inputs(dest, [f"{n}.hea" for n in todo]), keep_subdirs=True)

        def fetch_record(name):
            for item in _inputs(dest, [f"{name}.hea", f"{name}.dat"]):
                Path(item[3], item[1], item[0]).unlink(missing_ok=True)  # fetched whole, never appended to
                try:
                    download.dl_pn_file(item)
                except OSError as e:
                    return name, f"download failed: {e}"
            return name, None

        failed = {}
        if progress:
            progress(0, len(todo))
        with Pool(CONNECTIONS) as pool:
            for done, (name, error) in enumerate(pool.imap_unordered(fetch_record, todo), start=1):
                if error:
                    failed[name] = error
                if progress:
                    progress(done, len(todo))
    finally:
        download.config.db_index_url = previous
    # check what arrived: every record the CSV lists, read back the way the loader reads it
    problems = []
    for ecg_id, name in zip(database.index, names):
        reason = refused.get(name) or failed.get(name) or record_problem(dest, name, fs, sums)
        if reason:
            problems.append({"record": str(ecg_id), "reason": reason})
    return {"dest": str(dest), "fs": fs, "records": len(names), "fetched": len(todo),
            "already_complete": len(names) - len(todo), "problems": problems}


def download_status(dest):
    """The status of the download into `dest` (see the module docstring), or None when none was started there.
    A download still marked running whose process is gone reads as failed (interrupted)."""
    path = Path(dest).expanduser().resolve() / STATUS_FILE
    if not path.exists():
        return None
    status = read_json(path)
    if status.get("state") == "running" and not is_process(status.get("pid"), b"ecgcore", b"ptbxl"):
        status = {**status, "state": "failed",
                  "error": "interrupted: the download's process ended before finishing; start it again to resume"}
    return status


def _update_status(dest, **fields):
    """Merge `fields` into `dest`'s status file (atomic write) and return the new status; called under
    `dest`'s lock, so a detached download's first write waits until its starter has recorded the pid."""
    path = dest / STATUS_FILE
    status = {**(read_json(path) if path.exists() else {}), **fields}
    write_json(path, status)
    return status


def _mark_running(dest, pid, fs):
    """A fresh running status for process `pid`, clearing what an earlier download into `dest` left."""
    return _update_status(dest, state="running", pid=pid, fs=fs, started=now(), finished=None, done=0,
                          total=None, error=None, report=None)


def _refuse_if_running(dest, own_pid=None):
    current = download_status(dest)
    if current and current["state"] == "running" and current.get("pid") != own_pid:
        raise ValueError(f"a download into {dest} is already running (process {current['pid']}, "
                         f"{current.get('done', 0)}/{current.get('total') or '?'} records); wait for it to end")


def start_download(dest, fs=100, base_url=None):
    """Start `python -m ecgcore data ptbxl` into `dest` as a detached process and return its first status;
    ValueError when a download into `dest` is already running. Output goes to DEST/.ecgcore-download.log."""
    dest, fs = _prepare(dest, fs)
    with locked(dest):
        _refuse_if_running(dest)
        args = ["data", "ptbxl", "--dest", str(dest), "--fs", str(fs)] + (["--base-url", base_url] if base_url else [])
        proc = spawn(args, dest / LOG_FILE)
        return _mark_running(dest, proc.pid, fs)


def tracked_download(dest, fs=100, progress=None, base_url=None):
    """`download_ptbxl` that keeps DEST/.ecgcore-download.json up to date: running with progress (done/total
    records to fetch), then done with the report's summary, or failed with the error (and re-raised).
    ValueError when another process's download into `dest` is running."""
    dest, fs = _prepare(dest, fs)
    with locked(dest):
        _refuse_if_running(dest, own_pid=os.getpid())
        _mark_running(dest, os.getpid(), fs)
    last = 0.0

    def track(done, total):
        nonlocal last
        if done == total or time.monotonic() - last >= STATUS_EVERY_S:
            last = time.monotonic()
            with locked(dest):
                _update_status(dest, done=done, total=total)
        if progress:
            progress(done, total)

    try:
        report = download_ptbxl(dest, fs=fs, progress=track, base_url=base_url)
    except Exception as e:
        error = str(e) if isinstance(e, ValueError) else f"{type(e).__name__}: {e}"
        with locked(dest):
            _update_status(dest, state="failed", finished=now(), error=error)
        raise
    problems = report["problems"]
    summary = {**report, "problems": problems[:MAX_LISTED_PROBLEMS], "problem_count": len(problems)}
    with locked(dest):
        _update_status(dest, state="done", finished=now(), report=summary)
    return report
