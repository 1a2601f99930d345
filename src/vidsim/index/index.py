"""The `Index` facade: a directory holding indexed videos, searchable for copies.

    index = Index.open("my-index")                 # created with the default configuration
    report = index.add(["videos/"])                # directories searched recursively
    for match in index.search("query.mp4", top_k=5):
        print(match.video_id, match.path, match.similarity, match.is_copy, match.segments)

The directory (`layout`) holds config.json (`StoredConfig`), the SQLite catalog (the source of
truth), one codes file per video and a snapshot of the frame-vector store. Writers take the
write lock (`lock`) and go through `ingest`, which makes every row commit only after its codes
file is durably in place; `sync` keeps the vector store in step with committed rows. So a kill
at any moment leaves an index that opens, holds every video whose row committed, and resumes.
Readers need no lock: SQLite's WAL lets them read while a writer commits, and a search first
catches up with rows committed since the index was opened. A damaged catalog is refused when
opening (`damage`, `IndexDamagedError`: run `vidsim index repair`); a damaged codes file makes
search skip its video, with an `IndexDamageWarning` and a note in the results' `warnings`.
"""
from __future__ import annotations

import builtins
import dataclasses
import os
import warnings
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, TypeVar

import numpy as np

from vidsim.config import Overrides, SimilarityConfig, VidsimConfig, with_overrides
from vidsim.decision import CopyDecision, copy_decision
from vidsim.errors import CodesDamagedError, IndexDamageWarning, ModelError, VidsimError
from vidsim.features.types import VideoFeatures
from vidsim.fsutil import atomic_open
from vidsim.index.catalog import VideoRecord
from vidsim.index.codes import Codec, Targets, codec_of, frame_vectors, inspect_codes, read_codes, read_frame_std, read_targets
from vidsim.index.config import (
    IndexConfig,
    SearchConfig,
    StoredConfig,
    check_features,
    check_model,
    check_storage,
    split_overrides,
    threshold_codes,
)
from vidsim.index.damage import open_catalog
from vidsim.index.ingest import AddProgress, AddReport, FrameProgress, Ingest, NextVideo
from vidsim.index.layout import CONFIG_FILE, FEATURE_SUFFIX, LOCK_FILE, disk_usage
from vidsim.index.lock import WriteLock
from vidsim.index.search import Match, Reranked, SearchResults, find_candidates, rerank_candidates
from vidsim.index.sync import VectorSync, unsearchable
from vidsim.similarity.informative import informative_frames
from vidsim.similarity.segments import Segment

if TYPE_CHECKING:
    from vidsim.engine import Engine
    from vidsim.model import ViSiL
    from vidsim.similarity import ViSiLHead
    from vidsim.store import FeatureCache

_T = TypeVar("_T")  # what a codes file is read as (decoded regions, or the re-rank's Targets)


@dataclass(frozen=True)
class IndexStats:
    videos: int
    seconds: float
    frames: int
    vectors: int  # frame vectors in the vector store
    vector_kind: str  # flat, ivf, hnsw or milvus
    codes: str  # codes kind and dims, e.g. "float16x256"
    bytes: dict[str, int] = field(default_factory=dict)  # on disk, by component
    vector_store: str = ""  # e.g. "faiss flat", "milvus hnsw, collection vidsim_x at http://host:19530"

    @property
    def hours(self) -> float:
        return self.seconds / 3600.0

    @property
    def total_bytes(self) -> int:
        return sum(self.bytes.values())


