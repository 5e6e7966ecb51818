"""End to end in Debian chromium through playwright: Synthesize, a tiny pretraining, Runs.

Starts `streamlit run app.py` on a free port with its own runs folder and cache; screenshots go to a temporary
folder (`shots`) and their paths are printed (pytest -s shows them). Skipped only when chromium is not installed.
"""

import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from ecgcore import jobs, runs

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
JOB_S = 180  # a tiny pretraining: process start, torch import, 100 ECGs, one epoch, on 2 busy cores
WAIT_MS = 120_000  # a page's last element, on a machine other engineers load too


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("browser")
    port = free_port()
    env = dict(os.environ, ECGCORE_RUNS=str(tmp / "runs"), ECGCORE_CACHE=str(tmp / "cache"), ECGCORE_MAX_JOBS="1")
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true", "--server.address",
         "127.0.0.1", "--server.port", str(port), "--server.fileWatcherType", "none",
         "--browser.gatherUsageStats", "false"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(base + "/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    break
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"streamlit did not start: {proc.stdout.read().decode(errors='replace')[-2000:]}")
        time.sleep(0.3)
    yield base, tmp / "runs"
    for run in runs.list_runs(tmp / "runs"):
        jobs.cancel(run)
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture(scope="module")
def shots(tmp_path_factory):
    """shots(page, name): a full-page screenshot in this module's temporary folder; its path is printed."""
    folder = tmp_path_factory.mktemp("screenshots")

    def shoot(page, name):
        path = folder / f"{name}.png"
        page.screenshot(path=path, full_page=True)
        print(f"screenshot: {path}")
        return path

    return shoot


@pytest.fixture(scope="module")
def browser():
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.skip("Debian chromium is not installed (make chromium installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        yield b
        b.close()


def metric(page, label):
    """The value shown by the st.metric whose label starts with `label`."""
    box = page.locator('[data-testid="stMetric"]').filter(has_text=label)
    return box.locator('[data-testid="stMetricValue"]').inner_text()


def ecg_path(page):
    return page.locator(".js-plotly-plot .scatterlayer .trace path.js-line").first.get_attribute("d")


def new_page(browser):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.set_default_timeout(WAIT_MS)
    return page


def test_synthesize_pretrain_runs_end_to_end(browser, server, shots):  # browser first: it may skip
    base, runs_dir = server
    page = new_page(browser)

    page.goto(base)
    page.get_by_role("button", name="Run the demo").wait_for()  # the last widget the home page writes
    page.get_by_text("No run is in progress").wait_for()
    shots(page, "home")

    # Synthesize: move the heart-rate slider; the plot and the HR label change
    page.goto(base + "/Synthesize")
    page.locator(".js-plotly-plot .scatterlayer .trace path.js-line").first.wait_for()
    hr_before, path_before = metric(page, "HR"), ecg_path(page)
    assert hr_before == "70"
    slider = page.get_by_role("slider").first  # Rhythm tab, first parameter: hr
    slider.focus()
    slider.press("End")  # the slider's maximum, 200 bpm
    page.wait_for_function("() => [...document.querySelectorAll('[data-testid=stMetricValue]')]"
                           ".some(e => e.innerText !== '70' && /^\\d+$/.test(e.innerText)"
                           " && e.closest('[data-testid=stMetric]').innerText.startsWith('HR'))")
    hr_after = metric(page, "HR")
    assert int(hr_after) > 150
    page.wait_for_function("(d) => document.querySelector('.js-plotly-plot .scatterlayer .trace path.js-line')"
                           ".getAttribute('d') !== d", arg=path_before)
    assert "hr=200" in page.url  # the setting lives in the link
    shots(page, "synthesize")

    # Pretrain: a tiny job; its learning curve appears
    page.goto(base + "/Pretrain")
    ecgs = page.get_by_label("ECGs")
    ecgs.fill("100")
    ecgs.press("Enter")
    epochs = page.get_by_label("Epochs")
    epochs.fill("1")
    epochs.press("Enter")
    page.get_by_role("button", name="Start pretraining").click()
    page.get_by_text("Started").wait_for()
    page.locator(".js-plotly-plot").first.wait_for(timeout=JOB_S * 1000)  # the learning curves
    shots(page, "pretrain")
    run = runs.list_runs(runs_dir)[0]

    # Runs: the run is listed, by its name and start time
    page.goto(base + "/Runs")
    picker = page.get_by_role("combobox", name="Select runs (two or more to compare)")
    picker.click()  # the table is a canvas; the run picker lists the same runs as text
    page.get_by_role("option", name=re.compile(re.escape(runs.title(run)))).click()
    page.keyboard.press("Escape")
    page.get_by_text("Config and log").wait_for()  # the run's own section, written last
    shots(page, "runs")


def test_upload_an_ecg_see_it_and_explain_it(browser, server, tmp_path, capsys):
    """A WFDB pair through the real file widget: Your ECG shows it measured beside its synthetic twin; Explain
    (reached in the same session) explains it with a run."""
    import tempfile

    from run_fixtures import tiny_config, tiny_dataset_npz
    from upload_fixtures import KNOWN, known_ecg, wfdb_files

    base, runs_dir = server
    # a done run to explain with, trained beside the server's folder and moved in whole (the server's queue
    # never sees it queued)
    npz = tiny_dataset_npz(tmp_path / "tiny.npz", n=30)
    run = runs.create_run(tiny_config(npz, targets=["hr", "qrs"], epochs=1), tmp_path / "runs")
    assert jobs.run_job(run.path) == "done"
    shutil.copytree(run.path, runs_dir / run.id)
    files = wfdb_files(tmp_path, known_ecg()[0])
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)

    page = browser.new_page(viewport={"width": 1600, "height": 1100})
    page.set_default_timeout(90_000)
    page.goto(base + "/Your_ECG")
    page.get_by_text("Upload a record to see it here.").wait_for()
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files([tmp_path / n for n in files])
    page.get_by_role("link", name="Explain page").wait_for()  # the last element the page writes
    assert abs(float(metric(page, "Heart rate (bpm)")) - KNOWN["hr"]) <= 2
    assert abs(float(metric(page, "QRS duration (ms)")) - KNOWN["qrs"]) <= 25
    page.locator(".js-plotly-plot").nth(1).wait_for()  # both papers drawn (plotly renders after the page)
    assert page.locator(".js-plotly-plot").count() == 2
    page.get_by_text("Synthetic ECG with the same intervals").first.wait_for()
    page.get_by_text("Your ECG: rec").first.wait_for()
    assert page.get_by_text("Not in the file").count() == 0  # all 12 leads, PTB-XL's AVR spelling matched
    folder = Path(tempfile.mkdtemp(prefix="ecg-shots-"))
    page.screenshot(path=folder / "your-ecg.png", full_page=True)

    # Explain, in the same session (the sidebar keeps it): the upload is offered without uploading again
    page.locator('[data-testid="stSidebarNav"] a', has_text="Explain").click()
    page.get_by_text("uploaded", exact=True).click()
    page.get_by_text("uploaded earlier in this session").wait_for()
    page.get_by_text(re.compile(r"output Heart rate = [\d.]+ bpm")).wait_for()  # the output in words
    assert page.get_by_text(runs.title(run)).count() >= 1  # the run by its name and start time
    page.locator('[data-testid="stDataFrame"]').wait_for()  # the per-wave shares, written last
    page.screenshot(path=folder / "explain-uploaded.png", full_page=True)
    with capsys.disabled():
        print(f"\nscreenshots of an uploaded ECG: {folder / 'your-ecg.png'}, explained: "
              f"{folder / 'explain-uploaded.png'}")
