"""An ECG record a user brings: a WFDB pair (.hea + .dat), a CSV (one column per lead) or an EDF file.

`read_upload({filename: bytes}, fs=None)` -> UploadedRecord, or ValueError saying plainly what is wrong:
a format it does not read, a WFDB pair that is incomplete, no channel named like an ECG lead, a record
shorter than MIN_SECONDS, a NaN. Files are read from memory; wfdb and pyedflib read from a path only,
so their bytes go to a temporary folder that is deleted before the call returns: nothing stays on disk.

Leads are matched by name, whatever the spelling (`aVR`, PTB-XL's `AVR`, `avr`, `Lead II`, `ECG V1`, `MLII`);
channels with other names are ignored and listed. Missing limb leads are derived exactly from two of I, II,
III (ecgcore.leads.limb_leads); precordial leads cannot be, so a record without them says so, draws them
blank on the paper, and cannot be explained by a run that needs them. Signals are in mV (µV files converted).
"""

from __future__ import annotations

import io
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ecgcore import leads as leadlib
from ecgcore.labels import rate_hz

MIN_SECONDS = 3.0  # three beats at 60 bpm: neurokit2 measures nothing on less
SHOWN_SECONDS = 10.0  # the ECG paper's and the models' length: longer records are cut to their first 10 s
FORMATS = "a WFDB pair (.hea + .dat), a CSV (.csv, one column per lead) or an EDF file (.edf)"
# Physical units an uploaded channel may be in, and the factor to mV.
TO_MV = {"mv": 1.0, "uv": 1e-3, "µv": 1e-3, "μv": 1e-3, "v": 1e3}
# Prefixes and aliases in lead labels: "ECG II", "Lead V1", "EKG aVR", MIT-BIH's "MLII" (modified lead II).
_PREFIX = re.compile(r"^(ecg|ekg|lead)[\s_\-:.]*", re.IGNORECASE)
_ALIASES = {"MLII": "II", "MLI": "I", "MLIII": "III"}
_BY_KEY = {name.upper(): name for name in leadlib.LEADS}
_BOOLEAN = re.compile(rb"(?i)(?:^|[,;\t])\s*(?:true|false)\s*(?=$|[,;\t\r\n])", re.MULTILINE)


def lead_name(label):
    """The standard name (ecgcore.leads.LEADS) of a channel label, or None when it names no ECG lead."""
    key = re.sub(r"[\s_\-]", "", _PREFIX.sub("", str(label).strip())).upper()
    key = _ALIASES.get(key, key)
    return _BY_KEY.get(key)


@dataclass
class UploadedRecord:
    """A user's record: (C, L) mV in LEADS order for the leads it has, what was derived, missing, ignored."""

    signal: np.ndarray
    fs: float
    lead_names: tuple
    name: str
    duration_s: float  # of the whole file; `signal` holds at most SHOWN_SECONDS of it
    derived: tuple = ()  # limb leads computed from two others
    ignored: tuple = ()  # file channels whose label names no ECG lead
    notes: list = field(default_factory=list)

    @property
    def missing(self):
        """Standard leads the record lacks (and could not derive)."""
        return tuple(lead for lead in leadlib.LEADS if lead not in self.lead_names)

    def twelve(self):
        """(12, L) in LEADS order, NaN rows for the missing leads (the ECG paper leaves them blank)."""
        out = np.full((len(leadlib.LEADS), self.signal.shape[1]), np.nan)
        for i, lead in enumerate(self.lead_names):
            out[leadlib.LEADS.index(lead)] = self.signal[i]
        return out

    def lead(self, name="II"):
        """One lead's samples; lead II by convention (what ecgcore.data.measure measures), else the first."""
        names = list(self.lead_names)
        return self.signal[names.index(name) if name in names else 0]

    @property
    def measured_lead(self):
        return "II" if "II" in self.lead_names else self.lead_names[0]

    def needs(self, wanted):
        """ValueError when the record lacks leads of `wanted` (names or a LEAD_SETS key), saying which."""
        wanted = leadlib.LEAD_SETS.get(wanted, wanted) if isinstance(wanted, str) else wanted
        lacking = [lead for lead in wanted if lead not in self.lead_names]
        if lacking:
            raise ValueError(f"the run reads leads {', '.join(wanted)}; this record lacks {', '.join(lacking)} "
                             f"(it has {', '.join(self.lead_names)})")

    def to_csv(self):
        """The record as CSV text (one column per lead, mV; `fs` is not in it), for the user to save."""
        import pandas as pd

        return pd.DataFrame(self.signal.T, columns=self.lead_names).to_csv(index=False, float_format="%.5g")


