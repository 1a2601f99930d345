"""The index's write lock: one process at a time adds or removes videos."""
from __future__ import annotations

import fcntl
import os
from pathlib import Path
from types import TracebackType

from vidsim.errors import IndexBusyError, VidsimError
from vidsim.index.layout import LOCK_FILE


class WriteLock:
    """flock on DIR/write.lock, taken without waiting (IndexBusyError if another process holds
    it); the OS releases it if the process dies, so a killed writer never leaves it held."""

    def __init__(self, directory: Path):
        self.directory = directory
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        """Whether this object holds the lock now."""
        return self._fd is not None

    def __enter__(self) -> WriteLock:
        if self._fd is not None:
            raise VidsimError("the index is already being written by this process")
        fd = os.open(self.directory / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise IndexBusyError(f"{self.directory}: another process is adding or removing videos; try again "
                                 "when it has finished (searching works meanwhile)") from None
        self._fd = fd
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)
