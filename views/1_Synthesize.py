"""Synthesize: one ECG on paper from the parametric engine (every parameter a widget, exact labels, a rhythm
strip with beat marks and a ladder diagram) or the DeepFake GAN (a seed, measured labels), a "What rhythm is
this?" quiz, and labelled data sets from any engine.

The settings live in the URL (widgets bound to st.query_params; the engine parameters, whose closed tabs are not
drawn, by hand), so a shared link opens the same ECG.
"""

import numpy as np
import streamlit as st

from ecgcore import plots, rhythm_strip
from ecgcore.data import synthetic
from ecgcore.data.measure import delineated_fiducials
from ecgcore.data.sources import load_dataset
from ecgcore.labels import CLASS_NAMES, TARGETS
from ecgcore.leads import LEADS, PAPER_LEADS, twelve_from_eight
from ecgcore.synth import PARAMS, gan, synthesize
from ecgcore.synth import rhythms
from ecgcore.synth.params import RHYTHMS, corrected_qt, decimals, step, text_problem
from ecgcore.synth.presets import CRITERIA, drawn_params, is_draw, quiz
from ecgcore.words import QT_READINGS, say

st.set_page_config(page_title="Synthesize · ECG Transfer Lab", layout="wide")

GROUPS = ("rhythm", "intervals", "morphology", "noise")
URL = "query-params"  # widgets bound to the URL: a link reopens the same ECG (keys are the URL names)
ENGINE_NAMES = {"parametric": "parametric", "ecgsyn": "ecgsyn", "gan": "GAN (DeepFake ECG)"}
VIEW_ENGINES = ("parametric", "gan")  # ECGSYN (~1 s a record, one parameter) is offered for data sets only
# A preset's draw is kept in the URL by hand (not widgets): the class and the seed it was drawn with.
CLASS, DRAW_SEED = "class", "draw_seed"
STORE = "engine_params"  # session state: {parameter: value}, every engine parameter, open tab or not
PAPER_HEIGHT = 440  # px: the ECG paper fills the view column of a wide (1400-1920 px) window


def take_draw(drawn):
    """Put a drawn parameter set into the parameters; the open tab's widgets show it when next drawn."""
    st.session_state[STORE].update(drawn)
    for key in PARAMS:
        st.session_state.pop(key, None)


def apply_preset():
    """on_click: draw one parameter set from the chosen class's preset (seeded) into the parameters, each on
    its slider's grid, so the widgets show exactly what is synthesized."""
    name, seed = st.session_state["preset"], int(st.session_state["seed"])
    if name is None:  # nothing chosen yet: nothing to draw
        st.session_state["no_preset"] = True
        return
    take_draw(drawn_params(name, seed))
    st.query_params[CLASS], st.query_params[DRAW_SEED] = name, str(seed)


def apply_rhythm_preset():
    """on_click: draw the chosen rhythm's rates and conduction (and normal ranges otherwise) with the seed."""
    take_draw(drawn_params(seed=int(st.session_state["seed"]), rhythm=st.session_state[STORE]["rhythm"]))
    mark_custom()


def mark_custom():
    """on_change of any engine parameter: the ECG no longer is a preset's draw."""
    for key in (CLASS, DRAW_SEED):
        st.query_params.pop(key, None)


def param_changed(name):
    """on_change of parameter `name`'s widget: keep its new value."""
    st.session_state[STORE][name] = st.session_state[name]
    mark_custom()


def linked_params():
    """Every engine parameter's value from the link ({name: value}; the default where the link has none), and
    what is wrong with the values it refused, each naming the parameter and its range."""
    params, notices = {}, []
    for name, spec in PARAMS.items():
        params[name] = spec["default"]
        if name not in st.query_params:
            continue
        text = st.query_params[name]
        problem = text_problem(name, text)
        if problem:
            default = spec["default"] if spec["choices"] else f"{spec['default']:g} {spec['unit']}".strip()
            notices.append(f"{problem}: not used, the default {default} is shown")
        else:
            params[name] = text if spec["choices"] else float(text)
    return params, notices


