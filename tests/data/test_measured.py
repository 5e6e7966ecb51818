"""ecgcore.data.measured: real ECGs with measured targets (fold guard, masking, cache) and the mixed source."""

import numpy as np
import pytest

from ecgcore.data import measure, measured
from ecgcore.data.dataset import DataSet
from ecgcore.data.sources import load_dataset
from ecgcore.leads import LEADS
from ptbxl_fixture import make_ptbxl_fixture

FOLDS = (1, 2, 3, 9, 10)  # three training folds, the default validation and test folds


@pytest.fixture(scope="module")
def ptbxl_root(tmp_path_factory):
    return make_ptbxl_fixture(tmp_path_factory.mktemp("ptbxl"), n_per_class=5, folds=FOLDS, fs=(100,),
                              bad_record=False)


def _count_calls(monkeypatch):
    calls = []
    real = measure.measure_intervals

    def counting(signals, fs, lead_index=None):
        calls.append(len(signals))
        return real(signals, fs, lead_index)

    monkeypatch.setattr(measure, "measure_intervals", counting)
    return calls


def test_uses_training_folds_only_and_records_them(ptbxl_root):
    data = measured.make_dataset(ptbxl_root, fs=100, morphology=False)
    from ecgcore.data.ptbxl import load_ptbxl

    everything = load_ptbxl(ptbxl_root, fs=100)
    train = everything.record_id[~np.isin(everything.fold, (9, 10))]
    assert sorted(data.record_id) == sorted(train) and len(train) < len(everything)
    assert data.config["folds"] == [1, 2, 3]
    assert data.config["record_ids"] == list(data.record_id)
    # no diagnostic labels and no folds reach pretraining: its split is random within these records
    assert data.label is None and data.multilabel is None and data.fold is None
    assert set(data.targets) == set(measure.INTERVAL_TARGETS)


def test_the_folder_is_read_once_and_pretraining_gets_the_training_folds_records_in_its_order(ptbxl_root,
                                                                                              monkeypatch):
    from ecgcore.data import ptbxl

    expected = ptbxl.load_ptbxl(ptbxl_root, fs=100, folds=[1, 2, 3])
    reads = []
    real = ptbxl.load_ptbxl
    monkeypatch.setattr(ptbxl, "load_ptbxl", lambda *a, **k: reads.append(k.get("folds")) or real(*a, **k))
    data = measured.make_dataset(ptbxl_root, fs=100, morphology=False)
    assert reads == [None]  # one read of the folder: the training folds are taken from it
    assert list(data.record_id) == list(expected.record_id)
    assert np.array_equal(data.signals, expected.signals)


@pytest.mark.parametrize("folds", [[1, 9], [10], [2, 3, 9, 10]])
def test_fold_guard_refuses_validation_and_test_folds(ptbxl_root, folds):
    with pytest.raises(ValueError, match="validation/test folds"):
        measured.make_dataset(ptbxl_root, folds=folds)


def test_fold_guard_follows_the_chosen_folds(ptbxl_root):
    with pytest.raises(ValueError, match=r"fold\(s\) \[3\]"):
        measured.make_dataset(ptbxl_root, folds=[1, 3], val_fold=3, test_fold=4)
    data = measured.make_dataset(ptbxl_root, val_fold=3, test_fold=4, morphology=False)
    assert data.config["folds"] == [1, 2, 9, 10]


@pytest.fixture(scope="module")
def no_fold_10(tmp_path_factory):
    """Like ptbxl-mini: no fold 10, so fine-tuning validates on fold 8 and tests on fold 9."""
    return make_ptbxl_fixture(tmp_path_factory.mktemp("no10"), n_per_class=1, folds=(1, 2, 8, 9), fs=(100,),
                              bad_record=False)


def test_auto_guard_holds_out_the_folds_fine_tuning_chooses(no_fold_10):
    from ecgcore.data.ptbxl import load_ptbxl
    from ecgcore.data.splits import split

    data = measured.make_dataset(no_fold_10, morphology=False)
    assert data.config["folds"] == [1, 2] and (data.config["val_fold"], data.config["test_fold"]) == (8, 9)
    target = load_ptbxl(no_fold_10)  # fine-tuning's auto choice on the same folder
    parts = split(target)
    held_out = set(target.record_id[np.concatenate([parts.val, parts.test])])
    assert held_out and not held_out & set(data.record_id)
    assert set(data.record_id) == set(target.record_id[parts.train])


