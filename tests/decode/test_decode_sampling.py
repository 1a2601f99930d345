"""Which frames come out, at which timestamps, in which batches."""
from __future__ import annotations

import numpy as np
import pytest

import clips
from vidsim.config import DecodeConfig
from vidsim.decode import FrameBatch, iter_frames, load_video

RAW = dict(resize=0, crop=0)  # keep the pattern pixels as drawn


def decoded_indices(path, **config) -> tuple[np.ndarray, list[int]]:
    batches = list(iter_frames(path, DecodeConfig(**{**RAW, **config})))
    times = np.concatenate([b.timestamps for b in batches])
    indices = [clips.read_index(frame) for b in batches for frame in b.frames]
    return times, indices


def expected_indices(frame_times: list[float], fps: float, end: float) -> tuple[np.ndarray, list[int]]:
    """The rule, written independently: sample k at k/fps shows the last frame with time <= k/fps."""
    times, indices = [], []
    k = 0
    while k / fps < end - 1e-9:
        t = k / fps
        shown = max(i for i, ft in enumerate(frame_times) if ft <= t + 1e-9)
        times.append(t)
        indices.append(shown)
        k += 1
    return np.array(times), indices


@pytest.mark.parametrize("fps", [1.0, 0.5, 2.0, 3.0])
def test_constant_rate_picks_displayed_frame(indexed_mp4, fps):
    frame_times = [i / 25 for i in range(100)]
    times, indices = decoded_indices(indexed_mp4, fps=fps)
    want_times, want = expected_indices(frame_times, fps, end=4.0)
    np.testing.assert_allclose(times, want_times)
    assert indices == want
    assert len(times) == int(np.ceil(4.0 * fps))  # 4 s: 4 samples at 1/s, 2 at 0.5/s, 8 at 2/s


def test_fps_half_and_two_on_natural_clip(natural_mp4):
    for fps, count in [(0.5, 2), (2.0, 8)]:
        frames = load_video(natural_mp4, DecodeConfig(fps=fps))
        assert frames.shape == (count, 224, 224, 3)


@pytest.mark.parametrize("fixture", ["indexed_vfr_mkv", "indexed_vfr_mp4"])
@pytest.mark.parametrize("fps", [2.0, 5.0])
def test_variable_frame_rate(request, fixture, fps, vfr_times):
    path = request.getfixturevalue(fixture)
    gaps = np.diff(vfr_times)
    assert gaps.max() > 2.5 * gaps.min()  # the clip really is irregular
    times, indices = decoded_indices(path, fps=fps)
    end = vfr_times[-1] + 1 / 12  # last frame lasts about one nominal period
    want_times, want = expected_indices(vfr_times, fps, end=vfr_times[-1] + 1e-3)
    assert len(times) >= len(want_times)
    np.testing.assert_allclose(times[: len(want)], want_times)
    assert indices[: len(want)] == want
    for t, index in zip(times, indices):
        # the chosen frame is on screen at t: it started at or before t, the next one after t
        assert vfr_times[index] <= t + 1e-6
        if index + 1 < len(vfr_times):
            assert vfr_times[index + 1] > t
    assert times[-1] < end


def test_batches_respect_batch_size(natural_mp4):
    batches = list(iter_frames(natural_mp4, DecodeConfig(fps=5, batch_size=3)))
    sizes = [len(b) for b in batches]
    assert sum(sizes) == 20
    assert all(s == 3 for s in sizes[:-1]) and 1 <= sizes[-1] <= 3
    all_times = np.concatenate([b.timestamps for b in batches])
    np.testing.assert_allclose(all_times, np.arange(20) / 5)


def test_batch_types(natural_mp4):
    batch = next(iter(iter_frames(natural_mp4)))
    assert isinstance(batch, FrameBatch)
    assert batch.frames.dtype == np.uint8 and batch.frames.flags["C_CONTIGUOUS"]
    assert batch.frames.shape[1:] == (224, 224, 3)
    assert batch.timestamps.dtype == np.float64
    assert batch.timestamps.shape == (batch.frames.shape[0],)


def test_load_video_matches_iter_frames(natural_mkv):
    config = DecodeConfig(fps=2, batch_size=3)
    whole = load_video(natural_mkv, config)
    parts = np.concatenate([b.frames for b in iter_frames(natural_mkv, config)])
    assert whole.shape == (8, 224, 224, 3)
    np.testing.assert_array_equal(whole, parts)


def test_streaming_does_not_decode_ahead(clip_dir, monkeypatch):
    """Only one batch is produced at a time: the first batch arrives long before the end."""
    from vidsim.decode import reader

    path = clips.natural(clip_dir / "long.mp4", seconds=20.0, size=(96, 64), seed=9, gop=25)
    created = []

    class Counting(reader.FrameSource):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            created.append(self)

    monkeypatch.setattr(reader, "FrameSource", Counting)
    stream = iter_frames(path, DecodeConfig(fps=1, batch_size=2, strategy="decode"))
    first = next(stream)
    assert len(first) == 2
    assert created[0].decoded < 100  # of 500 frames
    stream.close()


def test_same_frame_repeated_when_fps_exceeds_frame_rate(clip_dir):
    path = clips.indexed(clip_dir / "slow.mp4", count=4, fps=2)  # 2 s at 2 frames/s
    times, indices = decoded_indices(path, fps=4)
    np.testing.assert_allclose(times, np.arange(8) / 4)
    assert indices == [0, 0, 1, 1, 2, 2, 3, 3]
