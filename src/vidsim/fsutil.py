"""File helpers: atomic writes, content hashes and safetensors metadata.

Atomic writes: a reader (or a crash) never sees a half-written file. Every on-disk artefact
is written to a temporary name in its own directory and renamed into place; `durable=True`
also fsyncs the file before and the directory after the rename, for the index, whose catalog
must never point at a file that a power cut could lose.
"""
from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

HASH_CHUNK = 1 << 20  # bytes read at a time while hashing: memory stays flat for any file size


@contextmanager
def atomic_path(path: str | os.PathLike, durable: bool = False) -> Iterator[Path]:
    """Yield a temporary path beside `path`; when the block succeeds, rename it over `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        if durable:
            _fsync(tmp, os.O_RDONLY)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    if durable:
        fsync_dir(path.parent)


@contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "wb", durable: bool = False, **kwargs) -> Iterator[IO]:
    """Open a temporary file beside `path` for writing; rename it over `path` on success."""
    with atomic_path(path, durable) as tmp:
        with open(tmp, mode, **kwargs) as fh:
            yield fh


def fsync_dir(path: str | os.PathLike) -> None:
    """Make a rename in directory `path` durable (a no-op where directories cannot be opened)."""
    try:
        _fsync(path, os.O_RDONLY)
    except OSError:
        pass


def _fsync(path: str | os.PathLike, flags: int) -> None:
    fd = os.open(path, flags)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def sha256_file(path: str | os.PathLike) -> str:
    """SHA-256 of a file's bytes (hex), read in chunks; OSError (e.g. FileNotFoundError) passes through."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def safetensors_metadata(path: str | os.PathLike) -> dict[str, str]:
    """The string metadata in a safetensors file's header ({} when it has none).

    Raises OSError when the file cannot be read and ValueError when it is not a safetensors file."""
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(os.fspath(path), framework="numpy") as fh:
            return dict(fh.metadata() or {})
    except SafetensorError as exc:
        raise ValueError(f"not a safetensors file ({exc})") from exc
