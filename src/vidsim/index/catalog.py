"""The catalog: SQLite (WAL) metadata of indexed videos, the index's source of truth.

A video row commits only after its codes file is durably in place, so every row names a
readable file. Vector ids are handed out from a counter in the same transaction: video v owns
vector ids [first_vector, first_vector + frames). Removed videos leave a row in `removed`
so that vector snapshots taken before the removal can be cleaned when next opened. A writer
reserves the next (id, first_vector) before writing the codes file, whose metadata holds the
whole row (`VideoRecord.meta`), so the catalog can be rebuilt from the codes files.

Damage surfaces as sqlite3.DatabaseError (SQLite's own, or `CatalogContentError` for content
SQLite does not check: a value of the wrong type, text that is not UTF-8, a missing counter);
the index reports it naming `vidsim index repair`. Every query's cursor is closed before its
rows are used, so a failed read never leaves the connection (and its lock on the file) open.

Reading never needs to write: where the catalog cannot be opened for writing (a read-only
mount, a full disk: SQLite's WAL mode has to create or grow `catalog.sqlite-shm` beside it), an
existing catalog is opened read-only, and as an immutable file when its write-ahead log is
absent or empty (nothing waits in it to be folded into the database file).
"""
from __future__ import annotations

import contextlib
import sqlite3
import time
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from vidsim.errors import VidsimError
from vidsim.fsutil import write_error_cause

SCHEMA = """
CREATE TABLE IF NOT EXISTS videos (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    content_hash TEXT NOT NULL UNIQUE,
    path TEXT NOT NULL,
    name TEXT NOT NULL,
    duration REAL NOT NULL,
    frames INTEGER NOT NULL,
    first_vector INTEGER NOT NULL,
    codes_file TEXT NOT NULL,
    codes_bytes INTEGER NOT NULL,
    file_bytes INTEGER NOT NULL,
    added REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS removed (
    id INTEGER PRIMARY KEY,
    first_vector INTEGER NOT NULL,
    frames INTEGER NOT NULL,
    removed REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
INSERT OR IGNORE INTO counters VALUES ('next_vector', 0);
"""
_COLUMNS = "id, content_hash, path, name, duration, frames, first_vector, codes_file, codes_bytes, file_bytes, added"
_NAMES = tuple(_COLUMNS.split(", "))
_NUMBER = (int, float)
_KINDS: tuple[type | tuple[type, ...], ...] = (int, str, str, str, _NUMBER, int, int, str, int, int, _NUMBER)
# SQLite errors raised as OperationalError that are about the file's content, not the machine
_CONTENT = ("Could not decode to UTF-8", "no such column", "no such table", "unsupported file format")


class CatalogContentError(sqlite3.DatabaseError):
    """The catalog holds what vidsim never writes (a damaged or foreign file); a
    sqlite3.DatabaseError, so that it is handled as SQLite's own reports of damage."""


def _content_error(path: Path, exc: BaseException) -> CatalogContentError | None:
    """The CatalogContentError for an error that is about the file's content but is not raised
    as damage (text that does not decode, a schema or file format vidsim never writes); else None."""
    if isinstance(exc, UnicodeDecodeError):
        return CatalogContentError(f"{path}: not UTF-8 text ({exc.reason})")
    if isinstance(exc, sqlite3.OperationalError) and str(exc).startswith(_CONTENT):
        return CatalogContentError(f"{path}: {exc}")
    return None


@dataclass(frozen=True)
class VideoRecord:
    """One indexed video."""

    id: int
    content_hash: str
    path: str  # as given when added
    name: str  # file stem: the id used in VSC-style CSVs
    duration: float  # seconds
    frames: int  # sampled frames stored
    first_vector: int
    codes_file: str  # relative to the index directory
    codes_bytes: int
    file_bytes: int  # size of the video file
    added: float  # unix time

    def meta(self) -> dict[str, Any]:
        """The row as kept in its codes file's metadata (all but codes_file and codes_bytes)."""
        return {"id": self.id, "content_hash": self.content_hash, "source": self.path, "name": self.name,
                "duration": self.duration, "frames": self.frames, "first_vector": self.first_vector,
                "file_bytes": self.file_bytes, "added": self.added}


