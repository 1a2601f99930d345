"""ViSiL's attention: a unit-norm context vector u weighs each region by (x . u)/2 + 0.5."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class Attention(nn.Module):
    """`context_vector` is Linear(D, 1, bias=False), the official key name; no renormalisation."""

    def __init__(self, dims: int):
        super().__init__()
        self.context_vector = nn.Linear(dims, 1, bias=False)
        nn.init.normal_(self.context_vector.weight)
        self.constrain()

    @torch.no_grad()
    def constrain(self) -> None:
        """Project u back to unit norm (called after every training step)."""
        self.context_vector.weight.copy_(F.normalize(self.context_vector.weight, p=2, dim=-1, eps=1e-6))

    def weights(self, x: torch.Tensor) -> torch.Tensor:
        return self.context_vector(x) / 2.0 + 0.5

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.weights(x)
