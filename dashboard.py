"""Streamlit pieces the pages share: the runs folder, run pickers, the live run panel, the paper setup.

ecgcore never imports Streamlit; this module is the only place, besides the pages, that does.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import streamlit as st

from ecgcore import estimates, jobs, plots, run_index, runs, sweep
from ecgcore.config import ARCHS, DEVICES, FRACTIONS, NORMALIZATIONS, PAPER_SETUP, JobConfig, Preprocess
from ecgcore.labels import TARGETS
from ecgcore.leads import LEAD_SETS
from ecgcore.words import say

ACTIVE = runs.ACTIVE_STATES
REFRESH_S = 2.0

# The seed paper's configuration (arXiv 2508.11656); the Paper setup buttons copy these into the widgets.
PAPER_NOTE = (
    "Paper setup: `inception1d`, 8 leads (I, II, V1-V6), 500 Hz, per-lead min-max normalisation, one regressor "
    "per target, L1 loss, Adam lr 0.01 with exponential decay 0.99 per epoch, early stopping, "
    "`freeze_first_block`, single-label classification. **What differs here:** the pretraining ECGs come from "
    "this tool's parametric engine, not the paper's GAN, and PTB-XL is split patient-wise by its folds "
    "(9 = validation, 10 = test; 8 and 9 when a folder has no fold 10) instead of a random record split."
)


def runs_dir():
    """$ECGCORE_RUNS or runs/, read on every rerun (tests and users may point it elsewhere)."""
    return runs.default_runs_dir()


def apply_paper_setup(prefix):
    """on_click callback: set the page's widgets (keys `prefix + name`) to the paper's values."""
    for name, value in PAPER_SETUP.items():
        if prefix + name in st.session_state:  # only the widgets this page has
            st.session_state[prefix + name] = value


RESTORED = "form_restored"  # session key: the pages whose form was filled from the linked run this session
# What the forms' widgets can show, per task: a value outside is left to the widget's default (a run made from the
# command line may have 1,000 epochs or 50 records, which a number box refuses)
FORM_LIMITS = {"n": {"pretrain": (100, 200000), "finetune": (100, 50000)}, "epochs": (1, 500), "seed": (0, 10**6),
               "data_seed": (0, 10**6), "batch_size": (1, 1024), "lr": (1e-5, 1.0), "lr_decay": (0.5, 1.0),
               "patience": (0, 100)}
FORM_CHOICES = {"fs": {"pretrain": (100, 250, 500), "finetune": (100, 500)}, "fraction": tuple(FRACTIONS),
                "arch": tuple(ARCHS), "device": tuple(DEVICES), "normalize": tuple(NORMALIZATIONS),
                "leads": tuple(LEAD_SETS)}


def _fits_form(name, value, task):
    """Whether the form's widget `name` can show `value`."""
    limits = FORM_LIMITS.get(name)
    if isinstance(limits, dict):
        limits = limits[task]
    if limits is not None:
        return isinstance(value, (int, float)) and not isinstance(value, bool) and limits[0] <= value <= limits[1]
    choices = FORM_CHOICES.get(name)
    if isinstance(choices, dict):
        choices = choices[task]
    return choices is None or value in choices


def start_at(key, value):
    """A widget's first value, put in the session before the widget is drawn (the widget then takes no default
    argument: one given a default and a value set by code, as a restored form or Paper setup set them, makes
    Streamlit log a warning)."""
    st.session_state.setdefault(key, value)
    return key


def form_values(config, pretrained_ids=()):
    """{widget name (without the page's prefix): value} of the Pretrain / Fine-tune form that makes `config`:
    what a reloaded page shows for the run in its link. Only what the form can show; a data spec it has no
    widgets for comes back as the "spec" text."""
    values = {"arch": config.arch, "epochs": config.epochs, "seed": config.seed, "lr": config.lr,
              "lr_decay": config.lr_decay, "patience": config.patience, "device": config.device,
              "leads": config.preprocess.leads, "normalize": config.preprocess.normalize}
    data = dict(config.data or {})
    synthetic = data.get("source") == "synthetic" and set(data) <= {"source", "n", "fs", "seed", "classes", "rhythms",
                                                                    "stream"}
    if config.task == "pretrain":
        values.update(targets=list(config.targets), batch_size=config.batch_size)
        if synthetic or data.get("source") == "gan" and set(data) <= {"source", "n", "fs", "seed"}:
            values.update(source="stream" if data.get("stream") else data["source"], n=data.get("n"),
                          fs=data.get("fs"), data_seed=data.get("seed"), rhythms=bool(data.get("rhythms")))
        elif data:
            values.update(source="spec", spec=json.dumps(data))
    else:
        values.update(label_mode=config.label_mode, fraction=config.fraction)
        if config.strategy != "scratch" and config.pretrained:
            values.update(strategy=config.strategy, pretrained=pretrained_ids[0] if pretrained_ids else None)
        if synthetic and not data.get("stream"):
            values.update(source="simulated rhythms" if data.get("rhythms") else "simulated superclasses",
                          n=data.get("n"), fs=data.get("fs"), data_seed=data.get("seed"))
            if data.get("rhythms"):
                values["rhythms"] = list(data["rhythms"])
        elif data.get("source") == "ptbxl":
            values.update(source="PTB-XL folder", path=data.get("path"), fs=data.get("fs"),
                          val_fold=data.get("val_fold") or AUTO_FOLD, test_fold=data.get("test_fold") or AUTO_FOLD,
                          statements=data.get("statements", "diagnostic"))
    return {k: v for k, v in values.items() if v is not None}


