"""Transfer strategies: how a fine-tuning model is made from pretrained runs, and which of its parts stay frozen.

- `scratch`: a fresh network, nothing reused.
- `freeze_first_block`: the pretrained network with a new head; the first block keeps its weights.
- `linear_probe`: the pretrained network with a new head; the whole backbone is frozen, only the head learns.
- `full_finetune`: the pretrained network with a new head; every weight learns.
- `combined` (the paper's variant): one backbone per pretrained run side by side, their features concatenated,
  each first block frozen.

Frozen modules also keep their batch-norm statistics: the loop puts them in eval mode each epoch.
"""

from __future__ import annotations

from ecgcore.models import backbones, build_model, first_block


def model_for(config, n_leads, n_outputs, pretrained, notes):
    """(model, frozen modules) for `config`'s task and strategy. `pretrained`: the (model, config) of each run
    in config.pretrained, loaded (empty for scratch and pretraining); `notes` gets what the run should say."""
    if config.task == "pretrain" or config.strategy == "scratch":
        if config.task == "finetune" and config.pretrained:
            notes.append("strategy scratch: the pretrained runs given are not used")
        return build_model(config.arch, n_leads, n_outputs), []
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
    frozen = frozen_parts(model, config.strategy)
    for module in frozen:
        module.requires_grad_(False)
    return model, frozen


def frozen_parts(model, strategy):
    """The modules `strategy` keeps frozen in `model`."""
    if strategy in ("freeze_first_block", "combined"):
        return [first_block(model)]  # one module, or a ModuleList of each backbone's first block
    return {"linear_probe": [model.backbone], "full_finetune": [], "scratch": []}[strategy]