@pytest.mark.parametrize("folds", [[1, 8], [9], [2, 8, 9]])
def test_auto_guard_refuses_the_auto_chosen_folds(no_fold_10, folds):
    with pytest.raises(ValueError, match=r"validation/test folds \(val_fold=8, test_fold=9\)"):
        measured.make_dataset(no_fold_10, folds=folds)
    with pytest.raises(ValueError, match="validation/test folds"):
        measured.training_folds([1, 2, 8, 9], None, None, folds)


def test_given_folds_still_override_auto(no_fold_10, tmp_path):
    assert measured.training_folds([1, 2, 8, 9], 9, 10) == [1, 2, 8]  # the benchmark's folds, as given
    assert measured.training_folds([1, 2, 8, 9], None, None) == [1, 2]
    from ecgcore.data.ptbxl import load_ptbxl

    path = load_ptbxl(no_fold_10).save(tmp_path / "folded.npz")  # a data set file keeps its folds
    data = measured.make_dataset(path, morphology=False)
    assert data.config["folds"] == [1, 2] and data.config["test_fold"] == 9


def test_cache_is_reused(tmp_path, monkeypatch):
    ptbxl_root = make_ptbxl_fixture(tmp_path, n_per_class=5, folds=FOLDS, fs=(100,), bad_record=False)
    calls = _count_calls(monkeypatch)
    first = measured.make_dataset(ptbxl_root, folds=[1], morphology=False)
    measured_once = sum(calls)
    from ecgcore.data.ptbxl import load_ptbxl

    every = len(load_ptbxl(ptbxl_root, fs=100))  # every record of the folder, each on each lead, once
    assert measured_once == every * len(measured.DEFAULT_INTERVAL_LEADS) and len(first) < every
    again = measured.make_dataset(ptbxl_root, folds=[1], morphology=False)
    assert sum(calls) == measured_once  # nothing measured again
    for name in first.targets:
        np.testing.assert_array_equal(first.targets[name], again.targets[name])
    # every record of the folder is measured once: other folds, or other held-out folds (a study that rotates
    # its test fold), measure nothing again
    measured.make_dataset(ptbxl_root, folds=[1, 2], morphology=False)
    rotated = measured.make_dataset(ptbxl_root, val_fold=1, test_fold=2, morphology=False)
    assert sum(calls) == measured_once and rotated.config["folds"] == [3, 9, 10]
    assert not set(rotated.record_id) & set(first.record_id)


def test_each_record_is_measured_once_for_every_choice_of_held_out_folds(tmp_path, monkeypatch):
    from ecgcore.data.ptbxl import load_ptbxl

    ptbxl_root = make_ptbxl_fixture(tmp_path, n_per_class=5, folds=FOLDS, fs=(100,), bad_record=False)
    calls = _count_calls(monkeypatch)
    everything = load_ptbxl(ptbxl_root, fs=100)
    sets = [measured.make_dataset(ptbxl_root, val_fold=v, test_fold=t, morphology=True)
            for v, t in ((9, 10), (10, 1), (1, 2), (2, 3))]
    assert sum(calls) == len(everything) * len(measured.DEFAULT_INTERVAL_LEADS)  # each record once, each lead
    by_id = {}
    for data in sets:
        held_out = set(everything.record_id[np.isin(everything.fold, [data.config["val_fold"],
                                                                      data.config["test_fold"]])])
        assert held_out and not held_out & set(data.record_id)  # the guard, rotation by rotation
        for i, record in enumerate(data.record_id):  # a record's targets are the same in every rotation
            values = tuple(float(data.targets[t][i]) for t in measure.INTERVAL_TARGETS)
            assert by_id.setdefault(record, values) == pytest.approx(values, nan_ok=True)


def test_measures_at_the_highest_rate(tmp_path, monkeypatch):
    root = make_ptbxl_fixture(tmp_path, n_per_class=1, folds=(1, 9, 10), fs=(100, 500), bad_record=False)
    rates = []
    real = measure.measure_intervals
    monkeypatch.setattr(measure, "measure_intervals", lambda s, fs, lead_index=None: rates.append(fs) or real(
        s, fs, lead_index))
    data = measured.make_dataset(root, fs=100, morphology=False)
    assert data.fs == 100 and data.signals.shape[-1] == 1000
    assert data.config["measured_at_fs"] == 500 and set(rates) == {500}


