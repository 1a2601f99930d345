"""ResNet-50 with torchvision's state_dict key names, returning layer1..layer4 maps.

Defined here because PyPI's torchvision does not import beside the CPU torch we pin; the
key names match so that torchvision ImageNet checkpoints load unchanged. Weights come
only from a file the user names (never downloaded).
"""
from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from vidsim.errors import ModelError
from vidsim.features.backbones import Backbone, register_backbone
from vidsim.weights import load_state_dict_file

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, in_ch: int, width: int, stride: int = 1, downsample: nn.Module | None = None):
        super().__init__()
        out_ch = width * self.expansion
        self.conv1 = nn.Conv2d(in_ch, width, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, out_ch, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out_ch)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


def _stage(in_ch: int, width: int, blocks: int, stride: int) -> nn.Sequential:
    out_ch = width * Bottleneck.expansion
    downsample = None
    if stride != 1 or in_ch != out_ch:
        downsample = nn.Sequential(nn.Conv2d(in_ch, out_ch, 1, stride=stride, bias=False), nn.BatchNorm2d(out_ch))
    layers = [Bottleneck(in_ch, width, stride, downsample)]
    layers += [Bottleneck(out_ch, width) for _ in range(blocks - 1)]
    return nn.Sequential(*layers)


class ResNet50(Backbone):
    """ViSiL's backbone: outputs of layer1..layer4 (256+512+1024+2048 = 3840 channels)."""

    channels = (256, 512, 1024, 2048)

    mean: torch.Tensor
    std: torch.Tensor

    def __init__(self, num_classes: int = 1000):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        self.layer1 = _stage(64, 64, 3, 1)
        self.layer2 = _stage(256, 128, 4, 2)
        self.layer3 = _stage(512, 256, 6, 2)
        self.layer4 = _stage(1024, 512, 3, 2)
        # Kept only so that torchvision checkpoints load strictly; never run.
        self.fc = nn.Linear(2048, num_classes)
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD), persistent=False)

    def preprocess(self, frames: torch.Tensor) -> torch.Tensor:
        """The official recipe, in its order of operations: /255, ImageNet mean/std, NHWC -> NCHW."""
        x = frames.to(self.mean.device).float()
        return ((x / 255.0 - self.mean) / self.std).permute(0, 3, 1, 2)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        maps = []
        for stage in (self.layer1, self.layer2, self.layer3, self.layer4):
            x = stage(x)
            maps.append(x)
        return maps


@register_backbone("resnet50")
def resnet50(weights: str | None = None) -> ResNet50:
    """ResNet-50; `weights` names a torchvision ImageNet state_dict file, or `seed:N` for
    the deterministic random init used by tests and speed benchmarks."""
    model = ResNet50()
    if weights is not None and weights.startswith("seed:"):
        from vidsim.features.seeded import seeded_state_dict

        shapes = {k: tuple(v.shape) for k, v in model.state_dict().items()}
        state = {k: torch.from_numpy(v) for k, v in seeded_state_dict(shapes, int(weights[5:])).items()}
        model.load_state_dict(state)
        model.weights_version = f"resnet50:{weights}"
        return model.eval()
    if weights is None:
        raise ModelError(
            "resnet50 needs a weights file: pass --weights PATH (a torchvision ImageNet state_dict); "
            "vidsim never downloads weights"
        )
    state = load_state_dict_file(weights)
    try:
        missing, unexpected = model.load_state_dict(state, strict=False)
    except RuntimeError as exc:  # shape mismatches
        raise ModelError(f"{weights}: not a ResNet-50 state_dict ({str(exc).splitlines()[-1].strip()})") from exc
    missing = [k for k in missing if not k.startswith("fc.")]
    if missing or unexpected:
        raise ModelError(f"{weights}: not a ResNet-50 state_dict (missing {missing[:3]}, unexpected {unexpected[:3]})")
    model.weights_version = f"resnet50:{Path(weights).name}"
    return model.eval()
