"""Download PTB-XL from PhysioNet with wfdb's own download functions: one sampling rate only, resumable, checked.

wfdb's `dl_database` would fetch both rates (records100 and records500, ~3 GB), and `dl_files` looks the
version up on physionet.org/content whatever the index URL, so this module drives wfdb's per-file worker
(`wfdb.io.download.dl_pn_file`, what `dl_files` runs in its pool) over the files the chosen rate needs.
Resuming works per record: a record that already reads back correctly is not fetched again; one that does
not (absent, partial, damaged) is deleted and fetched whole, which stays correct with servers that ignore
HTTP range requests (wfdb would otherwise append a second full copy to a partial file).
"""

from __future__ import annotations

import posixpath
from multiprocessing.dummy import Pool
from pathlib import Path

from wfdb.io import download

from ecgcore.data.ptbxl import DATABASE_CSV, RATES, STATEMENTS_CSV, check_rate, read_record, read_tables

DATABASE = "ptb-xl"
VERSION = "1.0.3"
CONNECTIONS = 2  # like wfdb's dl_files: PhysioNet asks clients not to open more


def _inputs(dest, files, overwrite=False):
    """wfdb's per-file download arguments for `files` (paths relative to the database root), PhysioNet's layout."""
    db_dir = posixpath.join(DATABASE, VERSION)
    return [(posixpath.basename(f), posixpath.dirname(f), db_dir, str(dest), True, overwrite) for f in files]


def record_problem(dest, name, fs):
    """None when record `name` reads back as a usable PTB-XL record at `fs` Hz, else the reason."""
    try:
        read_record(dest, name, fs)
    except ValueError as e:
        return str(e)
    return None


def download_ptbxl(dest, fs=100, progress=None, base_url=None):
    """Download PTB-XL 1.0.3 (the two CSVs and records100/ or records500/) into `dest`, then check it.

    progress: called as progress(done, total) over the records still to fetch. base_url: the index wfdb downloads from
    (default PhysioNet's https://physionet.org/files/; a mirror or a test server). Returns a report dict:
    records, fetched, already_complete, problems ([{"record", "reason"}] for records that still fail).
    """
    fs = check_rate(fs)
    dest = Path(dest).expanduser().resolve()
    dest.mkdir(parents=True, exist_ok=True)
    index_url = base_url or download.PN_INDEX_URL
    previous, download.config.db_index_url = download.config.db_index_url, index_url
    try:
        tables = _inputs(dest, [DATABASE_CSV, STATEMENTS_CSV], overwrite=True)
        try:  # always fetched afresh: they list the records, and a stale copy would hide new ones
            for item in tables:
                download.dl_pn_file(item)
        except OSError as e:
            raise ValueError(f"cannot download PTB-XL's tables from {index_url}{DATABASE}/{VERSION}/: {e}") from e
        database, _ = read_tables(dest)
        names = database[RATES[fs][0]].astype(str).tolist()
        todo = [name for name in names if record_problem(dest, name, fs) is not None]
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
        reason = failed.get(name) or record_problem(dest, name, fs)
        if reason:
            problems.append({"record": str(ecg_id), "reason": reason})
    return {"dest": str(dest), "fs": fs, "records": len(names), "fetched": len(todo),
            "already_complete": len(names) - len(todo), "problems": problems}
