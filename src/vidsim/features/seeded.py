"""Deterministic random weights for ResNet-50 + ViSiL, the same on any machine.

Used by the parity fixture (generated beside the official code) and by the tests, so
both sides build identical networks from a seed without committing 100 MB of weights.
Depends on numpy alone so that it can be loaded by file path from another environment.
Each tensor is drawn from its own generator seeded by (seed, key name): key order and
the set of keys never change another tensor's values.
"""
from __future__ import annotations

import zlib

import numpy as np


def _rng(seed: int, name: str) -> np.random.Generator:
    return np.random.default_rng([seed, zlib.crc32(name.encode())])


def seeded_state_dict(shapes: dict[str, tuple[int, ...]], seed: int = 0) -> dict[str, np.ndarray]:
    """Weights for a network given its state_dict key -> shape map (torchvision naming).

    Convolutions get He-normal, batch norms weights/variances near 1 with small biases and
    means, linear layers 1/sqrt(fan_in): activations stay finite through 50 layers.
    """
    out: dict[str, np.ndarray] = {}
    for name, shape in shapes.items():
        rng = _rng(seed, name)
        shape = tuple(shape)
        if name.endswith("num_batches_tracked"):
            out[name] = np.zeros(shape, dtype=np.int64)
        elif name.endswith("running_var"):
            out[name] = rng.uniform(0.5, 1.5, shape).astype(np.float32)
        elif name.endswith("running_mean"):
            out[name] = (0.1 * rng.standard_normal(shape)).astype(np.float32)
        elif len(shape) == 1 and name.endswith("weight"):
            out[name] = rng.uniform(0.5, 1.0, shape).astype(np.float32)
        elif len(shape) == 1:  # biases
            out[name] = (0.05 * rng.standard_normal(shape)).astype(np.float32)
        else:
            fan_in = int(np.prod(shape[1:]))
            gain = np.sqrt(2.0) if len(shape) == 4 else 1.0
            out[name] = (gain / np.sqrt(fan_in) * rng.standard_normal(shape)).astype(np.float32)
    return out


def seeded_whitening(dims: int = 3840, seed: int = 0) -> dict[str, np.ndarray]:
    """A PCA whitening in the official file layout: mean [D], V [D, D], d [D] (unsorted)."""
    rng = _rng(seed, "whitening")
    return {
        "mean": (0.01 * rng.standard_normal(dims)).astype(np.float32),
        "V": (rng.standard_normal((dims, dims)) / np.sqrt(dims)).astype(np.float32),
        "d": rng.uniform(0.05, 1.0, dims).astype(np.float32),
    }


def seeded_head(dims: int = 3840, seed: int = 0) -> dict[str, np.ndarray]:
    """A ViSiL head state_dict with the official key names: attention + video comparator."""
    rng = _rng(seed, "head")
    u = rng.standard_normal((1, dims))
    head = {"attention.context_vector.weight": (u / np.linalg.norm(u)).astype(np.float32)}
    for conv, (c_out, c_in, k) in {
        "conv1": (32, 1, 3),
        "conv2": (64, 32, 3),
        "conv3": (128, 64, 3),
        "fconv": (1, 128, 1),
    }.items():
        bound = np.sqrt(6.0 / (c_in * k * k + c_out * k * k))  # Xavier-uniform, as the official init
        head[f"video_comperator.{conv}.weight"] = rng.uniform(-bound, bound, (c_out, c_in, k, k)).astype(np.float32)
        head[f"video_comperator.{conv}.bias"] = (0.05 * rng.standard_normal(c_out)).astype(np.float32)
    return head


def seeded_frames(count: int, size: int = 224, seed: int = 0) -> np.ndarray:
    """Smooth synthetic RGB frames (uint8 [count, size, size, 3]) that compress well."""
    rng = _rng(seed, f"frames-{count}-{size}")
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    frames = np.empty((count, size, size, 3), dtype=np.uint8)
    for i in range(count):
        img = np.zeros((size, size, 3), dtype=np.float32)
        for c in range(3):
            for _ in range(4):
                fx, fy, phase = rng.uniform(0.5, 6.0), rng.uniform(0.5, 6.0), rng.uniform(0, 2 * np.pi)
                img[..., c] += np.sin(2 * np.pi * (fx * xx + fy * yy) + phase)
        img = (img - img.min()) / (img.max() - img.min() + 1e-6)
        frames[i] = np.round(255 * img).astype(np.uint8)
    return frames
