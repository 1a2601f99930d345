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
from vidsim.errors import ModelError
from vidsim.features import FeatureExtractor, VideoFeatures
from vidsim.features.types import feature_key_matches
from vidsim.similarity import ViSiLHead
from vidsim.similarity.informative import FrameMask, informative_frames
from vidsim.similarity.views import better_view
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
        mirror: bool = False,
    ) -> VideoFeatures:
        """Features of a video file (streamed), or of a saved feature file (.safetensors).

        With a cache, features are looked up by the file's content hash and stored after
        extraction (an entry made before frames were measured, without `frame_std`, is made
        again). Returned features are before attention; the calculate_* methods apply it.
        `then`: the video the caller will ask for next (or a function naming it, called once
        this one is being decoded): it is decoded in the background as soon as this one is,
        unless it is a feature file or cached. `mirror`: features of the video's horizontal mirror
        image (what `flip_query` compares too).
        """
        path = Path(path)
        if path.suffix == FEATURE_SUFFIX:
            if mirror:
                raise ModelError(f"{path}: a feature file holds no pictures to mirror; give the video itself")
            features = load_features(path)
            self._check_features(features, path)
            self._expect_next(then, cache)
            return features
        file_hash = content_hash(path) if cache is not None else ""
        view = "mirror" if mirror else ""
        cached = cache.get(file_hash, self.feature_key, view) if cache is not None else None
        if cached is not None and cached.frame_std is not None:
            self._expect_next(then, cache)
            return cached
        decode = self.config.decode
        ahead = self.decode_ahead() if decode.prefetch > 0 else None
        features = self.extractor.extract_video(path, decode, progress, ahead,
                                                then=lambda: self._expect_next(then, cache), mirror=mirror)
        if cache is not None:
            _cache_put(cache, file_hash, features, view)
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

    def query_views(
        self,
        path: str | Path,
        cache: FeatureCache | None = None,
        progress: Callable[[int, float], None] | None = None,
    ) -> list[VideoFeatures]:
        """The features a query is compared with: the video's, then, with `flip_query`, its mirror
        image's (a feature file has no pictures to mirror: its features alone)."""
        views = [self.extract_video(path, cache, progress)]
        if self.config.similarity.flip_query and Path(path).suffix != FEATURE_SUFFIX:
            views.append(self.extract_video(path, cache, progress, mirror=True))
        return views

    def frame_mask(self, query: FeaturesLike, target: FeaturesLike) -> FrameMask | None:
        """The (query, target) frames to compare: the informative ones (`min_frame_std`) of
        VideoFeatures; None (all frames) for tensors and arrays, or when the rule is off."""
        min_std = self.config.similarity.min_frame_std
        rows = informative_frames(query.frame_std, min_std) if isinstance(query, VideoFeatures) else None
        cols = informative_frames(target.frame_std, min_std) if isinstance(target, VideoFeatures) else None
        return None if rows is None and cols is None else (rows, cols)

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
    def calculate_video_similarity(self, query: FeaturesLike, target: FeaturesLike,
                                   mirror: FeaturesLike | None = None) -> torch.Tensor:
        """Video-to-video similarity (a 0-d tensor), chunked over long targets; uninformative frames
        of VideoFeatures are left out (`min_frame_std`). `mirror`: the query's mirror image
        (`extract_video(..., mirror=True)`): the better of both scores (`similarity.views`)."""
        target_prepared = self.prepare(target)
        score = self.head(self.prepare(query), target_prepared, self.frame_mask(query, target))
        if mirror is None:
            return score
        flipped = self.head(self.prepare(mirror), target_prepared, self.frame_mask(mirror, target))
        kept, _ = better_view(float(score), float(flipped), self.config.similarity.flip_margin)
        return torch.tensor(kept, dtype=score.dtype)


def _cache_put(cache: FeatureCache, file_hash: str, features: VideoFeatures, view: str = "") -> None:
    """Store features in the cache; a cache that cannot be written (disk full, read-only) only warns."""
    import warnings

    from vidsim.errors import CacheWriteWarning
    from vidsim.fsutil import write_error_cause

    try:
        cache.put(file_hash, features, view)
    except Exception as exc:  # only failed writes are tolerated
        cause = write_error_cause(exc, cache.root)
        if cause is None:
            raise
        warnings.warn(f"{cache.entry(file_hash, features.feature_key, view)}: cannot write the feature cache entry "
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
    mirrored: bool = False  # the query's mirror image scored better (flip_query)


def compare_videos(model: ViSiL, query: VideoFeatures, target: VideoFeatures,
                   mirror: VideoFeatures | None = None) -> Comparison:
    """Score one pair and keep the maps for plotting (of the view kept); with the query's `mirror`
    image, the better of both views (`similarity.views`; `Comparison.mirrored` says which)."""
    flipped = None if mirror is None else float(model.calculate_video_similarity(mirror, target))
    similarity, mirrored = better_view(float(model.calculate_video_similarity(query, target)), flipped,
                                       model.config.similarity.flip_margin)
    if mirrored and mirror is not None:
        query = mirror
    f2f = model.calculate_f2f_matrix(query, target)
    output = model.head.comparator_output(f2f).cpu().numpy() if model.head.learned else None
    return Comparison(
        query=query.source,
        target=target.source,
        similarity=similarity,
        mode=model.mode,
        f2f=f2f.cpu().numpy(),
        visil_output=output,
        query_timestamps=query.timestamps,
        target_timestamps=target.timestamps,
        mirrored=mirrored,
    )


def similarity_matrix(model: ViSiL, videos: list[VideoFeatures], progress: Callable[[int], None] | None = None,
                      mirrors: list[VideoFeatures | None] | None = None) -> np.ndarray:
    """N x N video similarities (row = query). Attention is applied once per video; uninformative
    frames are left out (`min_frame_std`); `mirrors[i]`: video i's mirror image, scored as a query
    too (the better of both views, `similarity.views`)."""
    prepared = [model.prepare(v) for v in videos]
    flipped = [None if m is None else model.prepare(m) for m in (mirrors or [None] * len(videos))]
    n = len(prepared)
    matrix = np.zeros((n, n), dtype=np.float64)
    with torch.no_grad():
        for i in range(n):
            mirror = mirrors[i] if mirrors else None
            for j in range(n):
                score = float(model.head(prepared[i], prepared[j], model.frame_mask(videos[i], videos[j])))
                if mirror is not None:
                    other = float(model.head(flipped[i], prepared[j], model.frame_mask(mirror, videos[j])))
                    score, _ = better_view(score, other, model.config.similarity.flip_margin)
                matrix[i, j] = score
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
