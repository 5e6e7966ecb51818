import os
import shutil

import numpy as np
import pandas as pd
import pytest
import wfdb

from ecgcore.data import ptbxl
from ecgcore.data.dataset import DataSet
from ecgcore.data.ptbxl import load_ptbxl, summary
from ecgcore.data.sources import load_dataset
from ecgcore.data.splits import split
from ecgcore.labels import CLASS_NAMES
from ptbxl_fixture import make_ptbxl_fixture

BAD_ID = "24"  # the fixture's truncated record (defaults: 20 single + 2 multi + 1 rhythm-only + 1 bad)


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    return make_ptbxl_fixture(tmp_path_factory.mktemp("ptbxl") / "base")


@pytest.fixture
def folder(base, tmp_path):
    """A private copy, free to damage."""
    return shutil.copytree(base, tmp_path / "ptbxl")


def _damage(folder, ecg_id, edit):
    """Apply `edit(path_without_suffix)` to one record of the 100 Hz set."""
    db = pd.read_csv(folder / "ptbxl_database.csv", index_col="ecg_id")
    edit(folder / db.loc[ecg_id, "filename_lr"])


def test_loads_raw_signals_labels_and_folds(base):
    with pytest.warns(UserWarning, match=f"skipped 1 bad record.*{BAD_ID}"):
        ds = load_ptbxl(base)
    assert ds.signals.shape == (22, 12, 1000) and ds.signals.dtype == np.float32
    assert ds.fs == 100 and ds.lead_names[3:6] == ("aVR", "aVL", "aVF")
    assert BAD_ID not in ds.record_id and "23" not in ds.record_id  # truncated; rhythm statement only
    # signals are exactly what wfdb reads (raw mV, no preprocessing)
    first = wfdb.rdsamp(str(base / "records100/00000/00001_lr"))[0]
    np.testing.assert_allclose(ds.signals[0], first.T, atol=1e-6)
    single = ds.label >= 0
    assert single.sum() == 20 and np.bincount(ds.label[single]).tolist() == [4] * 5
    np.testing.assert_array_equal(ds.multilabel[single].argmax(1), ds.label[single])
    mi_cd = ds.multilabel[list(ds.record_id).index("21")]
    assert mi_cd.tolist() == [0, 1, 0, 1, 0] and ds.label[list(ds.record_id).index("21")] == -1
    assert set(ds.fold) == {7, 8, 9, 10}
    assert ds.config["val_fold"] == 9 and ds.config["test_fold"] == 10
    assert ds.config["no_superclass"] == ["23"]
    assert [s["record"] for s in ds.config["skipped"]] == [BAD_ID]
    assert "truncated" in ds.config["skipped"][0]["reason"]


def test_report_per_mode(base, tmp_path):
    with pytest.warns(UserWarning):
        ds = load_ptbxl(base)
    report = ds.config["report"]
    assert DataSet.load(ds.save(tmp_path / "ds.npz")).config["report"] == report  # JSON-safe, round trips
    assert report["records_per_fold"] == {"7": 6, "8": 6, "9": 5, "10": 5}
    multi, single = report["modes"]["multi"], report["modes"]["single"]
    assert multi["records"] == 22 and single["records"] == 20
    assert multi["class_counts"] == {"NORM": 4, "MI": 5, "STTC": 5, "CD": 5, "HYP": 5}
    assert single["class_counts"] == dict.fromkeys(CLASS_NAMES, 4)
    assert single["splits"] == {"train": 10, "val": 5, "test": 5} and single["empty_splits"] == []
    assert report["splits"] == {"train": [7, 8], "val": 9, "test": 10}
    assert report["no_superclass"] == 1 and report["skipped"][0]["record"] == BAD_ID


