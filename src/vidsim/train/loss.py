"""ViSiL's training objective: the triplet loss on video similarities and the similarity
regulariser that keeps the comparator's output (before Hardtanh) inside [-1, 1]."""
from __future__ import annotations

import torch


def triplet_loss(s_pos: torch.Tensor, s_neg: torch.Tensor, gamma: float) -> torch.Tensor:
    """Mean over triplets of max(0, s_neg - s_pos + gamma)."""
    return torch.clamp(s_neg - s_pos + gamma, min=0.0).mean()


def similarity_regulariser(maps: torch.Tensor | list[torch.Tensor]) -> torch.Tensor:
    """Per comparator map S (before Hardtanh): sum |min(0, S + 1)| + sum |max(0, S - 1)|, averaged
    over the maps, so that its weight does not depend on the batch size. `maps`: [B, P, Q] or a
    list of [P, Q] maps of different shapes."""
    if isinstance(maps, torch.Tensor):
        maps = list(maps) if maps.ndim == 3 else [maps]
    if not maps:
        raise ValueError("no comparator maps to regularise")
    per_map = [torch.clamp(s + 1.0, max=0.0).abs().sum() + torch.clamp(s - 1.0, min=0.0).abs().sum() for s in maps]
    return torch.stack(per_map).mean()
