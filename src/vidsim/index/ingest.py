"""Adding and removing videos, under the write lock.

A video's codes file is written, fsynced and renamed into place before its row commits, and
the row carries the video's vector ids; the vector snapshot is rewritten after each add (and
every few minutes during a long one). A kill at any moment thus loses only the video being
added: what it left (temporary files, a codes file whose row never committed) is deleted by
the next add. A write that fails (disk full, read-only file system) stops the batch with one
`IndexWriteError` naming the file and the cause; what had committed stays, and the same
command run again resumes.
"""
from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vidsim.errors import IndexWriteError, NoFramesError, VideoError, VidsimError
from vidsim.features.types import VideoFeatures
from vidsim.fsutil import write_error_cause
from vidsim.index.catalog import Catalog, VideoRecord
from vidsim.index.codes import Codec, frame_vectors, write_codes
from vidsim.index.config import StoredConfig
from vidsim.index.layout import (
    CODES_DIR,
    FEATURE_SUFFIX,
    LOCK_FILE,
    VECTORS_FILE,
    codes_file,
    file_size,
)
from vidsim.index.lock import WriteLock
from vidsim.index.sync import VectorSync

# what to do about a failed write, by its cause's errno name
_ADVICE = (("ENOSPC", "free some space"), ("EDQUOT", "free some space"),
           ("EROFS", "make the index directory writable (it is on a read-only file system)"),
           ("EACCES", "get write permission on the index directory"),
           ("EPERM", "get write permission on the index directory"))

FrameProgress = Callable[[int, float], None]  # (frames embedded since the last call, seconds reached)
Embed = Callable[[Path, "FrameProgress | None"], VideoFeatures]  # a video's features, checked against the index


@dataclass(frozen=True)
class AddProgress:
    """Reported to `Index.add`'s progress callback as work advances."""

    event: str  # "start" (a video begins), "frames" (frames embedded), "added", "skipped", "failed"
    path: str
    videos_done: int  # videos finished (added, skipped or failed) in this call
    videos_total: int
    seconds: float  # seconds of video embedded in this call (the current video included)
    frames: int  # frames embedded in this call
    message: str = ""  # why a video was skipped or failed


@dataclass(frozen=True)
class AddReport:
    added: tuple[VideoRecord, ...] = ()
    skipped: tuple[tuple[str, str], ...] = ()  # (path, reason): already indexed
    failed: tuple[tuple[str, str], ...] = ()  # (path, reason): unreadable videos

    @property
    def seconds(self) -> float:
        return sum(r.duration for r in self.added)

    @property
    def frames(self) -> int:
        return sum(r.frames for r in self.added)