def test_absent_test_fold_is_an_empty_split_not_an_error(base):
    ds = load_ptbxl(base, folds=[7, 8, 9])  # the bad record lies in fold 10: no warning
    assert set(ds.fold) == {7, 8, 9}
    assert ds.config["report"]["modes"]["multi"]["empty_splits"] == ["test"]
    assert "empty splits: test" in summary(ds)
    moved = load_ptbxl(base, folds=[7, 8, 9], val_fold=8, test_fold=9)
    assert moved.config["report"]["modes"]["multi"]["empty_splits"] == []
    assert moved.config["report"]["splits"]["train"] == [7]


@pytest.fixture(scope="module")
def no_fold_10(tmp_path_factory):
    """Like ptbxl-mini: no fold 10."""
    return make_ptbxl_fixture(tmp_path_factory.mktemp("ptbxl") / "no10", n_per_class=4, folds=(6, 7, 8, 9),
                              bad_record=False)


def test_auto_folds_are_9_and_10_when_fold_10_is_present(base):
    with pytest.warns(UserWarning):
        ds = load_ptbxl(base)
    assert (ds.config["val_fold"], ds.config["test_fold"]) == (9, 10)
    assert ds.config["report"]["fold_choice"] == "chosen automatically"
    assert "validation fold 9; test fold 10 (chosen automatically)" in summary(ds)


def test_auto_folds_are_8_and_9_without_fold_10(no_fold_10):
    ds = load_ptbxl(no_fold_10)
    assert (ds.config["val_fold"], ds.config["test_fold"]) == (8, 9)
    report = ds.config["report"]
    assert report["splits"] == {"train": [6, 7], "val": 8, "test": 9}
    assert report["modes"]["multi"]["splits"] == {"train": 12, "val": 5, "test": 5}  # 5 per fold + 2 multi
    assert report["modes"]["multi"]["empty_splits"] == []
    assert "validation fold 8; test fold 9 (chosen automatically: fold 10 absent)" in summary(ds)
    parts = split(ds)  # training splits by the folds the loader chose
    assert set(ds.fold[parts.val]) == {8} and set(ds.fold[parts.test]) == {9}
    assert set(ds.fold[parts.train]) == {6, 7}


def test_given_folds_are_kept_even_when_absent(no_fold_10):
    ds = load_ptbxl(no_fold_10, val_fold=9, test_fold=10)
    assert (ds.config["val_fold"], ds.config["test_fold"]) == (9, 10) and ds.config["fold_choice"] == ""
    assert ds.config["report"]["modes"]["multi"]["empty_splits"] == ["test"]
    assert "test fold 10\n" in summary(ds) and "empty splits: test" in summary(ds)
    one_given = load_ptbxl(no_fold_10, val_fold=6)  # the other fold stays auto
    assert (one_given.config["val_fold"], one_given.config["test_fold"]) == (6, 9)
    with pytest.raises(ValueError, match="test_fold=8 both mean fold 8"):
        load_ptbxl(no_fold_10, test_fold=8)  # auto validation would be 8 too
    with pytest.raises(ValueError, match="val_fold='9' is invalid"):
        load_ptbxl(no_fold_10, val_fold="9")


def test_auto_and_given_folds_share_the_cached_records_not_the_choice(no_fold_10, monkeypatch, tmp_path):
    monkeypatch.setenv("ECGCORE_CACHE", str(tmp_path))  # an empty cache: the first load reads every record
    calls = []
    real = ptbxl.read_record
    monkeypatch.setattr(ptbxl, "read_record", lambda *a, **k: calls.append(a) or real(*a, **k))
    given = load_ptbxl(no_fold_10, val_fold=7, test_fold=6)
    auto = load_ptbxl(no_fold_10)
    assert (given.config["val_fold"], given.config["test_fold"]) == (7, 6)
    assert (auto.config["val_fold"], auto.config["test_fold"]) == (8, 9)
    assert auto.config["report"]["splits"]["train"] == [6, 7]
    assert len(calls) == len(auto) == 22  # read once; the second load is the cached arrays with its own folds