def link_params(params):
    """Write the engine parameters into the link, as bound widgets do: only those that differ from their
    default, numbers without trailing zeros ("hr=75"), choices as their codes ("bundle_branch=right")."""
    for name, value in params.items():
        text = value if PARAMS[name]["choices"] else f"{value:g}"
        if value == PARAMS[name]["default"]:
            st.query_params.pop(name, None)
        elif st.query_params.get(name) != text:
            st.query_params[name] = text


def shown_class(params):
    """The class to show for `params`: the URL's class only when the parameters are exactly that preset's
    draw (with the URL's draw seed); else "custom", and why when the link named a class."""
    name = st.query_params.get(CLASS)
    if name is None:
        return "custom", None
    try:
        seed = int(st.query_params.get(DRAW_SEED, 0))
    except ValueError:
        seed = -1
    if name in CRITERIA and seed >= 0 and is_draw(params, name, seed):
        return name, None
    mark_custom()  # the address no longer claims the class either
    if name not in CRITERIA:
        return "custom", f"class={name!r} is not a preset (presets: {', '.join(CRITERIA)}): shown as custom."
    return "custom", (f"The link names class {name}, but these parameters are not the {name} preset's draw "
                      f"(seed {seed}): shown as custom. Choose {name} and click Draw for one.")


@st.cache_data(max_entries=256, show_spinner=False)
def one_record(params, fs, seed, noise):
    """One 10 s record at the display rate: (signal (12, L), labels, fiducials {mark: times s}, annotations
    {"beats": [(sample, symbol)], "atrial": [samples], "label_beat": symbol})."""
    made = synthesize(dict(params), n=1, fs=fs, duration=10.0, seed=seed, noise=noise)
    return (*made.record(0), {**made.annotations(0), "label_beat": str(made.label_beats[0])})


def new_sample():
    """on_click of "New sample": the next seed's GAN ECG (the seed widget is bound to the URL)."""
    st.session_state["seed"] = int(st.session_state["seed"]) + 1


# torch (the GAN's generator) and neurokit2 (delineation) are imported only when a GAN ECG is asked for: the
# first paint of the parametric engine needs neither, and their imports take seconds.
@st.cache_resource(show_spinner="Loading the DeepFake ECG generator (once per server)...")
def gan_generator():
    """The generator on the CPU; gan.generate(device="cpu") reuses this instance (gan.load_generator's cache)."""
    return gan.load_generator("cpu")


@st.cache_data(max_entries=256, show_spinner="Generating a GAN ECG...")
def gan_record(seed):
    """Record 0 of `seed`: ((8, 5000) mV at 500 Hz in PAPER_LEADS, {target: measured value, NaN: not measurable})."""
    gan_generator()
    _, batch = next(gan.generate(1, seed=seed, device="cpu"))
    return batch[0], {t: float(v[0]) for t, v in synthetic.gan_labels(batch).values.items()}


@st.cache_data(max_entries=256, show_spinner=False)
def gan_marks(seed):
    """{mark: times s} of lead II's neurokit2 delineation of gan_record(seed); {} when it fails."""
    try:
        return delineated_fiducials(gan_record(seed)[0][PAPER_LEADS.index("II")], gan.GAN_FS)
    except Exception:  # noqa: BLE001 -- neurokit2 raises many types on a record it cannot delineate
        return {}


@st.cache_data(max_entries=8, show_spinner=False)
def dataset_preview(spec):
    """Targets, class labels, size and build report of a generated data set (cached: the form reruns the page)."""
    data = load_dataset(spec)
    return ({k: data.targets[k] for k in TARGETS if k in data.targets}, data.label, len(data),
            data.config.get("report"))


