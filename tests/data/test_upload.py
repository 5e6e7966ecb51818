"""ecgcore.data.upload: WFDB, CSV and EDF records read from bytes, leads matched by name, bad files refused."""

import numpy as np
import pandas as pd
import pytest

from upload_fixtures import csv_bytes, edf_bytes, known_ecg, wfdb_files

from ecgcore.data import upload
from ecgcore.leads import LEADS


@pytest.fixture(scope="module")
def ecg():
    """A 10 s, 500 Hz synthetic 12-lead ECG at 75 bpm (mV) and its labels."""
    return known_ecg()


@pytest.mark.parametrize("label, lead", [("AVR", "aVR"), ("avl", "aVL"), ("aVF", "aVF"), ("Lead II", "II"),
                                         ("ECG V1", "V1"), ("EKG-v6", "V6"), ("MLII", "II"), ("III", "III"),
                                         ("Resp", None), ("V7", None), ("", None)])
def test_lead_names_match_whatever_the_spelling(label, lead):
    assert upload.lead_name(label) == lead


def test_wfdb_pair_with_ptbxl_spelling_reads_all_twelve_leads_in_mv(tmp_path, ecg):
    signal, _ = ecg
    record = upload.read_upload(wfdb_files(tmp_path, signal))
    assert record.lead_names == LEADS and record.missing == () and record.derived == ()
    assert record.fs == 500 and record.signal.shape == (12, 5000) and record.name == "rec"
    np.testing.assert_allclose(record.signal, signal, atol=1e-3)  # 16-bit quantisation only


def test_wfdb_in_microvolts_is_converted_to_mv(tmp_path, ecg):
    signal, _ = ecg
    record = upload.read_upload(wfdb_files(tmp_path, signal * 1000, units="uV"))
    np.testing.assert_allclose(record.signal, signal, atol=1e-3)


def test_csv_with_eight_leads_derives_the_limb_leads_and_ignores_other_columns(ecg):
    signal, _ = ecg
    eight = ["I", "II", "V1", "V2", "V3", "V4", "V5", "V6"]
    data = csv_bytes(signal[[LEADS.index(n) for n in eight]], eight, time=np.arange(5000) / 500)
    record = upload.read_upload({"mine.csv": data}, fs=500)
    assert record.lead_names == LEADS and record.derived == ("III", "aVR", "aVL", "aVF")
    assert record.ignored == ("time",) and record.name == "mine.csv"
    np.testing.assert_allclose(record.signal, signal, atol=1e-6)  # Einthoven and Goldberger hold exactly


def test_csv_needs_its_rate_and_reads_semicolons_and_microvolts(ecg):
    signal, _ = ecg
    with pytest.raises(ValueError, match="sampling rate"):
        upload.read_upload({"a.csv": csv_bytes(signal, LEADS)})
    data = pd.DataFrame(signal.T * 1000, columns=LEADS).to_csv(index=False, sep=";").encode()
    record = upload.read_upload({"a.csv": data}, fs=500, units="uV")
    np.testing.assert_allclose(record.signal, signal, atol=1e-6)


def test_edf_reads_ecg_channels_says_what_is_missing_and_ignores_the_rest(tmp_path, ecg):
    signal, _ = ecg
    data = edf_bytes(tmp_path, np.vstack([signal[[0, 1, 6]], np.zeros((1, 5000))]),
                     ["ECG I", "ECG II", "ECG V1", "Resp"])
    record = upload.read_upload({"rec.edf": data})
    assert record.lead_names == ("I", "II", "III", "aVR", "aVL", "aVF", "V1")
    assert record.missing == ("V2", "V3", "V4", "V5", "V6") and record.ignored == ("Resp",)
    np.testing.assert_allclose(record.signal[[0, 1, 6]], signal[[0, 1, 6]], atol=1e-3)
    twelve = record.twelve()
    assert twelve.shape == (12, 5000) and np.isnan(twelve[LEADS.index("V3")]).all()
    with pytest.raises(ValueError, match=r"lacks V2, V3, V4, V5, V6"):
        record.needs("paper8")
    record.needs(["I", "II", "V1"])  # enough for a run on those leads


