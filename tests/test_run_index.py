"""The run index: the same runs as a fresh listing, kept right as runs are added, changed, deleted or damaged,
while reading only the folders that changed."""

import os
import shutil

import pytest

from ecgcore import files, run_index, runs
from ecgcore.config import JobConfig
from run_fixtures import BAD_FIELDS, bad_fields_runs


def view(run):
    """What pages take from a listed run."""
    return (run.id, run.problem, run.status()["state"], runs.title(run),
            None if run.problem else (run.config.to_dict(), run.summary()))


def fresh(root):
    return [view(r) for r in runs.list_runs(root)]


def age(root, seconds=3600):
    """Make every file under `root` look `seconds` old (runs made long before the page looks)."""
    for dirpath, dirs, names in os.walk(root):
        for name in dirs + names:
            path = os.path.join(dirpath, name)
            st = os.lstat(path)
            os.utime(path, ns=(st.st_atime_ns - seconds * 10**9, st.st_mtime_ns - seconds * 10**9),
                     follow_symlinks=False)


def test_the_index_lists_what_a_fresh_listing_lists_damaged_runs_too(tmp_path):
    root, healthy, bad = bad_fields_runs(tmp_path / "runs")
    index = run_index.RunIndex(root)
    listed = index.runs()
    assert [view(r) for r in listed] == fresh(root)
    assert all(isinstance(r, run_index.IndexedRun) for r in listed)
    assert {r.id for r in listed if r.problem} == {r.id for r in bad.values()}


def test_the_index_stays_right_when_runs_are_added_changed_deleted_or_damaged(tmp_path):
    root, healthy, bad = bad_fields_runs(tmp_path / "runs")
    age(root)
    index = run_index.RunIndex(root)
    index.runs()
    added = runs.create_run(JobConfig(name="added"), root)
    shutil.rmtree(bad["metrics-list"].path)
    runs.Run(bad["status-started"].path).status_path.write_text('{"state": "done", "created": "x"}')
    healthy.update_status(force=True, state="failed", error="stopped")
    damage = BAD_FIELDS["config-targets"][1]
    victim = runs.create_run(JobConfig(name="victim"), root)
    assert index.runs() and view(next(r for r in index.runs() if r.id == victim.id))[1] is None
    damage(victim)
    link = runs.create_run(JobConfig(name="linked"), root)
    index.runs()
    link.summary_path.symlink_to(tmp_path / "elsewhere.json")
    listed = [view(r) for r in index.runs()]
    assert listed == fresh(root)
    by_id = {v[0]: v for v in listed}
    assert added.id in by_id and bad["metrics-list"].id not in by_id
    assert "targets" in by_id[victim.id][1] and "link" in by_id[link.id][1]
    assert by_id[healthy.id][2] == "failed"


def test_a_second_look_reads_only_the_folders_that_changed(tmp_path):
    root = tmp_path / "runs"
    made = [runs.create_run(JobConfig(name=f"run {i}"), root) for i in range(6)]
    (root / "sweeps").mkdir()  # not a run: never read
    age(root)
    index = run_index.RunIndex(root)
    assert len(index.runs()) == 6 and index.reads == 6
    index.runs()
    assert index.reads == 6
    made[2].update_status(state="running")
    made[4].append_metrics({"epoch": 1, "train_loss": 1.0})
    listed = index.runs()
    assert index.reads == 8 and next(r for r in listed if r.id == made[2].id).listed["state"] == "running"


def test_a_folder_written_just_before_the_look_is_read_again(tmp_path):
    """A file rewritten within the clock tick of a read could keep its stamp: such an entry is not trusted."""
    root = tmp_path / "runs"
    runs.create_run(JobConfig(name="new"), root)
    index = run_index.RunIndex(root)
    index.runs()
    index.runs()
    assert index.reads == 2
    age(root)
    index.runs()
    index.runs()
    assert index.reads == 3


def test_a_listed_config_and_summary_are_copies(tmp_path):
    run = runs.create_run(JobConfig(name="mine", epochs=3), tmp_path)
    files.write_json(run.summary_path, {"test": {"mae_hr": 1.0}})
    listed = run_index.RunIndex(tmp_path).runs()[0]
    listed.config.epochs = 99
    listed.summary()["test"]["mae_hr"] = 5.0
    assert listed.config.epochs == 3 and listed.summary() == {"test": {"mae_hr": 1.0}}


def test_the_folder_of_the_process_index_is_the_resolved_runs_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("ECGCORE_RUNS", str(tmp_path / "runs"))
    monkeypatch.chdir(tmp_path)
    assert run_index.index_of() is run_index.index_of("runs") is run_index.index_of(tmp_path / "runs")
    assert run_index.indexed_runs() == []
    (tmp_path / "a file").write_text("not a folder")
    assert run_index.RunIndex(tmp_path / "a file").runs() == runs.list_runs(tmp_path / "a file") == []


@pytest.mark.parametrize("name", ["notes", ".hidden", "a b", "x..y"])
def test_other_entries_of_the_folder_are_listed_as_a_fresh_listing_lists_them(tmp_path, name):
    (tmp_path / name).mkdir()
    (tmp_path / name / "status.json").write_text("{}")
    (tmp_path / "file.txt").write_text("not a folder")
    assert [r.id for r in run_index.RunIndex(tmp_path).runs()] == [r.id for r in runs.list_runs(tmp_path)]


def test_one_run_is_looked_up_alone_and_kept_right(tmp_path):
    root = tmp_path / "runs"
    one, other = (runs.create_run(JobConfig(name=n), root) for n in ("one", "other"))
    age(root)
    index = run_index.RunIndex(root)
    assert index.get(one.id).listed["state"] == "queued" and index.reads == 1
    assert index.get(one.id).id == one.id and index.reads == 1
    one.update_status(state="running")
    assert index.get(one.id).listed["state"] == "running" and index.reads == 2
    shutil.rmtree(one.path)
    assert index.get(one.id) is None and index.get("../x") is None and index.get("nothing") is None
    assert [r.id for r in index.runs()] == [other.id]


def test_a_runs_check_gives_what_reading_each_file_gives(tmp_path, monkeypatch):
    root, healthy, bad = bad_fields_runs(tmp_path / "runs")
    problem, config, status, summary, metrics = healthy.check()
    assert (problem, config, status, summary, metrics) == (None, healthy.config, healthy.status(), healthy.summary(),
                                                           healthy.metrics())
    for run in bad.values():
        assert run.check() == (run.problem, None, None, None, None) and run.problem
    reads = []
    real = runs.read_json
    monkeypatch.setattr(runs, "read_json", lambda path: reads.append(path.name) or real(path))
    healthy.check()
    assert sorted(reads) == ["config.json", "status.json", "summary.json"]  # each file once
