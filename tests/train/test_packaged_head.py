"""The head shipped in the package: selected by head_weights="auto", recorded with its version,
and a regression value on a fixed input (fails if the packaged file changes)."""
import pytest
import torch

from conftest import seeded_regions
from vidsim.config import (
    FeatureConfig,
    SimilarityConfig,
    VidsimConfig,
    packaged_head_file,
    safetensors_metadata,
)
from vidsim.errors import ModelError
from vidsim.similarity.head import ViSiLHead, head_weights_file
from vidsim.train.export import head_metadata

BACKBONE = "efficientnet-lite0"
VERSION = "v1"  # MODEL_CARD.md
# ViSiLHead(visil, packaged lite0 head) on seeded_regions(12, 7) vs seeded_regions(15, 8), and on
# a copy: the query is target frames 3-12 plus noise (std 0.15) (MODEL_CARD.md, "Regression values").
EXPECTED_UNRELATED = -0.96678
EXPECTED_COPY = 0.61266
TOLERANCE = 1e-4

AUTO = VidsimConfig(similarity=SimilarityConfig(head="visil", head_weights="auto"))


def _fixed_inputs():
    target = seeded_regions(15, 8)
    g = torch.Generator().manual_seed(9)
    copy = torch.nn.functional.normalize(target[3:13] + 0.15 * torch.randn(10, 9, 256, generator=g), dim=-1)
    return seeded_regions(12, 7), target, copy


def _packaged_head() -> ViSiLHead:
    return ViSiLHead.from_config(AUTO.similarity, 256)


def test_auto_resolves_to_the_versioned_packaged_name_and_round_trips():
    assert AUTO.similarity.head_weights == f"packaged:{BACKBONE}@{VERSION}"
    assert VidsimConfig.from_json(AUTO.to_json()) == AUTO
    assert head_weights_file(AUTO.similarity.head_weights) == packaged_head_file(BACKBONE)
    assert safetensors_metadata(packaged_head_file(BACKBONE))["version"] == VERSION


def test_packaged_head_gives_the_documented_scores():
    head = _packaged_head()
    assert head.mode == "visil"
    unrelated_q, target, copy = _fixed_inputs()
    with torch.no_grad():
        unrelated = head(head.prepare(unrelated_q), head.prepare(target)).item()
        copied = head(head.prepare(copy), head.prepare(target)).item()
    assert unrelated == pytest.approx(EXPECTED_UNRELATED, abs=TOLERANCE)
    assert copied == pytest.approx(EXPECTED_COPY, abs=TOLERANCE)
    assert copied > unrelated


def test_packaged_head_was_trained_on_the_packaged_whitening():
    from vidsim.features.extractor import FeatureExtractor

    meta = head_metadata(packaged_head_file(BACKBONE))
    extractor = FeatureExtractor(FeatureConfig(backbone=BACKBONE))
    assert meta["whitening_version"] == extractor.whitening_version
    assert meta["weights_version"] == extractor.weights_version
    assert meta["dims"] == extractor.dims == 256
    assert meta["data"]["corpus"] == "dev"


def test_another_version_is_refused_naming_both():
    config = SimilarityConfig(head="visil", head_weights=f"packaged:{BACKBONE}@v0")
    with pytest.raises(ModelError, match=f"ships version '{VERSION}' of the {BACKBONE} head .*not 'v0'"):
        ViSiLHead.from_config(config, 256)


def test_a_backbone_without_a_packaged_head_is_refused():
    config = VidsimConfig(features=FeatureConfig(backbone="efficientnet-lite2"),
                          similarity=SimilarityConfig(head="visil", head_weights="auto"))
    assert config.similarity.head_weights == "packaged:efficientnet-lite2"
    with pytest.raises(ModelError, match=f"no trained head for backbone 'efficientnet-lite2' .it ships: {BACKBONE}"):
        ViSiLHead.from_config(config.similarity, 256)
    with pytest.raises(ModelError, match="'auto' names the head packaged for a backbone"):
        ViSiLHead.from_config(SimilarityConfig(head="visil", head_weights="auto"), 256)


def test_chamfer_stays_the_default():
    assert VidsimConfig().similarity.head == "chamfer" and VidsimConfig().similarity.head_weights is None


def test_evaluation_method_uses_the_packaged_head():
    from vidsim.evaluate.methods import available_methods, build_method

    assert "vidsim-visil" in available_methods()
    method = build_method("vidsim-visil")
    described = method.describe()
    assert described["mode"] == "visil" and described["head_version"] == VERSION
    assert described["config"]["similarity"]["head_weights"] == f"packaged:{BACKBONE}@{VERSION}"
    unrelated_q, target, copy = _fixed_inputs()
    prepare = method.model.head.prepare
    assert method.calculate_video_similarity(prepare(copy), prepare(target)) == pytest.approx(EXPECTED_COPY, abs=TOLERANCE)

