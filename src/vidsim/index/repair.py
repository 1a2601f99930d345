"""`vidsim index repair`: rebuild the catalog and the vector store from the codes files.

Every codes file (under codes/, and those an earlier cleanup set aside in damaged/codes/) is
verified; each sound one becomes a row again, from its metadata (which holds the whole row since
the checksums) or, for files of older versions, from what the old catalog still yields, the rest
estimated (duration from the timestamps, file size from the source if it is still there). The
unreadable ones are moved to DIR/damaged/, the old catalog too; the videos they held are reported
as not recovered. Ids and vector ids are kept, so searches find what they found before.
"""
from __future__ import annotations

import json
import os
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vidsim.errors import CodesDamagedError, VidsimError
from vidsim.fsutil import fsync_dir
from vidsim.index.catalog import Catalog, VideoRecord
from vidsim.index.codes import Codec, CodesInfo, codec_of, inspect_codes, read_arrays, write_arrays
from vidsim.index.config import StoredConfig
from vidsim.index.damage import move_aside, read_only_catalog
from vidsim.index.layout import (
    CATALOG_FILE,
    CODES_DIR,
    CONFIG_FILE,
    DAMAGED_DIR,
    MILVUS_FILE,
    VECTORS_FILE,
    codes_file,
    codes_paths,
    file_size,
)
from vidsim.index.lock import WriteLock
from vidsim.index.sync import VectorSync

NEW_CATALOG = ".catalog.sqlite.repair"  # built here, then renamed over the catalog


@dataclass(frozen=True)
class RepairReport:
    recovered: tuple[VideoRecord, ...] = ()  # rows of the new catalog
    estimated: tuple[tuple[str, str], ...] = ()  # (codes file, the fields estimated): files of older versions
    lost: tuple[tuple[str, str], ...] = ()  # (codes file or video, why): not recovered
    moved: tuple[tuple[str, str], ...] = ()  # (from, to): set aside in DIR/damaged/


@dataclass
class _Found:
    path: Path
    info: CodesInfo
    content_hash: str
    fields: dict[str, Any]  # the row's fields known so far (from the metadata or the old catalog)
    estimated: list[str]


def repair_index(directory: str | Path) -> RepairReport:
    """Rebuild the catalog and vector snapshot of the index in `directory` from its codes files
    (under the write lock; stop servers reading it first: they keep the old catalog open)."""
    directory = Path(directory)
    config_path = directory / CONFIG_FILE
    if not config_path.is_file():
        raise VidsimError(f"{directory}: no vidsim index here (no {CONFIG_FILE}); repair needs it")
    stored = StoredConfig.read(config_path)
    codec = codec_of(stored.index)
    with WriteLock(directory):
        old, next_id, next_vector = _salvage(directory / CATALOG_FILE)
        moved: list[tuple[str, str]] = []
        unusable: dict[str, tuple[str, str]] = {}  # file name's hash -> (file, why), for files moved aside
        found: dict[str, _Found] = {}
        for path in codes_paths(directory) + codes_paths(directory, f"{DAMAGED_DIR}/{CODES_DIR}"):
            set_aside = path.is_relative_to(directory / DAMAGED_DIR)
            why, item = _inspect(path, codec, stored, old)
            if item is None:
                if not set_aside:
                    target = move_aside(directory, path)
                    moved.append((str(path), str(target)))
                    unusable[path.name.split(".")[0]] = (str(path), f"{why}; moved to {target}")
            elif item.content_hash not in found:
                found[item.content_hash] = item
        records, estimated = _rows(directory, stored, found, next_id, next_vector)
        for record in records:
            _place(directory, codec, found[record.content_hash], record)
        recovered = {r.content_hash for r in records}
        lost: list[tuple[str, str]] = []
        for content_hash, row in sorted(old.items(), key=lambda item: item[1].id):
            if content_hash not in recovered:
                again = f"add the video again: `vidsim index add {row.path} --index {directory}`"
                file, why = unusable.pop(content_hash, (f"{directory / row.codes_file}", "missing"))
                lost.append((file, f"{why}; it held video {row.id} ({row.path}): {again}"))
        lost += unusable.values()
        moved += _install(directory, records, next_id, next_vector)
        catalog = Catalog(directory / CATALOG_FILE)
        try:
            (directory / VECTORS_FILE).unlink(missing_ok=True)
            (directory / MILVUS_FILE).unlink(missing_ok=True)  # a Milvus collection is emptied and filled again
            vectors = VectorSync(directory, stored, catalog, codec)
            try:
                vectors.sync()
                vectors.save()
            finally:
                vectors.close()
            catalog.checkpoint()
        finally:
            catalog.close()
    return RepairReport(tuple(records), tuple(estimated), tuple(lost), tuple(moved))


