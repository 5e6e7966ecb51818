"""ecgcore.transfer: strategies and their random-init control arms (really random, same labelled subset)."""

import pytest
import torch

from ecgcore import sweep, train, transfer
from ecgcore.config import CONTROLLED, JobConfig
from ecgcore.models import build_model, first_block
from ecgcore.train import fit, load_model
from test_train import QUIET, as_run, config, pretrained, sine_set  # noqa: F401 (pretrained: a fixture)


def fresh(seed, n_outputs=5, n_backbones=1):
    torch.manual_seed(seed)
    return build_model("small_cnn", 12, n_outputs, n_backbones)


def same(a, b):
    return all(torch.equal(v, b[k]) for k, v in a.items())


@pytest.mark.parametrize("strategy, part", [("freeze_first_block", first_block),
                                            ("linear_probe", lambda m: m.backbone)])
def test_a_control_arm_is_a_fresh_seeded_init_not_the_pretrained_run(pretrained, strategy, part):  # noqa: F811
    result = fit(config(task="finetune", strategy=strategy, init="random", seed=3, epochs=1), sine_set(), **QUIET)
    frozen = part(result.model).state_dict()
    assert same(frozen, part(fresh(3)).state_dict())  # the frozen part never moved from the seeded init
    assert not same(frozen, part(fresh(4)).state_dict())  # ... and the seed decides it
    source, _ = load_model(pretrained[0])
    assert not same(frozen, part(source).state_dict())
    assert any("control arm: random init" in note for note in result.summary["notes"])


def test_a_random_combined_control_has_its_backbones_and_reloads(tmp_path):
    cfg = config(task="finetune", strategy="combined", init="random", backbones=2, seed=1, epochs=1)
    result = fit(cfg, sine_set(), **QUIET)
    assert len(result.model.backbone.parts) == 2
    assert same(first_block(result.model).state_dict(), first_block(fresh(1, n_backbones=2)).state_dict())
    model, _ = load_model(as_run(result, cfg, tmp_path / "control"))
    assert len(model.backbone.parts) == 2


def test_a_control_and_its_pretrained_twin_see_the_same_labelled_subset(pretrained, monkeypatch):  # noqa: F811
    seen = []
    subsample = train.splits.subsample

    def spy(*args, **kw):
        idx, notes = subsample(*args, **kw)
        seen.append(idx.tolist())
        return idx, notes

    monkeypatch.setattr(train.splits, "subsample", spy)
    twin = sweep.Arm("freeze_first_block", [str(pretrained[0])])
    grid = sweep.SweepConfig(base=config(task="finetune", epochs=1), arms=sweep.with_controls([twin]))
    for arm in grid.arms:
        fit(sweep.cell_config(grid, arm, 0.5, 2), sine_set(), **QUIET)
    assert [a.name for a in grid.arms] == [twin.name, "random init, first block frozen", "random init, linear probe"]
    assert len(seen) == 3 and seen[0] == seen[1] == seen[2] and 0 < len(seen[0]) < 60


def test_every_reusing_strategy_has_one_named_control():
    arms = [sweep.Arm("freeze_first_block", ["/r/hr"]), sweep.Arm("freeze_first_block", ["/r/qt"]),
            sweep.Arm("linear_probe", ["/r/hr"]), sweep.Arm("full_finetune", ["/r/hr"]),
            sweep.Arm("combined", ["/r/hr", "/r/qt"]), sweep.Arm()]
    names = [a.name for a in sweep.with_controls(arms)[len(arms):]]
    # one control per strategy (a random network does not depend on the run it stands in for); full_finetune's
    # control is scratch itself
    assert names == ["random init, first block frozen", "random init, linear probe", "random init, combined x2"]
    assert set(transfer.CONTROL_NAMES) == set(CONTROLLED)


@pytest.mark.parametrize("kw, message", [
    (dict(strategy="scratch", init="random"), "is scratch"),
    (dict(strategy="full_finetune", init="random"), "is scratch"),
    (dict(strategy="linear_probe", init="random", pretrained=["/r"]), "uses no pretrained run"),
    (dict(strategy="combined", init="random", backbones=0), "backbones=0"),
    (dict(init="nope"), "init='nope'"),
])
def test_bad_control_configs_are_clear_errors(kw, message):
    with pytest.raises(ValueError, match=message):
        JobConfig(task="finetune", **kw).validate()


@pytest.mark.parametrize("strategy", ["freeze_first_block", "linear_probe"])
def test_a_frozen_prefix_computed_once_gives_the_same_run(pretrained, monkeypatch, strategy):  # noqa: F811
    cfg = config(task="finetune", strategy=strategy, pretrained=[str(pretrained[0])], epochs=2, fraction=0.5)
    once = fit(cfg, sine_set(), **QUIET)
    fixed_prefix = transfer.fixed_prefix
    monkeypatch.setattr(transfer, "fixed_prefix", lambda model, strategy: None)  # every epoch through the prefix
    every = fit(cfg, sine_set(), **QUIET)
    assert [h["val_loss"] for h in once.history] == pytest.approx([h["val_loss"] for h in every.history], rel=1e-4)
    assert once.summary["test"]["macro_auroc"] == pytest.approx(every.summary["test"]["macro_auroc"], abs=1e-6)
    for key, value in every.model.state_dict().items():
        assert torch.allclose(value.float(), once.model.state_dict()[key].float(), atol=1e-5), key
    x = torch.randn(3, 12, 150)
    model, (prefix, rest) = once.model.eval(), fixed_prefix(once.model, strategy)
    assert torch.allclose(rest(prefix(x)), model(x), atol=1e-6)
