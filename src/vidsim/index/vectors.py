"""Nearest-neighbour search over frame vectors, behind one small interface.

`VectorStore` is what the index needs from a vector database (add, remove, search, save,
load, ntotal); `FaissStore` implements it in-process with FAISS, `MilvusStore`
(vidsim.index.milvus) in a Milvus collection shared between processes. Vectors are
L2-normalised, so inner product = cosine.

FAISS kinds, each an `index_factory` string over inner product: `flat` ("IDMap2,SQfp16": every
vector scanned, kept as float16, half the bytes of float32 with scores within ~1e-3 and a faster
scan than IndexFlatIP's BLAS path for a query's frames; snapshots
of the float32 IndexFlatIP made by earlier versions still load), `ivf` ("IVF{lists},SQ8": IVF
with 8-bit scalar quantisation, 1/4 of the memory, trained on the vectors present when it is
built), `hnsw` ("IDMap2,HNSW{m}": graph, no training; removal rebuilds the graph). The factory
builds the same objects as the constructors did, so snapshots are unchanged. `choose_kind`
applies the `auto` policy.

Snapshot file: 8-byte magic, a little-endian uint32 length, a JSON header (kind, dims,
watermark, checksum, ...), then the FAISS index bytes. This container stays ours because FAISS's
format has no room for the header (the watermark ties the snapshot to the catalog). It is written
to a temporary name, fsynced and renamed over the previous one, so a reader opens either the old
or the new snapshot. The checksum (SHA-256 of the whole file, `vidsim.index.checksum`) is verified
before FAISS parses the bytes; snapshots of earlier versions carry none and load unverified.
"""
from __future__ import annotations

import hashlib
import json
import math
import struct
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any

import numpy as np

from vidsim.errors import VidsimError
from vidsim.fsutil import atomic_open
from vidsim.index.checksum import FIELD, PLACEHOLDER, hash_rest, is_digest, neutral, placeholder_at

MAGIC = b"VIDSIMVS"
CHECKSUM_KEY = b'"checksum": "'  # how the checksum entry reads in the JSON header (json.dumps)



def checked_vectors(vectors: np.ndarray, dims: int) -> np.ndarray:
    """Vectors to add as contiguous float32 [n, dims]; ValueError for any other shape."""
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    if vectors.ndim != 2 or vectors.shape[1] != dims:
        raise ValueError(f"expected [n, {dims}] vectors, got {vectors.shape}")
    return vectors

class VectorStore(ABC):
    """An id -> vector collection searched by inner product."""

    kind: str
    dims: int
    trained_on: int = 0  # vectors a trained kind (IVF) was trained with; 0 for the others
    shared = False  # True: the store outlives the process and others see its changes (Milvus)

    @property
    @abstractmethod
    def ntotal(self) -> int: ...

    @abstractmethod
    def add(self, ids: np.ndarray, vectors: np.ndarray, videos: np.ndarray | None = None,
            frames: np.ndarray | None = None) -> None:
        """Add (or replace) vectors by id; `videos` / `frames`: each vector's video id and frame
        number, for stores that keep them (Milvus), ignored by the others."""

    @abstractmethod
    def remove(self, ids: np.ndarray) -> int:
        """Remove the given ids (absent ids are ignored); returns how many were removed."""

    @abstractmethod
    def ids(self) -> np.ndarray:
        """Every stored vector id (int64)."""

    def remove_videos(self, video_ids: list[int], ids: np.ndarray) -> int:
        """Remove the vectors of these videos (`ids`: the vector ids they own); returns how many."""
        return self.remove(ids)

    def describe(self) -> str:
        """The store as `vidsim index stats` names it."""
        return f"faiss {self.kind}"

    def close(self) -> None:  # noqa: B027  (a hook: only stores that hold connections override it)
        """Release connections (nothing for an in-process store)."""

    @abstractmethod
    def search(self, vectors: np.ndarray, k: int, **options: Any) -> tuple[np.ndarray, np.ndarray]:
        """(scores [n, k] float32, ids [n, k] int64, -1 where fewer than k exist); `options` are
        store-specific search parameters (FAISS: nprobe, ef_search), unknown ones ignored."""

    @abstractmethod
    def save(self, path: Path, header: dict[str, Any]) -> None:
        """Write atomically; `header` is returned unchanged by `load`."""

    @classmethod
    @abstractmethod
    def load(cls, path: Path) -> tuple[VectorStore, dict[str, Any]]: ...


