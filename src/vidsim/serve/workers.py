"""Threads that own an `Index` each: an Index and its SQLite connection belong to the thread that
opened it, so every use of one is sent to its thread."""
from __future__ import annotations

import queue
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from vidsim.index import Index

T = TypeVar("T")
IndexOpener = Callable[[], "Index"]


class IndexThread:
    """One thread and the Index it opens on first use."""

    def __init__(self, name: str, open_index: IndexOpener):
        self._executor = ThreadPoolExecutor(1, thread_name_prefix=name)
        self._open = open_index
        self._index: Index | None = None

    def submit(self, work: Callable[[Index], T]) -> Future[T]:
        return self._executor.submit(self._run, work)

    def call(self, work: Callable[[Index], T]) -> T:
        """Run `work(index)` on this thread and wait for it."""
        return self.submit(work).result()

    def _run(self, work: Callable[[Index], T]) -> T:
        if self._index is None:
            self._index = self._open()
        return work(self._index)

    def close(self) -> None:
        """Close the Index on its thread once the work queued before is done, then end the thread."""
        self._executor.submit(self._close)
        self._executor.shutdown(wait=True)

    def _close(self) -> None:
        index, self._index = self._index, None
        if index is not None:
            index.close()


class ReaderPool:
    """`size` IndexThreads for searches, each handed to one search at a time."""

    def __init__(self, size: int, open_index: IndexOpener):
        self._all = [IndexThread(f"vidsim-search-{n}", open_index) for n in range(size)]
        self._free: queue.SimpleQueue[IndexThread] = queue.SimpleQueue()
        for reader in self._all:
            self._free.put(reader)

    def call(self, work: Callable[[Index], T]) -> T:
        """Run `work` on a free reader (the caller holds a search slot, so one is free or about to be)."""
        reader = self._free.get()
        try:
            return reader.call(work)
        finally:
            self._free.put(reader)

    def close(self) -> None:
        for reader in self._all:
            reader.close()
