"""ecgcore.data.stream: fresh synthetic records every batch, reproducible, with a fixed holdout."""

import numpy as np
import pytest

from ecgcore.data.sources import Stream, parse
from ecgcore.data.stream import SyntheticStream
from ecgcore.train import fit
from test_train import QUIET, config

SPEC = {"source": "synthetic", "stream": True, "n": 40, "fs": 100, "duration": 3.0, "seed": 5}


def stream(spec):
    return SyntheticStream(parse(spec))


def rows(dataset):
    return {r.tobytes() for r in dataset.signals}


def test_the_stream_never_repeats_a_record_and_repeats_itself_across_runs():
    made = stream(SPEC)
    drawn = [made.records(epoch, b, 16) for epoch in (1, 2) for b in range(3)]
    seen = set().union(*map(rows, drawn))
    assert len(seen) == 6 * 16  # no record twice within a run
    again = stream(dict(SPEC)).records(2, 1, 16)
    np.testing.assert_array_equal(again.signals, drawn[4].signals)  # the same spec draws the same records
    np.testing.assert_array_equal(again.targets["hr"], drawn[4].targets["hr"])
    holdout, parts = made.holdout()
    assert len(parts.val) == len(parts.test) == 6 and not rows(holdout) & seen  # 15% of n each, unseen
    assert not np.array_equal(stream({**SPEC, "seed": 6}).records(1, 0, 16).signals, drawn[0].signals)


def test_a_stream_spec_is_checked():
    assert isinstance(parse(SPEC), Stream) and not isinstance(parse({**SPEC, "stream": False}), Stream)
    with pytest.raises(ValueError, match="has no option.*nn"):
        parse({**SPEC, "nn": 3})
    with pytest.raises(ValueError, match="parametric engine only"):
        parse({**SPEC, "engine": "ecgsyn"})
    with pytest.raises(ValueError, match="data.stream='yes' is invalid: must be true or false"):
        parse({**SPEC, "stream": "yes"})
    with pytest.raises(ValueError, match="n_test=0 .*the test needs at least one record"):
        SyntheticStream(parse({**SPEC, "n": 2}))  # 15% of 2 records is none


def test_pretraining_on_the_stream_scores_the_fixed_holdout(monkeypatch):
    monkeypatch.setenv("ECGCORE_LOADER_WORKERS", "1")
    cfg = config(data={**SPEC, "n_val": 8, "n_test": 10}, epochs=1, batch_size=8)
    first = fit(cfg, **QUIET)
    assert first.summary["n_train"] == 40 and first.summary["n_val"] == 8 and first.summary["n_test"] == 10
    assert len(first.history) == 1 and np.isfinite(first.history[-1]["val_loss"])
    assert any("fresh records per epoch" in n for n in first.summary["notes"])
    monkeypatch.setenv("ECGCORE_LOADER_WORKERS", "0")  # generated in this process instead: the same run
    again = fit(cfg, **QUIET)
    assert [h["train_loss"] for h in again.history] == [h["train_loss"] for h in first.history]
    np.testing.assert_array_equal(again.predictions["y_pred"], first.predictions["y_pred"])


def test_loading_a_stream_spec_gives_its_holdout_and_building_reports_progress():
    from ecgcore.data.sources import load_dataset

    holdout = load_dataset({**SPEC, "n_val": 3, "n_test": 4})
    assert len(holdout) == 7 and holdout.signals.shape[1:] == (12, 300)
    shares = []
    load_dataset({"source": "synthetic", "n": 9, "fs": 100, "duration": 2.0, "seed": 77}, progress=shares.append)
    assert shares and shares[-1] == 1.0 and shares == sorted(shares)


def test_a_stream_spec_passes_the_door_check_and_bad_ones_fail_there():
    from ecgcore.data.sources import check_spec

    check_spec({**SPEC, "n_val": 3, "n_test": 4})
    with pytest.raises(ValueError, match=r"data.n=1 is invalid: must be a whole number >= 2"):
        check_spec({**SPEC, "n": 1})
    with pytest.raises(ValueError, match="no option"):
        check_spec({"source": "synthetic", "n": 10, "n_val": 3})  # n_val belongs to the stream only


def test_fit_refuses_a_fraction_on_the_stream_instead_of_ignoring_it():
    # every batch is fresh records: there is no labelled training set to take a share of
    with pytest.raises(ValueError, match=r"fraction=0.5 .*stream.*set the stream's n"):
        fit(config(data={**SPEC, "n_val": 8, "n_test": 10}, epochs=1, batch_size=8, fraction=0.5), **QUIET)