def _npz_with_bad_records(tmp_path, ptbxl_root):
    from ecgcore.data.ptbxl import load_ptbxl

    good = load_ptbxl(ptbxl_root, fs=100, folds=[1])
    rng = np.random.default_rng(0)
    bad = good.subset(np.arange(3))
    bad.signals = np.stack([np.zeros_like(bad.signals[0]), rng.normal(size=bad.signals[0].shape),
                            rng.normal(size=bad.signals[0].shape)]).astype(np.float32)
    bad.record_id = np.array(["flat", "noise1", "noise2"])
    both = DataSet(signals=np.concatenate([good.signals, bad.signals]), fs=100, lead_names=good.lead_names,
                   record_id=np.concatenate([good.record_id, bad.record_id]))
    return both.save(tmp_path / "set.npz"), len(good)


def test_failed_measurements_are_masked_and_counted(tmp_path, ptbxl_root):
    path, n_good = _npz_with_bad_records(tmp_path, ptbxl_root)
    data = load_dataset({"source": "measured", "path": str(path)})
    assert len(data) == n_good + 3
    for name in (*measure.INTERVAL_TARGETS, "r_amp_V1", "qrs_axis"):
        values = data.targets[name]
        assert np.isnan(values[n_good:]).all(), name
        assert data.config["dropped"][name] == np.isnan(values).sum() >= 3
    assert np.isfinite(data.targets["hr"][:n_good]).all()
    assert data.config["units"]["qt"] == "ms" and data.config["units"]["qrs_axis"] == "degrees"


def test_measured_intervals_match_the_engine_within_tolerance():
    from ecgcore.synth import synthesize

    rng = np.random.default_rng(3)
    n = 8
    params = {"hr": rng.uniform(55, 100, n), "pr": rng.uniform(130, 210, n), "qrs": rng.uniform(75, 120, n),
              "qt": rng.uniform(350, 450, n), "axis": rng.uniform(-20, 80, n)}
    batch = synthesize(params, n=n, fs=500, seed=1, noise=False)
    values = measured.measure_targets(batch.signals, 500, batch.lead_names)
    # Stated tolerances on the median absolute error (measured 0.3 / 17 / 10 / 31 ms, axis 3 deg; the reports in
    # docs/results/).
    tolerance = {"hr": 2.0, "pr": 30.0, "qrs": 25.0, "qt": 50.0}
    for name, tol in tolerance.items():
        error = np.abs(values[name] - batch.labels[name])
        assert np.isfinite(error).sum() >= n - 1, name
        assert np.nanmedian(error) <= tol, (name, error)
    assert np.nanmedian(np.abs(values["qrs_axis"] - params["axis"])) <= 20.0  # a proxy: S waves pull it
    # morphology follows the engine's voltages: a doubled R amplitude doubles the measured R in lead II
    tall = synthesize({**params, "r_amp": 2 * 1.2}, n=n, fs=500, seed=1, noise=False)
    ratio = measured.measure_targets(tall.signals, 500, tall.lead_names)["r_amp_II"] / values["r_amp_II"]
    assert 1.6 < np.nanmedian(ratio) < 2.4


@pytest.mark.parametrize("ratio, n", [(0.25, 16), (0.5, None)])
def test_mixed_source_has_the_chosen_ratio(ptbxl_root, ratio, n):
    real = {"path": str(ptbxl_root), "folds": [1, 2, 3]}
    data = load_dataset({"source": "mixed", "real": real, "synthetic": {"n": 30, "seed": 0}, "ratio": ratio,
                         "n": n, "seed": 0})
    n_real = measured.make_dataset(**real).signals.shape[0]
    origin = np.array([r.split(":")[0] for r in data.record_id])
    expected_n = n if n is not None else min(int(n_real / ratio), int(30 / (1 - ratio)))
    assert len(data) == expected_n
    assert (origin == "real").sum() == round(ratio * expected_n) == data.config["n_real"]
    assert data.fs == 100 and data.lead_names == measured.make_dataset(**real).lead_names
    # the synthetic records carry the engine's exact intervals, the morphology targets only from real records
    synthetic = origin == "synthetic"
    assert np.isfinite(data.targets["qt"][synthetic]).all()
    assert np.isnan(data.targets["r_amp_V1"][synthetic]).all()


