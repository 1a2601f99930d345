"""ViSiL's video comparator: a small CNN over the frame-to-frame matrix (official layout)."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class VideoComparator(nn.Module):
    """Pad(1)+Conv3x3 1->32+ReLU+MaxPool2, Pad+Conv3x3 32->64+ReLU+MaxPool2,
    Pad+Conv3x3 64->128+ReLU, Conv1x1 128->1. Input [B, 1, P, Q] -> [B, 1, P/4, Q/4]."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3)
        self.conv2 = nn.Conv2d(32, 64, 3)
        self.conv3 = nn.Conv2d(64, 128, 3)
        self.fconv = nn.Conv2d(128, 1, 1)
        for conv in (self.conv1, self.conv2, self.conv3, self.fconv):
            nn.init.xavier_uniform_(conv.weight)
            assert conv.bias is not None  # built with bias=True
            nn.init.zeros_(conv.bias)

    def forward(self, sim: torch.Tensor) -> torch.Tensor:
        x = F.max_pool2d(F.relu(self.conv1(F.pad(sim, (1, 1, 1, 1), mode="replicate"))), 2, 2)
        x = F.max_pool2d(F.relu(self.conv2(F.pad(x, (1, 1, 1, 1), mode="replicate"))), 2, 2)
        x = F.relu(self.conv3(F.pad(x, (1, 1, 1, 1), mode="replicate")))
        return self.fconv(x)
