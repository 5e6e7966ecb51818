"""`explain`: Captum attributions of a trained run on one record, written as .npz plus per-wave shares as JSON.

--record takes `synthetic[:PRESET][:SEED]`, `DATASET.npz:INDEX`, `ptbxl:FOLDER:INDEX`, or a record spec as inline JSON
(see ecgcore.explain.load_record), e.g. '{"source": "synthetic", "seed": 3, "params": {"qrs": 140}}'.
"""

from __future__ import annotations

import json
from pathlib import Path


def register(sub):
    from ecgcore.explain import METHODS

    p = sub.add_parser("explain", help="attributions (Captum) of a trained run on one record, with per-wave shares",
                       description="Explain one output of a trained run on one ECG record.")
    p.add_argument("--run", required=True, metavar="RUN", help="run id under --runs-dir or a run folder")
    p.add_argument("--record", default="synthetic:0", metavar="SPEC",
                   help="synthetic[:PRESET][:SEED], DATASET.npz:INDEX, ptbxl:FOLDER:INDEX or a JSON record spec "
                        "(default synthetic:0)")
    p.add_argument("--method", choices=METHODS, default="integrated_gradients")
    p.add_argument("--target", help="output to explain: a regression target (qrs), a class (MI) or an index "
                   "(default: the first target, or the predicted class)")
    p.add_argument("--out", required=True, metavar="PATH",
                   help="attributions .npz; the per-wave shares go beside it as .json")
    # --out names the output here, so the runs directory takes only its long name (not add_runs_dir's --out)
    p.add_argument("--runs-dir", metavar="DIR", help="runs directory (default: $ECGCORE_RUNS, else runs/)")
    p.set_defaults(func=_explain)


def record_spec(text):
    """A record spec dict from --record's text."""
    if text.lstrip().startswith("{"):
        try:
            return json.loads(text)
        except json.JSONDecodeError as e:
            raise ValueError(f"--record is not valid JSON: {e}") from None
    head, _, rest = text.partition(":")
    if head == "synthetic":
        parts = [p for p in rest.split(":") if p]
        seed = int(parts.pop()) if parts and parts[-1].isdigit() else 0
        if len(parts) > 1:
            raise ValueError(f"--record {text!r}: write synthetic[:PRESET][:SEED], e.g. synthetic:MI:3")
        return {"source": "synthetic", "seed": seed, **({"preset": parts[0]} if parts else {})}
    if head == "ptbxl":
        folder, _, index = rest.rpartition(":")
        if not folder or not index.isdigit():
            raise ValueError(f"--record {text!r}: write ptbxl:FOLDER:INDEX")
        return {"data": {"source": "ptbxl", "path": str(Path(folder).resolve())}, "index": int(index)}
    path, _, index = text.rpartition(":")
    if path.endswith(".npz") and index.isdigit():
        if not Path(path).is_file():
            raise FileNotFoundError(f"--record: data set file not found: {path}")
        return {"data": {"source": "npz", "path": str(Path(path).resolve())}, "index": int(index)}
    raise ValueError(f"--record {text!r}: give synthetic[:PRESET][:SEED], DATASET.npz:INDEX, ptbxl:FOLDER:INDEX "
                     "or JSON")


def _explain(args):
    import numpy as np

    from ecgcore.explain import explain_run, load_record
    from ecgcore.files import atomic_write, write_json
    from ecgcore.runs import resolve_run

    run = resolve_run(args.run, args.runs_dir)
    record = load_record(record_spec(args.record))
    result = explain_run(run.path, record, args.method, args.target)
    out = Path(args.out).with_suffix(".npz")
    out.parent.mkdir(parents=True, exist_ok=True)
    arrays = {"attributions": result.attributions, "signal": result.signal, "fs": np.float64(result.fs),
              "lead_names": np.array(result.lead_names)}
    if result.labels is not None:
        arrays["wave_labels"] = result.labels
    atomic_write(out, lambda tmp: np.savez(tmp, **arrays))
    meta = {"run": str(run.path), "record": record.description, "method": result.method, "target": result.target,
            "output_name": result.output_name, "output": result.output, "shares": result.shares,
            "note": result.note}
    write_json(out.with_suffix(".json"), meta)
    print(f"wrote {out} and {out.with_suffix('.json')}")
    for wave, share in (result.shares or {}).items():
        print(f"  {wave:<9} {share['share']:6.1%} of |attribution|, {share['time']:6.1%} of the time")
    if result.note:
        print(result.note)
    return 0
