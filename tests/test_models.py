import pytest
import torch

from ecgcore.models import build_model, first_block, last_conv

ARCHS = ["small_cnn", "inception1d", "resnet1d"]


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("n_leads,length", [(12, 1000), (8, 250)])
def test_any_lead_count_and_length(arch, n_leads, length):
    model = build_model(arch, n_leads, 4).eval()
    x = torch.randn(2, n_leads, length)
    features = model.backbone(x)
    assert features.shape == (2, model.backbone.n_features)
    assert model(x).shape == (2, 4)


@pytest.mark.parametrize("arch", ARCHS)
def test_first_block_and_last_conv_are_parts_of_the_backbone(arch):
    model = build_model(arch, 12, 3).eval()
    backbone_modules = list(model.backbone.modules())
    assert any(m is first_block(model) for m in backbone_modules)
    maps = []
    last_conv(model).register_forward_hook(lambda m, i, out: maps.append(out))
    model(torch.randn(2, 12, 300))
    assert maps[0].ndim == 3 and maps[0].shape[0] == 2  # an (N, C, L) feature map for attributions


def test_wrong_lead_count_is_a_clear_error():
    model = build_model("small_cnn", 12, 2)
    with pytest.raises(ValueError, match="8 leads but the model was built for 12"):
        model(torch.randn(2, 8, 200))


def test_unknown_arch_and_bad_sizes():
    with pytest.raises(ValueError, match="arch='vgg'"):
        build_model("vgg", 12, 2)
    with pytest.raises(ValueError, match="n_outputs=0"):
        build_model("small_cnn", 12, 0)


def test_regress_destandardises_with_the_buffers():
    model = build_model("small_cnn", 12, 2).eval()
    model.target_mean.copy_(torch.tensor([70.0, 160.0]))
    model.target_std.copy_(torch.tensor([10.0, 20.0]))
    x = torch.randn(3, 12, 200)
    assert torch.allclose(model.regress(x), model(x) * torch.tensor([10.0, 20.0]) + torch.tensor([70.0, 160.0]))


def test_reset_head_changes_outputs_and_keeps_backbone():
    model = build_model("small_cnn", 12, 4)
    before = {k: v.clone() for k, v in model.backbone.state_dict().items()}
    model.reset_head(5)
    assert model.eval()(torch.randn(2, 12, 200)).shape == (2, 5)
    assert model.target_mean.shape == (5,)
    assert all(torch.equal(before[k], v) for k, v in model.backbone.state_dict().items())


def test_combined_concatenates_backbone_features():
    single = build_model("small_cnn", 12, 5)
    combined = build_model("small_cnn", 12, 5, n_backbones=3).eval()
    assert combined.backbone.n_features == 3 * single.backbone.n_features
    assert combined(torch.randn(2, 12, 200)).shape == (2, 5)
    assert len(first_block(combined)) == 3


def test_state_dict_round_trip_weights_only(tmp_path):
    model = build_model("resnet1d", 8, 3).eval()
    model.target_mean.fill_(5.0)
    torch.save(model.state_dict(), tmp_path / "m.pt")
    again = build_model("resnet1d", 8, 3).eval()
    again.load_state_dict(torch.load(tmp_path / "m.pt", weights_only=True))
    x = torch.randn(2, 8, 300)
    assert torch.equal(model.regress(x), again.regress(x))


def test_a_checkpoint_of_the_earlier_small_cnn_is_refused_not_misread(tmp_path):
    # the earlier small_cnn (max-pool 2 everywhere) had the same weight shapes but no small_cnn_v2 key
    from ecgcore.config import JobConfig
    from ecgcore.train import load_model

    state = {k: v for k, v in build_model("small_cnn", 12, 4).state_dict().items() if "small_cnn_v2" not in k}
    (tmp_path / "config.json").write_text(JobConfig(arch="small_cnn").to_json())
    torch.save(state, tmp_path / "model.pt")
    with pytest.raises(ValueError, match="(?s)does not match.*small_cnn_v2"):
        load_model(tmp_path)
