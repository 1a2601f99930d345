"""int8 (post-training quantisation): features close to torch fp32's on real decoded frames, the
calibration frames and quantised models cached, reused and rebuilt when damaged, int8 in the feature
key (an fp32 index refuses int8 features), and which runtime/precision/device pairs are refused."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
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
from vidsim.features.runtimes import TOLERANCES, installed, onnxrt, resolve_runtime
from vidsim.features.runtimes import calibration as calibration_module
from vidsim.features.runtimes import export as export_module
from vidsim.features.runtimes import registry as runtime_registry
from vidsim.features.runtimes.calibration import CalibrationClip, CalibrationSet, default_calibration
from vidsim.features.runtimes.quantise import QuantisedStore
from vidsim.fsutil import sha256_file
from vidsim.index import Index
from vidsim.model import ViSiL
from vidsim.store import FeatureCache
from vidsim.store.cache import content_hash

INT8 = ["onnxruntime", "openvino"]


def _need(runtime: str) -> None:
    if not installed(runtime):
        pytest.skip(f"the {runtime} runtime is not installed (pip install {runtime})")
    if runtime == "openvino" and not runtime_registry.importable("nncf"):
        pytest.skip("NNCF is not installed (pip install 'vidsim[int8]')")


def _config(runtime: str, precision: str = "int8", whitening: str = "none") -> FeatureConfig:
    return FeatureConfig(whitening=whitening, runtime=runtime, precision=precision)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def calibration_clips(clip_dir) -> list[CalibrationClip]:
    """Real encoded clips (H.264, decoded by vidsim's decode path), standing in for the dev corpus clips."""
    made = [clips.natural(clip_dir / f"int8_calibration_{seed}.mp4", seconds=6.0, size=(320, 240), seed=seed)
            for seed in (21, 22, 23)]
    return [CalibrationClip(p.stem, p, sha256_file(p)) for p in made]


@pytest.fixture
def calibration(calibration_clips, monkeypatch) -> CalibrationSet:
    """Every int8 runtime built in the test calibrates on `calibration_clips`."""
    made = CalibrationSet(calibration_clips, label="test")
    monkeypatch.setattr(calibration_module, "default_calibration", lambda corpus_dir=None: made)
    return made


@pytest.fixture(scope="module")
def frames(clip_dir) -> torch.Tensor:
    """Real decoded frames of another clip than the calibration ones (resize 256, crop 224)."""
    path = clips.natural(clip_dir / "int8_frames.mp4", seconds=4.0, size=(320, 240), seed=24)
    return torch.from_numpy(np.concatenate([b.frames for b in iter_frames(path, DecodeConfig(fps=2.0))]))


@pytest.fixture(scope="module")
def torch_fp32(frames) -> torch.Tensor:
    return FeatureExtractor(_config("torch", "fp32"))(frames)


@dataclass
class FirstUse:
    """One int8 extractor's first use in an empty model directory (quantising takes a while: once per runtime)."""

    model_dir: Path
    features: torch.Tensor
    extractor: FeatureExtractor
    calibration: CalibrationSet


@pytest.fixture(scope="module")
def first_use(tmp_path_factory, calibration_clips, frames):
    made: dict[str, FirstUse] = {}

    def get(runtime: str) -> FirstUse:
        _need(runtime)
        if runtime not in made:
            root = tmp_path_factory.mktemp(f"int8-{runtime}")
            calibration = CalibrationSet(calibration_clips, label="test")
            with pytest.MonkeyPatch.context() as patch:
                patch.setattr(calibration_module, "default_calibration", lambda corpus_dir=None: calibration)
                extractor = FeatureExtractor(_config(runtime), model_dir=root)
                made[runtime] = FirstUse(root, extractor(frames), extractor, calibration)
        return made[runtime]

    return get


def _store(extractor: FeatureExtractor) -> QuantisedStore:
    store = extractor.runtime.quantised  # type: ignore[attr-defined]
    assert store is not None
    return store


@pytest.mark.parametrize("runtime", INT8)
def test_int8_gives_region_features_close_to_torch_fp32(runtime, first_use, torch_fp32):
    made = first_use(runtime)
    assert (made.extractor.config.runtime, made.extractor.config.precision) == (runtime, "int8")
    got = made.features
    assert got.shape == torch_fp32.shape
    ok, diff, cosine = TOLERANCES["int8"].check(got, torch_fp32)
    assert ok, (diff, cosine)
    mean_cosine = float(torch.nn.functional.cosine_similarity(got, torch_fp32, dim=-1).mean())
    assert mean_cosine > 0.98, mean_cosine
    assert diff > 1e-3  # quantised: not the fp32 network under another name
    np.testing.assert_allclose(got.norm(dim=-1).numpy(), 1.0, rtol=1e-4)  # the pooling tail stays in float
    assert made.extractor.runtime.checks[(224, 224)][1] >= TOLERANCES["int8"].min_cosine  # type: ignore[attr-defined]


def test_int8_features_after_whitening_stay_close(first_use, calibration, frames):
    made = first_use("onnxruntime")
    got = FeatureExtractor(_config("onnxruntime", whitening="auto"), model_dir=made.model_dir)(frames)
    expected = FeatureExtractor(_config("torch", "fp32", whitening="auto"))(frames)
    cosine = torch.nn.functional.cosine_similarity(got, expected, dim=-1)
    assert got.shape[-1] == 256 and float(cosine.mean()) > 0.9


@pytest.mark.parametrize("runtime", INT8)
def test_calibration_and_quantised_model_are_made_once_and_reused(runtime, first_use, calibration, frames):
    made = first_use(runtime)
    assert made.calibration.builds == 1 and _store(made.extractor).quantisations == 1
    root = made.model_dir
    array, manifest = calibration.paths(root)
    record = json.loads(manifest.read_text())
    assert record["files"][array.name]["sha256"] == sha256_file(array)
    assert record["clips"] == {c.name: c.sha256 for c in calibration.clips}
    files, quantised_manifest = _store(made.extractor).files(next(root.glob("*-f1.onnx")))
    assert all(f.is_file() for f in files) and len(files) == (2 if runtime == "openvino" else 1)  # xml + bin
    stamps = {p: p.stat().st_mtime_ns for p in [array, *files]}
    second = FeatureExtractor(_config(runtime), model_dir=root)  # `calibration`: a new set, nothing held in memory
    torch.testing.assert_close(second(frames), made.features, rtol=0, atol=0)
    assert calibration.builds == 0 and _store(second).quantisations == 0 and second.runtime.store.exports == 0  # type: ignore[attr-defined]
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps
    assert json.loads(quantised_manifest.read_text())["calibration"] == calibration.digest
    assert not [p for p in os.listdir(root) if p.endswith(".tmp") or p.startswith(".int8-")]


def _flip(path: Path) -> None:
    data = bytearray(path.read_bytes())
    for at in range(len(data) // 2, min(len(data), len(data) // 2 + 64)):
        data[at] ^= 0xFF
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("runtime,damage", [
    ("onnxruntime", "calibration flipped"), ("onnxruntime", "calibration manifest deleted"),
    ("onnxruntime", "model flipped"), ("openvino", "model garbage with a matching manifest"),
])
def test_damaged_calibration_or_quantised_model_is_rebuilt(runtime, damage, first_use, calibration, frames, tmp_path):
    made = first_use(runtime)
    for p in made.model_dir.iterdir():
        shutil.copy2(p, tmp_path / p.name)
    array, calibration_manifest = calibration.paths(tmp_path)
    names, manifest_name = _store(made.extractor).files(next(made.model_dir.glob("*-f1.onnx")))
    files, model_manifest = [tmp_path / f.name for f in names], tmp_path / manifest_name.name
    model = files[0]  # .onnx, or OpenVINO's .xml
    if damage == "calibration flipped":
        _flip(array)
    elif damage == "calibration manifest deleted":
        calibration_manifest.unlink()
    elif damage == "model flipped":
        _flip(model)
    else:  # the checksum passes; loading fails
        model.write_bytes(b"not a model" * 100)
        record = json.loads(model_manifest.read_text())
        record["files"][model.name]["sha256"] = sha256_file(model)
        model_manifest.write_text(json.dumps(record))
    again = FeatureExtractor(_config(runtime), model_dir=tmp_path)
    torch.testing.assert_close(again(frames), made.features, rtol=0, atol=1e-6)
    rebuilt_calibration = damage.startswith("calibration")
    assert calibration.builds == (1 if rebuilt_calibration else 0)
    assert _store(again).quantisations == (0 if rebuilt_calibration else 1)
    assert json.loads(calibration_manifest.read_text())["files"][array.name]["sha256"] == sha256_file(array)
    assert all(json.loads(model_manifest.read_text())["files"][f.name]["sha256"] == sha256_file(f) for f in files)


def test_calibration_frames_are_thinned_and_resized(calibration, tmp_path):
    frames = calibration.frames(tmp_path)
    assert frames.dtype == np.uint8 and frames.shape[1:] == (224, 224, 3)
    assert len(frames) == 3 * 12  # 6 s at 2 fps from each of 3 clips, under the cap
    small = calibration.frames_at(tmp_path, 112, 160)
    assert small.shape == (len(frames), 112, 160, 3) and small.dtype == np.uint8
    assert abs(float(small.mean()) - float(frames.mean())) < 2.0
    assert len(calibration.probe(tmp_path, 224, 224)) == 4


def test_calibration_never_downloads_and_names_what_to_do(tmp_path, calibration_clips):
    empty = default_calibration(tmp_path / "no-corpus")
    assert [c.name for c in empty.clips] == ["cap12", "megamind", "bikes", "world", "cap13", "tree", "carphone"]
    with pytest.raises(ModelError, match=r"dev clips .*missing: .*cap12\.mp4.*fetch_corpus\(only=list\(split_clips\('dev'\)\)\)"):
        empty.frames(tmp_path / "models")
    assert not (tmp_path / "no-corpus").exists()
    wrong = CalibrationSet([CalibrationClip("a", calibration_clips[0].path, "0" * 64)], label="test")
    with pytest.raises(ModelError, match="not the expected bytes"):
        wrong.frames(tmp_path / "models")


def test_default_calibration_reads_the_dev_clips_of_the_corpus(tmp_path):
    calibration = default_calibration()
    if not all(c.path.is_file() for c in calibration.clips):
        pytest.skip("the benchmark's dev clips are not in the corpus cache (vidsim.bench.fetch_corpus)")
    frames = calibration.frames(tmp_path)
    assert calibration.builds == 1 and frames.shape[1:] == (224, 224, 3) and 200 <= len(frames) <= 300
    from vidsim.bench import split_clips

    assert [c.name for c in calibration.clips] == list(split_clips("dev"))
    assert not set(split_clips("dev")) & set(split_clips("test"))


def test_feature_keys_record_int8_and_its_calibration(calibration, calibration_clips, tmp_path, monkeypatch):
    _need("onnxruntime")
    fp32 = FeatureExtractor(_config("onnxruntime", "fp32"), model_dir=tmp_path).feature_key(DecodeConfig())
    int8 = FeatureExtractor(_config("onnxruntime"), model_dir=tmp_path)
    assert int8.feature_key(DecodeConfig()) != fp32
    assert int8.runtime.provenance == (  # type: ignore[attr-defined]
        f"int8:onnxruntime-{_version('onnxruntime')}-r1:calibration-{calibration.digest[:16]}",)
    other = CalibrationSet(calibration_clips[:2], label="test")
    monkeypatch.setattr(calibration_module, "default_calibration", lambda corpus_dir=None: other)
    assert FeatureExtractor(_config("onnxruntime"), model_dir=tmp_path).feature_key(DecodeConfig()) != int8.feature_key(
        DecodeConfig())
    assert not list(tmp_path.iterdir())  # keys need neither the calibration frames nor a model


def _version(name: str) -> str:
    import importlib.metadata

    return importlib.metadata.version(name)


def test_an_fp32_index_refuses_int8_features(first_use, calibration, tmp_path, clip_dir, monkeypatch):
    made = first_use("onnxruntime")
    monkeypatch.setattr(export_module, "default_model_dir", lambda: made.model_dir)
    clip = clips.natural(clip_dir / "int8_index.mp4", seconds=4.0, seed=25)
    by_fp32 = ViSiL(VidsimConfig(features=FeatureConfig(runtime="onnxruntime")))
    by_int8 = ViSiL(VidsimConfig(features=FeatureConfig(runtime="onnxruntime", precision="int8")))
    directory = tmp_path / "idx"
    with Index.open(directory, model=by_fp32) as index:
        index.add([clip])
        query = by_int8.extract_video(clip)
        with pytest.raises(ConfigMismatchError, match=query.feature_key):
            index.search(query)
    with pytest.raises(ConfigMismatchError, match="precision: index has 'fp32', asked for 'int8'"):
        Index.open(directory, model=by_int8)
    assert by_int8.extractor.runtime.quantised.quantisations == 0  # type: ignore[attr-defined]  # the models' directory


def test_unsupported_int8_pairs_are_config_errors(monkeypatch):
    with pytest.raises(ConfigError, match=r"the torch runtime runs fp32, bf16, not int8 \(int8: --runtime onnxruntime or "
                                          r"openvino\)"):
        resolve_runtime("torch", "efficientnet-lite0", "int8")
    with pytest.raises(ConfigError, match="the torch runtime runs fp32, bf16, not int8"):
        FeatureExtractor(_config("torch"))
    with pytest.raises(ConfigError, match="runs int8 on the CPU only; use --device cpu"):
        resolve_runtime("onnxruntime", "efficientnet-lite0", "int8", device="cuda")
    with pytest.raises(ModelError, match="no installed runtime runs int8 on cuda"):
        resolve_runtime("auto", "efficientnet-lite0", "int8", device="cuda")
    with pytest.raises(ConfigError, match="unknown precision 'int4': fp32, bf16, int8"):
        FeatureConfig(precision="int4")  # type: ignore[arg-type]


def test_auto_int8_and_a_missing_quantiser(monkeypatch):
    if installed("openvino") and runtime_registry.importable("nncf"):
        assert resolve_runtime("auto", "efficientnet-lite0", "int8") == "openvino"
    monkeypatch.setattr(runtime_registry, "importable", lambda module: module != "nncf")
    if installed("onnxruntime"):  # without NNCF, auto falls back to ONNX Runtime's own quantiser
        assert resolve_runtime("auto", "efficientnet-lite0", "int8") == "onnxruntime"
    if installed("openvino"):
        with pytest.raises(ModelError, match=r"int8 in the openvino runtime needs vidsim\[int8\] \(nncf\), which is not "
                                             r"installed: pip install 'vidsim\[int8\]'"):
            resolve_runtime("openvino", "efficientnet-lite0", "int8")
    monkeypatch.setattr(runtime_registry, "installed", lambda name: name in ("torch", "openvino"))
    with pytest.raises(ModelError, match="no installed runtime runs int8; int8 runs in onnxruntime or openvino"):
        resolve_runtime("auto", "efficientnet-lite0", "int8")


# ---------------------------------------------------------------- CUDA: the choice, without a GPU

def _cuda_providers(monkeypatch, present: bool) -> None:
    listed = ["CUDAExecutionProvider", "CPUExecutionProvider"] if present else ["CPUExecutionProvider"]
    monkeypatch.setattr(onnxrt, "available_providers", lambda: listed)


@pytest.mark.parametrize("present", [True, False])
def test_auto_on_cuda_is_onnxruntime_only_where_its_cuda_provider_is_installed(present, monkeypatch):
    if not installed("onnxruntime"):
        pytest.skip("the onnxruntime runtime is not installed")
    _cuda_providers(monkeypatch, present)
    for backbone in ("efficientnet-lite0", "resnet50"):
        assert resolve_runtime("auto", backbone, "fp32", device="cuda") == ("onnxruntime" if present else "torch")
        assert resolve_runtime("auto", backbone, "fp32", device="cuda:1") == ("onnxruntime" if present else "torch")
        assert resolve_runtime("auto", backbone, "bf16", device="cuda") == "torch"
    assert resolve_runtime("auto", "efficientnet-lite0", "fp32") == resolve_runtime("auto", "efficientnet-lite0", "fp32",
                                                                                   device="cpu")
    if present:
        assert resolve_runtime("onnxruntime", "efficientnet-lite0", "fp32", device="cuda") == "onnxruntime"
        assert onnxrt.OnnxRuntime("fp32").runs_on(torch.device("cuda"))
        assert not onnxrt.OnnxRuntime("int8").runs_on(torch.device("cuda"))
    else:
        with pytest.raises(ModelError, match="installed onnxruntime has no CUDA support.*onnxruntime-gpu"):
            resolve_runtime("onnxruntime", "efficientnet-lite0", "fp32", device="cuda")
        assert not onnxrt.OnnxRuntime("fp32").runs_on(torch.device("cuda"))


def test_onnxruntime_session_providers_per_device():
    assert onnxrt.providers("cpu") == ["CPUExecutionProvider"]
    assert onnxrt.providers("cuda") == [("CUDAExecutionProvider", {"device_id": "0"}), "CPUExecutionProvider"]
    assert onnxrt.providers("cuda:1") == [("CUDAExecutionProvider", {"device_id": "1"}), "CPUExecutionProvider"]


# ---------------------------------------------------------------- command line

def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(Path(vidsim.__file__).parents[1]),
                                                                      os.environ.get("PYTHONPATH")]))}


