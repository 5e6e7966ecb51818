"""Measured labels: pretrain on real ECGs whose targets neurokit2 measured, and see how far such measurements err."""

from pathlib import Path

import pandas as pd
import streamlit as st

import dashboard as ui
from ecgcore.config import ARCHS, JobConfig
from ecgcore.data import measure
from ecgcore.data.measured import measurement_error
from ecgcore.labels import PTBXL_RATES
from ecgcore.leads import LEADS
from ecgcore.words import say

st.set_page_config(page_title="Measured labels · ECG Transfer Lab", layout="wide")
st.title("Measured labels")
st.caption("Pretrain on real ECGs (a PTB-XL folder) whose HR, PR, QRS, QT and median-beat morphology were "
           "measured by neurokit2: no diagnostic label is used, and only the training folds are read.")

P = "ml_"
with st.container(border=True):
    folder = st.text_input("PTB-XL folder", key=P + "folder", placeholder="/path/to/ptbxl")
    c1, c2, c3, c4 = st.columns(4)
    fs = c1.selectbox("Sampling rate served (Hz)", list(PTBXL_RATES), key=P + "fs")
    val_fold, test_fold = ui.fold_inputs(P, c2, c3, suffix=" (never read)")
    ratio = c4.slider("Share of real records (the rest synthetic)", 0.1, 1.0, 1.0, 0.1, key=P + "ratio")
    morphology = st.checkbox("Also regress morphology (R, S, ST, T per lead and the QRS axis)", value=True,
                             key=P + "morphology")
    c1, c2, c3 = st.columns(3)
    arch = c1.selectbox("Architecture", ARCHS, key=P + "arch")
    epochs = c2.number_input("Epochs", 1, 500, 20, key=P + "epochs")
    seed = c3.number_input("Seed", 0, 10**6, 0, key=P + "seed")
    st.caption("Intervals are measured at the highest rate the folder holds (records500/ when present); a failed "
               "or implausible measurement is left out of the loss and counted. The job measures the folder "
               "the first time (about 40 ms per record), then reuses the cached targets.")

    if st.button("Start pretraining", type="primary", key=P + "start"):
        root = Path(folder).expanduser()
        if problem := ui.held_out_folds(root, val_fold, test_fold)[0]:  # also: not a PTB-XL folder
            st.error(problem)
        else:
            real = {"path": str(root.resolve()), "fs": int(fs), "val_fold": val_fold,
                    "test_fold": test_fold, "morphology": morphology}
            data = {"source": "measured", **real} if ratio == 1 else {
                "source": "mixed", "real": real, "synthetic": {"n": 2000, "seed": int(seed)}, "ratio": float(ratio)}
            targets = list(measure.INTERVAL_TARGETS) + (measure.morphology_targets(LEADS) if morphology else [])
            run = ui.submit(JobConfig(task="pretrain", data=data, targets=targets, arch=arch, epochs=int(epochs),
                                      seed=int(seed), name="measured labels"))
            if run:
                st.success(f"Started `{run.id}`: follow it on the Pretrain or Runs page.")


@st.cache_data(show_spinner="Measuring synthetic records...")
def errors(n, fs):
    rows = []
    for noise in (False, True):
        for target, e in measurement_error(n=n, fs=fs, noise=noise).items():
            rows.append({"Measured": say(target), "Unit": measure.target_unit(target),
                         "Noise": "default noise" if noise else "noise-free", "Median |error|": e["median"],
                         "90th percentile |error|": e["p90"], "Not measurable (dropped)": e["dropped"]})
    return pd.DataFrame(rows)


with st.expander("How accurate are the measured labels? (against the parametric engine's exact labels)"):
    c1, c2 = st.columns(2)
    n = c1.number_input("Synthetic records", 20, 1000, 100, key=P + "err_n")
    err_fs = c2.selectbox("Sampling rate (Hz)", [500, 100], key=P + "err_fs")
    if st.button("Measure", key=P + "measure"):
        st.dataframe(errors(int(n), int(err_fs)), hide_index=True)
    st.caption("The engine's waves start and end exactly at its labelled fiducials; neurokit2 places onsets "
               "where a wave rises clearly, so part of the error is a steady offset that a network can learn.")
