"""AppTest of the Your ECG page and of the Explain page's uploaded record: upload, see, measure, explain."""

import numpy as np
import pytest
from upload_fixtures import KNOWN, csv_bytes, edf_bytes, known_ecg, wfdb_files

from ecgcore import jobs, runs
from ecgcore.leads import LEADS

from apptest import page


def your_ecg_page():
    """The page as the app serves it (through app.py's navigation, which its link to Explain needs)."""
    at = page("app")
    at.switch_page("views/8_Your_ECG.py")
    return at.run()


def upload(at, files, key):
    at.file_uploader(key=key).set_value([(name, data, "application/octet-stream") for name, data in files.items()])
    return at.run()


def metric(at, label):
    return next(m.value for m in at.metric if m.label.startswith(label))


@pytest.fixture(scope="module")
def ecg():
    return known_ecg()


def test_wfdb_upload_shows_the_record_its_intervals_and_its_synthetic_twin(tmp_path, ecg):
    at = your_ecg_page()
    assert not at.exception and "Upload a record" in at.info[0].value
    at = upload(at, wfdb_files(tmp_path, ecg[0]), "yours_files")
    assert not at.exception and not at.error
    assert float(metric(at, "Heart rate (bpm)")) == pytest.approx(KNOWN["hr"], abs=2)
    assert float(metric(at, "QRS duration (ms)")) == pytest.approx(KNOWN["qrs"], abs=25)
    assert float(metric(at, "PR interval (ms)")) == pytest.approx(KNOWN["pr"], abs=30)
    assert float(metric(at, "QT interval (ms)")) == pytest.approx(KNOWN["qt"], abs=40)
    charts = at.get("plotly_chart")
    assert len(charts) == 2
    titles = [c.proto.spec for c in charts]
    assert "Your ECG: rec" in titles[0] and "Synthetic ECG with the same intervals" in titles[1]
    assert '"name":"QRS onset"' in titles[0]  # neurokit2's wave marks are drawn (named in words)
    twin = next(c.value for c in at.caption if c.value.startswith("Parametric engine"))
    assert f"Heart rate {metric(at, 'Heart rate')} bpm" in twin  # the twin realises the measured intervals
    assert not any("Not in the file" in c.value for c in at.caption)  # all 12 leads, PTB-XL's AVR spelling
    assert at.get("download_button")
    # the way to Explain stays in this session (a new tab would not know the upload) and opens it as the record
    (link,) = at.get("page_link")
    assert link.proto.page == "Explain" and not link.proto.external
    assert "ex_source=uploaded" in link.proto.query_string


def test_edf_with_three_leads_says_what_is_missing_derived_and_ignored(tmp_path, ecg):
    data = edf_bytes(tmp_path, np.vstack([ecg[0][[0, 1, 6]], np.zeros((1, ecg[0].shape[1]))]),
                     ["ECG I", "ECG II", "ECG V1", "Resp"])
    at = upload(your_ecg_page(), {"rec.edf": data}, "yours_files")
    assert not at.exception and not at.error
    captions = " ".join(c.value for c in at.caption)
    assert "Not in the file: V2, V3, V4, V5, V6" in captions
    assert "Derived from the limb leads in the file (Einthoven, Goldberger): III, aVR, aVL, aVF" in captions
    assert "Channels that are not ECG leads, ignored: Resp" in captions
    assert float(metric(at, "Heart rate")) == pytest.approx(KNOWN["hr"], abs=2)


