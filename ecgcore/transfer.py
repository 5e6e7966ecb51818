"""Transfer strategies: how a fine-tuning model is made from pretrained runs, and which of its parts stay frozen.

- `scratch`: a fresh network, nothing reused.
- `freeze_first_block`: the pretrained network with a new head; the first block keeps its weights.
- `linear_probe`: the pretrained network with a new head; the whole backbone is frozen, only the head learns.
- `full_finetune`: the pretrained network with a new head; every weight learns.
- `combined` (the paper's variant): one backbone per pretrained run side by side, their features concatenated,
  each first block frozen.

Frozen modules also keep their batch-norm statistics: the loop puts them in eval mode each epoch.

A **control arm** (`init="random"`) is a strategy that reuses a network, applied to a random network of the same
architecture instead: the same freezing and head, weights from a fresh init seeded by the run's seed (the very
weights `scratch` starts from at that seed). A gain of transfer over its control is what the pretrained
*weights* bring; a gain of the control over scratch is what freezing alone brings.
"""

from __future__ import annotations

import torch
from torch import nn

from ecgcore.models import backbones, build_model, first_block

# What a control arm is called wherever it is shown: nobody may take it for a pretrained arm.
CONTROL_NAMES = {"freeze_first_block": "random init, first block frozen", "linear_probe": "random init, linear probe",
                 "combined": "random init, combined"}


def model_for(config, n_leads, n_outputs, pretrained, notes):
    """(model, frozen modules) for `config`'s task and strategy. `pretrained`: the (model, config) of each run
    in config.pretrained, loaded (empty for scratch and pretraining); `notes` gets what the run should say."""
    if config.task == "pretrain" or config.strategy == "scratch":
        if config.task == "finetune" and config.pretrained:
            notes.append("strategy scratch: the pretrained runs given are not used")
        return fresh_model(config, n_leads, n_outputs), []
    if config.init == "random":
        model = fresh_model(config, n_leads, n_outputs, n_backbones(config))
        notes.append(f"control arm: {control_name(config.strategy, n_backbones(config))}, no pretrained weights")
        return model, _freeze(model, config.strategy)
    for run_dir, (model, pre_config) in zip(config.pretrained, pretrained):
        if pre_config.arch != config.arch:
            raise ValueError(f"pretrained run {run_dir} is a {pre_config.arch}, but arch={config.arch!r}: "
                             "fine-tune with the same arch")
        if model.n_leads != n_leads:
            raise ValueError(f"pretrained run {run_dir} was trained on {model.n_leads} leads "
                             f"({pre_config.preprocess.leads}), but the data have {n_leads}: use the same leads")
        if pre_config.preprocess != config.preprocess:
            notes.append(f"pretrained run {run_dir} used other preprocessing: {pre_config.preprocess}")
    models = [model for model, _ in pretrained]
    if config.strategy == "combined":
        model = build_model(config.arch, n_leads, n_outputs, n_backbones=len(models))
        for part, pre_model in zip(backbones(model), models):
            part.load_state_dict(pre_model.backbone.state_dict())
    else:
        if len(models) != 1:
            raise ValueError(f"strategy {config.strategy!r} takes one pretrained run, got {len(models)}")
        model = models[0]
        model.reset_head(n_outputs)
    return model, _freeze(model, config.strategy)


def fixed_prefix(model, strategy):
    """(prefix, rest) when `strategy` freezes a leading part of `model` - a linear probe's backbone, the first block
    of a single backbone - so that rest(prefix(x)) == model(x) and prefix(x) never changes while training (frozen,
    batch norm in eval mode): a fit may compute it once per record instead of in every epoch. None for strategies
    whose frozen part is not a prefix of one path (scratch, full_finetune, combined's several first blocks)."""
    backbone = model.backbone
    if strategy == "linear_probe":
        return backbone, model.head
    if strategy == "freeze_first_block" and len(backbones(model)) == 1:
        return backbone.features[0], nn.Sequential(*backbone.features[1:], backbone.pool, model.head)
    return None


def fresh_model(config, n_leads, n_outputs, n_backbones=1):
    """A randomly initialised model, its weights fixed by config.seed alone (scratch and control arms)."""
    torch.manual_seed(config.seed)
    return build_model(config.arch, n_leads, n_outputs, n_backbones)


def n_backbones(config):
    """How many backbones the model of `config` has side by side (more than one only for `combined`)."""
    if config.task != "finetune" or config.strategy != "combined":
        return 1
    return config.backbones if config.init == "random" else len(config.pretrained)


def control_name(strategy, n_backbones=1):
    """The unmistakable name of `strategy`'s random-init control, e.g. "random init, first block frozen"."""
    name = CONTROL_NAMES[strategy]
    return f"{name} x{n_backbones}" if strategy == "combined" else name


def _freeze(model, strategy):
    frozen = frozen_parts(model, strategy)
    for module in frozen:
        module.requires_grad_(False)
    return frozen


def frozen_parts(model, strategy):
    """The modules `strategy` keeps frozen in `model`."""
    if strategy in ("freeze_first_block", "combined"):
        return [first_block(model)]  # one module, or a ModuleList of each backbone's first block
    return {"linear_probe": [model.backbone], "full_finetune": [], "scratch": []}[strategy]