def kept_and_dropped(n, report):
    """One line on a measured-label data set's kept and dropped records."""
    return (f"Labels measured: kept {report['n_kept']} of {n} ECGs; not measurable per target: "
            + ", ".join(f"{k.upper()} {v}" for k, v in report["dropped"].items()) + " (those records are dropped).")


def param_label(name, spec, qt_reading):
    """A widget's label in words and units; the QT slider says whether it is the QT or a QTc."""
    if name == "qt" and qt_reading != "none":
        return f"{QT_READINGS[qt_reading]} ({spec['unit']})"
    return say(name, spec["unit"])


def param_widget(name, spec, label):
    """Parameter `name`'s widget, showing (and on a change keeping) its kept value; choices in words."""
    if name not in st.session_state:  # its tab was closed, a preset was drawn, or the session is new
        st.session_state[name] = st.session_state[STORE][name]
    if spec["choices"] is not None:
        shown = {"qt_correction": QT_READINGS, "rhythm": {r: rhythm_name(r) for r in RHYTHMS}}.get(
            name, {c: say(c) for c in spec["choices"]})
        return st.selectbox(label, spec["choices"], key=name, format_func=shown.get, help=spec["help"],
                            on_change=param_changed, args=(name,))
    return st.slider(label, float(spec["lo"]), float(spec["hi"]), step=float(step(name)),
                     format=f"%.{decimals(name)}f", key=name, help=spec["help"], on_change=param_changed,
                     args=(name,))


RHYTHM_ONLY = {name for names in rhythms.PARAMETERS.values() for name in names}


def shown_for_rhythm(name, rhythm):
    """Whether parameter `name` has a widget in the tabs: not the rhythm itself (it sits beside the presets),
    nor what the chosen rhythm ignores, and a rhythm's own parameters only while that rhythm is chosen."""
    return (name != "rhythm" and name not in rhythms.IGNORES.get(rhythm, ())
            and (name not in RHYTHM_ONLY or name in rhythms.PARAMETERS[rhythm]))


def rhythm_name(code):
    """A rhythm in words: "afib" -> "atrial fibrillation"."""
    return rhythms.CRITERIA[code][0]


def parameter_widgets():
    """The engine parameters, in tabs by group; returns every parameter's value {name: value}.

    Only the open tab's widgets are drawn (a page of 29 sliders took seconds to show), so the values live in
    session state (STORE), not in the widgets, and are written into the link by hand (link_params)."""
    params = st.session_state[STORE]
    tabs = st.tabs([g.capitalize() for g in GROUPS], key="param_group", on_change="rerun")
    for group, tab in zip(GROUPS, tabs):
        if not tab.open:
            continue
        with tab:
            for name, spec in PARAMS.items():
                if spec["group"] == group and shown_for_rhythm(name, params["rhythm"]):
                    param_widget(name, spec, param_label(name, spec, params["qt_correction"]))
    link_params(params)
    return dict(params)


def dataset_spec(engine, n, fs, seed, noise, classes, ranges, chosen_rhythms=()):
    """The data spec the form describes; ValueError for an option the engine cannot honour."""
    narrowed = {k: list(v) for k, v in ranges.items() if v != (PARAMS[k]["lo"], PARAMS[k]["hi"])}
    if engine == "gan":
        if classes or narrowed or not noise or chosen_rhythms:
            raise ValueError("the GAN engine makes normal ECGs as it learnt them: no classes, rhythms, parameter "
                             "ranges or noise switch (clear them, or choose another engine)")
        return {"source": "gan", "n": int(n), "fs": int(fs), "seed": int(seed)}
    spec = {"source": "synthetic", "n": int(n), "fs": int(fs), "seed": int(seed), "noise": bool(noise)}
    if engine != "parametric":
        spec["engine"] = engine
    if classes:
        spec["classes"] = list(classes)
    if chosen_rhythms:
        spec["rhythms"] = list(chosen_rhythms)
    if narrowed:
        spec["ranges"] = narrowed
    return spec