def test_long_records_are_cut_to_ten_seconds_and_say_so(ecg):
    signal, _ = ecg
    long = np.tile(signal, 3)
    record = upload.read_upload({"long.csv": csv_bytes(long, LEADS)}, fs=500)
    assert record.signal.shape == (12, 5000) and record.duration_s == pytest.approx(30.0)
    assert "first 10 s of 30 s" in record.notes[0]


@pytest.mark.parametrize("files, kwargs, message", [
    ({"x.png": b"\x89PNG"}, {}, "cannot read x.png: upload a WFDB pair"),
    ({"a.csv": b"a,b\n" + b"1,2\n" * 2000}, {"fs": 500}, r"no ECG lead recognised in a.csv: its channels are a, b"),
    ({"a.csv": b"II\n" + b"0.1\n" * 100}, {"fs": 500}, r"too short: 0.2 s \(100 samples at 500 Hz\)"),
    ({"a.csv": b"II,V1\n" + b"0.1,0.2\n" * 999 + b"0.1,\n" + b"0.1,0.2\n" * 1000}, {"fs": 500},
     r"lead V1 has 1 missing \(NaN\) samples, the first at 2.00 s"),
    ({"a.csv": b"II\n" + b"0.1\n" * 2000 + b"oops\n"}, {"fs": 500}, "column II, line 2002 holds 'oops'"),
    ({"a.csv": b"\x89PNG\x00\x01\xff"}, {"fs": 500}, "a.csv is not text in UTF-8"),
    ({"a.csv": b"II\n" + b"0.1\n" * 2000}, {"fs": 5}, "a.csv .*sampling rate 5 is not a rate.* 50-10000"),
    ({"r.hea": b"r 1 500 5000\nr.dat 16 200 16 0 0 0 0 II\n"}, {}, "one .hea header with its .dat file"),
    ({"r.hea": b"garbage", "r.dat": b"\x00" * 10}, {}, "r.hea is not a readable WFDB record"),
    ({"r.edf": b"not an edf file" * 50}, {}, "r.edf is not a readable EDF file"),
    ({}, {}, "no file given"),
])
def test_bad_files_get_a_clear_message(files, kwargs, message):
    with pytest.raises(ValueError, match=message):
        upload.read_upload(files, **kwargs)


def test_wfdb_header_naming_another_data_file_says_which(tmp_path, ecg):
    files = wfdb_files(tmp_path, ecg[0])
    with pytest.raises(ValueError, match=r"names a data file that is not in the upload \(rec.dat\)"):
        upload.read_upload({"rec.hea": files["rec.hea"], "other.dat": files["rec.dat"]})


def test_nothing_stays_on_disk(tmp_path, ecg, monkeypatch):
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    upload.read_upload(wfdb_files(tmp_path, ecg[0]))
    upload.read_upload({"rec.edf": edf_bytes(tmp_path, ecg[0][:2], ["I", "II"])})
    assert list((tmp_path / "tmp").iterdir()) == []


def test_measure_and_synthetic_twin_match_the_record(ecg):
    signal, labels = ecg
    record = upload.read_upload({"a.csv": csv_bytes(signal, LEADS)}, fs=500)
    measured = upload.measure(record)
    assert measured["hr"] == pytest.approx(labels["hr"], abs=2)
    assert measured["qrs"] == pytest.approx(labels["qrs"], abs=25)
    params, notes = upload.twin_params(measured)
    assert notes == [] and params["hrv"] == 0 and params["qt_correction"] == "none"
    assert {k: params[k] for k in ("hr", "pr", "qrs", "qt")} == pytest.approx(measured)