def restore_form(prefix, task):
    """On a session's first run of the page, fill its form from the run its link shows (?run=ID), so a reload
    shows the settings of the run on screen, not the defaults. Nothing changes once the session has the form."""
    done = st.session_state.setdefault(RESTORED, set())
    if prefix in done:
        return
    done.add(prefix)
    wanted = st.query_params.get("run")
    run = next((r for r in runs_of(task) if r.id == wanted), None)
    if run is None:
        return
    by_path = {str(r.path.resolve()): r.id for r in runs_of("pretrain", states=("done",))}  # the picker's runs
    pretrained_ids = [by_path.get(str(Path(p).resolve())) for p in run.config.pretrained]
    for name, value in form_values(run.config, [i for i in pretrained_ids if i]).items():
        if _fits_form(name, value, task):
            st.session_state[prefix + name] = value


def paper_setup_columns(prefix):
    """The form's column (returned), beside the Paper setup button and the note on what differs here."""
    left, right = st.columns([3, 2])
    right.button("Paper setup", on_click=apply_paper_setup, args=(prefix,), key=prefix + "paper")
    right.caption(PAPER_NOTE)
    return left


def preprocess_inputs(prefix, leads_col, normalize_col):
    """Leads and per-lead normalisation widgets (keys `prefix` + leads/normalize) -> a Preprocess."""
    leads = leads_col.selectbox("Leads", list(LEAD_SETS), key=prefix + "leads", format_func=say)
    normalize = normalize_col.selectbox("Normalisation per lead", NORMALIZATIONS, key=prefix + "normalize",
                                        format_func=say)
    return Preprocess(leads=leads, normalize=normalize)


def device_input(col, prefix):
    """The device picker (key `prefix` + device)."""
    return col.selectbox("Device", DEVICES, key=prefix + "device", format_func=say)


def optimisation_inputs(prefix, lr_col, decay_col, patience_col):
    """Learning rate, its decay per epoch and early-stopping patience widgets (keys `prefix` + lr/lr_decay/
    patience, which the Paper setup button fills) -> (lr, lr_decay, patience)."""
    lr = lr_col.number_input("Learning rate", 1e-5, 1.0, format="%.5f", key=start_at(prefix + "lr", 1e-3))
    lr_decay = decay_col.number_input("LR decay per epoch", 0.5, 1.0, format="%.3f",
                                      key=start_at(prefix + "lr_decay", 1.0))
    patience = patience_col.number_input("Early-stopping patience (0: off)", 0, 100,
                                         key=start_at(prefix + "patience", 5))
    return float(lr), float(lr_decay), int(patience)


AUTO_FOLD = "auto"


def fold_inputs(prefix, val_col, test_col, suffix=""):
    """PTB-XL validation and test fold pickers (keys `prefix` + val_fold/test_fold) -> (val_fold, test_fold),
    None for auto: 9 and 10 when the folder has fold 10, else 8 and 9 (ecgcore.data.splits.resolve_folds)."""
    choices = [AUTO_FOLD, *range(1, 11)]
    why = "auto: 9 and 10 when the folder has fold 10, else 8 and 9"
    val = val_col.selectbox(f"Validation fold{suffix}", choices, key=prefix + "val_fold", help=why)
    test = test_col.selectbox(f"Test fold{suffix}", choices, key=prefix + "test_fold", help=why)
    return tuple(None if fold == AUTO_FOLD else int(fold) for fold in (val, test))


