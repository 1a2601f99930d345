"""Chamfer similarity: frame-to-frame from region vectors, video-to-video from a matrix."""
from __future__ import annotations

import math

import numpy as np
import torch

MAX_CHUNK_ELEMENTS = 1 << 25  # region-pair similarities held at once (128 MB in fp32)


def f2f_similarity(query: torch.Tensor, target: torch.Tensor, symmetric: bool = False) -> torch.Tensor:
    """[..., P, R, D] x [..., Q, S, D] -> [..., P, Q]: for each frame pair, the mean over query regions
    of the max over target regions of their dot product (both directions averaged if symmetric).

    Leading dimensions are a batch of pairs. Target frames are processed in chunks so memory stays
    bounded for long videos.
    """
    if (query.ndim < 3 or query.ndim != target.ndim or query.shape[:-3] != target.shape[:-3]
            or query.shape[-1] != target.shape[-1]):
        raise ValueError(f"expected [..., P, R, D] and [..., Q, S, D], got {tuple(query.shape)} and "
                         f"{tuple(target.shape)}")
    *batch, p, r, d = query.shape
    q_frames, s = target.shape[-3], target.shape[-2]
    flat_q = query.reshape(*batch, p * r, d)
    step = max(1, MAX_CHUNK_ELEMENTS // max(1, math.prod(batch) * p * r * s))
    out = []
    for start in range(0, q_frames, step):
        chunk = target[..., start : start + step, :, :]
        frames = chunk.shape[-3]
        sim = (flat_q @ chunk.reshape(*batch, frames * s, d).transpose(-1, -2)).view(*batch, p, r, frames, s)
        f2f = sim.max(dim=-1).values.mean(dim=-2)
        if symmetric:
            f2f = (f2f + sim.max(dim=-3).values.mean(dim=-1)) / 2
        out.append(f2f)
    return torch.cat(out, dim=-1) if out else query.new_zeros(*batch, p, 0)


def chamfer_score(sim: torch.Tensor, symmetric: bool = False, partial: bool = False) -> torch.Tensor:
    """Video score from a [..., P, Q] map: mean over query rows of the max over target columns;
    symmetric: averaged with the mean over target columns of the max over query rows. `partial`
    (symmetric only): that second mean takes the best P of Q > P columns, the most a P-frame query
    can show of a longer target, so that a short query cut from a long video is not scored down
    for the frames it does not hold."""
    score = sim.max(dim=-1).values.mean(dim=-1)
    if symmetric:
        columns = sim.max(dim=-2).values
        if partial and columns.shape[-1] > sim.shape[-2]:
            columns = columns.topk(sim.shape[-2], dim=-1).values
        score = (score + columns.mean(dim=-1)) / 2
    return score


def naive_f2f_similarity(query: np.ndarray, target: np.ndarray) -> np.ndarray:
    """The tutorial's pseudocode, loop by loop: a slow reference for tests."""
    query, target = np.asarray(query), np.asarray(target)
    out = np.zeros((len(query), len(target)))
    for i, q_frame in enumerate(query):
        for j, t_frame in enumerate(target):
            total = 0.0
            for q_region in q_frame:
                total += max(float(np.dot(q_region, t_region)) for t_region in t_frame)
            out[i, j] = total / len(q_frame)
    return out
