"""Each optional extra, blocked from import, gives its feature's message naming the extra to install."""

import sys

import pytest

from ecgcore import cli, executors, export, runs
from ecgcore.config import JobConfig
from ecgcore.extras import EXTRAS, MissingExtra, need
from ecgcore.synth import gan


def block(monkeypatch, module):
    """Make `import module` fail as it does when the package is not installed."""
    monkeypatch.setitem(sys.modules, module, None)


@pytest.fixture
def done_run(tmp_path):
    run = runs.create_run(JobConfig(epochs=1), tmp_path / "runs")
    run.update_status(state="done", finished="2026-12-03T12:00:00")
    return run


@pytest.mark.parametrize("module, call, extra", [
    ("ray", lambda run, tmp: executors.get_executor("ray"), "ray"),
    ("mlflow", lambda run, tmp: export.to_mlflow([run], f"sqlite:///{tmp}/mlflow.db"), "mlflow"),
    ("torch.utils.tensorboard", lambda run, tmp: export.to_tensorboard([run], tmp / "tb"), "tensorboard"),
    ("deepfakeecg", lambda run, tmp: gan.load_generator.__wrapped__("cpu"), "gan"),
])
def test_a_missing_extra_names_itself(monkeypatch, tmp_path, done_run, module, call, extra):
    block(monkeypatch, module)
    with pytest.raises(MissingExtra, match=rf"needs the optional '{extra}' extra.*pip install 'ecgcore\[{extra}\]'"):
        call(done_run, tmp_path)


def test_every_extra_is_declared_in_pyproject():
    import tomllib
    from pathlib import Path

    declared = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())["project"]
    assert set(EXTRAS.values()) <= set(declared["optional-dependencies"])


def test_an_installed_extra_imports_as_usual():
    assert need("ray", "The Ray executor") is sys.modules["ray"]


def test_the_cli_says_which_extra_to_install_not_a_traceback(monkeypatch, tmp_path, capsys):
    block(monkeypatch, "ray")
    monkeypatch.setenv("ECGCORE_EXECUTOR", "local")  # --executor sets it for the process: put it back after
    runs.create_run(JobConfig(epochs=1), tmp_path)  # a queued run: the queue's step asks for the executor
    code = cli.main(["--executor", "ray", "runs", "list", "--runs-dir", str(tmp_path)])
    assert code == 0 or (code == 2 and "pip install 'ecgcore[ray]'" in capsys.readouterr().err)


def test_the_runs_page_line_names_the_missing_extra(monkeypatch):
    monkeypatch.setenv("ECGCORE_EXECUTOR", "ray")
    block(monkeypatch, "ray")
    info = executors.describe()
    assert info["error"] and "ecgcore[ray]" in info["text"]
