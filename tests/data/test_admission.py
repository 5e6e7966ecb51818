"""A job is refused at the door (jobs.submit) when it could only fail later: issue 24, finding 12."""

import numpy as np
import pytest

from ecgcore import jobs
from ecgcore.config import JobConfig, Preprocess


@pytest.fixture
def submit(tmp_path, monkeypatch):
    """jobs.submit into a fresh runs folder, with the queue step off: a config that gets through starts no job."""
    monkeypatch.setattr(jobs, "start_queued", lambda runs_dir=None: [])
    runs_dir = tmp_path / "runs"

    def go(**fields):
        return jobs.submit(JobConfig(**fields), runs_dir)

    go.runs_dir = runs_dir
    return go


def refused(submit, message, **fields):
    with pytest.raises(ValueError, match=message):
        submit(**fields)
    assert not submit.runs_dir.exists() or list(submit.runs_dir.iterdir()) == []  # nothing queued


def test_a_batch_of_one_record_is_refused_saying_why(submit):
    refused(submit, r"batch_size=1 is invalid: must be a whole number >= 2 \(batch norm", batch_size=1)


@pytest.mark.parametrize("duration", [1e7, 0.01])
def test_a_synthetic_duration_out_of_range_is_refused_with_the_range(submit, duration):
    refused(submit, rf"data.duration={duration!r} is invalid: .*\[2, 600\] s",
            data={"source": "synthetic", "n": 10, "duration": duration})


def test_a_gan_duration_out_of_range_is_refused_with_the_range(submit):
    refused(submit, r"data.duration=0.01 .*\[2, 10\] s", data={"source": "gan", "n": 10, "duration": 0.01})


@pytest.mark.parametrize("fs", [1e7, 0.001])
def test_a_resampling_rate_out_of_range_is_refused_with_the_range(submit, fs):
    refused(submit, rf"preprocess.fs={fs!r} is invalid: .*\[50, 1000\] Hz", preprocess=Preprocess(fs=fs))


def test_a_target_the_source_does_not_give_is_refused_naming_what_it_gives(submit):
    refused(submit, r"targets \['zzz'\].*synthetic.*hr, pr, qrs, qt", targets=["hr", "zzz"])


def test_a_target_a_stored_set_lacks_is_refused(submit, tmp_path):
    from run_fixtures import tiny_dataset_npz

    npz = tiny_dataset_npz(tmp_path / "d.npz", n=10)
    refused(submit, r"targets \['qrs_axis'\]", targets=["qrs_axis"], data={"source": "npz", "path": str(npz)})
    assert submit(targets=["hr"], data={"source": "npz", "path": str(npz)}).state == "queued"


@pytest.mark.parametrize("path", ["/etc/passwd", "/etc"])
def test_a_path_that_is_no_data_set_is_refused_at_the_door(submit, path):
    refused(submit, rf"data.path='{path}' is not an ecgcore data set", data={"source": "npz", "path": path})


def test_a_file_named_npz_that_is_not_one_is_refused(submit, tmp_path):
    fake = tmp_path / "fake.npz"
    fake.write_bytes(b"not a zip")
    refused(submit, r"is not an ecgcore data set: not an .npz", data={"source": "npz", "path": str(fake)})
    other = tmp_path / "other.npz"
    np.savez(other, x=np.zeros(3))
    refused(submit, r"is not an ecgcore data set: .*signals", data={"source": "npz", "path": str(other)})


def test_a_set_larger_than_the_disk_is_refused_with_the_estimate(submit):
    refused(submit, r"needs about [\d.]+ PiB of disk .* free", data={"source": "synthetic", "n": 10**12})


def test_a_stream_that_needs_more_memory_than_the_machine_has_is_refused_with_the_estimate(submit):
    refused(submit, r"needs about [\d.]+ TiB of memory .* has",
            data={"source": "synthetic", "stream": True, "n": 10**12})


def test_a_fraction_on_a_stream_is_refused(submit):
    refused(submit, r"fraction=0.5 .*stream", fraction=0.5,
            data={"source": "synthetic", "stream": True, "n": 100})


def test_a_job_that_fits_is_queued(submit):
    assert submit(data={"source": "synthetic", "n": 10, "duration": 2.0}, batch_size=2).state == "queued"


def test_the_memory_budget_reads_units_and_defaults_to_a_quarter_of_memory(monkeypatch):
    from ecgcore.data import admission

    monkeypatch.setenv(admission.BUDGET_ENV, "1.5G")
    assert admission.memory_budget() == int(1.5 * 2**30)
    monkeypatch.setenv(admission.BUDGET_ENV, "512mb")
    assert admission.memory_budget() == 512 * 2**20
    monkeypatch.setenv(admission.BUDGET_ENV, "lots")
    with pytest.raises(ValueError, match="ECGCORE_MEMORY_BUDGET='lots' is invalid"):
        admission.memory_budget()
    monkeypatch.delenv(admission.BUDGET_ENV)
    assert admission.memory_budget() == admission.machine_memory() // 4 and 2**28 < admission.memory_budget()


def test_a_set_the_cache_holds_needs_no_disk(monkeypatch):
    from ecgcore.data import admission
    from ecgcore.data.sources import load_dataset

    spec = {"source": "synthetic", "n": 6, "duration": 2.0, "seed": 41, "classes": "all"}
    load_dataset(spec)  # now in the cache
    monkeypatch.setattr(admission, "free_disk", lambda path: 1)  # a full disk
    assert admission.admit(JobConfig(data=spec)).data["seed"] == 41  # "all" matches the names the entry records
    with pytest.raises(ValueError, match=r"needs about [\d.]+ KiB of disk"):
        admission.admit(JobConfig(data={**spec, "seed": 42}))


@pytest.mark.parametrize("data, label_mode, message", [
    ({"source": "synthetic", "n": 10}, "single", r"label_mode='single' needs class labels: the synthetic source .*classes"),
    ({"source": "gan", "n": 10}, "single", "label_mode='single' needs class labels: the gan source"),
    ({"source": "synthetic", "n": 10, "classes": "all"}, "multi", "label_mode='multi' needs 0/1 class rows"),
])
def test_fine_tuning_on_data_without_its_labels_is_refused(submit, data, label_mode, message):
    refused(submit, message, task="finetune", data=data, label_mode=label_mode)


def test_fine_tuning_on_a_stored_set_needs_its_labels(submit, tmp_path):
    from run_fixtures import tiny_dataset_npz

    npz = {"source": "npz", "path": str(tiny_dataset_npz(tmp_path / "d.npz", n=10))}  # label, no multilabel
    refused(submit, r"label_mode='multi' needs 0/1 class rows: the npz source .* has none", task="finetune",
            data=npz, label_mode="multi")
    assert submit(task="finetune", data=npz).state == "queued"
