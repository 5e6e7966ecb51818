"""The docs: README stays one screen or three, the MkDocs site builds strict (a broken link fails the suite),
every measured report is listed, and bench/results.py's --save writes what the docs link."""

import datetime
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "docs" / "results"


def build(root, site):
    """`mkdocs build --strict` of the site under `root` into `site`: (exit code, output)."""
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
                          cwd=root, capture_output=True, text=True, timeout=600,
                          env=dict(os.environ, NO_MKDOCS_2_WARNING="1"))
    return done.returncode, done.stdout + done.stderr


def test_the_site_builds_strict(tmp_path):
    code, output = build(ROOT, tmp_path / "site")
    assert code == 0, output
    home = (tmp_path / "site" / "index.html").read_text()
    assert "Heart rate (bpm)" in home  # the Words, included from README.md
    assert (tmp_path / "site" / "results" / "index.html").is_file()


def test_a_broken_link_fails_the_build(tmp_path):
    for name in ("mkdocs.yml", "README.md"):
        shutil.copy(ROOT / name, tmp_path / name)
    shutil.copytree(ROOT / "docs", tmp_path / "docs")
    page = tmp_path / "docs" / "engine.md"
    page.write_text(page.read_text() + "\nSee [a page that is not there](no-such-page.md).\n")
    code, output = build(tmp_path, tmp_path / "site")
    assert code != 0 and "no-such-page.md" in output


def test_readme_is_at_most_200_lines():
    lines = (ROOT / "README.md").read_text().splitlines()
    assert len(lines) <= 200, f"README.md has {len(lines)} lines: move the detail into docs/"


def test_readme_links_point_at_files():
    readme = (ROOT / "README.md").read_text()
    targets = re.findall(r"\]\(([^)#\s]+)[^)]*\)", readme)
    local = [t for t in targets if not re.match(r"[a-z]+:", t)]
    assert local, "README.md links into docs/"
    assert [t for t in local if not (ROOT / t).exists()] == []


def test_every_report_is_listed_in_the_results_index():
    index = (RESULTS / "index.md").read_text()
    reports = sorted(p.name for p in RESULTS.glob("[0-9]*.md"))
    assert reports and [name for name in reports if f"]({name})" not in index] == []
    for report in reports:  # a report's JSON line, where it has one, is valid JSON
        twin = RESULTS / report.replace(".md", ".json")
        if twin.exists():
            json.loads(twin.read_text())


def test_the_classes_page_table_is_the_criteria_the_synthesize_page_shows():
    from ecgcore.synth.presets import criteria_markdown

    page = (ROOT / "docs" / "classes.md").read_text()
    assert criteria_markdown() in page  # one copy: edit presets.CRITERIA, then paste criteria_markdown()


def bench_results():
    """bench/results.py, loaded by its path: a bench runs with bench/ as its script folder, a test does not."""
    spec = importlib.util.spec_from_file_location("bench_results", ROOT / "bench" / "results.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_save_writes_the_json_line_a_dated_report_and_the_index(tmp_path, capsys):
    results = bench_results()
    day = datetime.date(2026, 12, 3)
    figures = {"ecgs_per_s": 943.1, "goal_met": False, "epoch": {"wall_s": 12.5}}
    first = results.publish("demo", figures, True, markdown="| a | b |\n|---|---|", folder=tmp_path, today=day)
    assert capsys.readouterr().out.splitlines()[-1] == json.dumps(figures)  # the bench's last line, as before
    assert first == tmp_path / "2026-12-03-demo.md"
    assert json.loads((tmp_path / "2026-12-03-demo.json").read_text()) == figures
    report = first.read_text()
    assert report.startswith("# demo, 2026-12-03")
    assert "| `ecgs_per_s` | 943.1 |" in report and "| `goal_met` | false |" in report
    assert "| `epoch.wall_s` | 12.5 |" in report and report.rstrip().endswith("|---|---|")

    second = results.publish("demo", {"ecgs_per_s": 1.0}, True, folder=tmp_path, today=day)
    assert second == tmp_path / "2026-12-03-demo-2.md"  # a report is never overwritten
    assert json.loads((tmp_path / "2026-12-03-demo.json").read_text()) == figures
    index = (tmp_path / "index.md").read_text()
    assert index.index("(2026-12-03-demo-2.md)") < index.index("(2026-12-03-demo.md)")  # newest first


def test_without_save_nothing_is_written(tmp_path, capsys):
    assert bench_results().publish("demo", {"x": 1}, False, folder=tmp_path) is None
    assert capsys.readouterr().out.strip() == '{"x": 1}'
    assert list(tmp_path.iterdir()) == []


def test_the_rhythms_page_table_is_the_criteria_and_presets_the_engine_draws():
    from ecgcore.synth.presets import rhythms_markdown

    page = (ROOT / "docs" / "rhythms.md").read_text()
    assert rhythms_markdown() in page  # one copy: edit rhythms.CRITERIA / presets.RHYTHM_PRESETS, then paste


def test_a_reports_title_is_its_benchs_own_first_line_even_after_apptest_replaced_main(tmp_path, monkeypatch,
                                                                                       capsys):
    import types

    bench = tmp_path / "demo.py"
    bench.write_text('"""Demo bench: what it measures.\n\nMore words.\n"""\nprint(1)\n')
    monkeypatch.setattr(sys, "argv", [str(bench), "--save"])
    page = types.ModuleType("__main__", "Synthesize: a page AppTest ran as __main__.")  # as AppTest leaves it
    monkeypatch.setitem(sys.modules, "__main__", page)
    report = bench_results().publish("demo", {"x": 1}, True, folder=tmp_path, today=datetime.date(2026, 12, 4))
    assert report.read_text().splitlines()[0] == "# demo, 2026-12-04: Demo bench: what it measures"
