"""Frame vectors in a Milvus collection (`vectors: milvus`), behind the `VectorStore` interface.

The collection, named after the index when it is created, holds one row per frame: vector id
(primary key), video id, frame number and the L2-normalised frame vector, searched by inner
product through an HNSW, IVF_SQ8 or FLAT index (what milvus-lite supports; it refuses binary
vectors). The URI is a local path for the embedded milvus-lite (default DIR/vectors.milvus.db;
one process at a time opens it) or http(s)://host:19530 for a Milvus server or cluster, which
many readers and one writer share. A token comes from the MILVUS_TOKEN environment variable and
is never written anywhere.

Unlike a FAISS store, the collection is shared between processes and outlives them, so only a
process holding the index's write lock changes it (`VectorSync`), rows are upserted (a catch-up
that adds a video again leaves it once), and `save` writes no vectors: it flushes the collection
and writes DIR/vectors.milvus.json, the header (watermark, feature key, collection) that ties the
collection to the catalog. The catalog stays the source of truth: a collection that disagrees
with it is rebuilt from the codes files.
"""
from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from vidsim.errors import ConfigError, VidsimError
from vidsim.fsutil import atomic_open
from vidsim.index.layout import MILVUS_LITE_FILE
from vidsim.index.vectors import VectorStore, checked_vectors

if TYPE_CHECKING:
    from vidsim.index.config import IndexConfig

INSTALL = "pip install 'vidsim[milvus]'"
TOKEN_VARIABLE = "MILVUS_TOKEN"
BATCH_ROWS = 4096  # rows per upsert (a 256-d batch is 4 MiB, well under gRPC's 64 MiB message limit)
BATCH_QUERIES = 512  # query vectors per search call
CONNECT_TIMEOUT_S = 10.0


def is_server(uri: str) -> bool:
    """Whether `uri` names a Milvus server (http, https, tcp, grpc), not a milvus-lite file."""
    return bool(re.match(r"^(https?|tcp|grpcs?|unix)://", uri))


def resolved_uri(config: IndexConfig, directory: Path) -> str:
    """The URI an index's vectors live at (its milvus-lite file when none was given)."""
    return config.milvus_uri or str(directory / MILVUS_LITE_FILE)


def creation_config(config: IndexConfig, directory: Path) -> IndexConfig:
    """`config` as a new index records it: the collection named (after the index directory, with a
    random suffix so two indexes never share one), a local URI made absolute; refused when the
    server cannot be reached or the named collection already exists."""
    import dataclasses

    uri = config.milvus_uri
    if uri is not None and not is_server(uri):
        uri = str(Path(uri).expanduser().resolve())
    name = config.milvus_collection
    if name is None:
        slug = re.sub(r"[^A-Za-z0-9_]", "_", directory.resolve().name)[:64]
        name = f"vidsim_{slug}_{uuid.uuid4().hex[:8]}"
    config = dataclasses.replace(config, milvus_uri=uri, milvus_collection=name)
    store = MilvusStore.connect(resolved_uri(config, directory), name, 0)
    try:
        if store.exists():
            raise ConfigError(f"{store.where}: the collection already exists; choose another name (--milvus-collection) "
                              "or drop it, so that no other index's vectors are overwritten")
    finally:
        store.close()
    return config


def open_store(config: IndexConfig, directory: Path, dims: int) -> MilvusStore:
    """The Milvus store of an index (connected; the collection itself may not exist yet)."""
    assert config.milvus_collection is not None  # set when the index was created
    return MilvusStore.connect(resolved_uri(config, directory), config.milvus_collection, dims, config.milvus_index,
                               hnsw_m=config.hnsw_m, ivf_lists=config.ivf_lists)


def _client_module() -> Any:
    try:
        import pymilvus
    except ImportError:
        raise VidsimError(f"the milvus vector store needs pymilvus and milvus-lite, which are not installed: {INSTALL}") from None
    return pymilvus


