"""What every bench does with its figures: print them as one JSON line and, with --save, keep them in docs/.

`--save` writes `docs/results/DATE-BENCH.json` (the JSON line) and `DATE-BENCH.md` (a short dated report: the
command, the commit, the machine, the figures as a table, and any Markdown the bench adds), then rewrites
`docs/results/index.md`, the list of every report there, so the docs site links each one.
"""

from __future__ import annotations

import ast
import datetime
import json
import os
import re
import subprocess
import sys
from pathlib import Path

RESULTS = Path(__file__).resolve().parent.parent / "docs" / "results"
INDEX_HEAD = """# Measured results

What the benches measured, dated: the docs pages link these reports (or include their tables) instead of
quoting the numbers. A bench writes a new one with `--save` (`python bench/NAME.py --save`): its JSON line
(`.json`) and a dated page, then this list is rebuilt. A new measurement is a new report; an old one stays as it
was measured.

| date | bench | report |
|---|---|---|
"""


def add_save(parser):
    """The --save flag every bench takes."""
    parser.add_argument("--save", action="store_true",
                        help="also write the JSON line and a dated Markdown report into docs/results/")


def publish(bench, figures, save, *, markdown="", folder=RESULTS, today=None):
    """Print `figures` as the bench's last line; with `save`, write its report pair. Returns the report's path."""
    line = json.dumps(figures)
    print(line)
    if not save:
        return None
    folder.mkdir(parents=True, exist_ok=True)
    stem = _free_stem(folder, f"{(today or datetime.date.today()).isoformat()}-{bench}")
    (folder / f"{stem}.json").write_text(line + "\n")
    (folder / f"{stem}.md").write_text(_report(bench, figures, stem, markdown))
    write_index(folder)
    print(f"saved {folder / stem}.md and .json", file=sys.stderr)
    return folder / f"{stem}.md"


def write_index(folder=RESULTS):
    """index.md: every report in the folder, newest first, by the title its first line gives."""
    rows = []
    for path in sorted(folder.glob("[0-9]*.md"), key=_newest_first):
        date, bench = path.stem[:10], re.sub(r"-\d+$", "", path.stem[11:])
        title = path.read_text().splitlines()[0].lstrip("# ").strip()
        title = title.split(": ", 1)[-1]  # "BENCH, DATE: what" -> "what": the date and bench have columns
        rows.append(f"| {date} | {bench} | [{title}]({path.name}) |")
    (folder / "index.md").write_text(INDEX_HEAD + "\n".join(rows) + "\n")


def _newest_first(path):
    """Sort key: by date, newest first; one day's second report of a bench (-2) before its first."""
    number = re.search(r"-(\d+)$", path.stem[11:])
    return (-int(path.stem[:10].replace("-", "")), -int(number.group(1)) if number else -1, path.stem)


def _free_stem(folder, stem):
    """A second report of one bench on one day gets -2, -3, ...: a report is never overwritten."""
    n, candidate = 1, stem
    while (folder / f"{candidate}.md").exists() or (folder / f"{candidate}.json").exists():
        n += 1
        candidate = f"{stem}-{n}"
    return candidate


def _script_doc():
    """The docstring of the bench script that runs (sys.argv[0]), read from its file: not __main__'s, which a
    bench that runs a page through AppTest finds replaced by the page's."""
    try:
        return ast.get_docstring(ast.parse(Path(sys.argv[0]).read_text())) or ""
    except (OSError, SyntaxError, ValueError):
        return ""


def _report(bench, figures, stem, markdown):
    command = " ".join(["python", f"bench/{bench}.py", *sys.argv[1:]])
    doc = _script_doc().strip().splitlines()
    lines = [f"# {bench}, {stem[:10]}" + (f": {doc[0].rstrip('.')}" if doc else ""), "",
             f"- command: `{command}`",
             f"- commit: `{_commit()}`",
             f"- machine: {os.cpu_count()} cores; load average {os.getloadavg()[0]:.1f} when the bench ended",
             f"- settings: {_settings()}",
             f"- JSON line: [{stem}.json]({stem}.json)", "",
             "| figure | value |", "|---|---|"]
    lines += [f"| `{key}` | {value if isinstance(value, str) else json.dumps(value)} |"
              for key, value in _flat(figures)]
    if markdown:
        lines += ["", markdown.strip()]
    return "\n".join(lines) + "\n"


def _flat(figures, prefix=""):
    """Nested figures as dotted keys, one table row each."""
    for key, value in figures.items():
        if isinstance(value, dict):
            yield from _flat(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}", value


def _settings():
    """The environment variables that change a bench's figures (thread counts, the lab's own settings)."""
    named = sorted(k for k in os.environ if k.startswith("ECGCORE_") or k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"))
    return ", ".join(f"`{k}={os.environ[k]}`" for k in named) or "none"


def _commit():
    try:
        out = subprocess.run(["git", "-C", str(RESULTS.parent.parent), "describe", "--always", "--dirty"],
                             capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return out.stdout.strip() or "unknown"