def test_cached_second_load_and_edited_folder_reloads(folder, monkeypatch):
    calls = []
    real = ptbxl.read_record
    monkeypatch.setattr(ptbxl, "read_record", lambda *a, **k: calls.append(a) or real(*a, **k))
    with pytest.warns(UserWarning):
        first = load_ptbxl(folder)
    n_reads = len(calls)
    assert n_reads == 23
    with pytest.warns(UserWarning):
        again = load_ptbxl(folder, val_fold=8, test_fold=7)  # split choice alone needs no re-read
    assert len(calls) == n_reads and again.config["test_fold"] == 7
    np.testing.assert_array_equal(again.signals, first.signals)
    # HYP records now also carry STTC: an edited CSV reloads, and single-label mode has no HYP left
    db = pd.read_csv(folder / "ptbxl_database.csv")
    db["scp_codes"] = db["scp_codes"].str.replace("{'LVH': 100.0}", "{'LVH': 100.0, 'NDT': 100.0}", regex=False)
    db.to_csv(folder / "ptbxl_database.csv", index=False)
    with pytest.warns(UserWarning):
        edited = load_ptbxl(folder)
    assert len(calls) == 2 * n_reads
    assert edited.config["report"]["modes"]["single"]["missing_classes"] == ["HYP"]
    assert "no records of: HYP" in summary(edited)
    # a record file rewritten (newer timestamp) reloads too
    record = folder / "records100/00000/00001_lr.dat"
    os.utime(record, (record.stat().st_atime, record.stat().st_mtime + 10))
    with pytest.warns(UserWarning):
        load_ptbxl(folder)
    assert len(calls) == 3 * n_reads


def _write_header(path, text):
    path.with_suffix(".hea").write_text(text)


@pytest.mark.parametrize("edit, reason", [
    (lambda p: p.with_suffix(".hea").unlink(), ".hea is missing"),
    (lambda p: p.with_suffix(".dat").unlink(), "signal file missing"),
    (lambda p: _write_header(p, "this is not a header\n"), "corrupt header"),
    (lambda p: _write_header(p, p.with_suffix(".hea").read_text().replace(" 12 100 1000", " 12 250 1000", 1)),
     "sampling rate 250 Hz, expected 100 Hz"),
    (lambda p: _write_header(p, p.with_suffix(".hea").read_text().replace(" V6\n", " V7\n")), "['V6'] not in"),
])
def test_a_bad_record_is_skipped_with_its_reason(folder, edit, reason):
    _damage(folder, 5, edit)
    with pytest.warns(UserWarning, match="skipped 2 bad record"):
        ds = load_ptbxl(folder)
    assert len(ds) == 21 and "5" not in ds.record_id
    skipped = {s["record"]: s["reason"] for s in ds.config["skipped"]}
    assert reason in skipped["5"] and "00005_lr" in skipped["5"]


def test_nan_samples_skip_the_record_only_when_a_chosen_lead_has_them(folder):
    path = folder / "records100/00000/00005_lr"
    record = wfdb.rdrecord(str(path), physical=False)
    record.d_signal[10:13, 2] = -32768  # WFDB's "no sample" value, read back as NaN, in lead III
    record.wrsamp(write_dir=str(path.parent))
    with pytest.warns(UserWarning):
        ds = load_ptbxl(folder)
    skipped = {s["record"]: s["reason"] for s in ds.config["skipped"]}
    assert "3 NaN samples in lead(s) III" in skipped["5"]
    with pytest.warns(UserWarning):
        assert "5" in load_ptbxl(folder, leads="paper8").record_id  # III is not among the paper's 8 leads


def test_bad_scp_codes_and_fold_skip_the_record(folder):
    db = pd.read_csv(folder / "ptbxl_database.csv")
    db.loc[db.ecg_id == 2, "scp_codes"] = "NORM 100"
    db.loc[db.ecg_id == 3, "strat_fold"] = np.nan
    db.to_csv(folder / "ptbxl_database.csv", index=False)
    with pytest.warns(UserWarning, match="skipped 3"):
        ds = load_ptbxl(folder)
    skipped = {s["record"]: s["reason"] for s in ds.config["skipped"]}
    assert "not a dict literal" in skipped["2"] and "not a fold number" in skipped["3"]


