"""Hierarchical search: nearest frames -> votes per video and temporal offset -> fine re-ranking.

1. Each query frame's vector (L2-normalised mean of its regions) fetches its k nearest indexed
   frames from the vector store.
2. Votes: a video scores, per query frame, the similarity of its best hit (frame votes), and
   separately the hits that agree on one temporal offset (target frame - query frame, binned):
   a copy gives many hits on one diagonal. Candidates are ranked by the mean of both, normalised
   by the number of query frames.
3. The top candidates are re-ranked with the fine ViSiL similarity (the head, on the stored
   compact regions decoded to float32), and the copied segments of the best ones are located
   on their frame-to-frame map (`vidsim.similarity.align.localise`).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

from vidsim.index.catalog import VectorRanges
from vidsim.index.config import SearchConfig
from vidsim.index.vectors import VectorStore
from vidsim.similarity.segments import Segment


@dataclass(frozen=True)
class Match:
    """One search result: an indexed video, its ViSiL similarity to the query, and the copied
    segments (query and target intervals in seconds), best first."""

    video_id: int
    path: str
    similarity: float
    segments: tuple[Segment, ...] = ()


@dataclass(frozen=True)
class Candidate:
    """A video proposed by the frame votes."""

    video_id: int
    score: float  # (frame_votes + offset_votes) / 2, both in [0, 1]
    frame_votes: float  # mean over query frames of the best hit's similarity in this video
    offset_votes: float  # the same, restricted to the best-supported temporal offset
    offset: float  # that offset in frames (target - query)


def vote(hit_scores: np.ndarray, hit_ids: np.ndarray, ranges: VectorRanges, bin_frames: int) -> list[Candidate]:
    """Candidates from per-query-frame hits ([P, k] scores and vector ids), best first."""
    num_query = hit_scores.shape[0]
    if num_query == 0:
        return []
    videos, frames = ranges.lookup(hit_ids)
    query_frame = np.broadcast_to(np.arange(num_query)[:, None], hit_ids.shape)
    keep = (videos >= 0) & (hit_scores > 0)
    if not keep.any():
        return []
    vid, tf, qf, score = videos[keep], frames[keep], query_frame[keep], hit_scores[keep].astype(np.float64)
    bins = np.floor_divide(tf - qf, max(1, bin_frames))
    video_ids, v = np.unique(vid, return_inverse=True)
    n_videos = len(video_ids)

    # frame votes: the best hit of each (video, query frame), summed per video
    best = _argmax_per_key(v * num_query + qf, score)
    frame_votes = np.bincount(v[best], weights=score[best], minlength=n_videos)

    # offset votes: best hit of each (video, offset bin, query frame), summed per (video, bin),
    # with both neighbouring bins added (an offset on a bin edge is split between two bins).
    # Sparse: only the (video, bin) cells that received a hit exist.
    b_min = bins.min()
    b = bins - b_min + 1  # >= 1, leaves room for the -1 neighbour
    n_bins = int(b.max()) + 2
    cell = v * n_bins + b
    best = _argmax_per_key(cell * num_query + qf, score)
    cell_keys, cell_of = np.unique(cell[best], return_inverse=True)
    sums = np.bincount(cell_of, weights=score[best])
    smooth = sums.copy()
    for step in (-1, 1):
        pos = np.minimum(np.searchsorted(cell_keys, cell_keys + step), len(cell_keys) - 1)
        smooth += np.where(cell_keys[pos] == cell_keys + step, sums[pos], 0.0)
    cell_video = cell_keys // n_bins
    smooth = np.minimum(smooth, frame_votes[cell_video])  # a query frame counts once per video
    top = _argmax_per_key(cell_video, smooth)  # one per video, in video order
    offset_votes = smooth[top]
    best_bin = cell_keys[top] % n_bins

    frame_votes, offset_votes = frame_votes / num_query, offset_votes / num_query
    scores = (frame_votes + offset_votes) / 2
    order = np.argsort(-scores, kind="stable")
    return [
        Candidate(int(video_ids[i]), float(scores[i]), float(frame_votes[i]), float(offset_votes[i]),
                  float((best_bin[i] - 1 + b_min) * max(1, bin_frames)))
        for i in order
    ]


def _argmax_per_key(keys: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Index of the largest value of each distinct key, in increasing key order."""
    order = np.lexsort((-values, keys))
    sorted_keys = keys[order]
    first = np.ones(len(order), bool)
    first[1:] = sorted_keys[1:] != sorted_keys[:-1]
    return order[first]


def candidates(store: VectorStore, ranges: VectorRanges, query_vectors: np.ndarray, config: SearchConfig,
               fps: float) -> list[Candidate]:
    """Step 1 and 2: k-NN per query frame, then votes."""
    k = max(1, min(config.frame_neighbours, store.ntotal))
    scores, ids = store.search(query_vectors, k, nprobe=config.nprobe, ef_search=config.ef_search)
    bin_frames = max(1, int(round(config.offset_bin * fps)))
    return vote(scores, ids, ranges, bin_frames)[: config.candidates]


@torch.no_grad()
def rerank(head, query_regions: np.ndarray, candidate_ids: list[int],
           load: Callable[[int], tuple[np.ndarray, np.ndarray] | None]) -> list[tuple[int, float]]:
    """Step 3: fine ViSiL similarity of each candidate ((video id, similarity), best first).
    `load(video_id)` returns the decoded regions and timestamps, or None if the video is gone."""
    query = head.prepare(torch.from_numpy(np.ascontiguousarray(query_regions, dtype=np.float32)))
    scored = []
    for video_id in candidate_ids:
        loaded = load(video_id)
        if loaded is None or len(loaded[0]) == 0:
            continue
        target = head.prepare(torch.from_numpy(loaded[0]))
        scored.append((video_id, float(head(query, target))))
    scored.sort(key=lambda item: -item[1])
    return scored


@torch.no_grad()
def segments_of(head, query_regions: np.ndarray, query_times: np.ndarray, target_regions: np.ndarray,
                target_times: np.ndarray) -> tuple[Segment, ...]:
    """Copied segments located on the f2f map of the pair (empty if the aligner is not available)."""
    try:
        from vidsim.similarity.align import localise
    except ImportError:  # the aligner is not part of this build
        return ()
    query = head.prepare(torch.from_numpy(np.ascontiguousarray(query_regions, dtype=np.float32)))
    target = head.prepare(torch.from_numpy(target_regions))
    f2f = head.f2f(query, target).cpu().numpy()
    return tuple(localise(f2f, np.asarray(query_times, np.float64), np.asarray(target_times, np.float64)))
