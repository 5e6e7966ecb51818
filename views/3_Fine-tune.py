"""Fine-tune: diagnose five classes (or tell rhythms apart) from a pretrained regressor (or from scratch) in a
background job."""

import streamlit as st

import dashboard as ui
from ecgcore import plots, run_index
from ecgcore.config import ARCHS, FRACTIONS, LABEL_MODES, STRATEGIES, JobConfig
from ecgcore.data import download
from ecgcore.data.sources import DEFAULT_FINETUNE_DATA
from ecgcore.labels import PTBXL_RATES
from ecgcore.synth.params import RHYTHMS
from ecgcore.synth.rhythms import CRITERIA as RHYTHM_CRITERIA
from ecgcore.words import say

st.set_page_config(page_title="Fine-tune · ECG Transfer Lab", layout="wide")
st.title("Fine-tune")
st.caption("Reuse a pretrained regressor to diagnose NORM, MI, STTC, CD and HYP (or to tell rhythms apart), and "
           "compare it with scratch.")

P = "ft_"
SCRATCH = "none (train from scratch)"
SOURCES = ("simulated superclasses", "simulated rhythms", "PTB-XL folder")
# PTB-XL's label sets (the spec's "statements"), in words
STATEMENT_SETS = {"diagnostic": "diagnostic superclasses", "rhythm": "rhythm statements (SR, AFIB, STACH, ...)"}


@st.cache_data(ttl=60, show_spinner=False)
def class_balance(path, label_mode, statements):
    """ptbxl.class_balance, read once a minute (the form reruns the page on every widget)."""
    from ecgcore.data.ptbxl import class_balance as balance

    return balance(path, label_mode, statements)


def balance_panel(path, label_mode, statements):
    """Records per class and per fold of the folder for the chosen label mode, before anything trains."""
    try:
        table, absent = class_balance(str(path), label_mode, statements)
    except ValueError as e:
        st.warning(str(e))
        return
    st.markdown(f"**Class balance**, {say(label_mode)}: records per fold, from the folder's tables"
                + (" (a record counts once per class it has)" if label_mode == "multi" else
                   " (only records with exactly one class)"))
    st.dataframe(table.T, key=P + "balance")
    if absent:
        st.warning(f"No record of {', '.join(absent)} in this folder for {label_mode}-label training: the "
                   "model never sees these classes and the metrics cover only the classes present.")


def use_folder(path):
    st.session_state[P + "path"] = path  # on_click: the folder input is already drawn in this run


def download_panel(dest, was_running):
    """Progress of the download into `dest`, then its outcome (refreshed by the fragment while it runs)."""
    status = download.download_status(dest)
    if status is None:
        return
    state = status["state"]
    if was_running and state != "running":
        st.rerun(scope="app")  # finished since the page was drawn: redraw once without the timer
    if state == "running":
        done, total = status.get("done") or 0, status.get("total")
        st.progress(done / total if total else 0.0,
                    text=f"downloading: {done}/{total} records" if total else "downloading the record list")
    elif state == "failed":
        st.error(f"The download into {dest} failed: {status['error']}")
    else:
        report = status["report"]
        st.success(f"PTB-XL at {report['fs']} Hz in {report['dest']}: {report['records']} records checked "
                   f"({report['fetched']} fetched, {report['already_complete']} already complete).")
        if report["problem_count"]:
            st.warning(f"{report['problem_count']} record(s) failed the check (Start/Resume retries them; "
                       f"loading skips them): " + "; ".join(f"{p['record']}: {p['reason']}"
                                                         for p in report["problems"]))
        st.button("Use this folder as the PTB-XL folder", key=P + "dl_use", on_click=use_folder,
                  args=(report["dest"],))


