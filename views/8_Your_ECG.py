"""Your ECG: a record the user uploads (WFDB, CSV or EDF) on ECG paper with neurokit2's wave marks and its
measured HR, PR, QRS and QT, beside a synthetic ECG with the same intervals."""

import numpy as np
import streamlit as st

import dashboard as ui
from ecgcore import plots
from ecgcore.data import measure, upload
from ecgcore.words import say

st.set_page_config(page_title="Your ECG · ECG Transfer Lab", layout="wide")
st.title("Your ECG")
st.caption("Bring a record of your own: a WFDB pair (.hea and .dat), a CSV with one column per lead (a header "
           "row naming the leads: I, II, III, aVR or AVR, ..., V6) or an EDF file. It is read in memory and "
           "forgotten when the session ends; **Save as CSV** keeps a copy.")

P = "yours_"
# What each measured value is, in the words every page uses (the QT is the QT itself, not a QTc).
INTERVALS = {t: (say(t), measure.target_unit(t)) for t in measure.INTERVAL_TARGETS}


@st.cache_data(max_entries=8, show_spinner="Measuring with neurokit2...")
def measured(key, _record):
    """(intervals {target: value, NaN: not measurable}, wave marks {mark: times s} or {} when delineation
    fails), cached per upload `key`."""
    from ecgcore.explain import delineated_fiducials

    try:
        marks = delineated_fiducials(_record.lead(_record.measured_lead), _record.fs)
    except Exception:  # noqa: BLE001 -- neurokit2 raises many types on a record it cannot delineate
        marks = {}
    return upload.measure(_record), marks


@st.cache_data(max_entries=8, show_spinner=False)
def twin(params, fs, duration):
    """The synthetic ECG with these engine parameters: (signal (12, L), labels, fiducials {mark: times s})."""
    from ecgcore.synth import synthesize

    return synthesize(dict(params), n=1, fs=fs, duration=duration, seed=0, noise=False).record(0)


record, key = ui.uploaded_record(P)
if record is None:
    st.info("Upload a record to see it here.")
    st.stop()

for line in ui.upload_notes(record):
    st.caption(line)
if ui.scale_warning(record):
    st.warning(ui.scale_warning(record))
intervals, marks = measured(key, record)
show_marks = st.toggle("Mark waves", True, key=P + "marks",
                       help=f"P onset/offset, QRS onset/offset and T end of each beat, as neurokit2 delineates "
                            f"lead {record.measured_lead}.")
cols = st.columns(4)
for col, (target, (label, unit)) in zip(cols, INTERVALS.items()):
    value = intervals[target]
    col.metric(f"{label} ({unit})", "not measurable" if np.isnan(value) else f"{value:.0f}")
st.caption(f"Measured by neurokit2 on lead {record.measured_lead} (median over beats): PR from P onset to QRS "
           "onset, QRS from QRS onset to J point, QT from QRS onset to T end.")
if not marks:
    st.warning(f"neurokit2 could not delineate lead {record.measured_lead}: no wave marks.")

params, twin_notes = upload.twin_params(intervals)
fs = float(np.clip(record.fs, 100.0, 500.0))  # within the engine's rates; 500 Hz is plenty for the paper
signal, labels, twin_marks = twin(tuple(sorted(params.items())), fs, record.signal.shape[1] / record.fs)
left, right = st.columns(2)
with left:
    st.plotly_chart(plots.ecg_paper(record.twelve(), record.fs, fiducials=marks if show_marks else None,
                                    title=f"Your ECG: {record.name}"),
                    config=plots.png_config("your-ecg"), key="yours")
with right:
    st.plotly_chart(plots.ecg_paper(signal, fs, fiducials=twin_marks if show_marks else None,
                                    title="Synthetic ECG with the same intervals"),
                    config=plots.png_config("synthetic-twin"), key="twin")
    st.caption("Parametric engine, no noise, no beat-to-beat variability: "
               + ", ".join(f"{INTERVALS[t][0]} {labels[t]:.0f} {INTERVALS[t][1]}" for t in INTERVALS) + ".")
    for note in twin_notes:
        st.caption(note)

st.download_button("Save as CSV", record.to_csv(), file_name=f"{record.name.rsplit('.', 1)[0]}.csv",
                   mime="text/csv", key=P + "save",
                   help=f"One column per lead in mV at {record.fs:g} Hz (the rate is not in the file).")
# a link within this session (a markdown link opens a new tab, a new session that never saw the upload)
st.page_link("views/6_Explain.py", label="Explain this ECG with a run", icon=":material/insights:",
             query_params={"ex_source": "uploaded"},
             help="Opens the Explain page in this tab with this upload as its record.")
