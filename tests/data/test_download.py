"""PTB-XL download against a local http.server in PhysioNet's layout (never the internet), and the `data` CLI."""

import contextlib
import functools
import hashlib
import http.server
import subprocess
import sys
import threading
import time

import numpy as np
import pandas as pd
import pytest
from wfdb.io import download


from ecgcore import cli, files
from ecgcore.data import download as ecg_download
from ecgcore.data.download import download_ptbxl
from ecgcore.data.ptbxl import load_ptbxl
from ptbxl_fixture import make_ptbxl_fixture

from apptest import page

N_RECORDS = 14  # n_per_class=2: 10 single + 2 multi + 1 rhythm-only + 1 truncated (ecg_id 14)


class _Handler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep test output clean
        pass

    def do_GET(self):
        self.server.requests.append(self.path)
        super().do_GET()


@contextlib.contextmanager
def _serve(root):
    """An http.server on 127.0.0.1 serving `root`, which holds ptb-xl/1.0.3/ as PhysioNet's index does."""
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Handler, directory=str(root)))
    httpd.requests = []
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    httpd.url = f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.source = root / "ptb-xl" / "1.0.3"
    try:
        yield httpd
    finally:
        httpd.shutdown()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """Serves a fixture as https://physionet.org/files/ serves PTB-XL: <index>/ptb-xl/1.0.3/..."""
    root = tmp_path_factory.mktemp("physionet")
    make_ptbxl_fixture(root / "ptb-xl" / "1.0.3", n_per_class=2, folds=(9, 10), fs=(100, 500))
    with _serve(root) as httpd:
        yield httpd


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


@pytest.fixture
def hostile(tmp_path):
    """A mirror (its own copy of the fixture) whose database names record 2 as '../../victim/00002_lr' and
    record 3 by an absolute path; yields (server, the victim file outside every download folder)."""
    root = tmp_path / "mirror"
    source = make_ptbxl_fixture(root / "ptb-xl" / "1.0.3", n_per_class=1, folds=(9, 10), bad_record=False)
    victim = tmp_path / "victim" / "00002_lr.hea"
    victim.parent.mkdir()
    victim.write_text("precious")
    db = pd.read_csv(source / "ptbxl_database.csv")
    db.loc[db.ecg_id == 2, "filename_lr"] = "../../victim/00002_lr"
    db.loc[db.ecg_id == 3, "filename_lr"] = str(tmp_path / "victim" / "00003_lr")
    db.to_csv(source / "ptbxl_database.csv", index=False)
    with _serve(root) as httpd:
        yield httpd, victim


def test_record_names_leading_out_of_dest_are_refused_not_fetched(hostile, tmp_path):
    server, victim = hostile
    dest = tmp_path / "dl" / "ptbxl"
    report = download_ptbxl(dest, base_url=server.url)
    problems = {p["record"]: p["reason"] for p in report["problems"]}
    assert set(problems) == {"2", "3"} and all("leads outside the folder" in r for r in problems.values())
    assert victim.read_text() == "precious" and sorted(p.name for p in victim.parent.iterdir()) == ["00002_lr.hea"]
    assert not any("victim" in p for p in server.requests)
    with pytest.warns(UserWarning, match="skipped 2"):  # and the loader does not follow them either
        ds = load_ptbxl(dest)
    assert {s["record"] for s in ds.config["skipped"]} == {"2", "3"} and "2" not in ds.record_id


def _write_checksums(source):
    lines = [f"{hashlib.sha256(p.read_bytes()).hexdigest()}  {p.relative_to(source).as_posix()}"
             for p in sorted(source.rglob("*")) if p.is_file()]
    (source / "SHA256SUMS.txt").write_text("\n".join(lines) + "\n")


def test_downloads_are_checked_against_sha256sums_when_the_mirror_has_it(tmp_path):
    root = tmp_path / "mirror"
    source = make_ptbxl_fixture(root / "ptb-xl" / "1.0.3", n_per_class=1, folds=(9, 10), bad_record=False)
    _write_checksums(source)
    altered = source / "records100/00000/00004_lr.dat"
    data = bytearray(altered.read_bytes())
    data[-1] ^= 1  # a changed sample: the record still reads, only the checksum tells
    altered.write_bytes(bytes(data))
    dest = tmp_path / "dl"
    with _serve(root) as server:
        report = download_ptbxl(dest, base_url=server.url)
        assert [p["record"] for p in report["problems"]] == ["4"]
        assert "SHA-256 differs from SHA256SUMS.txt" in report["problems"][0]["reason"]
        assert (dest / "SHA256SUMS.txt").is_file()
        server.requests.clear()
        again = download_ptbxl(dest, base_url=server.url)  # the mismatching record is fetched again
        assert again["fetched"] == 1 and [p["record"] for p in again["problems"]] == ["4"]
        (source / "ptbxl_database.csv").write_text((source / "ptbxl_database.csv").read_text() + "\n")
        with pytest.raises(ValueError, match="ptbxl_database.csv: SHA-256 differs"):
            download_ptbxl(tmp_path / "dl2", base_url=server.url)


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


# ---- the background download the dashboard starts ----------------------------------------------------------

