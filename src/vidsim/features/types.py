"""The value a video becomes: region features with their timestamps and provenance."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class VideoFeatures:
    """Region features [P frames, R regions, D dims] (float32, L2-normalised regions),
    the timestamp in seconds of each frame, and what made them."""

    regions: np.ndarray
    timestamps: np.ndarray
    feature_key: str = ""  # VidsimConfig.feature_key() of the configuration that made them
    weights_version: str = ""
    source: str = ""  # path or id of the video
    meta: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.regions.ndim != 3:
            raise ValueError(f"regions must be [P, R, D], got shape {self.regions.shape}")
        if len(self.timestamps) != len(self.regions):
            raise ValueError(f"{len(self.timestamps)} timestamps for {len(self.regions)} frames")

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
