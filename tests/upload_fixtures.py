"""ECG record files as a user would upload them, written by each format's own writer (wfdb.wrsamp,
pandas, pyedflib), from a noise-free synthetic ECG whose intervals are known."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ecgcore.synth import synthesize

# PTB-XL's header spelling of the augmented leads
PTBXL_NAMES = ["I", "II", "III", "AVR", "AVL", "AVF", "V1", "V2", "V3", "V4", "V5", "V6"]
KNOWN = {"hr": 75.0, "hrv": 0.0, "pr": 170.0, "qrs": 100.0, "qt": 390.0}


def known_ecg(fs=500, duration=10.0):
    """(signal (12, L) mV float64, labels {target: value}) of a synthetic ECG with the KNOWN intervals."""
    syn = synthesize(KNOWN, n=1, fs=fs, duration=duration, seed=0, noise=False)
    return syn.signals[0].astype(np.float64), {k: float(v[0]) for k, v in syn.labels.items()}


def wfdb_files(folder, signal, fs=500, names=PTBXL_NAMES, units="mV", record="rec"):
    """{filename: bytes} of a WFDB pair written by wfdb.wrsamp into `folder`."""
    import wfdb

    wfdb.wrsamp(record, fs=fs, units=[units] * len(names), sig_name=list(names), p_signal=signal.T,
                fmt=["16"] * len(names), write_dir=str(folder))
    return {f"{record}.hea": (folder / f"{record}.hea").read_bytes(),
            f"{record}.dat": (folder / f"{record}.dat").read_bytes()}


def edf_bytes(folder, signal, labels, fs=500):
    """An EDF file (µV) written by pyedflib."""
    from pyedflib import highlevel

    headers = highlevel.make_signal_headers(labels, dimension="uV", sample_frequency=fs, physical_min=-5000,
                                            physical_max=5000)
    path = folder / "rec.edf"
    highlevel.write_edf(str(path), signal * 1000.0, headers)
    return path.read_bytes()


def csv_bytes(signal, columns, **extra):
    """A CSV, one column per lead (plus `extra` columns)."""
    return pd.DataFrame(signal.T, columns=columns).assign(**extra).to_csv(index=False).encode()
