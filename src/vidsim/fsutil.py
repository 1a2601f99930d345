"""File helpers: atomic writes, content hashes, safetensors metadata, why a write failed.

Atomic writes: a reader (or a crash) never sees a half-written file. Every on-disk artefact is
written to a temporary name in its own directory and renamed into place; `durable=True` also
fsyncs the file before and the directory after the rename, for the index, whose catalog must
never point at a file that a power cut could lose. The file gets the permissions a newly created
file would get (0666 minus the umask), not the temporary file's 0600, so that a shared index
stays readable by the accounts the umask lets in.
"""
from __future__ import annotations

import errno
import hashlib
import os
import re
import stat
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
        # mkstemp makes it 0600, and so do some writers that replace it (safetensors)
        os.chmod(tmp, 0o666 & ~current_umask())
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


def current_umask() -> int:
    """The process's umask, read without changing it where Linux tells (/proc), else set and restored."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


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


_OS_ERROR_CODE = re.compile(r"os error (\d+)|code: (\d+)")  # how safetensors (Rust) reports an OS error


def write_error_cause(exc: BaseException, where: str | os.PathLike | None = None) -> str | None:
    """Why a write failed, e.g. "No space left on device (ENOSPC)", when `exc` is a failed write
    (OSError, SQLite's disk-full or read-only errors, safetensors' I/O errors); None otherwise.

    SQLite's I/O errors do not say why; the file system holding `where` is then asked (read-only,
    full, or not writable by this user)."""
    if isinstance(exc, OSError) and exc.errno:
        return _errno_text(exc.errno)
    if type(exc).__name__ == "SafetensorError":
        match = _OS_ERROR_CODE.search(str(exc))
        return _errno_text(int(match.group(1) or match.group(2))) if match else None
    import sqlite3

    if not isinstance(exc, sqlite3.OperationalError):
        return None
    name = getattr(exc, "sqlite_errorname", "") or ""
    if name == "SQLITE_FULL" or "disk is full" in str(exc):
        return _errno_text(errno.ENOSPC)
    if not (name.startswith(("SQLITE_IOERR", "SQLITE_READONLY", "SQLITE_CANTOPEN")) or "readonly" in str(exc)):
        return None
    code = filesystem_write_problem(where) if where is not None else None
    return _errno_text(code) if code else f"{exc} ({name or 'SQLite'})"


def filesystem_write_problem(path: str | os.PathLike) -> int | None:
    """EROFS, ENOSPC or EACCES when the file system holding `path` (or its nearest existing
    parent) cannot take a write for that reason; None when nothing is visibly wrong."""
    probe = os.path.abspath(path)
    while not os.path.exists(probe) and os.path.dirname(probe) != probe:
        probe = os.path.dirname(probe)
    try:
        vfs = os.statvfs(probe)
        is_dir = stat.S_ISDIR(os.stat(probe).st_mode)
    except OSError:
        return None
    if vfs.f_flag & os.ST_RDONLY:
        return errno.EROFS
    if vfs.f_bavail == 0 or (vfs.f_files and vfs.f_favail == 0):
        return errno.ENOSPC
    directory = probe if is_dir else os.path.dirname(probe)
    if not os.access(directory, os.W_OK):
        return errno.EACCES
    return None


def _errno_text(code: int) -> str:
    return f"{os.strerror(code)} ({errno.errorcode.get(code, code)})"
