"""UI speed: Synthesize page rerun after a slider change (AppTest) and first full render in chromium (the
ECG paper as the page's picture, and as the interactive chart with Zoom and hover).

Goals: rerun < 150 ms, first full render < 2 s and within 1.15x of a bare page (a title, a caption, one picture)
measured in the same run, loads alternating. Two more pages tell where the time goes: the bare page inside a
shell of 9 pages (st.navigation, as the app is) gives the shell's cost, and a floor page (in the shell) holds
Streamlit's own widgets in the kinds and numbers Synthesize's first paint draws, with no code of the app's: what
Streamlit charges for those widgets, apart from what the app's code adds (goal: within 1.15x of the floor).
Prints the figures, then one JSON line.
Usage: .venv/bin/python bench/ui.py [--reruns 30] [--loads 5]
"""

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import results  # bench/results.py: the JSON line and --save

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def rerun_ms(reruns, magic=True):
    """Median and p90 wall time of AppTest reruns of the Synthesize page, each after a new hr value.

    AppTest compiles the page afresh on every run, and Streamlit's "magic" AST pass is most of that; a served
    app compiles a page once. magic=False (runner.magicEnabled; the pages use no magic) leaves that pass out.
    """
    from streamlit import config
    from streamlit.testing.v1 import AppTest

    config.set_option("runner.magicEnabled", magic)

    at = AppTest.from_file(str(ROOT / "views" / "1_Synthesize.py"), default_timeout=60).run()
    assert not at.exception, at.exception
    at.slider(key="hr").set_value(71.0).run()  # warm the imports and the figure code
    times = []
    for i in range(reruns):
        slider = at.slider(key="hr").set_value(60.0 + i)  # a new value each time: no cache hit
        t = time.perf_counter()
        slider.run()
        times.append((time.perf_counter() - t) * 1000)
        assert not at.exception, at.exception
    return statistics.median(times), sorted(times)[int(0.9 * (len(times) - 1))]


PAPER = '[data-testid="stImage"] img'  # the ECG paper as a picture (the page's default)
CHART = ".js-plotly-plot .scatterlayer .trace path.js-line"  # the interactive chart (?zoom=true)
LAST = '[data-testid="stExpander"] summary:has-text("Generate data set")'  # the last element the page writes


BARE_PAGE = """import streamlit as st
from ecgcore import plots
from ecgcore.synth import synthesize

st.title("Bare")
st.caption("A title, a caption and one picture: Streamlit's own floor for a page like Synthesize.")
st.image(plots.ecg_paper_svg(synthesize(n=1, fs=250, seed=int(st.query_params.get("seed", 0))).signals[0], 250),
         width="stretch")
st.markdown("end of page")
"""


def in_shell(page):
    """`page` (a script's source) as the first of 9 pages in st.navigation, as the app is (the sidebar's links),
    so the shell's own cost is measured apart from a page's."""
    body = "\n".join("    " + line if line else "" for line in page.splitlines()[1:])  # all but the st import
    return f"""import streamlit as st

st.set_page_config(page_title="In a shell", layout="wide")


def first():
{body}


def other():
    st.write("another page")


pages = [st.Page(first, title="First", default=True)] + [st.Page(other, title=f"Page {{i}}", url_path=f"page{{i}}")
                                                        for i in range(8)]
st.navigation(pages).run()
"""


# The floor page's line for one widget of each kind Synthesize draws ({AppTest element list: line}); floor_page
# draws as many of each as AppTest counts on the page.
FLOOR_WIDGETS = {"radio": 'st.radio("Radio {i}", ("a", "b"), horizontal=True, help="h")',
                 "selectbox": 'st.selectbox("Choice {i}", ("a", "b", "c"), help="h")',
                 "button": 'st.button("Button {i}", help="h")',
                 "number_input": 'st.number_input("Number {i}", 0, 10**6, 0, help="h")',
                 "toggle": 'st.toggle("Toggle {i}", help="h")'}


