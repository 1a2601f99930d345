"""The tutorial-style ViSiL facade: one object that extracts features and compares videos.

    model = ViSiL()                                  # efficientnet-lite0, untrained Chamfer
    q = model.extract_features(load_video("a.mp4"))  # [P, 9, D] tensor
    t = model.extract_features(load_video("b.mp4"))
    model.calculate_video_similarity(q, t)

`extract_video(path)` streams long files (decoded in a background thread while the network
runs) and uses the feature cache; `then=` names the video asked for next, decoded ahead.
"""
from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import nn

from vidsim.config import VidsimConfig
from vidsim.features import FeatureExtractor, VideoFeatures
from vidsim.features.types import feature_key_matches
from vidsim.similarity import ViSiLHead
from vidsim.store import FEATURE_SUFFIX, FeatureCache, content_hash, load_features

if TYPE_CHECKING:
    from vidsim.decode import DecodeAhead

FeaturesLike = torch.Tensor | np.ndarray | VideoFeatures
# the video a caller asks for next, or a function naming it (None: none), called once the current one is being decoded
NextVideo = str | os.PathLike | Callable[[], "str | os.PathLike | None"] | None


class ViSiL(nn.Module):
    """Feature extractor + similarity head, configured by one VidsimConfig."""

    def __init__(self, config: VidsimConfig = VidsimConfig(), device: str | torch.device | None = "cpu"):
        super().__init__()
        self.extractor = FeatureExtractor(config.features, device)
        # the configuration that runs: the runtime "auto" resolved to (what indexes and reports record)
        self.config = config = dataclasses.replace(config, features=self.extractor.config)
        self.device = self.extractor.device
        self.head = ViSiLHead.from_config(config.similarity, self.extractor.dims).to(self.device)
        self.feature_key = self.extractor.feature_key(config.decode)
        self._ahead: DecodeAhead | None = None  # the decode thread, made at the first video

    @property
    def mode(self) -> str:
        """'chamfer' (ViSiL_f, untrained) or 'visil' (learned head), '-symmetric' if so."""
        return self.head.mode

    # --- features -------------------------------------------------------------------
    @torch.no_grad()
    def extract_features(self, frames: torch.Tensor | np.ndarray) -> torch.Tensor:
        """Region features of uint8 frames [T, H, W, 3], ready to compare (attention applied)."""
        return self.head.prepare(self.extractor(frames))

    def extract_video(
        self,
        path: str | Path,
        cache: FeatureCache | None = None,
        progress: Callable[[int, float], None] | None = None,
        then: NextVideo = None,
    ) -> VideoFeatures:
        """Features of a video file (streamed), or of a saved feature file (.safetensors).

        With a cache, features are looked up by the file's content hash and stored after
        extraction. Returned features are before attention; the calculate_* methods apply it.
        `then`: the video the caller will ask for next (or a function naming it, called once
        this one is being decoded): it is decoded in the background as soon as this one is,
        unless it is a feature file or cached.
        """
        path = Path(path)
        if path.suffix == FEATURE_SUFFIX:
            features = load_features(path)
            self._check_features(features, path)
            self._expect_next(then, cache)
            return features
        file_hash = content_hash(path) if cache is not None else ""
        cached = cache.get(file_hash, self.feature_key) if cache is not None else None
        if cached is not None:
            self._expect_next(then, cache)
            return cached
        decode = self.config.decode
        ahead = self.decode_ahead() if decode.prefetch > 0 else None
        features = self.extractor.extract_video(path, decode, progress, ahead,
                                                then=lambda: self._expect_next(then, cache))
        if cache is not None:
            _cache_put(cache, file_hash, features)
        return features

    def decode_ahead(self) -> DecodeAhead:
        """The model's decode thread (vidsim.decode.DecodeAhead), which `extract_video` reads from."""
        if self._ahead is None:
            from vidsim.decode import DecodeAhead

            self._ahead = DecodeAhead(self.config.decode)
        return self._ahead

    def expect(self, path: str | os.PathLike, cache: FeatureCache | None = None) -> bool:
        """Start decoding `path` in the background, after the videos already asked for, so that a
        later `extract_video(path)` finds its frames ready; not for feature files, videos whose
        features `cache` holds, or when decode.prefetch is 0. Whether it was queued."""
        path = Path(path)
        if self.config.decode.prefetch <= 0 or path.suffix == FEATURE_SUFFIX:
            return False
        if cache is not None:
            from vidsim.errors import VidsimError

            try:
                if cache.entry(content_hash(path), self.feature_key).is_file():
                    return False
            except VidsimError:
                return False  # unreadable: extract_video will say why
        self.decode_ahead().expect(path)
        return True

    def _expect_next(self, then: NextVideo, cache: FeatureCache | None) -> None:
        following = then() if callable(then) else then
        if following is not None:
            self.expect(following, cache)

    def _check_features(self, features: VideoFeatures, path: Path) -> None:
        from vidsim.errors import ConfigMismatchError

        if not feature_key_matches(features, self.feature_key):
            raise ConfigMismatchError(
                f"{path}: features were made with another configuration ({features.feature_key}, "
                f"this model is {self.feature_key}); extract them again with the same options"
            )

    # --- similarity -----------------------------------------------------------------
    def prepare(self, x: FeaturesLike) -> torch.Tensor:
        """Features ready to compare, on the model's device: VideoFeatures get attention here; tensors
        and arrays are taken as they are (extract_features output, or regions to compare without attention)."""
        if isinstance(x, VideoFeatures):
            return self.head.prepare(torch.from_numpy(x.regions).to(self.device))
        return torch.as_tensor(x, device=self.device)

    @torch.no_grad()
    def calculate_f2f_matrix(self, query: FeaturesLike, target: FeaturesLike) -> torch.Tensor:
        """Frame-to-frame Chamfer similarity [P, Q]."""
        return self.head.f2f(self.prepare(query), self.prepare(target))

    @torch.no_grad()
    def calculate_visil_output(self, query: FeaturesLike, target: FeaturesLike) -> torch.Tensor:
        """The comparator's output map before Hardtanh; the f2f matrix in chamfer mode."""
        f2f = self.calculate_f2f_matrix(query, target)
        return self.head.comparator_output(f2f) if self.head.learned else f2f

    @torch.no_grad()
    def calculate_video_similarity(self, query: FeaturesLike, target: FeaturesLike) -> torch.Tensor:
        """Video-to-video similarity (a 0-d tensor), chunked over long targets."""
        return self.head(self.prepare(query), self.prepare(target))


