"""Data efficiency: how much labelled data transfer saves. Set up a sweep, watch its cells fill in, compare sweeps."""

import pandas as pd
import streamlit as st

import dashboard as ui
from ecgcore import estimates, jobs, per_rotation, plots, runs, study, sweep
from ecgcore.local_executor import max_jobs
from ecgcore.config import ARCHS, FRACTIONS, LABEL_MODES, STRATEGIES, JobConfig
from ecgcore.data.sources import DEFAULT_FINETUNE_DATA
from ecgcore.synth.presets import DIFFICULTIES
from ecgcore.words import metric_name, say, say_columns

st.set_page_config(page_title="Data efficiency · ECG Transfer Lab", layout="wide")
st.title("Data efficiency")
st.caption("Fine-tune at several labelled fractions, from scratch and with transfer, over several seeds: each "
           "cell is an ordinary run (see Runs); the band around each line is the 95% interval over seeds.")

P = "de_"
METRICS = ("macro_auroc", "accuracy", "macro_f1")
TRANSFER = [s for s in STRATEGIES if s not in ("scratch", "combined")]  # combined: the per-target study's


def new_sweep_form():
    pretrained_runs = {r.id: r for r in ui.runs_of("pretrain", states=("done",))}
    with st.container(border=True):
        st.subheader("New sweep")
        c1, c2, c3, c4 = st.columns([2, 1, 1, 2])
        n = c1.number_input("Simulated ECGs (data set to fine-tune on)", 100, 50000, DEFAULT_FINETUNE_DATA["n"],
                            step=100, key=P + "n")
        data_seed = c2.number_input("Data seed", 0, 10**6, DEFAULT_FINETUNE_DATA["seed"], key=P + "data_seed")
        difficulty = c3.selectbox("Difficulty", DIFFICULTIES, key=P + "difficulty",
                                  help="easy: clear caricatures of each class; hard: subtle, overlapping classes "
                                       "in ambulatory noise (the demo's task)")
        ptbxl = c4.text_input("or a PTB-XL folder (100 Hz)", key=P + "ptbxl", placeholder="/data/ptb-xl")
        per_target = st.toggle("Per-target study (the paper's): one regressor per target (HR, PR, QRS, QT) as "
                               "four sources, plus their `combined`", key=P + "per_target")
        single = {i: r for i, r in pretrained_runs.items() if len(r.config.targets) == 1}
        if per_target:
            pretrained_ids = st.multiselect("Per-target pretrained runs (one per target)", list(single),
                                            key=P + "per_target_runs",
                                            format_func=lambda i: f"{single[i].config.targets[0].upper()} · "
                                                                  f"{ui.run_label(single[i])}")
            strategies = [st.selectbox("Strategy for each regressor", TRANSFER, key=P + "study_strategy", format_func=say)]
        else:
            pretrained_ids = st.multiselect("Transfer arms: pretrained runs (any source)", list(pretrained_runs),
                                            key=P + "sources", format_func=lambda i: ui.run_label(pretrained_runs[i]))
            strategies = st.multiselect("Strategies for each pretrained run", TRANSFER,
                                        default=["freeze_first_block"], key=P + "strategies",
                                        format_func=say)
        controls = st.checkbox("Random-init controls", value=True, key=P + "controls",
                               help="For every strategy that reuses a network, also train the same network from a "
                                    "fresh seeded init with the same freezing (e.g. 'random init, first block "
                                    "frozen'): a gain over it is what the pretrained weights bring, not freezing.")
        c1, c2, c3, c4, c5 = st.columns([3, 1, 1, 1, 2])
        fractions = c1.multiselect("Labelled fractions", list(FRACTIONS),
                                   default=list(FRACTIONS), key=P + "fractions",
                                   format_func=lambda f: f"{f:.0%}")
        n_seeds = c2.number_input("Seeds", 1, 10, len(sweep.DEFAULT_SEEDS), key=P + "seeds")
        epochs = c3.number_input("Epochs", 1, 500, 10, key=P + "epochs")
        label_mode = c4.selectbox("Label mode", LABEL_MODES, key=P + "label_mode",
                                  format_func=lambda m: m + "-label")
        name = c5.text_input("Name", key=P + "name")
        first = pretrained_runs[pretrained_ids[0]] if pretrained_ids else None
        if first is None:
            arch = st.selectbox("Architecture", ARCHS, key=P + "arch")
        else:
            arch = first.config.arch
            st.caption(f"Every arm trains a `{arch}` with the preprocessing of {ui.run_label(first)} (transfer "
                       "reuses the network, so scratch trains the same one).")
        problem = None
        if per_target:
            try:
                arms = study.per_target_arms([str(single[i].path) for i in pretrained_ids], strategies[0],
                                             controls)
            except ValueError as e:
                arms, problem = [sweep.Arm()], str(e)
                st.caption(f"Pick the regressors: {problem}")
        else:
            arms = [sweep.Arm()] + [sweep.Arm(s, [str(pretrained_runs[i].path)])
                                    for i in pretrained_ids for s in strategies]
            arms = sweep.with_controls(arms) if controls else arms
        folds, lrs, problem = study_design(ptbxl, problem)
        data = ({"source": "ptbxl", "path": ptbxl, "fs": 100} if ptbxl else
                {**DEFAULT_FINETUNE_DATA, "n": int(n), "seed": int(data_seed), "difficulty": difficulty})
        base = JobConfig(task="finetune", data=data, arch=arch, epochs=int(epochs), label_mode=label_mode,
                         **({"lr": lrs[0]} if len(lrs) == 1 else {}))
        if first is not None:
            base.preprocess = first.config.preprocess
        config = sweep.SweepConfig(base=base, arms=arms, fractions=sorted(fractions), seeds=list(range(int(n_seeds))),
                                   name=name, folds=folds, lrs=lrs if len(lrs) > 1 else [])
        cells = sweep.cell_configs(config)  # the grid the sweep will make: its size is the run count
        times = ((f" x {len(folds)} test folds" if folds else "")
                 + (f" x {len(lrs)} learning rates" if len(lrs) > 1 else ""))
        st.caption(f"{len(fractions)} fractions x {len(arms)} arms x {n_seeds} seeds{times} = **{len(cells)} runs**.")
        pretrainings = rotation_pretrainings(config)
        if fractions:
            ui.planned([*pretrainings, *cells], workers=max_jobs())
        if st.button("Start sweep", type="primary", key=P + "start", disabled=problem is not None):
            try:
                created, made = per_rotation.create_study(config, ui.runs_dir())
            except (ValueError, OSError) as e:
                st.error(f"Could not start the sweep: {e}")
            else:
                st.query_params["sweep"] = created.id
                st.success(f"Started sweep `{created.id}`: {len(created.cells())} runs queued"
                           + (f", after {len(made)} pretrainings, one per rotation that needs its own."
                              if made else "."))