def criteria(name):
    """The preset's criteria a teacher shows, and the leads to look at (ecgcore.synth.presets.CRITERIA)."""
    draws, points, leads = CRITERIA[name]
    st.markdown(f"**{name}: what to show** (the preset draws {draws})\n\n"
                + "\n".join(f"- {p}" for p in points) + f"\n\n**Leads to look at:** {leads}")


def show_paper(signal, fs, fiducials, filename):
    """The ECG on paper: a picture (drawn at once), or with "Zoom and hover" the interactive plotly figure."""
    if st.session_state.get("zoom"):
        st.plotly_chart(plots.ecg_paper(signal, fs, fiducials=fiducials, height=PAPER_HEIGHT),
                        config=plots.png_config(filename), key="ecg")
    else:
        svg = plots.ecg_paper_svg(signal, fs, fiducials=fiducials)
        st.image(svg, width="stretch", alt="the ECG on paper: 3x4 leads and a lead II rhythm strip")
        st.download_button("Download the picture (SVG)", svg, f"{filename}.svg", mime="image/svg+xml",
                           key="ecg_svg")


def shown_value(value):
    """A label as the metrics show it: a whole number, or "none" where the record has no such interval."""
    return "none" if not np.isfinite(value) else f"{value:.0f}"


def qtc_correction(reading):
    """The QT correction shown beside the labels: the one the QT slider reads, Bazett's when it reads the QT."""
    return "bazett" if reading == "none" else reading


def qtc_metric(labels, reading):
    """(label, value, help) of the QTc beside the labels, named by its correction (qtc_correction)."""
    correction = qtc_correction(reading)
    name = QT_READINGS[correction]
    value = corrected_qt(labels["qt"], correction, 60.0 / labels["hr"])
    return f"{name} (ms)", shown_value(float(value)), f"The QT corrected for the heart rate ({name}), at the " \
                                                     "realised rate"


def show_strip(signal, fs, annotations, fiducials, rhythm, annotate=True):
    """Lead II as a rhythm strip; with `annotate`, each beat's symbol and the ladder diagram."""
    atrial_wave = "F" if rhythm == "aflutter" else "P"
    beats = annotations["beats"] if annotate else []
    p_onsets = fiducials["p_on"][:len(beats)] if annotate else []
    fig = rhythm_strip.rhythm_strip(signal[LEADS.index("II")], fs, beats, p_onsets,
                                    annotations["atrial"] if annotate else [],
                                    atrial_marks=annotate and bool(st.session_state.get("atrial_marks")),
                                    atrial_wave=atrial_wave, fibrillation=annotate and rhythm == "afib")
    st.plotly_chart(fig, config=plots.png_config("rhythm-strip"), key="rhythm_strip")


