"""The interface of an inference runtime: uint8 frames -> unwhitened L3-iMAC region vectors."""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import torch

from vidsim.features.backbones import Backbone


@dataclass(frozen=True)
class Tolerance:
    """How close a runtime's region vectors must be to torch fp32's: largest absolute difference
    of any component, and smallest cosine of any region vector."""

    max_abs: float
    min_cosine: float

    def check(self, got: torch.Tensor, expected: torch.Tensor) -> tuple[bool, float, float]:
        """(within, max abs difference, min cosine) of `got` against `expected` [B, R, D]."""
        got, expected = got.float(), expected.float()
        diff = float((got - expected).abs().max()) if got.numel() else 0.0
        cosine = float(torch.nn.functional.cosine_similarity(got, expected, dim=-1).min()) if got.numel() else 1.0
        return diff <= self.max_abs and cosine >= self.min_cosine, diff, cosine


# Per precision: fp32 paths compute the same function in another order of operations; bf16 rounds
# every activation to 8 bits of mantissa, so only the direction of each region vector is asked for;
# int8 rounds weights and activations to 256 levels (post-training quantisation): a looser cosine,
# still far above what a broken quantisation (wrong scales, a missing layer) gives.
TOLERANCES = {"fp32": Tolerance(max_abs=1e-4, min_cosine=0.9999), "bf16": Tolerance(max_abs=1.0, min_cosine=0.99),
              "int8": Tolerance(max_abs=1.0, min_cosine=0.95)}


class Runtime(ABC):
    """Runs a backbone and region pooling on batches of uint8 RGB frames [B, H, W, 3].

    `prepare` may rewrite the torch backbone once (torch bf16 folds and converts it); the
    extractor then hands that backbone to every `region_vectors` call, so a runtime that
    exports the network does so from the weights the backbone has when it first runs.
    """

    name: str = ""
    precision: str = "fp32"

    def prepare(self, backbone: Backbone) -> Backbone:
        return backbone

    @abstractmethod
    def region_vectors(self, backbone: Backbone, frames: torch.Tensor) -> torch.Tensor:
        """Unwhitened L2-normalised region vectors [B, R, sum(C)] (R = backbone.num_regions), float32 on the frames' device."""

    @property
    def tolerance(self) -> Tolerance:
        return TOLERANCES[self.precision]

    @property
    def provenance(self) -> tuple[str, ...]:
        """What, beyond the configuration, makes this runtime's values (int8: the calibration set and
        the quantiser's version); added to the feature key."""
        return ()