def test_twin_of_unmeasured_or_out_of_range_intervals_says_what_it_used():
    params, notes = upload.twin_params({"hr": 260.0, "pr": np.nan, "qrs": 190.0, "qt": 260.0})
    assert params["hr"] == 200 and params["pr"] == 160 and params["qt"] == 310
    assert notes == ["HR 260 bpm is outside the engine's range: the synthetic ECG uses 200 bpm",
                     "PR not measured: the synthetic ECG uses 160 ms",
                     "QT raised to 310 ms: the engine needs QRS + 120 ms for ST and T"]


def test_saved_csv_reads_back(ecg):
    record = upload.read_upload({"a.csv": csv_bytes(ecg[0], LEADS)}, fs=500)
    again = upload.read_upload({"a.csv": record.to_csv().encode()}, fs=500)
    np.testing.assert_allclose(again.signal, record.signal, atol=1e-4)


# ---- what an adversarial upload gets: a clear refusal, never a silent guess --------------------------------

def with_rate(files, rate):
    """The WFDB pair with its header's sampling rate field replaced by the text `rate`."""
    head = files["rec.hea"].decode().split("\n")
    first = head[0].split()
    first[2] = rate
    return {**files, "rec.hea": "\n".join([" ".join(first), *head[1:]]).encode()}


@pytest.mark.parametrize("rate", ["-100", "nan", "inf", "1e12", "0", "abc"])
def test_a_wfdb_header_rate_that_is_not_a_rate_is_refused_and_named(tmp_path, ecg, rate):
    files = with_rate(wfdb_files(tmp_path, ecg[0]), rate)
    with pytest.raises(ValueError, match=rf"rec.hea.*sampling rate '?{rate}'? .*50-10000"):
        upload.read_upload(files)


def test_a_wfdb_header_rate_in_range_is_read_as_written(tmp_path, ecg):
    assert upload.read_upload(with_rate(wfdb_files(tmp_path, ecg[0]), "500.0")).fs == 500.0


@pytest.mark.parametrize("name", ["..", "", "."])
def test_a_file_name_that_is_no_name_is_refused(tmp_path, ecg, name):
    files = {**wfdb_files(tmp_path, ecg[0]), name: b"x"}
    with pytest.raises(ValueError, match="is not a file name"):
        upload.read_upload(files)


def test_a_wfdb_header_naming_a_data_file_outside_the_upload_is_refused(tmp_path, ecg):
    files = wfdb_files(tmp_path, ecg[0])
    files["rec.hea"] = files["rec.hea"].replace(b"rec.dat", b"../rec.dat")
    with pytest.raises(ValueError, match=r"rec.hea names the data file '../rec.dat'"):
        upload.read_upload(files)


def test_a_wfdb_record_with_a_unicode_name_reads_or_says_what_to_rename(tmp_path, ecg):
    files = wfdb_files(tmp_path, ecg[0], record="ekg_ü")
    try:
        record = upload.read_upload(files)
    except ValueError as e:
        assert "ekg_ü" in str(e) and "rename" in str(e) and "kg_" not in str(e).replace("ekg_ü", "")
    else:
        assert record.signal.shape == (12, 5000)


def test_csv_true_false_cells_are_not_numbers(ecg):
    data = b"II,V1\n" + b"0.1,True\n" * 1000 + b"0.1,False\n" * 1000  # pandas reads V1 as booleans
    with pytest.raises(ValueError, match=r"column V1, line 2 holds 'True', not a number"):
        upload.read_upload({"a.csv": data}, fs=500)


@pytest.mark.parametrize("data, message", [
    (b"", r"a.csv is empty"),
    (b"II,V1\n\xa4\xa4,1\n", r"a.csv is not text in UTF-8"),
])
def test_csv_messages_say_what_is_wrong_in_words(data, message):
    with pytest.raises(ValueError, match=message) as caught:
        upload.read_upload({"a.csv": data}, fs=500)
    assert "codec" not in str(caught.value) and "No columns to parse" not in str(caught.value)
