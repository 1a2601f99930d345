"""One query against several references: keep, per query moment, the best reference's segment."""
from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import TypeVar

from vidsim.similarity.segments import Segment

K = TypeVar("K", bound=Hashable)


def suppress_cross_reference(candidates: Mapping[K, Sequence[Segment]], max_overlap: float = 0.5
                             ) -> dict[K, list[Segment]]:
    """One query's segments against several references -> those that explain the query best.

    A moment of a query is a copy of (at most) one reference moment, but footage of the same
    scene (same room, same camera, another time) aligns too. Going through all segments best
    score first, a segment is dropped when its query interval overlaps a segment already kept for
    *another* reference by more than ``max_overlap`` of the shorter interval. Segments of one
    reference never suppress each other; references left without segments are omitted.
    """
    ranked = sorted(((s, k) for k, segs in candidates.items() for s in segs),
                    key=lambda sk: (-sk[0].score, sk[0].query_start))
    kept: list[tuple[Segment, K]] = []
    for seg, key in ranked:
        clash = False
        for other, okey in kept:
            if okey == key:
                continue
            inter = min(seg.query_end, other.query_end) - max(seg.query_start, other.query_start)
            shorter = min(seg.query_length, other.query_length)
            if inter > max_overlap * shorter and inter > 0:
                clash = True
                break
        if not clash:
            kept.append((seg, key))
    out: dict[K, list[Segment]] = {}
    for seg, key in kept:
        out.setdefault(key, []).append(seg)
    return out
