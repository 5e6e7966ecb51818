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

pytestmark = pytest.mark.slow  # a served app in a real browser, end to end

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
JOB_S = 180  # a tiny pretraining: process start, torch import, 100 ECGs, one epoch, on 2 busy cores
WAIT_MS = 120_000  # a page's last element, on a machine other engineers load too
DEMO_S = 1800  # a ceiling, not a timing: the small demo (ECGCORE_DEMO_SIZE=small) takes about a minute idle


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(tmp):
    """(process, base URL) of `streamlit run app.py` on a free port with `tmp`'s runs folder and cache."""
    port = free_port()
    env = dict(os.environ, ECGCORE_RUNS=str(tmp / "runs"), ECGCORE_CACHE=str(tmp / "cache"), ECGCORE_MAX_JOBS="1",
               ECGCORE_DEMO_SIZE="small")
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
                    return proc, base
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"streamlit did not start: {proc.stdout.read().decode(errors='replace')[-2000:]}")
        time.sleep(0.3)


def stop_server(proc, runs_dir):
    for run in runs.list_runs(runs_dir):
        jobs.cancel(run)
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:  # a busy machine: do not leave it serving
        proc.kill()
        proc.wait()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("browser")
    proc, base = start_server(tmp)
    yield base, tmp / "runs"
    stop_server(proc, tmp / "runs")


@pytest.fixture(scope="module")
def shots(tmp_path_factory):
    """shots(page, name): a full-page screenshot in this module's temporary folder; its path is printed."""
    folder = tmp_path_factory.mktemp("screenshots")

    def shoot(page, name):
        path = folder / f"{name}.png"
        # Streamlit scrolls its main area inside the window, so a full-page shot stops at the window's edge:
        # make the window as tall as that area for the shot
        size = page.viewport_size
        height = page.evaluate("() => Math.max(...[...document.querySelectorAll('[data-testid=stMain], "
                               "[data-testid=stMainBlockContainer]')].map(e => e.scrollHeight), 0)")
        page.set_viewport_size({"width": size["width"], "height": max(size["height"], min(height + 100, 8000))})
        page.screenshot(path=path, full_page=True)
        page.set_viewport_size(size)
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


PAPER = '[data-testid="stImage"] img'  # Synthesize's ECG paper, a picture until "Zoom and hover"


