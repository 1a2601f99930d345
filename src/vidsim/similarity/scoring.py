"""The one place a video score is read from frame-to-frame maps, for many maps at once.

Each f2f map [P, Q] (of features after attention) is repeated to at least `MIN_FRAMES` frames on
both axes, cut into chunks of `chunk_frames` target frames (a tail under `MIN_FRAMES` joins the
last chunk), each chunk read as Hardtanh(comparator(chunk)) by a learned head or as itself by the
Chamfer head, scored by Chamfer similarity (both directions if symmetric, see `chamfer_score`), and the chunk scores
averaged; uninformative frames are left out first where masks are given (`similarity.informative`).
`ViSiLHead.forward`, the search re-rank and training all score through `video_scores`.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from itertools import pairwise
from typing import NamedTuple, Protocol

import torch

from vidsim.similarity.chamfer import chamfer_score
from vidsim.similarity.informative import FrameMask, select_frames

MIN_FRAMES = 4  # the comparator pools twice; shorter videos are repeated to 4 frames (official)
COMPARATOR_CELLS = 1 << 21  # f2f cells run through the comparator in one batch (bounds its activations)


class ScoringHead(Protocol):
    """What scoring needs of a head (`ViSiLHead` is one): its kind, symmetry, chunking, comparator."""

    @property
    def learned(self) -> bool: ...

    symmetric: bool
    symmetric_partial: bool
    chunk_frames: int

    def comparator_output(self, f2f: torch.Tensor) -> torch.Tensor: ...


class VideoScores(NamedTuple):
    """Scores [N] of N f2f maps and, for a learned head, each map's comparator output before
    Hardtanh (what the training regulariser constrains), its chunks side by side."""

    scores: torch.Tensor
    comparator_maps: list[torch.Tensor]


def video_scores(head: ScoringHead, f2f: torch.Tensor | Sequence[torch.Tensor],
                 keep: Sequence[FrameMask | None] | None = None) -> VideoScores:
    """The head's video score of each f2f map: a [N, P, Q] tensor or N maps [P_i, Q_i] of any shapes.

    `keep`: per map, the (query, target) frames to compare (None: all), e.g. the informative ones.
    Differentiable (training calls it with gradients on). Chunks of equal shape go through the
    comparator together, in batches of at most `COMPARATOR_CELLS` cells.
    """
    maps = list(f2f)
    if not maps:
        raise ValueError("no f2f maps to score")
    if keep is not None and len(keep) != len(maps):
        raise ValueError(f"{len(keep)} frame masks for {len(maps)} f2f maps")
    chunks: list[torch.Tensor] = []
    owner: list[int] = []
    for i, sim in enumerate(maps):
        if sim.ndim != 2:
            raise ValueError(f"expected 2-D f2f maps [P, Q], got shape {tuple(sim.shape)}")
        mask = keep[i] if keep is not None else None
        if mask is not None:
            sim = select_frames(sim, *mask)
        sim = repeat_to(repeat_to(sim, MIN_FRAMES, dim=0), MIN_FRAMES, dim=1)
        for a, b in _chunk_bounds(sim.shape[1], head.chunk_frames):
            chunks.append(sim[:, a:b])
            owner.append(i)
    outputs = _comparator_outputs(head, chunks) if head.learned else []
    read = [torch.clamp(out, -1.0, 1.0) for out in outputs] if head.learned else chunks
    per_map: list[list[torch.Tensor]] = [[] for _ in maps]
    for i, sim in zip(owner, read):
        per_map[i].append(chamfer_score(sim, head.symmetric, head.symmetric_partial))
    scores = torch.stack([torch.stack(s).mean() for s in per_map])
    comparator_maps: list[torch.Tensor] = []
    if head.learned:
        per_output: list[list[torch.Tensor]] = [[] for _ in maps]
        for i, out in zip(owner, outputs):
            per_output[i].append(out)
        comparator_maps = [torch.cat(o, dim=1) for o in per_output]
    return VideoScores(scores, comparator_maps)


def repeat_to(x: torch.Tensor, frames: int, dim: int = 0) -> torch.Tensor:
    """Double a short video (or a map's axis `dim`) until it has at least `frames` frames (the
    official padding)."""
    if x.shape[dim] == 0:
        raise ValueError("cannot compare a video with no frames")
    while x.shape[dim] < frames:
        x = torch.cat([x, x], dim=dim)
    return x


def _chunk_bounds(frames: int, chunk_frames: int) -> list[tuple[int, int]]:
    """[first, stop) of each chunk of `chunk_frames` target frames; a tail under MIN_FRAMES joins
    the last chunk instead of being scored alone."""
    bounds = list(range(0, frames, chunk_frames)) + [frames]
    if len(bounds) > 2 and bounds[-1] - bounds[-2] < MIN_FRAMES:
        del bounds[-2]
    return list(pairwise(bounds))


def _comparator_outputs(head: ScoringHead, chunks: list[torch.Tensor]) -> list[torch.Tensor]:
    """The comparator's output of each chunk, in order; equal shapes run as one batch."""
    groups: dict[tuple[int, ...], list[int]] = defaultdict(list)
    for k, chunk in enumerate(chunks):
        groups[tuple(chunk.shape)].append(k)
    outputs: list[torch.Tensor | None] = [None] * len(chunks)
    for shape, members in groups.items():
        per_batch = max(1, COMPARATOR_CELLS // max(1, shape[0] * shape[1]))
        for start in range(0, len(members), per_batch):
            part = members[start : start + per_batch]
            batch = head.comparator_output(torch.stack([chunks[k] for k in part]))
            for k, out in zip(part, batch):
                outputs[k] = out
    return [out for out in outputs if out is not None]
