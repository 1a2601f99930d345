"""Every decoded frame of a video, one at a time, with its presentation time (no sampling).

`iter_frames` samples on a fixed grid and resizes for the network; tools that rewrite video
(the benchmark transforms, `vidsim.synth.make_copy`) need each frame as the file holds it:

    for frame in iter_decoded_frames("clip.mp4", start=12.0):   # from the keyframe before 12 s
        frame.time              # seconds from the start of the video stream
        frame.to_rgb()          # upright RGB uint8 [H, W, 3] at the decoded size
        frame.to_rgb((320, 180))  # or scaled to (width, height) as displayed
"""
from __future__ import annotations

import os
from collections.abc import Generator

import av
import numpy as np

from .container import open_video
from .source import FrameSource
from .transform import frame_orientation

__all__ = ["DecodedFrame", "iter_decoded_frames"]


class DecodedFrame:
    """One decoded picture and the time it is shown (seconds from the start of the video stream)."""

    __slots__ = ("time", "_frame")

    def __init__(self, time: float, frame: av.VideoFrame):
        self.time = time
        self._frame = frame

    def to_rgb(self, size: tuple[int, int] | None = None) -> np.ndarray:
        """The upright picture, RGB uint8 [H, W, 3]; `size` (width, height, as displayed) scales it
        in the colour conversion with area averaging (None: the decoded size, aspect ratio as stored)."""
        frame = self._frame
        orientation = frame_orientation(frame)
        if size is None:
            rgb = frame.to_ndarray(format="rgb24")
        else:
            w, h = (size[1], size[0]) if orientation.swaps_axes else size
            rgb = frame.reformat(width=w, height=h, format="rgb24", interpolation="AREA").to_ndarray()
        return np.ascontiguousarray(orientation.apply(rgb))


def iter_decoded_frames(path: str | os.PathLike, start: float = 0.0) -> Generator[DecodedFrame, None, None]:
    """Every frame of the video stream in presentation order, from the keyframe shown at or before
    `start` seconds (from the beginning when start <= 0 or the file cannot seek).

    Damaged packets are skipped. Opening raises the vidsim errors of `probe`
    (VideoNotFoundError, NotAVideoError, NoVideoStreamError); the file stays open until the
    generator is exhausted or closed.
    """
    with open_video(path) as (container, stream):
        stream.thread_type = "AUTO"
        source = FrameSource(container, stream)
        if start > 0:
            try:
                source.seek(start)
            except av.FFmpegError:
                pass  # not seekable: decode from the beginning
        for seconds, frame in source.frames():
            yield DecodedFrame(seconds, frame)