def _salvage(path: Path) -> tuple[dict[str, VideoRecord], int, int]:
    """The rows an old catalog still yields (by content hash) and its next (id, first_vector);
    ({}, 1, 0) when it is missing or unreadable. Reads row by row, so a damaged one yields its
    rows up to the damage."""
    rows: dict[str, VideoRecord] = {}
    next_id, next_vector = 1, 0
    if file_size(path) == 0:
        return rows, next_id, next_vector
    try:
        catalog = read_only_catalog(path)
        try:
            try:
                next_id, next_vector = catalog.next_ids()
            except sqlite3.Error:
                pass
            try:
                for record in catalog.videos():
                    rows[record.content_hash] = record
            except sqlite3.Error:
                pass
        finally:
            catalog.close()
    except (sqlite3.Error, VidsimError):
        pass
    return rows, next_id, next_vector


def _inspect(path: Path, codec: Codec, stored: StoredConfig, old: dict[str, VideoRecord]) -> tuple[str, _Found | None]:
    """A codes file verified and what it tells of its row, or (why it cannot be used, None)."""
    try:
        info = inspect_codes(path, codec)
    except FileNotFoundError:
        return "vanished", None
    except CodesDamagedError as exc:
        return exc.reason, None
    except VidsimError as exc:
        return str(exc).removeprefix(f"{path}: "), None
    meta = info.meta
    if meta.get("feature_key", stored.feature_key) != stored.feature_key:
        return f"made with another feature configuration ({meta.get('feature_key')})", None
    content_hash = str(meta.get("content_hash") or path.name.split(".")[0])
    if len(content_hash) != 64:
        return "its metadata names no content hash", None
    fields: dict[str, Any] = {k: meta[k] for k in ("id", "source", "name", "duration", "first_vector", "file_bytes",
                                                   "added") if k in meta}
    estimated: list[str] = []
    row = old.get(content_hash)
    if row is not None and row.frames == info.frames:
        for key, value in (("id", row.id), ("source", row.path), ("name", row.name), ("duration", row.duration),
                           ("first_vector", row.first_vector), ("file_bytes", row.file_bytes), ("added", row.added)):
            fields.setdefault(key, value)
    return "", _Found(path, info, content_hash, fields, estimated)


