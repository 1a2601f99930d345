"""The parameters and call protocol every aligner shares: map in, segments out, acceptance rules."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from vidsim.similarity.align.paths import (
    AlignmentError,
    MapPath,
    as_map,
    as_times,
    box_iou,
    merge_adjacent,
    paths_to_segments,
)
from vidsim.similarity.segments import Segment


@dataclass(frozen=True)
class Aligner:
    """Common parameters and the call protocol; subclasses implement ``paths``."""

    min_length: int = 3  # frames a segment must span on both axes (3 s at the default 1 fps)
    min_score: float = 0.25  # mean similarity along the path
    max_segments: int = 5  # per pair
    max_iou: float = 0.3  # a path overlapping a kept one more than this (box IoU) is dropped
    default_period: float = 1.0  # seconds per frame for a one-frame video
    merge_gap: int = 2  # kept segments that continue one another within this many frames are joined
    edges: str = "centred"  # segment edges: "centred" (frame t covers t +- period/2) or "after" ([t, t + period))

    name = ""

    def __post_init__(self) -> None:
        if self.min_length < 1:
            raise AlignmentError(f"{self.name}: min_length must be >= 1, got {self.min_length}")
        if self.max_segments < 1:
            raise AlignmentError(f"{self.name}: max_segments must be >= 1, got {self.max_segments}")

    def paths(self, sim: np.ndarray) -> list[MapPath]:  # pragma: no cover - abstract
        raise NotImplementedError

    def __call__(self, f2f: Any, query_times: Any, target_times: Any) -> list[Segment]:
        """Segments in seconds, best first, from an f2f map [P, Q] (numpy or torch) and both axes' timestamps."""
        sim = as_map(f2f)
        qt = as_times(query_times, sim.shape[0], "query_times")
        tt = as_times(target_times, sim.shape[1], "target_times")
        if sim.size == 0:
            return []
        paths = merge_adjacent(self.paths(sim), self.merge_gap)
        return paths_to_segments(paths, qt, tt, self.default_period, self.edges)

    # -- shared acceptance ---------------------------------------------------------------
    def _accept(self, path: MapPath, kept: list[MapPath]) -> bool:
        if path.query_last - path.query_first + 1 < self.min_length:
            return False
        if path.ref_last - path.ref_first + 1 < self.min_length:
            return False
        if path.score < self.min_score:
            return False
        return all(box_iou(path, k) <= self.max_iou for k in kept)
