"""Where an index keeps its files, relative to its directory, and the bytes they take."""
from __future__ import annotations

from pathlib import Path

CONFIG_FILE = "config.json"  # IndexConfig + VidsimConfig + feature key (written once, at creation)
CATALOG_FILE = "catalog.sqlite"  # SQLite (WAL): one row per video, the source of truth
CODES_DIR = "codes"  # codes/ab/<sha256>.safetensors: compact region features of one video
VECTORS_FILE = "vectors.faiss"  # snapshot of the frame-vector store, with its watermark
MILVUS_FILE = "vectors.milvus.json"  # vectors in Milvus: the header tying the collection to the catalog
MILVUS_LITE_FILE = "vectors.milvus.db"  # the default milvus-lite file (a directory) of a Milvus index
LOCK_FILE = "write.lock"  # held (flock) by the one process adding or removing videos
DAMAGED_DIR = "damaged"  # files set aside (never deleted) by add's cleanup and by `index repair`
from vidsim.store.format import FEATURE_SUFFIX  # noqa: E402  (codes files are safetensors too)


def codes_file(content_hash: str) -> str:
    """The codes file of a video with this content hash, relative to the index directory."""
    return f"{CODES_DIR}/{content_hash[:2]}/{content_hash}{FEATURE_SUFFIX}"


def codes_paths(directory: Path, root: str = CODES_DIR) -> list[Path]:
    """Every codes file under DIR/`root` (temporary files left out), sorted."""
    base = directory / root
    if not base.is_dir():
        return []
    return sorted(p for p in base.rglob(f"*{FEATURE_SUFFIX}") if p.is_file() and not p.name.startswith("."))


def disk_usage(directory: Path) -> dict[str, int]:
    """Bytes on disk by component: catalog (with its WAL), codes, vectors (a milvus-lite file inside
    the directory included; a Milvus server's are not here), config."""
    return {
        "catalog": sum(file_size(directory / f"{CATALOG_FILE}{s}") for s in ("", "-wal", "-shm")),
        "codes": _tree_size(directory / CODES_DIR),
        "vectors": file_size(directory / VECTORS_FILE) + file_size(directory / MILVUS_FILE)
        + _tree_size(directory / MILVUS_LITE_FILE),
        "config": file_size(directory / CONFIG_FILE),
    }


def file_size(path: Path) -> int:
    """Size of a file, 0 if it is absent or unreadable."""
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _tree_size(root: Path) -> int:
    if root.is_file():
        return file_size(root)
    return sum(file_size(p) for p in root.rglob("*") if p.is_file()) if root.is_dir() else 0
