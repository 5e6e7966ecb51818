"""The paper's per-target study, and the gains table of any sweep: transfer over scratch and over its control.

The study (Data efficiency page "Per-target study", `sweep start --per-target`): four single-target regressors
(HR, PR, QRS, QT) as four transfer sources, the paper's `combined` of all four, the random-init control of each
strategy, and scratch, in one sweep. The paper (one seed, a random record split) found the QRS regressor
transferring best; this table says whether that survives seeds and a patient-wise split.

Its table: rows = pretraining source x target, columns = labelled fractions (and "pooled" over fractions), cells =
the gain over scratch [95% CI] and over the matching control [95% CI], each paired by seed (ecgcore.sweep.gains,
pooled_gain). `gains_long` is the tidy form (CSV), `gains_wide` the paper's layout, `to_markdown` for a paper or a
lesson.
"""

from __future__ import annotations

import pandas as pd

from ecgcore import runs, sweep
from ecgcore.labels import TARGETS
from ecgcore.words import metric_name

POOLED = "pooled"


def per_target_arms(pretrained, strategy="freeze_first_block", controls=True):
    """The study's arms from single-target pretrained runs (any order; one per target, each pretraining one
    target): scratch, `strategy` from each (in TARGETS order), `combined` of all of them, and (controls) the
    random-init control of `strategy` and of `combined`."""
    by_target = {}
    for path in pretrained:
        config = runs.resolve_run(path).config
        if config.task != "pretrain" or len(config.targets) != 1:
            raise ValueError(f"run {path} is not a single-target pretraining (task {config.task}, targets "
                             f"{config.targets}): the per-target study takes one regressor per target")
        target = config.targets[0]
        if target in by_target:
            raise ValueError(f"runs {by_target[target]} and {path} both regress {target}: give one run per target")
        by_target[target] = str(path)
    if len(by_target) < 2:
        raise ValueError(f"the per-target study needs a regressor for at least two targets, got {sorted(by_target)}")
    order = sorted(by_target, key=lambda t: list(TARGETS).index(t) if t in TARGETS else len(TARGETS))
    arms = [sweep.Arm()] + [sweep.Arm(strategy, [by_target[t]]) for t in order]
    arms.append(sweep.Arm("combined", [by_target[t] for t in order]))
    return sweep.with_controls(arms) if controls else arms


def rows_of(config):
    """One row per transfer arm of a SweepConfig: {"arm", "source", "target", "control"} where source is the
    data its pretrained runs learnt from, target what they regress ("combined" for combined) and control the
    name of its control arm in the sweep (None without one)."""
    controls = config.controls()
    out = []
    for arm in config.arms:
        if arm.init == "random" or not arm.pretrained:
            continue
        pre = [runs.resolve_run(p).config for p in arm.pretrained]
        source = ", ".join(dict.fromkeys(_source(c.data) for c in pre))
        target = "combined" if arm.strategy == "combined" else "+".join(pre[0].targets)
        out.append({"arm": arm.name, "source": source, "target": target, "strategy": arm.strategy,
                    "control": controls.get(arm.name)})
    return out


def _source(spec):
    if not spec:
        return "synthetic"
    name = spec.get("source", "?")
    extra = [spec[k] for k in ("engine", "difficulty") if spec.get(k) not in (None, "parametric", "easy")]
    return " ".join([name, *map(str, extra)])


def gains_long(table, metric, rows, reference=sweep.SCRATCH):
    """The tidy gains table: one row per (source, target, arm, fraction or "pooled", versus) with n (seeds), gain,
    lo, hi; versus is `reference` or "control". Rows whose arm (or control) has no finished cells are left out."""
    present = set(table.arm[table[metric].notna()]) if metric in table else set()
    out = []
    for row in rows:
        for versus, other in (("scratch", reference), ("control", row.get("control"))):
            if other is None or row["arm"] not in present or other not in present:
                continue
            head = {"source": row["source"], "target": row["target"], "arm": row["arm"], "versus": versus,
                    "against": other}
            for g in sweep.gains(table, metric, row["arm"], other).itertuples():
                out.append({**head, "fraction": g.fraction, "n": g.n, "gain": g.gain, "lo": g.lo, "hi": g.hi})
            out.append({**head, "fraction": POOLED, **sweep.pooled_gain(table, metric, row["arm"], other)})
    return pd.DataFrame(out, columns=["source", "target", "arm", "versus", "against", "fraction", "n", "gain", "lo",
                                      "hi"])


def gains_wide(long):
    """The paper's layout: rows (source, target), columns the fractions then "pooled", cells
    "+0.012 [-0.004, +0.028] · vs control +0.003 [-0.010, +0.016]"."""
    if long.empty:
        return pd.DataFrame(columns=["source", "target"])
    cells = {}
    for r in long.itertuples():
        text = sweep.format_gain(r.gain, r.lo, r.hi)
        key = (r.source, r.target)
        column = _column(r.fraction)
        prefix = "" if r.versus == "scratch" else "vs control "
        cells.setdefault(key, {}).setdefault(column, []).append((r.versus != "scratch", prefix + text))
    fractions = sorted({f for f in long.fraction if f != POOLED})
    columns = [_column(f) for f in fractions] + [POOLED]
    data = [{"source": s, "target": t, **{c: " · ".join(text for _, text in sorted(parts.get(c, [])))
                                          for c in columns}}
            for (s, t), parts in cells.items()]
    return pd.DataFrame(data, columns=["source", "target", *columns])


def _column(fraction):
    return POOLED if fraction == POOLED else f"{float(fraction):.0%}"


def to_markdown(wide, metric="macro_auroc"):
    """The wide table as Markdown, under a line that says what the cells are."""
    head = (f"Gain in {metric_name(metric)} over scratch [95% CI] and over the matching random-init control, "
            "paired by seed; pooled = each seed's gains averaged over fractions.\n\n")
    return head + wide.to_markdown(index=False) + "\n"
