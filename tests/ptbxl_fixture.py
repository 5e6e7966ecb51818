"""A tiny PTB-XL folder in PhysioNet's layout, written with wfdb.wrsamp, for any test that reads PTB-XL.

`make_ptbxl_fixture(root)` writes ptbxl_database.csv, scp_statements.csv and records100/ (records500/ too
when 500 is in `fs`): `n_per_class` single-label records of each of the 5 superclasses, two multi-label records
(MI+CD, STTC+HYP), one record with only a rhythm statement (no diagnostic superclass: the loader drops it) and,
with `bad_record`, one record whose signal file is truncated (the loader skips it). Record i of a class goes to
fold folds[(i + class index) % len(folds)], so with n_per_class >= len(folds) every fold holds every class
(the defaults: 24 records, folds 7 and 8 train, 9 validation, 10 test, every class in each).
Signals are 10 s, 12 leads, in mV: a beat train whose shape depends on the classes (so models can learn it).
With `rhythms`, record i also carries the rhythm statement RHYTHMS[i % 3] (SR, AFIB, STACH), listed in
scp_statements.csv as rhythm statements (a full PTB-XL folder's records do; the mini subset's do not).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import wfdb

from ecgcore.labels import CLASS_NAMES

HEADER_LEADS = ("I", "II", "III", "AVR", "AVL", "AVF", "V1", "V2", "V3", "V4", "V5", "V6")  # as PTB-XL spells them
# one representative SCP statement per superclass (as in PTB-XL), plus a rhythm statement with no superclass
STATEMENT_OF = {"NORM": "NORM", "MI": "IMI", "STTC": "NDT", "CD": "IRBBB", "HYP": "LVH"}
RHYTHM = "SR"
RHYTHMS = ("SR", "AFIB", "STACH")
MULTI_LABEL = (("MI", "CD"), ("STTC", "HYP"))


def fixture_signal(classes, fs, rng, seconds=10.0):
    """(L, 12) mV: Gaussian P, QRS and T waves; MI inverts Q, STTC inverts T, CD widens QRS, HYP doubles R."""
    t = np.arange(int(seconds * fs)) / fs
    qrs_width = 0.05 if "CD" in classes else 0.02
    r_amp = 2.0 if "HYP" in classes else 1.0
    t_amp = -0.3 if "STTC" in classes else 0.3
    q_amp = -0.4 if "MI" in classes else -0.05
    wave = np.zeros_like(t)
    for beat in np.arange(0.3, seconds, 60 / rng.uniform(55, 85)):
        for offset, width, amp in ((-0.16, 0.03, 0.15), (-0.03, 0.01, q_amp), (0, qrs_width, r_amp), (0.25, 0.05, t_amp)):
            wave += amp * np.exp(-((t - beat - offset) ** 2) / (2 * width**2))
    gains = rng.uniform(0.5, 1.2, size=12) * np.sign(rng.uniform(-0.3, 1, size=12))
    return wave[:, None] * gains + rng.normal(0, 0.02, size=(len(t), 12))


def make_ptbxl_fixture(root, n_per_class=4, folds=(7, 8, 9, 10), fs=(100,), bad_record=True, seed=0, rhythms=False):
    """Write the fixture under `root` and return `root` as a Path."""
    root = Path(root)
    rng = np.random.default_rng(seed)
    records = []  # (classes, fold)
    for c, name in enumerate(CLASS_NAMES):
        records += [((name,), folds[(i + c) % len(folds)]) for i in range(n_per_class)]
    records += [(pair, folds[i % len(folds)]) for i, pair in enumerate(MULTI_LABEL)]
    records += [((), folds[0])]  # rhythm statement only
    if bad_record:
        records += [(("NORM",), folds[-1])]
    rows = []
    for ecg_id, (classes, fold) in enumerate(records, start=1):
        codes = {STATEMENT_OF[c]: 100.0 for c in classes} or {RHYTHM: 0.0}
        if rhythms:
            codes = {**{k: v for k, v in codes.items() if k != RHYTHM}, RHYTHMS[ecg_id % len(RHYTHMS)]: 0.0}
        names = {rate: f"records{rate}/00000/{ecg_id:05d}_{'lr' if rate == 100 else 'hr'}" for rate in (100, 500)}
        rows.append({"ecg_id": ecg_id, "patient_id": float(1000 + ecg_id), "scp_codes": repr(codes),
                     "strat_fold": fold, "filename_lr": names[100], "filename_hr": names[500]})
        for rate in fs:
            path = root / names[rate]
            path.parent.mkdir(parents=True, exist_ok=True)
            wfdb.wrsamp(path.name, fs=rate, units=["mV"] * 12, sig_name=list(HEADER_LEADS),
                        p_signal=fixture_signal(classes, rate, rng), fmt=["16"] * 12, adc_gain=[1000.0] * 12,
                        baseline=[0] * 12, write_dir=str(path.parent))
    if bad_record:
        for rate in fs:  # cut the last record's signal file short: a truncated download
            dat = (root / names[rate]).with_suffix(".dat")
            dat.write_bytes(dat.read_bytes()[:1000])
    pd.DataFrame(rows).to_csv(root / "ptbxl_database.csv", index=False)
    statements = pd.DataFrame(
        [{"code": code, "description": code, "diagnostic": 1.0, "rhythm": np.nan, "diagnostic_class": cls}
         for cls, code in STATEMENT_OF.items()]
        + [{"code": code, "description": code, "diagnostic": np.nan, "rhythm": 1.0, "diagnostic_class": np.nan}
           for code in (RHYTHMS if rhythms else (RHYTHM,))]
    ).set_index("code")
    statements.index.name = None  # PTB-XL's first column has no header
    statements.to_csv(root / "scp_statements.csv")
    return root