def test_one_text_fold_skips_only_its_record(folder):
    db = pd.read_csv(folder / "ptbxl_database.csv")
    db["strat_fold"] = db["strat_fold"].astype(object)
    db.loc[db.ecg_id == 3, "strat_fold"] = "ten"  # the whole column is read as text now
    db.to_csv(folder / "ptbxl_database.csv", index=False)
    with pytest.warns(UserWarning, match="skipped 2"):  # the text fold and the fixture's truncated record
        ds = load_ptbxl(folder)
    skipped = {s["record"]: s["reason"] for s in ds.config["skipped"]}
    assert set(skipped) == {"3", BAD_ID} and "strat_fold 'ten' is not a fold number" in skipped["3"]
    assert len(ds) == 21 and ds.fold.dtype == np.int64  # 24 less the two and the rhythm-only one
    with pytest.warns(UserWarning):
        assert set(load_ptbxl(folder, folds=[9, 10]).fold) == {9, 10}


def test_a_record_name_leading_out_of_the_folder_is_refused(folder, tmp_path):
    outside = shutil.copytree(folder / "records100", tmp_path / "elsewhere")
    db = pd.read_csv(folder / "ptbxl_database.csv")
    db.loc[db.ecg_id == 2, "filename_lr"] = "../elsewhere/00000/00002_lr"
    db.loc[db.ecg_id == 3, "filename_lr"] = str(outside / "00000" / "00003_lr")
    db.to_csv(folder / "ptbxl_database.csv", index=False)
    with pytest.warns(UserWarning, match="skipped 3"):
        ds = load_ptbxl(folder)
    skipped = {s["record"]: s["reason"] for s in ds.config["skipped"]}
    assert "leads outside the folder" in skipped["2"] and "leads outside the folder" in skipped["3"]
    assert "2" not in ds.record_id and "3" not in ds.record_id


def test_paper8_leads_are_the_matching_channels(base):
    with pytest.warns(UserWarning):
        full, eight = load_ptbxl(base), load_ptbxl(base, leads="paper8")
    assert eight.lead_names == ("I", "II", "V1", "V2", "V3", "V4", "V5", "V6")
    np.testing.assert_array_equal(eight.signals, full.signals[:, [0, 1, 6, 7, 8, 9, 10, 11]])


def test_500_hz_reads_records500(tmp_path):
    root = make_ptbxl_fixture(tmp_path / "hr", n_per_class=1, folds=(9, 10), fs=(500,), bad_record=False)
    ds = load_ptbxl(root, fs=500)
    assert ds.fs == 500 and ds.signals.shape == (7, 12, 5000)
    with pytest.raises(ValueError, match="no records100/ folder"):
        load_ptbxl(root, fs=100)


def test_unusable_folder_errors_name_the_problem(folder, tmp_path):
    with pytest.raises(ValueError, match="PTB-XL folder not found"):
        load_ptbxl(tmp_path / "nowhere")
    with pytest.raises(ValueError, match="fs=250"):
        load_ptbxl(folder, fs=250)
    with pytest.raises(ValueError, match="leads="):
        load_ptbxl(folder, leads="paper9")
    with pytest.raises(ValueError, match="must differ"):
        load_ptbxl(folder, val_fold=9, test_fold=9)
    with pytest.raises(ValueError, match="no records in folds"):
        load_ptbxl(folder, folds=[1])
    statements = (folder / "scp_statements.csv").read_bytes()
    (folder / "scp_statements.csv").unlink()
    with pytest.raises(ValueError, match="scp_statements.csv is missing"):
        load_ptbxl(folder)
    (folder / "scp_statements.csv").write_bytes(statements)
    db = pd.read_csv(folder / "ptbxl_database.csv")
    db.drop(columns="strat_fold").to_csv(folder / "ptbxl_database.csv", index=False)
    with pytest.raises(ValueError, match=r"ptbxl_database.csv lacks the column\(s\) \['strat_fold'\]"):
        load_ptbxl(folder)
    (folder / "ptbxl_database.csv").write_bytes(b"ecg_id,scp_codes\n1,\"{'NORM': 100.0}\n")  # unclosed quote
    with pytest.raises(ValueError, match="ptbxl_database.csv is not a readable CSV"):
        load_ptbxl(folder)


