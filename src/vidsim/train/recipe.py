"""The training recipe: every number that shapes the data made and the head trained.

`DEFAULT` is the recipe of the packaged head (self-supervised on the benchmark's dev sources);
`QUICK` is a few-second version for tests. The recipe's fingerprint, with the data's, decides
whether a checkpoint can be resumed.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from typing import Any, Literal

from vidsim.config import check_choices
from vidsim.errors import ConfigError

LrSchedule = Literal["cosine", "constant"]  # cosine decays to 0 over the run


@dataclass(frozen=True)
class TrainRecipe:
    seed: int = 0
    # --- augmented clips (self-supervised data), made once and cached as features
    variants: int = 24  # augmented copies of each source stretch (families/chains of vidsim.bench)
    splices: int = 4  # partial copies of each stretch spliced into another source (transforms.splice)
    clip_fps: tuple[int, int] = (3, 6)  # frame rate of the clips made (a frame-rate change by itself)
    span_seconds: float = 60.0  # longest stretch of a video that clips are made from
    spans_per_video: int = 2  # stretches per video (long videos)
    chain_prob: float = 0.5  # a random 2-3 family chain rather than one family
    max_size: tuple[int, int] = (640, 360)  # (longer, shorter) side of the clips made
    # --- extra footage (`--extra-footage`: vidsim.bench.footage videos beside the corpus sources)
    footage_variants: int = 4  # augmented copies of each footage video (short, many: fewer than a corpus source's)
    footage_splices: int = 1  # partial copies of each footage video
    footage_ref_share: float = 0.25  # share of references drawn from footage videos (the rest: corpus sources)
    # --- triplets, built from the cached features of the clips
    ref_frames: tuple[int, int] = (6, 16)  # reference (target) length in frames, drawn per batch
    query_frames: tuple[int, int] = (5, 16)  # query length in frames, drawn per batch
    min_copy_frames: int = 3  # a positive shares at least this many frames with its reference
    guard_seconds: float = 1.0  # a same-source negative is at least this far from the reference
    augmented_ref_prob: float = 0.3  # the reference is an augmented clip rather than the original
    splice_prob: float = 0.25  # query = copy (or negative) between frames of another source
    speed_prob: float = 0.15  # query resampled in time (0.5x-2x)
    same_source_negative_prob: float = 0.5  # negative candidates from the reference's own source
    mining_pool: int = 8  # negative candidates per triplet; the hardest (highest score) is used
    # --- optimisation
    epochs: int = 6
    triplets_per_epoch: int = 2048
    batch_size: int = 32
    lr: float = 3e-4
    lr_schedule: LrSchedule = "cosine"
    gamma: float = 1.0  # triplet margin (the official PyTorch code's default)
    reg_weight: float = 0.5  # weight of the similarity regulariser
    max_frames: int = 300  # labelled (CSV) videos are cut to their first max_frames frames

    def __post_init__(self) -> None:
        check_choices(self)

    def to_dict(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainRecipe:
        known = {f.name: f for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - set(known))
        if unknown:
            raise ConfigError(f"unknown recipe fields: {unknown}")
        values: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}
        return cls(**values)

    def fingerprint(self) -> str:
        return hashlib.sha256(json.dumps(self.to_dict(), sort_keys=True).encode()).hexdigest()[:16]

    @property
    def steps_per_epoch(self) -> int:
        return max(1, self.triplets_per_epoch // self.batch_size)

    @property
    def total_steps(self) -> int:
        return self.epochs * self.steps_per_epoch


DEFAULT = TrainRecipe()
QUICK = TrainRecipe(variants=2, splices=1, clip_fps=(3, 4), span_seconds=8.0, spans_per_video=1,
                    ref_frames=(5, 6), query_frames=(4, 6), epochs=2, triplets_per_epoch=48, batch_size=8,
                    lr=1e-3, mining_pool=4, max_size=(160, 120))
RECIPES = {"default": DEFAULT, "quick": QUICK}
