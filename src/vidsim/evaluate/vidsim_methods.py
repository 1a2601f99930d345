"""vidsim's own scoring methods for evaluation: ViSiL modes and a global-descriptor baseline.

`vidsim` is the default configuration; `vidsim:<backbone>` swaps the backbone (e.g.
`vidsim:resnet50` with `weights=`); `global-mean` is the coarse baseline: the mean of the
frame vectors (each the L2-normalised mean of its regions) compared by cosine.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from vidsim.config import FeatureConfig, SimilarityConfig, VidsimConfig
from vidsim.evaluate.methods import Method, register_method
from vidsim.store import FeatureCache


class _FeatureMethod(Method):
    """Shares one ViSiL model and the feature cache between vidsim-based methods."""

    def __init__(self, name: str, backbone: str | None = None, weights: str | None = None,
                 whitening: str | None = "auto", dims: int | None = None, head_weights: str | None = None,
                 symmetric: bool = False, precision: str = "fp32", device: str = "cpu",
                 cache: FeatureCache | None = None, config: VidsimConfig | None = None):
        from vidsim.model import ViSiL

        self.name = name
        if config is None:
            if backbone is None and ":" in name:
                backbone = name.split(":", 1)[1]
            config = VidsimConfig(
                features=FeatureConfig(backbone=backbone or FeatureConfig.backbone, weights=weights,
                                       whitening=whitening, dims=dims, precision=precision),
                similarity=SimilarityConfig(head="visil" if head_weights else "chamfer",
                                            head_weights=head_weights, symmetric=symmetric),
            )
        self.model = ViSiL(config, device=device)
        self.cache = cache

    def index_video(self, path: Path) -> Any:
        return self.model.extract_video(path, cache=self.cache)

    def describe(self) -> dict:
        return {"name": self.name, "mode": self.model.mode, "config": self.model.config.to_dict(),
                "weights_version": self.model.extractor.weights_version}


@register_method("vidsim")
class VidsimMethod(_FeatureMethod):
    """ViSiL similarity as configured (default: efficientnet-lite0, untrained Chamfer)."""

    def index_video(self, path: Path) -> Any:
        features = super().index_video(path)
        return self.model._prepared(features)  # attention once per video, not once per pair

    def calculate_video_similarity(self, query: Any, reference: Any) -> float:
        return float(self.model.head(query, reference))


@register_method("global-mean")
class GlobalMeanMethod(_FeatureMethod):
    """One vector per video: mean of L2-normalised frame vectors, cosine similarity."""

    def index_video(self, path: Path) -> Any:
        regions = super().index_video(path).regions
        frames = regions.mean(axis=1)
        frames /= np.linalg.norm(frames, axis=1, keepdims=True) + 1e-12
        video = frames.mean(axis=0)
        return video / (np.linalg.norm(video) + 1e-12)

    def calculate_video_similarity(self, query: Any, reference: Any) -> float:
        return float(np.dot(query, reference))
