"""ecgcore.data.sources: a data spec parsed into its source's typed options (check, rate, targets, loader)."""

import inspect

import numpy as np
import pytest

from dataclasses import MISSING, fields

from ecgcore.data import measured, ptbxl, sources, synthetic
from ecgcore.data.dataset import DataSet
from ecgcore.data.sources import data_rate, parse
from ecgcore.leads import LEADS

LOADERS = {sources.Synthetic: synthetic.make_dataset, sources.Gan: synthetic.make_gan_dataset,
           sources.Ptbxl: ptbxl.load_ptbxl, sources.Measured: measured.make_dataset}


@pytest.mark.parametrize("options, loader", LOADERS.items(), ids=lambda x: getattr(x, "__name__", ""))
def test_each_source_takes_exactly_its_loaders_options_with_the_same_defaults(options, loader):
    """A loader's new option (a new key of the spec) must be added to its options class, or specs lose it."""
    params = {name: MISSING if p.default is p.empty else p.default  # required: no default either way
              for name, p in inspect.signature(loader).parameters.items() if name != "progress"}
    assert {f.name: f.default for f in fields(options)} == params


@pytest.mark.parametrize("spec", [
    sources.DEFAULT_PRETRAIN_DATA, sources.DEFAULT_FINETUNE_DATA,
    {"source": "synthetic", "n": 50, "fs": 500, "engine": "ecgsyn", "noise": False, "ranges": {"hr": [40, 150]}},
    {"source": "synthetic", "stream": True, "n": 1000, "n_val": 10, "n_test": 20, "difficulty": "hard"},
    {"source": "gan", "n": 4, "fs": 500, "seed": 0, "leads": "all", "batch_size": 4},
    {"source": "ptbxl", "path": "/data/ptbxl", "fs": 500, "val_fold": None, "test_fold": None},  # the CLI's
    {"source": "measured", "path": "/data/ptbxl", "fs": 100, "morphology": False, "folds": [1, 2, 3]},
    {"source": "mixed", "real": {"path": "/data/ptbxl"}, "synthetic": {"n": 2000, "seed": 0}, "ratio": 0.5},
    {"source": "npz", "path": "/data/set.npz", "report": {"n_kept": 3}},  # a report is ignored
])
def test_the_specs_configs_hold_parse_and_round_trip(spec):
    options = parse(spec)
    assert parse(options.to_spec()) == options
    given = {k: v for k, v in spec.items() if k not in ("source", "report", "real", "synthetic")}
    assert {k: options.to_spec()[k] for k in given} == given  # every option kept as given


@pytest.mark.parametrize("spec, message", [
    ({"source": "synthetic", "duration": "10"}, r"data.duration='10' is invalid: must be a number in \[2, 600\] s"),
    ({"source": "synthetic", "n": 2.5}, r"data.n=2.5 is invalid: must be a whole number >= 1"),
    ({"source": "synthetic", "noise": "yes"}, "data.noise='yes' is invalid: must be true or false"),
    ({"source": "synthetic", "classes": 5}, "data.classes=5 is invalid"),
    ({"source": "synthetic", "ranges": {"heart": [1, 2]}}, "data.ranges=.* keyed by engine parameters .*heart"),
    ({"source": "synthetic", "difficulty": "medium"}, "data.difficulty='medium' is invalid: must be one of"),
    ({"source": "synthetic", "engine": "ecgsyn", "classes": "all"}, "ecgsyn' draws normal records only"),
    ({"source": "gan", "leads": ["I"]}, r"data.leads=\['I'\] is invalid: must be one of \['all', 'paper8'\]"),
    ({"source": "gan", "fs": 2000}, r"data.fs=2000 Hz is out of range \[100, 1000\] Hz"),
    ({"source": "ptbxl", "path": "p", "leads": ["I", "X"]}, "data.leads=.* is invalid"),
    ({"source": "ptbxl", "path": "p", "folds": "1,2"}, "data.folds='1,2' is invalid: must be a list of fold numbers"),
    ({"source": "measured", "path": "p", "morphology": 1}, "data.morphology=1 is invalid: must be true or false"),
    ({"source": "mixed", "real": "p"}, "data.real='p' is invalid: must be a dict"),
    ({"source": "mixed", "real": {"path": "p"}, "synthetic": {"n": 0}}, "data.synthetic.n=0 is invalid"),
    ({"source": "synthetic", "stream": True, "n": 10, "n_val": -1}, "data.n_val=-1 is invalid"),
    ({"source": "npz"}, r"needs the option\(s\) \['path'\]"),
    ("synthetic", "a data spec is a dict with a 'source' key"),
])
def test_a_bad_option_is_named_with_its_value_and_what_is_allowed(spec, message):
    with pytest.raises(ValueError, match=message):
        parse(spec)


def test_a_stored_set_gives_its_own_rate_and_targets_without_loading(tmp_path):
    signals = np.zeros((3, 12, 500), np.float32)
    for path in (tmp_path / "set.npz", tmp_path / "folder"):
        DataSet(signals, 250.0, LEADS, targets={"hr": np.ones(3), "qt": np.ones(3)}).save(path)
        stored = parse({"source": "npz", "path": str(path)})
        assert stored.rate() == 250.0 and stored.targets() == ("hr", "qt") and stored.shape() == (3, 12, 500)
        # the measured source keeps a stored set's rate (it said 100 Hz, its default, before)
        assert data_rate({"source": "measured", "path": str(path)}) == 250.0
        assert "r_amp_V1" in parse({"source": "measured", "path": str(path)}).targets()


def test_loading_goes_through_the_options_loader(monkeypatch):
    calls = []
    monkeypatch.setattr(sources, "make_dataset", lambda **kw: calls.append(kw) or "made")
    assert sources.load_dataset({"source": "synthetic", "n": 7, "report": {"x": 1}}) == "made"
    assert calls[0]["n"] == 7 and calls[0]["progress"] is None and "report" not in calls[0]
