"""Frames -> region features: backbone stage maps, L3-iMAC pooling, optional PCA whitening.

Streaming: `extract_video` decodes and embeds batch by batch, so memory is bounded by one
batch of frames plus the (small) region features of the whole video.
"""
from __future__ import annotations

import copy
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TypeVar

import numpy as np
import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

from vidsim.config import DecodeConfig, FeatureConfig, VidsimConfig
from vidsim.errors import ModelError
from vidsim.features.backbones import build_backbone
from vidsim.features.pooling import region_vectors
from vidsim.features.types import VideoFeatures
from vidsim.features.whitening import PCAWhitening, resolve_whitening
from vidsim.fsutil import sha256_file

ProgressFn = Callable[[int, float], None]  # (frames done in this call, seconds of video reached)
ModuleT = TypeVar("ModuleT", bound=nn.Module)


def resolve_device(device: str | torch.device | None) -> torch.device:
    """'cpu', 'cuda', 'cuda:1' or None (cuda when available); clear error when cuda is absent."""
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ModelError("--device cuda asked for, but this torch build sees no CUDA GPU")
    return device


@torch.no_grad()
def fold_batchnorms(module: ModuleT, probe_size: int = 64) -> ModuleT:
    """Fold every eval-mode BatchNorm2d that reads a Conv2d's output straight into that
    convolution (torch's `fuse_conv_bn_eval`) and put nn.Identity in its place. Inference only.

    Pairs come from the data flow of one small forward pass (hooks on the leaf modules and convolutions), not
    from names: a batch norm is folded when its input is the output of a convolution that ran
    once and whose output no other module read. A second pass on the same input must give the
    same stage maps (to 1e-4), otherwise the unfolded module is returned: a convolution output
    also read by a functional op would be caught there.
    """
    param = next(module.parameters())
    probe = torch.rand(1, 3, probe_size, probe_size, generator=torch.Generator().manual_seed(0))
    probe = probe.to(param.device, param.dtype)
    producer: dict[int, nn.Module] = {}  # id(conv output) -> conv
    readers: dict[int, list[nn.Module]] = {}  # id(conv output) -> modules that read it
    calls: dict[nn.Module, int] = {}
    alive: list[torch.Tensor] = []  # keeps outputs alive so that their ids stay unique

    def before(mod, inputs):
        calls[mod] = calls.get(mod, 0) + 1
        for t in inputs:
            if isinstance(t, torch.Tensor) and id(t) in producer:
                readers.setdefault(id(t), []).append(mod)

    def after_conv(conv, _inputs, output):
        producer[id(output)] = conv
        alive.append(output)

    named = dict(module.named_modules())
    readers_of_interest = [m for m in named.values() if isinstance(m, nn.Conv2d) or not list(m.children())]
    hooks = [m.register_forward_pre_hook(before) for m in readers_of_interest]
    hooks += [m.register_forward_hook(after_conv) for m in named.values() if isinstance(m, nn.Conv2d)]
    try:
        expected = module(probe)
    finally:
        for h in hooks:
            h.remove()
    pairs = []
    for key, conv in producer.items():
        users = readers.get(key, [])
        if len(users) == 1 and isinstance(users[0], nn.BatchNorm2d) and calls[conv] == 1 and not conv.training:
            bn = users[0]
            if (not bn.training and calls[bn] == 1 and bn.running_mean is not None and bn.running_var is not None
                    and bn.num_features == conv.out_channels):
                pairs.append((conv, bn))
    if not pairs:
        return module
    folded = copy.deepcopy(module)
    fnamed = dict(folded.named_modules())
    names = {m: n for n, m in named.items()}
    for conv_name, bn_name in ((names[c], names[b]) for c, b in pairs):
        fused = fuse_conv_bn_eval(fnamed[conv_name], fnamed[bn_name])
        fused.requires_grad_(False)
        _replace(folded, conv_name, fused)
        _replace(folded, bn_name, nn.Identity())
    got = folded(probe)
    same = isinstance(got, (list, tuple)) and len(got) == len(expected) and all(
        g.shape == e.shape and torch.allclose(g, e, rtol=1e-4, atol=1e-4) for g, e in zip(got, expected)
    )
    return folded if same else module


def _replace(root: nn.Module, name: str, module: nn.Module) -> None:
    """Put `module` where the submodule called `name` (dotted path) of `root` is."""
    parent, _, attr = name.rpartition(".")
    setattr(root.get_submodule(parent) if parent else root, attr, module)


