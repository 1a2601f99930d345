"""vidsim's own scoring methods for evaluation: ViSiL modes and a global-descriptor baseline.

`vidsim` is the default configuration; `vidsim:<backbone>` swaps the backbone (e.g.
`vidsim:resnet50` with `weights=`); `vidsim-visil` is the learned head (`head_weights=`, default
the head packaged for the backbone, `src/vidsim/data/heads/`); `global-mean` is the coarse
baseline: the mean of the frame vectors (each the L2-normalised mean of its regions) compared by
cosine.

`vidsim-search` answers each query through an index of the references, as `vidsim search` does
(`index_options`: the index's fields), to measure search against exhaustive comparison.

`vidsim` also localises copied segments: temporal alignment (`vidsim.similarity.align`, method
`alignment=`, default the temporal network "tn", parameters `alignment_params=`) on the f2f map.
"""
from __future__ import annotations

import dataclasses
import shutil
import tempfile
import weakref
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from vidsim.config import Device, FeatureConfig, Precision, RuntimeName, SimilarityConfig, VidsimConfig
from vidsim.evaluate.methods import Method, register_method
from vidsim.features.types import VideoFeatures
from vidsim.similarity.align import DEFAULT_METHOD as DEFAULT_ALIGNMENT
from vidsim.similarity.align import make_aligner
from vidsim.similarity.informative import FrameMask, informative_frames, mask_cells
from vidsim.similarity.segments import Segment
from vidsim.similarity.views import better_view
from vidsim.store import FEATURE_SUFFIX, FeatureCache