@st.cache_data(ttl=60, show_spinner=False)
def ptbxl_folds(path):
    """(problem, folds): '' and the fold numbers when `path` is a readable PTB-XL folder, else why not and []
    (cached: the folder is read once a minute)."""
    from ecgcore.data.ptbxl import folder_folds, read_tables

    try:
        database, _ = read_tables(path)
    except ValueError as e:
        return str(e), []
    return "", folder_folds(database)


def held_out_folds(path, val_fold, test_fold):
    """(problem, text): why the folder or the fold choice is unusable (text ''), else '' and which folds
    training will hold out, as the loader will choose them."""
    from ecgcore.data.splits import resolve_folds

    problem, folds = ptbxl_folds(str(path))
    if problem:
        return problem, ""
    try:
        val, test, note = resolve_folds(folds, val_fold, test_fold)
    except ValueError as e:
        return str(e), ""
    return "", (f"Folds in the folder: {', '.join(map(str, folds))}. Held out: validation fold {val}, test fold "
                f"{test}" + (f" ({note})." if note else "."))


def runs_of(task, states=None):
    """Runs of `task` ("pretrain"/"finetune"), newest first, from the run index (a rerun reads only the runs that
    changed); damaged folders are left out of pickers."""
    out = []
    for run in reversed(run_index.indexed_runs(runs_dir())):
        if run.problem is None and run.config.task == task and (states is None or run.listed["state"] in states):
            out.append(run)
    return out


run_label = runs.title  # a run in a picker: its name and start time (the id is in the picker's help)
STARTED = "started_run"  # session key: the run a Start button just submitted, shown at once


OUTSIDE = "runs outside a study"


def _stamp(paths):
    """(path, mtime_ns) of each file that exists: a cache key that changes when one of them is rewritten."""
    out = []
    for path in paths:
        try:
            out.append((str(path), path.stat().st_mtime_ns))
        except OSError:
            continue
    return tuple(out)


@st.cache_data(max_entries=4, show_spinner=False)
def _cells_by_run(folder, stamp):
    return sweep.cells_by_run(folder)


def study_cells():
    """sweep.cells_by_run, read again only when a sweep file changed (each picker rerun would read every sweep
    and the pretrained runs its arms name)."""
    folder = runs_dir()
    return _cells_by_run(str(folder), _stamp(sorted(sweep.sweeps_dir(folder).glob("*/sweep.json"))))


def narrowed(candidates, key, wanted=None):
    """The runs a picker lists, after its Study choice and Filter text (both drawn here, in a row): a study's
    runs by arm, fraction and seed; the others newest first. `wanted`: a run id the study choice must keep."""
    cells = study_cells()
    studies = list(dict.fromkeys(cells[r.id]["study"] for r in candidates if r.id in cells))
    if not studies:
        return candidates, cells
    c1, c2 = st.columns([1, 1])
    options = ["all", *studies, OUTSIDE]
    if wanted in cells and st.session_state.get(key + "_study") not in ("all", cells[wanted]["study"]):
        st.session_state[key + "_study"] = cells[wanted]["study"]  # a linked or just started run stays in view
    study = c1.selectbox("Study", options, key=key + "_study",
                         format_func=lambda o: "every run" if o == "all" else o,
                         help="The runs of one study (sweep), by arm, share of labels and seed.")
    text = c2.text_input("Filter", key=key + "_filter", placeholder="words in the run's name",
                         help="Only the runs whose name holds all these words (any case).")
    if study == OUTSIDE:
        chosen = [r for r in candidates if r.id not in cells]
    elif study != "all":
        chosen = sorted((r for r in candidates if r.id in cells and cells[r.id]["study"] == study),
                        key=lambda r: (cells[r.id]["control"], cells[r.id]["title"], cells[r.id]["fraction"],
                                       cells[r.id]["seed"]))
    else:
        chosen = candidates
    words = text.lower().split()
    chosen = [r for r in chosen if all(w in run_label(r).lower() for w in words)]
    return chosen, cells


def pick_run(task, key):
    """A selectbox of `task` runs (newest first; a study's by arm, fraction and seed, with a Study choice and a
    Filter when studies exist); the choice lives in the URL (?run=ID) so a reload keeps it, and a run the page
    has just started is chosen at once."""
    everyone = runs_of(task)
    if not everyone:
        return None
    started = st.session_state.pop(STARTED, None)
    wanted = started or st.query_params.get("run")
    candidates, _ = narrowed(everyone, key, wanted)
    if not candidates:
        st.info("No run matches the study and filter chosen.")
        return None
    ids = [r.id for r in candidates]
    if started in ids:
        st.session_state[key] = started  # before the widget is drawn: it shows the new run in this rerun
    elif st.session_state.get(key) not in ids:  # the choice comes from the state alone, never also a default
        st.session_state[key] = wanted if wanted in ids else ids[0]
    chosen = st.selectbox("Show run", ids, key=key,
                          format_func=lambda i: run_label(candidates[ids.index(i)]),
                          help=f"{len(ids)} of {len(everyone)} runs. Run ids: " + ", ".join(ids[:5])
                               + (" ..." if len(ids) > 5 else ""))
    st.query_params["run"] = chosen
    run = candidates[ids.index(chosen)]
    st.caption(f"Run id `{run.id}`")
    return run