def readable(table, titles):
    """A sweep table (or its bands) with its arms named as people call them (ecgcore.sweep.arm_titles)."""
    return table.assign(arm=table["arm"].map(lambda a: titles.get(a, a))) if "arm" in table else table


EVERY_FOLD = "every fold, each tested once"


def rotation_pretrainings(config):
    """The pretrainings a study over folds makes again per rotation (per_rotation), said before the start."""
    try:
        found = per_rotation.pretrainings(config, ui.runs_dir())
    except (ValueError, OSError):  # a pretrained run gone or damaged: the start says so
        return []
    if found:
        names = sorted({ui.run_label(runs.resolve_run(path, ui.runs_dir())) for path, _ in found})
        st.caption(f"Pretrained on this folder's own records: {', '.join(names)}. Each is pretrained again for "
                   "every rotation whose validation or test fold it learnt from, without those two folds "
                   f"(**{len(found)} pretrainings**), and the cells wait for theirs: no cell tests on a record its "
                   "pretraining learnt from.")
    return list(found.values())


def study_design(ptbxl, problem):
    """(folds, lrs, problem): the rotations ([validation, test] pairs; [] for one split) and the learning rates
    ([] for the base's) the person chose, and what is wrong with them (`problem` when nothing is)."""
    from ecgcore import rotation

    c1, c2 = st.columns(2)
    lrs_text = c2.text_input("Learning rates (each arm's chosen on validation)", key=P + "lrs",
                             placeholder="0.001 (one rate); e.g. 0.001, 0.003",
                             help="Every arm, scratch and the controls too, trains at each rate; per fold and "
                                  "fraction each arm keeps the rate with the best validation macro AUROC, so no arm "
                                  "gets more choices than another.")
    try:
        lrs = [float(x) for x in lrs_text.replace(",", " ").split()]
        if not sweep.learning_rates_ok(lrs):
            raise ValueError
    except ValueError:
        lrs, problem = [], problem or f"learning rates {lrs_text!r}: give {sweep.LRS_RULE}, e.g. 0.001, 0.003"
        st.caption(f"Pick the learning rates: {problem}")
    if not ptbxl:
        c1.caption("Test folds: a PTB-XL folder has folds to rotate the test fold over.")
        return [], lrs, problem
    choice = c1.selectbox("Test folds", ["one split (auto)", EVERY_FOLD], key=P + "rotate",
                          help="Every fold: the study is repeated with each fold as its test fold and the fold "
                               "before it validating; gains are pooled over folds x seeds (cluster bootstrap).")
    folds = []
    if choice == EVERY_FOLD:
        why, found = ui.ptbxl_folds(ptbxl)
        try:
            if why:
                raise ValueError(why)
            folds = [list(pair) for pair in rotation.chosen("rotate", found)]
        except ValueError as e:
            problem = problem or str(e)
            st.caption(f"Cannot rotate the test fold: {e}")
    return folds, lrs, problem


