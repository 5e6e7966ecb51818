"""Pretrain: regress HR, PR, QRS and QT on synthetic ECGs in a background job; watch it learn."""

import numpy as np
import streamlit as st

import dashboard as ui
from ecgcore import plots
from ecgcore.config import ARCHS, JobConfig
from ecgcore.data.sources import DEFAULT_PRETRAIN_DATA, parse_spec
from ecgcore.labels import RHYTHM_TARGETS, TARGETS
from ecgcore.words import say

st.set_page_config(page_title="Pretrain · ECG Transfer Lab", layout="wide")
st.title("Pretrain")
st.caption("Teach a 1D CNN to read HR, PR, QRS and QT off synthetic ECGs whose labels are exact.")

P = "pt_"  # widget key prefix: the Paper setup button writes these keys
ui.restore_form(P, "pretrain")  # a reload shows the settings of the run in the link
with st.container(border=True):
    with ui.paper_setup_columns(P):
        engines = {"synthetic": "parametric engine", "stream": "synthetic stream (fresh records every batch)",
                   "gan": "GAN (DeepFake ECG, measured labels)"}
        sources = [*engines, "spec"] + (["synthesize"] if "synth_dataset" in st.session_state else [])
        source = st.radio("Data set", sources, horizontal=True, key=P + "source", format_func=lambda s: {
            **engines, "spec": "data spec (JSON, folder or .npz)", "synthesize": "from the Synthesize page"}[s])
        data = None
        if source in engines:
            c1, c2, c3 = st.columns(3)
            n = c1.number_input("ECGs per epoch" if source == "stream" else "ECGs", 100, 200000,
                                step=100, key=ui.start_at(P + "n", DEFAULT_PRETRAIN_DATA["n"]))
            fs = c2.selectbox("Sampling rate (Hz)", [100, 250, 500], key=P + "fs")
            data_seed = c3.number_input("Data seed", 0, 10**6,
                                        key=ui.start_at(P + "data_seed", DEFAULT_PRETRAIN_DATA["seed"]))
            data = {"source": source, "n": int(n), "fs": int(fs), "seed": int(data_seed)}
            if source == "stream":
                data = {**data, "source": "synthetic", "stream": True}
            if source != "gan" and st.toggle("Rhythms too", key=P + "rhythms",
                                             help="Records of every rhythm the engine draws (atrial fibrillation, "
                                                  "flutter, AV blocks, ectopic beats, ...), a balanced set; the "
                                                  "rhythm targets (R-R irregularity, atrial rate, conduction, beat "
                                                  "counts) become available."):
                data["rhythms"] = "all"
        elif source == "spec":
            text = st.text_input("Data spec", key=P + "spec", help="Inline JSON such as {\"source\": \"measured\", "
                                 "\"path\": \"/data/ptb-xl\"}, a spec .json file, or a data set folder or .npz "
                                 "(what the command line takes as --data).")
            try:
                data = parse_spec(text) if text else None
            except (ValueError, FileNotFoundError) as e:
                st.error(str(e))
        else:
            data = st.session_state["synth_dataset"]
            st.write(f"Synthetic data set: {data['n']} ECGs at {data['fs']} Hz, seed {data['seed']}.")
        offered = {**TARGETS, **(RHYTHM_TARGETS if data and data.get("rhythms") else {})}
        targets = st.multiselect("Targets", list(offered), key=ui.start_at(P + "targets", list(TARGETS)),
                                 format_func=lambda t: say(t, offered[t]))
        one_per_target = st.checkbox("One run per target (the paper's way) instead of one multi-task run",
                                     key=P + "one_per_target")
        c1, c2, c3, c4 = st.columns(4)
        arch = c1.selectbox("Architecture", ARCHS, key=P + "arch")
        epochs = c2.number_input("Epochs", 1, 500, key=ui.start_at(P + "epochs", 10))
        seed = c3.number_input("Seed", 0, 10**6, key=ui.start_at(P + "seed", 0))
        leads_col = c4
        with st.expander("Optimisation and preprocessing"):
            c1, c2, c3, c4 = st.columns(4)
            lr, lr_decay, patience = ui.optimisation_inputs(P, c1, c2, c3)
            batch_size = c4.number_input("Batch size", 1, 1024, key=ui.start_at(P + "batch_size", 64))
            preprocess = ui.preprocess_inputs(P, leads_col, c1)
            device = ui.device_input(c2, P)

    base = JobConfig(task="pretrain", data=data, arch=arch, targets=targets, epochs=int(epochs),
                     batch_size=int(batch_size), lr=lr, lr_decay=lr_decay, patience=patience,
                     seed=int(seed), device=device, preprocess=preprocess)
    configs = [JobConfig.from_dict({**base.to_dict(), "targets": [t], "name": t}) for t in targets] \
        if one_per_target else [base]
    if data is not None:
        ui.planned(configs)
    if st.button("Start pretraining", type="primary", key=P + "start", disabled=data is None):
        ui.start(configs)


def results(run):
    summary = run.summary() or {}
    st.subheader("Test results")
    st.dataframe(ui.regression_table(summary.get("test", {})), hide_index=True)
    pred = run.predictions()
    names = [t for t in run.outputs().names if pred and f"y_true_{t}" in pred]
    if names:
        fig = plots.pred_vs_true(np.stack([pred[f"y_true_{t}"] for t in names], 1),
                                 np.stack([pred[f"y_pred_{t}"] for t in names], 1), names,
                                 {**TARGETS, **RHYTHM_TARGETS})
        st.plotly_chart(fig, config=plots.png_config(f"{run.id}-pred-vs-true"), key="pred-vs-true")
    for note in summary.get("notes", []):
        st.caption(note)


ui.runs_section("pretrain", P + "show", results, "pretraining")