def _wait_until_finished(dest, limit_s=60):
    """Poll the status file until the detached download has ended (a guard against hanging, not a timing)."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        status = ecg_download.download_status(dest)
        if status["state"] != "running":
            return status
        time.sleep(0.2)
    raise AssertionError(f"the download into {dest} did not end: {ecg_download.download_status(dest)}")


def test_background_download_writes_a_done_status_with_the_counts(server, tmp_path):
    dest = tmp_path / "bg"
    first = ecg_download.start_download(dest, fs=100, base_url=server.url)
    assert first["state"] == "running" and first["pid"] and first["total"] is None
    status = _wait_until_finished(dest)
    assert status["state"] == "done" and status["error"] is None and status["pid"] == first["pid"]
    assert status["done"] == status["total"] == N_RECORDS
    report = status["report"]
    assert (report["records"], report["fetched"], report["already_complete"]) == (N_RECORDS, N_RECORDS, 0)
    assert report["problem_count"] == 1 and report["problems"][0]["record"] == "14"
    assert report["dest"] == str(dest.resolve()) and report["fs"] == 100
    assert "14 records listed" in (dest / ecg_download.LOG_FILE).read_text()  # the CLI's output went to the log

    # resume: only the bad record is fetched again
    ecg_download.start_download(dest, base_url=server.url)
    status = _wait_until_finished(dest)
    assert status["state"] == "done" and status["report"]["fetched"] == 1 and status["total"] == 1


@pytest.fixture
def running_download(tmp_path):
    """A folder whose status says running, held by a live process that looks like a download (its command
    line names ecgcore and ptbxl), 3 of 9 records done; yields (folder, process)."""
    dest = tmp_path / "busy"
    dest.mkdir()
    fake = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", "ecgcore", "data", "ptbxl"])
    files.write_json(dest / ecg_download.STATUS_FILE, {"state": "running", "pid": fake.pid, "done": 3, "total": 9})
    yield dest, fake
    fake.kill()
    fake.wait()


def test_a_second_start_while_one_runs_is_refused(running_download):
    dest, fake = running_download
    with pytest.raises(ValueError, match=rf"already running \(process {fake.pid}, 3/9 records\)"):
        ecg_download.start_download(dest, base_url="http://127.0.0.1:9/")
    with pytest.raises(ValueError, match="already running"):  # the CLI's own download refuses too
        ecg_download.tracked_download(dest, base_url="http://127.0.0.1:9/")
    assert ecg_download.download_status(dest)["pid"] == fake.pid  # untouched
    fake.kill()
    fake.wait()
    status = ecg_download.download_status(dest)  # its process is gone: interrupted
    assert status["state"] == "failed" and status["error"].startswith("interrupted")


def test_finetune_page_shows_a_running_download_and_refuses_a_second(running_download, tmp_path, monkeypatch):
    dest, fake = running_download
    monkeypatch.setenv("ECGCORE_RUNS", str(tmp_path / "runs"))
    at = page("3_Fine-tune").run()
    at.radio(key="ft_source").set_value("PTB-XL folder").run()
    at.text_input(key="ft_dl_dest").set_value(str(dest)).run()
    (bar,) = at.get("progress")
    assert bar.proto.value == 33 and bar.proto.text == "downloading: 3/9 records"
    at.button(key="ft_dl_start").click().run()
    assert len(at.error) == 1 and f"already running (process {fake.pid}" in at.error[0].value
    assert not at.exception and ecg_download.download_status(dest)["pid"] == fake.pid


def test_unreachable_server_ends_as_a_failed_status_with_a_readable_message(tmp_path):
    dest = tmp_path / "down"
    ecg_download.start_download(dest, base_url="http://127.0.0.1:9/")
    status = _wait_until_finished(dest)
    assert status["state"] == "failed" and status["report"] is None and status["finished"]
    assert status["error"].startswith("cannot download PTB-XL's tables from http://127.0.0.1:9/ptb-xl/1.0.3/")
    assert "Traceback" not in status["error"]


def test_finetune_page_starts_the_download_shows_progress_then_the_result(server, tmp_path, monkeypatch):
    monkeypatch.setenv(ecg_download.URL_ENV, server.url)  # the page starts downloads without a URL of its own
    monkeypatch.setenv("ECGCORE_RUNS", str(tmp_path / "runs"))
    dest = tmp_path / "from-page"
    at = page("3_Fine-tune").run()
    at.radio(key="ft_source").set_value("PTB-XL folder").run()
    at.text_input(key="ft_dl_dest").set_value(str(dest)).run()
    assert "ft_dl_use" not in [b.key for b in at.button]  # nothing downloaded there yet
    at.button(key="ft_dl_start").click().run()
    assert not at.exception and not at.error
    assert ecg_download.download_status(dest)["fs"] == 100 and at.button(key="ft_dl_start")
    _wait_until_finished(dest)
    at.run()
    assert f"{N_RECORDS} records checked ({N_RECORDS} fetched, 0 already complete)" in at.success[0].value
    assert "1 record(s) failed the check" in at.warning[-1].value
    at.button(key="ft_dl_use").click().run()
    assert at.text_input(key="ft_path").value == str(dest.resolve())
    assert not at.exception


def test_finetune_page_shows_a_failed_download_as_an_error(tmp_path, monkeypatch):
    monkeypatch.setenv(ecg_download.URL_ENV, "http://127.0.0.1:9/")
    monkeypatch.setenv("ECGCORE_RUNS", str(tmp_path / "runs"))
    dest = tmp_path / "fails"
    at = page("3_Fine-tune").run()
    at.radio(key="ft_source").set_value("PTB-XL folder").run()
    at.text_input(key="ft_dl_dest").set_value(str(dest)).run()
    at.button(key="ft_dl_start").click().run()
    _wait_until_finished(dest)
    at.run()
    assert len(at.error) == 1 and at.error[0].value.startswith(
        f"The download into {dest} failed: cannot download PTB-XL's tables from http://127.0.0.1:9/ptb-xl/1.0.3/")
    assert "Traceback" not in at.error[0].value and "ft_dl_use" not in [b.key for b in at.button]
    assert not at.exception
