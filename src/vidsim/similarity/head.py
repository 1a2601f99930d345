"""The ViSiL head: attention on region features, f2f Chamfer, comparator, Hardtanh, v2v Chamfer.

Its kind (`HeadKind`) is `chamfer` (ViSiL_f: no learned weights, Chamfer over the f2f matrix) or
`visil` (learned attention + comparator, loaded from a state_dict with the official key names).
One word for that choice: the kind, spelled as `SimilarityConfig.head` spells it (a user-facing
field); `learned` is short for kind "visil", and `mode` is the label reports print (the kind,
"-symmetric" appended if so, "-symmetric-partial" for the partial variant).
"""
from __future__ import annotations

from pathlib import Path
from typing import get_args

import torch
from torch import nn

from vidsim.config import HeadKind, SimilarityConfig
from vidsim.errors import ModelError
from vidsim.fsutil import safetensors_metadata
from vidsim.resources import PACKAGED_PREFIX, packaged_head_file, packaged_heads
from vidsim.similarity.attention import Attention
from vidsim.similarity.chamfer import f2f_similarity
from vidsim.similarity.comparator import VideoComparator
from vidsim.similarity.informative import FrameMask
from vidsim.similarity.scoring import video_scores
from vidsim.weights import load_state_dict_file

HEAD_KINDS: tuple[HeadKind, ...] = get_args(HeadKind)


class ViSiLHead(nn.Module):
    """Scores a pair of videos from their region features [P, R, D] and [Q, R, D]."""

    def __init__(self, dims: int, kind: HeadKind = "chamfer", symmetric: bool = False, chunk_frames: int = 2048,
                 symmetric_partial: bool = False):
        super().__init__()
        if kind not in HEAD_KINDS:
            raise ModelError(f"unknown head kind {kind!r}: {' or '.join(HEAD_KINDS)}")
        self.dims = dims
        self.kind: HeadKind = kind
        self.symmetric = symmetric
        self.symmetric_partial = symmetric_partial  # see chamfer_score
        self.chunk_frames = chunk_frames
        if self.learned:
            self.attention = Attention(dims)
            # Attribute named as in the official checkpoints (sic) so that they load unchanged.
            self.video_comperator = VideoComparator()

    @classmethod
    def from_config(cls, config: SimilarityConfig, dims: int) -> ViSiLHead:
        head = cls(dims, kind=config.head, symmetric=config.resolved_symmetric, chunk_frames=config.chunk_frames,
                   symmetric_partial=config.symmetric_partial)
        if head.learned:
            if not config.head_weights:
                raise ModelError("head 'visil' needs head_weights (a ViSiL head state_dict file, or 'auto')")
            head.load_weights(head_weights_file(config.head_weights))
        return head.eval().requires_grad_(False)  # an inference head: no autograd graph while scoring

    @property
    def learned(self) -> bool:
        """True for the `visil` kind: attention and comparator with weights."""
        return self.kind == "visil"

    @property
    def mode(self) -> str:
        """The label reports print: the kind, with "-symmetric" (and "-partial") if so."""
        if not self.symmetric:
            return self.kind
        return f"{self.kind}-symmetric-partial" if self.symmetric_partial else f"{self.kind}-symmetric"

    def load_weights(self, path: str | Path) -> None:
        state = load_state_dict_file(path)
        try:
            self.load_state_dict(state)
        except RuntimeError as exc:
            raise ModelError(f"{path}: not a ViSiL head for {self.dims}-d features ({exc})") from exc

    def prepare(self, regions: torch.Tensor) -> torch.Tensor:
        """Apply attention (learned head) to region features; identity otherwise."""
        return self.attention(regions) if self.learned else regions

    def f2f(self, query: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Frame-to-frame Chamfer similarity [..., P, Q] (leading dimensions: a batch of pairs)."""
        return f2f_similarity(query, target, self.symmetric)

    def comparator_output(self, f2f: torch.Tensor) -> torch.Tensor:
        """The comparator's map [..., P/4, Q/4] of f2f maps [..., P, Q], before Hardtanh."""
        batch, (p, q) = f2f.shape[:-2], f2f.shape[-2:]
        out = self.video_comperator(f2f.reshape(-1, 1, p, q))
        return out.reshape(*batch, *out.shape[-2:])

    def forward(self, query: torch.Tensor, target: torch.Tensor, keep: FrameMask | None = None) -> torch.Tensor:
        """Video similarity (0-d) of prepared features, as `video_scores` reads it from their f2f map;
        `keep`: the (query, target) frames to compare (`similarity.informative`), None for all."""
        return video_scores(self, [self.f2f(query, target)], None if keep is None else [keep]).scores[0]


def head_weights_file(head_weights: str | Path) -> Path:
    """The file behind a head_weights value: a path, or a packaged name "packaged:<backbone>[@<version>]"
    (as VidsimConfig records "auto"), checked against the version this vidsim ships."""
    name = str(head_weights)
    if name == "auto":
        raise ModelError("head_weights 'auto' names the head packaged for a backbone: build the model from a "
                         "VidsimConfig (which knows the backbone), or give 'packaged:<backbone>'")
    if not name.startswith(PACKAGED_PREFIX):
        return Path(name)
    backbone, _, version = name[len(PACKAGED_PREFIX):].partition("@")
    path = packaged_head_file(backbone)
    if not path.is_file():
        shipped = packaged_heads()
        raise ModelError(f"{name}: vidsim ships no trained head for backbone {backbone!r} (it ships: "
                         f"{', '.join(shipped) or 'none'}); train one with `vidsim train` and pass its file")
    shipped_version = safetensors_metadata(path).get("version", "")
    if version and version != shipped_version:
        raise ModelError(f"{name}: this vidsim ships version {shipped_version!r} of the {backbone} head ({path}), "
                         f"not {version!r}; use head_weights 'auto' for the shipped one")
    return path