def test_mixed_source_refuses_impossible_requests(ptbxl_root):
    real = {"path": str(ptbxl_root), "folds": [1]}
    with pytest.raises(ValueError, match=r"data.ratio=1.5 is invalid: must be a number in \[0, 1\]"):
        load_dataset({"source": "mixed", "real": real, "synthetic": {"n": 10}, "ratio": 1.5})
    with pytest.raises(ValueError, match="real records"):
        load_dataset({"source": "mixed", "real": real, "synthetic": {"n": 10}, "ratio": 0.9, "n": 100})


def test_the_measured_source_never_calls_back_into_the_sources():
    """mixed_dataset takes its two parts loaded: data/measured.py -> data/sources.py was a hidden loop."""
    import ast
    from pathlib import Path

    tree = ast.parse(Path(measured.__file__).read_text())
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert "ecgcore.data.sources" not in imported


def test_unpaired_wave_lists_drop_the_interval_instead_of_failing(monkeypatch):
    """neurokit2 sometimes returns one wave list a beat longer than the others; that interval is dropped."""
    from ecgcore.synth import synthesize

    record = synthesize(n=1, fs=500, seed=0, noise=False).signals[0]
    real = measure.delineate

    def one_extra_t_offset(sig, fs):
        cleaned, rpeaks, waves = real(sig, fs)
        waves["ECG_T_Offsets"] = np.append(waves["ECG_T_Offsets"], np.nan)
        return cleaned, rpeaks, waves

    monkeypatch.setattr(measure, "delineate", one_extra_t_offset)
    values = measure.intervals_of_record(record[1], 500)
    assert np.isnan(values["qt"]) and np.isfinite([values["hr"], values["pr"], values["qrs"]]).all()
    assert np.isfinite(measure.morphology_of_record(record, 500, LEADS)["r_amp_II"])


def test_measuring_in_worker_processes_gives_the_same_targets():
    from ecgcore.synth import synthesize

    batch = synthesize(n=6, fs=100, seed=4)
    serial = measured.measure_targets(batch.signals, 100, batch.lead_names, workers=1)
    parallel = measured.measure_targets(batch.signals, 100, batch.lead_names, workers=2)
    assert list(parallel) == list(serial)
    for name in serial:
        np.testing.assert_array_equal(parallel[name], serial[name])


def test_pretraining_runs_on_measured_targets_like_on_synthetic_ones(ptbxl_root):
    from ecgcore.config import JobConfig
    from ecgcore.train import fit

    targets = ["hr", "qt", "r_amp_II", "st_V5", "qrs_axis"]
    config = JobConfig(task="pretrain", data={"source": "measured", "path": str(ptbxl_root)}, targets=targets,
                       arch="small_cnn", epochs=1, batch_size=8, patience=0)
    result = fit(config, log=lambda *_: None)
    assert result.summary["targets"] == targets
    used = result.summary["n_train"] + result.summary["n_val"] + result.summary["n_test"]
    assert 0 < used <= len(measured.make_dataset(ptbxl_root))  # training-fold records only
    assert np.isfinite(result.predictions["y_pred"]).all()


def test_building_reports_its_progress_reading_then_measuring(ptbxl_root, monkeypatch, tmp_path):
    monkeypatch.setenv("ECGCORE_CACHE", str(tmp_path))  # nothing cached: both stages run
    seen = []
    load_dataset({"source": "measured", "path": str(ptbxl_root), "fs": 100, "morphology": False},
                 progress=lambda share, stage="reading": seen.append((stage, share)))
    stages = [stage for stage, _ in seen]
    assert stages[0] == "reading" and stages[-1] == "measuring the ECGs (neurokit2)"
    assert stages == sorted(stages, key=lambda s: s != "reading")  # reading first, then measuring, not mixed
    measuring = [share for stage, share in seen if stage != "reading"]
    assert measuring == sorted(measuring) and measuring[-1] == 1.0 and 0 < measuring[0] < 1
