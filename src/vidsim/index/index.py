"""The `Index` facade: a directory holding indexed videos, searchable for copies.

    index = Index.open("my-index")                 # created with the default configuration
    report = index.add(["videos/"])                # directories searched recursively
    for match in index.search("query.mp4", top_k=5):
        print(match.video_id, match.path, match.similarity, match.segments)

Layout of the directory:

    config.json          IndexConfig + VidsimConfig + feature key (written once, at creation)
    catalog.sqlite       SQLite (WAL): one row per video, the source of truth
    codes/ab/<sha256>.safetensors   compact region features of one video (re-ranking)
    vectors.faiss        snapshot of the frame-vector store, with a watermark (a video id)
    write.lock           held (flock) by the one process adding or removing videos

Crash safety: a video's codes file is written, fsynced and renamed into place before its row
commits; the row carries the video's vector ids. The vector snapshot is rewritten atomically
after each add (and every few minutes during a long one) with the highest video id it holds
(its watermark); opening the index adds the vectors of committed videos past the watermark
(from their codes files) and drops those of videos removed since. So a kill at any moment
leaves an index that opens, holds every video whose row committed, and resumes: files left
by an unfinished add (temporary files, a codes file whose row never committed) are deleted by
the next add. Readers need no lock: SQLite's WAL lets them read while a writer commits, and a
search first catches up with rows committed since the index was opened.
"""
from __future__ import annotations

import dataclasses
import fcntl
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np

from vidsim.config import VidsimConfig
from vidsim.errors import ConfigMismatchError, IndexBusyError, ModelError, VidsimError, VideoError
from vidsim.features.types import VideoFeatures
from vidsim.index.catalog import Catalog, VectorRanges, VideoRecord
from vidsim.fsutil import atomic_open, fsync_dir
from vidsim.index.codes import Codec, codec_of, frame_vectors, read_codes, write_codes
from vidsim.index.config import IndexConfig, SearchConfig, StoredConfig, config_differences
from vidsim.index.search import Match, find_candidates, rerank_candidates
from vidsim.index.vectors import FaissStore, VectorStore, choose_kind

CONFIG_FILE = "config.json"
CATALOG_FILE = "catalog.sqlite"
CODES_DIR = "codes"
VECTORS_FILE = "vectors.faiss"
LOCK_FILE = "write.lock"
FEATURE_SUFFIX = ".safetensors"


@dataclass(frozen=True)
class AddProgress:
    """Reported to `Index.add`'s progress callback as work advances."""

    event: str  # "start" (a video begins), "frames" (frames embedded), "added", "skipped", "failed"
    path: str
    videos_done: int  # videos finished (added, skipped or failed) in this call
    videos_total: int
    seconds: float  # seconds of video embedded in this call (the current video included)
    frames: int  # frames embedded in this call
    message: str = ""  # why a video was skipped or failed


@dataclass(frozen=True)
class AddReport:
    added: tuple[VideoRecord, ...] = ()
    skipped: tuple[tuple[str, str], ...] = ()  # (path, reason): already indexed
    failed: tuple[tuple[str, str], ...] = ()  # (path, reason): unreadable videos

    @property
    def seconds(self) -> float:
        return sum(r.duration for r in self.added)

    @property
    def frames(self) -> int:
        return sum(r.frames for r in self.added)


@dataclass(frozen=True)
class IndexStats:
    videos: int
    seconds: float
    frames: int
    vectors: int  # frame vectors in the vector store
    vector_kind: str  # flat, ivf or hnsw
    codes: str  # codes kind and dims, e.g. "float16x256"
    bytes: dict[str, int] = field(default_factory=dict)  # on disk, by component

    @property
    def hours(self) -> float:
        return self.seconds / 3600.0

    @property
    def total_bytes(self) -> int:
        return sum(self.bytes.values())


