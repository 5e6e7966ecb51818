"""Read a PTB-XL folder (PhysioNet's own layout) into a DataSet: raw signals via wfdb, diagnostic superclasses
(or, with statements="rhythm", PTB-XL's rhythm statements: SR, AFIB, STACH, SARRH, ...).

Layout: `ptbxl_database.csv` (ecg_id, scp_codes as a dict literal, strat_fold, filename_lr, filename_hr),
`scp_statements.csv` (statement code -> diagnostic_class) and `records100/` and/or `records500/`. Labels are
the 5 superclasses of CLASS_NAMES: `multilabel` holds them all; `label` is the class index for records with
exactly one superclass (the paper's single-label mode) and -1 otherwise. Records with no diagnostic superclass
are dropped (counted). With statements="rhythm" the classes are the statements scp_statements.csv marks as rhythm
statements, in its order, and a record without one is dropped instead. Splits are PTB-XL's stratified folds
(patients never straddle folds), never random.
Signals come raw, as wfdb reads them (mV); preprocessing is ecgcore.data.preprocess's job.
"""

from __future__ import annotations

import ast
import hashlib
import os
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import wfdb

from ecgcore.data.cache import cached
from ecgcore.data.dataset import Writer
from ecgcore.data.preprocess import STANDARDISED_NOTE, looks_standardised
from ecgcore.data.splits import resolve_folds
from ecgcore.labels import CLASS_NAMES, PTBXL_RATES
from ecgcore.leads import LEADS, resolve_leads, select

DATABASE_CSV = "ptbxl_database.csv"
STATEMENTS_CSV = "scp_statements.csv"
DATABASE_COLUMNS = ("ecg_id", "scp_codes", "strat_fold", "filename_lr", "filename_hr")
STATEMENT_COLUMNS = ("diagnostic", "diagnostic_class")
# sampling rate -> (database column naming its records, records folder)
RATES = dict(zip(PTBXL_RATES, [("filename_lr", "records100"), ("filename_hr", "records500")]))  # column, folder
MODES = {"multi": "multi-label", "single": "single-label"}
STATEMENTS = {"diagnostic": "diagnostic superclass", "rhythm": "rhythm statement"}  # the label sets, in words
Z_SCORE_SAMPLE = 64  # records the report checks for z-scored values
FLUSH_EVERY = 512  # records written between flushes of the data set file being built (bounds the memory it holds)
READ_WORKERS_ENV = "ECGCORE_READ_WORKERS"
PARALLEL_FROM = 512  # records: fewer are read in the calling process (starting the pool costs ~2 s a worker)
READ_WINDOW = 1024  # records in flight in the pool at most (at 500 Hz, 12 leads: 0.25 GB)
# PTB-XL's headers spell the augmented leads AVR/AVL/AVF; ecgcore.leads uses aVR/aVL/aVF.
_CANONICAL_LEAD = {name.lower(): name for name in LEADS}


def check_rate(fs):
    if fs not in RATES:
        raise ValueError(f"fs={fs!r} is invalid: PTB-XL comes at 100 or 500 Hz")
    return int(fs)


def read_tables(path):
    """(database indexed by ecg_id, statements indexed by code); ValueError when the folder is unusable."""
    root = Path(path)
    if not root.is_dir():
        raise ValueError(f"PTB-XL folder not found: {root}")
    tables = []
    for name, columns, index in ((DATABASE_CSV, DATABASE_COLUMNS, "ecg_id"), (STATEMENTS_CSV, STATEMENT_COLUMNS, 0)):
        file = root / name
        if not file.is_file():
            raise ValueError(f"{file} is missing: not a PTB-XL folder (download one with `python -m ecgcore data ptbxl`)")
        try:
            table = pd.read_csv(file)
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as e:
            raise ValueError(f"{file} is not a readable CSV: {e}") from e
        missing = [c for c in columns if c not in table.columns]
        if missing:
            raise ValueError(f"{file} lacks the column(s) {missing}")
        # the statements' index is their first, unnamed column (the SCP code)
        tables.append(table.set_index(index if isinstance(index, str) else table.columns[index]))
    database, statements = tables
    if database.index.has_duplicates:
        raise ValueError(f"{root / DATABASE_CSV} has duplicate ecg_id values")
    return database, statements