def test_evaluate_and_train_take_runtime_and_precision(tmp_path, clip_dir):
    clip = clips.natural(clip_dir / "int8_cli.mp4", seconds=2.0, seed=26)
    (tmp_path / "q").mkdir()
    shutil.copy(clip, tmp_path / "q" / "a.mp4")
    gt = tmp_path / "gt.csv"
    gt.write_text("query_id,ref_id,query_start,query_end,ref_start,ref_end\na,a,0,2,0,2\n")
    run = subprocess.run([sys.executable, "-m", "vidsim", "evaluate", "--queries", str(tmp_path / "q"), "--refs",
                          str(tmp_path / "q"), "--gt", str(gt), "--out", str(tmp_path / "eval"), "--runtime", "torch",
                          "--precision", "bf16", "--cache-dir", str(tmp_path / "cache"), "-q"],
                         capture_output=True, text=True, env=_env())
    assert run.returncode == 0, run.stderr
    key = ViSiL(VidsimConfig(features=FeatureConfig(runtime="torch", precision="bf16"))).feature_key
    assert FeatureCache(tmp_path / "cache").get(content_hash(clip), key) is not None  # made with torch bf16
    assert key != ViSiL(VidsimConfig()).feature_key
    for command in (["evaluate", "--queries", str(tmp_path / "q"), "--refs", str(tmp_path / "q"), "--gt", str(gt),
                     "--out", str(tmp_path / "eval2")],
                    ["train", str(tmp_path / "q"), "--out", str(tmp_path / "train")]):
        bad = subprocess.run([sys.executable, "-m", "vidsim", *command, "--runtime", "torch", "--precision", "int8",
                              "--no-cache" if command[0] == "evaluate" else "-q", "-q"],
                             capture_output=True, text=True, env=_env())
        assert bad.returncode == 1 and "Traceback" not in bad.stderr, bad.stderr
        assert bad.stderr.strip() == ("error: the torch runtime runs fp32, bf16, not int8 "
                                      "(int8: --runtime onnxruntime or openvino)"), bad.stderr