class Ingest:
    """The writing side of one `Index`: add, remove, and cleanup after an interrupted writer."""

    def __init__(self, directory: Path, stored: StoredConfig, catalog: Catalog, codec: Codec,
                 vectors: VectorSync, lock: WriteLock, embed: Embed):
        self.directory = directory
        self.stored = stored
        self.catalog = catalog
        self.codec = codec
        self.vectors = vectors
        self.lock = lock
        self.embed = embed
        self._writing: Path | None = None  # the file being written, named if the write fails

    def add(self, paths: Iterable[str | os.PathLike[str]], progress: Callable[[AddProgress], None] | None = None,
            snapshot_seconds: float = 300.0) -> AddReport:
        """Index videos (directories searched recursively), rewriting the vector snapshot at
        least every `snapshot_seconds` and at the end; see `Index.add`."""
        from vidsim.decode import find_videos
        from vidsim.decode.discover import check_inputs

        usable, failed = check_inputs(list(paths))  # missing paths, directories without videos
        files: list[Path] = []
        for item in usable:
            files += find_videos([item])
        added: list[VideoRecord] = []
        skipped: list[tuple[str, str]] = []
        total_frames, total_seconds = 0, 0.0
        videos_total = len(files) + len(failed)

        def report(event: str, path: Path, current: float = 0.0, message: str = "") -> None:
            if progress is not None:
                done = len(added) + len(skipped) + len(failed)
                progress(AddProgress(event, str(path), done, videos_total, total_seconds + current,
                                     total_frames, message))

        try:
            with self._locked():
                self.cleanup()
                self.vectors.sync()
                for unreadable, reason in failed:
                    report("failed", Path(unreadable), message=reason)
                last_snapshot = time.monotonic()
                for path in files:
                    report("start", path)

                    def on_frames(count: int, reached: float, path: Path = path) -> None:
                        nonlocal total_frames
                        total_frames += count
                        report("frames", path, reached)

                    try:
                        record, reason = self._add_one(path, on_frames)
                    except VideoError as exc:
                        failed.append((str(path), exc.reason))
                        report("failed", path, message=exc.reason)
                        continue
                    if record is None:
                        skipped.append((str(path), reason))
                        report("skipped", path, message=reason)
                        continue
                    added.append(record)
                    total_seconds += record.duration
                    report("added", path)
                    if time.monotonic() - last_snapshot > snapshot_seconds:
                        self._save_vectors()
                        last_snapshot = time.monotonic()
                if self.vectors.dirty:
                    self._save_vectors()
                self.catalog.checkpoint()
        except Exception as exc:
            done = f"{_videos(len(added))} added in this run before it stopped" + (
                f" ({len(skipped)} already indexed)" if skipped else "")
            failure = self._write_failure(exc, done)
            if failure is None:
                raise
            raise failure from exc
        return AddReport(tuple(added), tuple(skipped), tuple(failed))

    def remove(self, video_ids: int | np.integer | Iterable[int]) -> list[VideoRecord]:
        """Remove videos by id (all or none: unknown ids raise VidsimError before any removal)."""
        if isinstance(video_ids, (int, np.integer)):
            ids = [int(video_ids)]
        else:
            ids = [int(i) for i in video_ids]
        removed: list[VideoRecord] = []
        try:
            with self._locked():
                self.vectors.sync()
                unknown = [i for i in ids if self.catalog.get(i) is None]
                if unknown:
                    raise VidsimError(f"{self.directory}: no video with id {', '.join(map(str, unknown))}")
                for video_id in dict.fromkeys(ids):
                    self._writing = self.catalog.path
                    record = self.catalog.delete(video_id)
                    assert record is not None  # the lock keeps other writers out
                    self._writing = self.directory / record.codes_file
                    (self.directory / record.codes_file).unlink(missing_ok=True)
                    removed.append(record)
                self.vectors.removed(removed)
                self._save_vectors()
                self.catalog.checkpoint()
        except Exception as exc:
            failure = self._write_failure(exc, f"{_videos(len(removed))} removed before it stopped")
            if failure is None:
                raise
            raise failure from exc
        return removed

    # --- failed writes -------------------------------------------------------------------
    @contextmanager
    def _locked(self) -> Iterator[None]:
        """The write lock, refused up front when the catalog could only be opened read-only."""
        self._writing = self.directory / LOCK_FILE
        with self.lock:
            if self.catalog.read_only:
                self._writing = self.catalog.path
                raise IndexWriteError(f"{self.directory}: cannot write {self.catalog.path}: "
                                      f"{self.catalog.write_problem}", self.catalog.path,
                                      self.catalog.write_problem or "")
            self._writing = self.directory
            yield

    def _save_vectors(self) -> None:
        self._writing = self.directory / VECTORS_FILE
        self.vectors.save()
        self._writing = self.catalog.path  # the checkpoint that follows

    def _write_failure(self, exc: Exception, done: str) -> IndexWriteError | None:
        """`exc` as one IndexWriteError line (the file, the cause, what was done, how to resume)
        when it is a failed write; None otherwise."""
        if isinstance(exc, IndexWriteError):
            target, cause = Path(exc.path), exc.cause
        else:
            found = write_error_cause(exc, self._writing or self.directory)
            if found is None:
                return None
            target, cause = self._writing or Path(getattr(exc, "filename", None) or self.directory), found
        advice = next((text for code, text in _ADVICE if f"({code})" in cause), "fix that")
        return IndexWriteError(f"{self.directory}: cannot write {target}: {cause}; {done}, and what had "
                               f"committed is kept; {advice} and run the same command again to resume",
                               target, cause)

    def cleanup(self) -> None:
        """Delete what an interrupted writer left: temporary files, codes files with no row."""
        for tmp in self.directory.glob(".*.tmp"):
            tmp.unlink(missing_ok=True)
        codes = self.directory / CODES_DIR
        if not codes.is_dir():
            return
        referenced = self.catalog.codes_files()
        for path in codes.rglob("*"):
            if path.is_file():
                relative = path.relative_to(self.directory).as_posix()
                if path.name.startswith(".") or relative not in referenced:
                    path.unlink(missing_ok=True)

    def _add_one(self, path: Path, on_frames: FrameProgress) -> tuple[VideoRecord | None, str]:
        """One video: (its new record, "") or (None, why it was skipped)."""
        from vidsim.store import content_hash

        self._writing = None  # embedding may write the feature cache (which warns if it cannot)
        file_hash = content_hash(path)
        existing = self.catalog.by_hash(file_hash)
        if existing is not None:
            return None, f"already indexed as {existing.id} ({existing.path})"
        duration = 0.0
        if path.suffix != FEATURE_SUFFIX:
            from vidsim.decode import probe

            duration = float(probe(path).duration or 0.0)
        features = self.embed(path, on_frames)
        if features.num_frames == 0:
            raise NoFramesError(path, "no frames sampled")
        if not duration:
            duration = float(features.timestamps[-1]) + 1.0 / self.stored.vidsim.decode.fps
        relative = codes_file(file_hash)
        meta = {"content_hash": file_hash, "source": str(path), "feature_key": self.stored.feature_key}
        self._writing = self.directory / relative
        codes_bytes = write_codes(self.directory / relative, self.codec, features.regions, features.timestamps, meta)
        self._writing = self.catalog.path
        record = self.catalog.insert(file_hash, str(path), path.stem, duration, features.num_frames, relative,
                                     codes_bytes, file_size(path))
        # vectors from the decoded codes, exactly as a rebuild from the files would make them
        decoded = self.codec.decode(self.codec.encode(features.regions))
        self.vectors.added(record, frame_vectors(decoded))
        return record, ""



def _videos(count: int) -> str:
    return f"{count} video{'' if count == 1 else 's'}"