def ecg_picture(page):
    return page.locator(PAPER).first.get_attribute("src")


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
    page.locator(PAPER).first.wait_for()
    hr_before, picture_before = metric(page, "HR"), ecg_picture(page)
    assert hr_before == "70"
    slider = page.get_by_role("slider").first  # Rhythm tab, first parameter: hr
    slider.focus()
    slider.press("End")  # the slider's maximum, 200 bpm
    page.wait_for_function("() => [...document.querySelectorAll('[data-testid=stMetricValue]')]"
                           ".some(e => e.innerText !== '70' && /^\\d+$/.test(e.innerText)"
                           " && e.closest('[data-testid=stMetric]').innerText.startsWith('HR'))")
    hr_after = metric(page, "HR")
    assert int(hr_after) > 150
    # null-safe: at 200 bpm a notice appears above the labels, and while that rerun moves the picture down it
    # is briefly not in the page
    page.wait_for_function(f"(src) => {{ const e = document.querySelector('{PAPER}'); "
                           "return !!e && e.getAttribute('src') !== src; }", arg=picture_before)
    assert "hr=200" in page.url  # the setting lives in the link
    shots(page, "synthesize")
    page.get_by_text("Zoom and hover", exact=True).click()  # the interactive chart instead of the picture
    page.locator(".js-plotly-plot .scatterlayer .trace path.js-line").first.wait_for()
    assert page.locator(PAPER).count() == 0 and "zoom=true" in page.url

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
    page.get_by_role("link", name="Explain this ECG with a run").wait_for()  # the last element the page writes
    assert abs(float(metric(page, "Heart rate (bpm)")) - KNOWN["hr"]) <= 2
    assert abs(float(metric(page, "QRS duration (ms)")) - KNOWN["qrs"]) <= 25
    page.locator(".js-plotly-plot").nth(1).wait_for()  # both papers drawn (plotly renders after the page)
    assert page.locator(".js-plotly-plot").count() == 2
    page.get_by_text("Synthetic ECG with the same intervals").first.wait_for()
    page.get_by_text("Your ECG: rec").first.wait_for()
    assert page.get_by_text("Not in the file").count() == 0  # all 12 leads, PTB-XL's AVR spelling matched
    folder = Path(tempfile.mkdtemp(prefix="ecg-shots-"))
    page.screenshot(path=folder / "your-ecg.png", full_page=True)

    # Explain through the page's own link: the same tab and session, the upload already chosen as the record
    new_tabs = []
    page.context.on("page", lambda tab: new_tabs.append(tab))
    page.get_by_role("link", name="Explain this ECG with a run").click()
    page.get_by_text("uploaded earlier in this session").wait_for()
    assert not new_tabs and "ex_source=uploaded" in page.url  # no new tab: a new tab is a session without it
    page.get_by_text(re.compile(r"output Heart rate = [\d.]+ bpm")).wait_for()  # the output in words
    assert page.get_by_text(runs.title(run)).count() >= 1  # the run by its name and start time
    page.locator('[data-testid="stDataFrame"]').wait_for()  # the per-wave shares, written last
    page.screenshot(path=folder / "explain-uploaded.png", full_page=True)
    with capsys.disabled():
        print(f"\nscreenshots of an uploaded ECG: {folder / 'your-ecg.png'}, explained: "
              f"{folder / 'explain-uploaded.png'}")

def sidebar(page):
    """The sidebar's page names, top to bottom (icons left out)."""
    return [re.sub(r"^\W+", "", text).strip() for text in page.locator('[data-testid="stSidebarNav"] a').all_inner_texts()]


def test_synthesize_says_what_a_link_got_wrong_and_shows_a_presets_criteria(browser, server, shots):
    from playwright.sync_api import expect

    base, _ = server
    page = new_page(browser)
    page.goto(base + "/Synthesize?hr=999&class=MI")
    page.locator(PAPER).first.wait_for()
    notices = page.locator('[data-testid="stAlert"]')
    notices.filter(has_text="hr=999 is outside its range 30-200 bpm").wait_for()
    notices.filter(has_text="The link names class MI").wait_for()
    assert metric(page, "HR") == "70" and metric(page, "Class") == "custom"  # nothing of the bad link is trusted
    assert "class=" not in page.url and "hr=" not in page.url  # nor left in the address
    assert sidebar(page)[0] == "Home" and page.get_by_role("button", name="Deploy").count() == 0

    page.get_by_role("combobox", name="Preset").click()
    page.get_by_role("option", name="HYP", exact=True).click()
    # the rerun drops the link's notices, so every element moves up: until it ends, the old elements stay
    # below the new ones (two of the preset's Draw buttons; the rhythm has its own, key draw_rhythm)
    notices.filter(has_text="The link names class MI").wait_for(state="detached")
    draw = page.locator(".st-key-draw").get_by_role("button", name="Draw", exact=True)
    expect(draw).to_have_count(1)
    draw.click()
    page.get_by_text("Leads to look at").wait_for()
    assert metric(page, "Class") == "HYP"
    text = page.locator('[data-testid="stMarkdown"]').all_inner_texts()
    assert any("Sokolow-Lyon" in t and "lateral leads" in t for t in text)
    assert "class=HYP" in page.url and "draw_seed=0" in page.url  # the link reopens this HYP draw
    page.get_by_role("tab", name="Intervals").click()
    page.get_by_test_id("stTabs").get_by_text("QTc, Bazett (ms)").wait_for()  # the slider says it is the QTc; the QT metric is the QT
    assert metric(page, "QTc") != metric(page, "QT (ms)")
    mark = page.get_by_text("Mark waves", exact=True)
    assert mark.evaluate("e => e.scrollWidth <= e.clientWidth + 1")  # the toggle's label is not cut off
    shots(page, "synthesize-preset-criteria")


