"""The ViSiL head: attention on region features, f2f Chamfer, comparator, Hardtanh, v2v Chamfer.

Two modes: `chamfer` (ViSiL_f: no learned weights, Chamfer over the f2f matrix) and `visil`
(learned attention + comparator, loaded from a state_dict with the official key names).
"""
from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from vidsim.config import PACKAGED_PREFIX, SimilarityConfig, packaged_head_file, safetensors_metadata
from vidsim.errors import ModelError
from vidsim.similarity.attention import Attention
from vidsim.similarity.chamfer import chamfer_score, f2f_similarity
from vidsim.similarity.comparator import VideoComparator
from vidsim.weights import load_state_dict_file

MIN_FRAMES = 4  # the comparator pools twice; shorter videos are repeated to 4 frames (official)


class ViSiLHead(nn.Module):
    """Scores a pair of videos from their region features [P, R, D] and [Q, R, D]."""

    def __init__(self, dims: int, learned: bool = False, symmetric: bool = False, chunk_frames: int = 2048):
        super().__init__()
        self.dims = dims
        self.learned = learned
        self.symmetric = symmetric
        self.chunk_frames = chunk_frames
        if learned:
            self.attention = Attention(dims)
            # Attribute named as in the official checkpoints (sic) so that they load unchanged.
            self.video_comperator = VideoComparator()

    @classmethod
    def from_config(cls, config: SimilarityConfig, dims: int) -> "ViSiLHead":
        head = cls(dims, learned=config.head == "visil", symmetric=config.symmetric, chunk_frames=config.chunk_frames)
        if config.head == "visil":
            if not config.head_weights:
                raise ModelError("head 'visil' needs head_weights (a ViSiL head state_dict file, or 'auto')")
            head.load_weights(head_weights_file(config.head_weights))
        return head.eval().requires_grad_(False)  # an inference head: no autograd graph while scoring

    @property
    def mode(self) -> str:
        name = "visil" if self.learned else "chamfer"
        return f"{name}-symmetric" if self.symmetric else name

    def load_weights(self, path: str | Path) -> None:
        state = load_state_dict_file(path)
        try:
            self.load_state_dict(state)
        except RuntimeError as exc:
            raise ModelError(f"{path}: not a ViSiL head for {self.dims}-d features ({exc})") from exc

    def prepare(self, regions: torch.Tensor) -> torch.Tensor:
        """Apply attention (learned mode) to region features; identity otherwise."""
        return self.attention(regions) if self.learned else regions

    def f2f(self, query: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return f2f_similarity(query, target, self.symmetric)

    def comparator_output(self, f2f: torch.Tensor) -> torch.Tensor:
        """The comparator's map [P/4, Q/4] before Hardtanh (what the regulariser constrains)."""
        return self.video_comperator(f2f[None, None])[0, 0]

    def score_map(self, query: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """The map the video score is read from: f2f (chamfer) or Hardtanh(comparator(f2f))."""
        sim = self.f2f(query, target)
        if self.learned:
            sim = torch.clamp(self.comparator_output(sim), -1.0, 1.0)
        return sim

    def forward(self, query: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Video similarity of prepared features; long targets are scored in chunks of
        `chunk_frames` and the chunk scores averaged (a tail under 4 frames joins the last chunk)."""
        query = _repeat_to(query, MIN_FRAMES)
        target = _repeat_to(target, MIN_FRAMES)
        bounds = list(range(0, target.shape[0], self.chunk_frames)) + [target.shape[0]]
        if len(bounds) > 2 and bounds[-1] - bounds[-2] < MIN_FRAMES:
            del bounds[-2]
        scores = [
            chamfer_score(self.score_map(query, target[a:b]), self.symmetric) for a, b in zip(bounds, bounds[1:])
        ]
        return torch.stack(scores).mean()


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
        shipped = sorted(p.stem for p in path.parent.glob("*.safetensors"))
        raise ModelError(f"{name}: vidsim ships no trained head for backbone {backbone!r} (it ships: "
                         f"{', '.join(shipped) or 'none'}); train one with `vidsim train` and pass its file")
    shipped_version = safetensors_metadata(path).get("version", "")
    if version and version != shipped_version:
        raise ModelError(f"{name}: this vidsim ships version {shipped_version!r} of the {backbone} head ({path}), "
                         f"not {version!r}; use head_weights 'auto' for the shipped one")
    return path


def _repeat_to(x: torch.Tensor, frames: int) -> torch.Tensor:
    """Double a short video until it has at least `frames` frames (the official padding)."""
    if x.shape[0] == 0:
        raise ValueError("cannot compare a video with no frames")
    while x.shape[0] < frames:
        x = torch.cat([x, x])
    return x
