"""The three 1D CNNs, all one shape: `backbone` (N, leads, L) -> (N, features), then a replaceable `head`.

- `inception1d`: InceptionTime as in Strodthoff et al.'s PTB-XL benchmark (kernels 39/19/9, bottleneck 32,
  32 filters per branch, depth 6, a residual shortcut every 3 blocks).
- `resnet1d`: the benchmark's `resnet1d_wang` (stem conv 7, three basic blocks of 128 channels, kernels 5/3).
- `small_cnn`: four conv blocks (max-pool 4 after the first), fast enough for demos on a laptop CPU.

Every backbone ends in concat pooling (adaptive average + max over time), so any length works, and every
model uses the benchmark's head (BN, dropout, 128 hidden units, BN, dropout, linear). Multi-task regression
is one model whose head has one output per target (a shared hidden layer, one output unit per target); its
`target_mean` / `target_std` buffers de-standardise predictions, so a state_dict alone gives clinical units.
`combined` (the paper's variant) is one model whose backbone concatenates several backbones' features.

A checkpoint (`to_checkpoint`, what a run's model.pt holds) describes itself: the state_dict plus the arch,
lead names, output names and number of backbones, all plain tensors, strings and ints, so
`torch.load(..., weights_only=True)` reads it and `from_checkpoint` rebuilds the model with nothing else.
The target standardisation travels in the state_dict (the `target_mean` / `target_std` buffers).
"""

from __future__ import annotations

import torch
from torch import nn

from ecgcore.config import ARCHS