def url_selectbox(container, label, options, param, key, format_func=str, **kwargs):
    """A selectbox (widget key `key`) whose choice lives in the URL as ?param=OPTION: the option itself, not
    its shown text (bind="query-params" writes the shown text); a reload or a copied link keeps it."""
    options = list(options)
    by_text = {str(o): o for o in options}
    wanted = st.query_params.get(param)
    if wanted in by_text and key not in st.session_state:
        st.session_state[key] = by_text[wanted]
    chosen = container.selectbox(label, options, key=key, format_func=format_func, **kwargs)
    if chosen is not None:
        st.query_params[param] = str(chosen)
    return chosen


def runs_section(task, key, show_results, what):
    """The bottom of Pretrain and Fine-tune: pick one of the page's runs and show it live."""
    st.subheader("Runs")
    run = pick_run(task, key=key)
    if run is None:
        st.info(f"No {what} run yet: start one above, or click Run the demo on the home page.")
    else:
        live_run(run, show_results)


def submit(config):
    """Submit a job; show the error on the page and return None when the config is refused."""
    try:
        return jobs.submit(config, runs_dir())
    except (ValueError, OSError) as e:
        st.error(f"Could not start the job: {e}")
        return None


@st.cache_data(max_entries=16, show_spinner=False)
def _plan(configs_json, folder, workers, stamp):
    return estimates.plan([JobConfig.from_dict(c) for c in json.loads(configs_json)], folder, workers)


def planned(configs, workers=1):
    """Say, before a Start button, how long these jobs would take here, `workers` of them at once (from earlier
    runs like them); the runs are read again only when a run's metrics changed (the form reruns the page on
    every widget)."""
    folder = runs_dir()
    stamp = _stamp(sorted(folder.glob("*/metrics.jsonl"))) if folder.is_dir() else ()
    seconds, found = _plan(json.dumps([c.to_dict() for c in configs]), str(folder), workers, stamp)
    st.caption(estimates.say_plan(seconds, found, workers, len(configs)))
    warning = estimates.slow_on_this_cpu(configs)
    if warning:
        st.warning(warning)


def start(configs):
    """Submit `configs` in order, say which runs started, and show the first at once below (runs_section);
    returns the runs started."""
    started = [run for run in map(submit, configs) if run]
    if started:
        st.query_params["run"] = started[0].id
        st.session_state[STARTED] = started[0].id
        st.success("Started " + ", ".join(f"**{run_label(r)}** (`{r.id}`)" for r in started))
    return started


def live_run(run, show_results):
    """Status, progress, learning curves and a cancel button, refreshed while the run is queued or running;
    `show_results(run)` draws the finished run's results."""
    active = run.state in ACTIVE

    @st.fragment(run_every=REFRESH_S if active else None)
    def panel():
        if active:
            jobs.refresh(runs_dir())  # drives the queue: marks dead jobs failed, starts the next queued run
        status = run.status()
        state = status["state"]
        if active and state not in ACTIVE:
            st.rerun(scope="app")  # finished since the page was drawn: redraw once without the timer
        message = status.get("message") or ""
        left = estimates.time_left(run) if state == "running" else None
        st.progress(float(status.get("progress") or 0.0),  # "queued · queued" says nothing twice
                    text=f"**{run_label(run)}** · **{state}**" + (f" · {message}" if message != state else "")
                    + (f" · {estimates.say_duration(left)} left at most (early stopping may end it sooner)"
                       if left else ""))
        if state in ACTIVE and st.button("Cancel run", key=f"cancel-{run.id}"):
            jobs.cancel(run)
            st.rerun(scope="app")
        if status.get("error"):
            st.error(f"Run {run.id} failed: {status['error']}")
        metrics = run.metrics()
        if metrics:
            st.plotly_chart(plots.learning_curves({run.id: metrics}), config=plots.png_config(f"{run.id}-curves"),
                            key=f"curves-{run.id}")
        elif state in ACTIVE:
            st.caption("The learning curves appear after the first epoch.")

    panel()
    if run.state == "done":
        try:
            show_results(run)
            skipped_warning(run)
        except ValueError as e:
            st.error(f"Cannot show the results of {run.id}: {e}")