def test_csv_asks_its_rate_and_bad_files_say_why(ecg):
    at = your_ecg_page()
    at = upload(at, {"mine.csv": csv_bytes(ecg[0], LEADS)}, "yours_files")
    assert at.number_input(key="yours_csv_fs").value == 500
    assert not at.error and float(metric(at, "Heart rate")) == pytest.approx(KNOWN["hr"], abs=2)
    at.number_input(key="yours_csv_fs").set_value(1000).run()  # the same samples read at 1000 Hz: twice the rate
    assert not at.error and float(metric(at, "Heart rate")) == pytest.approx(2 * KNOWN["hr"], abs=4)
    at = upload(your_ecg_page(), {"mine.csv": csv_bytes(ecg[0][:, :1000], LEADS)}, "yours_files")
    assert "Cannot use this upload: mine.csv is too short: 2 s (1000 samples at 500 Hz)" in at.error[0].value
    assert at.file_uploader(key="yours_files").allowed_type == [".hea", ".dat", ".csv", ".txt", ".edf"]
    at = upload(your_ecg_page(), {"scan.edf": b"%PDF-1.4" * 100}, "yours_files")  # wrong format
    assert "scan.edf is not a readable EDF file" in at.error[0].value
    at = upload(your_ecg_page(), {"rec.dat": b"\0" * 100}, "yours_files")
    assert "a WFDB record is one .hea header with its .dat file; got rec.dat" in at.error[0].value
    at = upload(your_ecg_page(), {"a.csv": b"time,resp\n" + b"0,1\n" * 3000}, "yours_files")
    assert "no ECG lead recognised in a.csv: its channels are time, resp" in at.error[0].value
    at = upload(your_ecg_page(), {"a.csv": b"II\n" + b"0.1\n" * 2000 + b"\n" * 1 + b"0.1\n" * 2000},
                "yours_files")
    assert not at.error  # a blank line is skipped by the CSV reader, not a NaN


@pytest.fixture
def tiny_run(tmp_path, monkeypatch):
    """A done 12-lead pretraining run on 100 Hz records (trained in-process, tiny)."""
    from run_fixtures import tiny_config, tiny_dataset_npz

    monkeypatch.setenv("ECGCORE_RUNS", str(tmp_path / "runs"))
    monkeypatch.setattr(jobs, "start_queued", lambda runs_dir=None: [])
    npz = tiny_dataset_npz(tmp_path / "tiny.npz", n=30)
    run = runs.create_run(tiny_config(npz, targets=["hr", "qrs"], epochs=1), tmp_path / "runs")
    assert jobs.run_job(run.path) == "done"
    return run


def test_explain_an_uploaded_record_with_a_run(tiny_run, tmp_path, ecg):
    at = page("6_Explain").run()
    at.radio(key="ex_source").set_value("uploaded").run()
    assert not at.exception and any("Upload a record" in i.value for i in at.info)
    at = upload(at, wfdb_files(tmp_path, ecg[0]), "ex_files")
    assert not at.exception and not at.error
    heading = next(m.value for m in at.markdown if "output **Heart rate**" in m.value)
    assert runs.title(tiny_run) in heading and "bpm" in heading
    table = at.dataframe[0].value  # per-wave shares from neurokit2's delineation of the upload's lead II
    assert set(table["wave"]) == {"P", "QRS", "ST-T", "baseline"}
    assert table["share of time"].sum() == pytest.approx(100.0)  # percents
    # an upload without the precordial leads: the 12-lead run says plainly which it lacks
    data = edf_bytes(tmp_path, ecg[0][:2], ["I", "II"])
    at = upload(at, {"rec.edf": data}, "ex_files")
    assert f"Cannot explain {tiny_run.id}: the run reads leads I, II, III" in at.error[0].value
    assert "this record lacks V1, V2, V3, V4, V5, V6" in at.error[0].value


def test_a_z_scored_record_is_said_not_to_be_in_millivolts(ecg):
    signal = ecg[0][:, :2000]
    z = (signal - signal.mean(-1, keepdims=True)) / signal.std(-1, keepdims=True)  # as ptbxl-mini's records are
    at = upload(your_ecg_page(), {"z.csv": csv_bytes(z, LEADS)}, "yours_files")
    assert not at.exception
    (warning,) = [w for w in at.warning if "z-scored" in w.value]
    assert "not millivolts" in warning.value
    at = upload(your_ecg_page(), {"mv.csv": csv_bytes(signal, LEADS)}, "yours_files")
    assert not any("z-scored" in w.value for w in at.warning)