def choose_kind(requested: str, ntotal: int, flat_max: int) -> str:
    """The `auto` policy: exact search while the collection is small, IVF past `flat_max` vectors."""
    if requested != "auto":
        return requested
    return "flat" if ntotal <= flat_max else "ivf"


def ivf_lists(ntotal: int, requested: int | None = None) -> int:
    if requested:
        return int(requested)
    return int(min(65536, max(16, 4 * math.sqrt(max(ntotal, 1)))))


class FaissStore(VectorStore):
    """FAISS in-process: flat (float16 scan), ivf (IVF + SQ8) or hnsw, all with 64-bit ids."""

    def __init__(self, index, kind: str, dims: int, trained_on: int = 0, hnsw_m: int = 32):
        self.index = index
        self.kind = kind
        self.dims = dims
        self.trained_on = trained_on  # vectors the IVF was trained with (0 for untrained kinds)
        self.hnsw_m = hnsw_m

    # --- construction -------------------------------------------------------------------
    @classmethod
    def empty(cls, kind: str, dims: int, hnsw_m: int = 32) -> FaissStore:
        if kind == "flat":
            return cls(_factory(dims, "IDMap2,SQfp16"), kind, dims)
        if kind == "hnsw":
            return cls(_factory(dims, f"IDMap2,HNSW{int(hnsw_m)}"), kind, dims, hnsw_m=hnsw_m)
        raise VidsimError(f"a {kind!r} vector store needs training vectors: use FaissStore.build")

    @classmethod
    def build(cls, kind: str, dims: int, ids: np.ndarray, vectors: np.ndarray, *, lists: int | None = None,
              hnsw_m: int = 32, seed: int = 0) -> FaissStore:
        """A store of `kind` holding `vectors` (an IVF is trained on a sample of them)."""
        if kind != "ivf":
            store = cls.empty(kind, dims, hnsw_m)
            store.add(ids, vectors)
            return store
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        nlist = min(ivf_lists(len(vectors), lists), max(1, len(vectors) // 39))
        index = _factory(dims, f"IVF{nlist},SQ8")
        sample = vectors
        if len(vectors) > 256 * nlist:
            pick = np.random.default_rng(seed).choice(len(vectors), 256 * nlist, replace=False)
            sample = vectors[np.sort(pick)]
        index.train(sample)
        store = cls(index, kind, dims, trained_on=len(vectors))
        store.add(ids, vectors)
        return store

    # --- VectorStore ----------------------------------------------------------------------
    @property
    def ntotal(self) -> int:
        return int(self.index.ntotal)

    def add(self, ids: np.ndarray, vectors: np.ndarray, videos: np.ndarray | None = None,
            frames: np.ndarray | None = None) -> None:
        if len(ids) == 0:
            return
        vectors = checked_vectors(vectors, self.dims)
        self.index.add_with_ids(vectors, np.ascontiguousarray(ids, dtype=np.int64))

    def remove(self, ids: np.ndarray) -> int:
        import faiss

        ids = np.unique(np.asarray(ids, dtype=np.int64))
        if len(ids) == 0 or self.ntotal == 0:
            return 0
        selector = _selector(ids)
        if self.kind != "hnsw":
            return int(self.index.remove_ids(selector))
        # HNSW graphs cannot drop nodes: rebuild from the stored vectors without them.
        all_ids = faiss.vector_to_array(self.index.id_map).astype(np.int64)
        keep = ~np.isin(all_ids, ids)
        if keep.all():
            return 0
        vectors = self.index.index.reconstruct_n(0, self.ntotal)
        rebuilt = FaissStore.empty("hnsw", self.dims, self.hnsw_m)
        rebuilt.add(all_ids[keep], vectors[keep])
        self.index = rebuilt.index
        return int((~keep).sum())

    def search(
        self, vectors: np.ndarray, k: int, nprobe: int = 32, ef_search: int = 128, **_: Any
    ) -> tuple[np.ndarray, np.ndarray]:
        import faiss

        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if self.ntotal == 0 or len(vectors) == 0:
            return np.zeros((len(vectors), k), np.float32), np.full((len(vectors), k), -1, np.int64)
        if self.kind == "ivf":
            faiss.extract_index_ivf(self.index).nprobe = nprobe
        elif self.kind == "hnsw":
            # faiss's stubs leave out what downcast_index returns and the callback IO classes
            faiss.downcast_index(self.index.index).hnsw.efSearch = max(ef_search, k)  # type: ignore[attr-defined]
        scores, ids = self.index.search(vectors, k)
        return scores, ids.astype(np.int64, copy=False)

    def ids(self) -> np.ndarray:
        """Every stored vector id (int64, in storage order)."""
        import faiss

        if hasattr(self.index, "id_map"):  # IDMap2 over flat or HNSW
            return faiss.vector_to_array(self.index.id_map).astype(np.int64)
        ivf = faiss.extract_index_ivf(self.index)
        lists = ivf.invlists
        assert lists is not None  # every IVF index has its inverted lists
        parts = [faiss.rev_swig_ptr(lists.get_ids(i), lists.list_size(i)).copy()
                 for i in range(ivf.nlist) if lists.list_size(i)]
        return np.concatenate(parts).astype(np.int64) if parts else np.zeros(0, np.int64)

    def save(self, path: Path, header: dict[str, Any]) -> None:
        import faiss

        header = {**header, "kind": self.kind, "dims": self.dims, "trained_on": self.trained_on, "ntotal": self.ntotal,
                  "hnsw_m": self.hnsw_m, FIELD: PLACEHOLDER}
        blob = json.dumps(header, sort_keys=True).encode()
        prefix = MAGIC + struct.pack("<I", len(blob)) + blob
        at = placeholder_at(prefix, CHECKSUM_KEY)
        digest = hashlib.sha256(prefix)

        def write(chunk: bytes) -> None:
            digest.update(chunk)
            fh.write(chunk)

        with atomic_open(path, "wb", durable=True) as fh:
            fh.write(prefix)
            writer = faiss.PyCallbackIOWriter(write)  # type: ignore[attr-defined]
            faiss.write_index(self.index, writer)
            del writer  # flushes its buffer into fh
            fh.seek(at)
            fh.write(digest.hexdigest().encode())

    @classmethod
    def load(cls, path: Path) -> tuple[FaissStore, dict[str, Any]]:
        """The store and its header; VidsimError when the file is unreadable or fails its checksum
        (`header["verified"]` is False for a snapshot written without one)."""
        import faiss

        try:
            with open(path, "rb") as fh:
                if fh.read(len(MAGIC)) != MAGIC:
                    raise VidsimError(f"{path}: not a vidsim vector snapshot")
                (length,) = struct.unpack("<I", fh.read(4))
                blob = fh.read(length)
                header = json.loads(blob)
                if not isinstance(header, dict):
                    raise ValueError("its header is not an object")
                stored = header.get(FIELD)
                if stored is not None:
                    if not is_digest(stored):
                        raise ValueError(f"malformed checksum {stored!r}")
                    digest = hashlib.sha256(MAGIC + struct.pack("<I", length) + neutral(blob, CHECKSUM_KEY, stored))
                    hash_rest(digest, fh)
                    if digest.hexdigest() != stored:
                        raise VidsimError(f"{path}: vector snapshot fails its checksum (its bytes changed since it "
                                          "was written)")
                    fh.seek(len(MAGIC) + 4 + length)
                index = faiss.read_index(faiss.PyCallbackIOReader(fh.read))  # type: ignore[attr-defined]
        except FileNotFoundError:
            raise
        except (OSError, ValueError, RuntimeError, MemoryError, struct.error) as exc:
            raise VidsimError(f"{path}: unreadable vector snapshot ({exc})") from exc
        header["verified"] = stored is not None
        if any(k not in header for k in ("kind", "dims")):
            raise VidsimError(f"{path}: vector snapshot header lacks its kind or dims")
        if index.ntotal != header.get("ntotal", index.ntotal):
            raise VidsimError(f"{path}: vector snapshot holds {index.ntotal} vectors, header says {header['ntotal']}")
        store = cls(index, header["kind"], int(header["dims"]), int(header.get("trained_on", 0)), int(header.get("hnsw_m", 32)))
        return store, header


def _factory(dims: int, description: str) -> Any:
    """A FAISS index from its `index_factory` description, searched by inner product."""
    import faiss

    return faiss.index_factory(dims, description, faiss.METRIC_INNER_PRODUCT)


def _selector(ids: np.ndarray):
    """A FAISS id selector: a range when the ids are contiguous, else a batch."""
    import faiss

    if len(ids) and ids[-1] - ids[0] + 1 == len(ids):
        return faiss.IDSelectorRange(int(ids[0]), int(ids[-1]) + 1)
    return faiss.IDSelectorBatch(len(ids), faiss.swig_ptr(np.ascontiguousarray(ids)))