def test_every_record_bad_is_an_error(folder):
    shutil.rmtree(folder / "records100/00000")
    (folder / "records100").mkdir(exist_ok=True)
    with pytest.raises(ValueError, match="no usable record.*.hea is missing"):
        load_ptbxl(folder)


def test_source_spec_routes_here_with_json_options(base):
    calls = []
    with pytest.warns(UserWarning):
        ds = load_dataset({"source": "ptbxl", "path": str(base), "fs": 100, "leads": "paper8", "val_fold": 8,
                           "test_fold": 9, "folds": [8, 9, 10]})
        load_ptbxl(base, folds=[8, 9], progress=lambda done, total: calls.append((done, total)))
    assert ds.signals.shape[1] == 8 and ds.config["val_fold"] == 8 and set(ds.fold) == {8, 9, 10}
    assert calls[-1][0] == calls[-1][1] == 11  # 5 + 5 single-label records + one multi-label


def test_fine_tuning_splits_by_the_chosen_folds(base):
    """End to end through the data spec: training holds out exactly the validation and test folds."""
    from ecgcore.config import JobConfig
    from ecgcore.train import fit

    config = JobConfig(task="finetune", label_mode="multi", epochs=1, batch_size=8, device="cpu",
                       data={"source": "ptbxl", "path": str(base), "val_fold": 9, "test_fold": 10})
    with pytest.warns(UserWarning, match="skipped 1"):
        result = fit(config, log=lambda *_: None)
    s = result.summary
    assert (s["n_train"], s["n_val"], s["n_test"]) == (12, 5, 5)
    # fixture: record r of class c has ecg_id 4c + r + 1 and lies in fold index (r + c) % 4; fold 10 is index 3
    in_test = [str(4 * c + r + 1) for c in range(5) for r in range(4) if (r + c) % 4 == 3]
    assert sorted(result.predictions["record_id"].tolist()) == sorted(in_test)
    assert result.predictions["y_score"].shape == (5, 5)


def test_the_chunked_read_gives_each_record_as_read_alone(folder, monkeypatch, tmp_path):
    monkeypatch.setenv("ECGCORE_CACHE", str(tmp_path))
    monkeypatch.setattr(ptbxl, "FLUSH_EVERY", 3)  # several flushes of the file being written
    ds = load_ptbxl(folder)
    assert isinstance(ds.signals, np.memmap)  # read back from the cache entry, memory-mapped
    database, _ = ptbxl.read_tables(folder)
    for i, ecg_id in enumerate(ds.record_id):
        alone = ptbxl.read_record(folder, database.loc[int(ecg_id), "filename_lr"], 100)
        np.testing.assert_array_equal(ds.signals[i], alone)


