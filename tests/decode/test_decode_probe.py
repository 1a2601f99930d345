"""probe(): metadata without a full decode."""
from __future__ import annotations

import pytest

import clips
from vidsim import synth
from vidsim.decode import VideoInfo, probe


def test_probe_mp4(natural_mp4):
    info = probe(natural_mp4)
    assert isinstance(info, VideoInfo)
    assert info.path == str(natural_mp4)
    assert info.duration == pytest.approx(4.0, abs=0.05)
    assert info.fps == pytest.approx(25.0)
    assert (info.width, info.height, info.rotation) == (160, 120, 0)
    assert info.codec == "h264"
    assert info.frame_count == 100
    assert info.has_audio is False
    assert info.keyframe_interval is None or info.keyframe_interval > 0


def test_probe_mkv_with_audio(natural_mkv):
    info = probe(natural_mkv)
    assert info.has_audio is True
    assert info.duration == pytest.approx(4.0, abs=0.1)
    assert info.frame_count is None  # Matroska does not store it


def test_keyframe_interval_estimate(clip_dir):
    for gop, expected in [(1, 0.04), (10, 0.4), (50, 2.0)]:
        path = clips.natural(clip_dir / f"gop{gop}.mp4", seconds=6.0, size=(64, 48), gop=gop, seed=3)
        assert probe(path).keyframe_interval == pytest.approx(expected, rel=0.02)


def test_single_keyframe_gives_none(clip_dir):
    path = clips.natural(clip_dir / "onegop.mp4", seconds=2.0, size=(64, 48), gop=250, seed=3)
    assert probe(path).keyframe_interval is None


@pytest.mark.parametrize("codec, suffix", [("libvpx-vp9", ".webm"), ("mpeg4", ".avi"), ("mjpeg", ".mov")])
def test_other_codecs_and_containers(clip_dir, codec, suffix):
    path = synth.make_clip(clip_dir / f"other{suffix}", seconds=1.0, size=(96, 64), codec=codec)
    info = probe(path)
    assert (info.width, info.height) == (96, 64)
    assert info.duration == pytest.approx(1.0, abs=0.1)
    from vidsim.config import DecodeConfig
    from vidsim.decode import load_video

    assert load_video(path, DecodeConfig(fps=4)).shape == (4, 224, 224, 3)
