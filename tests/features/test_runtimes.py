"""Inference runtimes: each gives torch fp32's region features within its tolerance on real decoded
frames; exports are cached, reused and rebuilt when damaged; runtime and precision are in the
feature key, so an index refuses features made another way."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import clips
import vidsim
from vidsim.config import DecodeConfig, FeatureConfig, VidsimConfig
from vidsim.decode import iter_frames
from vidsim.errors import ConfigError, ConfigMismatchError, ModelError
from vidsim.features import FeatureExtractor
from vidsim.features.runtimes import TOLERANCES, installed, preference, resolve_runtime
from vidsim.features.runtimes import registry as runtime_registry
from vidsim.fsutil import sha256_file
from vidsim.index import Index
from vidsim.model import ViSiL

LITE0 = "efficientnet-lite0"
EXACT = 1e-5  # fp32 runtimes: the same function in another order of operations
CASES = [  # (backbone, weights, runtime, precision)
    (LITE0, None, "onnxruntime", "fp32"),
    (LITE0, None, "openvino", "fp32"),
    (LITE0, None, "openvino", "bf16"),
    (LITE0, None, "torch", "bf16"),
    ("resnet50", "seed:0", "onnxruntime", "fp32"),
    ("resnet50", "seed:0", "openvino", "fp32"),
    ("resnet50", "seed:0", "openvino", "bf16"),
]


def _need(runtime: str) -> None:
    if not installed(runtime):
        pytest.skip(f"the {runtime} runtime is not installed (pip install {runtime})")


def _config(runtime: str, precision: str = "fp32", backbone: str = LITE0, weights: str | None = None,
            whitening: str = "none") -> FeatureConfig:
    return FeatureConfig(backbone=backbone, weights=weights, whitening=whitening, runtime=runtime,  # type: ignore[arg-type]
                         precision=precision)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="module")
def frames(clip_dir) -> torch.Tensor:
    """Real decoded frames: an H.264 clip through vidsim's decode path (resize 256, crop 224)."""
    path = clips.natural(clip_dir / "runtimes.mp4", seconds=4.0, seed=11)
    batches = list(iter_frames(path, DecodeConfig(fps=2.0)))
    return torch.from_numpy(np.concatenate([b.frames for b in batches]))


@pytest.fixture(scope="module")
def torch_fp32():
    cache: dict[str, torch.Tensor] = {}

    def regions(backbone: str, weights: str | None, frames: torch.Tensor) -> torch.Tensor:
        if backbone not in cache:
            cache[backbone] = FeatureExtractor(_config("torch", backbone=backbone, weights=weights))(frames)
        return cache[backbone]

    return regions


@pytest.mark.parametrize("backbone,weights,runtime,precision", CASES)
def test_runtime_gives_torch_fp32_region_features_within_its_tolerance(
        backbone, weights, runtime, precision, frames, torch_fp32, model_dir):
    _need(runtime)
    extractor = FeatureExtractor(_config(runtime, precision, backbone, weights), model_dir=model_dir)
    assert (extractor.config.runtime, extractor.config.precision) == (runtime, precision)
    got = extractor(frames)
    expected = torch_fp32(backbone, weights, frames)
    assert got.shape == expected.shape == (len(frames), 9, sum(extractor.backbone.channels))
    ok, diff, cosine = TOLERANCES[precision].check(got, expected)
    assert ok, (diff, cosine)
    if precision == "fp32":
        assert diff <= EXACT
    np.testing.assert_allclose(got.norm(dim=-1).numpy(), 1.0, rtol=1e-4)


def test_whitened_features_of_an_exported_runtime_match_torch(frames, model_dir):
    _need("openvino")
    got = FeatureExtractor(_config("openvino", whitening="auto"), model_dir=model_dir)(frames)
    expected = FeatureExtractor(_config("torch", whitening="auto"))(frames)
    assert got.shape[-1] == 256
    assert float((got - expected).abs().max()) <= 1e-4


