"""The frame-vector store kept in step with the catalog, and its snapshot on disk.

The snapshot (DIR/vectors.faiss) carries a watermark: the highest video id whose vectors it
holds. Opening loads it, drops the vectors of videos removed since, and adds those of videos
committed past the watermark from their codes files; a missing, damaged or stale snapshot
is rebuilt from the codes files (a damaged one with an `IndexDamageWarning`). A video whose codes
file cannot be read is left out (with a warning) and named in the snapshot's header
(`unreadable`), so that later opens neither rebuild again nor count its vectors. The snapshot is
only ever a cache of what the catalog and the codes files say: where it cannot be written (a
read-only or full disk), the caught-up store is kept in memory for this session and the next
opening catches up again.
"""
from __future__ import annotations

import time
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from vidsim.errors import CodesDamagedError, IndexBusyError, IndexDamageWarning, VidsimError
from vidsim.fsutil import fsync_dir, write_error_cause
from vidsim.index.catalog import Catalog, VectorRanges, VideoRecord
from vidsim.index.codes import Codec, frame_vectors, inspect_codes, read_codes
from vidsim.index.config import StoredConfig
from vidsim.index.layout import VECTORS_FILE
from vidsim.index.lock import WriteLock
from vidsim.index.vectors import FaissStore, VectorStore, choose_kind

IVF_MIN_VECTORS = 1000  # an IVF needs this many vectors to train; below, `ivf` stays flat