def show_parametric(params, fs, seed, noise, marks):
    """The parametric engine's ECG with its exact labels, or the engine's error."""
    try:
        signal, labels, fiducials, annotations = one_record(tuple(params.items()), fs, int(seed), noise)
    except ValueError as e:  # e.g. a QT too short for the QRS: the engine says which parameter to change
        st.error(str(e))
        return
    name, why = shown_class(params)
    if why:
        st.warning(why)
    rr_ms = 60000.0 / labels["hr"]
    if labels["qt"] >= rr_ms:  # the engine draws it, but no heart does: say so rather than let it teach
        st.warning(f"The QT ({labels['qt']:.0f} ms) is longer than one beat at {labels['hr']:.0f} bpm (R-R "
                   f"{rr_ms:.0f} ms): each T wave runs into the next beat, which no real ECG shows. Lower the QT "
                   "or the heart rate, or let the QT slider read as a QTc.")
    cols = st.columns([1, 1, 1, 1, 1.5, 1])
    for col, (target, unit) in zip(cols, TARGETS.items()):
        why_none = " (none: no P wave conducts the beats)" if target == "pr" else ""
        col.metric(f"{target.upper()} ({unit})", shown_value(labels[target]),
                   help=f"{say(target, unit)}, as realised over the record's "
                        f"{rhythms.BEAT_SYMBOLS[annotations['label_beat']]} beats{why_none}")
    label, value, why = qtc_metric(labels, params["qt_correction"])
    cols[4].metric(label, value, help=why)
    rhythm = params["rhythm"]
    cols[5].metric("Class", name, help="The simulated diagnostic class whose preset drew these parameters; "
                                       "custom: not a preset's draw (set by hand, or changed since Draw).")
    show_paper(signal, fs, fiducials if marks else None, "synthetic-ecg")
    correction = QT_READINGS[qtc_correction(params["qt_correction"])]
    st.caption("Labels are the record's realised means over its beats: PR from P onset to QRS onset, QRS "
               "from QRS onset to J point, QT from QRS onset to T end (QT as measured; the "
               f"{correction.split(', ')[1]} QTc corrects it for the rate). Copy the page's address to share this "
               "ECG.")
    if rhythm != "sinus" or st.session_state.get("strip"):
        show_strip(signal, fs, annotations, fiducials, rhythm)
        st.markdown(f"**Rhythm: {rhythm_name(rhythm)}.** What to show: {rhythms.CRITERIA[rhythm][1]}. Beats: "
                    + ", ".join(f"{k} {v}" for k, v in rhythms.BEAT_SYMBOLS.items()
                                if k in {t for _, t in annotations["beats"]}) + ".")
    if name != "custom":
        criteria(name)


def show_quiz(fs, noise):
    """"What rhythm is this?": quiz number `quiz` (in the link) shows an ECG; the answer on a click."""
    number = int(st.session_state["quiz"])
    rhythm, drawn = quiz(number)
    signal, labels, fiducials, annotations = one_record(tuple(drawn.items()), fs, number, noise)
    revealed = st.session_state.get("revealed") == number
    st.markdown(f"**Quiz ECG {number}: what rhythm is this?** Read the rhythm strip (lead II), then choose.")
    show_paper(signal, fs, None, f"quiz-{number}")
    show_strip(signal, fs, annotations, fiducials, rhythm, annotate=revealed)
    c1, c2, c3 = st.columns([2, 1, 1])
    guess = c1.selectbox("Your answer", RHYTHMS, index=None, format_func=rhythm_name, key="quiz_answer",
                         placeholder="choose a rhythm")
    c2.button("Show the answer", on_click=reveal, args=(number,), key="reveal", type="primary")
    c3.button("Next ECG", on_click=next_quiz, key="next_quiz")
    if revealed:
        verdict = "" if guess is None else ("Right: " if guess == rhythm else f"Not {rhythm_name(guess)}: ")
        st.success(f"{verdict}it is **{rhythm_name(rhythm)}**: {rhythms.CRITERIA[rhythm][1]}. HR "
                   f"{shown_value(labels['hr'])} bpm, PR {shown_value(labels['pr'])} ms, QRS "
                   f"{shown_value(labels['qrs'])} ms.", icon=None)
    st.caption("Copy the page's address to hand out this quiz: the same number shows the same ECG (the answer "
               "is not in the link).")


def reveal(number):
    st.session_state["revealed"] = number


def next_quiz():
    st.session_state["quiz"] = int(st.session_state["quiz"]) + 1
    st.session_state.pop("quiz_answer", None)


def show_gan(seed, fs, marks):
    """Record 0 of the GAN's `seed` with its measured labels ("not measurable" where neurokit2 failed)."""
    raw, measured = gan_record(int(seed))
    cols = st.columns(5)
    for col, (name, unit) in zip(cols, TARGETS.items()):
        value = measured[name]
        col.metric(f"{name.upper()} ({unit})", "not measurable" if np.isnan(value) else f"{value:.0f}")
    cols[4].metric("In a data set", "kept" if all(np.isfinite(list(measured.values()))) else "dropped")
    fiducials = gan_marks(int(seed)) if marks else None
    show_paper(gan.resample(twelve_from_eight(raw[None])[0], fs), fs, fiducials, "gan-ecg")
    st.caption("Labels are **measured**, not known: neurokit2 (ecgcore.data.measure: prominence delineation of "
               "lead II at 500 Hz, median over beats), as a GAN data set's labels are; a record with a label not "
               "measurable is dropped from a data set. " + ("Wave marks are that delineation's. " if marks else "")
               + "Copy the page's address to share this ECG.")
    if marks and not fiducials:
        st.info("neurokit2 could not delineate this record's lead II: no wave marks.")


