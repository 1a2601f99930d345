"""Adds and removes as jobs, run one at a time by the service's single writer thread (through one
Index, whose write lock keeps other processes out); a client polls a job at GET /v1/jobs/{id}.
Jobs live in memory: a restarted service forgets them (the index keeps what they committed)."""
from __future__ import annotations

import logging
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from vidsim.serve.workers import IndexOpener, IndexThread

if TYPE_CHECKING:
    from vidsim.index import Index

log = logging.getLogger("vidsim.serve")

QUEUED, RUNNING, DONE, FAILED, CANCELLED = "queued", "running", "done", "failed", "cancelled"


@dataclass
class Job:
    id: str
    kind: str  # "add" or "remove"
    status: str = QUEUED
    created: float = field(default_factory=time.time)
    started: float | None = None
    finished: float | None = None
    progress: dict[str, Any] = field(default_factory=dict)
    result: dict[str, Any] | None = None
    error: str | None = None
    exception: BaseException | None = field(default=None, repr=False)  # why it failed, for an answer given at once
    _done: threading.Event = field(default_factory=threading.Event, repr=False)

    def wait(self, seconds: float) -> bool:
        """Whether the job ended within `seconds`."""
        return self._done.wait(seconds)

    @property
    def ended(self) -> bool:
        return self._done.is_set()

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "status": self.status, "created": self.created,
                "started": self.started, "finished": self.finished, "progress": dict(self.progress),
                "result": self.result, "error": self.error, "url": f"/v1/jobs/{self.id}"}


# a job's work: (the writer's index, the job to report progress on) -> its result
Work = Callable[["Index", Job], "dict[str, Any]"]


class Writer:
    """The one thread that writes the index, and the jobs it ran or will run (the last `kept`)."""

    def __init__(self, open_index: IndexOpener, kept: int = 1000):
        self._thread = IndexThread("vidsim-writer", open_index)
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._lock = threading.Lock()
        self._kept = kept
        self._closing = False

    def submit(self, kind: str, work: Work, cleanup: Callable[[], None] | None = None) -> Job:
        """Queue `work`; `cleanup` runs when the job ends, however it ends (a spooled upload removed)."""
        job = Job(secrets.token_hex(16), kind)
        with self._lock:
            self._jobs[job.id] = job
            self._forget_old()
        try:
            future = self._thread.submit(lambda index: self._run(job, index, work, cleanup))
        except RuntimeError:  # the writer has shut down
            self._end(job, CANCELLED, cleanup, error="the service is stopping")
            return job
        future.add_done_callback(lambda f: self._opening_failed(job, f, cleanup))
        return job

    def _opening_failed(self, job: Job, future: Future[None], cleanup: Callable[[], None] | None) -> None:
        """A job that never ran because the writer's index could not be opened fails with that error."""
        exc = None if future.cancelled() else future.exception()
        if exc is not None and not job.ended:
            job.exception = exc
            self._end(job, FAILED, cleanup, error=str(exc))

    def get(self, job_id: str) -> Job | None:
        with self._lock:
            return self._jobs.get(job_id)

    def pending(self) -> int:
        with self._lock:
            return sum(not job.ended for job in self._jobs.values())

    def _run(self, job: Job, index: Index, work: Work, cleanup: Callable[[], None] | None) -> None:
        if self._closing:
            self._end(job, CANCELLED, cleanup, error="the service stopped before the job started")
            return
        job.status, job.started = RUNNING, time.time()
        try:
            job.result = work(index, job)
        except Exception as exc:  # the job's failure is reported on the job, the writer goes on
            if not _expected(exc):
                log.exception("job %s (%s) failed", job.id, job.kind)
            job.exception = exc
            self._end(job, FAILED, cleanup, error=str(exc) if _expected(exc) else f"internal error ({type(exc).__name__}: "
                      f"{exc})")
            return
        self._end(job, DONE, cleanup)

    def _end(self, job: Job, status: str, cleanup: Callable[[], None] | None, error: str | None = None) -> None:
        try:
            if cleanup is not None:
                cleanup()
        finally:
            job.status, job.error, job.finished = status, error, time.time()
            job._done.set()

    def _forget_old(self) -> None:
        """Keep the last `kept` ended jobs (unfinished ones are never forgotten)."""
        ended = [job_id for job_id, job in self._jobs.items() if job.ended]
        for job_id in ended[: max(0, len(ended) - self._kept)]:
            del self._jobs[job_id]

    def close(self) -> None:
        """Cancel the jobs not started; a running one finishes (the index is crash-safe, but an add
        that completes is worth more)."""
        self._closing = True
        self._thread.close()


def _expected(exc: Exception) -> bool:
    from vidsim.errors import VidsimError

    return isinstance(exc, VidsimError)
