"""Baseline methods (videohash, vpdq) for `vidsim evaluate`.

The matching rules and the missing-package errors are tested everywhere (the packages are
replaced by stand-ins); the end-to-end tests need the optional packages (`vidsim[baselines]`)
and are skipped where they are not installed.
"""
from __future__ import annotations

import os
import shutil
import sys
import tempfile
import types
from importlib import metadata

import numpy as np
import pytest

from vidsim.errors import VideoError, VideoNotFoundError, VidsimError
from vidsim.evaluate import baselines
from vidsim.evaluate.baselines import VpdqDescriptor
from vidsim.evaluate.methods import available_methods, build_method

needs_ffmpeg = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="videohash needs the ffmpeg program")


# --------------------------------------------------------------------------- clips
@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    """An original, a re-encoded copy (same frames, another quality) and an unrelated clip."""
    from vidsim.synth import make_clip, make_copy

    d = tmp_path_factory.mktemp("baseline-clips")
    original = make_clip(d / "original.mp4", seconds=4, fps=25, size=(160, 120), seed=11)
    copy = make_copy(original, d / "copy.mp4", crop=1.0, scale=1.0, crf=32)
    unrelated = make_clip(d / "unrelated.mp4", seconds=4, fps=25, size=(160, 120), seed=12)
    junk = d / "junk.mp4"
    junk.write_bytes(b"this is not a video")
    return {"original": original, "copy": copy, "unrelated": unrelated, "junk": junk}


def _build(name):
    if name == "videohash" and shutil.which("ffmpeg") is None:
        pytest.skip("videohash needs the ffmpeg program")
    pytest.importorskip(name)
    return build_method(name)


# --------------------------------------------------------------------------- registry, errors
def test_registered():
    assert {"videohash", "vpdq"} <= set(available_methods())


@pytest.mark.parametrize("name, package", [("videohash", "videohash"), ("vpdq", "vpdq")])
def test_missing_package_names_it_and_the_install(monkeypatch, name, package):
    monkeypatch.setitem(sys.modules, package, None)  # makes `import <package>` fail
    with pytest.raises(VidsimError) as info:
        build_method(name)
    message = str(info.value)
    assert repr(package) in message
    assert f"pip install {package}==" in message
    assert "vidsim[baselines]" in message
    if name == "vpdq":
        assert "libavcodec-dev" in message and "pkg-config" in message


def test_videohash_without_ffmpeg_program(monkeypatch):
    monkeypatch.setitem(sys.modules, "videohash", types.ModuleType("videohash"))
    monkeypatch.setattr(baselines.shutil, "which", lambda name: None)
    with pytest.raises(VidsimError, match="ffmpeg"):
        build_method("videohash")


# --------------------------------------------------------------------------- matching rules
@pytest.fixture
def fake_vpdq(monkeypatch):
    monkeypatch.setitem(sys.modules, "vpdq", types.ModuleType("vpdq"))


def _hash_with_bits(bits):
    """A 32-byte hash with the first `bits` bits set."""
    arr = np.zeros(256, dtype=np.uint8)
    arr[:bits] = 1
    return np.packbits(arr)


def _descriptor(rows, quality=None):
    hashes = np.array(rows, dtype=np.uint8).reshape(len(rows), 32)
    quality = np.full(len(rows), 100) if quality is None else np.asarray(quality)
    return VpdqDescriptor(hashes=hashes, quality=quality.astype(np.int16),
                          timestamps=np.arange(len(rows), dtype=np.float64))


def test_vpdq_distance_threshold_is_inclusive(fake_vpdq):
    method = build_method("vpdq")
    reference = _descriptor([_hash_with_bits(0)])
    assert method.calculate_video_similarity(_descriptor([_hash_with_bits(31)]), reference) == 1.0
    assert method.calculate_video_similarity(_descriptor([_hash_with_bits(32)]), reference) == 0.0


def test_vpdq_scores_the_share_of_query_frames_matched(fake_vpdq):
    method = build_method("vpdq")
    far = np.full(32, 0xFF, dtype=np.uint8)  # 256 bits from zero
    # query: 4 frames, 1 matched; reference: 2 frames, both matched by that one query frame
    query = _descriptor([_hash_with_bits(0), far, _hash_with_bits(100), _hash_with_bits(200)])
    reference = _descriptor([_hash_with_bits(5), _hash_with_bits(20)])
    assert method.calculate_video_similarity(query, reference) == pytest.approx(0.25)
    assert method.match_shares(query, reference) == pytest.approx((0.25, 1.0))
    # the other direction: every frame of the short clip is found in the long one
    assert method.calculate_video_similarity(reference, query) == pytest.approx(1.0)


