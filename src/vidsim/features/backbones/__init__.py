"""Registry of named backbones: each maps uint8 RGB frames to a list of stage feature maps."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch import nn

from vidsim.errors import ModelError


class Backbone(nn.Module):
    """A CNN that returns intermediate stage maps [B, C_i, H_i, W_i] for region pooling.

    `preprocess` turns uint8 RGB frames [B, H, W, 3] into the network's input [B, 3, H, W];
    `channels` lists the channel count of each returned map; `weights_version` names the
    weights (stored in every cache entry and index); `num_regions` is the number of region
    vectors per frame. A backbone that is a given ONNX file rather than torch modules sets
    `onnx_file` (see `region_inputs`); only the runtimes it was registered with run it.
    """

    channels: tuple[int, ...] = ()
    weights_version: str = "unknown"
    num_regions: int = 9  # L3-iMAC's 3x3 grid
    onnx_file: Path | None = None  # uint8 NHWC frames in, one descriptor [B, sum(channels)] out

    def region_inputs(self, frames: np.ndarray) -> list[np.ndarray]:
        """The images [B, h, w, 3] that `onnx_file` embeds, one per region, in region order."""
        return [frames]

    def preprocess(self, frames: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:  # pragma: no cover - abstract
        raise NotImplementedError


_REGISTRY: dict[str, Callable[..., Backbone]] = {}
_RUNTIMES: dict[str, tuple[str, ...]] = {}  # backbones only some runtimes can run, by name


def register_backbone(name: str, runtimes: tuple[str, ...] | None = None):
    """Class or factory decorator: `@register_backbone("name")`; `runtimes` restricts which
    inference runtimes may run it (None: all; the first is what "auto" picks)."""

    def wrap(factory):
        _REGISTRY[name] = factory
        if runtimes is not None:
            _RUNTIMES[name] = runtimes
        return factory

    return wrap


def backbone_runtimes(name: str) -> tuple[str, ...] | None:
    """The only runtimes that can run backbone `name`, or None when any can (known without building it)."""
    _load_builtins()
    return _RUNTIMES.get(name)


def available_backbones() -> list[str]:
    _load_builtins()
    return sorted(_REGISTRY)


def build_backbone(name: str, weights: str | None = None) -> Backbone:
    """Build a registered backbone; `weights` is a file path where the backbone needs one."""
    _load_builtins()
    if name not in _REGISTRY:
        raise ModelError(f"unknown backbone {name!r}; available: {', '.join(sorted(_REGISTRY))}")
    return _REGISTRY[name](weights=weights)


def _load_builtins() -> None:
    from vidsim.features.backbones import efficientnet, resnet, sscd  # noqa: F401  (registration side effects)
