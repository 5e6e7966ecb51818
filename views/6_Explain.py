"""Explain: what a trained model looks at on one ECG, as a colour overlay per lead and a share per wave."""

import json

import pandas as pd
import streamlit as st

import dashboard as ui
from ecgcore import explain as ex
from ecgcore import plots
from ecgcore.labels import PTBXL_RATES, TARGETS
from ecgcore.synth import PRESETS
from ecgcore.words import say

st.set_page_config(page_title="Explain · ECG Transfer Lab", layout="wide")
st.title("Explain")
st.caption("Attributions (Captum) of one output of a trained run on one record. Per-wave shares use the engine's "
           "exact wave boundaries for synthetic records and neurokit2's delineation (lead II) for real ones.")

P = "ex_"
METHOD_NAMES = {"integrated_gradients": "Integrated Gradients", "saliency": "Saliency (|gradient|)",
                "gradcam": "Grad-CAM (last conv block)", "occlusion": "Occlusion"}
NORMAL = "normal ranges"


@st.cache_data(max_entries=32, show_spinner="Computing attributions...")
def explanation(run_dir, model_mtime, record_json, method, target, _record=None):
    """Cached per run (and its model file's time), record, method and target; an uploaded `_record` is named
    in `record_json` by its content's key."""
    record = ex.load_record(json.loads(record_json)) if _record is None else _record
    return ex.explain_run(run_dir, record, method, target)


URL = "query-params"  # the record's choices live in the URL (keys are the URL names), so a link reopens them


def record_spec():
    source = st.radio("Record", ["synthetic", "data set", "uploaded"], horizontal=True, key=P + "source", bind=URL)
    if source == "uploaded":  # the file widget and its memory are shared with the Your ECG page
        uploaded, key = ui.uploaded_record(P)
        return None if uploaded is None else {"upload": key, "uploaded": uploaded}
    c1, c2, c3 = st.columns(3)
    if source == "synthetic":
        preset = c1.selectbox("Preset", [NORMAL, *PRESETS], key=P + "preset", bind=URL)
        seed = c2.number_input("Seed", 0, 10**6, 0, key=P + "seed", bind=URL)
        fs = c3.selectbox("Sampling rate (Hz)", list(PTBXL_RATES), key=P + "fs", bind=URL)
        spec = {"source": "synthetic", "seed": int(seed), "fs": fs}
        return {**spec, "preset": preset} if preset != NORMAL else spec
    path = c1.text_input("PTB-XL folder or data set .npz", key=P + "path", placeholder="/data/ptb-xl", bind=URL)
    index = c2.number_input("Record index", 0, 10**7, 0, key=P + "index", bind=URL)
    if not path:
        return None
    data = ({"source": "npz", "path": path} if path.endswith(".npz") else {"source": "ptbxl", "path": path, "fs": 100})
    return {"data": data, "index": int(index)}


def show(run, spec, method, target, column, key):
    """Compute and draw one run's explanation in `column`; return its shares (None when unavailable)."""
    uploaded, record = spec.get("uploaded"), None
    try:
        if uploaded is not None:  # a missing lead is said plainly before anything is computed
            uploaded.needs(run.config.preprocess.leads)
            record = ex.Record(uploaded.signal, uploaded.fs, uploaded.lead_names, description=uploaded.name)
        result = explanation(str(run.path), run.model_path.stat().st_mtime,
                             json.dumps({k: v for k, v in spec.items() if k != "uploaded"}), method, target, record)
    except (ValueError, FileNotFoundError, OSError) as e:
        column.error(f"Cannot explain {run.id}: {e}")
        return None
    regression = run.outputs().regression
    unit = f" {TARGETS.get(result.output_name, '')}" if regression else ""
    column.markdown(f"**{ui.run_label(run)}** · output **{say(result.output_name)}** = {result.output:.3g}{unit}"
                    + ("" if regression else " (probability)"))
    fig = plots.attribution_figure(result.signal, result.attributions, result.fs, result.lead_names, result.labels,
                             title=METHOD_NAMES[method])
    column.plotly_chart(fig, config=plots.png_config(f"explain-{run.id}"), key=f"{key}-fig")
    if result.note:
        column.warning(result.note)
    if result.shares:
        # percents with one decimal each (6.2%, 6.7%), not as many as each number happens to need
        column.dataframe(pd.DataFrame([{"wave": w, "share of |attribution|": 100 * s["share"],
                                        "share of time": 100 * s["time"]} for w, s in result.shares.items()]),
                         hide_index=True, key=f"{key}-shares",
                         column_config={c: st.column_config.NumberColumn(format="%.1f%%")
                                        for c in ("share of |attribution|", "share of time")})
    return result.shares


# every finished run, newest first whatever its task
done = sorted((r for task in ("pretrain", "finetune") for r in ui.runs_of(task, states=("done",))),
              key=lambda r: (r.created(), r.id), reverse=True)
if not done:
    st.info("No finished run yet. Pretrain or fine-tune one first (or Run the demo on the home page).")
    st.stop()
with st.container(border=True):
    shown, cells = ui.narrowed(done, P + "run", st.query_params.get("run"))
    if not shown:
        st.info("No finished run matches the study and filter chosen.")
        st.stop()
    by_id = {r.id: r for r in shown}
    if st.session_state.get(P + "run") not in by_id:
        st.session_state.pop(P + "run", None)
        if st.query_params.get("run") not in by_id:  # open on a trained model, not on a random-init control
            st.session_state[P + "run"] = next((i for i in by_id if not cells.get(i, {}).get("control")
                                                and by_id[i].config.init != "random"), next(iter(by_id)))
    c1, c2, c3 = st.columns([2, 1, 1])
    run_id = ui.url_selectbox(c1, "Run", by_id, "run", P + "run", format_func=lambda i: ui.run_label(by_id[i]),
                              help=f"Finished runs, newest first ({len(by_id)} of {len(done)}).")
    run = by_id[run_id]
    method = ui.url_selectbox(c2, "Method", ex.METHODS, "method", P + "method", format_func=METHOD_NAMES.get)
    produced = run.outputs()
    outputs = list(produced.names) if produced.regression else ["predicted class", *produced.names]
    choice = ui.url_selectbox(c3, "Output", outputs, "output", P + "target", format_func=say)
    target = None if choice == "predicted class" else choice
    spec = record_spec()
    every = {r.id: r for r in done}  # side by side with any finished run of the task, whatever the filter
    others = [i for i in every if i != run_id and every[i].config.task == run.config.task]
    other_id = ui.url_selectbox(st, "Side by side with (e.g. the scratch twin)", ["none", *others], "other",
                                P + "other", format_func=lambda i: i if i == "none" else ui.run_label(every[i]))

if spec is None:
    st.info("Upload a record (WFDB, CSV or EDF) to explain it." if st.session_state.get(P + "source") == "uploaded"
            else "Give a PTB-XL folder or a data set .npz to pick a real record.")
    st.stop()
if other_id == "none":
    show(run, spec, method, target, st, "one")
else:
    left, right = st.columns(2)
    names = [ui.run_label(run), ui.run_label(every[other_id])]  # the legend names runs as people do
    if names[0] == names[1]:
        names = [f"{name} ({rid})" for name, rid in zip(names, (run_id, other_id))]
    shares = {names[0]: show(run, spec, method, target, left, "left"),
              names[1]: show(every[other_id], spec, method, target, right, "right")}
    shares = {k: v for k, v in shares.items() if v}
    if len(shares) == 2:
        st.subheader("Per-wave shares, side by side")
        st.plotly_chart(plots.wave_shares_figure(shares), key="shares-compare")
