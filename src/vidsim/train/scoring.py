"""The head's training path: many (query, target) pairs scored at once, with gradients.

Pairs of equal shape share one batched attention + f2f computation; all their f2f maps are then
scored by `vidsim.similarity.video_scores`, so each pair gets the score `ViSiLHead.forward` gives.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import torch

from vidsim.similarity.head import ViSiLHead
from vidsim.similarity.scoring import video_scores


def score_batch(head: ViSiLHead, query: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Scores [B] of B equal-shape pairs of region features (before attention) and the comparator
    maps [B, P/4, Q/4] before Hardtanh (what the regulariser constrains)."""
    _check_learned(head)
    scored = video_scores(head, head.f2f(head.prepare(query), head.prepare(target)))
    return scored.scores, torch.stack(scored.comparator_maps)


def score_pairs(head: ViSiLHead, pairs: Sequence[tuple[torch.Tensor, torch.Tensor]]
                ) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """Scores [N] of (query [P, R, D], target [Q, R, D]) pairs of any shapes, and their comparator
    maps before Hardtanh (in pair order); attention and f2f are batched by shape."""
    _check_learned(head)
    groups: dict[tuple[tuple[int, ...], tuple[int, ...]], list[int]] = defaultdict(list)
    for i, (q, t) in enumerate(pairs):
        groups[(tuple(q.shape), tuple(t.shape))].append(i)
    maps: list[torch.Tensor | None] = [None] * len(pairs)
    for members in groups.values():
        query = head.prepare(torch.stack([pairs[i][0] for i in members]))
        target = head.prepare(torch.stack([pairs[i][1] for i in members]))
        for i, f2f in zip(members, head.f2f(query, target)):
            maps[i] = f2f
    scored = video_scores(head, [m for m in maps if m is not None])
    return scored.scores, scored.comparator_maps


def _check_learned(head: ViSiLHead) -> None:
    if not head.learned:
        raise ValueError("training scores a learned ('visil') head: a 'chamfer' head has no weights to train")
