"""L3-iMAC region pooling: max-pool every stage map to a 3x3 grid of regions, L2 per layer,
concatenate, L2 again -> [B, 9, D]."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def grid_kernel(size: int, grid: int = 3) -> tuple[int, int]:
    """Largest kernel k, with stride ceil(k/2), giving `grid` windows along a side of `size`.

    Reproduces ViSiL's kernels at 224 px (56->28, 28->14, 14->6, 7->3) and generalises them
    to other input sizes. Returns (kernel, stride); (0, 0) when the map is too small.
    """
    for k in range(size, 0, -1):
        s = math.ceil(k / 2)
        if (size - k) // s + 1 == grid:
            return k, s
    return 0, 0


def region_pool(feature_map: torch.Tensor, grid: int = 3) -> torch.Tensor:
    """Max-pool a [B, C, H, W] map to [B, C, grid*grid] with overlapping windows."""
    kh, sh = grid_kernel(feature_map.shape[-2], grid)
    kw, sw = grid_kernel(feature_map.shape[-1], grid)
    if kh and kw:
        pooled = F.max_pool2d(feature_map, (kh, kw), (sh, sw))
    else:  # maps smaller than the grid: fall back to adaptive windows
        pooled = F.adaptive_max_pool2d(feature_map, grid)
    return pooled.flatten(2)


def region_vectors(maps: list[torch.Tensor], grid: int = 3) -> torch.Tensor:
    """Stage maps -> L2-normalised region vectors [B, grid*grid, sum(C_i)]."""
    pooled = [F.normalize(region_pool(m, grid), p=2, dim=1) for m in maps]
    x = torch.cat(pooled, dim=1).permute(0, 2, 1)
    return F.normalize(x, p=2, dim=-1)