def skipped_warning(run):
    """A warning when the source skipped bad records while reading the run's data set (summary.json counts
    them; log.txt lists them)."""
    skipped = (run.summary() or {}).get("skipped_records")
    if skipped:
        st.warning(f"{skipped} bad record(s) of the data set were skipped (unreadable file, bad fold, ...); "
                   "the run's log lists each with its reason.")


def regression_table(test):
    """MAE / RMSE / R^2 per target from a summary's test metrics, as rows for st.dataframe."""
    rows = []
    for target, unit in TARGETS.items():
        if f"mae_{target}" in test:
            rows.append({"target": say(target), "unit": unit, "MAE": test[f"mae_{target}"],
                         "RMSE": test.get(f"rmse_{target}"), "R²": test.get(f"r2_{target}")})
    return rows


UPLOAD = "uploaded_ecg"  # session_state: the last upload's files and CSV settings, in memory for the session


@st.cache_data(max_entries=4, show_spinner="Reading the record...")
def read_upload(files, fs, units):
    """ecgcore.data.upload.read_upload, cached on the files' bytes (in memory only, like the upload itself)."""
    from ecgcore.data.upload import read_upload as read

    return read(dict(files), fs=fs, units=units)


def uploaded_record(prefix):
    """The file widget for a user's ECG (WFDB pair, CSV or EDF) -> (UploadedRecord, key) or (None, None).

    The last good upload stays in this session's memory (never on disk), so Your ECG and Explain share it.
    `key` names the record's content, for caches. A file that cannot be read shows why.
    """
    from ecgcore.data.upload import FORMATS

    files = st.file_uploader(f"ECG record: {FORMATS}", type=["hea", "dat", "csv", "txt", "edf"],
                             accept_multiple_files=True, key=prefix + "files",
                             help="Read in memory: nothing is kept on disk beyond this session.")
    stored = st.session_state.get(UPLOAD)
    if files:
        stored = {"files": tuple(sorted((f.name, f.getvalue()) for f in files)), "fs": 500.0, "units": "mV",
                  **{k: v for k, v in (stored or {}).items() if k in ("fs", "units")}}
    elif stored:
        c1, c2 = st.columns([3, 1])
        c1.caption("Showing " + ", ".join(name for name, _ in stored["files"]) + ", uploaded earlier in this session.")
        if c2.button("Forget it", key=prefix + "forget"):
            st.session_state.pop(UPLOAD, None)
            st.rerun()
    if not stored:
        return None, None
    if any(name.lower().endswith((".csv", ".txt")) for name, _ in stored["files"]):
        c1, c2 = st.columns(2)
        stored["fs"] = float(c1.number_input("Sampling rate of the CSV (Hz)", 50.0, 10000.0, stored["fs"],
                                             step=50.0, key=prefix + "csv_fs"))
        stored["units"] = c2.selectbox("Values in", ["mV", "uV"], index=["mV", "uV"].index(stored["units"]),
                                       key=prefix + "csv_units", format_func={"mV": "mV", "uV": "µV"}.get)
    try:
        record = read_upload(stored["files"], stored["fs"], stored["units"])
    except ValueError as e:
        st.error(f"Cannot use this upload: {e}")
        return None, None
    st.session_state[UPLOAD] = stored
    digest = hashlib.sha256(repr((stored["fs"], stored["units"])).encode())
    for name, data in stored["files"]:
        digest.update(name.encode() + b"\0" + data)
    return record, digest.hexdigest()[:16]


def upload_notes(record):
    """What a teacher should know about an upload, in plain words: leads derived, missing, ignored, cut."""
    lines = []
    if record.missing:
        lines.append(f"Not in the file: {', '.join(record.missing)} (left blank on the paper; a run that "
                     "reads them cannot explain this record).")
    if record.derived:
        lines.append(f"Derived from the limb leads in the file (Einthoven, Goldberger): {', '.join(record.derived)}.")
    if record.ignored:
        lines.append(f"Channels that are not ECG leads, ignored: {', '.join(record.ignored)}.")
    return lines + list(record.notes)


def scale_warning(record):
    """What to say when an upload's values look z-scored rather than mV (None when they do not): its own leads,
    not those derived from them, are checked."""
    from ecgcore.data.preprocess import STANDARDISED_NOTE, looks_standardised

    own = [k for k, name in enumerate(record.lead_names) if name not in record.derived]
    if looks_standardised(record.signal[own]):
        return f"This record's {STANDARDISED_NOTE}. Its paper below is drawn in those units."
    return None
