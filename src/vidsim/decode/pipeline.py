"""Decoding in a background thread, ahead of whoever consumes the frames.

PyAV lets go of the GIL while FFmpeg demuxes, decodes and scales, and the inference runtimes
while they run, so a decode thread keeps one core busy with the next batches while the
network embeds the current one. `DecodeAhead` serves videos in the order they are asked for:
`expect(path)` queues a video (its decoding starts once the thread is free, i.e. as soon as
the video before it is decoded), `frames(path)` is its stream of FrameBatch values. At most
`depth` batches of a video wait in its queue, so memory stays bounded; a stream closed early
(or a queued video never asked for) stops its decoding and closes its file. Errors are those
of `iter_frames`, raised in the consumer: the probe's when `frames` is called, the decoder's
where the stream reaches them; warnings are re-issued in the consumer's thread, in order.
"""
from __future__ import annotations

import os
import queue
import threading
import warnings
import weakref
from collections import deque
from typing import Any

from vidsim.config import DecodeConfig

from .reader import open_frames
from .types import FrameBatch

__all__ = ["DecodeAhead", "FrameStream", "iter_frames_ahead"]

_PUT_WAIT = 0.5  # seconds between checks for cancellation while a full queue blocks the decoder


class _Job:
    """One video's decoding: run by a decode thread, read by one consumer through `items`."""

    def __init__(self, path: str | os.PathLike, config: DecodeConfig, depth: int):
        self.path = os.fspath(path)
        self.config = config
        self.items: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=depth)
        self.cancelled = threading.Event()
        self.finished = threading.Event()  # the decoder is done with it (decoded, failed or cancelled)
        self.claimed = False  # handed to a consumer by DecodeAhead.frames

    def cancel(self) -> None:
        """Stop decoding (the decode thread sees it at its next batch) and free the queue."""
        self.cancelled.set()
        while True:
            try:
                self.items.get_nowait()
            except queue.Empty:
                return

    def _put(self, kind: str, value: Any = None) -> bool:
        while not self.cancelled.is_set():
            try:
                self.items.put((kind, value), timeout=_PUT_WAIT)
                return True
            except queue.Full:
                continue
        return False

    def run(self) -> None:
        """Decode the video into `items` ("ready" or the probe's "error" first, then "batch"es and
        "warn"ings, then "end" or "error"); never raises."""
        try:
            if self.cancelled.is_set():
                return
            def warn(message: str, category: type[Warning]) -> None:
                self._put("warn", (message, category))

            try:
                batches = open_frames(self.path, self.config, warn)
            except BaseException as exc:  # noqa: BLE001 - handed to the consumer, raised there
                self._put("error", exc)
                return
            try:
                if not self._put("ready"):
                    return
                for batch in batches:
                    if not self._put("batch", batch):
                        return
                self._put("end")
            except BaseException as exc:  # noqa: BLE001 - handed to the consumer, raised there
                self._put("error", exc)
            finally:
                batches.close()  # type: ignore[attr-defined]  # a generator: closes the file
        finally:
            self.finished.set()


