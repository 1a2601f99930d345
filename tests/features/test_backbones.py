import numpy as np
import pytest
import torch

from vidsim.config import FeatureConfig
from vidsim.errors import ModelError
from vidsim.features import FeatureExtractor, available_backbones, build_backbone
from vidsim.features.seeded import seeded_frames


def test_registry_lists_builtin_backbones():
    names = available_backbones()
    assert {"efficientnet-lite0", "resnet50"} <= set(names)


def test_unknown_backbone_is_a_clear_error():
    with pytest.raises(ModelError, match="unknown backbone 'vgg99'"):
        build_backbone("vgg99")


def test_resnet50_never_downloads_and_asks_for_a_file():
    with pytest.raises(ModelError, match="needs a weights file"):
        build_backbone("resnet50")


def test_resnet50_loads_a_torchvision_style_checkpoint(tmp_path):
    seeded = build_backbone("resnet50", "seed:3")
    path = tmp_path / "resnet50.pth"
    torch.save({"state_dict": {f"module.{k}": v for k, v in seeded.state_dict().items()}}, path)
    loaded = build_backbone("resnet50", str(path))
    for key, value in seeded.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value), key
    bad = tmp_path / "bad.pth"
    torch.save({"conv1.weight": torch.zeros(1)}, bad)
    with pytest.raises(ModelError, match="not a ResNet-50"):
        build_backbone("resnet50", str(bad))


def test_lite0_default_extractor_output():
    extractor = FeatureExtractor(FeatureConfig(whitening="none"))
    frames = seeded_frames(3, seed=5)
    out = extractor(frames)
    assert out.shape == (3, 9, 496)
    np.testing.assert_allclose(out.norm(dim=-1).numpy(), 1.0, rtol=1e-5)
    # The packaged ImageNet weights tell different images apart better than identical ones.
    same = (out[0] * out[0]).sum(-1).mean()
    other = (out[0] * out[1]).sum(-1).mean()
    assert same > other


def test_bf16_matches_fp32_closely():
    frames = seeded_frames(2, seed=6)
    fp32 = FeatureExtractor(FeatureConfig())(frames)
    bf16 = FeatureExtractor(FeatureConfig(precision="bf16"))(frames)
    cos = (fp32 * bf16).sum(-1)
    assert cos.min() > 0.99