def superclass_map(statements):
    """Statement code -> diagnostic superclass, for the diagnostic statements of CLASS_NAMES."""
    diagnostic = statements[(statements["diagnostic"] == 1) & statements["diagnostic_class"].isin(CLASS_NAMES)]
    return diagnostic["diagnostic_class"].to_dict()


def label_map(statements, kind="diagnostic"):
    """(statement code -> class, class names) of the label set `kind` (STATEMENTS) from the statements table;
    ValueError when the folder's statements cannot give it."""
    if kind not in STATEMENTS:
        raise ValueError(f"statements={kind!r} must be one of {sorted(STATEMENTS)}")
    if kind == "diagnostic":
        return superclass_map(statements), CLASS_NAMES
    if "rhythm" not in statements.columns:
        raise ValueError(f"{STATEMENTS_CSV} has no 'rhythm' column: it names no rhythm statement")
    codes = tuple(str(c) for c in statements.index[pd.to_numeric(statements["rhythm"], errors="coerce") == 1])
    if not codes:
        raise ValueError(f"{STATEMENTS_CSV} marks no statement as a rhythm statement")
    return {c: c for c in codes}, codes


def record_labels(scp_codes, classes_of):
    """`scp_codes` text (a dict literal) -> the set of superclasses; ValueError when it is not a dict literal."""
    try:
        codes = ast.literal_eval(scp_codes)
    except (ValueError, SyntaxError, TypeError) as e:
        raise ValueError(f"scp_codes {scp_codes!r} is not a dict literal") from e
    if not isinstance(codes, dict):
        raise ValueError(f"scp_codes {scp_codes!r} is not a dict literal")
    # Like the benchmark's code: every listed statement counts, whatever its likelihood.
    return {classes_of[code] for code in codes if code in classes_of}


def record_path(root, filename):
    """`root / filename` for a record named in the database; ValueError when the name leads out of `root`
    (absolute, `..`): a hostile or damaged CSV must never make us read, write or delete files elsewhere."""
    root = Path(root).resolve()
    name = str(filename)
    base = Path(os.path.normpath(root / name))  # by the name alone: a folder symlinked in stays allowed
    if Path(name).is_absolute() or not base.is_relative_to(root):
        raise ValueError(f"record name {name!r} leads outside the folder {root}: refused")
    return base


def read_record(path, filename, fs, leads="all"):
    """One record's signals (C, L) float32 in `leads` order; ValueError with the reason when it is unusable."""
    base = record_path(path, filename)
    if not base.with_suffix(".hea").is_file():
        raise ValueError(f"{filename}.hea is missing")
    try:
        record = wfdb.rdrecord(str(base))
    except FileNotFoundError as e:
        raise ValueError(f"{filename}: signal file missing ({Path(e.filename or '').name})") from e
    except wfdb.io.header.HeaderSyntaxError as e:
        raise ValueError(f"{filename}.hea: corrupt header ({e})") from e
    except (ValueError, IndexError, TypeError) as e:
        raise ValueError(f"{filename}: unreadable, truncated or damaged signal file ({e})") from e
    if record.fs != fs:
        raise ValueError(f"{filename}: sampling rate {record.fs:g} Hz, expected {fs} Hz")
    if record.p_signal is None or len(record.p_signal) != record.sig_len:
        raise ValueError(f"{filename}: truncated, fewer samples than the header's {record.sig_len}")
    names = [_CANONICAL_LEAD.get(str(n).lower(), n) for n in record.sig_name]
    try:
        signals, names = select(record.p_signal.T[None], names, leads)
    except ValueError as e:
        raise ValueError(f"{filename}: {e}") from e
    nan = np.isnan(signals[0])
    if nan.any():
        bad = [name for name, row in zip(names, nan) if row.any()]
        raise ValueError(f"{filename}: {int(nan.sum())} NaN samples in lead(s) {', '.join(bad)}")
    return signals[0].astype(np.float32)


def folder_stamp(root, files):
    """A hash of the files' sizes and modification times: an edited folder gets a new cache key."""
    digest = hashlib.sha256()
    for file in files:
        try:
            st = (root / file).stat()
            digest.update(f"{file}:{st.st_size}:{st.st_mtime_ns};".encode())
        except OSError:
            digest.update(f"{file}:missing;".encode())
    return digest.hexdigest()[:20]


def folder_folds(database):
    """The fold numbers the database lists (records without a usable strat_fold left out)."""
    return sorted({int(f) for f in fold_numbers(database).dropna()})