class Catalog:
    """Thin typed wrapper over one SQLite connection (one per Index object, one thread)."""

    def __init__(self, path: Path):
        self.path = path
        self.read_only = False  # opened without write access (see the module docstring)
        self.write_problem: str | None = None  # why it could not be opened for writing
        try:
            self.db = _open_writable(path)
        except (UnicodeDecodeError, sqlite3.OperationalError) as exc:
            content = _content_error(path, exc)
            if content is not None:
                raise content from exc
            problem = write_error_cause(exc, path)  # None for other failures (busy, ...): they pass
            if problem is None or not _holds_database(path):
                raise
            self.write_problem = problem
            self.db = _open_read_only(path, problem)
            self.read_only = True

    def close(self) -> None:
        self.db.close()

    def checkpoint(self) -> None:
        """Fold the WAL into the database file and truncate it (after a writer's batch)."""
        try:
            self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except sqlite3.OperationalError:  # busy: the next checkpoint will do it
            pass

    def transaction(self):
        return _Transaction(self.db)

    def data_version(self) -> int:
        """Changes whenever another connection commits (cheap change detection)."""
        return int(self._rows("PRAGMA data_version")[0][0])

    def _rows(self, sql: str, params: tuple = ()) -> list[tuple]:
        """All rows of a query, its cursor closed even on error: a cursor kept alive (by the
        exception's traceback) would make close() a deferred close that keeps the file locked."""
        try:
            with contextlib.closing(self.db.execute(sql, params)) as cursor:
                return cursor.fetchall()
        except (UnicodeDecodeError, sqlite3.OperationalError) as exc:
            content = _content_error(self.path, exc)
            if content is not None:
                raise content from exc
            raise

    def _typed(self, what: str, row: tuple, kinds: tuple[type | tuple[type, ...], ...], names: tuple[str, ...]) -> tuple:
        """`row` when each value has its column's type: SQLite keeps no types (nor NOT NULL once a
        damaged schema drops it), so a damaged catalog can hold NULLs or text where numbers belong."""
        for name, value, kind in zip(names, row, kinds):
            if not isinstance(value, kind):
                raise CatalogContentError(f"{self.path}: {what} {row[0]!r}: {name} is {value!r}")
        return row

    def _record(self, row: tuple) -> VideoRecord:
        return VideoRecord(*self._typed("video", row, _KINDS, _NAMES))

    # --- reads ----------------------------------------------------------------------
    def videos(self, after_id: int = 0) -> list[VideoRecord]:
        rows = self._rows(f"SELECT {_COLUMNS} FROM videos WHERE id > ? ORDER BY id", (after_id,))
        return [self._record(row) for row in rows]

    def get(self, video_id: int) -> VideoRecord | None:
        rows = self._rows(f"SELECT {_COLUMNS} FROM videos WHERE id = ?", (video_id,))
        return self._record(rows[0]) if rows else None

    def by_hash(self, content_hash: str) -> VideoRecord | None:
        rows = self._rows(f"SELECT {_COLUMNS} FROM videos WHERE content_hash = ?", (content_hash,))
        return self._record(rows[0]) if rows else None

    def removed_since(self, video_id_upto: int) -> list[tuple[int, int, int]]:
        """(id, first_vector, frames) of removed videos with id <= video_id_upto."""
        rows = self._rows("SELECT id, first_vector, frames FROM removed WHERE id <= ? ORDER BY id", (video_id_upto,))
        names = ("id", "first_vector", "frames")
        return [self._typed("removed video", tuple(r), (int, int, int), names) for r in rows]

    def totals(self) -> tuple[int, float, int, int]:
        """(videos, seconds, frames, codes bytes)."""
        row = self._rows("SELECT COUNT(*), TOTAL(duration), TOTAL(frames), TOTAL(codes_bytes) FROM videos")[0]
        return int(row[0]), float(row[1]), int(row[2]), int(row[3])

    def codes_files(self) -> set[str]:
        rows = self._rows("SELECT id, codes_file FROM videos")
        return {self._typed("video", tuple(r), (int, str), ("id", "codes_file"))[1] for r in rows}

    def next_ids(self) -> tuple[int, int]:
        """(id, first_vector) the next inserted video gets (ids and vector ids are never reused)."""
        seq = self._rows("SELECT seq FROM sqlite_sequence WHERE name = 'videos'")
        top = self._rows("SELECT MAX(id) FROM videos")[0][0]
        counter = self._rows("SELECT value FROM counters WHERE name = 'next_vector'")
        if not counter or not isinstance(counter[0][0], int):
            raise CatalogContentError(f"{self.path}: its vector counter is {counter!r}")
        if (seq and not isinstance(seq[0][0], int)) or not isinstance(top, int | None):
            raise CatalogContentError(f"{self.path}: its id counter is {seq!r} (largest id {top!r})")
        return max(seq[0][0] if seq else 0, top or 0) + 1, counter[0][0]

    def removed_ids(self) -> set[int]:
        rows = self._rows("SELECT id FROM removed")
        return {self._typed("removed video", tuple(r), (int,), ("id",))[0] for r in rows}

    def integrity(self, quick: bool = True) -> list[str]:
        """What SQLite's quick_check (or the full integrity_check) finds wrong; [] when intact."""
        rows = [str(r[0]) for r in self._rows(f"PRAGMA {'quick_check' if quick else 'integrity_check'}")]
        return [] if rows == ["ok"] else rows

    # --- writes ---------------------------------------------------------------------
    def insert(self, content_hash: str, path: str, name: str, duration: float, frames: int, codes_file: str,
               codes_bytes: int, file_bytes: int, *, reserved: tuple[int, int] | None = None,
               added: float | None = None) -> VideoRecord:
        """Commit a new row; `reserved`: the `next_ids()` its codes file was written with (checked)."""
        with self.transaction():
            video_id, first = self.next_ids()
            if reserved is not None and reserved != (video_id, first):
                raise VidsimError(f"{self.path}: ids {reserved} were reserved, but the next are {(video_id, first)}")
            self.db.execute("UPDATE counters SET value = ? WHERE name = 'next_vector'", (first + frames,))
            self.db.execute(
                "INSERT INTO videos (id, content_hash, path, name, duration, frames, first_vector, codes_file,"
                " codes_bytes, file_bytes, added) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (video_id, content_hash, path, name, duration, frames, first, codes_file, codes_bytes, file_bytes,
                 time.time() if added is None else added),
            )
        record = self.get(video_id)
        if record is None:  # committed just above by this connection: only a damaged file loses it
            raise CatalogContentError(f"{self.path}: the row just added for {content_hash} cannot be read back")
        return record

    def restore(self, records: list[VideoRecord], next_id: int = 1, next_vector: int = 0) -> None:
        """Insert whole rows as they were (repair), with the counters past them, `next_id` and `next_vector`."""
        with self.transaction():
            for r in records:
                self.db.execute(f"INSERT INTO videos ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                                (r.id, r.content_hash, r.path, r.name, r.duration, r.frames, r.first_vector,
                                 r.codes_file, r.codes_bytes, r.file_bytes, r.added))
            top_id = max([next_id - 1, *(r.id for r in records)])
            top_vector = max([next_vector, *(r.first_vector + r.frames for r in records)])
            self.db.execute("UPDATE counters SET value = ? WHERE name = 'next_vector'", (top_vector,))
            self.db.execute("DELETE FROM sqlite_sequence WHERE name = 'videos'")
            self.db.execute("INSERT INTO sqlite_sequence (name, seq) VALUES ('videos', ?)", (top_id,))

    def update_codes(self, video_id: int, codes_bytes: int) -> None:
        """A video's codes file was rewritten (by an add of the same content)."""
        with self.transaction():
            self.db.execute("UPDATE videos SET codes_bytes = ? WHERE id = ?", (codes_bytes, video_id))

    def delete(self, video_id: int) -> VideoRecord | None:
        with self.transaction():
            record = self.get(video_id)
            if record is None:
                return None
            self.db.execute("DELETE FROM videos WHERE id = ?", (video_id,))
            self.db.execute(
                "INSERT OR REPLACE INTO removed VALUES (?, ?, ?, ?)",
                (video_id, record.first_vector, record.frames, time.time()),
            )
        return record


