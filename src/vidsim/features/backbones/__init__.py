"""Registry of named backbones: each maps uint8 RGB frames to a list of stage feature maps."""
from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from vidsim.errors import ModelError


class Backbone(nn.Module):
    """A CNN that returns intermediate stage maps [B, C_i, H_i, W_i] for region pooling.

    `preprocess` turns uint8 RGB frames [B, H, W, 3] into the network's input [B, 3, H, W];
    `channels` lists the channel count of each returned map; `weights_version` names the
    weights (stored in every cache entry and index).
    """

    channels: tuple[int, ...] = ()
    weights_version: str = "unknown"

    def preprocess(self, frames: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:  # pragma: no cover - abstract
        raise NotImplementedError


_REGISTRY: dict[str, Callable[..., Backbone]] = {}


def register_backbone(name: str):
    """Class or factory decorator: `@register_backbone("name")`."""

    def wrap(factory):
        _REGISTRY[name] = factory
        return factory

    return wrap


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
    from vidsim.features.backbones import efficientnet, resnet  # noqa: F401  (registration side effects)
