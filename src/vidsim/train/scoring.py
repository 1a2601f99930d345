"""The head's training path: many (query, target) pairs scored at once, with gradients.

Pairs of equal shape go through attention, f2f Chamfer and the comparator as one batch (no
chunking: training clips are short); each pair gives the same score as `ViSiLHead.forward`.
"""
from __future__ import annotations

from collections import defaultdict
from typing import Sequence

import torch

from vidsim.similarity.head import MIN_FRAMES, ViSiLHead, _repeat_to


def batch_f2f(query: torch.Tensor, target: torch.Tensor, symmetric: bool = False) -> torch.Tensor:
    """[B, P, R, D] x [B, Q, S, D] -> [B, P, Q] frame-to-frame Chamfer similarity (as f2f_similarity)."""
    sim = torch.einsum("bprd,bqsd->bpqrs", query, target)
    f2f = sim.max(dim=4).values.mean(dim=3)
    if symmetric:
        f2f = (f2f + sim.max(dim=3).values.mean(dim=3)) / 2
    return f2f


def score_batch(head: ViSiLHead, query: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Scores [B] of B equal-shape pairs of region features (before attention) and the comparator
    maps [B, P/4, Q/4] before Hardtanh (what the regulariser constrains)."""
    if query.shape[1] < MIN_FRAMES or target.shape[1] < MIN_FRAMES:
        query = torch.stack([_repeat_to(q, MIN_FRAMES) for q in query])
        target = torch.stack([_repeat_to(t, MIN_FRAMES) for t in target])
    f2f = batch_f2f(head.prepare(query), head.prepare(target), head.symmetric)
    maps = head.video_comperator(f2f[:, None])[:, 0]
    sim = torch.clamp(maps, -1.0, 1.0)
    score = sim.max(dim=2).values.mean(dim=1)
    if head.symmetric:
        score = (score + sim.max(dim=1).values.mean(dim=1)) / 2
    return score, maps


def score_pairs(head: ViSiLHead, pairs: Sequence[tuple[torch.Tensor, torch.Tensor]]
                ) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """Scores [N] of (query [P, R, D], target [Q, R, D]) pairs of any shapes, batched by shape,
    and their comparator maps before Hardtanh (in pair order)."""
    groups: dict[tuple, list[int]] = defaultdict(list)
    for i, (q, t) in enumerate(pairs):
        groups[(tuple(q.shape), tuple(t.shape))].append(i)
    scores: list[torch.Tensor | None] = [None] * len(pairs)
    maps: list[torch.Tensor | None] = [None] * len(pairs)
    for members in groups.values():
        s, m = score_batch(head, torch.stack([pairs[i][0] for i in members]), torch.stack([pairs[i][1] for i in members]))
        for j, i in enumerate(members):
            scores[i], maps[i] = s[j], m[j]
    return torch.stack(scores), maps  # type: ignore[arg-type]