def fold_numbers(database):
    """strat_fold as numbers, NaN where a value is not one: one text value (a damaged or hand-edited row)
    turns the whole column into text, and must cost only its own record."""
    return pd.to_numeric(database["strat_fold"], errors="coerce")


def class_balance(path, label_mode="single", statements="diagnostic"):
    """Records per class and per fold in the folder's tables, before any signal is read or any training:
    (table, absent). `table` (a DataFrame) has one row per fold plus "all", one column per class of
    the label set (CLASS_NAMES, or the rhythm statements) and "records"; in "single" mode only records with
    exactly one class count (as load_ptbxl's `label`), in "multi" mode every record with one or more (a record
    counts once per class it has). `absent` lists the classes with no record. ValueError when the folder is
    not PTB-XL's."""
    if label_mode not in MODES:
        raise ValueError(f"label_mode={label_mode!r} must be one of {sorted(MODES)}")
    database, table = read_tables(path)
    classes_of, names = label_map(table, statements)
    folds = pd.to_numeric(database["strat_fold"], errors="coerce")
    rows = []
    for fold, codes in zip(folds, database["scp_codes"]):
        try:
            classes = record_labels(codes, classes_of)
        except ValueError:
            continue  # load_ptbxl skips such a record too
        if np.isnan(fold) or not classes or (label_mode == "single" and len(classes) != 1):
            continue
        rows.append({"fold": int(fold), **{c: int(c in classes) for c in names}, "records": 1})
    table = pd.DataFrame(rows, columns=["fold", *names, "records"]).groupby("fold").sum()
    table.index = table.index.astype(str)
    table.loc["all"] = table.sum()
    return table.astype(int), [c for c in names if table.loc["all", c] == 0]


def load_ptbxl(path, fs=100, leads="all", val_fold=None, test_fold=None, folds=None, statements="diagnostic",
               progress=None):
    """Load a PTB-XL folder as a DataSet (cached; an edited folder reloads).

    fs: 100 (records100/) or 500 (records500/). leads: "all", "paper8" or a list of names. val_fold/test_fold:
    the folds training holds out; None (the default) is auto: the benchmark's 9 and 10 when the folder has
    fold 10, else 8 and 9 (ecgcore.data.splits.resolve_folds; decided on the folder's folds, not on `folds`).
    The chosen folds are config["val_fold"] / ["test_fold"], how they were chosen config["fold_choice"]. A
    folder lacking a given fold still loads, and the report names the empty split. folds: load only these
    folds (None: all). statements: "diagnostic" (the 5 diagnostic superclasses) or "rhythm" (the rhythm
    statements as the classes). progress: called as progress(done, total) while records are read. Bad records are
    skipped, listed in config["skipped"] and warned about; the per-mode report is config["report"] (see
    `summary`).
    """
    root = Path(path).expanduser().resolve()
    fs = check_rate(fs)
    lead_names = resolve_leads(leads)
    database, table = read_tables(root)
    val_fold, test_fold, fold_choice = resolve_folds(folder_folds(database), val_fold, test_fold)
    if folds is not None:
        folds = sorted({int(f) for f in folds})
        database = database[fold_numbers(database).isin(folds)]
    if database.empty:
        raise ValueError(f"{root / DATABASE_CSV} has no records" + (f" in folds {folds}" if folds else ""))
    column, folder = RATES[fs]
    if not (root / folder).is_dir():
        raise ValueError(f"{root} has no {folder}/ folder: download the {fs} Hz records "
                         f"(`python -m ecgcore data ptbxl --dest {root} --fs {fs}`)")
    files = [DATABASE_CSV, STATEMENTS_CSV] + [f"{name}{ext}" for name in database[column].astype(str)
                                              for ext in (".hea", ".dat")]
    label_map(table, statements)  # a folder that cannot give these labels fails before any record is read
    kind = {"statements": statements} if statements != "diagnostic" else {}  # diagnostic sets keep their key
    key = {"source": "ptbxl", "path": str(root), "fs": fs, "leads": list(lead_names), "folds": folds,
           "stamp": folder_stamp(root, files), **kind}
    dataset = cached(key, lambda folder: _read(root, database, table, fs, lead_names, progress, folder,
                                               statements), chunked=True)
    # The folds held out are not part of the key: they are applied here, after loading (auto or given alike).
    dataset.config = {**dataset.config, "leads": leads, "val_fold": val_fold, "test_fold": test_fold,
                      "fold_choice": fold_choice, **kind}
    dataset.config["report"] = report(dataset)
    skipped = dataset.config["skipped"]
    if skipped:
        listed = "; ".join(f"{s['record']}: {s['reason']}" for s in skipped[:5])
        warnings.warn(f"PTB-XL {root}: skipped {len(skipped)} bad record(s): {listed}"
                      + (" ..." if len(skipped) > 5 else ""), stacklevel=2)
    return dataset


