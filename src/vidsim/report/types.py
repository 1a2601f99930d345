"""What a match report shows, gathered before any HTML is written (`collect`), rendered by `html`."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from vidsim.decision import CopyDecision
from vidsim.index.search import Match
from vidsim.similarity.segments import Segment


@dataclass(frozen=True)
class Thumb:
    """One column of a segment's strip: the query frame at `query_time` above the reference frame
    at the matched `ref_time` (JPEG bytes; None when that video could not be read)."""

    query_time: float
    ref_time: float
    query_image: bytes | None
    ref_image: bytes | None


@dataclass(frozen=True)
class SegmentStrip:
    """A copied segment and its aligned thumbnails, query time order."""

    segment: Segment
    thumbs: tuple[Thumb, ...]


@dataclass(frozen=True)
class MatchView:
    """The detail of one match: its reference, the f2f heatmap (PNG), the segments' strips, and
    notes saying what could not be shown and why."""

    rank: int
    match: Match
    name: str  # the reference's display name
    duration: float  # the reference's length, seconds
    heatmap: bytes | None
    strips: tuple[SegmentStrip, ...]
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class QueryReport:
    """Everything the report shows for one query: all its matches (a table), the detail of the
    best `details`, how copies were decided, and the configuration that produced the scores."""

    query: str  # display name (a file name; an upload's own name when served)
    duration: float  # seconds
    matches: tuple[Match, ...]
    details: tuple[MatchView, ...]
    decision: CopyDecision
    mode: str  # the head's mode label
    config: dict[str, Any]
    warnings: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default=())