def read_upload(files, fs=None, units="mV"):
    """An UploadedRecord from `files` ({filename: bytes}, one record): WFDB .hea + .dat, one .csv or one .edf.

    fs (Hz) is needed for a CSV only (the file does not say it); units ("mV" or "uV") too, for a CSV.
    """
    for name in dict(files):
        if Path(str(name)).name in ("", ".", ".."):
            raise ValueError(f"{str(name)!r} is not a file name: upload files named like rec.hea, rec.dat, ecg.csv")
    files = {Path(name).name: bytes(data) for name, data in dict(files).items()}
    if not files:
        raise ValueError(f"no file given: upload {FORMATS}")
    by_ext = {}
    for name in files:
        by_ext.setdefault(Path(name).suffix.lower(), []).append(name)
    if ".hea" in by_ext or ".dat" in by_ext:
        return _finish(*_read_wfdb(files, by_ext))
    if set(by_ext) <= {".csv", ".txt"} and len(files) == 1:
        if fs is None:
            raise ValueError("a CSV does not say its sampling rate: give it (Hz)")
        return _finish(*_read_csv(next(iter(files.items())), fs, units))
    if set(by_ext) == {".edf"} and len(files) == 1:
        return _finish(*_read_edf(next(iter(files.items()))))
    raise ValueError(f"cannot read {', '.join(sorted(files))}: upload {FORMATS}")


def _read_wfdb(files, by_ext):
    import wfdb  # heavy import kept local: the page's first paint does not need it

    heads, dats = by_ext.get(".hea", []), by_ext.get(".dat", [])
    if len(heads) != 1 or not dats:
        raise ValueError(f"a WFDB record is one .hea header with its .dat file; got {', '.join(sorted(files))}")
    record_name = Path(heads[0]).stem
    if not re.fullmatch(r"[A-Za-z0-9_.\-]+", record_name):  # wfdb mangles other characters in a record name
        raise ValueError(f"{heads[0]}: WFDB record names may hold only letters a-z, digits, '_', '-' and '.'; "
                         f"rename the record (its .hea, the .dat and the name inside the header) and upload again")
    fs = _header_checks(heads[0], files[heads[0]])
    with tempfile.TemporaryDirectory(prefix="ecg-upload-") as tmp:
        for name, data in files.items():
            (Path(tmp) / name).write_bytes(data)
        try:
            record = wfdb.rdrecord(str(Path(tmp) / record_name))
        except FileNotFoundError as e:
            raise ValueError(f"{heads[0]} names a data file that is not in the upload "
                             f"({Path(e.filename or '').name or e}); upload the .dat it names") from None
        except Exception as e:  # noqa: BLE001 - wfdb raises many types on a malformed header or data file
            raise ValueError(f"{heads[0]} is not a readable WFDB record: {e}") from None
    if record.p_signal is None or record.sig_name is None:
        raise ValueError(f"{heads[0]} holds no signals")
    scale = [_to_mv(unit, label, heads[0]) for unit, label in zip(record.units, record.sig_name)]
    return record.p_signal.T * np.asarray(scale)[:, None], fs or float(record.fs), record.sig_name, record_name


def _header_checks(name, header):
    """The rate a WFDB header writes (None when it writes none: WFDB's default, 250 Hz, applies), checked
    here because wfdb reads a rate it cannot parse as that default without a word; and ValueError for a
    signal line whose data file is not a plain name (one that would lead out of the upload)."""
    try:
        lines = [ln for ln in header.decode("ascii").splitlines() if ln.strip() and not ln.startswith("#")]
    except UnicodeDecodeError:
        raise ValueError(f"{name} is not a WFDB header: a header is plain ASCII text") from None
    if not lines:
        raise ValueError(f"{name} is empty: a WFDB header starts with the record line (name, signals, rate)")
    fields = lines[0].split()
    for line in lines[1:]:
        data_file = line.split()[0]
        if data_file != Path(data_file).name or data_file in ("..", "."):
            raise ValueError(f"{name} names the data file {data_file!r}: only a file of the upload, by its bare "
                             "name, can be read")
    if len(fields) < 3:
        return None
    text = re.split(r"[/(]", fields[2], maxsplit=1)[0]  # "500/1000(0)": the rate, then counter freq and base
    try:
        value = float(text)
    except ValueError:
        value = None
    return rate_hz(value, f"{name}, its record line", written=text)