def _rows(directory: Path, stored: StoredConfig, found: dict[str, _Found], next_id: int,
          next_vector: int) -> tuple[list[VideoRecord], list[tuple[str, str]]]:
    """One row per recovered file: known ids kept unless two files claim one id or overlapping
    vector ids; the others get new ids after every known one."""
    fps = stored.vidsim.decode.fps
    items = sorted(found.values(), key=lambda f: (not isinstance(f.fields.get("id"), int), f.fields.get("id") or 0,
                                                  f.content_hash))
    taken_ids: set[int] = set()
    end = 0  # vector ids below this are taken (known ids come in increasing order)
    keep: list[_Found] = []
    fresh: list[_Found] = []
    for item in items:
        vid, first = item.fields.get("id"), item.fields.get("first_vector")
        if isinstance(vid, int) and isinstance(first, int) and vid not in taken_ids and first >= end:
            taken_ids.add(vid)
            end = first + item.info.frames
            keep.append(item)
        else:
            fresh.append(item)
    top_id = max([next_id - 1, *taken_ids])
    top_vector = max(next_vector, end)
    records: list[VideoRecord] = []
    estimated: list[tuple[str, str]] = []
    for item, is_fresh in [(i, False) for i in keep] + [(i, True) for i in fresh]:
        f = item.fields
        if is_fresh:
            top_id += 1
            f["id"], f["first_vector"] = top_id, top_vector
            top_vector += item.info.frames
            item.estimated.append("id")
        source = str(f.get("source") or "")
        if not source:
            item.estimated.append("source")
        if "duration" not in f:
            times_end = _last_time(item)
            f["duration"] = times_end + 1.0 / fps
            item.estimated.append("duration")
        if "file_bytes" not in f:
            f["file_bytes"] = file_size(Path(source)) if source else 0
            item.estimated.append("file size")
        if "added" not in f:
            f["added"] = item.path.stat().st_mtime
            item.estimated.append("time added")
        name = str(f.get("name") or Path(source).stem or item.content_hash[:12])
        relative = codes_file(item.content_hash)
        records.append(VideoRecord(int(f["id"]), item.content_hash, source, name, float(f["duration"]),
                                   item.info.frames, int(f["first_vector"]), relative, file_size(item.path),
                                   int(f["file_bytes"]), float(f["added"])))
        if item.estimated:
            estimated.append((str(directory / relative), ", ".join(item.estimated)))
    records.sort(key=lambda r: r.id)
    return records, estimated


def _last_time(item: _Found) -> float:
    """The last frame's timestamp of a codes file (0 when it holds no frame)."""
    from safetensors import safe_open

    with safe_open(str(item.path), framework="numpy") as fh:
        times = fh.get_tensor("timestamps")
    return float(times[-1]) if len(times) else 0.0


def _place(directory: Path, codec: Codec, item: _Found, record: VideoRecord) -> None:
    """Put a recovered file where its row points, its metadata naming the row's id and vector ids."""
    target = directory / record.codes_file
    meta = item.info.meta
    stale = ("id" in meta and (meta.get("id"), meta.get("first_vector")) != (record.id, record.first_vector))
    if stale:  # another id was given: rewrite the metadata (arrays unchanged)
        arrays = read_arrays(item.path, codec)
        metadata = {"codes": codec.name, "layout": json.dumps(codec.layout(), sort_keys=True),
                    "meta": json.dumps({**meta, **record.meta()}, sort_keys=True)}
        write_arrays(target, arrays, metadata)
        if item.path != target:
            item.path.unlink(missing_ok=True)
    elif item.path != target:
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(item.path, target)
        fsync_dir(target.parent)


def _install(directory: Path, records: list[VideoRecord], next_id: int, next_vector: int) -> list[tuple[str, str]]:
    """Write the new catalog beside the old one, move the old one (and its WAL) to DIR/damaged/,
    and rename the new one into place; returns what was moved."""
    new = directory / NEW_CATALOG
    for suffix in ("", "-wal", "-shm"):
        Path(f"{new}{suffix}").unlink(missing_ok=True)
    catalog = Catalog(new)
    try:
        catalog.restore(records, next_id, next_vector)
        catalog.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        catalog.db.execute("PRAGMA journal_mode=DELETE")  # one file to rename; WAL again when opened
    finally:
        catalog.close()
    moved = []
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for suffix in ("", "-wal", "-shm"):
        old = directory / f"{CATALOG_FILE}{suffix}"
        if old.exists():
            aside = old.with_name(f"catalog-{stamp}.sqlite{suffix}")
            os.replace(old, aside)
            target = move_aside(directory, aside)
            moved.append((str(old), str(target)))
    os.replace(new, directory / CATALOG_FILE)
    fsync_dir(directory)
    return moved