def generate_data_set():
    """The data set form, its progress and the label distributions of the data set made last."""
    with st.form("dataset"):
        c1, c2, c3, c4 = st.columns(4)
        n = c1.number_input("ECGs", 1, 50000, 2000, step=100, key="ds_n")
        fs = c2.selectbox("Sampling rate (Hz)", [100, 250, 500], key="ds_fs")
        seed = c3.number_input("Seed", 0, 10**6, 0, key="ds_seed")
        noise = c4.toggle("Noise", value=True, key="ds_noise")
        c1, c2 = st.columns([3, 1])
        classes = c1.multiselect("Classes (none: every record draws from the normal ranges)", CLASS_NAMES,
                                 key="ds_classes")
        chosen_rhythms = c1.multiselect("Rhythms (none: sinus rhythm; chosen: a set labelled by rhythm, with beat "
                                        "annotations)", RHYTHMS, key="ds_rhythms", format_func=rhythm_name)
        engine = c2.selectbox("Engine", (*synthetic.ENGINES, "gan"), format_func=ENGINE_NAMES.get,
                              key="ds_engine", help="parametric: fast, every option; ecgsyn: neurokit2's ECGSYN, "
                              "slow, normal records only; GAN: DeepFake ECGs, normal records only, labels measured "
                              "(failures dropped)")
        ranges = {}
        with st.expander("Parameter ranges (for records without a class)"):
            for name in ("hr", "pr", "qrs", "qt"):
                spec = PARAMS[name]
                # records without a class read qt as a QTc (NORMAL_RANGES' qt_correction is Bazett's)
                label = f"{QT_READINGS['bazett']} ({spec['unit']})" if name == "qt" else say(name, spec["unit"])
                ranges[name] = st.slider(label, float(spec["lo"]), float(spec["hi"]),
                                         (float(spec["lo"]), float(spec["hi"])), step=float(step(name)),
                                         format=f"%.{decimals(name)}f", key="ds_range_" + name)
        submitted = st.form_submit_button("Generate data set")

    if submitted:
        bar = st.progress(0.0, text="Synthesizing...")
        try:
            spec = dataset_spec(engine, n, fs, seed, noise, classes, ranges, chosen_rhythms)
            data = load_dataset(spec, progress=lambda f: bar.progress(min(float(f), 1.0),
                                                                       text=f"Synthesizing... {f:.0%}"))
        except ValueError as e:
            st.error(f"Could not generate the data set: {e}")
        else:
            bar.progress(1.0, text=f"{len(data)} ECGs ready (cached; Pretrain can use this data set).")
            st.session_state["synth_dataset"] = spec

    if "synth_dataset" in st.session_state:
        spec = st.session_state["synth_dataset"]
        targets, label, size, report = dataset_preview(spec)
        if report is not None:
            st.info(kept_and_dropped(spec["n"], report))
        st.caption(f"Label distributions of the data set: {size} ECGs at {spec['fs']} Hz, seed {spec['seed']}"
                   + (f", classes {', '.join(spec['classes'])}" if spec.get("classes") else "")
                   + (f", rhythms {', '.join(spec['rhythms'])} (the label is the rhythm)" if spec.get("rhythms")
                      else ""))
        labelled_by = spec.get("rhythms") or (CLASS_NAMES if spec.get("classes") else None)
        st.plotly_chart(plots.label_histograms(targets, TARGETS, label=label if labelled_by else None,
                                               class_names=labelled_by),
                        config=plots.png_config("label-distributions"), key="ds_hist")