def results(chosen, metric):
    """Progress, plot, summary and table of one sweep; refreshed every few seconds while cells run."""
    unfinished = not chosen.finished()
    titles = sweep.arm_titles(chosen.config)

    @st.fragment(run_every=ui.REFRESH_S if unfinished else None)
    def panel():
        if unfinished:
            jobs.refresh(ui.runs_dir())  # drives the queue: marks dead jobs failed, starts queued cells
        counts = chosen.progress()
        total = sum(counts.values())
        left = estimates.sweep_time_left(chosen, max_jobs()) if unfinished else 0.0
        st.progress(counts["done"] / total,
                    text=" · ".join(f"{n} {state}" for state, n in counts.items() if n) + f" of {total} cells"
                    + (f" · {estimates.say_duration(left)} left (from its finished cells' times)" if left else
                       " · time left known after its first cell" if unfinished else ""))
        if unfinished and chosen.finished():
            st.rerun(scope="app")  # the last cell finished: redraw once without the timer
        # computed on arm names (controls and study rows refer to them); people's names only where shown
        table = chosen.table()
        if metric not in table or table[metric].notna().sum() == 0:
            st.info("The plot appears when the first cell is done.")
        else:
            b = readable(sweep.bands(table, metric), titles)
            fig = plots.sweep_figure(b, metric, title=chosen.config.name or sweep_title(chosen))
            st.plotly_chart(fig, config=plots.png_config(f"sweep-{chosen.id}"), key=f"fig-{chosen.id}")
            try:
                for line in sweep.summarize(table, metric, controls=chosen.config.controls(), titles=titles,
                                            baselines=chosen.config.baselines()):
                    st.markdown(f"- {line['text']}")
            except ValueError as e:
                st.caption(f"No summary yet: {e}")
            st.session_state[P + "fig"] = fig
            gains_table(chosen, table, metric)
        shown = say_columns(readable(table, titles))
        st.dataframe(shown, hide_index=True, column_config={  # a metric a cell has not got yet is blank, not "None"
            c: st.column_config.NumberColumn() for c in shown.columns if pd.api.types.is_float_dtype(shown[c])})
        c1, c2, c3, c4 = st.columns(4)
        c1.download_button("Table (CSV)", table.to_csv(index=False), f"sweep-{chosen.id}.csv", mime="text/csv",
                           key=P + "csv")
        failed = counts["failed"] + counts["cancelled"] + counts["missing"]
        if failed and c2.button(f"Resume ({failed} to redo)", key=P + "resume"):
            st.toast(f"{chosen.advance()} cell(s) resubmitted")
            st.rerun(scope="app")
        if unfinished and c3.button("Cancel sweep", key=P + "cancel"):
            chosen.cancel()
            st.rerun(scope="app")

    panel()
    if P + "fig" in st.session_state and st.button("Render the plot as PNG", key=P + "png",
                                                    help="Uses kaleido with the local Chromium."):
        try:
            st.download_button("Plot (PNG)", plots.to_png([st.session_state[P + "fig"]])[0],
                               f"sweep-{chosen.id}.png", mime="image/png", key=P + "dl_png")
        except Exception as e:  # kaleido reports a missing browser with its own exception types
            st.error(f"PNG export failed ({type(e).__name__}: {e}); use the camera icon on the chart instead.")


