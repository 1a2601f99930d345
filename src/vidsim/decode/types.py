"""The two values the decode package hands out: a batch of sampled frames and a probe result."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class FrameBatch:
    """Consecutive sampled frames of one video.

    frames: uint8 [B, H, W, 3], RGB, C-contiguous, upright (display rotation applied).
    timestamps: float64 [B], the sample times k / fps in seconds from the start of the
        video stream; frame i is the picture being displayed at timestamps[i].
    """

    frames: np.ndarray
    timestamps: np.ndarray
    # float64 [B]: presentation time (s) of the decoded frame each sample shows: at or before its
    # timestamp (after it only for samples before the first frame); NaN for an untimed frame
    frame_times: np.ndarray | None = None

    def __len__(self) -> int:
        return int(self.frames.shape[0])


@dataclass(frozen=True)
class VideoInfo:
    """What `probe` learns about a file without decoding it (one frame is decoded).

    width/height are the displayed size: sample aspect ratio applied to the width, then
    swapped when the display rotation is 90 or 270 degrees. rotation is the angle, in
    degrees counter-clockwise, by which stored frames are turned for display (FFmpeg
    display-matrix convention, normalised to 0/90/180/270; a phone's classic ``rotate=90``
    tag reads as 270). duration is 0.0 when the container does not say. frame_count is
    None when the container does not say. keyframe_interval is the mean distance between
    keyframes seen in the first packets (demux only); None when fewer than two were seen.
    """

    path: str
    duration: float
    fps: float
    width: int
    height: int
    rotation: int
    codec: str
    frame_count: int | None
    keyframe_interval: float | None
    has_audio: bool