def test_finetune_shows_a_started_run_at_once(browser, server, shots):
    from playwright.sync_api import expect

    base, runs_dir = server
    page = new_page(browser)
    page.goto(base + "/Fine-tune")
    page.get_by_role("button", name="Start fine-tuning").wait_for()
    for field, value in (("ECGs", "100"), ("Epochs", "1")):
        box = page.get_by_label(field).first
        box.fill(value)
        box.press("Enter")
    started = []
    for _ in range(2):  # the second start must replace the first in "Show run" at once, without a reload
        before = {r.id for r in runs.list_runs(runs_dir)}
        page.get_by_role("button", name="Start fine-tuning").click()
        deadline = time.monotonic() + 600  # a ceiling for a loaded machine, never a time the page must meet
        while not (set(r.id for r in runs.list_runs(runs_dir)) - before) and time.monotonic() < deadline:
            time.sleep(0.2)
        (new_id,) = {r.id for r in runs.list_runs(runs_dir)} - before
        started.append(runs.get_run(runs_dir, new_id))
        # at once: the picker, the run id under it and its live panel name the new run, without a reload (only
        # the click's rerun redraws the picker: the live panel's 2 s refresh does not), so the ceilings are generous
        expect(page.get_by_role("combobox", name="Show run")).to_have_value(runs.title(started[-1]),
                                                                           timeout=120_000)
        page.get_by_text(f"Run id {new_id}").wait_for(timeout=120_000)
        assert f"run={new_id}" in page.url
    page.locator('[data-testid="stProgress"]').filter(has_text=runs.title(started[-1])).wait_for(timeout=120_000)
    shots(page, "finetune-right-after-start")
    for run in started:
        jobs.cancel(run)


def test_the_demo_fills_data_efficiency_with_readable_arms_and_bands_inside_0_1(browser, server, shots):
    """Run the demo from Home as a teacher would, then watch its sweep fill the Data efficiency page."""
    from ecgcore import sweep
    from ecgcore.demo import SIZES as demo_sizes

    base, runs_dir = server
    page = new_page(browser)
    page.goto(base)
    page.get_by_role("button", name="Run the demo").click()
    cells = len(demo_sizes["small"].fractions) * 3 * len(demo_sizes["small"].seeds)
    page.get_by_text(re.compile(rf"and sweep \S+ \({cells} runs\)")).wait_for()  # the ids are code spans
    demo = next(s for s in sweep.list_sweeps(runs_dir) if s.config.name == "demo")
    pretrained = runs.resolve_run(demo.config.arms[1].pretrained[0], runs_dir)
    page.goto(base + f"/Data_efficiency?sweep={demo.id}")
    page.get_by_text(f"{cells} done of {cells} cells").wait_for(timeout=DEMO_S * 1000)  # the page follows it live
    page.locator(".js-plotly-plot").first.wait_for()
    figure = "document.querySelector('.js-plotly-plot').data"
    legend = page.evaluate(f"() => {figure}.filter(t => t.fill !== 'toself').map(t => t.name)")
    assert set(legend) == {"scratch", f"freeze first block · {runs.title(pretrained)}",
                           "random init, first block frozen"}  # not freeze_first_block:2026...
    # _fullData: the arrays as plotly.js decoded them (data holds plotly's base64 typed-array objects)
    bands = page.evaluate("() => document.querySelector('.js-plotly-plot')._fullData"
                          ".filter(t => t.fill === 'toself').map(t => Math.max(...Array.from(t.y)))")
    assert len(bands) == 3 and max(bands) <= 1.0  # the AUROC bands stop at 1
    # the transfer arm is compared with scratch and with its random-init control, under its readable name
    page.get_by_text(re.compile(r"freeze first block · .*over its control \(random init, first block frozen\)"))\
        .wait_for()
    page.get_by_text("Gains", exact=True).wait_for()  # the study's table under the plot
    shots(page, "data-efficiency-after-the-demo")


