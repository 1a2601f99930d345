import numpy as np
import pytest

from vidsim.errors import VideoNotFoundError
from vidsim.features.types import VideoFeatures
from vidsim.store import FeatureCache, content_hash, load_features, save_features
from vidsim.store import format as format_module


def _features(frames=5, dims=8, key="abc123"):
    rng = np.random.default_rng(frames)
    return VideoFeatures(
        regions=rng.standard_normal((frames, 9, dims)).astype(np.float32),
        timestamps=np.arange(frames, dtype=np.float64),
        feature_key=key,
        weights_version="w1",
        source="clip.mp4",
        meta={"fps": 1.0},
    )


def test_features_round_trip(tmp_path):
    original = _features()
    save_features(tmp_path / "f.safetensors", original)
    loaded = load_features(tmp_path / "f.safetensors")
    np.testing.assert_array_equal(loaded.regions, original.regions)
    np.testing.assert_array_equal(loaded.timestamps, original.timestamps)
    assert (loaded.feature_key, loaded.weights_version, loaded.source, loaded.meta) == ("abc123", "w1", "clip.mp4", {"fps": 1.0})


def test_interrupted_write_leaves_no_entry(tmp_path, monkeypatch):
    def crash(*args, **kwargs):
        raise KeyboardInterrupt  # e.g. Ctrl-C in the middle of the write

    monkeypatch.setattr(format_module, "save_file", crash)
    with pytest.raises(KeyboardInterrupt):
        save_features(tmp_path / "f.safetensors", _features())
    assert list(tmp_path.iterdir()) == []


def test_interrupted_overwrite_keeps_the_old_entry(tmp_path, monkeypatch):
    path = tmp_path / "f.safetensors"
    save_features(path, _features(frames=3))
    monkeypatch.setattr(format_module, "save_file", lambda *a, **k: (_ for _ in ()).throw(OSError("disk full")))
    with pytest.raises(OSError):
        save_features(path, _features(frames=7))
    assert load_features(path).num_frames == 3
    assert [p.name for p in tmp_path.iterdir()] == ["f.safetensors"]


def test_cache_is_keyed_by_content_and_configuration(tmp_path):
    video = tmp_path / "a.bin"
    video.write_bytes(b"some video bytes")
    cache = FeatureCache(tmp_path / "cache")
    file_hash = content_hash(video)
    assert cache.get(file_hash, "abc123") is None
    cache.put(file_hash, _features(key="abc123"))
    assert cache.get(file_hash, "abc123").num_frames == 5
    assert cache.get(file_hash, "other") is None  # another configuration
    moved = tmp_path / "renamed.bin"
    video.rename(moved)
    assert content_hash(moved) == file_hash  # moving a file keeps its entry
    moved.write_bytes(b"edited")
    assert content_hash(moved) != file_hash


def test_corrupt_entry_is_dropped_and_recomputed(tmp_path):
    cache = FeatureCache(tmp_path)
    entry = cache.put("ff" * 32, _features())
    entry.write_bytes(b"garbage")
    assert cache.get("ff" * 32, "abc123") is None
    assert not entry.exists()


def test_content_hash_of_missing_file_names_it(tmp_path):
    with pytest.raises(VideoNotFoundError, match="missing.mp4: no such file"):
        content_hash(tmp_path / "missing.mp4")


def test_a_feature_file_with_inconsistent_shapes_is_a_vidsim_error_naming_it(tmp_path):
    from safetensors.numpy import save_file

    from vidsim.errors import VidsimError
    from vidsim.fsutil import sha256_file

    path = tmp_path / "odd.safetensors"
    save_file({"regions": np.zeros((3, 9, 4), np.float32), "timestamps": np.zeros(2)}, str(path))
    with pytest.raises(VidsimError, match="odd.safetensors: not a valid vidsim feature file"):
        load_features(path)
    assert content_hash(path) == sha256_file(path)
