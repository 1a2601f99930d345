"""Every way a file can fail, and damaged files."""
from __future__ import annotations

import os
import warnings

import numpy as np
import pytest

import clips
from vidsim.config import DecodeConfig
from vidsim.decode import iter_frames, load_video, probe
from vidsim.errors import (
    DecodeErrorWarning,
    NoFramesError,
    NotAVideoError,
    NoVideoStreamError,
    TruncatedVideoWarning,
    VideoError,
    VideoNotFoundError,
    VideoTooLargeError,
)


def assert_names(error: VideoError, path) -> None:
    assert os.fspath(path) in str(error)
    assert error.path == os.fspath(path) and error.reason


def test_missing_path(tmp_path):
    path = tmp_path / "nope.mp4"
    for call in (probe, load_video, iter_frames):
        with pytest.raises(VideoNotFoundError) as info:
            call(path)
        assert_names(info.value, path)
    assert isinstance(info.value, FileNotFoundError)


def test_directory_is_not_a_video(tmp_path):
    with pytest.raises(VideoNotFoundError):
        probe(tmp_path)


@pytest.mark.parametrize("maker, name", [
    (clips.text_file, "notes.txt"),
    (clips.text_file, "notes.mp4"),
    (clips.random_bytes, "noise.bin"),
    (clips.random_bytes, "noise.mp4"),
])
def test_not_a_video(tmp_path, maker, name):
    path = maker(tmp_path / name)
    with pytest.raises(NotAVideoError) as info:
        iter_frames(path)
    assert_names(info.value, path)


def test_empty_file(tmp_path):
    path = tmp_path / "empty.mp4"
    path.write_bytes(b"")
    with pytest.raises(NotAVideoError, match="empty"):
        probe(path)


@pytest.mark.parametrize("name", ["tone.m4a", "tone.wav"])
def test_audio_only(tmp_path, name):
    path = clips.audio_only(tmp_path / name)
    with pytest.raises(NoVideoStreamError) as info:
        load_video(path)
    assert_names(info.value, path)
    assert "audio" in info.value.reason


def test_cover_art_is_not_a_video_stream(tmp_path):
    path = clips.audio_with_cover(tmp_path / "song.mp4")
    with pytest.raises(NoVideoStreamError, match="cover-art"):
        probe(path)


def test_zero_frames_header_only(tmp_path):
    path = clips.header_only(tmp_path / "empty_stream.mkv")
    with pytest.raises(NoFramesError) as info:
        load_video(path)
    assert_names(info.value, path)


def test_zero_frames_undecodable_payload(tmp_path, natural_mp4):
    path = clips.garbage_payload(natural_mp4, tmp_path / "garbage.mp4")
    with pytest.raises(NoFramesError) as info:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", TruncatedVideoWarning)
            load_video(path)
    assert_names(info.value, path)


def test_too_large_checked_before_decoding(natural_mp4, monkeypatch):
    from vidsim.decode import probing as probe_module

    def no_decoding(*args, **kwargs):
        raise AssertionError("decoded a frame of an oversized video")

    monkeypatch.setattr(probe_module, "_scan", no_decoding)
    with pytest.raises(VideoTooLargeError) as info:
        iter_frames(natural_mp4, DecodeConfig(max_pixels=160 * 120 - 1))
    assert_names(info.value, natural_mp4)
    assert "160x120" in info.value.reason


def test_size_limit_allows_exact_fit(natural_mp4):
    assert load_video(natural_mp4, DecodeConfig(max_pixels=160 * 120)).shape[0] == 4


@pytest.mark.parametrize("suffix", [".mp4", ".mkv"])
@pytest.mark.parametrize("strategy", ["decode", "seek"])
def test_truncated_file_keeps_frames_before_damage(clip_dir, tmp_path, suffix, strategy):
    full = clips.indexed(clip_dir / f"to_cut{suffix}", count=200, gop=25)  # 8 s
    cut = clips.cut(full, tmp_path / f"cut{suffix}", 0.5)
    config = DecodeConfig(fps=2, resize=0, crop=0, strategy=strategy)
    with pytest.warns(TruncatedVideoWarning) as record:
        batches = list(iter_frames(cut, config))
    assert any(os.fspath(cut) in str(w.message) for w in record)
    times = np.concatenate([b.timestamps for b in batches])
    indices = [clips.read_index(f) for b in batches for f in b.frames]
    assert 3 <= len(times) < 16  # some of the 16 samples, not all
    np.testing.assert_allclose(times, np.arange(len(times)) / 2)
    # the samples before the damage are the right frames
    assert indices[:-1] == [int(t * 25) for t in times[:-1]]


def test_intact_file_does_not_warn(natural_mkv, natural_mp4):
    with warnings.catch_warnings():
        warnings.simplefilter("error", TruncatedVideoWarning)
        load_video(natural_mkv)
        load_video(natural_mp4, DecodeConfig(strategy="seek"))


def test_mp4_cut_before_its_index_is_not_readable(clip_dir, tmp_path):
    """Without faststart the MP4 index (moov) is written last: a cut file cannot be opened."""
    src = clips.stored_with_matrix(clip_dir / "moov_last.mp4", clips.quadrant_image(64, 64), 0, count=20)
    data = src.read_bytes()
    assert data.rfind(b"moov") > len(data) // 2
    path = clips.cut(src, tmp_path / "moov_cut.mp4", 0.5)
    with pytest.raises(NotAVideoError) as info:
        probe(path)
    assert_names(info.value, path)


@pytest.mark.parametrize("strategy", ["decode", "seek"])
@pytest.mark.parametrize("seed, category", [(0, DecodeErrorWarning), (1, TruncatedVideoWarning)])
def test_flipped_bytes_warn_once_with_the_error_count(clip_dir, tmp_path, strategy, seed, category):
    """100 flipped bytes: every sample still decodes, and one warning names the file and how many
    errors FFmpeg reported: DecodeErrorWarning when the decoder concealed all of it (seed 0),
    TruncatedVideoWarning, the count among its reasons, when packets were rejected too (seed 1)."""
    source = clips.natural(clip_dir / "to_flip.mp4", seconds=8, seed=31)
    damaged = clips.flipped_bytes(source, tmp_path / "flipped.mp4", seed=seed)
    config = DecodeConfig(strategy=strategy)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        intact = load_video(source, config)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        frames = load_video(damaged, config)
    assert [w.category for w in record] == [category]
    message = str(record[0].message)
    assert message.startswith(os.fspath(damaged)) and "\n" not in message
    count = int(message.split("FFmpeg reported ")[1].split()[0])
    assert count >= 10 and f"{count} decode errors" in message
    assert frames.shape == intact.shape  # the same samples, kept as decoded
    assert not np.array_equal(frames, intact)  # the damage shows in them


def test_ffmpeg_log_level_is_left_as_it_was(natural_mp4):
    import av.logging

    before = av.logging.get_level()
    load_video(natural_mp4)
    assert av.logging.get_level() == before