def _open_writable(path: Path) -> sqlite3.Connection:
    """A read-write connection in WAL mode, the schema created if missing."""
    db = sqlite3.connect(str(path), timeout=30.0, isolation_level=None)
    try:
        db.execute("PRAGMA journal_mode=WAL")
        # NORMAL in WAL mode: a process crash never loses a commit; a power cut may lose the
        # last ones but never corrupts (and codes files are fsynced before their row commits).
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("PRAGMA busy_timeout=30000")
        with _Transaction(db):
            for statement in SCHEMA.split(";"):
                if statement.strip():
                    db.execute(statement)
    except BaseException:
        db.close()
        raise
    return db


def _open_read_only(path: Path, problem: str) -> sqlite3.Connection:
    """A read-only connection to an existing catalog; immutable when its WAL holds nothing."""
    uri = "file:" + urllib.parse.quote(str(path.absolute()))
    wal = path.with_name(path.name + "-wal")
    modes = ["mode=ro"]
    if not wal.exists() or wal.stat().st_size == 0:
        modes.append("immutable=1")  # no -shm needed; right only because the WAL is empty
    for mode in modes:
        db = sqlite3.connect(f"{uri}?{mode}", uri=True, timeout=30.0, isolation_level=None)
        try:
            db.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
            return db
        except BaseException as exc:
            db.close()  # a damaged file (sqlite3.DatabaseError) included: not left open
            content = _content_error(path, exc)
            if content is not None:
                raise content from exc
            if not isinstance(exc, sqlite3.OperationalError):
                raise
    raise VidsimError(f"{path}: cannot be read here: it cannot be written ({problem}), and its write-ahead log "
                      f"{wal.name} holds changes SQLite reads only with a {path.name}-shm file beside it; make "
                      "room or mount the directory read-write, then retry")