def test_vpdq_drops_low_quality_and_duplicate_frames(fake_vpdq):
    method = build_method("vpdq")
    far = np.full(32, 0xFF, dtype=np.uint8)
    reference = _descriptor([_hash_with_bits(0)])
    # the unmatched frame has quality 49 (< 50), so it is left out of the share
    query = _descriptor([_hash_with_bits(0), far], quality=[50, 49])
    assert method.calculate_video_similarity(query, reference) == 1.0
    # a frame repeated three times counts once: 1 matched of 2 unique
    query = _descriptor([far, far, far, _hash_with_bits(0)])
    assert method.calculate_video_similarity(query, reference) == pytest.approx(0.5)
    # nothing of good quality in a video: score 0, as Meta's matcher
    dull = _descriptor([_hash_with_bits(0)], quality=[10])
    assert method.calculate_video_similarity(dull, reference) == 0.0
    assert method.match_shares(reference, dull) == (0.0, 0.0)


def test_vpdq_matcher_chunks_large_inputs():
    rng = np.random.default_rng(0)
    a = rng.integers(0, 256, size=(50, 32), dtype=np.uint8)
    b = np.concatenate([rng.integers(0, 256, size=(30, 32), dtype=np.uint8), a[:7]])
    full = baselines._matched(a, b, 31)
    assert full.sum() == 7 and full[:7].all()
    assert np.array_equal(baselines._matched(a, b, 31, chunk_bytes=1), full)


def test_vpdq_options_and_ignored_options(fake_vpdq):
    method = build_method("vpdq", seconds_per_hash=0.5, distance_threshold=20, device="cuda")
    info = method.describe()
    assert info["seconds_per_hash"] == 0.5 and info["distance_threshold"] == 20
    assert info["quality_threshold"] == 50
    assert info["ignored_options"] == ["device"]
    with pytest.raises(VidsimError, match="seconds_per_hash"):
        build_method("vpdq", seconds_per_hash=-1)


def test_videohash_similarity_is_one_minus_hamming_over_64(monkeypatch):
    monkeypatch.setitem(sys.modules, "videohash", types.ModuleType("videohash"))
    monkeypatch.setattr(baselines.shutil, "which", lambda name: "/usr/bin/ffmpeg")
    method = build_method("videohash")
    h = 0xF0F0_0000_1234_5678
    assert method.calculate_video_similarity(h, h) == 1.0
    assert method.calculate_video_similarity(h, h ^ 0b1011) == pytest.approx(1 - 3 / 64)
    assert method.calculate_video_similarity(0, 2**64 - 1) == 0.0


# --------------------------------------------------------------------------- end to end
@pytest.mark.parametrize("name", ["videohash", "vpdq"])
def test_copy_scores_higher_than_unrelated(clips, name):
    method = _build(name)
    original, copy, unrelated = (method.extract(clips[k]) for k in ("original", "copy", "unrelated"))
    assert method.calculate_video_similarity(original, original) == 1.0
    s_copy = method.calculate_video_similarity(original, copy)
    s_unrelated = method.calculate_video_similarity(original, unrelated)
    assert s_copy > s_unrelated, (s_copy, s_unrelated)
    assert method.calculate_video_similarity(copy, original) > method.calculate_video_similarity(copy, unrelated)
    info = method.describe()
    assert info["name"] == name and info["version"] == metadata.version(name)


@pytest.mark.parametrize("name", ["videohash", "vpdq"])
def test_bad_files_raise_video_errors(clips, tmp_path, name):
    method = _build(name)
    with pytest.raises(VideoNotFoundError):
        method.extract(tmp_path / "missing.mp4")
    with pytest.raises(VideoError, match=name):
        method.extract(clips["junk"])


def test_vpdq_descriptor(clips):
    method = _build("vpdq")
    desc = method.extract(clips["original"])
    assert desc.hashes.shape == (len(desc), 32) and desc.hashes.dtype == np.uint8
    assert len(desc) == 4  # 4 s at one hash per second
    assert np.array_equal(desc.timestamps, [0, 1, 2, 3])
    assert ((desc.quality >= 0) & (desc.quality <= 100)).all()


@needs_ffmpeg
def test_videohash_cleans_up_and_keeps_stdout_quiet(clips, tmp_path, monkeypatch, capfd):
    method = _build("videohash")
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    value = method.extract(clips["original"])
    with pytest.raises(VideoError):
        method.extract(clips["junk"])
    assert 0 <= value < 2**64
    assert os.listdir(scratch) == []
    out, _ = capfd.readouterr()
    assert out == ""


@needs_ffmpeg
def test_videohash_accepts_odd_file_names(clips, tmp_path):
    method = _build("videohash")
    odd = tmp_path / "it's a \"clip\" $(x)"  # no extension, shell characters
    shutil.copyfile(clips["original"], odd)
    assert method.extract(odd) == method.extract(clips["original"])
