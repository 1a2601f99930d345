"""vidsim.synth: the generated clips the demo and the tests rely on."""
from __future__ import annotations

import time

import av
import numpy as np
import pytest

from vidsim import synth
from vidsim.config import DecodeConfig
from vidsim.decode import load_video, probe


def test_same_seed_same_pictures_different_seed_unrelated():
    a = synth.render_frame(1.3, seed=1)
    assert np.array_equal(a, synth.render_frame(1.3, seed=1))
    b = synth.render_frame(1.3, seed=2)
    assert np.abs(a.astype(int) - b.astype(int)).mean() > 30
    assert a.std() > 25  # textured, not flat


def test_shots_change_content():
    first, later = synth.render_frame(1.0, shot_seconds=3.0), synth.render_frame(4.0, shot_seconds=3.0)
    assert np.abs(first.astype(int) - later.astype(int)).mean() > 30
    step = np.abs(synth.render_frame(1.0).astype(int) - synth.render_frame(1.04).astype(int)).mean()
    assert 0 < step < 15  # smooth motion within a shot


def test_clip_speed_and_properties(tmp_path):
    start = time.perf_counter()
    path = synth.make_clip(tmp_path / "ten.mp4", seconds=10.0)
    elapsed = time.perf_counter() - start
    assert elapsed < 5.0  # ~1 s on a laptop core; generous for loaded CI machines
    info = probe(path)
    assert (info.width, info.height, info.frame_count) == (320, 240, 250)
    assert info.duration == pytest.approx(10.0, abs=0.05)


def test_deterministic_files(tmp_path):
    a = synth.make_clip(tmp_path / "a.mkv", seconds=1.0, size=(64, 48), seed=3)
    b = synth.make_clip(tmp_path / "b.mkv", seconds=1.0, size=(64, 48), seed=3)
    config = DecodeConfig(fps=5, resize=0, crop=0)
    assert np.array_equal(load_video(a, config), load_video(b, config))


def test_vfr_audio_rotation_gop(tmp_path):
    path = synth.make_clip(tmp_path / "all.mp4", seconds=3.0, size=(96, 64), vfr=True, audio=True,
                           rotation=90, gop=12)
    with av.open(str(path)) as container:
        video = container.streams.video[0]
        assert (video.codec_context.width, video.codec_context.height) == (64, 96)  # stored sideways
        assert any(s.type == "audio" for s in container.streams)
        packets = [p for p in container.demux(video) if p.size]
        times = sorted(float(p.pts * video.time_base) for p in packets)
        keyframes = sum(p.is_keyframe for p in packets)
    gaps = np.diff(times)
    assert gaps.max() > 2 * gaps.min()
    assert keyframes == int(np.ceil(len(packets) / 12))
    info = probe(path)
    assert info.rotation == 90 and (info.width, info.height) == (96, 64) and info.has_audio


def test_audio_only(tmp_path):
    path = synth.make_audio_only(tmp_path / "tone.m4a", seconds=1.0)
    with av.open(str(path)) as container:
        assert [s.type for s in container.streams] == ["audio"]
        assert container.duration / av.time_base == pytest.approx(1.0, abs=0.1)


def test_copy_is_closer_than_unrelated(tmp_path):
    src = synth.make_clip(tmp_path / "src.mp4", seconds=3.0, seed=11)
    copy = synth.make_copy(src, tmp_path / "copy.mp4", crop=0.8, scale=0.5, crf=30)
    other = synth.make_clip(tmp_path / "other.mp4", seconds=3.0, seed=12)
    info = probe(copy)
    assert (info.width, info.height) == (128, 96)
    config = DecodeConfig(fps=2, resize=64, crop=64)
    s, c, o = (load_video(p, config).astype(np.float32) for p in (src, copy, other))
    assert s.shape == c.shape == o.shape
    # centre crops line up roughly (the copy's crop is tighter): far closer than unrelated
    assert np.abs(s - c).mean() < 0.6 * np.abs(s - o).mean()


def test_copy_with_new_frame_rate(tmp_path):
    src = synth.make_clip(tmp_path / "src.mkv", seconds=2.0, size=(160, 120), seed=1)
    copy = synth.make_copy(src, tmp_path / "copy10.mp4", crop=1.0, scale=1.0, fps=10)
    info = probe(copy)
    assert info.fps == pytest.approx(10) and info.frame_count == 20
