"""AppTest of the home page (app.py) and the demo pipeline it starts."""

import subprocess
import sys

import pytest

from ecgcore import demo, jobs, runs, sweep

from apptest import ROOT, page


@pytest.fixture
def runs_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("ECGCORE_RUNS", str(tmp_path / "runs"))
    monkeypatch.setenv("ECGCORE_MAX_JOBS", "1")
    yield tmp_path / "runs"
    for run in runs.list_runs(tmp_path / "runs"):
        jobs.cancel(run)


def test_home_renders_with_no_runs(runs_dir):
    at = page("app").run()
    assert not at.exception
    assert at.title[0].value == "ECG Transfer Lab"
    assert any("No run is in progress" in m.value for m in at.markdown)
    assert any("not known yet" in c.value for c in at.caption)  # the demo's plan: nothing measured here yet


def test_home_plans_the_demo_from_earlier_runs_like_its_jobs(runs_dir, monkeypatch):
    monkeypatch.setenv("ECGCORE_DEMO_SIZE", "small")
    for config in demo.every_config()[:2]:  # the demo's pretraining and its scratch run, done here before
        run = runs.create_run(config, runs_dir)
        run.append_metrics({"epoch": 1, "train_loss": 1.0, "val_loss": 1.0, "time_s": 50.0})
        run.update_status(state="done")
    at = page("app").run()
    assert not at.exception
    # 50 s pretraining + 2 x 50 s fine-tuning + 12 cells x 50 s x their labels' share (0.25 and 1.0): 525 s
    assert any(c.value.startswith("On this machine: about 9 min at most") for c in at.caption), \
        [c.value for c in at.caption]


def test_run_the_demo_starts_pretrain_then_scratch_and_transfer(runs_dir):
    at = page("app").run()
    at.button[0].click().run()
    assert not at.exception and not at.error
    (demo_sweep,) = sweep.list_sweeps(runs_dir)
    cells = {c["run_id"] for c in demo_sweep.cells()}
    made = [r for r in runs.list_runs(runs_dir) if r.id not in cells]
    assert [r.config.name for r in made] == ["demo pretrain", "demo scratch", "demo transfer"]
    pre, scratch, transfer = made
    # the sweep that fills the Data efficiency page: scratch, transfer from the demo's pretraining, its control
    config = demo_sweep.config
    assert [a.name for a in config.arms][::2] == ["scratch", "random init, first block frozen"]
    assert config.arms[1].pretrained == [str(pre.path.resolve())] and config.controls()
    assert len(cells) == len(demo.size().fractions) * 3 * len(demo.size().seeds) and demo_sweep.id in at.success[0].value
    assert config.base.data == scratch.config.data and config.base.data["difficulty"] == "hard"
    assert transfer.config.strategy == "freeze_first_block"
    assert transfer.config.pretrained == [str(pre.path.resolve())]
    assert scratch.config.strategy == "scratch" and scratch.config.data == transfer.config.data
    assert all(r.id in at.success[0].value for r in made)
    # the runs in progress show on the home page (at least the pretraining, which the others wait for), the
    # sweep as one bar
    assert 2 <= len(at.get("progress")) <= 4
    assert any(f"sweep {demo_sweep.config.name or demo_sweep.id}" in p.proto.text for p in at.get("progress"))


def test_demo_configs_are_small_and_valid():
    pretrain, scratch, transfer = demo.demo_configs(seed=3, epochs=2)
    for cfg in (pretrain, scratch):
        cfg.validate()
        assert cfg.seed == 3 and cfg.epochs == 2 and cfg.arch == "small_cnn" and cfg.data["fs"] == 100
    assert pretrain.task == "pretrain" and scratch.task == transfer.task == "finetune"
    assert transfer.strategy == "freeze_first_block" and not transfer.pretrained


def test_the_small_demo_is_the_same_pipeline_on_less(monkeypatch):
    monkeypatch.setenv("ECGCORE_DEMO_SIZE", "small")
    pretrain, scratch, _ = demo.demo_configs()
    assert (pretrain.data["n"], scratch.data["n"], scratch.epochs) == (200, 200, 1)
    config = demo.demo_sweep("/runs/pre")
    assert (config.fractions, config.seeds) == ([0.25, 1.0], [0, 1]) and len(config.arms) == 3
    monkeypatch.setenv("ECGCORE_DEMO_SIZE", "huge")
    with pytest.raises(ValueError, match="ECGCORE_DEMO_SIZE='huge' is invalid: must be one of full, small"):
        demo.demo_configs()


def test_a_plain_streamlit_run_listens_on_this_machine_only():
    """.streamlit/config.toml (read from the checkout) binds 127.0.0.1 and turns usage statistics off."""
    code = ("from streamlit import config; config.get_config_options(force_reparse=True); "
            "print(config.get_option('server.address'), config.get_option('browser.gatherUsageStats'))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT,
                         capture_output=True, text=True, check=True).stdout
    assert out.split() == ["127.0.0.1", "False"]
