"""Synthesize: every engine parameter as a widget, the 12-lead ECG on paper, its exact labels, and data sets.

The settings live in the URL (widgets bound to st.query_params), so a shared link opens the same ECG.
"""

import math

import numpy as np
import streamlit as st

from ecgcore import plots
from ecgcore.data.dataset import CLASS_NAMES, TARGETS
from ecgcore.synth import ENGINES, FIDUCIALS, PARAMS, make_dataset, sample_params, synthesize

st.set_page_config(page_title="Synthesize · ECG Transfer Lab", layout="wide")

GROUPS = ("rhythm", "intervals", "morphology", "noise")
URL = "query-params"  # widgets bound to the URL: a link reopens the same ECG (keys are the URL names)


def step(spec):
    """A slider step of about 1/100 of the range, rounded to 1, 2 or 5 x 10^k."""
    raw = (spec["hi"] - spec["lo"]) / 100
    base = 10 ** math.floor(math.log10(raw))
    return min((base * m for m in (1, 2, 5, 10)), key=lambda s: abs(s - raw))


def apply_preset():
    """on_click: draw one parameter set from the chosen class's preset (seeded) into the widgets."""
    name = st.session_state["preset"]
    drawn, _ = sample_params(1, classes=[name], seed=st.session_state["seed"])
    for key, values in drawn.items():
        spec = PARAMS[key]
        if spec["choices"] is not None:
            st.session_state[key] = str(values[0])
        else:  # onto the slider's grid, so the widget shows exactly what is synthesized
            on_grid = round(round(values[0] / step(spec)) * step(spec), 6)
            st.session_state[key] = float(np.clip(on_grid, spec["lo"], spec["hi"]))
    st.query_params["class"] = name  # not a widget: kept in the URL by hand


def mark_custom():
    """on_change of any engine parameter: the ECG no longer is a preset's draw."""
    st.query_params.pop("class", None)


@st.cache_data(max_entries=256, show_spinner=False)
def one_record(params, fs, seed, noise):
    """One 10 s record at the display rate: (signal (12, L), labels, fiducials {mark: times s})."""
    out = synthesize(dict(params), n=1, fs=fs, duration=10.0, seed=seed, noise=noise)
    labels = {k: float(v[0]) for k, v in out.labels.items()}
    fiducials = {name: out.fiducials[0, :, j] for j, name in enumerate(FIDUCIALS)}
    return out.signals[0], labels, fiducials


@st.cache_data(max_entries=8, show_spinner=False)
def dataset_preview(spec):
    """Targets and class labels of a generated data set (cached: the form reruns the page)."""
    data = make_dataset(**{k: v for k, v in spec.items() if k != "source"})
    return {k: data.targets[k] for k in TARGETS if k in data.targets}, data.label


st.title("Synthesize")
controls, view = st.columns([1, 2.4])
with controls:
    c1, c2 = st.columns([2, 1])
    c1.selectbox("Preset", CLASS_NAMES, key="preset", bind=URL,
                 help="A simulated diagnostic class: its parameters are drawn from the class's ranges.")
    c2.button("Draw", on_click=apply_preset, key="draw", help="Draw the class's parameters with this seed.")
    c1, c2 = st.columns(2)
    seed = c1.number_input("Seed", 0, 10**6, 0, key="seed", bind=URL)
    fs = c2.selectbox("Display rate (Hz)", [100, 250, 500], index=1, key="fs", bind=URL)
    noise = c1.toggle("Noise", True, key="noise", bind=URL)
    marks = c2.toggle("Mark waves", False, key="marks", bind=URL,
                      help="P onset/offset, QRS onset/offset and T offset of each beat.")
    params = {}
    for group, tab in zip(GROUPS, st.tabs([g.capitalize() for g in GROUPS])):
        with tab:
            for name, spec in PARAMS.items():
                if spec["group"] != group:
                    continue
                label = f"{name} ({spec['unit']})" if spec["unit"] else name
                if spec["choices"] is not None:
                    params[name] = st.selectbox(label, spec["choices"], index=spec["choices"].index(spec["default"]),
                                                key=name, bind=URL, help=spec["help"], on_change=mark_custom)
                else:
                    params[name] = st.slider(label, float(spec["lo"]), float(spec["hi"]), float(spec["default"]),
                                             step=float(step(spec)), key=name, bind=URL, help=spec["help"],
                                             on_change=mark_custom)