def floor_page():
    """The floor page: Synthesize's first-paint widgets (counted by AppTest on the page itself, so the floor
    follows the page) as plain Streamlit calls with no app code, in the page's layout: the controls in a
    narrow column (then tabs with the open tab's sliders), the metrics, the picture, its download button and a
    caption in the wide one, then the closed Generate data set section. Served in_shell, as Synthesize is."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "views" / "1_Synthesize.py"), default_timeout=60).run()
    assert not at.exception, at.exception
    lines = ["import streamlit as st", "from ecgcore import plots", "from ecgcore.synth import synthesize", "",
             'st.title("Floor")',
             "left, right = st.columns([1, 3])", "with left:"]
    for kind, line in FLOOR_WIDGETS.items():
        lines += ["    " + line.format(i=i) for i in range(len(getattr(at, kind)))]
    lines += [f"    tabs = st.tabs([{', '.join(repr(t.label) for t in at.tabs)}])", "    with tabs[0]:"]
    lines += [f'        st.slider("Slider {i}", 0.0, 10.0, 5.0, help="h")' for i in range(len(at.slider))]
    lines += ["with right:", f"    for i, col in enumerate(st.columns({len(at.metric)})):",
              '        col.metric(f"Label {i}", "75", help="h")',
              "    svg = plots.ecg_paper_svg(synthesize(n=1, fs=250, seed=int(st.query_params.get('seed', 0)))"
              ".signals[0], 250)", '    st.image(svg, width="stretch")']
    lines += ['    st.download_button("Download", svg, "ecg.svg")'] * len(at.get("download_button"))
    lines += ['    st.caption("A caption")'] * len(at.caption)
    lines += ['st.expander("Generate data set")']
    return "\n".join(lines) + "\n"


def serve(script, cwd, env):
    """(process, base URL) of a headless Streamlit server running `script`, once it answers its health check."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", str(script), "--server.headless", "true",
                             "--server.address", "127.0.0.1", "--server.port", str(port),
                             "--server.fileWatcherType", "none", "--browser.gatherUsageStats", "false"],
                            cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            urllib.request.urlopen(base + "/_stcore/health", timeout=1)
            break
        except OSError:
            time.sleep(0.2)
    return proc, base


