"""The training CLI: flags -> configs, a real pretrain -> finetune round trip, `runs` subcommands, bad input."""

import json

import pytest

from ecgcore.cli import build_parser, main
from ecgcore.cli.train import Progress, finetune_configs, pretrain_configs
from ecgcore.data.sources import DEFAULT_FINETUNE_DATA, DEFAULT_PRETRAIN_DATA
from ecgcore.runs import get_run, list_runs
from run_fixtures import tiny_dataset_npz


def parse(*argv):
    return build_parser().parse_args(list(argv))


def test_defaults_use_the_embedded_data_sets():
    (pre,) = pretrain_configs(parse("pretrain"))
    assert pre.task == "pretrain" and pre.data == DEFAULT_PRETRAIN_DATA and pre.targets == ["hr", "pr", "qrs", "qt"]
    (fine,) = finetune_configs(parse("finetune"))
    assert fine.data == DEFAULT_FINETUNE_DATA and fine.strategy == "scratch" and fine.pretrained == []


def test_flags_reach_the_config():
    (c,) = pretrain_configs(parse("pretrain", "--arch", "inception1d", "--epochs", "3", "--lr", "0.01",
                                  "--lr-decay", "0.99", "--batch-size", "8", "--seed", "4", "--device", "cpu",
                                  "--leads", "paper8", "--normalize", "minmax", "--resample", "500",
                                  "--no-bandpass", "--targets", "QT,hr", "--name", "paper",
                                  "--data", '{"source": "synthetic", "n": 50, "fs": 500}'))
    assert (c.arch, c.epochs, c.lr, c.lr_decay, c.batch_size, c.seed, c.device) == \
        ("inception1d", 3, 0.01, 0.99, 8, 4, "cpu")
    assert (c.preprocess.leads, c.preprocess.normalize, c.preprocess.fs, c.preprocess.bandpass) == \
        ("paper8", "minmax", 500.0, False)
    assert c.targets == ["qt", "hr"] and c.name == "paper" and c.data == {"source": "synthetic", "n": 50, "fs": 500}


def test_per_target_gives_one_run_per_target():
    configs = pretrain_configs(parse("pretrain", "--per-target", "--targets", "hr,qrs", "--name", "p"))
    assert [(c.targets, c.name) for c in configs] == [(["hr"], "p-hr"), (["qrs"], "p-qrs")]


def test_targets_take_interval_names_in_any_case_and_measured_morphology_names():
    (c,) = pretrain_configs(parse("pretrain", "--targets", "HR,qt,r_amp_V1,qrs_axis"))
    assert c.targets == ["hr", "qt", "r_amp_V1", "qrs_axis"]
    with pytest.raises(ValueError, match="r_amp_v1"):  # a lead's case is part of the name
        pretrain_configs(parse("pretrain", "--targets", "r_amp_v1"))


def test_data_flag_takes_a_spec_file_or_a_data_set(tmp_path):
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps({"source": "synthetic", "n": 10}))
    assert pretrain_configs(parse("pretrain", "--data", str(spec)))[0].data == {"source": "synthetic", "n": 10}
    npz = tiny_dataset_npz(tmp_path / "d.npz", n=10)
    assert pretrain_configs(parse("pretrain", "--data", str(npz)))[0].data == {"source": "npz", "path": str(npz)}


def test_init_random_is_a_control_arm_without_a_pretrained_run():
    (c,) = finetune_configs(parse("finetune", "--init", "random"))
    assert (c.strategy, c.init, c.pretrained) == ("freeze_first_block", "random", [])
    (c,) = finetune_configs(parse("finetune", "--init", "random", "--strategy", "combined", "--backbones", "4"))
    assert (c.strategy, c.backbones) == ("combined", 4)
    with pytest.raises(ValueError, match="is scratch"):
        finetune_configs(parse("finetune", "--init", "random", "--strategy", "full_finetune"))


def test_ptbxl_flags_build_a_ptbxl_spec(tmp_path):
    (c,) = finetune_configs(parse("finetune", "--ptbxl", str(tmp_path), "--fs", "500", "--val-fold", "8",
                                  "--test-fold", "9", "--label-mode", "multi", "--fraction", "0.25"))
    assert c.data == {"source": "ptbxl", "path": str(tmp_path.resolve()), "fs": 500, "val_fold": 8, "test_fold": 9}
    assert (c.label_mode, c.fraction) == ("multi", 0.25)