def _cache_put(cache: FeatureCache, file_hash: str, features: VideoFeatures) -> None:
    """Store features in the cache; a cache that cannot be written (disk full, read-only) only warns."""
    import warnings

    from vidsim.errors import CacheWriteWarning
    from vidsim.fsutil import write_error_cause

    try:
        cache.put(file_hash, features)
    except Exception as exc:  # only failed writes are tolerated
        cause = write_error_cause(exc, cache.root)
        if cause is None:
            raise
        warnings.warn(f"{cache.entry(file_hash, features.feature_key)}: cannot write the feature cache entry "
                      f"({cause}); going on without it", CacheWriteWarning, stacklevel=3)


@dataclass(frozen=True)
class Comparison:
    """Everything `vidsim compare` reports about one pair."""

    query: str
    target: str
    similarity: float
    mode: str
    f2f: np.ndarray  # [P, Q]
    visil_output: np.ndarray | None  # comparator map (learned mode only)
    query_timestamps: np.ndarray
    target_timestamps: np.ndarray


def compare_videos(model: ViSiL, query: VideoFeatures, target: VideoFeatures) -> Comparison:
    """Score one pair and keep the maps for plotting."""
    f2f = model.calculate_f2f_matrix(query, target)
    output = model.head.comparator_output(f2f).cpu().numpy() if model.head.learned else None
    return Comparison(
        query=query.source,
        target=target.source,
        similarity=float(model.calculate_video_similarity(query, target)),
        mode=model.mode,
        f2f=f2f.cpu().numpy(),
        visil_output=output,
        query_timestamps=query.timestamps,
        target_timestamps=target.timestamps,
    )


def similarity_matrix(model: ViSiL, videos: list[VideoFeatures], progress: Callable[[int], None] | None = None) -> np.ndarray:
    """N x N video similarities (row = query). Attention is applied once per video."""
    prepared = [model.prepare(v) for v in videos]
    n = len(prepared)
    matrix = np.zeros((n, n), dtype=np.float64)
    with torch.no_grad():
        for i in range(n):
            for j in range(n):
                matrix[i, j] = float(model.head(prepared[i], prepared[j]))
            if progress is not None:
                progress(i + 1)
    return matrix


def export_features(features: dict[Path, VideoFeatures], out_dir: Path) -> Path:
    """Write one .safetensors file per video and a manifest.csv (path, file, frames, seconds)."""
    import csv

    from vidsim.fsutil import atomic_open
    from vidsim.store import save_features

    out_dir.mkdir(parents=True, exist_ok=True)
    rows, used = [], set()
    for path, feats in features.items():
        stem = path.stem
        name, n = f"{stem}{FEATURE_SUFFIX}", 1
        while name in used:  # same file name in two directories
            n += 1
            name = f"{stem}-{n}{FEATURE_SUFFIX}"
        used.add(name)
        save_features(out_dir / name, feats)
        duration = float(feats.timestamps[-1]) if feats.num_frames else 0.0
        rows.append([str(path), name, feats.num_frames, f"{duration:.3f}"])
    manifest = out_dir / "manifest.csv"
    with atomic_open(manifest, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["path", "file", "frames", "last_timestamp"])
        writer.writerows(rows)
    return manifest