class Index:
    """A searchable collection of videos in one directory (see the module docstring)."""

    snapshot_seconds = 300.0  # during a long add, rewrite the vector snapshot this often

    def __init__(self, directory: Path, stored: StoredConfig, search: SearchConfig, model, cache, device):
        self.directory = directory
        self.stored = stored
        self.search_config = search
        self.cache = cache
        self._device = device
        self._model = model
        self._head = None
        self.codec: Codec = codec_of(stored.index)
        self.catalog = Catalog(directory / CATALOG_FILE)
        self._store: VectorStore | None = None
        self._watermark = 0  # every live video with id <= watermark has its vectors in _store
        self._ranges = VectorRanges.of([])
        self._data_version: int | None = None
        self._lock_fd: int | None = None
        self._dirty = False  # the in-memory store holds vectors the snapshot lacks
        self._sync()
        self._save_if_free()

    # --- opening ------------------------------------------------------------------------
    @classmethod
    def open(cls, directory: str | os.PathLike, config: IndexConfig | None = None, create: bool = True, *,
             model=None, cache=None, device: str = "cpu") -> "Index":
        """Open the index in `directory`, creating it (with `config` and `model`'s configuration,
        defaults otherwise) if there is none and `create` is true.

        `config`: for an existing index its storage fields must match (ConfigMismatchError
        otherwise); its search fields apply to this session. `model`: a `vidsim.ViSiL` or a
        `VidsimConfig` whose feature configuration must match the index's; None builds one
        from the stored configuration when a video has to be embedded. `cache`: a FeatureCache
        used when embedding videos.
        """
        directory = Path(directory)
        config_path = directory / CONFIG_FILE
        if isinstance(model, VidsimConfig):
            from vidsim.model import ViSiL

            model = ViSiL(model, device=device)
        if config_path.is_file():
            stored = StoredConfig.read(config_path)
            if config is not None:
                diffs = config_differences(stored.index.storage(), config.storage())
                if diffs:
                    raise ConfigMismatchError(
                        f"{directory}: the index was created with another storage configuration: " + "; ".join(diffs)
                    )
            if model is not None:
                _check_model(directory, stored, model)
            return cls(directory, stored, (config or stored.index).search, model, cache, device)
        if not create:
            raise VidsimError(f"{directory}: no vidsim index here (no {CONFIG_FILE})")
        if directory.exists() and any(p.name != LOCK_FILE and not p.name.startswith(".") for p in directory.iterdir()):
            raise VidsimError(f"{directory}: not a vidsim index (no {CONFIG_FILE}) and not empty; use a new directory")
        config = config or IndexConfig()
        if model is None:
            from vidsim.model import ViSiL

            model = ViSiL(VidsimConfig(), device=device)
        if config.code_dims is not None and model.head.learned and config.code_dims < model.extractor.dims:
            raise ModelError("code_dims truncates the region features, which the learned head's attention "
                             "cannot take: use the chamfer head or keep all dims")
        stored = StoredConfig(config, model.config, model.feature_key, model.extractor.dims, model.extractor.weights_version)
        directory.mkdir(parents=True, exist_ok=True)
        _write_atomic(config_path, stored.to_json())
        return cls(directory, stored, config.search, model, cache, device)

    def close(self) -> None:
        self.catalog.close()

    def __enter__(self) -> "Index":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # --- model --------------------------------------------------------------------------
    @property
    def model(self):
        """The ViSiL model that embeds videos (built from the stored configuration on first use)."""
        if self._model is None:
            from vidsim.model import ViSiL

            model = ViSiL(self.stored.vidsim, device=self._device)
            _check_model(self.directory, self.stored, model)
            self._model = model
        return self._model

    @property
    def head(self):
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
        self._sync()
        videos, seconds, frames, codes_bytes = self.catalog.totals()
        sizes = {
            "catalog": sum(_size(self.directory / f"{CATALOG_FILE}{s}") for s in ("", "-wal", "-shm")),
            "codes": _tree_size(self.directory / CODES_DIR),
            "vectors": _size(self.directory / VECTORS_FILE),
            "config": _size(self.directory / CONFIG_FILE),
        }
        return IndexStats(videos, seconds, frames, self._store.ntotal, self._store.kind,
                          self.stored.index.codes_label(self.stored.dims), sizes)

    def load_codes(self, video_id: int, frames: tuple[int, int] | None = None,
                   record: VideoRecord | None = None) -> tuple[np.ndarray, np.ndarray] | None:
        """Decoded regions [P, 9, d] float32 and timestamps of an indexed video, or of its frames
        [first, stop) (None if the video is absent)."""
        record = record or self.catalog.get(video_id)
        if record is None:
            return None
        try:
            return read_codes(self.directory / record.codes_file, self.codec, frames)
        except FileNotFoundError:  # removed by another process meanwhile
            return None

    # --- search ---------------------------------------------------------------------------
    def search(self, query: str | os.PathLike | VideoFeatures, top_k: int = 10, *,
               min_similarity: float | None = None, segments: bool = True,
               progress: Callable[[int, float], None] | None = None) -> list[Match]:
        """Indexed videos most similar to `query` (a video, a .safetensors feature file, or
        VideoFeatures), best first, with their copied segments."""
        features = self.features_of(query, progress)
        self._sync()
        if features.num_frames == 0 or self._store.ntotal == 0:
            return []
        config, fps = self.search_config, self.stored.vidsim.decode.fps
        if config.candidates < top_k:  # re-rank at least as many videos as results asked for
            config = dataclasses.replace(config, candidates=top_k)
        regions = self.codec.prepare_query(features.regions)
        found = find_candidates(self._store, self._ranges, frame_vectors(regions), config, fps)
        records = {}

        def frames_of(video_id: int) -> int | None:
            records[video_id] = self.catalog.get(video_id)  # None if removed meanwhile
            return records[video_id].frames if records[video_id] else None

        def load(video_id: int, first: int, stop: int):
            return self.load_codes(video_id, (first, stop), records[video_id])

        ranked = rerank_candidates(self.head, regions, features.timestamps, found, frames_of, load, config, fps,
                                   top_k, min_similarity, segments)
        return [Match(r.video_id, records[r.video_id].path, r.similarity, segs) for r, segs in ranked]

    def features_of(self, query, progress=None) -> VideoFeatures:
        """Features of a query, checked against the index's configuration."""
        if isinstance(query, VideoFeatures):
            features = query
        else:
            path = Path(query)
            if path.suffix == FEATURE_SUFFIX:
                from vidsim.store import load_features

                features = load_features(path)
            else:
                features = self.model.extract_video(path, cache=self.cache, progress=progress)
        if features.feature_key and features.feature_key != self.stored.feature_key:
            raise ConfigMismatchError(
                f"{features.source or 'query'}: features made with configuration {features.feature_key}, "
                f"but the index {self.directory} holds {self.stored.feature_key}; extract the query with the "
                f"index's options (see {self.directory / CONFIG_FILE})"
            )
        if features.dims != self.stored.dims:
            raise ConfigMismatchError(f"{features.source or 'query'}: {features.dims}-d features, index has {self.stored.dims}-d")
        return features

    # --- writing ----------------------------------------------------------------------------
    def add(self, paths: Iterable[str | os.PathLike], progress: Callable[[AddProgress], None] | None = None) -> AddReport:
        """Index videos (directories searched recursively). Already indexed content (same
        SHA-256) is skipped; unreadable files are reported and skipped, the rest go on."""
        from vidsim.decode import find_videos

        files: list[Path] = []
        failed: list[tuple[str, str]] = []
        for item in paths:
            try:
                files += find_videos([item])
            except VideoError as exc:
                failed.append((exc.path, exc.reason))
        added: list[VideoRecord] = []
        skipped: list[tuple[str, str]] = []
        total_frames, total_seconds = 0, 0.0
        videos_total = len(files) + len(failed)

        def report(event: str, path: Path, current: float = 0.0, message: str = "") -> None:
            if progress is not None:
                done = len(added) + len(skipped) + len(failed)
                progress(AddProgress(event, str(path), done, videos_total, total_seconds + current,
                                     total_frames, message))

        with self._write_lock():
            self._cleanup()
            self._sync()
            for path, reason in failed:
                report("failed", Path(path), message=reason)
            last_snapshot = time.monotonic()
            for path in files:
                report("start", path)

                def on_frames(count: int, reached: float, path: Path = path) -> None:
                    nonlocal total_frames
                    total_frames += count
                    report("frames", path, reached)

                try:
                    record, reason = self._add_one(path, on_frames)
                except VideoError as exc:
                    failed.append((str(path), exc.reason))
                    report("failed", path, message=exc.reason)
                    continue
                if record is None:
                    skipped.append((str(path), reason))
                    report("skipped", path, message=reason)
                    continue
                added.append(record)
                total_seconds += record.duration
                report("added", path)
                if time.monotonic() - last_snapshot > self.snapshot_seconds:
                    self._save_vectors()
                    last_snapshot = time.monotonic()
            if self._dirty:
                self._save_vectors()
            self.catalog.checkpoint()
        return AddReport(tuple(added), tuple(skipped), tuple(failed))

    def remove(self, video_ids: int | Iterable[int]) -> list[VideoRecord]:
        """Remove videos by id (all or none: unknown ids raise VidsimError before any removal)."""
        ids = [int(video_ids)] if isinstance(video_ids, (int, np.integer)) else [int(i) for i in video_ids]
        with self._write_lock():
            self._sync()
            unknown = [i for i in ids if self.catalog.get(i) is None]
            if unknown:
                raise VidsimError(f"{self.directory}: no video with id {', '.join(map(str, unknown))}")
            removed = []
            for video_id in dict.fromkeys(ids):
                record = self.catalog.delete(video_id)
                (self.directory / record.codes_file).unlink(missing_ok=True)
                removed.append(record)
            self._store.remove(np.concatenate([np.arange(r.first_vector, r.first_vector + r.frames) for r in removed]))
            self._sync(force=True)
            self._dirty = True
            self._save_vectors()
            self.catalog.checkpoint()
        return removed

    def _add_one(self, path: Path, frames_cb) -> tuple[VideoRecord | None, str]:
        from vidsim.store import content_hash

        file_hash = content_hash(path)
        existing = self.catalog.by_hash(file_hash)
        if existing is not None:
            return None, f"already indexed as {existing.id} ({existing.path})"
        duration = 0.0
        if path.suffix != FEATURE_SUFFIX:
            from vidsim.decode import probe

            duration = float(probe(path).duration or 0.0)
        features = self.features_of(path, frames_cb)
        if features.num_frames == 0:
            from vidsim.errors import NoFramesError

            raise NoFramesError(path, "no frames sampled")
        if not duration:
            duration = float(features.timestamps[-1]) + 1.0 / self.stored.vidsim.decode.fps
        relative = f"{CODES_DIR}/{file_hash[:2]}/{file_hash}{FEATURE_SUFFIX}"
        meta = {"content_hash": file_hash, "source": str(path), "feature_key": self.stored.feature_key}
        codes_bytes = write_codes(self.directory / relative, self.codec, features.regions, features.timestamps, meta)
        record = self.catalog.insert(file_hash, str(path), path.stem, duration, features.num_frames, relative,
                                     codes_bytes, _size(path))
        # vectors from the decoded codes, exactly as a rebuild from the files would make them
        decoded = self.codec.decode(self.codec.encode(features.regions))
        self._store.add(np.arange(record.first_vector, record.first_vector + record.frames), frame_vectors(decoded))
        self._ranges = self._ranges.appended(record)
        self._watermark = max(self._watermark, record.id)
        self._dirty = True
        return record, ""

    # --- vectors: snapshot and catch-up -------------------------------------------------------
    def _sync(self, force: bool = False) -> None:
        """Bring the in-memory vector store up to the committed catalog (a no-op when no other
        connection committed since the last call; `force` after this object's own removals)."""
        version = self.catalog.data_version()
        if self._store is not None and version == self._data_version and not force:
            return
        if self._store is None:
            # snapshot first, rows second: every row up to the snapshot's watermark had committed
            # before the snapshot was written, so the rows read next include them all
            self._store, self._watermark = self._load_vectors()
            self._dirty = False
        records = self.catalog.videos()
        expected = sum(r.frames for r in records if r.id <= self._watermark)
        if self._store.ntotal != expected:  # removals since the snapshot (or a damaged one)
            for _vid, first, frames in self.catalog.removed_since(self._watermark):
                self._store.remove(np.arange(first, first + frames))
            if self._store.ntotal != expected:
                self._store = self._rebuild(records)
            self._dirty = True
        new = [r for r in records if r.id > self._watermark]
        for record in new:
            data = self.load_codes(record.id)
            if data is not None:
                self._store.add(np.arange(record.first_vector, record.first_vector + record.frames), frame_vectors(data[0]))
            self._dirty = True
        if records:
            self._watermark = max(self._watermark, records[-1].id)
        self._ranges = VectorRanges.of(records)
        self._data_version = version

    def _vector_dims(self) -> int:
        return self.stored.index.code_dims or self.stored.dims

    def _load_vectors(self) -> tuple[VectorStore, int]:
        """The snapshot and its watermark; an empty store (watermark 0) if there is none or it
        is unreadable or stale: the catch-up then adds every video from its codes file."""
        try:
            store, header = FaissStore.load(self.directory / VECTORS_FILE)
        except (FileNotFoundError, VidsimError):
            store = None
        if store is not None and header.get("feature_key") == self.stored.feature_key and store.dims == self._vector_dims():
            return store, int(header.get("watermark", 0))
        config = self.stored.index
        return FaissStore.empty("hnsw" if config.vectors == "hnsw" else "flat", self._vector_dims(), config.hnsw_m), 0

    def _rebuild(self, records: Sequence[VideoRecord], kind: str | None = None) -> VectorStore:
        """A new store from the codes files of `records` (ids up to the watermark)."""
        ids, vectors = [], []
        for record in records:
            if record.id > self._watermark:
                continue
            data = self.load_codes(record.id)
            if data is None:
                continue
            ids.append(np.arange(record.first_vector, record.first_vector + record.frames))
            vectors.append(frame_vectors(data[0]))
        dims = self._vector_dims()
        ids_arr = np.concatenate(ids) if ids else np.zeros(0, np.int64)
        vec_arr = np.concatenate(vectors) if vectors else np.zeros((0, dims), np.float32)
        config = self.stored.index
        kind = kind or choose_kind(config.vectors, len(ids_arr), config.flat_max_vectors)
        if kind == "ivf" and len(ids_arr) < 1000:  # too few vectors to train an IVF
            kind = "flat"
        return FaissStore.build(kind, dims, ids_arr, vec_arr, lists=config.ivf_lists, hnsw_m=config.hnsw_m)

    def _save_vectors(self) -> None:
        """Write the snapshot (writer lock held), switching the store's kind first if the policy says so."""
        config = self.stored.index
        wanted = choose_kind(config.vectors, self._store.ntotal, config.flat_max_vectors)
        if wanted == "ivf" and self._store.ntotal >= 1000 and (
            self._store.kind != "ivf" or self._store.ntotal > 4 * max(1, self._store.trained_on)
        ):
            self._store = self._rebuild(self.catalog.videos(), "ivf")
        header = {"watermark": self._watermark, "feature_key": self.stored.feature_key, "written": time.time()}
        self._store.save(self.directory / VECTORS_FILE, header)
        fsync_dir(self.directory)
        self._dirty = False

    def _save_if_free(self) -> None:
        """After opening: persist catch-up work if no other process is writing."""
        if not self._dirty:
            return
        try:
            with self._write_lock():
                self._save_vectors()
        except IndexBusyError:
            pass

    # --- locking and cleanup -------------------------------------------------------------------
    def _write_lock(self):
        return _WriteLock(self)

    def _cleanup(self) -> None:
        """Delete what an interrupted writer left: temporary files, codes files with no row."""
        for tmp in self.directory.glob(".*.tmp"):
            tmp.unlink(missing_ok=True)
        codes = self.directory / CODES_DIR
        if not codes.is_dir():
            return
        referenced = self.catalog.codes_files()
        for path in codes.rglob("*"):
            if path.is_file():
                relative = path.relative_to(self.directory).as_posix()
                if path.name.startswith(".") or relative not in referenced:
                    path.unlink(missing_ok=True)


