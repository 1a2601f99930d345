"""Decoding in a background thread (vidsim.decode.pipeline): same frames, errors and warnings in
the consumer, bounded memory, early exits, and videos decoded ahead in order."""
from __future__ import annotations

import os
import threading
import time

import numpy as np
import pytest

import clips
import vidsim.decode.pipeline as pipeline
from vidsim.config import DecodeConfig
from vidsim.decode import DecodeAhead, iter_frames, iter_frames_ahead
from vidsim.errors import NotAVideoError, TruncatedVideoWarning, VideoNotFoundError, VidsimError


def stacked(batches) -> tuple[list[np.ndarray], list[np.ndarray]]:
    batches = list(batches)
    return [b.frames for b in batches], [b.timestamps for b in batches]


def decode_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "vidsim-decode"]


def wait_for(condition, seconds: float = 10.0) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


@pytest.fixture
def opened(monkeypatch):
    """The paths the decode thread opens, in order, and how many batches it has produced."""
    log: list[str] = []
    produced = {"batches": 0}
    real = pipeline.open_frames

    def recording(path, config, warn):
        log.append(os.fspath(path))
        batches = real(path, config, warn)

        def counted():
            for batch in batches:
                produced["batches"] += 1
                yield batch

        return counted()

    monkeypatch.setattr(pipeline, "open_frames", recording)
    return log, produced


@pytest.mark.parametrize("fixture", ["natural_mp4", "indexed_vfr_mkv", "indexed_ts"])
def test_threaded_batches_equal_those_of_iter_frames(request, fixture):
    path = request.getfixturevalue(fixture)
    config = DecodeConfig(batch_size=3, fps=3)
    frames, times = stacked(iter_frames(path, config))
    got_frames, got_times = stacked(iter_frames_ahead(path, config))
    assert len(got_frames) == len(frames) > 1
    for a, b, ta, tb in zip(got_frames, frames, got_times, times):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(ta, tb)


def test_probe_errors_are_raised_when_the_stream_is_asked_for(tmp_path):
    with pytest.raises(VideoNotFoundError) as missing:
        iter_frames_ahead(tmp_path / "absent.mp4")
    assert "absent.mp4" in str(missing.value) and "no such file" in str(missing.value)
    text = clips.text_file(tmp_path / "notes.mp4")
    with pytest.raises(NotAVideoError) as info:
        iter_frames_ahead(text)
    with pytest.raises(NotAVideoError) as direct:
        iter_frames(text)
    assert str(info.value) == str(direct.value)  # the same one-line message as without the thread


def test_an_error_in_the_middle_of_the_stream_reaches_the_consumer(natural_mp4, monkeypatch):
    real = pipeline.open_frames

    def failing(path, config, warn):
        batches = real(path, config, warn)

        def stream():
            yield next(batches)
            raise VidsimError(f"{path}: the decoder gave up")

        return stream()

    monkeypatch.setattr(pipeline, "open_frames", failing)
    got = []
    with pytest.raises(VidsimError, match="the decoder gave up"):
        for batch in iter_frames_ahead(natural_mp4, DecodeConfig(batch_size=2)):
            got.append(batch)
    assert len(got) == 1 and got[0].frames.shape == (2, 224, 224, 3)


def test_warnings_are_issued_in_the_consumers_thread(clip_dir, tmp_path):
    full = clips.indexed(clip_dir / "to_cut_ahead.mp4", count=200, gop=25)
    cut = clips.cut(full, tmp_path / "cut.mp4", 0.5)
    with pytest.warns(TruncatedVideoWarning, match="cut.mp4"):
        batches = list(iter_frames_ahead(cut, DecodeConfig(fps=2)))
    assert batches


def test_memory_is_bounded_and_an_early_exit_stops_the_decoder(indexed_mp4, opened):
    _, produced = opened
    stream = iter_frames_ahead(indexed_mp4, DecodeConfig(batch_size=1, fps=10, prefetch=2))  # 40 batches
    next(stream)
    time.sleep(0.5)
    assert produced["batches"] <= 1 + 2 + 1  # the one read, the queue, the one waiting to be queued
    stream.close()
    assert wait_for(lambda: not decode_threads())  # the thread ended (and closed the file)
    assert produced["batches"] < 40


def test_the_next_video_is_decoded_while_the_current_one_is_read(natural_mp4, indexed_mp4, opened):
    log, _ = opened
    ahead = DecodeAhead(DecodeConfig(batch_size=1, prefetch=2))
    first = ahead.frames(natural_mp4)  # 4 batches
    ahead.expect(indexed_mp4)
    got = [next(first) for _ in range(3)]  # the rest (one batch, the end) fits in the queue: decoding is done
    assert wait_for(lambda: os.fspath(indexed_mp4) in log)  # the next video begins before the last batch is read
    got += list(first)
    second = stacked(ahead.frames(indexed_mp4))
    assert log == [os.fspath(natural_mp4), os.fspath(indexed_mp4)]  # each opened once, in order
    assert len(got) == 4 and len(second[0]) == 4
    np.testing.assert_array_equal(np.concatenate(second[0]),
                                  np.concatenate(stacked(iter_frames(indexed_mp4, DecodeConfig(batch_size=1)))[0]))


def test_a_queued_video_not_asked_for_is_dropped(natural_mp4, indexed_mp4, indexed_ts, opened):
    log, _ = opened
    ahead = DecodeAhead(DecodeConfig())
    list(ahead.frames(natural_mp4))
    ahead.expect(indexed_mp4)  # e.g. a file that turned out to be indexed already
    frames = stacked(ahead.frames(indexed_ts))[0]
    assert len(frames) == 1 and frames[0].shape[0] == 4
    assert log[-1] == os.fspath(indexed_ts)
    assert wait_for(lambda: not decode_threads())


def test_two_consumers_at_once_do_not_wait_for_each_other(natural_mp4, indexed_mp4):
    ahead = DecodeAhead(DecodeConfig(batch_size=1))
    one = ahead.frames(natural_mp4)
    next(one)  # the first stream is being read (its decoder blocked on its full queue) ...
    two = stacked(ahead.frames(indexed_mp4))  # ... and another one is read to the end meanwhile
    assert len(two[0]) == 4
    assert len(list(one)) == 3


def test_a_stream_closed_or_dropped_before_reading_stops_the_decoder(indexed_mp4, opened):
    _, produced = opened
    config = DecodeConfig(batch_size=1, fps=10)  # 40 batches
    iter_frames_ahead(indexed_mp4, config).close()
    assert wait_for(lambda: not decode_threads())
    stream = iter_frames_ahead(indexed_mp4, config)
    del stream  # never read, never closed
    assert wait_for(lambda: not decode_threads())
    assert produced["batches"] < 20
