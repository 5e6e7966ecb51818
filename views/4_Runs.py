"""Runs: every run with status, config and headline metrics; filter, compare, delete, download."""

import json
from datetime import datetime
from pathlib import Path

import pandas as pd
import streamlit as st

import dashboard as ui
from ecgcore import executors, plots, run_index, runs
from ecgcore.labels import TARGETS
from ecgcore.metrics import HEADLINE as CLASSIFICATION_HEADLINE
from ecgcore.words import NAMES, config_name, metric_name, say

st.set_page_config(page_title="Runs · ECG Transfer Lab", layout="wide")
st.title("Runs")
executor = executors.describe()  # which executor runs the jobs, with its cluster's CPUs, GPUs and nodes
(st.warning if executor["error"] else st.caption)(executor["text"])

HEADLINE = (*CLASSIFICATION_HEADLINE, *(f"mae_{t}" for t in TARGETS))  # the CLI's headline, MAE per target
NAN = float("nan")
# Short column heads for the headline metrics, so the table fits; the full words are in each column's help.
SHORT = {"accuracy": "accuracy", "macro_f1": "macro F1", "macro_auroc": "AUROC", "macro_auroc_lo": "AUROC low",
         "macro_auroc_hi": "AUROC high",
         **{f"mae_{t}": f"MAE {t.upper()}" for t in TARGETS}}


def row(run):
    """One table row: id, state, the config fields people filter on, headline test metrics."""
    status = run.listed
    out = {"run": run.id, "state": status["state"], "progress": float(status.get("progress") or 0.0)}
    problem = run.problem
    if problem:
        return {**out, "problem": problem}
    cfg = run.config
    out.update(name=cfg.name, started=datetime.fromtimestamp(run.created()).replace(microsecond=0),
               task=cfg.task, arch=cfg.arch, source=cfg.data.get("source", "default"),
               strategy=say(cfg.strategy) if cfg.task == "finetune" else "",
               fraction=cfg.fraction if cfg.task == "finetune" else NAN,  # a pretraining uses every record
               seed=cfg.seed)
    test = (run.summary() or {}).get("test", {}) if status["state"] == "done" else {}
    # a metric a run has not (yet) got is blank, not "None"
    out.update({k: test[k] if isinstance(test.get(k), (int, float)) else NAN for k in HEADLINE})
    return out


def flat_config(run):
    """The run's config as {field in words: value as people read it}, for a side-by-side diff: codes in words
    ("freeze first block"), pretrained runs by their names, not folder paths."""
    out = {}
    for key, value in pd.json_normalize(run.config.to_dict()).iloc[0].items():
        if key == "pretrained":
            value = " + ".join(pretrained_title(p) for p in value) or "none"
        elif isinstance(value, (list, dict)):
            value = json.dumps(value)
        elif isinstance(value, str) and value in NAMES and key != "name":
            value = say(value)
        out[config_name(key)] = value
    return out


def pretrained_title(path):
    try:
        return ui.run_label(runs.resolve_run(path))
    except (ValueError, OSError):  # deleted since: its folder name is all there is
        return Path(path).name


try:
    all_runs = run_index.indexed_runs(ui.runs_dir())
except OSError as e:
    st.error(f"Cannot read the runs folder {ui.runs_dir()}: {e}")
    st.stop()
if not all_runs:
    st.info(f"No runs yet in `{ui.runs_dir()}`. Start one on Pretrain or Fine-tune, or Run the demo on the home page.")
    st.stop()

def filtered(table, text, states, tasks):
    if text:
        hay = table["run"] + " " + table.get("name", pd.Series("", index=table.index)).fillna("")
        table = table[hay.str.contains(text, case=False, regex=False)]
    if states:
        table = table[table["state"].isin(states)]
    if tasks and "task" in table:
        table = table[table["task"].isin(tasks)]
    return table


def runs_table(run_list):
    return pd.DataFrame([row(r) for r in run_list]).iloc[::-1].dropna(axis=1, how="all")


c1, c2, c3 = st.columns([2, 1, 1])
text = c1.text_input("Filter (run id or name contains)", key="runs_filter")
states = c2.multiselect("State", runs.STATES, key="runs_states")
tasks = c3.multiselect("Task", ["pretrain", "finetune"], key="runs_tasks")
shown = filtered(runs_table(all_runs), text, states, tasks)


@st.fragment(run_every=ui.REFRESH_S if any(r.state in ui.ACTIVE for r in all_runs) else None)
def live_table():
    """The table, redrawn every few seconds while a run is queued or running (states and progress move)."""
    st.dataframe(filtered(runs_table(all_runs), text, states, tasks), hide_index=True, column_config={
        "run": st.column_config.TextColumn("run id", width="small", help="Hover a cell for the whole id"),
        "progress": st.column_config.ProgressColumn("progress", min_value=0.0, max_value=1.0, width="small"),
        "started": st.column_config.DatetimeColumn("started", format="HH:mm D MMM"),
        "fraction": st.column_config.NumberColumn("fraction", format="percent", width="small"),
        **{k: st.column_config.NumberColumn(SHORT[k], help=metric_name(k, TARGETS) + " on the test split",
                                            format="%.3f", width="small") for k in HEADLINE}})
    st.caption("The table scrolls sideways: the test metrics are its last columns.")