def first_render_s(loads):
    """Seconds from navigation to the Synthesize page showing its ECG paper, labels and last element (the closed
    Generate data set section), in chromium: cold (a fresh browser context: empty HTTP cache) and warm (a
    returning visitor), with the page's picture of the ECG and with the interactive chart (plotly.js fetched and
    parsed); beside it, alternating load by load, a bare page (a title, a caption, one picture: BARE_PAGE), the
    bare page in a shell of 9 pages and the floor page (floor_page()), each on a server of its own; and the home
    page for reference."""
    from playwright.sync_api import sync_playwright

    tmp = tempfile.mkdtemp()
    env = dict(os.environ, ECGCORE_RUNS=f"{tmp}/runs", ECGCORE_CACHE=f"{tmp}/cache")
    bare_script = Path(tmp) / "bare.py"
    bare_script.write_text(BARE_PAGE)
    nav_script = Path(tmp) / "nav.py"
    nav_script.write_text(in_shell(BARE_PAGE))
    floor_script = Path(tmp) / "floor.py"
    floor_script.write_text(in_shell(floor_page()))
    proc, base = serve("app.py", ROOT, env)
    bare_proc, bare_base = serve(bare_script, ROOT, env)
    nav_proc, nav_base = serve(nav_script, ROOT, env)
    floor_proc, floor_base = serve(floor_script, ROOT, env)
    try:
        out = {}
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=shutil.which("chromium"), args=CHROMIUM_ARGS)
            returning = browser.new_context(viewport={"width": 1400, "height": 1000})
            pages = (("picture", f"{base}/Synthesize?", PAPER, True),
                     ("chart", f"{base}/Synthesize?zoom=true&", CHART, True), ("bare", f"{bare_base}/?", PAPER, False),
                     ("shell", f"{nav_base}/?", PAPER, False), ("floor", f"{floor_base}/?", PAPER, True))
            times = {view: ([], []) for view, *_ in pages}
            scripts = {view: [] for view, *_ in pages}  # JavaScript modules a fresh visitor's browser fetches
            for i in range(2 * loads + 2):
                for view, url, paper, full in pages:  # alternating: a busy moment of the machine hits each
                    context = returning if i % 2 else browser.new_context(viewport={"width": 1400, "height": 1000})
                    page = context.new_page()
                    fetched = []
                    page.on("request", lambda r, fetched=fetched: fetched.append(r.resource_type == "script"))
                    t = time.perf_counter()
                    page.goto(f"{url}seed={i}", timeout=60_000)
                    page.locator(paper).first.wait_for(timeout=180_000)
                    if full:
                        page.locator('[data-testid="stMetricValue"]').first.wait_for(timeout=180_000)
                        page.locator(LAST).wait_for(timeout=180_000)
                    else:
                        page.get_by_text("end of page").wait_for(timeout=180_000)
                    elapsed = time.perf_counter() - t
                    if i >= 2:  # the first load of each kind warms the server's imports and the cache
                        times[view][i % 2].append(elapsed)
                        if not i % 2:
                            scripts[view].append(sum(fetched))
                    page.close()
                    if context is not returning:
                        context.close()
            out = {view: (statistics.median(cold), statistics.median(warm)) for view, (cold, warm) in times.items()}
            # reference: the home page (text, a picture, a button)
            home = []
            for i in range(loads):
                page = returning.new_page()
                t = time.perf_counter()
                page.goto(f"{base}/?visit={i}", timeout=60_000)
                page.get_by_role("button", name="Run the demo").wait_for(timeout=60_000)
                home.append(time.perf_counter() - t)
                page.close()
            browser.close()
        return out, statistics.median(home), {view: statistics.median(n) for view, n in scripts.items()}
    finally:
        for process in (proc, bare_proc, nav_proc, floor_proc):
            process.terminate()
            process.wait(timeout=10)
        shutil.rmtree(tmp, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reruns", type=int, default=30)
    parser.add_argument("--loads", type=int, default=5)
    results.add_save(parser)
    args = parser.parse_args()
    os.environ.setdefault("ECGCORE_CACHE", tempfile.mkdtemp())
    median, p90 = rerun_ms(args.reruns)
    print(f"Synthesize rerun after a slider change (AppTest, {args.reruns} reruns): median {median:.1f} ms, "
          f"p90 {p90:.1f} ms (goal < 150 ms)")
    bare, bare_p90 = rerun_ms(args.reruns, magic=False)
    print(f"  the same without the magic AST pass (as a served app, which compiles the page once): median "
          f"{bare:.1f} ms, p90 {bare_p90:.1f} ms")
    result = {"synth_rerun_median_ms": round(median, 1), "synth_rerun_p90_ms": round(p90, 1),
              "synth_rerun_no_magic_median_ms": round(bare, 1)}
    if shutil.which("chromium"):
        views, home, scripts = first_render_s(args.loads)
        (cold, warm), (chart_cold, chart_warm) = views["picture"], views["chart"]
        print(f"Synthesize first full render in chromium (median of {args.loads}): {cold:.2f} s with an empty "
              f"browser cache, {warm:.2f} s for a returning visitor (goal < 2 s); with Zoom and hover (the "
              f"plotly chart): {chart_cold:.2f} s / {chart_warm:.2f} s; the home page: {home:.2f} s")
        bare_cold, bare_warm = views["bare"]
        shell_cold, shell_warm = views["shell"]
        print(f"the bare page inside a shell of 9 pages (st.navigation, as the app): {shell_cold:.2f} s / "
              f"{shell_warm:.2f} s: {shell_cold / bare_cold:.2f}x / {shell_warm / bare_warm:.2f}x of the bare page; "
              f"Synthesize is {cold / shell_cold:.2f}x / {warm / shell_warm:.2f}x of the shell")
        floor_cold, floor_warm = views["floor"]
        print(f"the floor page (Synthesize's first-paint widgets, no app code, in the shell): {floor_cold:.2f} s / {floor_warm:.2f} s: "
              f"{floor_cold / bare_cold:.2f}x / {floor_warm / bare_warm:.2f}x of the bare page (Streamlit's price for "
              f"those widgets); Synthesize is {cold / floor_cold:.2f}x / {warm / floor_warm:.2f}x of it (the app's own "
              "share; goal within 1.15x)")
        result.update(floor_render_cold_s=round(floor_cold, 2), floor_render_warm_s=round(floor_warm, 2),
                      floor_over_bare_cold=round(floor_cold / bare_cold, 3),
                      floor_over_bare_warm=round(floor_warm / bare_warm, 3),
                      over_floor_cold=round(cold / floor_cold, 3), over_floor_warm=round(warm / floor_warm, 3),
                      scripts_floor=scripts["floor"])
        print(f"JavaScript modules a fresh visitor's browser fetches: Synthesize {scripts['picture']:g}, the bare "
              f"page {scripts['bare']:g}, the shell {scripts['shell']:g}, the floor page {scripts['floor']:g} (Streamlit loads each kind of widget's code "
              "when a page first shows one)")
        result.update(scripts_synthesize=scripts["picture"], scripts_bare=scripts["bare"],
                      scripts_shell=scripts["shell"])
        result.update(shell_render_cold_s=round(shell_cold, 2), shell_render_warm_s=round(shell_warm, 2),
                      shell_over_bare_cold=round(shell_cold / bare_cold, 3),
                      over_shell_cold=round(cold / shell_cold, 3), over_shell_warm=round(warm / shell_warm, 3))
        print(f"a bare page (a title, a caption, one picture) in the same run: {bare_cold:.2f} s / {bare_warm:.2f} s: "
              f"Synthesize is {cold / bare_cold:.2f}x / {warm / bare_warm:.2f}x of it (goal within 1.15x)")
        result.update(first_render_cold_s=round(cold, 2), first_render_warm_s=round(warm, 2),
                      chart_render_cold_s=round(chart_cold, 2), chart_render_warm_s=round(chart_warm, 2),
                      home_render_s=round(home, 2), bare_render_cold_s=round(bare_cold, 2),
                      bare_render_warm_s=round(bare_warm, 2), over_bare_cold=round(cold / bare_cold, 3),
                      over_bare_warm=round(warm / bare_warm, 3))
    else:
        print("chromium not installed: browser figure skipped")
    print(f"load average while measuring: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    result.update(load_average=round(os.getloadavg()[0], 1), rerun_goal_met=median < 150,
                  render_goal_met=result.get("first_render_cold_s", 99) < 2,
                  within_bare_goal_met=max(result.get("over_bare_cold", 99), result.get("over_bare_warm", 99)) <= 1.15,
                  within_floor_goal_met=max(result.get("over_floor_cold", 99),
                                            result.get("over_floor_warm", 99)) <= 1.15)
    results.publish("ui", result, args.save)


if __name__ == "__main__":
    main()