def test_ptbxl_folds_default_to_auto(tmp_path):
    from ecgcore.data.sources import load_dataset
    from ptbxl_fixture import make_ptbxl_fixture

    root = make_ptbxl_fixture(tmp_path / "ptbxl", n_per_class=1, folds=(1, 8, 9), bad_record=False)
    (c,) = finetune_configs(parse("finetune", "--ptbxl", str(root)))
    assert (c.data["val_fold"], c.data["test_fold"]) == (None, None)  # the run records that auto was asked for
    data = load_dataset(c.data)  # ... and the data set which folds auto chose: no fold 10 here
    assert (data.config["val_fold"], data.config["test_fold"]) == (8, 9)
    (given,) = finetune_configs(parse("finetune", "--ptbxl", str(root), "--test-fold", "1"))
    assert (given.data["val_fold"], given.data["test_fold"]) == (None, 1)
    assert load_dataset(given.data).config["val_fold"] == 8


@pytest.mark.parametrize("argv, message", [
    (["pretrain", "--targets", "hr,st"], "unknown target"),
    (["pretrain", "--data", "{oops"], "not valid JSON"),
    (["pretrain", "--data", "nowhere.npz"], "not found"),
    (["finetune", "--fraction", "1.5"], "fraction=1.5"),
    (["finetune", "--fraction", "0"], "fraction=0"),
    (["finetune", "--pretrained", "../evil"], "invalid run id"),
    (["finetune", "--pretrained", "nope"], "no run 'nope'"),
    (["finetune", "--strategy", "linear_probe"], "needs --pretrained"),
    (["finetune", "--init", "random", "--pretrained", "20260101-000000-keep"], "uses no pretrained run"),
    (["finetune", "--pretrained", "20260101-000000-keep"], "has no model.pt"),
    (["runs", "show", "nope"], "no run 'nope'"),
    (["runs", "delete", "../x"], "invalid run id"),
])
def test_bad_input_is_one_clear_line_and_exit_2(tmp_path, capsys, argv, message):
    keep = tmp_path / "runs" / "20260101-000000-keep"
    keep.mkdir(parents=True)
    (keep / "config.json").write_text("{}")
    (keep / "status.json").write_text('{"state": "failed"}')
    assert main([*argv, "--runs-dir", str(tmp_path / "runs")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and err.count("\n") == 1
    assert [p.name for p in (tmp_path / "runs").iterdir()] == [keep.name]  # nothing created, nothing lost


def test_progress_prints_plain_lines_off_a_terminal(capsys):
    import sys

    progress = Progress("r1", stream=sys.stdout)
    for status in [{"state": "running", "progress": 0.1, "epoch": 1, "message": "a"},
                   {"state": "running", "progress": 0.2, "epoch": 1, "message": "b"},
                   {"state": "done", "progress": 1.0, "epoch": 2, "message": "done"}]:
        progress(status)
    assert capsys.readouterr().out.splitlines() == ["r1 running 10% a", "r1 done 100% done"]


def test_pretrain_then_finetune_round_trip(tmp_path, capsys):
    npz = str(tiny_dataset_npz(tmp_path / "tiny.npz"))
    runs_dir = str(tmp_path / "runs")
    tiny = ["--data", npz, "--epochs", "2", "--batch-size", "16", "--runs-dir", runs_dir, "--wait"]
    assert main(["pretrain", "--targets", "hr,qt", *tiny]) == 0
    out = capsys.readouterr().out.splitlines()
    pre = get_run(runs_dir, out[0])
    assert out[1].startswith(f"{pre.id} done: mae_hr=")
    assert pre.state == "done"
    files = ("config.json", "status.json", "metrics.jsonl", "summary.json", "predictions.npz", "model.pt", "log.txt",
             "heartbeat")
    assert [f for f in files if not (pre.path / f).is_file()] == []
    assert pre.config.targets == ["hr", "qt"]

    assert main(["finetune", "--pretrained", pre.id, "--strategy", "freeze_first_block", "--fraction", "0.5",
                 *tiny]) == 0
    fine = get_run(runs_dir, capsys.readouterr().out.splitlines()[0])
    assert fine.state == "done", fine.log_tail()
    assert fine.config.pretrained == [str(pre.path.resolve())] and fine.config.fraction == 0.5
    assert "accuracy" in fine.summary()["test"]

    assert main(["runs", "list", "--runs-dir", runs_dir, "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(r["id"], r["state"]) for r in rows] == [(pre.id, "done"), (fine.id, "done")]
    assert main(["runs", "show", fine.id, "--runs-dir", runs_dir]) == 0
    shown = capsys.readouterr().out
    assert "freeze_first_block" in shown and "executor: local" in shown
    assert main(["runs", "delete", fine.id, "--runs-dir", runs_dir]) == 0
    assert [r.id for r in list_runs(runs_dir)] == [pre.id]


def test_setup_paper_is_the_pages_paper_setup_and_flags_beside_it_win(tmp_path):
    from ecgcore.config import PAPER_SETUP

    configs = pretrain_configs(parse("pretrain", "--setup", "paper", "--lr", "0.001"))
    assert [c.targets for c in configs] == [[t] for t in ("hr", "pr", "qrs", "qt")]  # one regressor per target
    for c in configs:
        assert (c.arch, c.epochs, c.lr_decay, c.patience) == ("inception1d", 100, 0.99, 10)
        assert (c.preprocess.leads, c.preprocess.normalize) == ("paper8", "minmax")
        assert c.lr == 0.001  # the flag given beside --setup wins
    (fine,) = finetune_configs(parse("finetune", "--setup", "paper", "--ptbxl", str(tmp_path)))
    assert (fine.data["fs"], fine.label_mode, fine.lr) == (500, "single", PAPER_SETUP["lr"])
    (low,) = finetune_configs(parse("finetune", "--setup", "paper", "--ptbxl", str(tmp_path), "--fs", "100"))
    assert low.data["fs"] == 100


def test_a_job_says_before_it_starts_how_long_it_takes_here_and_that_the_papers_network_on_a_cpu_takes_days(
        tmp_path, capsys, monkeypatch):
    from ecgcore import jobs

    monkeypatch.setattr(jobs, "start_queued", lambda runs_dir=None: [])  # submitted, not trained
    runs_dir = str(tmp_path / "runs")
    assert main(["pretrain", "--epochs", "1", "--runs-dir", runs_dir]) == 0
    said = capsys.readouterr()
    (run,) = list_runs(runs_dir)
    assert said.out.strip() == run.id  # stdout: the id, for scripts; the plan on stderr
    assert ("How long this takes here is not known yet: no run like it has finished an epoch on this machine"
            in said.err) and "for days" not in said.err
    assert main(["pretrain", "--arch", "inception1d", "--epochs", "1", "--device", "cpu", "--runs-dir", runs_dir,
                 "--data", '{"source": "synthetic", "n": 20, "fs": 500}']) == 0
    assert "The paper's network at 500 Hz on this machine's CPU" in capsys.readouterr().err


def test_progress_says_the_time_left_while_a_job_runs(capsys):
    import sys

    lefts = iter([None, 240.0])  # before the first epoch ends nothing is known; then 4 min
    progress = Progress("r1", stream=sys.stdout, left=lambda: next(lefts))
    for status in [{"state": "running", "progress": 0.0, "epoch": 0, "message": "starting"},
                   {"state": "running", "progress": 0.5, "epoch": 1, "message": "epoch 1/2"},
                   {"state": "done", "progress": 1.0, "epoch": 2, "message": "done"}]:
        progress(status)
    assert capsys.readouterr().out.splitlines() == ["r1 running 0% starting", "r1 running 50% epoch 1/2 · about 4 min "
                                                    "left", "r1 done 100% done"]


def test_runs_show_says_how_long_a_running_job_has_left(tmp_path, capsys, monkeypatch):
    from ecgcore import jobs
    from ecgcore.config import JobConfig
    from ecgcore.runs import create_run

    monkeypatch.setattr(jobs, "start_queued", lambda runs_dir=None: [])  # no queue: the run reads as written

    run = create_run(JobConfig(task="pretrain", epochs=10), tmp_path / "runs")
    for epoch in (1, 2):
        run.append_metrics({"epoch": epoch, "train_loss": 1.0, "time_s": 30.0})
    run.update_status(state="running", epoch=2, progress=0.2)
    assert main(["runs", "show", run.id, "--runs-dir", str(tmp_path / "runs")]) == 0
    assert "  time left: about 4 min at most (8 epochs at 30 s)" in capsys.readouterr().out.splitlines()


def test_on_a_terminal_a_long_message_never_cuts_off_the_time_left():
    import io

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    stream = Terminal()
    Progress("r1", stream=stream, left=lambda: 300.0)({"state": "running", "progress": 0.5, "epoch": 1,
                                                       "message": "epoch 1/2, batch 6/22, loss " + "9" * 80})
    assert stream.getvalue().rstrip().endswith(" · about 5 min left")
