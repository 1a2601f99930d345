"""A bounded number of searches at once: `running` run, `waiting` more wait up to `wait_s` for a
slot, and any beyond are refused at once (`Busy`: 503 with Retry-After)."""
from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from vidsim.errors import VidsimError


class Busy(VidsimError):
    """Too many searches at once (503); `retry_after` seconds is a fair wait before retrying."""

    def __init__(self, message: str, retry_after: int):
        self.retry_after = retry_after
        super().__init__(message)


class SearchLimiter:
    """Thread-safe: taken by the worker thread that runs the search."""

    def __init__(self, running: int, waiting: int, wait_s: float, retry_after: int):
        self.running, self.waiting, self.wait_s, self.retry_after = running, waiting, wait_s, retry_after
        self._lock = threading.Lock()
        self._admitted = 0  # running or waiting
        self._slots = threading.BoundedSemaphore(running)

    @property
    def admitted(self) -> int:
        return self._admitted

    def check(self) -> None:
        """Busy if a search asked now would be refused (checked before an upload is read)."""
        with self._lock:
            if self._admitted >= self.running + self.waiting:
                raise self._busy()

    @contextmanager
    def slot(self) -> Iterator[None]:
        """Hold one of the `running` slots, waiting for it if the queue has room."""
        with self._lock:
            if self._admitted >= self.running + self.waiting:
                raise self._busy()
            self._admitted += 1
        try:
            if not self._slots.acquire(timeout=self.wait_s):
                raise self._busy()
            try:
                yield
            finally:
                self._slots.release()
        finally:
            with self._lock:
                self._admitted -= 1

    def _busy(self) -> Busy:
        return Busy(f"busy: {self.running} searches running and {self.waiting} waiting; retry in "
                    f"{self.retry_after} s", self.retry_after)
