"""Decoding beside inference: the threaded pipeline gives the features of decoding and embedding in
turn; the non-reference skip is part of the feature key, thread counts are not."""
from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest

import clips
from vidsim.config import DecodeConfig, FeatureConfig, VidsimConfig
from vidsim.cpus import available_cpus
from vidsim.decode import iter_frames
from vidsim.errors import ConfigError, ConfigMismatchError
from vidsim.features import FeatureExtractor
from vidsim.index import Index
from vidsim.model import ViSiL

SEQUENTIAL = DecodeConfig(prefetch=0, skip_nonref="off")  # decode everything, then embed, in one thread


@pytest.fixture(scope="module")
def extractor():
    return FeatureExtractor()


@pytest.fixture(scope="module")
def clip(clip_dir):
    return clips.natural(clip_dir / "beside.mp4", seconds=12.0, seed=41)


def test_threaded_pipeline_gives_the_features_of_sequential_decode_and_embed(extractor, clip):
    decode = DecodeConfig(batch_size=5, fps=2)
    sequential = extractor.embed_batches(iter_frames(clip, DecodeConfig(batch_size=5, fps=2, skip_nonref="off")))
    threaded = extractor.extract_video(clip, decode)
    assert threaded.num_frames == 24
    np.testing.assert_array_equal(threaded.regions, sequential.regions)
    np.testing.assert_array_equal(threaded.timestamps, sequential.timestamps)
    turn_by_turn = extractor.extract_video(clip, DecodeConfig(batch_size=5, fps=2, prefetch=0))
    np.testing.assert_array_equal(turn_by_turn.regions, sequential.regions)


def test_an_error_while_embedding_stops_the_decoder(extractor, clip, monkeypatch):
    import threading
    import time

    calls = {"n": 0}
    real = FeatureExtractor.forward

    def failing(self, frames):
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("network failed")
        return real(self, frames)

    monkeypatch.setattr(FeatureExtractor, "forward", failing)
    with pytest.raises(RuntimeError, match="network failed"):
        extractor.extract_video(clip, DecodeConfig(batch_size=2, fps=2))
    end = time.monotonic() + 10
    while any(t.name == "vidsim-decode" for t in threading.enumerate()) and time.monotonic() < end:
        time.sleep(0.02)
    assert not any(t.name == "vidsim-decode" for t in threading.enumerate())


def test_inference_threads_follow_the_available_cpus_unless_set():
    assert FeatureExtractor(FeatureConfig(runtime="onnxruntime")).runtime.threads == available_cpus()
    assert FeatureExtractor(FeatureConfig(runtime="onnxruntime", threads=1)).runtime.threads == 1
    with pytest.raises(ConfigError, match="threads must be 0 or more"):
        FeatureConfig(threads=-1)
    with pytest.raises(ConfigError, match="prefetch must be 0 or more"):
        DecodeConfig(prefetch=-2)


def test_the_skip_is_in_the_feature_key_and_thread_counts_are_not():
    keys = {mode: VidsimConfig(decode=DecodeConfig(skip_nonref=mode)).feature_key("w", "x")
            for mode in ("off", "unsampled", "all")}
    assert len(set(keys.values())) == 3
    fast = VidsimConfig(decode=DecodeConfig(threads=3, prefetch=0), features=FeatureConfig(threads=5))
    assert fast.feature_key("w", "x") == keys["unsampled"]


def test_configurations_saved_before_the_skip_decode_everything_with_their_old_key():
    saved = json.loads(VidsimConfig(features=FeatureConfig(runtime="torch")).to_json())
    for name in ("skip_nonref", "prefetch"):
        del saved["decode"][name]
    del saved["features"]["threads"]
    old = VidsimConfig.from_dict(saved)
    assert old.decode.skip_nonref == "off"
    # the key computed as it was before these fields existed
    payload = {"decode": {"fps": 1.0, "resize": 256, "crop": 224},
               "features": {k: v for k, v in saved["features"].items() if k not in ("batch_size", "runtime")},
               "provenance": ("w", "x")}
    before = hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]
    assert old.feature_key("w", "x") == before


def test_an_index_refuses_features_decoded_with_another_skip(tmp_path, clip):
    default = ViSiL()
    with Index.open(tmp_path / "idx", model=default) as index:
        index.add([clip])
        query = ViSiL(VidsimConfig(decode=DecodeConfig(skip_nonref="all"))).extract_video(clip)
        with pytest.raises(ConfigMismatchError, match=query.feature_key):
            index.search(query)
        assert index.search(default.extract_video(clip), top_k=1)[0].similarity > 0.9
    with pytest.raises(ConfigMismatchError, match="skip_nonref: index has 'unsampled', asked for 'off'"):
        Index.open(tmp_path / "idx", model=ViSiL(VidsimConfig(decode=DecodeConfig(skip_nonref="off"))))
