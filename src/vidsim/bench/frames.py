"""The frame a video shows at any time t, read through `vidsim.decode` at a fixed size.

Benchmark clips are cut and resampled on their own frame grid, so they ask for the picture
displayed at arbitrary times, mostly increasing; going back or jumping far ahead re-opens the
file at the keyframe before (decoding from the start when a seek lands too late).
"""
from __future__ import annotations

import os
from collections.abc import Generator, Iterable
from types import TracebackType

import numpy as np

from vidsim.decode import DecodedFrame, iter_decoded_frames, probe

__all__ = ["FrameCursor", "read_frames"]

_EPS = 1e-6
_SEEK_FROM = 1.5  # seconds: nearer the start, decode from the beginning
_SEEK_BEFORE = 1.0  # seek this far before the wanted time
_JUMP = 5.0  # seconds ahead of the decoded position that are worth a seek


class FrameCursor:
    """Frames of one video by display time, scaled to `size` (width, height), RGB uint8, read-only."""

    def __init__(self, path: str | os.PathLike, size: tuple[int, int]):
        self.path, self.size = os.fspath(path), size
        self._frames: Generator[DecodedFrame, None, None] | None = None
        self._can_seek = True
        self._open(0.0)

    def _open(self, t: float) -> None:
        self.close()
        self._seeked = self._can_seek and t > _SEEK_FROM
        self._frames = iter_decoded_frames(self.path, start=t - _SEEK_BEFORE if self._seeked else 0.0)
        self._cur: DecodedFrame | None = None
        self._cur_img: np.ndarray | None = None
        self._count = 0
        self._nxt = self._next()

    def _next(self) -> DecodedFrame | None:
        assert self._frames is not None
        frame = next(self._frames, None)
        if frame is not None:
            self._count += 1
        return frame

    def _advance(self) -> None:
        self._cur, self._cur_img = self._nxt, None
        self._nxt = self._next()

    def at(self, t: float) -> np.ndarray:
        """The frame displayed at time t (the first frame before it starts, the last after the end)."""
        cur_t = self._cur.time if self._cur is not None else None
        if cur_t is not None and (t < cur_t - _EPS or (t > cur_t + _JUMP and self._can_seek)):
            self._open(t)
        elif cur_t is None and not self._seeked and t > _JUMP and self._count <= 1 and self._can_seek:
            self._open(t)
        while self._nxt is not None and self._nxt.time <= t + _EPS:
            self._advance()
        if self._cur is None:
            if self._seeked:  # the seek landed after t: decode from the start instead
                self._can_seek = False
                self._open(0.0)
                return self.at(t)
            if self._nxt is None:
                raise ValueError(f"{self.path}: no video frames")
            self._advance()
        if self._cur_img is None:
            assert self._cur is not None
            self._cur_img = self._cur.to_rgb(self.size)
            self._cur_img.setflags(write=False)
        return self._cur_img

    def close(self) -> None:
        if self._frames is not None:
            self._frames.close()
            self._frames = None

    def __enter__(self) -> FrameCursor:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def read_frames(path: str | os.PathLike, times: Iterable[float], size: tuple[int, int] | None = None) -> np.ndarray:
    """RGB frames [N, H, W, 3] displayed at `times` (seconds from the stream start), at `size` (w, h)."""
    if size is None:
        info = probe(path)
        size = (info.width, info.height)
    with FrameCursor(path, size) as cursor:
        return np.stack([np.array(cursor.at(t)) for t in times])