class MilvusStore(VectorStore):
    """One Milvus collection of frame vectors (see the module docstring)."""

    kind = "milvus"
    shared = True

    def __init__(self, client: Any, uri: str, collection: str, dims: int, index: str = "hnsw", *, hnsw_m: int = 32,
                 ivf_lists: int | None = None):
        self.client = client
        self.uri = uri
        self.collection = collection
        self.dims = dims
        self.index = index
        self.hnsw_m = hnsw_m
        self.ivf_lists = ivf_lists

    @property
    def where(self) -> str:
        return f"Milvus collection {self.collection} at {self.uri}"

    def describe(self) -> str:
        return f"milvus {self.index}, collection {self.collection} at {self.uri}"

    # --- connection -------------------------------------------------------------------------
    @classmethod
    def connect(cls, uri: str, collection: str, dims: int, index: str = "hnsw", *, hnsw_m: int = 32,
                ivf_lists: int | None = None) -> MilvusStore:
        """A client of the Milvus at `uri`; VidsimError naming the URI when it cannot be reached."""
        pymilvus = _client_module()
        kwargs: dict[str, Any] = {"timeout": CONNECT_TIMEOUT_S}
        if is_server(uri):
            token = os.environ.get(TOKEN_VARIABLE)
            if token:
                kwargs["token"] = token
        else:
            if not Path(uri).parent.is_dir():
                raise VidsimError(f"{uri}: the directory of this milvus-lite file does not exist")
            try:
                import milvus_lite  # noqa: F401  (pymilvus opens local files through it)
            except ImportError:
                raise VidsimError(f"{uri}: a local Milvus file needs milvus-lite, which is not installed: {INSTALL}") from None
        try:
            client = pymilvus.MilvusClient(uri=uri, **kwargs)
        except pymilvus.exceptions.MilvusException as exc:
            if is_server(uri):
                raise VidsimError(f"{uri}: cannot reach the Milvus server ({_message(exc)}); start it, or check the URI "
                                  f"and the {TOKEN_VARIABLE} token") from None
            raise VidsimError(f"{uri}: cannot open the milvus-lite file ({_message(exc)}); milvus-lite serves one process "
                              "at a time: close the other vidsim using this index, or use a Milvus server") from None
        return cls(client, uri, collection, dims, index, hnsw_m=hnsw_m, ivf_lists=ivf_lists)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.client.close()

    @contextlib.contextmanager
    def _errors(self, doing: str) -> Iterator[None]:
        """Milvus's exceptions as one VidsimError line naming the collection and what failed."""
        pymilvus = _client_module()
        try:
            yield
        except pymilvus.exceptions.MilvusException as exc:
            raise VidsimError(f"{self.where}: {doing} failed ({_message(exc)})") from None

    # --- the collection ----------------------------------------------------------------------
    def exists(self) -> bool:
        with self._errors("looking up the collection"):
            return bool(self.client.has_collection(self.collection))

    def reset(self) -> None:
        """Drop the collection and create it empty, indexed and loaded."""
        from pymilvus import DataType, MilvusClient

        with self._errors("creating the collection"):
            if self.client.has_collection(self.collection):
                self.client.drop_collection(self.collection)
            schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False,
                                                description="vidsim frame vectors")
            schema.add_field("id", DataType.INT64, is_primary=True)
            schema.add_field("video", DataType.INT64)
            schema.add_field("frame", DataType.INT64)
            schema.add_field("vector", DataType.FLOAT_VECTOR, dim=self.dims)
            params = self.client.prepare_index_params()
            params.add_index(field_name="vector", index_type=self.index.upper(), metric_type="IP", params=self._build_params())
            self.client.create_collection(self.collection, schema=schema, index_params=params, consistency_level="Strong")

    def loaded(self) -> MilvusStore:
        """The collection loaded for search (a new session finds it released)."""
        with self._errors("loading the collection"):
            self.client.load_collection(self.collection)
        return self

    def _build_params(self) -> dict[str, Any]:
        if self.index == "hnsw":
            return {"M": int(self.hnsw_m), "efConstruction": 40}  # FAISS's default: the graph of the faiss hnsw kind
        if self.index == "ivf_sq8":
            return {"nlist": int(self.ivf_lists or 1024)}
        return {}

    def _count(self, expression: str = "") -> int:
        with self._errors("counting vectors"):
            rows = self.client.query(self.collection, filter=expression, output_fields=["count(*)"])
        return int(rows[0]["count(*)"]) if rows else 0

    # --- VectorStore ----------------------------------------------------------------------------
    @property
    def ntotal(self) -> int:
        return self._count()

    def add(self, ids: np.ndarray, vectors: np.ndarray, videos: np.ndarray | None = None,
            frames: np.ndarray | None = None) -> None:
        if len(ids) == 0:
            return
        vectors = checked_vectors(vectors, self.dims)
        ids = np.asarray(ids, dtype=np.int64)
        videos = np.full(len(ids), -1, np.int64) if videos is None else np.broadcast_to(np.asarray(videos, np.int64), ids.shape)
        frames = np.arange(len(ids), dtype=np.int64) if frames is None else np.asarray(frames, np.int64)
        with self._errors("adding vectors"):
            for start in range(0, len(ids), BATCH_ROWS):
                stop = start + BATCH_ROWS
                rows = [{"id": i, "video": v, "frame": f, "vector": x} for i, v, f, x in
                        zip(ids[start:stop].tolist(), videos[start:stop].tolist(), frames[start:stop].tolist(),
                            vectors[start:stop], strict=True)]
                self.client.upsert(self.collection, rows)

    def remove(self, ids: np.ndarray) -> int:
        ids = np.unique(np.asarray(ids, dtype=np.int64))
        if len(ids) == 0:
            return 0
        if ids[-1] - ids[0] + 1 == len(ids):
            return self._delete(f"id >= {int(ids[0])} and id <= {int(ids[-1])}")
        return sum(self._delete(f"id in {ids[i:i + BATCH_ROWS].tolist()}") for i in range(0, len(ids), BATCH_ROWS))

    def remove_videos(self, video_ids: list[int], ids: np.ndarray) -> int:
        """Delete the vectors of these videos by their video id."""
        videos = sorted({int(v) for v in video_ids})
        return sum(self._delete(f"video in {videos[i:i + BATCH_ROWS]}") for i in range(0, len(videos), BATCH_ROWS))

    def remove_videos_after(self, video_id: int) -> int:
        """Delete the vectors of videos past `video_id` (added after the header was last written)."""
        return self._delete(f"video > {int(video_id)}")

    def _delete(self, expression: str) -> int:
        found = self._count(expression)  # Milvus's delete counts the keys asked for, present or not
        if found:
            with self._errors("removing vectors"):
                self.client.delete(self.collection, filter=expression)
        return found

    def search(self, vectors: np.ndarray, k: int, nprobe: int = 32, ef_search: int = 128,
               **_: Any) -> tuple[np.ndarray, np.ndarray]:
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        scores = np.zeros((len(vectors), k), np.float32)
        found = np.full((len(vectors), k), -1, np.int64)
        if len(vectors) == 0:
            return scores, found
        params: dict[str, Any] = {"ef": max(ef_search, k)} if self.index == "hnsw" else (
            {"nprobe": nprobe} if self.index == "ivf_sq8" else {})
        with self._errors("searching"):
            for start in range(0, len(vectors), BATCH_QUERIES):
                hits = self.client.search(self.collection, data=vectors[start:start + BATCH_QUERIES], limit=k,
                                          search_params={"metric_type": "IP", "params": params}, output_fields=["id"])
                for row, frame_hits in enumerate(hits, start):
                    for column, hit in enumerate(frame_hits):
                        found[row, column] = hit["id"]
                        scores[row, column] = hit["distance"]
        return scores, found

    def ids(self) -> np.ndarray:
        """Every stored vector id (int64, sorted)."""
        parts: list[np.ndarray] = []
        logger = logging.getLogger("pymilvus")
        level = logger.level
        logger.setLevel(logging.ERROR)  # the iterator warns about milvus-lite's missing timestamps
        try:
            with self._errors("listing vector ids"):
                iterator = self.client.query_iterator(self.collection, batch_size=BATCH_ROWS, filter="", output_fields=["id"])
                try:
                    while batch := iterator.next():
                        parts.append(np.array([row["id"] for row in batch], np.int64))
                finally:
                    iterator.close()
        finally:
            logger.setLevel(level)
        return np.sort(np.concatenate(parts)) if parts else np.zeros(0, np.int64)

    def save(self, path: Path, header: dict[str, Any]) -> None:
        """Flush the collection, then write the header (atomically) that ties it to the catalog."""
        with self._errors("flushing the collection"):
            self.client.flush(self.collection)
        header = {**header, "kind": self.kind, "dims": self.dims, "uri": self.uri, "collection": self.collection,
                  "index": self.index, "ntotal": self.ntotal}
        with atomic_open(path, "w", durable=True) as fh:
            fh.write(json.dumps(header, sort_keys=True))

    @classmethod
    def load(cls, path: Path) -> tuple[MilvusStore, dict[str, Any]]:
        """The store a header names (the URI must be in it) and the header."""
        header = read_header(path)
        if "uri" not in header:
            raise VidsimError(f"{path}: the header names no Milvus URI")
        store = cls.connect(str(header["uri"]), str(header["collection"]), int(header["dims"]), str(header["index"]))
        return store.loaded(), header


def read_header(path: Path) -> dict[str, Any]:
    """DIR/vectors.milvus.json; FileNotFoundError when absent, VidsimError when unreadable."""
    try:
        header = json.loads(path.read_text())
    except FileNotFoundError:
        raise
    except (OSError, ValueError) as exc:
        raise VidsimError(f"{path}: unreadable Milvus header ({exc})") from exc
    if not isinstance(header, dict) or any(k not in header for k in ("collection", "dims", "watermark")):
        raise VidsimError(f"{path}: Milvus header lacks its collection, dims or watermark")
    return header


def _message(exc: Exception) -> str:
    return str(getattr(exc, "message", None) or exc)