class _WriteLock:
    """flock on DIR/write.lock: one writer at a time; released by the OS if the process dies."""

    def __init__(self, index: Index):
        self.index = index

    def __enter__(self):
        if self.index._lock_fd is not None:
            raise VidsimError("the index is already being written by this process")
        fd = os.open(self.index.directory / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise IndexBusyError(f"{self.index.directory}: another process is adding or removing videos; try again "
                                 "when it has finished (searching works meanwhile)") from None
        self.index._lock_fd = fd
        return self

    def __exit__(self, *exc):
        fd, self.index._lock_fd = self.index._lock_fd, None
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
        return False


def _check_model(directory: Path, stored: StoredConfig, model) -> None:
    if model.feature_key != stored.feature_key:
        diffs = config_differences(
            {"decode": stored.vidsim.to_dict()["decode"], "features": stored.vidsim.to_dict()["features"]},
            {"decode": model.config.to_dict()["decode"], "features": model.config.to_dict()["features"]},
        )
        volatile = ("batch_size", "strategy", "threads", "max_pixels")
        diffs = [d for d in diffs if not any(d.split(":")[0].endswith("." + v) for v in volatile)]
        detail = "; ".join(diffs) or "the backbone weights or whitening files differ from those used to build it"
        raise ConfigMismatchError(
            f"{directory}: the index was built with another feature configuration ({stored.feature_key}, asked "
            f"for {model.feature_key}): {detail}"
        )


def _write_atomic(path: Path, text: str) -> None:
    with atomic_open(path, "w", durable=True) as fh:
        fh.write(text)


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _tree_size(root: Path) -> int:
    return sum(_size(p) for p in root.rglob("*") if p.is_file()) if root.is_dir() else 0
