"""PTB-XL download against a local http.server in PhysioNet's layout (never the internet), and the `data` CLI."""

import functools
import http.server
import threading

import numpy as np
import pytest
from wfdb.io import download

from ecgcore import cli
from ecgcore.data.download import download_ptbxl
from ecgcore.data.ptbxl import load_ptbxl
from ptbxl_fixture import make_ptbxl_fixture

N_RECORDS = 14  # n_per_class=2: 10 single + 2 multi + 1 rhythm-only + 1 truncated (ecg_id 14)


class _Handler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep test output clean
        pass

    def do_GET(self):
        self.server.requests.append(self.path)
        super().do_GET()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """Serves a fixture as https://physionet.org/files/ serves PTB-XL: <index>/ptb-xl/1.0.3/..."""
    root = tmp_path_factory.mktemp("physionet")
    make_ptbxl_fixture(root / "ptb-xl" / "1.0.3", n_per_class=2, folds=(9, 10), fs=(100, 500))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Handler, directory=str(root)))
    httpd.requests = []
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    httpd.url = f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.source = root / "ptb-xl" / "1.0.3"
    yield httpd
    httpd.shutdown()


def _record_gets(server):
    return sorted(p for p in server.requests if "/records" in p)


def test_downloads_one_rate_checks_it_and_resumes(server, tmp_path):
    dest, calls = tmp_path / "ptbxl", []
    server.requests.clear()
    report = download_ptbxl(dest, fs=100, base_url=server.url, progress=lambda d, t: calls.append((d, t)))
    assert download.config.db_index_url == download.PN_INDEX_URL  # wfdb's global is put back
    assert report["records"] == N_RECORDS and report["fetched"] == N_RECORDS and report["already_complete"] == 0
    assert calls[0] == (0, N_RECORDS) and calls[-1] == (N_RECORDS, N_RECORDS)
    assert not (dest / "records500").exists() and not any("records500" in p for p in server.requests)
    assert [p["record"] for p in report["problems"]] == ["14"]  # the served record is truncated
    assert "truncated" in report["problems"][0]["reason"]
    for name in ("ptbxl_database.csv", "records100/00000/00003_lr.dat", "records100/00000/00003_lr.hea"):
        assert (dest / name).read_bytes() == (server.source / name).read_bytes()
    with pytest.warns(UserWarning, match="skipped 1"):
        got, want = load_ptbxl(dest), load_ptbxl(server.source)
    np.testing.assert_array_equal(got.signals, want.signals)

    # interrupted state: one record missing its signal file, one with a damaged header
    (dest / "records100/00000/00003_lr.dat").unlink()
    (dest / "records100/00000/00004_lr.hea").write_text("garbage")
    server.requests.clear()
    again = download_ptbxl(dest, fs=100, base_url=server.url)
    assert again["fetched"] == 3 and again["already_complete"] == N_RECORDS - 3  # 3, 4 and the bad 14
    assert _record_gets(server) == sorted(f"/ptb-xl/1.0.3/records100/00000/{i:05d}_lr.{ext}"
                                          for i in (3, 4, 14) for ext in ("hea", "dat"))
    assert [p["record"] for p in again["problems"]] == ["14"]
    assert (dest / "records100/00000/00004_lr.hea").read_bytes() == \
        (server.source / "records100/00000/00004_lr.hea").read_bytes()


def test_500_hz_fetches_records500_only(server, tmp_path):
    report = download_ptbxl(tmp_path / "hr", fs=500, base_url=server.url)
    assert report["records"] == N_RECORDS and [p["record"] for p in report["problems"]] == ["14"]
    assert (tmp_path / "hr/records500/00000/00001_hr.dat").is_file() and not (tmp_path / "hr/records100").exists()


def test_a_record_missing_on_the_server_is_listed(server, tmp_path):
    gone = server.source / "records100/00000/00002_lr.dat"
    kept = gone.read_bytes()
    gone.unlink()
    try:
        report = download_ptbxl(tmp_path / "p", base_url=server.url)
    finally:
        gone.write_bytes(kept)
    problems = {p["record"]: p["reason"] for p in report["problems"]}
    assert set(problems) == {"2", "14"} and "download failed" in problems["2"] and "404" in problems["2"]


def test_unreachable_index_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="cannot download PTB-XL's tables from http://127.0.0.1:9/ptb-xl/1.0.3/"):
        download_ptbxl(tmp_path / "x", base_url="http://127.0.0.1:9/")
    assert download.config.db_index_url == download.PN_INDEX_URL
    with pytest.raises(ValueError, match="fs=250"):
        download_ptbxl(tmp_path / "x", fs=250)


@pytest.fixture
def data_cli(monkeypatch):
    monkeypatch.setattr(cli, "COMMANDS", ["data"])  # only this module's subcommand, whatever others register
    return cli.main


def test_cli_downloads_then_reports_per_mode(server, tmp_path, data_cli, capsys):
    dest = tmp_path / "cli"
    assert data_cli(["data", "ptbxl", "--dest", str(dest), "--base-url", server.url]) == 1  # record 14 is bad
    out = capsys.readouterr().out
    assert f"{N_RECORDS} records listed, {N_RECORDS} fetched" in out and "14: records100/00000/00014_lr" in out
    (dest / "records100/00000/00014_lr.dat").write_bytes(
        (server.source / "records100/00000/00001_lr.dat").read_bytes())  # repaired by hand
    assert data_cli(["data", "ptbxl", "--dest", str(dest), "--base-url", server.url]) == 0
    assert "every record reads back" in capsys.readouterr().out
    assert data_cli(["data", "info", str(dest), "--val-fold", "10", "--test-fold", "8"]) == 0
    out = capsys.readouterr().out
    assert "validation fold 10; test fold 8" in out and "empty splits: test" in out
    assert "dropped 1 record(s) with no diagnostic superclass" in out


def test_cli_info_chooses_folds_automatically(tmp_path, data_cli, capsys):
    root = make_ptbxl_fixture(tmp_path / "no10", n_per_class=1, folds=(1, 8, 9), bad_record=False)
    assert data_cli(["data", "info", str(root)]) == 0
    assert "validation fold 8; test fold 9 (chosen automatically: fold 10 absent)" in capsys.readouterr().out
    assert data_cli(["data", "info", str(root), "--test-fold", "1"]) == 0
    assert "validation fold 8; test fold 1 (chosen automatically: fold 10 absent)" in capsys.readouterr().out


def test_cli_info_on_a_non_ptbxl_folder_exits_2(tmp_path, data_cli, capsys):
    (tmp_path / "empty").mkdir()
    assert data_cli(["data", "info", str(tmp_path / "empty")]) == 2
    assert "ptbxl_database.csv is missing" in capsys.readouterr().err
