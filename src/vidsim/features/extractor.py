"""Frames -> region features: backbone stage maps, L3-iMAC pooling, optional PCA whitening.

Streaming: `extract_video` decodes and embeds batch by batch, so memory is bounded by one
batch of frames plus the (small) region features of the whole video.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterable

import numpy as np
import torch
from torch import nn

from vidsim.config import DecodeConfig, FeatureConfig, VidsimConfig
from vidsim.errors import ModelError
from vidsim.features.backbones import build_backbone
from vidsim.features.pooling import region_vectors
from vidsim.features.types import VideoFeatures
from vidsim.features.whitening import PCAWhitening

ProgressFn = Callable[[int, float], None]  # (frames done in this call, seconds of video reached)


def resolve_device(device: str | torch.device | None) -> torch.device:
    """'cpu', 'cuda', 'cuda:1' or None (cuda when available); clear error when cuda is absent."""
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ModelError("--device cuda asked for, but this torch build sees no CUDA GPU")
    return device


class FeatureExtractor(nn.Module):
    """Backbone + region pooling + whitening; input uint8 RGB frames [B, H, W, 3]."""

    def __init__(self, config: FeatureConfig = FeatureConfig(), device: str | torch.device | None = "cpu"):
        super().__init__()
        self.config = config
        self.backbone = build_backbone(config.backbone, config.weights)
        self.whitening = PCAWhitening.load(config.whitening, config.dims) if config.whitening else None
        if self.whitening is not None and self.whitening.in_dims != sum(self.backbone.channels):
            raise ModelError(
                f"{config.whitening}: whitening is for {self.whitening.in_dims}-d vectors but "
                f"{config.backbone} gives {sum(self.backbone.channels)}-d"
            )
        self.device = resolve_device(device)
        self.to(self.device).eval()
        if config.precision == "bf16":
            # bf16 weights and activations in channels_last: about 3x fp32 on AVX-512 CPUs;
            # pooling, normalisation and whitening stay in fp32.
            self.backbone.to(dtype=torch.bfloat16, memory_format=torch.channels_last)

    @property
    def dims(self) -> int:
        return self.whitening.out_dims if self.whitening is not None else sum(self.backbone.channels)

    @property
    def weights_version(self) -> str:
        return self.backbone.weights_version

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

        key = VidsimConfig(decode=decode, features=self.config).feature_key()
        return self.embed_batches(iter_frames(path, decode), str(path), key, progress)