with view:
    try:
        signal, labels, fiducials = one_record(tuple(params.items()), fs, int(seed), noise)
    except ValueError as e:  # e.g. a QT too short for the QRS: the engine says which parameter to change
        st.error(str(e))
    else:
        cols = st.columns(5)
        for col, (name, unit) in zip(cols, TARGETS.items()):
            col.metric(f"{name.upper()} ({unit})", f"{labels[name]:.0f}")
        cols[4].metric("Class", st.query_params.get("class", "custom"))
        fig = plots.ecg_paper(signal, fs, fiducials=fiducials if marks else None)
        st.plotly_chart(fig, config=plots.png_config("synthetic-ecg"), key="ecg")
        st.caption("Labels are the record's realised means over its beats: PR from P onset to QRS onset, QRS "
                   "from QRS onset to J point, QT from QRS onset to T end. Copy the page's address to share "
                   "this ECG.")

st.subheader("Generate data set")
with st.form("dataset"):
    c1, c2, c3, c4 = st.columns(4)
    n = c1.number_input("ECGs", 10, 50000, 2000, step=100, key="ds_n")
    fs = c2.selectbox("Sampling rate (Hz)", [100, 250, 500], key="ds_fs")
    seed = c3.number_input("Seed", 0, 10**6, 0, key="ds_seed")
    noise = c4.toggle("Noise", value=True, key="ds_noise")
    c1, c2 = st.columns([3, 1])
    classes = c1.multiselect("Classes (none: every record draws from the normal ranges)", CLASS_NAMES,
                             key="ds_classes")
    engine = c2.selectbox("Engine", ENGINES, key="ds_engine",
                          help="parametric: fast, every option; ecgsyn: neurokit2's ECGSYN, slow, normal records only")
    ranges = {}
    with st.expander("Parameter ranges (for records without a class)"):
        for name in ("hr", "pr", "qrs", "qt"):
            spec = PARAMS[name]
            ranges[name] = st.slider(f"{name} ({spec['unit']})", float(spec["lo"]), float(spec["hi"]),
                                     (float(spec["lo"]), float(spec["hi"])), step=float(step(spec)),
                                     key="ds_range_" + name)
    submitted = st.form_submit_button("Generate data set")

if submitted:
    spec = {"source": "synthetic", "n": int(n), "fs": int(fs), "seed": int(seed), "noise": bool(noise)}
    if engine != "parametric":
        spec["engine"] = engine
    if classes:
        spec["classes"] = list(classes)
    narrowed = {k: list(v) for k, v in ranges.items() if v != (PARAMS[k]["lo"], PARAMS[k]["hi"])}
    if narrowed:
        spec["ranges"] = narrowed
    bar = st.progress(0.0, text="Synthesizing...")
    try:
        data = make_dataset(**{k: v for k, v in spec.items() if k != "source"},
                            progress=lambda f: bar.progress(min(float(f), 1.0), text=f"Synthesizing... {f:.0%}"))
    except ValueError as e:
        st.error(f"Could not generate the data set: {e}")
    else:
        bar.progress(1.0, text=f"{len(data)} ECGs ready (cached; Pretrain can use this data set).")
        st.session_state["synth_dataset"] = spec

if "synth_dataset" in st.session_state:
    spec = st.session_state["synth_dataset"]
    targets, label = dataset_preview(spec)
    st.caption(f"Label distributions of the data set: {spec['n']} ECGs at {spec['fs']} Hz, seed {spec['seed']}"
               + (f", classes {', '.join(spec['classes'])}" if spec.get("classes") else ""))
    st.plotly_chart(plots.label_histograms(targets, TARGETS, label=label if spec.get("classes") else None,
                                           class_names=CLASS_NAMES),
                    config=plots.png_config("label-distributions"), key="ds_hist")
