import numpy as np
import pytest
import torch

from vidsim.features.pooling import grid_kernel, region_pool, region_vectors


@pytest.mark.parametrize("size,expected", [(56, (28, 14)), (28, (14, 7)), (14, (6, 3)), (7, (3, 2))])
def test_grid_kernel_reproduces_visil_kernels_at_224(size, expected):
    assert grid_kernel(size) == expected


@pytest.mark.parametrize("size", [9, 13, 30, 64, 100])
def test_grid_kernel_gives_a_3x3_grid(size):
    k, s = grid_kernel(size)
    assert (size - k) // s + 1 == 3


def test_sizes_without_such_a_kernel_still_pool_to_nine_regions():
    assert grid_kernel(5) == (0, 0)
    assert region_pool(torch.randn(1, 2, 5, 5)).shape == (1, 2, 9)


def test_region_pool_is_max_over_each_window():
    x = torch.zeros(1, 2, 7, 7)
    x[0, 0, 0, 0] = 5.0  # top-left window only (kernel 3, stride 2)
    x[0, 1, 6, 6] = 3.0  # bottom-right window only
    pooled = region_pool(x)
    assert pooled.shape == (1, 2, 9)
    assert pooled[0, 0].tolist() == [5.0] + [0.0] * 8
    assert pooled[0, 1].tolist() == [0.0] * 8 + [3.0]


def test_region_pool_small_maps_fall_back_to_adaptive():
    pooled = region_pool(torch.randn(2, 4, 2, 2))
    assert pooled.shape == (2, 4, 9)


def test_region_vectors_shapes_and_norms():
    maps = [torch.randn(3, c, s, s) for c, s in [(24, 56), (40, 28), (112, 14), (320, 7)]]
    x = region_vectors(maps)
    assert x.shape == (3, 9, 496)
    np.testing.assert_allclose(x.norm(dim=-1).numpy(), 1.0, rtol=1e-5)
    # Each layer contributes a unit vector before the final L2: block norms are all equal.
    blocks = torch.split(x, [24, 40, 112, 320], dim=-1)
    norms = torch.stack([b.norm(dim=-1) for b in blocks])
    np.testing.assert_allclose(norms.numpy(), 0.5, rtol=1e-5)


def test_non_square_maps_pool_to_nine_regions():
    x = region_vectors([torch.randn(1, 8, 40, 71), torch.randn(1, 16, 10, 18)])
    assert x.shape == (1, 9, 24)
