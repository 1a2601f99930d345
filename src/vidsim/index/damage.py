"""Telling a damaged index from a new one, and setting files aside instead of deleting them.

An index whose catalog is missing, empty or unreadable while codes files are present is refused
(`IndexDamagedError`, naming `vidsim index repair`): opening it as a new index would hide every
committed video, and the next add's cleanup would delete their codes files. Cleanup deletes a
codes file that no row names only when the catalog passes SQLite's quick_check and the file is
one that an interrupted writer leaves (`orphan_fates`); any other is moved to DIR/damaged/.
"""
from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from vidsim.errors import CodesDamagedError, IndexDamagedError, VidsimError
from vidsim.fsutil import fsync_dir
from vidsim.index.catalog import Catalog, _open_read_only
from vidsim.index.codes import inspect_codes
from vidsim.index.layout import CATALOG_FILE, CODES_DIR, DAMAGED_DIR, FEATURE_SUFFIX, codes_paths, file_size

TABLES = {"videos", "removed", "counters"}


def repair_hint(directory: Path) -> str:
    return f"run `vidsim index repair --index {directory}`"


def catalog_damage(directory: Path) -> str | None:
    """Why the catalog of the index in `directory` cannot be trusted, or None: it is intact, or
    it is absent or empty in an index that holds no codes file (a new index). Opens it read-only."""
    path = directory / CATALOG_FILE
    if not path.exists():
        return "missing" if _any_codes(directory) else None
    if file_size(path) == 0 and file_size(path.with_name(CATALOG_FILE + "-wal")) == 0:
        return "empty (0 bytes)" if _any_codes(directory) else None
    try:
        db = _open_read_only(path, "opened to check it")
        try:
            tables = {str(r[0]) for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            if not TABLES <= tables:
                if not tables and not _any_codes(directory):
                    return None  # created, schema not yet written
                return "empty (it holds no video table)" if not tables else "incomplete (tables are missing)"
            problems = [str(r[0]) for r in db.execute("PRAGMA quick_check")]
            if problems != ["ok"]:
                return f"damaged ({problems[0]})"
        finally:
            db.close()
    except (sqlite3.OperationalError, VidsimError):
        return None  # cannot be opened read-only here (busy, locked down): opening proper decides
    except sqlite3.DatabaseError as exc:
        return f"unreadable ({exc})"
    return None


def _any_codes(directory: Path) -> bool:
    """Whether the index holds at least one codes file (stops at the first)."""
    base = directory / CODES_DIR
    return base.is_dir() and any(p.is_file() and not p.name.startswith(".") for p in base.rglob(f"*{FEATURE_SUFFIX}"))


def damage_message(directory: Path, what: str) -> str:
    """The error of a refused index: what is wrong, that nothing was touched, and the repair command."""
    count = len(codes_paths(directory))
    held = f"; its {count} codes files are untouched" if count else ""
    return (f"{directory}: the index's catalog ({CATALOG_FILE}) is {what}{held}. The index was not opened, so "
            f"that no indexed video is lost: {repair_hint(directory)} to rebuild the catalog from the codes files")


def open_catalog(directory: Path) -> Catalog:
    """The index's catalog, refused (IndexDamagedError) when it is damaged (`catalog_damage`)."""
    what = catalog_damage(directory)
    if what is not None:
        raise IndexDamagedError(damage_message(directory, what))
    try:
        return Catalog(directory / CATALOG_FILE)
    except sqlite3.OperationalError:
        raise
    except sqlite3.DatabaseError as exc:
        raise IndexDamagedError(damage_message(directory, f"unreadable ({exc})")) from exc


def read_only_catalog(path: Path) -> Catalog:
    """A catalog opened read-only (no schema written, no checkpoint), for `index check` and
    `repair`; sqlite3.Error or VidsimError when it cannot be read."""
    catalog = Catalog.__new__(Catalog)
    catalog.path = path
    catalog.read_only = True
    catalog.write_problem = None
    catalog.db = _open_read_only(path, "opened read-only on purpose")
    return catalog


def orphan_fates(catalog: Catalog, orphans: list[Path]) -> dict[Path, str | None]:
    """For each codes file that no row names: None when an interrupted writer left it (delete
    it), else why it must be kept. An add reserves the next (id, first_vector) and writes the
    codes file before its row commits, so the one file it can leave carries exactly those; a
    removal deletes the row first, so a file of a removed id is left by an interrupted removal.
    Anything else (rows lost, an older vidsim's file, an unreadable file) is kept."""
    next_ids = catalog.next_ids()
    removed = catalog.removed_ids()
    fates: dict[Path, str | None] = {}
    pending: list[Path] = []
    for path in orphans:
        try:
            meta = inspect_codes(path).meta
        except FileNotFoundError:
            continue
        except CodesDamagedError as exc:
            fates[path] = exc.reason
            continue
        video_id, first = meta.get("id"), meta.get("first_vector")
        if not isinstance(video_id, int) or not isinstance(first, int):
            fates[path] = "not in the catalog (written by an older vidsim)"
        elif catalog.by_hash(str(meta.get("content_hash"))) is not None:
            fates[path] = "not in the catalog, which holds its content under another file"
        elif video_id in removed:
            fates[path] = None
        elif video_id >= next_ids[0]:
            pending.append(path)
            fates[path] = None if (video_id, first) == next_ids else "not in the catalog (its id was never committed)"
        else:
            fates[path] = "not in the catalog (its row is lost)"
    if len(pending) > 1:  # more than one writer's worth of uncommitted files: rows were lost, keep them all
        fates.update({p: "not in the catalog (its id was never committed)" for p in pending})
    return fates


def move_aside(directory: Path, path: Path) -> Path:
    """Move a file of the index into DIR/damaged/ (same relative path; a number added if taken)."""
    target = directory / DAMAGED_DIR / path.relative_to(directory)
    stem, suffix, n = target.name.split(".", 1)[0], "".join(target.suffixes), 0
    while target.exists():
        n += 1
        target = target.with_name(f"{stem}.{n}{suffix}")
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(path, target)
    fsync_dir(target.parent)
    fsync_dir(path.parent)
    return target
