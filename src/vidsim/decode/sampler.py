"""Which decoded frame stands for each sample time, reached by decoding or by seeking.

Sampling rule (both strategies): sample k is taken at time t_k = k / fps seconds, measured
on presentation timestamps from the start of the video stream ((pts - start_time) *
time_base). Frame i is displayed from its time p_i until the next frame's time p_{i+1}
(the last frame until p_last + its duration), and sample k is the frame displayed at t_k,
i.e. the last frame with p_i <= t_k (1e-4 s tolerance for time-base rounding). Times before
the first frame take the first frame. Sampling stops at the first t_k at or after the end of
the last frame, so a 10 s clip at fps=1 gives t = 0..9 and at fps=0.5 gives t = 0, 2, .., 8.
Timestamps returned are the t_k themselves; the same frame may serve several samples when
fps exceeds the video's frame rate (or the video holds a frame).
"""
from __future__ import annotations

from collections.abc import Iterator

import av

from vidsim.errors import ConfigError

from .source import FrameSource

EPS = 1e-4  # seconds; absorbs time bases that round frame times (Matroska's 1 ms, ...)


class _Cursor:
    """One-frame lookahead over a FrameSource.frames() iterator, keeping times increasing."""

    def __init__(self, frames: Iterator[tuple[float, av.VideoFrame]]):
        self._frames = frames
        self.prev: tuple[float, av.VideoFrame] | None = None
        self.next: tuple[float, av.VideoFrame] | None = None
        self._pull()

    def _pull(self) -> None:
        floor = self.prev[0] if self.prev is not None else None
        for item in self._frames:
            if floor is None or item[0] > floor:
                self.next = item
                return
        self.next = None  # end of stream

    def advance(self, t: float) -> None:
        """Move until prev is the last frame with time <= t (+EPS)."""
        while self.next is not None and self.next[0] <= t + EPS:
            self.prev = self.next
            self._pull()

    @property
    def position(self) -> float | None:
        """Time of the furthest frame decoded so far."""
        if self.next is not None:
            return self.next[0]
        if self.prev is not None:
            return self.prev[0]
        return None

    def close(self) -> None:
        close = getattr(self._frames, "close", None)
        if close is not None:
            close()


class Sampler:
    """Yields (t_k, frame) following the module's sampling rule."""

    def __init__(self, source: FrameSource, fps: float, strategy: str, seek_gap: float | None = None):
        if not fps > 0:
            raise ConfigError(f"fps must be positive, got {fps}")
        if strategy not in ("decode", "seek"):
            raise ConfigError(f"strategy must be 'decode' or 'seek', got {strategy!r}")
        self.source = source
        self.fps = float(fps)
        self.strategy = strategy
        # Without a container index, seek only when the next sample is further ahead than
        # this (the probed keyframe interval; None: keyframes too rare to find, never).
        self.seek_gap = float("inf") if seek_gap is None else max(seek_gap, 2 * source.default_duration)
        self.end_time: float | None = None  # end of the last frame, once reached
        self.seeks = 0
        self._no_seek = False

    def _end(self, cursor: _Cursor) -> float:
        assert cursor.prev is not None  # called once a frame was decoded
        time, frame = cursor.prev
        return time + self.source.frame_duration(frame)

    def __iter__(self) -> Iterator[tuple[float, av.VideoFrame]]:
        cursor = _Cursor(self.source.frames())
        k = 0
        try:
            while True:
                t = k / self.fps
                if self.strategy == "seek" and not self._no_seek and self._should_seek(cursor, t):
                    cursor = self._seek(cursor, t)
                cursor.advance(t)
                if cursor.prev is None:
                    if cursor.next is None:
                        return  # nothing decodable (here): stop
                    yield t, cursor.next[1]  # before the first frame: the first frame
                elif cursor.next is None:  # prev is the last frame of the stream
                    self.end_time = self._end(cursor)
                    if t + EPS >= self.end_time:
                        return
                    yield t, cursor.prev[1]
                else:
                    yield t, cursor.prev[1]
                k += 1
        finally:
            cursor.close()

    def _should_seek(self, cursor: _Cursor, t: float) -> bool:
        """Seek when a keyframe shown at or before t lies clearly beyond the decoded position
        (decoding forward is cheaper otherwise)."""
        position = cursor.position
        if position is None or cursor.next is None or t <= position:
            return False  # nothing decoded yet / at the end / t already reached
        margin = 3 * self.source.default_duration  # a seek costs about as much as a few frames
        keyframe = self.source.keyframe_before(t)
        if keyframe is not None:  # the container's index says where the keyframes are
            return keyframe > position + margin
        return t - position > max(self.seek_gap, margin)  # no index: assume regular keyframes

    def _seek(self, cursor: _Cursor, t: float) -> _Cursor:
        """A cursor whose first frame is at or before t; falls back to decoding forward."""
        fallback: _Cursor | None = cursor
        backoff = 0.0
        for _ in range(4):
            try:
                self.source.seek(max(0.0, t - backoff))
            except av.FFmpegError:
                break
            self.seeks += 1
            if fallback is not None:
                fallback.close()  # the old position is gone after a seek
                fallback = None
            fresh = _Cursor(self.source.frames())
            if fresh.next is not None and fresh.next[0] <= t + EPS:
                return fresh
            if fresh.next is None and self.source.damage.damaged:
                return fresh  # nothing readable from here on (cut-off file)
            fresh.close()
            backoff = max(2 * backoff, self.seek_gap if self.seek_gap < float("inf") else 0.0, 1.0)
        if fallback is not None:
            return fallback  # the seek itself failed: keep decoding forward
        # Give up on seeking: decode from the start.
        self.source.seek(0.0)
        self.seek_gap = float("inf")
        self._no_seek = True
        return _Cursor(self.source.frames())