def conv(n_in, n_out, kernel, stride=1):
    return nn.Conv1d(n_in, n_out, kernel, stride=stride, padding=(kernel - 1) // 2, bias=False)


class ConcatPool(nn.Module):
    """(N, C, L) -> (N, 2C): adaptive average and max over time, side by side."""

    def forward(self, x):
        return torch.cat([x.mean(dim=-1), x.amax(dim=-1)], dim=1)


class Backbone(nn.Module):
    """`features` (a Sequential of blocks: first is frozen by freeze_first_block, last is the last conv
    map for attributions) followed by concat pooling."""

    def __init__(self, features, n_leads, n_channels):
        super().__init__()
        self.features = features
        self.pool = ConcatPool()
        self.n_leads = n_leads
        self.n_features = 2 * n_channels

    def forward(self, x):
        return self.pool(self.features(x))


class ConcatBackbone(nn.Module):
    """The `combined` strategy: several backbones side by side, their features concatenated."""

    def __init__(self, parts):
        super().__init__()
        self.parts = nn.ModuleList(parts)
        self.n_leads = parts[0].n_leads
        self.n_features = sum(p.n_features for p in parts)

    def forward(self, x):
        return torch.cat([p(x) for p in self.parts], dim=1)


# --- small_cnn -------------------------------------------------------------------------------------------

def small_cnn_backbone(n_leads):
    # The first block max-pools by 4 (the others by 2): the later convs see a quarter of the length, 1.8x less
    # time per training step on a CPU at 12x1000, test MAE / macro AUROC on the demo's sets unchanged within
    # seed noise. The first conv keeps full resolution (a stride-2 conv was a little faster, but blurred the
    # QRS attributions tests/test_explain.py checks).
    widths, kernels, pools = (32, 64, 64, 128), (7, 5, 5, 3), (4, 2, 2, 2)
    blocks, n_in = [], n_leads
    for width, kernel, pool in zip(widths, kernels, pools):
        blocks.append(nn.Sequential(conv(n_in, width, kernel), nn.BatchNorm1d(width), nn.ReLU(),
                                    nn.MaxPool1d(pool)))
        n_in = width
    backbone = Backbone(nn.Sequential(*blocks), n_leads, n_in)
    # the pools changed but no weight shape did: a checkpoint of the earlier small_cnn lacks this key, so
    # loading it fails (strict load_state_dict) instead of giving silently wrong outputs
    backbone.register_buffer("small_cnn_v2", torch.ones(()))
    return backbone


# --- inception1d -----------------------------------------------------------------------------------------

class InceptionBlock(nn.Module):
    """Bottleneck, three parallel convs (39/19/9) and a max-pool branch, concatenated, BN, ReLU."""

    def __init__(self, n_in, filters=32, kernels=(39, 19, 9), bottleneck=32):
        super().__init__()
        self.bottleneck = conv(n_in, bottleneck, 1)
        self.convs = nn.ModuleList([conv(bottleneck, filters, k) for k in kernels])
        self.pool_branch = nn.Sequential(nn.MaxPool1d(3, stride=1, padding=1), conv(n_in, filters, 1))
        self.bn_relu = nn.Sequential(nn.BatchNorm1d(filters * (len(kernels) + 1)), nn.ReLU())

    def forward(self, x):
        bottled = self.bottleneck(x)
        return self.bn_relu(torch.cat([c(bottled) for c in self.convs] + [self.pool_branch(x)], dim=1))


class InceptionStage(nn.Module):
    """Three inception blocks with a residual shortcut (1x1 conv + BN) around them."""

    def __init__(self, n_in, n_out, blocks=3):
        super().__init__()
        self.blocks = nn.Sequential(*[InceptionBlock(n_in if i == 0 else n_out) for i in range(blocks)])
        self.shortcut = nn.Sequential(conv(n_in, n_out, 1), nn.BatchNorm1d(n_out))

    def forward(self, x):
        return torch.relu(self.blocks(x) + self.shortcut(x))


def inception1d_backbone(n_leads, depth=6):
    width = 4 * 32  # three conv branches + the pool branch, 32 filters each
    stages = [InceptionStage(n_leads if i == 0 else width, width) for i in range(depth // 3)]
    return Backbone(nn.Sequential(*stages), n_leads, width)


# --- resnet1d (resnet1d_wang) ----------------------------------------------------------------------------

class BasicBlock(nn.Module):
    def __init__(self, n_in, n_out, stride=1, kernels=(5, 3)):
        super().__init__()
        self.body = nn.Sequential(
            conv(n_in, n_out, kernels[0], stride), nn.BatchNorm1d(n_out), nn.ReLU(),
            conv(n_out, n_out, kernels[1]), nn.BatchNorm1d(n_out),
        )
        self.shortcut = (nn.Identity() if stride == 1 and n_in == n_out
                         else nn.Sequential(conv(n_in, n_out, 1, stride), nn.BatchNorm1d(n_out)))

    def forward(self, x):
        return torch.relu(self.body(x) + self.shortcut(x))


def resnet1d_backbone(n_leads, width=128):
    stem = nn.Sequential(conv(n_leads, width, 7), nn.BatchNorm1d(width), nn.ReLU())
    blocks = [BasicBlock(width, width, stride=1 if i == 0 else 2) for i in range(3)]
    return Backbone(nn.Sequential(stem, *blocks), n_leads, width)


BACKBONES = {"small_cnn": small_cnn_backbone, "inception1d": inception1d_backbone, "resnet1d": resnet1d_backbone}


# --- the model -------------------------------------------------------------------------------------------

def make_head(n_features, n_outputs, hidden=128):
    """The benchmark's head (fastai create_head1d with lin_ftrs=[128], ps=0.5)."""
    return nn.Sequential(
        nn.BatchNorm1d(n_features), nn.Dropout(0.25), nn.Linear(n_features, hidden), nn.ReLU(),
        nn.BatchNorm1d(hidden), nn.Dropout(0.5), nn.Linear(hidden, n_outputs),
    )


class ECGNet(nn.Module):
    def __init__(self, backbone, n_outputs, arch):
        super().__init__()
        self.arch = arch
        self.backbone = backbone
        self.lead_names = None  # what the inputs and outputs are (set_names), saved in the checkpoint
        self.reset_head(n_outputs)

    def reset_head(self, n_outputs):
        """A new, untrained head with `n_outputs` outputs (and identity de-standardisation)."""
        self.head = make_head(self.backbone.n_features, n_outputs)
        self.register_buffer("target_mean", torch.zeros(n_outputs))
        self.register_buffer("target_std", torch.ones(n_outputs))
        self.output_names = None

    def set_names(self, lead_names, output_names):
        """Name the input leads and the outputs (what training fed and learnt), as the checkpoint records them."""
        if len(lead_names) != self.n_leads or len(output_names) != len(self.target_mean):
            raise ValueError(f"{len(lead_names)} lead names and {len(output_names)} output names for a model of "
                             f"{self.n_leads} leads and {len(self.target_mean)} outputs")
        self.lead_names, self.output_names = tuple(lead_names), tuple(output_names)
        return self

    @property
    def n_leads(self):
        return self.backbone.n_leads

    def forward(self, x):
        if x.shape[1] != self.n_leads:
            raise ValueError(f"input has {x.shape[1]} leads but the model was built for {self.n_leads}")
        return self.head(self.backbone(x))

    def regress(self, x):
        """Regression outputs in clinical units (forward gives standardised ones)."""
        return self.destandardise(self(x))

    def destandardise(self, out):
        """Standardised outputs (what forward gives) -> clinical units."""
        return out * self.target_std + self.target_mean


def build_model(arch, n_leads, n_outputs, n_backbones=1):
    """A fresh model; n_backbones > 1 builds the `combined` shape (backbones side by side)."""
    if arch not in BACKBONES:
        raise ValueError(f"arch={arch!r} is unknown: choose one of {ARCHS}")
    if n_leads < 1 or n_outputs < 1 or n_backbones < 1:
        raise ValueError(f"n_leads={n_leads}, n_outputs={n_outputs}, n_backbones={n_backbones}: all must be >= 1")
    parts = [BACKBONES[arch](n_leads) for _ in range(n_backbones)]
    return ECGNet(parts[0] if n_backbones == 1 else ConcatBackbone(parts), n_outputs, arch)


CHECKPOINT_FORMAT = "ecgcore-checkpoint-v1"  # a bare state_dict (model.pt before v1) has no "format" key


def to_checkpoint(model):
    """What model.pt holds (see the module docstring); ValueError when the model's leads/outputs are unnamed."""
    if model.lead_names is None or model.output_names is None:
        raise ValueError("the model's leads and outputs are not named (ECGNet.set_names): it cannot describe itself")
    return {"format": CHECKPOINT_FORMAT, "arch": model.arch, "lead_names": list(model.lead_names),
            "output_names": list(model.output_names), "n_backbones": len(backbones(model)),
            "state_dict": model.state_dict()}


def is_checkpoint(obj):
    return isinstance(obj, dict) and obj.get("format") == CHECKPOINT_FORMAT


def from_checkpoint(checkpoint, where="checkpoint"):
    """The model (eval mode, names set) that a to_checkpoint dict describes; ValueError naming `where` (the
    file) when it is not one or its weights do not fit what it says."""
    keys = ("arch", "lead_names", "output_names", "n_backbones", "state_dict")
    if not is_checkpoint(checkpoint) or any(k not in checkpoint for k in keys):
        raise ValueError(f"{where} is not an ecgcore checkpoint (expected the keys {keys})")
    c = checkpoint
    try:
        model = build_model(c["arch"], len(c["lead_names"]), len(c["output_names"]), int(c["n_backbones"]))
        model.load_state_dict(c["state_dict"])
    except (ValueError, RuntimeError) as e:
        raise ValueError(f"{where} does not rebuild its model (arch {c['arch']}): {e}") from e
    return model.set_names(c["lead_names"], c["output_names"]).eval()


def backbones(model):
    """The backbones of `model`: one, or the `combined` model's several, in order."""
    b = model.backbone
    return list(b.parts) if isinstance(b, ConcatBackbone) else [b]


def first_block(model):
    """The first block of each backbone (what freeze_first_block freezes), as one module."""
    blocks = [b.features[0] for b in backbones(model)]
    return blocks[0] if len(blocks) == 1 else nn.ModuleList(blocks)


def last_conv(model, part=0):
    """The block that outputs the last (N, C, L) feature map of backbone `part` (for Grad-CAM style
    attributions)."""
    return backbones(model)[part].features[-1]