def _read_csv(item, fs, units):
    import pandas as pd

    name, data = item
    try:
        fs = rate_hz(fs, f"{name} (the rate you gave, the CSV does not say it)")
    except ValueError as e:
        raise ValueError(f"{e}; give the CSV's rate") from None
    if not data.strip():
        raise ValueError(f"{name} is empty: a CSV needs a header row naming the leads and one row per sample")
    try:
        first = data.split(b"\n", 1)[0].decode()
        data.decode()  # a CSV is text: say so here rather than pass a codec's message on
    except UnicodeDecodeError as e:
        raise ValueError(f"{name} is not text in UTF-8 (byte {data[e.start]:#04x} at position {e.start} is not): "
                         "save it as a UTF-8 CSV") from None
    sep = max([",", ";", "\t"], key=first.count)  # the header's separator: ",", ";" or tab (one column: ",")
    try:
        columns = list(pd.read_csv(io.BytesIO(data), sep=sep, nrows=0).columns)
        keep = [c for c in columns if lead_name(c)]
        as_text = lambda: pd.read_csv(io.BytesIO(data), sep=sep, usecols=keep, dtype=str)  # noqa: E731
        if _BOOLEAN.search(data):  # the float reader would take True/False for 1/0: look at the cells as text
            _refuse_text_cell(name, as_text())
        try:  # the fast path: lead columns straight to float32 (7 digits, a CSV's mV have 5; the peak memory
            # of an upload stays near 2.5x its size, bench/upload.py)
            table = pd.read_csv(io.BytesIO(data), sep=sep, usecols=keep, dtype=np.float32)
        except ValueError:  # a cell that is not a number: read again as text to say which
            _refuse_text_cell(name, as_text())
            raise
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as e:
        raise ValueError(f"{name} is not a readable CSV (one column per lead, a header row naming the "
                         f"leads): {e}") from None
    ignored = [str(c) for c in columns if c not in keep]
    signal, factor = table[keep].to_numpy(np.float32).T, _to_mv(units, "CSV", name)
    del table
    return (signal if factor == 1.0 else signal * factor), fs, [*map(str, keep), *ignored], name


def _refuse_text_cell(name, table):
    """ValueError naming the first cell of `table` (read as text) that is there but is not a number."""
    import pandas as pd

    values = table.apply(pd.to_numeric, errors="coerce")
    text = table.notna() & values.isna()
    if text.to_numpy().any():
        col = text.any().idxmax()
        row = text[col].idxmax()
        raise ValueError(f"{name}: column {col}, line {row + 2} holds {table.at[row, col]!r}, not a number")


def _read_edf(item):
    import pyedflib  # heavy import kept local

    name, data = item
    with tempfile.TemporaryDirectory(prefix="ecg-upload-") as tmp:
        path = Path(tmp) / name
        path.write_bytes(data)
        try:
            reader = pyedflib.EdfReader(str(path))
        except OSError as e:
            raise ValueError(f"{name} is not a readable EDF file: {str(e).replace(str(path), name)}") from None
        try:
            labels = reader.getSignalLabels()
            ecg = [i for i, label in enumerate(labels) if lead_name(label)]
            rates = {float(reader.getSampleFrequency(i)) for i in ecg}
            if len(rates) > 1:
                raise ValueError(f"{name}: the ECG channels come at different rates ({sorted(rates)} Hz)")
            lengths = {reader.getNSamples()[i] for i in ecg}
            n = min(lengths) if lengths else 0
            signal = np.array([reader.readSignal(i)[:n] * _to_mv(reader.getPhysicalDimension(i), labels[i], name)
                               for i in ecg]).reshape(len(ecg), n)
        finally:
            reader.close()
    ignored = [label for i, label in enumerate(labels) if i not in ecg]
    return signal, (rates.pop() if rates else 0.0), [labels[i] for i in ecg] + ignored, name


def _to_mv(unit, label, name):
    factor = TO_MV.get(str(unit or "mV").strip().lower())
    if factor is None:
        raise ValueError(f"{name}: channel {label} is in {unit!r}; ECG leads must be in mV, µV or V")
    return factor