def gains_table(chosen, table, metric):
    """The study's table: rows source x target, columns fractions, cells gain over scratch and over the control."""
    try:
        long = study.gains_long(table, metric, study.rows_of(chosen.config))
    except (ValueError, OSError) as e:  # a pretrained run deleted since: its source cannot be named
        st.caption(f"No gains table: {e}")
        return
    if long.empty:
        return
    st.markdown(f"**Gains** in {metric_name(metric)} over scratch [95% CI] and over the matching random-init "
                "control (*vs control*), paired by seed; *pooled*: each seed's gains averaged over the fractions.")
    wide = study.gains_wide(long)
    st.table(say_columns(wide), hide_index=True)  # a few rows of long cells: wrapped in full, not cut off
    c1, c2 = st.columns(2)
    c1.download_button("Gains (CSV)", long.to_csv(index=False), f"gains-{chosen.id}.csv", mime="text/csv",
                       key=P + "gains_csv")
    c2.download_button("Gains (Markdown)", study.to_markdown(wide, metric), f"gains-{chosen.id}.md",
                       mime="text/markdown", key=P + "gains_md")


def compare(all_sweeps, metric):
    """Several sweeps on one plot: every arm of every chosen sweep, named `sweep: arm`."""
    by_id = {s.id: s for s in all_sweeps}
    chosen = st.multiselect("Sweeps to compare (e.g. transfer from different pretraining sources)", list(by_id),
                            key=P + "compare", format_func=lambda i: sweep_title(by_id[i]))
    if len(chosen) < 2:
        return
    frames = []
    for sweep_id in chosen:
        table = by_id[sweep_id].table()
        if metric in table:
            b = readable(sweep.bands(table, metric), sweep.arm_titles(by_id[sweep_id].config))
            frames.append(b.assign(arm=sweep_title(by_id[sweep_id]) + ": " + b.arm))
    if frames:
        st.plotly_chart(plots.sweep_figure(pd.concat(frames), metric), config=plots.png_config("sweeps-compared"),
                        key=P + "compare_fig")


def sweep_title(s):
    """A sweep as people name it: its name, else when it was created (its id is the picker's help)."""
    return sweep.sweep_title(s.config, s.id)


new_sweep_form()
try:
    all_sweeps = sweep.list_sweeps(ui.runs_dir())
except OSError as e:
    st.error(f"Cannot read the sweeps folder: {e}")
    st.stop()
if not all_sweeps:
    st.info("No sweep yet. Pretrain a regressor (Pretrain page, or Run the demo on the home page), then start "
            "a sweep above; scratch alone works too.")
    st.stop()

st.subheader("Sweeps")
ids = [s.id for s in all_sweeps]
wanted = st.query_params.get("sweep")
c1, c2 = st.columns([3, 1])
sweep_id = c1.selectbox("Sweep", ids, index=ids.index(wanted) if wanted in ids else 0, key=P + "sweep",
                        format_func=lambda i: sweep_title(all_sweeps[ids.index(i)]),
                        help="Newest first. Sweep ids: " + ", ".join(ids[:5]))
st.query_params["sweep"] = sweep_id
metric = c2.selectbox("Metric", METRICS, key=P + "metric", format_func=metric_name)
try:
    results(all_sweeps[ids.index(sweep_id)], metric)
except ValueError as e:
    st.error(f"Cannot show sweep {sweep_id}: {e}")
st.subheader("Compare sweeps")
compare(all_sweeps, metric)