def _read(root, database, statements, fs, lead_names, progress, folder, kind="diagnostic"):
    """Read every usable record into the data set folder `folder` (a dataset.Writer), in order: memory holds a
    window of records and the labels, whatever the folder's size (all of PTB-XL at 500 Hz is 5.2 GB). A large
    folder is read by read_workers() processes: parsing a record's header in wfdb costs ~30 ms of Python (it
    reads each header field through pandas), about all the time a record takes."""
    classes_of, class_names = label_map(statements, kind)
    column = RATES[fs][0]
    wanted, skipped, no_class = [], [], []  # wanted: (ecg_id, record name, classes, fold)
    for ecg_id, row in database.iterrows():
        try:
            classes = record_labels(row["scp_codes"], classes_of)
            fold = pd.to_numeric(row["strat_fold"], errors="coerce")
            if pd.isna(fold) or fold != int(fold):
                raise ValueError(f"strat_fold {row['strat_fold']!r} is not a fold number")
        except ValueError as e:
            skipped.append({"record": str(ecg_id), "reason": str(e)})
            continue
        if not classes:
            no_class.append(str(ecg_id))
        else:
            wanted.append((str(ecg_id), str(row[column]), classes, int(fold)))
    writer, kept = None, []
    multilabel = np.zeros((len(wanted), len(class_names)), dtype=np.uint8)
    done = len(database) - len(wanted)
    for (ecg_id, name, classes, fold), (signal, problem) in zip(wanted, _signals(root, wanted, fs, lead_names)):
        done += 1
        if progress:
            progress(done - 1, len(database))
        if problem is None and writer is None:  # PTB-XL records are all 10 s; the first good record sets the length
            writer = Writer(folder, len(wanted), *signal.shape)
        if problem is None and signal.shape != writer.signals.shape[1:]:
            problem = f"{name}: {signal.shape[1]} samples, the others have {writer.signals.shape[2]}"
        if problem is not None:
            skipped.append({"record": ecg_id, "reason": problem})
            continue
        writer.write(len(kept), signal[None])
        if len(kept) % FLUSH_EVERY == 0:
            writer.flush()  # the records written so far leave this process's memory
        multilabel[len(kept), [class_names.index(c) for c in classes]] = 1
        kept.append((ecg_id, fold))
    if progress:
        progress(len(database), len(database))
    if not kept:
        reasons = "; ".join(f"{s['record']}: {s['reason']}" for s in skipped[:3]) or f"none has a {STATEMENTS[kind]}"
        raise ValueError(f"no usable record in {root} at {fs} Hz ({reasons})")
    order = {str(ecg_id): i for i, ecg_id in enumerate(database.index)}
    skipped.sort(key=lambda s: order[s["record"]])  # in the folder's order, whichever pass found them
    n = len(kept)
    multilabel = multilabel[:n]
    label = np.where(multilabel.sum(1) == 1, multilabel.argmax(1), -1).astype(np.int64)
    writer.finish(
        n, fs=fs, lead_names=lead_names, label=label, multilabel=multilabel,
        class_names=class_names, fold=np.array([f for _, f in kept], dtype=np.int64),
        record_id=np.array([r for r, _ in kept]),
        config={"source": "ptbxl", "path": str(root), "fs": fs, "folds": sorted({f for _, f in kept}),
                "skipped": skipped, "no_superclass": no_class},
    )


def read_workers():
    """Processes reading a large folder: `$ECGCORE_READ_WORKERS`, else one per core (at most 8)."""
    value = os.environ.get(READ_WORKERS_ENV, "")
    if value:
        if not value.isdigit() or int(value) < 1:
            raise ValueError(f"{READ_WORKERS_ENV}={value!r} is invalid: must be an integer >= 1")
        return int(value)
    return max(1, min(8, len(os.sched_getaffinity(0))))