class VectorSync:
    """The in-memory vector store of one `Index` and where it stands against the catalog."""

    def __init__(self, directory: Path, stored: StoredConfig, catalog: Catalog, codec: Codec):
        self.directory = directory
        self.stored = stored
        self.catalog = catalog
        self.codec = codec
        self._store: VectorStore | None = None
        self.watermark = 0  # every live video with id <= watermark has its vectors in the store
        self.ranges = VectorRanges.of([])  # which live video owns a vector id
        self.dirty = False  # the in-memory store holds vectors the snapshot lacks
        self.unreadable: dict[int, str] = {}  # video id -> why its codes file could not be read (no vectors)
        self._data_version: int | None = None

    @property
    def store(self) -> VectorStore:
        """The store (loaded by the first `sync`)."""
        if self._store is None:
            self.sync()
        assert self._store is not None
        return self._store

    @property
    def dims(self) -> int:
        return self.stored.index.code_dims or self.stored.dims

    # --- catching up ----------------------------------------------------------------------
    def sync(self, force: bool = False) -> None:
        """Bring the store up to the committed catalog (a no-op when no other connection
        committed since the last call, as PRAGMA data_version tells; `force` after this
        object's own removals)."""
        version = self.catalog.data_version()
        if self._store is not None and version == self._data_version and not force:
            return
        if self._store is None:
            # snapshot first, rows second: every row up to the snapshot's watermark had committed
            # before the snapshot was written, so the rows read next include them all
            self._store, self.watermark, self.unreadable = self._load()
            self.dirty = False
        store = self._store
        records = self.catalog.videos()
        live = {r.id for r in records}
        self.unreadable = {i: why for i, why in self.unreadable.items() if i in live}
        expected = sum(r.frames for r in records if r.id <= self.watermark and r.id not in self.unreadable)
        if store.ntotal != expected:  # removals since the snapshot (or a damaged one)
            for _vid, first, frames in self.catalog.removed_since(self.watermark):
                store.remove(np.arange(first, first + frames))
            if store.ntotal != expected:
                store = self._store = self._rebuild(records)
            self.dirty = True
        for record in (r for r in records if r.id > self.watermark):
            vectors = self._vectors_of(record)
            if vectors is not None:
                store.add(_ids_of(record), vectors)
            self.dirty = True
        if records:
            self.watermark = max(self.watermark, records[-1].id)
        self.ranges = VectorRanges.of(records)
        self._data_version = version

    # --- this process's own writes ----------------------------------------------------------
    def added(self, record: VideoRecord, vectors: np.ndarray) -> None:
        """Take the vectors of a video this process just committed."""
        self.store.add(_ids_of(record), vectors)
        self.ranges = self.ranges.appended(record)
        self.watermark = max(self.watermark, record.id)
        self.dirty = True

    def replaced(self, record: VideoRecord, vectors: np.ndarray) -> None:
        """Take the vectors of a video whose codes file this process rewrote (its ids unchanged)."""
        ids = _ids_of(record)
        self.store.remove(ids)
        self.store.add(ids, vectors)
        self.unreadable.pop(record.id, None)
        self.dirty = True

    def removed(self, records: Sequence[VideoRecord]) -> None:
        """Drop the vectors of videos this process just deleted from the catalog."""
        self.store.remove(np.concatenate([_ids_of(r) for r in records]))
        self.sync(force=True)
        self.dirty = True

    # --- snapshots ------------------------------------------------------------------------------
    def save(self) -> None:
        """Write the snapshot (writer lock held), switching the store's kind first if the policy says so."""
        config, store = self.stored.index, self.store
        wanted = choose_kind(config.vectors, store.ntotal, config.flat_max_vectors)
        if wanted == "ivf" and store.ntotal >= IVF_MIN_VECTORS and (
            store.kind != "ivf" or store.ntotal > 4 * max(1, store.trained_on)
        ):
            store = self._store = self._rebuild(self.catalog.videos(), "ivf")
        header = {"watermark": self.watermark, "feature_key": self.stored.feature_key, "written": time.time(),
                  "unreadable": {str(i): why for i, why in sorted(self.unreadable.items())}}
        store.save(self.directory / VECTORS_FILE, header)
        fsync_dir(self.directory)
        self.dirty = False

    def save_if_free(self, lock: WriteLock) -> None:
        """After opening: persist catch-up work if no other process is writing and the disk
        takes it (otherwise the store stays in memory: reading never needs to write)."""
        if not self.dirty or self.catalog.read_only:
            return
        try:
            with lock:
                self.save()
        except IndexBusyError:
            pass
        except Exception as exc:  # only failed writes are expected here
            if write_error_cause(exc, self.directory) is None:
                raise

    def _load(self) -> tuple[VectorStore, int, dict[int, str]]:
        """The snapshot, its watermark and the videos it lacks because their codes were
        unreadable; an empty store (watermark 0) if there is none or it is damaged (with a
        warning) or stale: the catch-up then adds every video from its codes file."""
        store: FaissStore | None
        path = self.directory / VECTORS_FILE
        try:
            store, header = FaissStore.load(path)
        except FileNotFoundError:
            store = None
        except VidsimError as exc:
            warnings.warn(IndexDamageWarning(f"{exc}; rebuilt from the codes files"), stacklevel=3)
            store = None
        if store is not None and header.get("feature_key") == self.stored.feature_key and store.dims == self.dims:
            return store, int(header.get("watermark", 0)), _unreadable_of(header)
        config = self.stored.index
        return FaissStore.empty("hnsw" if config.vectors == "hnsw" else "flat", self.dims, config.hnsw_m), 0, {}

    def _rebuild(self, records: Sequence[VideoRecord], kind: str | None = None) -> VectorStore:
        """A new store from the codes files of `records` (ids up to the watermark)."""
        ids, vectors = [], []
        for record in records:
            if record.id > self.watermark:
                continue
            found = self._vectors_of(record)
            if found is None:
                continue
            ids.append(_ids_of(record))
            vectors.append(found)
        ids_arr = np.concatenate(ids) if ids else np.zeros(0, np.int64)
        vec_arr = np.concatenate(vectors) if vectors else np.zeros((0, self.dims), np.float32)
        config = self.stored.index
        kind = kind or choose_kind(config.vectors, len(ids_arr), config.flat_max_vectors)
        if kind == "ivf" and len(ids_arr) < IVF_MIN_VECTORS:
            kind = "flat"
        return FaissStore.build(kind, self.dims, ids_arr, vec_arr, lists=config.ivf_lists, hnsw_m=config.hnsw_m)

    def _vectors_of(self, record: VideoRecord) -> np.ndarray | None:
        """Frame vectors of a video from its codes file, checksum verified (None if it was
        removed meanwhile, or if the file is missing or damaged: then with a warning)."""
        current = self.catalog.get(record.id)
        if current is None:
            return None
        path = self.directory / current.codes_file
        try:
            inspect_codes(path, self.codec)
            regions, _ = read_codes(path, self.codec)
        except FileNotFoundError:
            if self.catalog.get(record.id) is None:  # removed by another process meanwhile
                return None
            why = "codes file missing"
        except CodesDamagedError as exc:
            why = exc.reason
        else:
            self.unreadable.pop(record.id, None)
            return frame_vectors(regions)
        self.unreadable[record.id] = why
        warnings.warn(IndexDamageWarning(f"{path}: {why}; {unsearchable(current, self.directory)}"), stacklevel=4)
        return None


def unsearchable(record: VideoRecord, directory: Path) -> str:
    """What a user reads about a video whose codes file is missing or damaged."""
    return (f"video {record.id} ({record.path}) is left out of searches until it is added again "
            f"(`vidsim index add {record.path} --index {directory}` rewrites its codes file)")


def _unreadable_of(header: dict) -> dict[int, str]:
    """The `unreadable` entry of a snapshot header ({} when absent or malformed)."""
    found = header.get("unreadable")
    if not isinstance(found, dict):
        return {}
    return {int(k): str(v) for k, v in found.items() if str(k).isdigit()}


def _ids_of(record: VideoRecord) -> np.ndarray:
    """The vector ids a video owns: [first_vector, first_vector + frames)."""
    return np.arange(record.first_vector, record.first_vector + record.frames)