class FeatureExtractor(nn.Module):
    """Backbone + region pooling + whitening; input uint8 RGB frames [B, H, W, 3]."""

    def __init__(self, config: FeatureConfig = FeatureConfig(), device: str | torch.device | None = "cpu"):
        super().__init__()
        self.config = config
        self.backbone = build_backbone(config.backbone, config.weights)
        white_file = resolve_whitening(config.backbone, config.whitening)
        self.whitening = PCAWhitening.load(white_file, config.dims) if white_file else None
        self.whitening_version = f"{white_file.name}:{sha256_file(white_file)[:16]}" if white_file else "none"
        if self.whitening is not None and self.whitening.in_dims != sum(self.backbone.channels):
            raise ModelError(
                f"{white_file}: whitening is for {self.whitening.in_dims}-d vectors but "
                f"{config.backbone} gives {sum(self.backbone.channels)}-d"
            )
        self.device = resolve_device(device)
        self.to(self.device).eval()
        if config.precision == "bf16":
            # bf16 weights and activations in channels_last: about 3.5x fp32 on AVX-512 CPUs;
            # batch norms are folded into their convolutions first (in fp32; worth ~10-25%
            # here, since unfused bf16 batch norms cost about 15% of the backbone's time).
            # Pooling, normalisation and whitening stay in fp32.
            self.backbone = fold_batchnorms(self.backbone)
            self.backbone.to(dtype=torch.bfloat16, memory_format=torch.channels_last)  # type: ignore[call-overload]

    @property
    def dims(self) -> int:
        return self.whitening.out_dims if self.whitening is not None else sum(self.backbone.channels)

    @property
    def weights_version(self) -> str:
        return self.backbone.weights_version

    def feature_key(self, decode: DecodeConfig) -> str:
        """Key of the features this extractor makes from frames decoded with `decode`."""
        config = VidsimConfig(decode=decode, features=self.config)
        return config.feature_key(self.weights_version, self.whitening_version)

    def region_vectors(self, frames: torch.Tensor) -> torch.Tensor:
        """Unwhitened L3-iMAC region vectors [B, 9, sum(C)] (fp32 whatever the precision)."""
        x = self.backbone.preprocess(frames.to(self.device))
        if self.config.precision == "bf16":
            x = x.to(torch.bfloat16).contiguous(memory_format=torch.channels_last)
        maps = self.backbone(x)
        return region_vectors([m.float() for m in maps])

    @torch.no_grad()
    def forward(self, frames: torch.Tensor | np.ndarray) -> torch.Tensor:
        """Region features [B, 9, D] of a batch of uint8 frames, in batches of config.batch_size."""
        frames = torch.as_tensor(frames)
        if frames.ndim != 4 or frames.shape[-1] != 3:
            raise ValueError(f"frames must be uint8 [B, H, W, 3], got shape {tuple(frames.shape)}")
        out = []
        for start in range(0, len(frames), self.config.batch_size):
            x = self.region_vectors(frames[start : start + self.config.batch_size])
            if self.whitening is not None:
                x = self.whitening(x)
            out.append(x)
        if not out:
            return torch.empty(0, 9, self.dims, device=self.device)
        return torch.cat(out)

    def embed_batches(
        self,
        batches: Iterable,
        source: str = "",
        feature_key: str = "",
        progress: ProgressFn | None = None,
    ) -> VideoFeatures:
        """Embed a stream of FrameBatch values into one VideoFeatures."""
        regions, stamps = [], []
        for batch in batches:
            regions.append(self(batch.frames).cpu().numpy().astype(np.float32, copy=False))
            stamps.append(batch.timestamps)
            if progress is not None:
                progress(len(batch.timestamps), float(batch.timestamps[-1]) if len(batch.timestamps) else 0.0)
        if not regions:
            regions_arr = np.zeros((0, 9, self.dims), np.float32)
            stamps_arr = np.zeros(0, np.float64)
        else:
            regions_arr, stamps_arr = np.concatenate(regions), np.concatenate(stamps)
        return VideoFeatures(regions_arr, stamps_arr, feature_key, self.weights_version, source)

    def extract_video(
        self,
        path: str | Path,
        decode: DecodeConfig = DecodeConfig(),
        progress: ProgressFn | None = None,
    ) -> VideoFeatures:
        """Decode `path` and embed it, batch by batch."""
        from vidsim.decode import iter_frames

        key = self.feature_key(decode)
        return self.embed_batches(iter_frames(path, decode), str(path), key, progress)
