"""Aligned runs on an f2f map (`MapPath`) and their conversion to `Segment`s in seconds; the
input checks and path helpers every aligner shares."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

from vidsim.errors import VidsimError
from vidsim.similarity.segments import Segment


class AlignmentError(VidsimError, ValueError):
    """Bad alignment request: unknown method, unknown or invalid parameter, mismatched inputs."""


class MapPath(NamedTuple):
    """An aligned run on the map, in frame indices (inclusive) with its mean similarity."""

    query_first: int
    query_last: int
    ref_first: int
    ref_last: int
    score: float  # mean similarity of the matched cells
    n_matched: int  # cells on the path


def as_map(f2f: Any) -> np.ndarray:
    """An f2f map (numpy or torch) as a finite float32 [P, Q] array."""
    if hasattr(f2f, "detach"):  # torch.Tensor, without importing torch here
        f2f = f2f.detach().float().cpu().numpy()
    sim = np.asarray(f2f, dtype=np.float32)
    if sim.ndim != 2:
        raise AlignmentError(f"expected a 2-D similarity map [P, Q], got shape {sim.shape}")
    if not np.all(np.isfinite(sim)):
        sim = np.nan_to_num(sim, nan=-1.0, posinf=1.0, neginf=-1.0)
    return sim


def as_times(times: Any, n: int, name: str) -> np.ndarray:
    """Timestamps as float64 [n], checked against the map's axis."""
    if hasattr(times, "detach"):
        times = times.detach().cpu().numpy()
    t = np.asarray(times, dtype=np.float64).reshape(-1)
    if t.shape[0] != n:
        raise AlignmentError(f"{name} has {t.shape[0]} timestamps but the map has {n} frames on that axis")
    return t


def sample_period(times: np.ndarray, default: float = 1.0) -> float:
    """Median spacing of sorted timestamps (seconds); ``default`` for fewer than two frames."""
    if times.shape[0] < 2:
        return float(default)
    d = np.diff(times)
    d = d[d > 0]
    return float(np.median(d)) if d.size else float(default)


def box_iou(a: MapPath, b: MapPath) -> float:
    """Intersection over union of two paths' (query x reference) boxes, in frames."""
    iq = min(a.query_last, b.query_last) - max(a.query_first, b.query_first) + 1
    ir = min(a.ref_last, b.ref_last) - max(a.ref_first, b.ref_first) + 1
    if iq <= 0 or ir <= 0:
        return 0.0
    inter = iq * ir
    return inter / (_box_area(a) + _box_area(b) - inter)


def _box_area(p: MapPath) -> int:
    return (p.query_last - p.query_first + 1) * (p.ref_last - p.ref_first + 1)


def paths_to_segments(paths: Sequence[MapPath], query_times: np.ndarray, target_times: np.ndarray,
                      default_period: float = 1.0, edges: str = "after") -> list[Segment]:
    """Frame-index paths -> Segments in seconds, best first.

    ``edges="after"``: a frame stands for the period after its timestamp (start = first frame's
    time, end = last frame's time + one sample period); ``"centred"``: for the period around it
    (half a period either side, the start not before the video's first frame).
    """
    if edges not in ("after", "centred"):
        raise AlignmentError(f"edges must be 'after' or 'centred', got {edges!r}")
    pq = sample_period(query_times, default_period)
    pr = sample_period(target_times, default_period)
    shift = 0.5 if edges == "centred" else 0.0
    q0 = float(query_times[0]) if query_times.size else 0.0
    r0 = float(target_times[0]) if target_times.size else 0.0
    out = [
        Segment(max(q0, float(query_times[p.query_first]) - shift * pq),
                float(query_times[p.query_last]) + (1 - shift) * pq,
                max(r0, float(target_times[p.ref_first]) - shift * pr),
                float(target_times[p.ref_last]) + (1 - shift) * pr, float(p.score))
        for p in paths
    ]
    out.sort(key=lambda s: (-s.score, s.query_start, s.ref_start))
    return out


def merge_adjacent(paths: list[MapPath], gap: int) -> list[MapPath]:
    """Join paths where one starts right where another ends on both axes (a path cut in pieces)."""
    if len(paths) < 2 or gap < 1:
        return paths
    out: list[MapPath] = []
    for p in sorted(paths, key=lambda p: (p.query_first, p.ref_first)):
        for k, a in enumerate(out):
            dq, dr = p.query_first - a.query_last, p.ref_first - a.ref_last
            if -1 <= dq <= gap and -1 <= dr <= gap and max(dq, dr) > 0:  # one frame of overlap allowed
                n = a.n_matched + p.n_matched
                out[k] = MapPath(a.query_first, p.query_last, a.ref_first, max(a.ref_last, p.ref_last),
                                 (a.score * a.n_matched + p.score * p.n_matched) / n, n)
                break
        else:
            out.append(p)
    return out


def path_of(rows: np.ndarray, cols: np.ndarray, sims: np.ndarray) -> MapPath:
    """The path through the cells (rows[i], cols[i]) of similarities `sims`."""
    return MapPath(int(rows.min()), int(rows.max()), int(cols.min()), int(cols.max()),
                   float(sims.mean()), int(rows.size))