def _signals(root, wanted, fs, lead_names):
    """(signal or None, problem or None) of each wanted record, in order: in this process for a few records or
    one worker, else by a process pool a window at a time (results never pile up beyond a window)."""
    jobs = [(root, name, fs, lead_names) for _, name, _, _ in wanted]
    workers = read_workers()
    if workers == 1 or len(jobs) < PARALLEL_FROM:
        yield from map(_read_one, jobs)
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from concurrent.futures.process import BrokenProcessPool

    done = 0
    try:
        # spawn: the caller may be a job process with threads (heartbeat), which fork would copy mid-step
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
            for start in range(0, len(jobs), READ_WINDOW):
                window = list(pool.map(_read_one, jobs[start:start + READ_WINDOW], chunksize=16))
                done += len(window)
                yield from window
    except BrokenProcessPool:  # a worker could not start (e.g. this process's __main__ cannot be re-run)
        warnings.warn("PTB-XL: the reading processes failed; reading the rest in this process", stacklevel=2)
        yield from map(_read_one, jobs[done:])


def _read_one(job):
    try:
        return read_record(*job), None
    except ValueError as e:
        return None, str(e)


def report(dataset):
    """Per mode (multi/single): records kept, class counts, classes with no records, split sizes, empty splits."""
    config = dataset.config
    val, test = config["val_fold"], config["test_fold"]
    split_of = np.where(dataset.fold == val, "val", np.where(dataset.fold == test, "test", "train"))
    modes = {}
    for mode, keep in (("multi", dataset.multilabel.sum(1) > 0), ("single", dataset.label >= 0)):
        counts = dataset.multilabel[keep].sum(0)
        splits = {s: int((keep & (split_of == s)).sum()) for s in ("train", "val", "test")}
        modes[mode] = {
            "records": int(keep.sum()),
            "class_counts": {c: int(k) for c, k in zip(dataset.class_names, counts)},
            "missing_classes": [c for c, k in zip(dataset.class_names, counts) if k == 0],
            "splits": splits,
            "empty_splits": [s for s, k in splits.items() if k == 0],
        }
    folds, counts = np.unique(dataset.fold, return_counts=True)
    return {
        "records": len(dataset), "fs": dataset.fs, "leads": list(dataset.lead_names),
        "records_per_fold": {str(f): int(k) for f, k in zip(folds, counts)},  # str keys: JSON round trip
        "splits": {"train": [int(f) for f in folds if f not in (val, test)], "val": val, "test": test},
        "fold_choice": config.get("fold_choice", ""),
        "modes": modes, "skipped": config["skipped"], "no_superclass": len(config["no_superclass"]),
        # its first records, checked: a folder whose records were z-scored still says mV in its headers
        "looks_z_scored": looks_standardised(dataset.signals[:Z_SCORE_SAMPLE]),
    }


def summary(dataset):
    """The report as text, for the CLI and the dashboard."""
    r = dataset.config["report"]
    train = r["splits"]["train"]
    lines = [
        f"PTB-XL {dataset.config['path']}: {r['records']} records at {r['fs']:g} Hz, {len(r['leads'])} leads",
        f"splits: train folds {', '.join(map(str, train)) or 'none'}; "
        f"validation fold {r['splits']['val']}; test fold {r['splits']['test']}"
        + (f" ({r['fold_choice']})" if r.get("fold_choice") else ""),
    ]
    for mode, m in r["modes"].items():
        counts = ", ".join(f"{c} {k}" for c, k in m["class_counts"].items())
        sizes = " / ".join(f"{s} {k}" for s, k in m["splits"].items())
        lines.append(f"{MODES[mode]}: {m['records']} records ({sizes}); {counts}")
        if m["missing_classes"]:
            lines.append(f"  no records of: {', '.join(m['missing_classes'])} (metrics cover the classes present)")
        if m["empty_splits"]:
            lines.append(f"  empty splits: {', '.join(m['empty_splits'])}")
    if r["no_superclass"]:
        lines.append(f"dropped {r['no_superclass']} record(s) with no "
                     f"{STATEMENTS[dataset.config.get('statements', 'diagnostic')]}")
    if r.get("looks_z_scored"):
        lines.append(f"the records' {STANDARDISED_NOTE}")
    if r["skipped"]:
        lines.append(f"skipped {len(r['skipped'])} bad record(s):")
        lines += [f"  {s['record']}: {s['reason']}" for s in r["skipped"]]
    return "\n".join(lines)