class _Worker:
    """The shared decode thread's state: its queue of jobs, and whether it runs."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.jobs: deque[_Job] = deque()  # waiting or being decoded, in order
        self.running = False

    def submit(self, job: _Job) -> None:
        """Queue `job` (the lock held by the caller) and start the thread if it is not running."""
        self.jobs.append(job)
        if not self.running:
            self.running = True
            threading.Thread(target=self._loop, name="vidsim-decode", daemon=True).start()

    def _loop(self) -> None:
        while True:
            with self.lock:
                while self.jobs and self.jobs[0].cancelled.is_set():
                    self.jobs.popleft().finished.set()
                if not self.jobs:
                    self.running = False
                    return
                job = self.jobs[0]
            job.run()
            with self.lock:
                if self.jobs and self.jobs[0] is job:
                    self.jobs.popleft()

    def cancel_unclaimed(self, before: _Job | None = None) -> None:
        """Cancel the queued jobs no consumer asked for (all, or those queued before `before`)."""
        for job in list(self.jobs):
            if job is before:
                return
            if not job.claimed:
                job.cancel()


class DecodeAhead:
    """One decode thread serving videos in order, up to `depth` batches ahead of their consumer
    (default: config.prefetch, at least 1). Safe to share between threads; a stream asked for
    while another is still being decoded for an unfinished consumer gets a thread of its own."""

    def __init__(self, config: DecodeConfig = DecodeConfig(), depth: int | None = None):
        self.config = config
        self.depth = max(1, depth if depth is not None else config.prefetch)
        self._worker = _Worker()
        weakref.finalize(self, _cancel_queued, self._worker)  # dropped: queued videos stop

    def expect(self, path: str | os.PathLike) -> None:
        """Queue `path`: it is decoded once the videos before it are, ready for `frames(path)`."""
        name = os.fspath(path)
        with self._worker.lock:
            if any(job.path == name and not job.claimed and not job.cancelled.is_set() for job in self._worker.jobs):
                return
            self._worker.submit(_Job(name, self.config, self.depth))

    def cancel(self) -> None:
        """Forget the queued videos nobody asked for yet (streams being read go on)."""
        with self._worker.lock:
            self._worker.cancel_unclaimed()

    def frames(self, path: str | os.PathLike) -> FrameStream:
        """The FrameBatch values of `path` (as `iter_frames` gives them), decoded by the thread.

        Videos queued before `path` and not asked for are dropped. The probe's errors
        (VideoNotFoundError, NotAVideoError, ...) are raised here, the decoder's while iterating.
        """
        name = os.fspath(path)
        worker = self._worker
        with worker.lock:
            job = next((j for j in worker.jobs if j.path == name and not j.claimed and not j.cancelled.is_set()), None)
            worker.cancel_unclaimed(before=job)
            # another consumer's video still being decoded (not read to its end): do not wait behind it
            busy = any(j.claimed and not j.finished.is_set() and not j.cancelled.is_set()
                       for j in worker.jobs if j is not job)
            if job is not None and busy and job is not worker.jobs[0]:
                worker.jobs.remove(job)  # not begun: decode it apart
                job.cancelled.set()
                job.finished.set()
                job = None
            if job is None:
                job = _Job(name, self.config, self.depth)
                if busy:
                    threading.Thread(target=job.run, name="vidsim-decode", daemon=True).start()
                else:
                    worker.submit(job)
            job.claimed = True
        stream = FrameStream(job)
        stream.ready()
        return stream


class FrameStream:
    """The FrameBatch values of one video, read from its decode thread. Closing it (or dropping it,
    or reaching its end) stops the decoding and closes the file."""

    def __init__(self, job: _Job):
        self._job: _Job | None = job

    def ready(self) -> None:
        """Wait for the probe: raise its error (closing the stream), if any."""
        assert self._job is not None
        kind, value = self._job.items.get()
        if kind == "error":
            self.close()
            raise value

    def __iter__(self) -> FrameStream:
        return self

    def __next__(self) -> FrameBatch:
        while self._job is not None:
            kind, value = self._job.items.get()
            if kind == "batch":
                return value
            if kind == "warn":
                warnings.warn(value[0], value[1], stacklevel=2)
                continue
            self.close()
            if kind == "error":
                raise value
            break  # "end"
        raise StopIteration

    def close(self) -> None:
        if self._job is not None:
            self._job.cancel()
            self._job = None

    def __del__(self) -> None:
        self.close()


def _cancel_queued(worker: _Worker) -> None:
    with worker.lock:
        worker.cancel_unclaimed()


def iter_frames_ahead(path: str | os.PathLike, config: DecodeConfig = DecodeConfig(),
                      depth: int | None = None) -> FrameStream:
    """`iter_frames(path, config)` decoded in a background thread, `depth` batches ahead
    (default config.prefetch, at least 1)."""
    return DecodeAhead(config, depth).frames(path)