def get_ptbxl():
    st.caption("PTB-XL 1.0.3 from PhysioNet (21,799 ECGs): about 0.5 GB at 100 Hz, 2.6 GB at 500 Hz; it runs in "
               "the background, survives closing this page, and is resumable: Start/Resume fetches only the "
               "records that are missing or damaged, then checks every record.")
    c1, c2 = st.columns([3, 1])
    dest = c1.text_input("Destination folder", "data/ptb-xl", key=P + "dl_dest")
    rate = c2.selectbox("Rate (Hz)", list(PTBXL_RATES), key=P + "dl_fs")
    if not dest:
        return
    try:
        if st.button("Start / Resume download", key=P + "dl_start"):
            download.start_download(dest, fs=rate)
        running = (download.download_status(dest) or {}).get("state") == "running"
    except (ValueError, OSError) as e:
        st.error(f"Cannot download into {dest}: {e}")
        return
    # only a running download needs the timer; outside a fragment, Use this folder reruns the whole page
    (st.fragment(download_panel, run_every=ui.REFRESH_S) if running else download_panel)(dest, running)


ui.restore_form(P, "finetune")  # a reload shows the settings of the run in the link
with st.container(border=True):
    with ui.paper_setup_columns(P):
        source = st.radio("Data set", SOURCES, horizontal=True, key=P + "source",
                          help="Simulated superclasses: the engine's NORM, MI, STTC, CD and HYP. Simulated rhythms: "
                               "the engine's rhythms, a balanced set labelled by rhythm. PTB-XL: real ECGs.")
        c1, c2, c3 = st.columns(3)
        fs = c2.selectbox("Sampling rate (Hz)", list(PTBXL_RATES), key=P + "fs")
        if source != "PTB-XL folder":
            n = c1.number_input("ECGs", 100, 50000, step=100, key=ui.start_at(P + "n", DEFAULT_FINETUNE_DATA["n"]))
            data_seed = c3.number_input("Data seed", 0, 10**6,
                                        key=ui.start_at(P + "data_seed", DEFAULT_FINETUNE_DATA["seed"]))
            data = {**DEFAULT_FINETUNE_DATA, "n": int(n), "fs": int(fs), "seed": int(data_seed)}
            if source == "simulated rhythms":
                chosen = st.multiselect("Rhythms to tell apart", RHYTHMS, key=ui.start_at(P + "rhythms", list(RHYTHMS)),
                                        format_func=lambda r: RHYTHM_CRITERIA[r][0])
                data = {key: v for key, v in data.items() if key != "classes"}
                data["rhythms"] = chosen or list(RHYTHMS)
                if not chosen:
                    st.caption("No rhythm chosen: every rhythm is drawn.")
        else:
            path = c1.text_input("PTB-XL folder", key=P + "path", placeholder="/data/ptb-xl")
            statements = c3.radio("Classes", list(STATEMENT_SETS), key=P + "statements", format_func=STATEMENT_SETS.get,
                                  help="The diagnostic superclasses, or PTB-XL's rhythm statements when the folder's "
                                       "records carry them.")
            f1, f2, f3 = st.columns(3)
            val_fold, test_fold = ui.fold_inputs(P, f1, f2)
            data = {"source": "ptbxl", "path": path, "fs": int(fs), "val_fold": val_fold, "test_fold": test_fold,
                    **({"statements": statements} if statements != "diagnostic" else {})}
            problem, held_out = ui.held_out_folds(path, val_fold, test_fold) if path else (
                "give the folder that holds ptbxl_database.csv", "")
            if held_out:
                f3.caption(held_out)
            if problem:
                st.warning(problem)
            with st.expander("Get PTB-XL"):
                get_ptbxl()
        modes = ("single",) if source == "simulated rhythms" else LABEL_MODES  # one rhythm per simulated record
        label_mode = st.radio("Label mode", modes, horizontal=True, key=P + "label_mode", format_func=say)
        if source == "PTB-XL folder" and path and not problem:
            balance_panel(path, label_mode, statements)
        pretrained_runs = ui.runs_of("pretrain", states=("done",))
        by_id = {r.id: r for r in pretrained_runs}
        choice = st.selectbox("Pretrained run", [SCRATCH, *by_id], key=P + "pretrained",
                              format_func=lambda i: i if i == SCRATCH else ui.run_label(by_id[i]))
        c1, c2, c3, c4 = st.columns(4)
        if choice == SCRATCH:
            strategy = "scratch"
            arch = c1.selectbox("Architecture", ARCHS, key=P + "arch")
            pretrained = []
        else:
            strategy = c1.selectbox("Strategy", [s for s in STRATEGIES if s != "scratch"], key=P + "strategy",
                                    format_func=say)
            pretrained_run = by_id[choice]
            pretrained = [str(pretrained_run.path)]
            if strategy == "combined":
                extra = st.multiselect("Further pretrained runs to combine (one per target)",
                                       [i for i in by_id if i != choice], key=P + "combined",
                                       format_func=lambda i: ui.run_label(by_id[i]))
                pretrained += [str(by_id[i].path) for i in extra]
            arch = pretrained_run.config.arch
            c1.caption(f"Architecture and preprocessing follow the pretrained run: `{arch}`.")
        fraction = c2.select_slider("Labelled fraction", list(FRACTIONS), key=ui.start_at(P + "fraction", 1.0),
                                    format_func=lambda f: f"{f:.0%}")
        epochs = c3.number_input("Epochs", 1, 500, key=ui.start_at(P + "epochs", 10))
        seed = c4.number_input("Seed", 0, 10**6, key=ui.start_at(P + "seed", 0))
        with st.expander("Optimisation"):
            c1, c2, c3, c4 = st.columns(4)
            lr, lr_decay, patience = ui.optimisation_inputs(P, c1, c2, c3)
            device = ui.device_input(c4, P)
            if not pretrained:  # a transfer run keeps its pretrained run's preprocessing
                preprocess = ui.preprocess_inputs(P, c1, c2)
        twin = st.checkbox("Also train the scratch twin (same data, seed and fraction)", value=True,
                           key=P + "twin", disabled=strategy == "scratch")

    config = JobConfig(task="finetune", data=data, arch=arch, label_mode=label_mode, strategy=strategy,
                       pretrained=pretrained, fraction=float(fraction), epochs=int(epochs), lr=lr,
                       lr_decay=lr_decay, patience=patience, seed=int(seed), device=device,
                       preprocess=by_id[choice].config.preprocess if pretrained else preprocess)
    configs = [config]
    if twin and strategy != "scratch":
        configs.append(JobConfig.from_dict({**config.to_dict(), "strategy": "scratch", "pretrained": []}))
    ui.planned(configs)
    if st.button("Start fine-tuning", type="primary", key=P + "start"):
        ui.start(configs)  # shows the transfer run (the first), not its twin


