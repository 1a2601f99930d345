"""`Service`: what the HTTP routes call. It owns the threads that hold the index (searches on a
pool of readers, bounded by `SearchLimiter`; adds and removes on the single writer; listings on
one more thread), the private upload spool and the allowed roots."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from vidsim.errors import VideoError, VideoNotFoundError, VidsimError
from vidsim.index.as_json import search_json, stats_json, video_json
from vidsim.serve.auth import ApiKeys
from vidsim.serve.jobs import Job, Writer
from vidsim.serve.limits import SearchLimiter
from vidsim.serve.roots import AllowedRoots
from vidsim.serve.settings import ServeSettings
from vidsim.serve.uploads import BadBody, Received, Spool
from vidsim.serve.workers import IndexOpener, IndexThread, ReaderPool

if TYPE_CHECKING:
    from vidsim.index import AddReport, Index

T = TypeVar("T")
UPLOAD_PREFIX = "upload:"  # the path recorded for an uploaded video: upload:<its file name>


class UnknownVideo(VidsimError):
    """No indexed video has this id (404)."""


class UnknownJob(VidsimError):
    """No job has this id, or it was forgotten (404)."""


def index_opener(settings: ServeSettings, threads: int | None = None) -> IndexOpener:
    """How a thread opens the service's index: its own configuration; `threads` inference threads
    for the model that embeds queries (the CPUs shared among the searches run at once)."""
    from vidsim.index import Index

    overrides = {"vidsim.features.threads": threads} if threads else None

    def open_index() -> Index:
        if not Index.exists(settings.index):
            raise VidsimError(f"{settings.index}: no vidsim index here (create one with `vidsim index add VIDEOS "
                              f"--index {settings.index}`, or start with --create)")
        return Index.open(settings.index, create=False, overrides=overrides)

    return open_index


class Service:
    """Built when the app is made (the index checked: a missing or damaged one stops the start with
    its message); its threads and spool exist between `start` and `close` (the app's lifespan,
    which may run more than once)."""

    def __init__(self, settings: ServeSettings, keys: ApiKeys | None = None, open_index: IndexOpener | None = None):
        self.settings = settings
        self.keys = keys
        if settings.create and open_index is None:
            from vidsim.index import Index

            Index.open(settings.index, create=True).close()
        self._open_meta = open_index or index_opener(settings)
        self._open = open_index or index_opener(settings, settings.threads_per_search)
        self._open_meta().close()
        self.roots = AllowedRoots(settings.allow_roots)
        self.limiter = SearchLimiter(settings.max_searches, settings.queue_size, settings.queue_wait_s,
                                     settings.retry_after_s)
        self._started = False

    def start(self) -> None:
        if self._started:
            return
        self.spool = Spool(self.settings.spool_dir)
        self.meta = IndexThread("vidsim-meta", self._open_meta)
        self.readers = ReaderPool(self.settings.max_searches, self._open)
        self.writer = Writer(self._open, self.settings.jobs_kept)
        self._started = True

    def close(self) -> None:
        if not self._started:
            return
        self._started = False
        try:
            self.writer.close()
            self.readers.close()
            self.meta.close()
        finally:
            self.spool.close()

    # --- searching ----------------------------------------------------------------------
    def search(self, received: Received, top_k: int, candidates: int | None) -> dict[str, Any]:
        """The same JSON object as `vidsim search --json`, the query named by its label."""
        results = self.query(received, lambda index: index.search(received.path, top_k=top_k, candidates=candidates))
        return search_json(received.label, results)

    def query(self, received: Received, work: Callable[[Index], T]) -> T:
        """`work(index)` on a reader, for a query video: probed first, then within a search slot
        (Busy when none is free in time); vidsim's errors name the upload, not its spooled file.
        Search and the report page both go through here."""
        with _named(received):
            self._check_video(received)
            with self.limiter.slot():
                return self.readers.call(work)

    # --- writing --------------------------------------------------------------------------
    def add(self, received: Received) -> Job:
        """An add job for an upload, a file or a directory under an allowed root; the job removes
        the spooled upload when it ends."""
        try:
            paths = self._add_paths(received)
        except BaseException:
            received.discard()
            raise
        sources = ({received.path: (UPLOAD_PREFIX + received.label, Path(received.label).stem)}
                   if received.spooled else None)

        def work(index: Index, job: Job) -> dict[str, Any]:
            def progress(p: Any) -> None:
                job.progress = {"videos_done": p.videos_done, "videos_total": p.videos_total, "frames": p.frames,
                                "seconds": p.seconds}

            with _named(received):
                report = index.add(paths, progress=progress, sources=sources)
            return _add_result(report, received)

        return self.writer.submit("add", work, cleanup=received.discard)

    def _add_paths(self, received: Received) -> list[Path]:
        if received.spooled or not received.path.is_dir():
            with _named(received):
                self._check_video(received)
            return [received.path]
        from vidsim.decode import find_videos

        files = self.roots.check_found(received.label, find_videos([received.path]))
        if not files:
            raise BadBody(f"{received.label}: no video files in this directory (searched recursively)")
        return files

    def remove(self, video_id: int) -> Job:
        def work(index: Index, job: Job) -> dict[str, Any]:
            if index.get(video_id) is None:
                raise UnknownVideo(f"no video with id {video_id}")
            return {"removed": [video_json(record) for record in index.remove([video_id])]}

        return self.writer.submit("remove", work)

    def job(self, job_id: str) -> Job:
        job = self.writer.get(job_id)
        if job is None:
            raise UnknownJob(f"no job {job_id} (jobs are kept in memory until the service stops; the last "
                             f"{self.settings.jobs_kept} finished ones)")
        return job

    # --- reading ----------------------------------------------------------------------------
    def videos(self, offset: int = 0, limit: int | None = None) -> dict[str, Any]:
        """The same JSON object as `vidsim index list --json`, a page of it, with the total."""
        records = self.meta.call(lambda index: index.list())
        page = records[offset:] if limit is None else records[offset : offset + limit]
        return {"index": str(self.settings.index), "videos": [video_json(r) for r in page], "total": len(records)}

    def video(self, video_id: int) -> dict[str, Any]:
        record = self.meta.call(lambda index: index.get(video_id))
        if record is None:
            raise UnknownVideo(f"no video with id {video_id}")
        return video_json(record)

    def stats(self) -> dict[str, Any]:
        """The same JSON object as `vidsim index stats --json`, and the service's load."""
        out = self.meta.call(lambda index: stats_json(str(self.settings.index), index.stats(), index.stored.feature_key))
        out["service"] = {"searches_admitted": self.limiter.admitted, "max_searches": self.settings.max_searches,
                          "search_queue": self.settings.queue_size, "jobs_pending": self.writer.pending()}
        return out

    def _check_video(self, received: Received) -> None:
        """A quick look (vidsim's probe) that refuses what is not a video before any work is queued."""
        from vidsim.decode import probe
        from vidsim.store import FEATURE_SUFFIX

        if not received.spooled:
            if received.path.is_dir():
                raise BadBody(f"{received.label}: a directory; name a video file")
            if not received.path.exists():
                raise VideoNotFoundError(received.label, "no such file")
            if received.path.suffix == FEATURE_SUFFIX:
                return  # a feature file: the index reads and checks it
        probe(received.path)


@contextmanager
def _named(received: Received) -> Iterator[None]:
    """vidsim's errors about a spooled upload, naming the upload instead of its private file."""
    try:
        yield
    except VideoError as exc:
        if not received.spooled or exc.path != str(received.path):
            raise
        raise type(exc)(received.label, exc.reason) from None


def _add_result(report: AddReport, received: Received) -> dict[str, Any]:
    def named(items: tuple[tuple[str, str], ...]) -> list[dict[str, str]]:
        return [{"path": received.name_in(path), "reason": received.name_in(reason)} for path, reason in items]

    return {"added": [video_json(r) for r in report.added], "repaired": [video_json(r) for r in report.repaired],
            "skipped": named(report.skipped), "failed": named(report.failed)}

