"""vidsim's own scoring methods for evaluation: ViSiL modes and a global-descriptor baseline.

`vidsim` is the default configuration; `vidsim:<backbone>` swaps the backbone (e.g.
`vidsim:resnet50` with `weights=`); `vidsim-visil` is the learned head (`head_weights=`, default
the head packaged for the backbone, `src/vidsim/data/heads/`); `global-mean` is the coarse
baseline: the mean of the frame vectors (each the L2-normalised mean of its regions) compared by
cosine.

`vidsim` also localises copied segments: temporal alignment (`vidsim.similarity.align`, method
`alignment=`, default the temporal network "tn", parameters `alignment_params=`) on the f2f map.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from vidsim.config import Device, FeatureConfig, Precision, RuntimeName, SimilarityConfig, VidsimConfig
from vidsim.evaluate.methods import Method, register_method
from vidsim.similarity.align import DEFAULT_METHOD as DEFAULT_ALIGNMENT
from vidsim.similarity.align import make_aligner
from vidsim.similarity.segments import Segment
from vidsim.store import FEATURE_SUFFIX, FeatureCache


class _FeatureMethod(Method):
    """Shares one ViSiL model and the feature cache between vidsim-based methods."""

    def __init__(self, name: str, backbone: str | None = None, weights: str | None = None,
                 whitening: str | None = "auto", dims: int | None = None, head_weights: str | None = None,
                 symmetric: bool = False, precision: Precision = "fp32", runtime: RuntimeName = "auto",
                 device: Device = "cpu", cache: FeatureCache | None = None, config: VidsimConfig | None = None):
        from vidsim.model import ViSiL

        self.name = name
        if config is None:
            if backbone is None and ":" in name:
                backbone = name.split(":", 1)[1]
            config = VidsimConfig(
                features=FeatureConfig(backbone=backbone or FeatureConfig.backbone, weights=weights,
                                       whitening=whitening, dims=dims, precision=precision, runtime=runtime),
                similarity=SimilarityConfig(head="visil" if head_weights else "chamfer",
                                            head_weights=head_weights, symmetric=symmetric),
            )
        self.model = ViSiL(config, device=device)
        self.cache = cache

    def extract(self, path: Path) -> Any:
        return self.model.extract_video(path, cache=self.cache)

    def describe(self) -> dict:
        return {"name": self.name, "mode": self.model.mode, "config": self.model.config.to_dict(),
                "weights_version": self.model.extractor.weights_version}


@dataclass(frozen=True)
class PreparedVideo:
    """`VidsimMethod`'s descriptor: region features ready to compare and their timestamps (s)."""

    regions: Any  # torch.Tensor [P, R, D], attention applied
    timestamps: np.ndarray  # [P] seconds
    plain: Any = None  # the regions before attention (learned head only): what localisation aligns


@register_method("vidsim")
class VidsimMethod(_FeatureMethod):
    """ViSiL similarity as configured (default: efficientnet-lite0, untrained Chamfer), with
    copied-segment localisation by temporal alignment on the f2f map."""

    def __init__(self, name: str, alignment: str = DEFAULT_ALIGNMENT, alignment_params: dict | None = None,
                 **options: Any):
        super().__init__(name, **options)
        self.alignment = alignment
        self.alignment_params = dict(alignment_params or {})
        self.aligner = make_aligner(alignment, **self.alignment_params)  # fails early on bad names

    def extract(self, path: Path) -> PreparedVideo:
        features = super().extract(path)
        # attention once per video, not once per pair
        plain = self.model.prepare(features.regions) if self.model.head.learned else None
        return PreparedVideo(self.model.prepare(features), np.asarray(features.timestamps, dtype=np.float64), plain)

    def calculate_video_similarity(self, query: Any, reference: Any) -> float:
        return float(self.model.head(_regions(query), _regions(reference)))

    def localise(self, query: PreparedVideo, reference: PreparedVideo) -> list[Segment]:
        # the aligners' thresholds are set on Chamfer f2f values: a learned head's attention scales
        # them down, so segments are found on the f2f of the features before attention
        q = query.plain if query.plain is not None else query.regions
        r = reference.plain if reference.plain is not None else reference.regions
        f2f = self.model.calculate_f2f_matrix(q, r)
        return self.aligner(f2f, query.timestamps, reference.timestamps)

    def describe(self) -> dict:
        return {**super().describe(), "alignment": self.alignment, "alignment_params": dataclasses.asdict(self.aligner)}


@register_method("vidsim-visil")
class VidsimVisilMethod(VidsimMethod):
    """`vidsim` with the learned ViSiL head: the packaged one for the backbone unless `head_weights`
    names a file (as `vidsim train` writes). Its describe() records the head's version."""

    def __init__(self, name: str, head_weights: str | None = "auto", **options: Any):
        super().__init__(name, head_weights=head_weights or "auto", **options)

    def describe(self) -> dict:
        from vidsim.fsutil import safetensors_metadata
        from vidsim.similarity.head import head_weights_file

        head_weights = self.model.config.similarity.head_weights
        if head_weights is None:
            return {**super().describe(), "head_version": ""}
        path = head_weights_file(head_weights)
        version = safetensors_metadata(path).get("version", "") if path.suffix == FEATURE_SUFFIX else ""
        return {**super().describe(), "head_version": version}


def _regions(x: Any) -> Any:
    return x.regions if isinstance(x, PreparedVideo) else x


@register_method("global-mean")
class GlobalMeanMethod(_FeatureMethod):
    """One vector per video: mean of L2-normalised frame vectors, cosine similarity."""

    def extract(self, path: Path) -> Any:
        regions = super().extract(path).regions
        frames = regions.mean(axis=1)
        frames /= np.linalg.norm(frames, axis=1, keepdims=True) + 1e-12
        video = frames.mean(axis=0)
        return video / (np.linalg.norm(video) + 1e-12)

    def calculate_video_similarity(self, query: Any, reference: Any) -> float:
        return float(np.dot(query, reference))