class Index:
    """A searchable collection of videos in one directory (see the module docstring)."""

    snapshot_seconds = 300.0  # during a long add, rewrite the vector snapshot this often

    def __init__(self, directory: Path, stored: StoredConfig, search: SearchConfig, model: ViSiL | None,
                 cache: FeatureCache | None, device: str):
        self.directory = directory
        self.stored = stored
        self.search_config = search
        self.cache = cache
        self._device = device
        self._model = model
        self._head: ViSiLHead | None = None
        self._decision: CopyDecision | None = None
        self.codec: Codec = codec_of(stored.index)
        self.catalog = open_catalog(directory)  # IndexDamagedError rather than a new, empty catalog
        self._verified: dict[Path, tuple[int, int, int]] = {}  # codes files whose checksum held, by (size, mtime, inode)
        self._lock = WriteLock(directory)
        self.vectors = VectorSync(directory, stored, self.catalog, self.codec, self._lock)
        self._ingest = Ingest(directory, stored, self.catalog, self.codec, self.vectors, self._lock, self.features_of)
        self.vectors.sync()
        self.vectors.save_if_free(self._lock)

    # --- opening ------------------------------------------------------------------------
    @classmethod
    def open(cls, directory: str | os.PathLike[str], config: IndexConfig | None = None, create: bool = True, *,
             overrides: Overrides | None = None, model: ViSiL | VidsimConfig | None = None,
             cache: FeatureCache | None = None, device: str = "cpu") -> Index:
        """Open the index in `directory`, creating it if there is none and `create` is true.

        `config`: the IndexConfig asked for; for an existing index its storage fields must match
        (ConfigMismatchError otherwise) and its search fields apply to this session; None: the
        index's own (the defaults for a new index). `model`: a `vidsim.ViSiL` or a `VidsimConfig`
        whose feature configuration must match the index's; None: the index's own, built when a
        video has to be embedded (the defaults for a new index). `overrides`: the fields a user
        set, named as in config.json ("index.codes", "index.search.candidates",
        "vidsim.features.dims"), applied on top of `config` and `model` or of what they default
        to; everything left out keeps the index's value. `cache`: a FeatureCache used when
        embedding videos.
        """
        directory = Path(directory)
        index_fields, vidsim_fields = split_overrides(overrides or {})
        stored = StoredConfig.read(directory / CONFIG_FILE) if cls.exists(directory) else None
        if stored is None:
            if not create:
                raise VidsimError(f"{directory}: no vidsim index here (no {CONFIG_FILE})")
            if directory.exists() and any(p.name != LOCK_FILE and not p.name.startswith(".") for p in directory.iterdir()):
                raise VidsimError(f"{directory}: not a vidsim index (no {CONFIG_FILE}) and not empty; use a new directory")
        asked = with_overrides(config or (stored.index if stored else IndexConfig()), index_fields)
        if vidsim_fields:
            if model is not None and not isinstance(model, VidsimConfig):
                raise ValueError("vidsim.* overrides apply to a VidsimConfig, not to a built model")
            model = with_overrides(model or (stored.vidsim if stored else VidsimConfig()), vidsim_fields)
        if model is None and stored is None:
            model = VidsimConfig()
        if isinstance(model, VidsimConfig):
            from vidsim.model import ViSiL

            model = ViSiL(model, device=device)
        if stored is not None:
            check_storage(directory, stored, asked)
            if model is not None:
                check_model(directory, stored, model)
            return cls(directory, stored, asked.search, model, cache, device)
        assert model is not None
        if asked.code_dims is not None and model.head.learned and asked.code_dims < model.extractor.dims:
            raise ModelError("code_dims truncates the region features, which the learned head's attention "
                             "cannot take: use the chamfer head or keep all dims")
        directory.mkdir(parents=True, exist_ok=True)
        if asked.vectors == "milvus":  # name the collection, check that Milvus answers
            from vidsim.index.milvus import creation_config

            asked = creation_config(asked, directory)
        stored = StoredConfig(asked, model.config, model.feature_key, model.extractor.dims,
                              model.extractor.weights_version)
        with atomic_open(directory / CONFIG_FILE, "w", durable=True) as fh:
            fh.write(stored.to_json())
        return cls(directory, stored, asked.search, model, cache, device)

    @staticmethod
    def exists(directory: str | os.PathLike[str]) -> bool:
        """Whether `directory` holds an index (its config.json)."""
        return (Path(directory) / CONFIG_FILE).is_file()

    def close(self) -> None:
        self.vectors.close()
        self.catalog.close()

    def __enter__(self) -> Index:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    # --- model --------------------------------------------------------------------------
    @property
    def model(self) -> ViSiL:
        """The ViSiL model that embeds videos (built from the stored configuration on first use)."""
        if self._model is None:
            from vidsim.model import ViSiL

            model = ViSiL(self.stored.vidsim, device=self._device)
            check_model(self.directory, self.stored, model)
            self._model = model
        return self._model

    @property
    def model_config(self) -> VidsimConfig:
        """The configuration videos are embedded with: the model's when one was given or built
        (options given when opening), else the index's own; what an engine's workers build."""
        return self._model.config if self._model is not None else self.stored.vidsim

    @property
    def head(self) -> ViSiLHead:
        """The similarity head used for re-ranking (the model's, or one built without the backbone)."""
        if self._model is not None:
            return self._model.head
        if self._head is None:
            from vidsim.similarity import ViSiLHead

            self._head = ViSiLHead.from_config(self.stored.vidsim.similarity, self.stored.dims)
        return self._head

    @property
    def feature_key(self) -> str:
        return self.stored.feature_key

    # --- reading --------------------------------------------------------------------------
    def list(self) -> list[VideoRecord]:
        return self.catalog.videos()

    def get(self, video_id: int) -> VideoRecord | None:
        return self.catalog.get(video_id)

    def __len__(self) -> int:
        return self.catalog.totals()[0]

    def stats(self) -> IndexStats:
        self.vectors.sync()
        videos, seconds, frames, _codes_bytes = self.catalog.totals()
        store = self.vectors.store
        return IndexStats(videos, seconds, frames, store.ntotal, store.kind,
                          self.stored.index.codes_label(self.stored.dims), disk_usage(self.directory), store.describe())

    def load_codes(self, video_id: int, frames: tuple[int, int] | None = None,
                   record: VideoRecord | None = None) -> tuple[np.ndarray, np.ndarray] | None:
        """Decoded regions [P, R, d] float32 and timestamps of an indexed video, or of its frames
        [first, stop) (None if the video is absent). The file's checksum is verified on its first
        read by this object (and again if it changes); CodesDamagedError when it is missing,
        unreadable or fails the checksum."""
        return self._read(video_id, record, lambda path: read_codes(path, self.codec, frames))

    def load_targets(self, video_id: int, frames: tuple[int, int] | None, dims: int,
                     record: VideoRecord | None = None) -> tuple[Targets, np.ndarray] | None:
        """As `load_codes`, the codes as the re-rank compares them (`Codec.targets`: the signs of
        binary codes, int8 codes' integers and scales, not decoded) with query regions of `dims` dims."""
        return self._read(video_id, record, lambda path: read_targets(path, self.codec, frames, dims))

    def _read(self, video_id: int, record: VideoRecord | None,
              read: Callable[[Path], tuple[_T, np.ndarray]]) -> tuple[_T, np.ndarray] | None:
        record = record or self.catalog.get(video_id)
        if record is None:
            return None
        path = self.directory / record.codes_file
        try:
            stat = path.stat()
            key = (stat.st_size, stat.st_mtime_ns, stat.st_ino)
            if self._verified.get(path) != key:
                inspect_codes(path, self.codec)
                self._verified[path] = key
            return read(path)
        except FileNotFoundError:
            if self.catalog.get(record.id) is None:  # removed by another process meanwhile
                return None
            raise CodesDamagedError(path, "codes file missing") from None

    # --- search ---------------------------------------------------------------------------
    @property
    def similarity_config(self) -> SimilarityConfig:
        """How this session compares videos: the model's (options given when opening), else the index's."""
        return self._model.config.similarity if self._model is not None else self.stored.vidsim.similarity

    def decision(self, threshold: float | None = None) -> CopyDecision:
        """How this index's results are decided copies: `threshold` when given, else the one
        shipped for its backbone, head and codes (`vidsim.decision`) and this session's similarity
        switches, else none (with a note)."""
        scored_with = dataclasses.replace(self.stored.vidsim, similarity=self.similarity_config)
        if threshold is not None:
            return copy_decision(scored_with, self.stored.feature_key, "", threshold)
        if self._decision is None:
            self._decision = copy_decision(scored_with, self.stored.feature_key,
                                           threshold_codes(self.stored.index, self.stored.dims))
        return self._decision

    def search(self, query: str | os.PathLike[str] | VideoFeatures, top_k: int = 10, *,
               min_similarity: float | None = None, segments: bool = True,
               progress: FrameProgress | None = None, threshold: float | None = None,
               mirror: VideoFeatures | None = None, candidates: int | None = None) -> SearchResults:
        """Indexed videos most similar to `query` (a video, a .safetensors feature file, or
        VideoFeatures), best first, with their copied segments and copy decision: a list of
        `Match`, whose `warnings` name the videos left out because their codes files are damaged
        (each also issued as an `IndexDamageWarning`) and whose `decision` set `is_copy`
        (`threshold` overrides the shipped threshold for this call). With `flip_query`, a video
        query's mirror image is searched too, each video scored by the better view; `mirror`: that
        view's features, given. `candidates`: videos re-ranked for this call (default: the
        session's `SearchConfig.candidates`; at least `top_k`)."""
        decision = self.decision(threshold)
        features = self.features_of(query, progress)
        if mirror is None:
            mirror = self.mirror_of(query, progress)
        if mirror is not None:
            check_features(self.directory, self.stored, mirror)
        self.vectors.sync()
        store = self.vectors.store
        skipped: dict[int, str] = {}
        for video_id, why in self.vectors.unreadable.items():
            record = self.catalog.get(video_id)
            if record is not None:
                skipped[video_id] = f"{self.directory / record.codes_file}: {why}; {unsearchable(record, self.directory)}"
        if features.num_frames == 0 or store.ntotal == 0:
            return _results([], skipped, decision)
        config, fps = self.search_config, self.stored.vidsim.decode.fps
        if candidates is not None:
            config = dataclasses.replace(config, candidates=candidates)
        if config.candidates < top_k:  # re-rank at least as many videos as results asked for
            config = dataclasses.replace(config, candidates=top_k)
        min_std = self.similarity_config.min_frame_std
        records: dict[int, VideoRecord | None] = {}

        def frames_of(video_id: int) -> int | None:
            record = records[video_id] = self.catalog.get(video_id)  # None if removed meanwhile
            return record.frames if record else None

        def load(video_id: int, first: int, stop: int) -> tuple[Targets, np.ndarray] | None:
            record = records[video_id]
            try:
                return self.load_targets(video_id, (first, stop), regions.shape[-1], record)
            except CodesDamagedError as exc:  # skip this video, serve the rest
                assert record is not None
                skipped[video_id] = f"{exc}; {unsearchable(record, self.directory)}"
                return None

        def window_keep(video_id: int, first: int, stop: int) -> np.ndarray | None:
            record = records[video_id]
            if record is None:
                return None
            try:
                return informative_frames(read_frame_std(self.directory / record.codes_file, (first, stop)), min_std)
            except (CodesDamagedError, FileNotFoundError):  # its codes were read a moment ago: compare it whole
                return None

        best: dict[int, tuple[Reranked, tuple[Segment, ...]]] = {}
        for view in [features] if mirror is None else [features, mirror]:
            regions = self.codec.prepare_query(view.regions)
            query_keep = informative_frames(view.frame_std, min_std)
            found = find_candidates(store, self.vectors.ranges, frame_vectors(regions), config, fps, query_keep)
            for scored, segs in rerank_candidates(self.head, regions, view.timestamps, found, frames_of, load, config,
                                                  fps, top_k, min_similarity, segments, lift=self.codec.lift,
                                                  query_keep=query_keep,
                                                  window_keep=window_keep if min_std > 0 else None):
                if view is mirror:  # counts by what it gains beyond the margin (similarity.views)
                    scored = dataclasses.replace(scored, similarity=scored.similarity - self.similarity_config.flip_margin)
                    if min_similarity is not None and scored.similarity < min_similarity:
                        continue
                if scored.video_id not in best or scored.similarity > best[scored.video_id][0].similarity:
                    best[scored.video_id] = (scored, segs)
        ranked = sorted(best.values(), key=lambda item: -item[0].similarity)[:top_k]
        return _results([Match(r.video_id, _path_of(records[r.video_id]), r.similarity, segs,
                               decision.is_copy(r.similarity)) for r, segs in ranked], skipped, decision)

    def mirror_of(self, query: str | os.PathLike[str] | VideoFeatures,
                  progress: FrameProgress | None = None) -> VideoFeatures | None:
        """With `flip_query`, the features of a video query's horizontal mirror image; None otherwise
        (the switch is off, or the query is features, which hold no pictures to mirror)."""
        if not self.similarity_config.flip_query or isinstance(query, VideoFeatures) or Path(query).suffix == FEATURE_SUFFIX:
            return None
        return self.model.extract_video(Path(query), cache=self.cache, progress=progress, mirror=True)

    def features_of(self, query: str | os.PathLike[str] | VideoFeatures,
                    progress: FrameProgress | None = None, then: NextVideo | None = None) -> VideoFeatures:
        """Features of a query, checked against the index's configuration; `then` names the video to
        decode next, in the background (see `ViSiL.extract_video`)."""
        if isinstance(query, VideoFeatures):
            features = query
        else:
            path = Path(query)
            if path.suffix == FEATURE_SUFFIX:
                from vidsim.store import load_features

                features = load_features(path)
            else:
                features = self.model.extract_video(path, cache=self.cache, progress=progress, then=then)
        check_features(self.directory, self.stored, features)
        return features

    # --- writing ----------------------------------------------------------------------------
    def add(self, paths: Iterable[str | os.PathLike[str]],
            progress: Callable[[AddProgress], None] | None = None, *,
            sources: Mapping[Path, tuple[str, str]] | None = None, engine: Engine | None = None) -> AddReport:
        """Index videos (directories searched recursively). Already indexed content (same
        SHA-256) is skipped; unreadable files are reported and skipped, the rest go on.
        `sources`: the (path, name) to record for a file given, instead of its own (a file
        uploaded to `vidsim serve`, spooled under a temporary name). `engine`: where videos are
        embedded (`vidsim.engine`, e.g. Ray workers; None: here, in turn); this process writes
        every row either way, in the order the engine's results come."""
        return self._ingest.add(paths, progress, self.snapshot_seconds, sources, engine)

    def remove(self, video_ids: int | np.integer | Iterable[int]) -> builtins.list[VideoRecord]:
        """Remove videos by id (all or none: unknown ids raise VidsimError before any removal)."""
        return self._ingest.remove(video_ids)


def _results(matches: builtins.list[Match], skipped: dict[int, str], decision: CopyDecision) -> SearchResults:
    """The matches with the notes of skipped videos, each also issued as a warning."""
    for note in skipped.values():
        warnings.warn(IndexDamageWarning(note), stacklevel=3)
    return SearchResults(matches, tuple(skipped.values()), decision)


def _path_of(record: VideoRecord | None) -> str:
    assert record is not None  # re-ranked videos were found in the catalog
    return record.path