class _FeatureMethod(Method):
    """Shares one ViSiL model and the feature cache between vidsim-based methods."""

    def __init__(self, name: str, backbone: str | None = None, weights: str | None = None,
                 whitening: str | None = "auto", dims: int | None = None, head_weights: str | None = None,
                 symmetric: bool | None = None, symmetric_partial: bool | None = None,
                 precision: Precision = "fp32", runtime: RuntimeName = "auto",
                 device: Device = "cpu", cache: FeatureCache | None = None, config: VidsimConfig | None = None,
                 flip_query: bool | None = None, flip_margin: float | None = None, min_frame_std: float | None = None):
        from vidsim.model import ViSiL

        self.name = name
        if config is None:
            if backbone is None and ":" in name:
                backbone = name.split(":", 1)[1]
            similarity = SimilarityConfig(head="visil" if head_weights else "chamfer", head_weights=head_weights)
            given: dict[str, Any] = {"symmetric": symmetric, "symmetric_partial": symmetric_partial,
                                     "flip_query": flip_query, "flip_margin": flip_margin, "min_frame_std": min_frame_std}
            config = VidsimConfig(
                features=FeatureConfig(backbone=backbone or FeatureConfig.backbone, weights=weights,
                                       whitening=whitening, dims=dims, precision=precision, runtime=runtime),
                similarity=dataclasses.replace(similarity, **{k: v for k, v in given.items() if v is not None}),
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
    keep: np.ndarray | None = None  # the informative frames (min_frame_std), None: all
    source: Path | None = None  # the video file (a query's mirror image is made from it)


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
        self._mirrors: dict[Path, PreparedVideo] = {}  # queries' mirror images (flip_query)
        self._mirrored: set[tuple[Path | None, Path | None]] = set()  # pairs whose mirrored query scored better

    def extract(self, path: Path) -> PreparedVideo:
        return self._prepared(super().extract(path), path)

    def _prepared(self, features: VideoFeatures, path: Path) -> PreparedVideo:
        # attention once per video, not once per pair
        plain = self.model.prepare(features.regions) if self.model.head.learned else None
        keep = informative_frames(features.frame_std, self.model.config.similarity.min_frame_std)
        return PreparedVideo(self.model.prepare(features), np.asarray(features.timestamps, dtype=np.float64), plain,
                             keep, path)

    def calculate_video_similarity(self, query: Any, reference: Any) -> float:
        return float(self.model.head(_regions(query), _regions(reference), _mask(query, reference)))

    def score_query(self, query: Any, references: Mapping[str, Any]) -> dict[str, float]:
        """Each pair's score; with `flip_query`, the better of the query's and its mirror image's
        (`similarity.views`)."""
        scores = super().score_query(query, references)
        mirror = self._mirror_of(query)
        if mirror is not None:
            margin = self.model.config.similarity.flip_margin
            for rid, ref in references.items():
                scores[rid], mirrored = better_view(scores[rid], self.calculate_video_similarity(mirror, ref), margin)
                if mirrored:
                    self._mirrored.add((query.source, ref.source))
        return scores

    def _mirror_of(self, query: Any) -> PreparedVideo | None:
        if not (self.model.config.similarity.flip_query and isinstance(query, PreparedVideo) and query.source):
            return None
        if query.source not in self._mirrors:
            features = self.model.extract_video(query.source, cache=self.cache, mirror=True)
            self._mirrors[query.source] = self._prepared(features, query.source)
        return self._mirrors[query.source]

    def localise(self, query: PreparedVideo, reference: PreparedVideo) -> list[Segment]:
        # the aligners' thresholds are set on Chamfer f2f values: a learned head's attention scales
        # them down, so segments are found on the f2f of the features before attention
        if (query.source, reference.source) in self._mirrored:
            query = self._mirrors[query.source]  # type: ignore[index]
        q = query.plain if query.plain is not None else query.regions
        r = reference.plain if reference.plain is not None else reference.regions
        f2f = mask_cells(self.model.calculate_f2f_matrix(q, r).cpu().numpy(), query.keep, reference.keep)
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


def _mask(query: Any, reference: Any) -> FrameMask | None:
    rows = query.keep if isinstance(query, PreparedVideo) else None
    cols = reference.keep if isinstance(reference, PreparedVideo) else None
    return None if rows is None and cols is None else (rows, cols)


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


@register_method("vidsim-search")
class VidsimSearchMethod(_FeatureMethod):
    """`vidsim` answered the way `vidsim search` answers: the references go into an index (in a
    temporary directory; `index_options` set its fields as config.json names them, e.g.
    {"index.codes": "int8", "index.search.candidates": 50}), each query is searched for all of
    them (top_k = every reference), and a reference the search does not return counts as a miss.
    Segments are the search's own (located on the windows it re-ranked)."""

    def __init__(self, name: str, index_options: Mapping[str, Any] | None = None, **options: Any):
        options.pop("alignment", None)  # the index localises with its own aligner (the default)
        options.pop("alignment_params", None)
        super().__init__(name, **options)
        self.index_options = dict(index_options or {})
        self._workdir = Path(tempfile.mkdtemp(prefix="vidsim-eval-index-"))  # deleted with the method
        weakref.finalize(self, shutil.rmtree, self._workdir, True)
        self._index: Any = None  # vidsim.index.Index over self._indexed
        self._indexed: dict[Path, int] = {}  # reference path -> video id
        self._asked: list[Path] = []  # every reference asked for (a file the index could not add stays out)
        self._segments: dict[tuple[Path, Path], list[Segment]] = {}

    def extract(self, path: Path) -> Path:
        self.model.extract_video(path, cache=self.cache)  # reads the video now (a bad file fails here), cached
        return path

    def calculate_video_similarity(self, query: Any, reference: Any) -> float:
        return self.score_query(query, {"reference": reference}).get("reference", float("-inf"))

    def score_query(self, query: Any, references: Mapping[str, Any]) -> dict[str, float]:
        index = self._index_of(references.values())
        wanted = {self._indexed[Path(path)]: rid for rid, path in references.items() if Path(path) in self._indexed}
        row: dict[str, float] = {}
        for match in index.search(Path(query), top_k=len(self._indexed), segments=True):
            rid = wanted.get(match.video_id)
            if rid is not None:
                row[rid] = match.similarity
                self._segments[(Path(query), Path(references[rid]))] = list(match.segments)
        return row

    def localise(self, query: Any, reference: Any) -> list[Segment]:
        return self._segments.get((Path(query), Path(reference)), [])

    def _index_of(self, paths: Iterable[Any]):
        """The index holding every reference asked for so far (made again when one is new)."""
        from vidsim.index import Index

        new = [p for p in map(Path, paths) if p not in self._asked]
        if self._index is None or new:
            if self._index is not None:
                self._index.close()
            self._asked += new
            directory = self._workdir / f"index-{len(self._asked)}"
            self._index = Index.open(directory, overrides=self.index_options, model=self.model, cache=self.cache)
            self._index.add(self._asked)
            by_path = {Path(r.path): r.id for r in self._index.list()}
            self._indexed = {p: by_path[p] for p in self._asked if p in by_path}
        return self._index

    def describe(self) -> dict:
        stored = self._index.stored.index.to_dict() if self._index is not None else None
        return {**super().describe(), "index_options": self.index_options, "index": stored}
