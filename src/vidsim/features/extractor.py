"""Frames -> region features: backbone stage maps and L3-iMAC pooling (run by an inference
runtime), optional PCA whitening.

Streaming: `extract_video` decodes and embeds batch by batch, so memory is bounded by one
batch of frames plus the (small) region features of the whole video.
"""
from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import nn

from vidsim.config import DecodeConfig, FeatureConfig, VidsimConfig
from vidsim.errors import ModelError
from vidsim.features.backbones import build_backbone
from vidsim.features.fold import fold_batchnorms
from vidsim.features.runtimes import Runtime, build_runtime, resolve_runtime
from vidsim.features.types import VideoFeatures, frame_pixel_std
from vidsim.features.whitening import PCAWhitening, resolve_whitening
from vidsim.fsutil import sha256_file

if TYPE_CHECKING:
    from vidsim.decode import DecodeAhead

__all__ = ["FeatureExtractor", "ProgressFn", "fold_batchnorms", "resolve_device"]

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
    """Backbone + region pooling (run by `runtime`) + whitening; input uint8 RGB frames [B, H, W, 3].

    `config.runtime` "auto" is resolved here: `self.config` names the runtime that runs, so the
    feature key (and every configuration saved from this extractor) records it. `model_dir`:
    where exported models are cached (default: the user cache directory).
    """

    def __init__(self, config: FeatureConfig = FeatureConfig(), device: str | torch.device | None = "cpu",
                 model_dir: str | Path | None = None):
        super().__init__()
        self.device = resolve_device(device)
        runtime = resolve_runtime(config.runtime, config.backbone, config.precision, self.device.type)
        self.config = config = dataclasses.replace(config, runtime=runtime)  # type: ignore[arg-type]
        self.runtime: Runtime = build_runtime(runtime, config.precision, model_dir, config.threads)
        self.backbone = build_backbone(config.backbone, config.weights)
        white_file = resolve_whitening(config.backbone, config.whitening)
        self.whitening = PCAWhitening.load(white_file, config.dims) if white_file else None
        self.whitening_version = f"{white_file.name}:{sha256_file(white_file)[:16]}" if white_file else "none"
        if self.whitening is not None and self.whitening.in_dims != sum(self.backbone.channels):
            raise ModelError(
                f"{white_file}: whitening is for {self.whitening.in_dims}-d vectors but "
                f"{config.backbone} gives {sum(self.backbone.channels)}-d"
            )
        self.to(self.device).eval()
        self.backbone = self.runtime.prepare(self.backbone)

    @property
    def dims(self) -> int:
        return self.whitening.out_dims if self.whitening is not None else sum(self.backbone.channels)

    @property
    def weights_version(self) -> str:
        return self.backbone.weights_version

    def feature_key(self, decode: DecodeConfig) -> str:
        """Key of the features this extractor makes from frames decoded with `decode`."""
        config = VidsimConfig(decode=decode, features=self.config)
        return config.feature_key(self.weights_version, self.whitening_version, *self.runtime.provenance)

    def region_vectors(self, frames: torch.Tensor) -> torch.Tensor:
        """Unwhitened region vectors [B, R, sum(C)] (R = backbone.num_regions; fp32 whatever the precision or runtime)."""
        return self.runtime.region_vectors(self.backbone, frames.to(self.device))

    @torch.no_grad()
    def forward(self, frames: torch.Tensor | np.ndarray) -> torch.Tensor:
        """Region features [B, R, D] of a batch of uint8 frames, in batches of config.batch_size."""
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
            return torch.empty(0, self.backbone.num_regions, self.dims, device=self.device)
        return torch.cat(out)

    def embed_batches(
        self,
        batches: Iterable,
        source: str = "",
        feature_key: str = "",
        progress: ProgressFn | None = None,
    ) -> VideoFeatures:
        """Embed a stream of FrameBatch values into one VideoFeatures."""
        regions, stamps, stds = [], [], []
        for batch in batches:
            regions.append(self(batch.frames).cpu().numpy().astype(np.float32, copy=False))
            stamps.append(batch.timestamps)
            stds.append(frame_pixel_std(batch.frames))
            if progress is not None:
                progress(len(batch.timestamps), float(batch.timestamps[-1]) if len(batch.timestamps) else 0.0)
        if not regions:
            regions_arr = np.zeros((0, self.backbone.num_regions, self.dims), np.float32)
            stamps_arr = np.zeros(0, np.float64)
            std_arr = np.zeros(0, np.float32)
        else:
            regions_arr, stamps_arr, std_arr = np.concatenate(regions), np.concatenate(stamps), np.concatenate(stds)
        return VideoFeatures(regions_arr, stamps_arr, feature_key, self.weights_version, source, frame_std=std_arr)

    def extract_video(
        self,
        path: str | Path,
        decode: DecodeConfig = DecodeConfig(),
        progress: ProgressFn | None = None,
        ahead: DecodeAhead | None = None,
        then: Callable[[], object] | None = None,
        mirror: bool = False,
    ) -> VideoFeatures:
        """Decode `path` and embed it, batch by batch: decoded in a background thread (by `ahead`,
        whose config must be `decode`, when given) while the network embeds, unless decode.prefetch
        is 0; the features are the same either way. `then` is called once the decoding has begun
        (or failed to), e.g. to queue the next video on `ahead`. `mirror`: the features of the
        video's horizontal mirror image."""
        from vidsim.decode import DecodeAhead, iter_frames

        key = self.feature_key(decode)
        if ahead is not None and ahead.config != decode:
            raise ValueError("extract_video: `ahead` decodes with another DecodeConfig than `decode`")
        try:
            if decode.prefetch <= 0:
                batches = iter_frames(path, decode)
            else:
                batches = (ahead or DecodeAhead(decode)).frames(path)
        except BaseException:
            if then is not None:
                with contextlib.suppress(Exception):  # this video's own error is the one to report
                    then()
            raise
        try:
            if then is not None:
                then()
            return self.embed_batches(_mirrored(batches) if mirror else batches, str(path), key, progress)
        finally:
            batches.close()  # type: ignore[attr-defined]  # an early exit stops the decoding


def mirrored(batch):
    """A FrameBatch flipped left to right (the query view `SimilarityConfig.flip_query` adds)."""
    return dataclasses.replace(batch, frames=np.ascontiguousarray(batch.frames[:, :, ::-1]))


def _mirrored(batches):
    """The batches mirrored, one by one; closing this closes `batches` (which stops their decoding)."""
    try:
        for batch in batches:
            yield mirrored(batch)
    finally:
        close = getattr(batches, "close", None)
        if close is not None:
            close()