st.title("Synthesize")
if STORE not in st.session_state:  # a session's first run: the link decides
    st.session_state[STORE], notices = linked_params()
    for notice in notices:
        st.warning(f"From the link: {notice}.")
controls, view = st.columns([1, 3])
with controls:
    view_engine = st.radio("Engine", VIEW_ENGINES, format_func=ENGINE_NAMES.get, key="engine", bind=URL,
                           horizontal=True, help="parametric: every parameter a widget, exact labels. GAN: "
                           "realistic normal ECGs from the DeepFake ECG generator; no parameters, labels measured.")
    is_gan = view_engine == "gan"
    is_quiz = not is_gan and st.radio("Mode", ("Explore", "Quiz"), key="mode", bind=URL, horizontal=True,
                                      help="Explore: every parameter a widget. Quiz: \"What rhythm is this?\", an "
                                           "ECG by number, the answer on a click.") == "Quiz"
    if is_quiz:
        st.number_input("Quiz number", 0, 10**6, 0, key="quiz", bind=URL,
                        help="Each number is one ECG of a rhythm drawn at random: share the link for the same quiz.")
    elif not is_gan:
        c1, c2 = st.columns([2, 1])
        c1.selectbox("Preset", CLASS_NAMES, key="preset", bind=URL, index=None, placeholder="choose a class",
                     help="A simulated diagnostic class: its parameters are drawn from the class's ranges.")
        c2.button("Draw", on_click=apply_preset, key="draw", help="Draw the class's parameters with this seed.")
        c1, c2 = st.columns([2, 1])
        with c1:
            param_widget("rhythm", PARAMS["rhythm"], "Rhythm")
        c2.button("Draw", on_click=apply_rhythm_preset, key="draw_rhythm",
                  help="Draw this rhythm's rates and conduction (and normal intervals) with this seed.")
    c1, c2 = st.columns(2)
    seed = c1.number_input("Seed", 0, 10**6, 0, key="seed", bind=URL)
    fs = c2.selectbox("Display rate (Hz)", [100, 250, 500], index=1, key="fs", bind=URL)
    if is_gan:
        st.button("New sample", on_click=new_sample, key="new_sample", help="The next seed's ECG.")
    else:
        noise = st.toggle("Noise", True, key="noise", bind=URL)
    if not is_gan and not is_quiz:
        st.toggle("Rhythm strip", False, key="strip", bind=URL,
                  help="Lead II with each beat's symbol and a ladder diagram (always shown for rhythms other than "
                       "sinus).")
        st.toggle("Mark P and F waves", False, key="atrial_marks", bind=URL,
                  help="On the rhythm strip: each atrial activation (P wave, or F wave in flutter).")
    marks = st.toggle("Mark waves", False, key="marks", bind=URL,
                      help="P onset and offset, QRS onset, J point and T end of each beat"
                           + (", as neurokit2 delineates lead II." if is_gan else "."))
    st.toggle("Zoom and hover", False, key="zoom", bind=URL,
              help="The ECG as an interactive chart: drag to zoom into a beat, hover over a wave mark for its "
                   "name. Off, the ECG is a picture, which shows at once and can be downloaded.")
    if st.session_state.pop("no_preset", False):
        st.info("Choose a class in Preset, then Draw.")
    params = {} if is_gan or is_quiz else parameter_widgets()  # the GAN has no parameters


with view:
    if is_gan:
        show_gan(seed, fs, marks)
    elif is_quiz:
        show_quiz(fs, noise)
    else:
        show_parametric(params, fs, seed, noise, marks)

# The form is drawn only while its section is open: the page's first paint is the ECG (see parameter_widgets).
data_set = st.expander("Generate data set", key="data_set", on_change="rerun")
if data_set.open:
    with data_set:
        generate_data_set()
