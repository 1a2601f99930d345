"""Adding and removing videos, under the write lock.

A video's codes file is written, fsynced and renamed into place before its row commits, and
the row carries the video's vector ids; the vector snapshot is rewritten after each add (and
every few minutes during a long one). A kill at any moment thus loses only the video being
added: what it left (temporary files, a codes file whose row never committed) is deleted by
the next add, once SQLite's quick_check says the catalog is intact; a codes file without a row
that no interrupted writer explains is moved to DIR/damaged/ instead (`damage.orphan_fates`).
Content already indexed is skipped unless its codes file is missing or damaged: then it is
embedded again and the file rewritten under the same row. A write that fails (disk full,
read-only file system) stops the batch with one `IndexWriteError` naming the file and the
cause; what had committed stays, and the same command run again resumes.
"""
from __future__ import annotations

import os
import time
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vidsim.engine.base import Embedded, Engine
from vidsim.errors import (
    CodesDamagedError,
    IndexDamagedError,
    IndexDamageWarning,
    IndexWriteError,
    NoFramesError,
    VideoError,
    VidsimError,
)
from vidsim.features.types import VideoFeatures
from vidsim.fsutil import write_error_cause
from vidsim.index.catalog import Catalog, VideoRecord
from vidsim.index.codes import Codec, frame_vectors, inspect_codes, write_codes
from vidsim.index.config import StoredConfig, check_features
from vidsim.index.damage import move_aside, orphan_fates, repair_hint
from vidsim.index.layout import (
    CATALOG_FILE,
    CODES_DIR,
    DAMAGED_DIR,
    FEATURE_SUFFIX,
    LOCK_FILE,
    VECTORS_FILE,
    codes_file,
    codes_paths,
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
NextVideo = Callable[[], "Path | None"]  # the next video to embed, asked once the current one is being decoded
# a video's features, checked against the index; the third argument names the video to decode next
Embed = Callable[[Path, "FrameProgress | None", "NextVideo | None"], VideoFeatures]
LOOKAHEAD = 4  # files looked at, after the current one, for the next one to decode ahead


@dataclass(frozen=True)
class AddProgress:
    """Reported to `Index.add`'s progress callback as work advances."""

    event: str  # "start" (a video begins), "frames" (frames embedded), "added", "repaired", "skipped", "failed"
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
    repaired: tuple[VideoRecord, ...] = ()  # indexed content whose missing or damaged codes file was rewritten

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
            snapshot_seconds: float = 300.0, sources: Mapping[Path, tuple[str, str]] | None = None,
            engine: Engine | None = None) -> AddReport:
        """Index videos (directories searched recursively), rewriting the vector snapshot at
        least every `snapshot_seconds` and at the end; `sources`: the (path, name) recorded for
        a file instead of its own; see `Index.add`. `engine`: who embeds the videos (None: this
        process, each in its turn); this process still writes every row."""
        from vidsim.decode import find_videos
        from vidsim.decode.discover import check_inputs

        usable, failed = check_inputs(list(paths))  # missing paths, directories without videos
        files: list[Path] = []
        for item in usable:
            files += find_videos([item])
        added: list[VideoRecord] = []
        repaired: list[VideoRecord] = []
        skipped: list[tuple[str, str]] = []
        total_frames, total_seconds = 0, 0.0
        videos_total = len(files) + len(failed)

        def report(event: str, path: Path, current: float = 0.0, message: str = "") -> None:
            if progress is not None:
                done = len(added) + len(repaired) + len(skipped) + len(failed)
                progress(AddProgress(event, str(path), done, videos_total, total_seconds + current,
                                     total_frames, message))

        try:
            with self._locked():
                self.cleanup()
                self.vectors.sync()
                for unreadable, reason in failed:
                    report("failed", Path(unreadable), message=reason)
                last_snapshot = time.monotonic()
                for path, embedded in (self._in_turn(files) if engine is None else
                                       self._by_engine(engine, files, skipped, failed, report)):
                    report("start", path)

                    def on_frames(count: int, reached: float, path: Path = path) -> None:
                        nonlocal total_frames
                        total_frames += count
                        report("frames", path, reached)

                    try:
                        record, reason = self._add_from(path, embedded, on_frames, (sources or {}).get(path))
                    except VideoError as exc:
                        failed.append((str(path), exc.reason))
                        report("failed", path, message=exc.reason)
                        continue
                    if record is None:
                        skipped.append((str(path), reason))
                        report("skipped", path, message=reason)
                        continue
                    total_seconds += record.duration
                    if reason:
                        repaired.append(record)
                        report("repaired", path, message=reason)
                    else:
                        added.append(record)
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
        return AddReport(tuple(added), tuple(skipped), tuple(failed), tuple(repaired))

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
        """Delete what an interrupted writer left: temporary files, and a codes file whose row
        never committed (only when the catalog passes quick_check); move other codes files that
        no row names to DIR/damaged/, with a warning."""
        for tmp in self.directory.glob(".*.tmp"):
            tmp.unlink(missing_ok=True)
        codes = self.directory / CODES_DIR
        if not codes.is_dir():
            return
        for tmp in codes.rglob(".*"):
            if tmp.is_file():
                tmp.unlink(missing_ok=True)
        referenced = self.catalog.codes_files()
        orphans = [p for p in codes_paths(self.directory) if p.relative_to(self.directory).as_posix() not in referenced]
        if not orphans:
            return
        problems = self.catalog.integrity()
        if problems:
            raise IndexDamagedError(f"{self.directory / CATALOG_FILE}: the catalog fails SQLite's integrity check "
                                    f"({problems[0]}); nothing was added or deleted: {repair_hint(self.directory)}")
        for path, why in orphan_fates(self.catalog, orphans).items():
            if why is None:
                path.unlink(missing_ok=True)
                continue
            self._writing = self.directory / DAMAGED_DIR
            moved = move_aside(self.directory, path)
            warnings.warn(IndexDamageWarning(f"{path}: {why}; moved to {moved} ({repair_hint(self.directory)} to "
                                             "index it again)"), stacklevel=3)

    def _next_to_embed(self, upcoming: list[Path]) -> Path | None:
        """The first of `upcoming` that will be embedded as far as can be told now (a video whose content
        is not indexed yet), to decode while the current one is embedded; None when there is none."""
        from vidsim.store import content_hash

        try:
            for path in upcoming:
                if path.suffix != FEATURE_SUFFIX and self.catalog.by_hash(content_hash(path)) is None:
                    return path
        except Exception:  # noqa: BLE001 - only a hint: the video's own turn reports what is wrong
            return None
        return None

    def _in_turn(self, files: list[Path]) -> Iterator[tuple[Path, NextVideo]]:
        """Each file with the function naming the next one to decode ahead: embedded here, in turn."""
        for position, path in enumerate(files):

            def then(position: int = position) -> Path | None:
                return self._next_to_embed(files[position + 1 : position + 1 + LOOKAHEAD])

            yield path, then

    def _by_engine(self, engine: Engine, files: list[Path], skipped: list[tuple[str, str]],
                   failed: list[tuple[str, str]], report: Callable[..., None]) -> Iterator[tuple[Path, Embedded]]:
        """The files to embed, handed to `engine`, with their results as they come; files already
        indexed (whose codes are sound) are skipped first, and a second copy of content given
        twice is left for the first copy's row."""
        from vidsim.engine import check_engine
        from vidsim.store import content_hash

        check_engine(engine, self.stored.feature_key, self.stored.dims, str(self.directory))
        first: dict[str, Path] = {}  # content hash -> the file sent for it
        copies: list[tuple[Path, str]] = []

        def todo() -> Iterator[Path]:  # read as the engine hands out work: hashing overlaps embedding
            for path in files:
                try:
                    file_hash = content_hash(path)
                except VideoError as exc:
                    failed.append((str(path), exc.reason))
                    report("failed", path, message=exc.reason)
                    continue
                existing = self.catalog.by_hash(file_hash)
                if existing is not None and not self._codes_damage(existing):
                    skipped.append((str(path), f"already indexed as {existing.id} ({existing.path})"))
                    report("skipped", path, message=skipped[-1][1])
                elif file_hash in first:
                    copies.append((path, file_hash))
                else:
                    first[file_hash] = path
                    yield path

        outcome: dict[Path, str] = {}
        for result in engine.embed(todo()):
            outcome[result.path] = result.error
            yield result.path, result
        for path, file_hash in copies:  # the same content as a file embedded above: skipped, or failed as it did
            yield path, Embedded(path, None, outcome.get(first[file_hash], ""), 0)

    def _add_from(self, path: Path, embedded: NextVideo | Embedded, on_frames: FrameProgress,
                  source: tuple[str, str] | None) -> tuple[VideoRecord | None, str]:
        """`_add_one` for a video to embed here (`embedded` names the next one to decode ahead) or
        one an engine embedded (its result: features, an error, or neither for a second copy)."""
        if not isinstance(embedded, Embedded):
            return self._add_one(path, on_frames, embedded, source)
        if embedded.error:
            raise VideoError(path, embedded.error)
        features = embedded.features
        if features is not None and features.num_frames:
            on_frames(features.num_frames, float(features.timestamps[-1]))
        return self._add_one(path, on_frames, source=source, features=features)

    def _add_one(self, path: Path, on_frames: FrameProgress, then: NextVideo | None = None,
                 source: tuple[str, str] | None = None, features: VideoFeatures | None = None,
                 ) -> tuple[VideoRecord | None, str]:
        """One video: (its new record, ""), (its record, what was rewritten) when indexed content had a
        missing or damaged codes file, or (None, why it was skipped); `source`: the (path, name) to
        record, else its own. `features`: the video's, made elsewhere (an engine's worker), checked
        here against the index."""
        from vidsim.store import content_hash

        self._writing = None  # embedding may write the feature cache (which warns if it cannot)
        file_hash = content_hash(path)
        existing = self.catalog.by_hash(file_hash)
        damage = ""
        if existing is not None:
            damage = self._codes_damage(existing)
            if not damage:
                return None, f"already indexed as {existing.id} ({existing.path})"
        duration = 0.0
        if path.suffix != FEATURE_SUFFIX:
            from vidsim.decode import probe

            duration = float(probe(path).duration or 0.0)
        if features is None:
            features = self.embed(path, on_frames, then)
        else:
            check_features(self.directory, self.stored, features)
        if features.num_frames == 0:
            raise NoFramesError(path, "no frames sampled")
        if not duration:
            duration = float(features.timestamps[-1]) + 1.0 / self.stored.vidsim.decode.fps
        relative = codes_file(file_hash)
        # vectors from the decoded codes, exactly as a rebuild from the files would make them
        vectors = frame_vectors(self.codec.decode(self.codec.encode(features.regions)))
        if existing is not None and (self.directory / existing.codes_file).exists():
            self._writing = self.directory / DAMAGED_DIR
            move_aside(self.directory, self.directory / existing.codes_file)  # keep the damaged bytes
        if existing is not None and existing.frames == features.num_frames:
            self._writing = self.directory / existing.codes_file
            size = write_codes(self.directory / existing.codes_file, self.codec, features.regions,
                               features.timestamps, self._meta(existing), features.frame_std)
            self._writing = self.catalog.path
            self.catalog.update_codes(existing.id, size)
            self.vectors.replaced(existing, vectors)
            record = self.catalog.get(existing.id)
            assert record is not None  # the write lock keeps other writers out
            return record, f"rewrote its codes file ({damage})"
        if existing is not None:  # another frame count: a new row replaces the old one
            self._writing = self.catalog.path
            self.catalog.delete(existing.id)
            self.vectors.removed([existing])
        video_id, first = self.catalog.next_ids()
        recorded, name = source or (str(path), path.stem)
        pending = VideoRecord(video_id, file_hash, recorded, name, duration, features.num_frames, first, relative,
                              0, file_size(path), time.time())
        self._writing = self.directory / relative
        codes_bytes = write_codes(self.directory / relative, self.codec, features.regions, features.timestamps,
                                  self._meta(pending), features.frame_std)
        self._writing = self.catalog.path
        record = self.catalog.insert(file_hash, recorded, name, duration, features.num_frames, relative,
                                     codes_bytes, pending.file_bytes, reserved=(video_id, first), added=pending.added)
        self.vectors.added(record, vectors)
        return record, f"rewrote its codes file ({damage})" if existing is not None else ""

    def _meta(self, record: VideoRecord) -> dict:
        """What a codes file's metadata keeps: the whole row, and the feature key."""
        return {**record.meta(), "feature_key": self.stored.feature_key}

    def _codes_damage(self, record: VideoRecord) -> str:
        """Why the codes file of an indexed video must be rewritten ("" when it is sound)."""
        try:
            inspect_codes(self.directory / record.codes_file, self.codec)
        except FileNotFoundError:
            return "it was missing"
        except CodesDamagedError as exc:
            return exc.reason
        except VidsimError as exc:  # another layout than the index's
            return str(exc)
        return ""


def _videos(count: int) -> str:
    return f"{count} video{'' if count == 1 else 's'}"