def _holds_database(path: Path) -> bool:
    """Whether `path` is a non-empty file (an existing catalog, not one still to be created)."""
    try:
        return path.stat().st_size > 0
    except OSError:
        return False


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT (ROLLBACK on error); the connection is in autocommit mode."""

    def __init__(self, db: sqlite3.Connection):
        self.db = db

    def __enter__(self):
        self.db.execute("BEGIN IMMEDIATE")
        return self.db

    def __exit__(self, kind, exc, tb):
        if kind is None:
            self.db.execute("COMMIT")
        elif self.db.in_transaction:  # SQLite may have rolled back already (a damaged file)
            try:
                self.db.execute("ROLLBACK")
            except sqlite3.Error:
                pass  # the error being raised says more
        return False


@dataclass(frozen=True)
class VectorRanges:
    """Which live video owns a vector id: sorted (first_vector, frames, video_id) arrays."""

    starts: np.ndarray
    counts: np.ndarray
    video_ids: np.ndarray

    @classmethod
    def of(cls, records: list[VideoRecord]) -> VectorRanges:
        records = sorted(records, key=lambda r: r.first_vector)
        return cls(
            np.array([r.first_vector for r in records], dtype=np.int64),
            np.array([r.frames for r in records], dtype=np.int64),
            np.array([r.id for r in records], dtype=np.int64),
        )

    def appended(self, record: VideoRecord) -> VectorRanges:
        """With a newly committed video (its vector ids follow all others)."""
        return VectorRanges(
            np.append(self.starts, np.int64(record.first_vector)),
            np.append(self.counts, np.int64(record.frames)),
            np.append(self.video_ids, np.int64(record.id)),
        )

    def lookup(self, vector_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(video_id, frame index) per vector id; video_id -1 where the id is not live."""
        vector_ids = np.asarray(vector_ids, dtype=np.int64)
        if len(self.starts) == 0:
            return np.full(vector_ids.shape, -1, np.int64), np.zeros(vector_ids.shape, np.int64)
        pos = np.searchsorted(self.starts, vector_ids, side="right") - 1
        pos_c = np.clip(pos, 0, None)
        frame = vector_ids - self.starts[pos_c]
        live = (pos >= 0) & (vector_ids >= 0) & (frame < self.counts[pos_c])
        return np.where(live, self.video_ids[pos_c], -1), np.where(live, frame, 0)
