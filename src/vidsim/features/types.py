"""The value a video becomes: region features with their timestamps and provenance."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class VideoFeatures:
    """Region features [P frames, R regions, D dims] (float32, L2-normalised regions),
    the timestamp in seconds of each frame, and what made them.

    `frame_std` [P] (float32): each frame's pixel standard deviation as the network saw it (see
    `frame_pixel_std`), which tells near-constant frames (black, blank, one colour) apart; None
    when unknown (features made by hand or by an older vidsim)."""

    regions: np.ndarray
    timestamps: np.ndarray
    feature_key: str = ""  # VidsimConfig.feature_key() of the configuration that made them
    weights_version: str = ""
    source: str = ""  # path or id of the video
    meta: dict = field(default_factory=dict)
    frame_std: np.ndarray | None = None

    def __post_init__(self):
        if self.regions.ndim != 3:
            raise ValueError(f"regions must be [P, R, D], got shape {self.regions.shape}")
        if len(self.timestamps) != len(self.regions):
            raise ValueError(f"{len(self.timestamps)} timestamps for {len(self.regions)} frames")
        if self.frame_std is not None and np.shape(self.frame_std) != (len(self.regions),):
            raise ValueError(f"frame_std of shape {np.shape(self.frame_std)} for {len(self.regions)} frames")

    @property
    def num_frames(self) -> int:
        return int(self.regions.shape[0])

    @property
    def dims(self) -> int:
        return int(self.regions.shape[2])


def feature_key_matches(features: VideoFeatures, key: str) -> bool:
    """Whether `features` may be compared with features keyed `key`: true unless they name
    another key (features that name none, made by hand or by older files, are accepted)."""
    return not features.feature_key or features.feature_key == key


def frame_pixel_std(frames: np.ndarray) -> np.ndarray:
    """[B, H, W, 3] uint8 frames -> [B] float32: the largest over the colour channels of the standard
    deviation of a channel's pixels (0-255). Near 0 for a frame of one colour, whatever the colour."""
    frames = np.asarray(frames)
    if len(frames) == 0:
        return np.zeros(0, np.float32)
    flat = frames.reshape(len(frames), -1, frames.shape[-1]).astype(np.float32)
    return flat.std(axis=1).max(axis=1).astype(np.float32)
