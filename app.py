"""Entry point: the page list (Home first, then every page in views/, in file order) and the Home page itself:
what the tool is, the pipeline, the runs in progress and one button that starts the demo."""

from pathlib import Path

import streamlit as st

import dashboard as ui
from ecgcore import run_index

ROOT = Path(__file__).parent


def home():
    # Here, not at the top: this file runs before every page, and the demo and sweeps import torch and
    # scipy.stats (seconds on a 2-core machine) that the Synthesize page's first paint does not need.
    from ecgcore import demo
    st.title("ECG Transfer Lab")
    st.markdown(
        "Tune a synthetic 12-lead ECG and see its exact labels (HR, PR, QRS, QT). "
        "Pretrain a 1D CNN to regress those labels on thousands of synthetic ECGs, then fine-tune it to diagnose "
        "five classes, simulated or from real PTB-XL recordings. "
        "Compare transfer against training from scratch, run by run."
    )
    st.image(str(ROOT / "assets" / "pipeline.svg"), width="stretch")

    st.subheader("Run the demo")
    st.caption(
        "Starts the default pipeline as background jobs on a hard simulated task (subtle, overlapping classes in "
        "realistic noise): a short pretraining, fine-tuning from scratch and with transfer, and a small "
        "data-efficiency sweep (3 labelled fractions x scratch, transfer and its random-init control x 3 seeds). "
        "Every page fills in within minutes on a laptop CPU."
    )
    from ecgcore.local_executor import max_jobs

    ui.planned(demo.every_config(), workers=max_jobs())
    if st.button("Run the demo", type="primary"):
        try:
            started, demo_sweep = demo.run_demo(ui.runs_dir())
        except (ValueError, OSError) as e:
            st.error(f"Could not start the demo: {e}")
        else:
            st.success("Started runs " + ", ".join(f"`{r.id}`" for r in started) + f" and sweep `{demo_sweep.id}` "
                       f"({len(demo_sweep.cells())} runs). Watch them on the Runs and Data efficiency pages.")
    runs_in_progress()


@st.fragment(run_every=2)
def runs_in_progress():
    from ecgcore import estimates, sweep  # see home()
    from ecgcore.local_executor import max_jobs

    st.subheader("Runs in progress")
    try:
        active = [(r, r.listed) for r in run_index.indexed_runs(ui.runs_dir())]
        sweeps = sweep.list_sweeps(ui.runs_dir())
    except (ValueError, OSError) as e:
        st.error(f"Cannot read the runs folder {ui.runs_dir()}: {e}")
        return
    # a sweep's cells show as one bar for the sweep, not one each
    cells = {c["run_id"] for s in sweeps for c in s.record()["cells"] if c["run_id"]}
    active = [(r, s) for r, s in active if s.get("state") in ui.ACTIVE and r.id not in cells]
    busy = [(s, s.progress()) for s in sweeps]
    busy = [(s, counts) for s, counts in busy if not sweep.settled(counts)]
    if not active and not busy:
        st.write("No run is in progress.")
        return
    for run, status in active:
        problem = run.problem
        if problem:
            st.warning(f"{run.id} · damaged: {problem}")
            continue
        label = f"{ui.run_label(run)} · {run.config.task} · {status['state']}"
        st.progress(float(status.get("progress") or 0.0), text=f"{label} · {status.get('message') or ''}")
    for s, counts in busy:
        total = sum(counts.values())
        left = estimates.sweep_time_left(s, max_jobs())
        st.progress(counts["done"] / total, text=f"sweep {s.config.name or s.id} · {counts['done']} of {total} runs "
                    f"done" + (f" · {estimates.say_duration(left)} left" if left else "") + " (Data efficiency page)")


st.set_page_config(page_title="ECG Transfer Lab", page_icon="🫀", layout="wide")
# The pages live in views/, not pages/: Streamlit serves a link straight to /Synthesize from a pages/ folder
# without running this file, and its sidebar then starts with "app". Each page's title and address come from
# its file name (3_Fine-tune.py -> /Fine-tune), in number order.
pages = [st.Page(home, title="Home", icon="🫀", default=True),
         *(st.Page(str(path.relative_to(ROOT)))
           for path in sorted((ROOT / "views").glob("[0-9]*_*.py"), key=lambda p: int(p.name.split("_")[0])))]
st.navigation(pages).run()