def classification_results(run):
    summary = run.summary() or {}
    test = summary.get("test", {})
    names = list(run.outputs().names)
    st.markdown(f"**{ui.run_label(run)}** · strategy: {say(run.config.strategy)}")
    st.dataframe([{say(k): test.get(k) for k in ("accuracy", "macro_f1", "macro_auroc", "n")}], hide_index=True)
    if test.get("per_class"):
        st.dataframe([{say(k): v for k, v in {"class": c, **test["per_class"][c]}.items()}
                      for c in names if c in test["per_class"]], hide_index=True)
    if run.config.label_mode == "single" and test.get("confusion_matrix"):
        st.plotly_chart(plots.confusion(test["confusion_matrix"], names),
                        config=plots.png_config(f"{run.id}-confusion"), key=f"confusion-{run.id}")
    pred = run.predictions()
    if pred and len(pred.get("y_score", [])):
        st.plotly_chart(plots.roc_curves(pred["y_true"], pred["y_score"], names),
                        config=plots.png_config(f"{run.id}-roc"), key=f"roc-{run.id}")
    if test.get("classes_absent"):
        st.caption(f"Absent from the test split: {', '.join(test['classes_absent'])}.")
    if summary.get("classes_unseen_in_training"):
        st.caption(f"No training record of {', '.join(summary['classes_unseen_in_training'])}: the model never "
                   "learnt these classes, so it never predicts them (their score is 0).")


def results(run):
    st.subheader("Test results")
    twin = run_index.scratch_twin(run) if run.config.strategy != "scratch" else None
    if twin is None:
        classification_results(run)
        return
    left, right = st.columns(2)
    with left:
        classification_results(run)
    with right:
        classification_results(twin)


ui.runs_section("finetune", P + "show", results, "fine-tuning")
