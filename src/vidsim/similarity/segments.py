"""`Segment`: one copied (or predicted) segment pair, query interval and reference interval in seconds.

Low level on purpose: alignment (`vidsim.similarity.align`) produces segments, the index and
evaluation consume them; `vidsim.evaluate.groundtruth` re-exports this class.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["Segment"]


@dataclass(frozen=True)
class Segment:
    """One copied (or predicted) segment pair: query interval and reference interval in seconds."""

    query_start: float
    query_end: float
    ref_start: float
    ref_end: float
    score: float = 1.0

    def __post_init__(self) -> None:
        for name in ("query_start", "query_end", "ref_start", "ref_end", "score"):
            value = float(getattr(self, name))
            if not math.isfinite(value):
                raise ValueError(f"Segment.{name} must be finite, got {value!r}")
            object.__setattr__(self, name, value)
        if self.query_end < self.query_start or self.ref_end < self.ref_start:
            raise ValueError(f"Segment ends before it starts: {self}")

    @property
    def query_length(self) -> float:
        """Length of the query interval in seconds."""
        return self.query_end - self.query_start

    @property
    def ref_length(self) -> float:
        """Length of the reference interval in seconds."""
        return self.ref_end - self.ref_start