def test_finetune_shows_a_ptbxl_folders_class_balance_before_training(browser, server, shots, tmp_path):
    from ptbxl_fixture import make_ptbxl_fixture

    base, runs_dir = server
    root = make_ptbxl_fixture(tmp_path / "ptbxl", n_per_class=2, folds=(8, 9, 10), bad_record=False)
    before = len(runs.list_runs(runs_dir))
    page = new_page(browser)
    page.goto(base + "/Fine-tune")
    page.get_by_text("PTB-XL folder", exact=True).first.click()
    folder = page.get_by_role("textbox", name="PTB-XL folder")  # the radio option has the same label
    folder.fill(str(root))
    folder.press("Enter")
    page.get_by_text("Class balance").wait_for()
    page.get_by_test_id("stDataFrame").first.wait_for()  # records per class and fold, the canvas table
    assert page.get_by_text(re.compile("No record of")).count() == 0  # every class is there
    assert len(runs.list_runs(runs_dir)) == before  # nothing trained to show it
    shots(page, "finetune-ptbxl-class-balance")


def test_a_study_goes_on_through_a_server_restart_where_it_stopped(browser, tmp_path, shots):
    """Start a sweep on Data efficiency, kill the server while a cell trains (a crash, not a clean stop), start a
    new one: the page shows the same sweep going on, and no cell is trained twice."""
    from ecgcore import sweep

    proc, base = start_server(tmp_path)
    runs_dir = tmp_path / "runs"
    try:
        page = new_page(browser)
        page.goto(base + "/Data_efficiency")
        for label, value in (("Simulated ECGs", "300"), ("Seeds", "2"), ("Epochs", "1")):
            box = page.get_by_label(re.compile(label)).first
            box.fill(value)
            box.press("Enter")
        for fraction in ("1%", "5%", "10%", "25%"):  # keep 50% and 100%: 2 fractions x 2 seeds, scratch
            page.get_by_role("button", name=f"Remove {fraction}", exact=True).click()
        page.get_by_text(re.compile(r"2 fractions x 1 arms x 2 seeds")).wait_for()
        page.get_by_role("button", name="Start sweep").click()
        page.get_by_text("Started sweep").wait_for()
        (study,) = sweep.list_sweeps(runs_dir)
        deadline = time.monotonic() + JOB_S  # a ceiling, not a timing: wait for a cell to be training
        while "running" not in {c["state"] for c in study.cells()} and time.monotonic() < deadline:
            time.sleep(0.2)
        assert "running" in {c["state"] for c in study.cells()}
    except BaseException:
        stop_server(proc, runs_dir)  # no job left behind when the study never got going
        raise
    proc.kill()  # the server dies; its jobs are processes of their own
    proc.wait()
    before = {(c["fraction"], c["seed"]): c["run_id"] for c in study.cells()}
    proc, base = start_server(tmp_path)
    try:  # stop_server cancels every run at the end, also those the killed server left
        page = new_page(browser)
        page.goto(base + f"/Data_efficiency?sweep={study.id}")
        page.get_by_text("4 done of 4 cells").wait_for(timeout=4 * JOB_S * 1000)  # the page follows it live
        page.locator(".js-plotly-plot").first.wait_for()
        page.locator('[data-testid="stApp"][data-test-script-state="notRunning"]').wait_for()  # drawn whole
        shots(page, "data-efficiency-after-a-server-restart")
        assert {(c["fraction"], c["seed"]): c["run_id"] for c in study.cells()} == before  # none redone
        assert all(runs.get_run(runs_dir, c["run_id"]).state == "done" for c in study.cells())
    finally:
        stop_server(proc, runs_dir)