def test_a_folder_read_by_worker_processes_gives_the_same_data_set(folder, monkeypatch, tmp_path):
    _damage(folder, 3, lambda base: base.with_suffix(".hea").unlink())  # one more bad record, read by a worker
    monkeypatch.setenv("ECGCORE_CACHE", str(tmp_path / "serial"))
    monkeypatch.setenv(ptbxl.READ_WORKERS_ENV, "1")
    serial = load_ptbxl(folder)
    monkeypatch.setenv("ECGCORE_CACHE", str(tmp_path / "pool"))
    monkeypatch.setenv(ptbxl.READ_WORKERS_ENV, "2")
    monkeypatch.setattr(ptbxl, "PARALLEL_FROM", 0)  # the fixture's few records through the pool
    monkeypatch.setattr(ptbxl, "READ_WINDOW", 5)  # several windows
    seen = []
    pooled = load_ptbxl(folder, progress=lambda done, total: seen.append((done, total)))
    np.testing.assert_array_equal(pooled.signals, serial.signals)
    for name in ("label", "multilabel", "fold", "record_id"):
        np.testing.assert_array_equal(getattr(pooled, name), getattr(serial, name))
    assert pooled.config["skipped"] == serial.config["skipped"]
    assert [s["record"] for s in pooled.config["skipped"]] == ["3", BAD_ID]  # in the folder's order
    assert seen[-1][0] == seen[-1][1] and [d for d, _ in seen] == sorted(d for d, _ in seen)
    monkeypatch.setenv(ptbxl.READ_WORKERS_ENV, "many")
    with pytest.raises(ValueError, match="ECGCORE_READ_WORKERS='many' is invalid"):
        ptbxl.read_workers()


def test_rhythm_statements_are_a_label_set(tmp_path):
    from ecgcore.data.ptbxl import class_balance
    from ecgcore.data.sources import load_dataset, parse
    from ptbxl_fixture import RHYTHMS

    folder = make_ptbxl_fixture(tmp_path / "ptbxl", rhythms=True)
    ds = load_ptbxl(folder, statements="rhythm")
    assert ds.class_names == RHYTHMS and ds.multilabel.shape[1] == 3
    assert ds.config["statements"] == "rhythm" and set(ds.label) == {0, 1, 2}  # one rhythm statement per record
    ids = [int(r) for r in ds.record_id]
    np.testing.assert_array_equal(ds.label, [i % 3 for i in ids])
    # the record with no diagnostic superclass has a rhythm: kept here, dropped with the superclasses
    assert len(ds) == len(load_ptbxl(folder)) + 1
    table, absent = class_balance(folder, "single", statements="rhythm")
    assert list(table.columns) == [*RHYTHMS, "records"] and not absent
    assert load_dataset({"source": "ptbxl", "path": str(folder), "statements": "rhythm"}).class_names == RHYTHMS
    with pytest.raises(ValueError, match="data.statements='rhythms' is invalid"):
        parse({"source": "ptbxl", "path": str(folder), "statements": "rhythms"})


def test_a_folder_whose_records_carry_no_rhythm_statement_says_so(tmp_path):
    folder = make_ptbxl_fixture(tmp_path / "ptbxl")  # one record with SR; the others none: like the mini folder
    ds = load_ptbxl(folder, statements="rhythm")
    assert ds.class_names == ("SR",) and len(ds) == 1
    statements = folder / "scp_statements.csv"
    statements.write_text(statements.read_text().replace(",1.0,", ",,"))
    with pytest.raises(ValueError, match="marks no statement as a rhythm statement"):
        load_ptbxl(folder, statements="rhythm")


def test_the_report_says_when_records_look_z_scored(tmp_path):
    folder = make_ptbxl_fixture(tmp_path / "ptbxl", bad_record=False)
    raw = load_ptbxl(folder)
    assert raw.config["report"]["looks_z_scored"] is False and "z-scored" not in summary(raw)
    for header in folder.glob("records100/*/*.hea"):  # rewrite every record as z-scores (as ptbxl-mini's are)
        record = wfdb.rdrecord(str(header.with_suffix("")))
        x = record.p_signal
        z = (x - x.mean(0)) / x.std(0)
        wfdb.wrsamp(header.stem, fs=record.fs, units=record.units, sig_name=record.sig_name, p_signal=z,
                    fmt=["16"] * 12, adc_gain=[1000.0] * 12, baseline=[0] * 12, write_dir=str(header.parent))
    z_scored = load_ptbxl(folder)
    assert z_scored.config["report"]["looks_z_scored"] is True
    assert "look z-scored per lead" in summary(z_scored)