def _finish(signal, fs, labels, name):
    """Match channels to leads (signal rows come first, in `labels`' order; the rest of `labels` are
    ignored channels), check the signal, derive missing limb leads, cut to SHOWN_SECONDS."""
    labels = [str(label) for label in labels]
    rows = {}
    for label, row in zip(labels, signal):
        lead = lead_name(label)
        if lead and lead not in rows:  # a repeated lead: the first channel wins
            rows[lead] = row
    ignored = tuple(label for label in labels if lead_name(label) is None)
    if not rows:
        raise ValueError(f"no ECG lead recognised in {name}: its channels are {', '.join(labels) or 'none'}; "
                         f"name them {', '.join(leadlib.LEADS)} (AVR, 'Lead II', 'ECG V1' are understood too)")
    n = len(next(iter(rows.values())))
    duration = n / fs if fs > 0 else 0.0
    if duration < MIN_SECONDS:
        raise ValueError(f"{name} is too short: {duration:.3g} s ({n} samples at {fs:g} Hz); "
                         f"at least {MIN_SECONDS:g} s are needed to measure its beats")
    for lead, row in rows.items():
        bad = ~np.isfinite(row)
        if bad.any():
            first = int(np.argmax(bad))
            raise ValueError(f"{name}: lead {lead} has {int(bad.sum())} missing (NaN) samples, the first at "
                             f"{first / fs:.2f} s: fill or cut them before uploading")
    keep = int(round(min(duration, SHOWN_SECONDS) * fs))
    rows = {lead: np.asarray(row[:keep], dtype=np.float64) for lead, row in rows.items()}  # cut, then derive:
    derived = _derive_limb_leads(rows)  # the same samples, without a second copy of a long file
    lead_names = tuple(lead for lead in leadlib.LEADS if lead in rows)
    notes = [f"The first {SHOWN_SECONDS:g} s of {duration:.0f} s are shown."] if duration > SHOWN_SECONDS else []
    return UploadedRecord(signal=np.array([rows[lead] for lead in lead_names]), fs=float(fs),
                          lead_names=lead_names, name=name, duration_s=duration, derived=derived,
                          ignored=ignored, notes=notes)


def _derive_limb_leads(rows):
    """Fill in III, aVR, aVL, aVF (and I or II from the other and III) exactly; return the leads added."""
    added = []
    if "I" not in rows and {"II", "III"} <= set(rows):
        rows["I"] = rows["II"] - rows["III"]  # Einthoven: III = II - I
        added.append("I")
    if "II" not in rows and {"I", "III"} <= set(rows):
        rows["II"] = rows["I"] + rows["III"]
        added.append("II")
    if {"I", "II"} <= set(rows):
        for lead, values in zip(("III", "aVR", "aVL", "aVF"), leadlib.limb_leads(rows["I"], rows["II"])):
            if lead not in rows:
                rows[lead] = values
                added.append(lead)
    return tuple(added)


def measure(record):
    """{target: value} HR (bpm), PR, QRS, QT (ms) of the record's lead II (ecgcore.data.measure; NaN where
    neurokit2 could not measure it)."""
    from ecgcore.data.measure import intervals_of_record

    return intervals_of_record(record.lead(record.measured_lead), record.fs)


def twin_params(intervals):
    """(engine parameters, notes): a noise-free synthetic ECG with the measured HR, PR, QRS and QT (the QT
    itself, no rate correction, no beat-to-beat variability). A value not measured or outside the engine's
    range takes the default or the range's end, and a note says so."""
    from ecgcore.synth.params import MIN_T_MS, PARAMS, validate_params

    params, notes = {"hrv": 0.0, "qt_correction": "none"}, []
    for target in ("hr", "pr", "qrs", "qt"):
        spec, value = PARAMS[target], intervals.get(target, np.nan)
        if not np.isfinite(value):
            params[target] = spec["default"]
            notes.append(f"{target.upper()} not measured: the synthetic ECG uses {spec['default']:g} {spec['unit']}")
            continue
        params[target] = float(np.clip(value, spec["lo"], spec["hi"]))
        if params[target] != value:
            notes.append(f"{target.upper()} {value:.0f} {spec['unit']} is outside the engine's range: "
                         f"the synthetic ECG uses {params[target]:g} {spec['unit']}")
    if params["qt"] < params["qrs"] + MIN_T_MS:
        params["qt"] = params["qrs"] + MIN_T_MS
        notes.append(f"QT raised to {params['qt']:.0f} ms: the engine needs QRS + {MIN_T_MS:g} ms for ST and T")
    validate_params(params)
    return params, notes