live_table()

by_id = {r.id: r for r in all_runs}
selected = st.multiselect("Select runs (two or more to compare)", list(shown["run"]), key="runs_selected",
                          format_func=lambda i: ui.run_label(by_id[i]),
                          help="Runs by name and start time; their ids are in the table's first column.")
chosen = [by_id[i] for i in selected]

if len(chosen) >= 2:
    st.subheader("Compare")
    healthy = [r for r in chosen if r.problem is None]
    titles = [ui.run_label(r) for r in healthy]
    columns = [t if titles.count(t) == 1 else f"{t} ({r.id})" for t, r in zip(titles, healthy)]
    configs = pd.DataFrame({column: flat_config(r) for column, r in zip(columns, healthy)})
    differing = configs[configs.astype(str).nunique(axis=1) > 1]
    st.markdown("**Config differences**" if len(differing) else "The configs are identical.")
    if len(differing):
        st.dataframe(differing.astype(str))
    per_run = {r: r.metrics() for r in healthy}  # each metrics.jsonl read once
    curves = {ui.run_label(r): m for r, m in per_run.items() if m}
    if curves:
        st.plotly_chart(plots.learning_curves(curves), config=plots.png_config("compare-curves"), key="compare")
        # every chosen run's per-epoch metrics in one file, a "run" column saying whose each line is
        together = pd.concat([pd.DataFrame(m).assign(run=r.id) for r, m in per_run.items() if m])
        st.download_button("Metrics of these runs (CSV)", together.to_csv(index=False), "runs-metrics.csv",
                           mime="text/csv", key="dl_csv_many")

if len(chosen) == 1:
    run = chosen[0]
    st.subheader(ui.run_label(run))
    st.caption(f"Run id `{run.id}`")
    status = run.status()
    if status.get("error"):
        st.error(status["error"])
    if run.problem is None and status["state"] == "done":
        ui.skipped_warning(run)
    metrics = run.metrics()
    if metrics:
        fig = plots.learning_curves({run.id: metrics})
        st.plotly_chart(fig, config=plots.png_config(f"{run.id}-curves"), key="single-curves")
    c1, c2, c3 = st.columns(3)
    if metrics:
        c1.download_button("Metrics (CSV)", pd.DataFrame(metrics).to_csv(index=False), f"{run.id}-metrics.csv",
                           mime="text/csv", key="dl_csv")
    model = run.model_path
    if model.is_file():
        c2.download_button("Checkpoint (model.pt)", model.read_bytes(), f"{run.id}-model.pt", key="dl_model")
    if metrics and c3.button("Render curves as PNG", key="png",
                             help="Kaleido with the local Chromium; every chart also has a camera icon."):
        try:
            st.session_state["png_export"] = (run.id, plots.to_png([fig])[0])
        except Exception as e:  # kaleido reports a missing browser with its own exception types
            st.error(f"PNG export failed ({type(e).__name__}: {e}); use the camera icon on the chart instead.")
    if st.session_state.get("png_export", (None,))[0] == run.id:
        c3.download_button("Learning curves (PNG)", st.session_state["png_export"][1], f"{run.id}-curves.png",
                           mime="image/png", key="dl_png")
    with st.expander("Config and log"):
        st.code(run.config_path.read_text() if run.problem is None else run.problem, language="json")
        st.code(run.log_tail() or "(no log yet)")

def delete_pending():
    """on_click of "Yes, delete": runs before the rerun, so it may clear the selection widget."""
    errors = []
    for run_id in st.session_state.pop("confirm_delete", []):
        try:
            runs.delete_run(runs.get_run(ui.runs_dir(), run_id))
        except (ValueError, OSError) as e:
            errors.append(f"Could not delete {run_id}: {e}")
    st.session_state["delete_errors"] = errors
    st.session_state["runs_selected"] = []


for message in st.session_state.pop("delete_errors", []):
    st.error(message)
if chosen:
    if st.button(f"Delete {len(chosen)} run(s)", key="delete"):
        st.session_state["confirm_delete"] = [r.id for r in chosen]
    pending = st.session_state.get("confirm_delete")
    if pending:
        st.warning(f"Delete {', '.join(pending)} for good? Their checkpoints and metrics are lost.")
        yes, no = st.columns(2)
        yes.button("Yes, delete", type="primary", key="delete_yes", on_click=delete_pending)
        no.button("Cancel", key="delete_no", on_click=st.session_state.pop, args=("confirm_delete", None))