def test_export_is_made_once_and_reused(frames, tmp_path):
    _need("onnxruntime")
    first = FeatureExtractor(_config("onnxruntime"), model_dir=tmp_path)
    expected = first(frames[:2])
    assert first.runtime.store.exports == 1  # type: ignore[attr-defined]
    (exported,) = tmp_path.glob("*.onnx")
    stamp = exported.stat().st_mtime_ns
    second = FeatureExtractor(_config("onnxruntime"), model_dir=tmp_path)
    torch.testing.assert_close(second(frames[:2]), expected, rtol=0, atol=0)
    assert second.runtime.store.exports == 0  # type: ignore[attr-defined]
    assert exported.stat().st_mtime_ns == stamp and list(tmp_path.glob("*.onnx")) == [exported]
    manifest = json.loads(exported.with_suffix(".json").read_text())
    assert manifest["sha256"] == sha256_file(exported) and manifest["input"] == [224, 224, 3]
    if installed("openvino"):  # the other runtime reads the same export
        third = FeatureExtractor(_config("openvino"), model_dir=tmp_path)
        third(frames[:2])
        assert third.runtime.store.exports == 0  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def lite0_export(model_dir, frames):
    """The lite0 export (made once here) and the region vectors of two frames through openvino."""
    _need("openvino")
    expected = FeatureExtractor(_config("openvino"), model_dir=model_dir)(frames[:2])
    (exported,) = [p for p in model_dir.glob(f"{LITE0}-*.onnx")]
    return exported, expected


