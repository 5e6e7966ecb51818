"""Streamlit AppTests of the dashboard's pages, found from the checkout wherever a test module lives."""

from pathlib import Path

from streamlit.testing.v1 import AppTest

from ecgcore.procs import package_root

ROOT = Path(package_root())  # the checkout: ecgcore, app.py and views/ lie side by side
TIMEOUT_S = 600  # a ceiling for one script run on a loaded machine, never a time a page must meet


def page(name):
    """An AppTest of views/NAME.py (NAME without .py), or of the home page app.py for "app"."""
    path = ROOT / "app.py" if name == "app" else ROOT / "views" / f"{name}.py"
    return AppTest.from_file(str(path), default_timeout=TIMEOUT_S)
