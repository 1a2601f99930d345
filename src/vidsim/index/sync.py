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

A Milvus store (`vectors: milvus`, vidsim.index.milvus) is shared between processes, so only a
process holding the write lock changes it: opening takes the lock for the catch-up when it is
free (and writes the header, DIR/vectors.milvus.json, the snapshot's counterpart), and otherwise
searches the collection as the writer keeps it, without changing it.
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
from vidsim.index.layout import MILVUS_FILE, VECTORS_FILE
from vidsim.index.lock import WriteLock
from vidsim.index.vectors import FaissStore, VectorStore, choose_kind

IVF_MIN_VECTORS = 1000  # an IVF needs this many vectors to train; below, `ivf` stays flat


class VectorSync:
    """The in-memory vector store of one `Index` and where it stands against the catalog."""

    def __init__(self, directory: Path, stored: StoredConfig, catalog: Catalog, codec: Codec,
                 lock: WriteLock | None = None):
        self.directory = directory
        self.lock = lock  # the index's write lock (a shared store changes only under it); None: the caller holds it
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

    @property
    def shared(self) -> bool:
        """Whether the vectors live in a store other processes share (Milvus)."""
        return self.stored.index.vectors == "milvus"

    @property
    def snapshot_path(self) -> Path:
        return self.directory / (MILVUS_FILE if self.shared else VECTORS_FILE)

    def close(self) -> None:
        if self._store is not None:
            self._store.close()

    # --- catching up ----------------------------------------------------------------------
    def sync(self, force: bool = False) -> None:
        """Bring the store up to the committed catalog (a no-op when no other connection
        committed since the last call, as PRAGMA data_version tells; `force` after this
        object's own removals)."""
        version = self.catalog.data_version()
        if self._store is not None and version == self._data_version and not force:
            return
        if not self.shared or self.lock is None or self.lock.held:
            self._catch_up(version)
            return
        if self.catalog.read_only:
            self._follow(version)
            return
        try:
            with self.lock:
                self._catch_up(version)
                if self.dirty:
                    self._save_quietly()
        except IndexBusyError:  # another process is writing: it keeps the shared store up to date
            self._follow(version)

    def _follow(self, version: int) -> None:
        """Read a shared store as it is (another process writes it): every live video's vectors
        that it holds can be found."""
        if self._store is None:
            self._store, self.watermark, self.unreadable = self._load(writable=False)
        self.ranges = VectorRanges.of(self.catalog.videos())
        self._data_version = version

    def _catch_up(self, version: int) -> None:
        # a shared store may have moved since this process last wrote it: its header says where it stands
        if self._store is None or (self.shared and not self.dirty):
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
                store.add(_ids_of(record), vectors, *_owners(record))
            self.dirty = True
        if records:
            self.watermark = max(self.watermark, records[-1].id)
        self.ranges = VectorRanges.of(records)
        self._data_version = version

    # --- this process's own writes ----------------------------------------------------------
    def added(self, record: VideoRecord, vectors: np.ndarray) -> None:
        """Take the vectors of a video this process just committed."""
        self.store.add(_ids_of(record), vectors, *_owners(record))
        self.ranges = self.ranges.appended(record)
        self.watermark = max(self.watermark, record.id)
        self.dirty = True

    def replaced(self, record: VideoRecord, vectors: np.ndarray) -> None:
        """Take the vectors of a video whose codes file this process rewrote (its ids unchanged)."""
        ids = _ids_of(record)
        self.store.remove(ids)
        self.store.add(ids, vectors, *_owners(record))
        self.unreadable.pop(record.id, None)
        self.dirty = True

    def removed(self, records: Sequence[VideoRecord]) -> None:
        """Drop the vectors of videos this process just deleted from the catalog."""
        self.store.remove_videos([r.id for r in records], np.concatenate([_ids_of(r) for r in records]))
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
        store.save(self.snapshot_path, header)
        fsync_dir(self.directory)
        self.dirty = False

    def _save_quietly(self) -> None:
        """`save`, unless the disk refuses it (the store then stays as caught up, the header behind)."""
        try:
            self.save()
        except Exception as exc:  # only failed writes are expected here
            if write_error_cause(exc, self.directory) is None:
                raise

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

    def _load(self, writable: bool = True) -> tuple[VectorStore, int, dict[int, str]]:
        """The snapshot, its watermark and the videos it lacks because their codes were
        unreadable; an empty store (watermark 0) if there is none or it is damaged (with a
        warning) or stale: the catch-up then adds every video from its codes file."""
        if self.shared:
            return self._load_shared(writable)
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

    def _load_shared(self, writable: bool) -> tuple[VectorStore, int, dict[int, str]]:
        """The Milvus collection and its header's watermark; the collection emptied (watermark 0)
        when the header is missing, damaged (with a warning) or stale, or the collection is gone.
        Not `writable`: the collection as it is, changed by nobody here."""
        from vidsim.index.milvus import MilvusStore, open_store, read_header

        store = self._store if isinstance(self._store, MilvusStore) else open_store(self.stored.index, self.directory, self.dims)
        header: dict | None = None
        try:
            header = read_header(self.snapshot_path)
        except FileNotFoundError:
            pass
        except VidsimError as exc:
            warnings.warn(IndexDamageWarning(f"{exc}; the collection is rebuilt from the codes files"), stacklevel=4)
        fresh = (header is not None and header.get("feature_key") == self.stored.feature_key
                 and header.get("collection") == store.collection and int(header.get("dims", 0)) == self.dims)
        if fresh and store.exists():
            assert header is not None
            watermark = int(header.get("watermark", 0))
            store.loaded()
            if writable:  # a writer stopped before its next header: its later videos are added again
                store.remove_videos_after(watermark)
            return store, watermark, _unreadable_of(header)
        if writable:
            store.reset()
        elif store.exists():
            store.loaded()
        return store, 0, {}

    def _rebuild(self, records: Sequence[VideoRecord], kind: str | None = None) -> VectorStore:
        """A new store from the codes files of `records` (ids up to the watermark)."""
        if self.shared:
            from vidsim.index.milvus import MilvusStore

            store = self._store
            assert isinstance(store, MilvusStore)  # connected by _load before any rebuild
            store.reset()
            for record in records:
                found = self._vectors_of(record) if record.id <= self.watermark else None
                if found is not None:
                    store.add(_ids_of(record), found, *_owners(record))
            return store
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


def _owners(record: VideoRecord) -> tuple[np.ndarray, np.ndarray]:
    """Each of a video's vectors' video id and frame number (kept by a Milvus store)."""
    return np.full(record.frames, record.id, np.int64), np.arange(record.frames, dtype=np.int64)