@pytest.mark.parametrize("damage", ["flipped bytes", "cut short", "garbage with a matching manifest", "deleted manifest"])
def test_a_damaged_export_is_rebuilt(damage, frames, tmp_path, lite0_export):
    source, expected = lite0_export
    exported = tmp_path / source.name
    shutil.copy2(source, exported)
    shutil.copy2(source.with_suffix(".json"), exported.with_suffix(".json"))
    manifest = exported.with_suffix(".json")
    data = bytearray(exported.read_bytes())
    if damage == "flipped bytes":
        for at in range(len(data) // 2, len(data) // 2 + 64):
            data[at] ^= 0xFF
        exported.write_bytes(bytes(data))
    elif damage == "cut short":
        exported.write_bytes(bytes(data[: len(data) // 3]))
    elif damage == "garbage with a matching manifest":  # the checksum passes; loading fails
        exported.write_bytes(b"not an onnx model" * 100)
        record = json.loads(manifest.read_text())
        record["sha256"] = sha256_file(exported)
        manifest.write_text(json.dumps(record))
    else:
        manifest.unlink()
    again = FeatureExtractor(_config("openvino"), model_dir=tmp_path)
    torch.testing.assert_close(again(frames[:2]), expected, rtol=0, atol=1e-6)
    assert again.runtime.store.exports == 1  # type: ignore[attr-defined]
    assert json.loads(manifest.read_text())["sha256"] == sha256_file(exported)
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]


def test_changed_weights_are_exported_again(frames, model_dir, lite0_export):
    """Weights changed before first use (a fine-tuned or scrambled backbone) make their own export."""
    _, before = lite0_export
    extractor = FeatureExtractor(_config("openvino"), model_dir=model_dir)
    with torch.no_grad():
        for p in extractor.backbone.parameters():
            p.mul_(0.5)
    after = extractor(frames[:2])
    assert extractor.runtime.store.exports == 1  # type: ignore[attr-defined]
    assert len(list(model_dir.glob(f"{LITE0}-*-224x224-*.onnx"))) == 2
    assert float((after - before).abs().max()) > 1e-3


def test_a_runtime_unlike_torch_is_refused(frames, model_dir, monkeypatch):
    _need("onnxruntime")
    from vidsim.features.runtimes import onnxrt

    real = onnxrt.OnnxRuntime.load

    def shifted(self, path, device="cpu"):
        run = real(self, path, device)
        return lambda x: np.roll(run(x), 1, axis=-1)

    monkeypatch.setattr(onnxrt.OnnxRuntime, "load", shifted)
    with pytest.raises(ModelError, match="unlike torch fp32's.*--runtime torch"):
        FeatureExtractor(_config("onnxruntime"), model_dir=model_dir)(frames[:2])


def test_feature_keys_differ_per_runtime_and_precision(model_dir):
    combos = [("torch", "fp32"), ("torch", "bf16")]
    combos += [("onnxruntime", "fp32")] if installed("onnxruntime") else []
    combos += [("openvino", "fp32"), ("openvino", "bf16")] if installed("openvino") else []
    keys = {combo: FeatureExtractor(_config(*combo), model_dir=model_dir).feature_key(DecodeConfig()) for combo in combos}
    assert len(set(keys.values())) == len(combos), keys


def test_configurations_saved_before_runtimes_mean_torch_with_their_old_key():
    saved = json.loads(VidsimConfig().to_json())
    del saved["features"]["runtime"]
    old = VidsimConfig.from_dict(saved)
    assert old.features.runtime == "torch"
    torch_config = VidsimConfig(features=FeatureConfig(runtime="torch"))
    assert old.feature_key("w", "x") == torch_config.feature_key("w", "x")
    # the torch key is the one computed before the runtime field existed: runtime is left out of it
    openvino_config = VidsimConfig(features=FeatureConfig(runtime="openvino"))
    assert openvino_config.feature_key("w", "x") != torch_config.feature_key("w", "x")


def test_auto_is_resolved_deterministically_and_recorded(monkeypatch, model_dir):
    first = [name for name in preference(LITE0, "fp32") if installed(name)][0]
    assert resolve_runtime("auto", LITE0, "fp32") == first
    model = ViSiL(VidsimConfig(features=FeatureConfig(whitening="none")))
    assert model.config.features.runtime == model.extractor.config.runtime == first
    assert model.feature_key == FeatureExtractor(_config(first), model_dir=model_dir).feature_key(DecodeConfig())
    assert resolve_runtime("auto", LITE0, "fp32", device="cuda") == "torch"  # the exported runtimes run on the CPU
    monkeypatch.setattr(runtime_registry, "installed", lambda name: name == "torch")
    assert resolve_runtime("auto", LITE0, "fp32") == resolve_runtime("auto", "resnet50", "bf16") == "torch"


def test_unusable_choices_are_clear_errors(monkeypatch):
    with pytest.raises(ConfigError, match=r"onnxruntime runtime runs fp32, int8, not bf16 \(bf16: --runtime torch or openvino\)"):
        resolve_runtime("onnxruntime", LITE0, "bf16")
    with pytest.raises(ConfigError, match="runs fp32 on the CPU only; use --runtime torch with --device cuda"):
        resolve_runtime("openvino", LITE0, "fp32", device="cuda")
    monkeypatch.setattr(runtime_registry, "installed", lambda name: name == "torch")
    with pytest.raises(ModelError, match="openvino runtime is not installed: pip install"):
        FeatureExtractor(_config("openvino"))


def test_an_index_refuses_features_made_with_another_runtime(tmp_path, clip_dir, model_dir):
    _need("openvino")
    clip = clips.natural(clip_dir / "runtimes_index.mp4", seconds=4.0, seed=12)
    by_torch = ViSiL(VidsimConfig(features=FeatureConfig(runtime="torch")))
    by_openvino = ViSiL(VidsimConfig(features=FeatureConfig(runtime="openvino", precision="bf16")))
    directory = tmp_path / "idx"
    with Index.open(directory, model=by_torch) as index:
        index.add([clip])
        assert index.search(by_torch.extract_video(clip), top_k=1)[0].similarity > 0.9
        query = by_openvino.extract_video(clip)
        with pytest.raises(ConfigMismatchError, match=query.feature_key):
            index.search(query)
    with pytest.raises(ConfigMismatchError, match="runtime: index has 'torch', asked for 'openvino'"):
        Index.open(directory, model=by_openvino)
    stored = json.loads((directory / "config.json").read_text())
    assert stored["vidsim"]["features"]["runtime"] == "torch"


def test_cli_runtime_option_is_recorded_and_bad_choices_are_one_line(tmp_path, clip_dir):
    from vidsim.store import load_features

    clip = clips.natural(clip_dir / "runtimes_cli.mp4", seconds=2.0, seed=13)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(Path(vidsim.__file__).parents[1]),
                                                                     os.environ.get("PYTHONPATH")]))}
    run = subprocess.run([sys.executable, "-m", "vidsim", "extract", str(clip), "--out", str(tmp_path / "f"),
                          "--runtime", "torch", "--no-cache", "-q"], capture_output=True, text=True, env=env)
    assert run.returncode == 0, run.stderr
    (saved,) = (tmp_path / "f").glob("*.safetensors")
    assert load_features(saved).feature_key == ViSiL(VidsimConfig(features=FeatureConfig(runtime="torch"))).feature_key
    bad = subprocess.run([sys.executable, "-m", "vidsim", "extract", str(clip), "--out", str(tmp_path / "g"),
                          "--runtime", "onnxruntime", "--precision", "bf16", "--no-cache", "-q"],
                         capture_output=True, text=True, env=env)
    assert bad.returncode == 1 and "Traceback" not in bad.stderr
    assert bad.stderr.strip() == "error: the onnxruntime runtime runs fp32, int8, not bf16 (bf16: --runtime torch or openvino)"
