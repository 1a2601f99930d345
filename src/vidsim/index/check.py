"""`vidsim index check`: what is wrong with an index, file by file, without changing anything.

Checked: config.json readable; the catalog present and passing SQLite's integrity_check; every
row's codes file present, readable, passing its checksum and holding that row's video; codes
files no row names; the vector snapshot passing its checksum and holding exactly the vectors of
the videos up to its watermark. Errors are damage (`ok` is False); infos are what an older
vidsim's files cannot prove (no checksum) or what the next writer tidies up.
"""
from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vidsim.errors import CodesDamagedError, VidsimError
from vidsim.index.catalog import Catalog, VideoRecord
from vidsim.index.codes import Codec, codec_of, inspect_codes
from vidsim.index.config import StoredConfig
from vidsim.index.damage import catalog_damage, orphan_fates, read_only_catalog, repair_hint
from vidsim.index.layout import CATALOG_FILE, CODES_DIR, CONFIG_FILE, DAMAGED_DIR, MILVUS_FILE, VECTORS_FILE, codes_paths
from vidsim.index.sync import unsearchable
from vidsim.index.vectors import FaissStore, VectorStore

ERROR, INFO = "error", "info"


@dataclass(frozen=True)
class Problem:
    file: str  # the file concerned (its path)
    problem: str  # what is wrong, and what to do
    level: str = ERROR  # "error" (damage) or "info" (not verified, or tidied by the next writer)


@dataclass(frozen=True)
class CheckReport:
    directory: Path
    problems: tuple[Problem, ...]

    @property
    def ok(self) -> bool:
        """No errors (infos allowed)."""
        return not self.errors

    @property
    def errors(self) -> tuple[Problem, ...]:
        return tuple(p for p in self.problems if p.level == ERROR)

    def to_dict(self) -> dict:
        return {"ok": self.ok, "problems": [{"file": p.file, "problem": p.problem, "level": p.level}
                                            for p in self.problems]}


def check_index(directory: str | Path) -> CheckReport:
    """Check every file of the index in `directory` (reads all of them; writes nothing)."""
    directory = Path(directory)
    problems: list[Problem] = []
    config_path = directory / CONFIG_FILE
    if not config_path.is_file():
        problems.append(Problem(str(config_path), "missing: not a vidsim index"))
        return CheckReport(directory, tuple(problems))
    try:
        stored = StoredConfig.read(config_path)
    except VidsimError as exc:
        problems.append(Problem(str(config_path), str(exc).removeprefix(f"{config_path}: ")))
        return CheckReport(directory, tuple(problems))
    codec = codec_of(stored.index)
    catalog_path = directory / CATALOG_FILE
    damage = catalog_damage(directory)
    catalog: Catalog | None = None
    if damage is not None:
        problems.append(Problem(str(catalog_path), f"{damage}; {repair_hint(directory)}"))
    elif catalog_path.exists():
        try:
            catalog = read_only_catalog(catalog_path)
            problems += [Problem(str(catalog_path), f"integrity check: {line}; {repair_hint(directory)}")
                         for line in catalog.integrity(quick=False)[:20]]
        except (sqlite3.Error, VidsimError) as exc:
            problems.append(Problem(str(catalog_path), f"cannot be read ({exc})"))
            catalog = None
    try:
        if catalog is None:
            problems += _files_alone(directory, codec, stored)
        else:
            records = catalog.videos()
            problems += _codes_of_rows(directory, codec, stored, records)
            problems += _orphans(directory, catalog, records)
            problems += _snapshot(directory, stored, catalog, records)
    except sqlite3.DatabaseError as exc:
        problems.append(Problem(str(catalog_path), f"unreadable ({exc}); {repair_hint(directory)}"))
    finally:
        if catalog is not None:
            catalog.close()
    aside = [p for p in (directory / DAMAGED_DIR).rglob("*") if p.is_file()] if (directory / DAMAGED_DIR).is_dir() else []
    if aside:
        problems.append(Problem(str(directory / DAMAGED_DIR), f"holds {len(aside)} files set aside (damaged, or "
                                                              "replaced by a repair); delete them when not needed", INFO))
    return CheckReport(directory, tuple(problems))


def _codes_of_rows(directory: Path, codec: Codec, stored: StoredConfig, records: list[VideoRecord]) -> list[Problem]:
    """Each row's codes file: present, readable, its checksum, and the row's video in it."""
    problems: list[Problem] = []
    unverified = 0
    for record in records:
        path = directory / record.codes_file
        try:
            info = inspect_codes(path, codec)
        except FileNotFoundError:
            problems.append(Problem(str(path), f"missing; {unsearchable(record, directory)}"))
            continue
        except CodesDamagedError as exc:
            problems.append(Problem(str(path), f"{exc.reason}; {unsearchable(record, directory)}"))
            continue
        except VidsimError as exc:
            problems.append(Problem(str(path), str(exc).removeprefix(f"{path}: ")))
            continue
        unverified += not info.verified
        meta = info.meta
        wrong = []
        if meta.get("content_hash", record.content_hash) != record.content_hash:
            wrong.append(f"content hash {meta.get('content_hash')}")
        if meta.get("id", record.id) != record.id:
            wrong.append(f"id {meta.get('id')}")
        if info.frames != record.frames:
            wrong.append(f"{info.frames} frames")
        if meta.get("feature_key", stored.feature_key) != stored.feature_key:
            wrong.append(f"feature key {meta.get('feature_key')}")
        if wrong:
            problems.append(Problem(str(path), f"holds another video than its row says (video {record.id}: "
                                               f"{', '.join(wrong)}); {repair_hint(directory)}"))
    if unverified:
        problems.append(Problem(str(directory / CODES_DIR), f"{unverified} codes files carry no checksum (written by "
                                                            "an older vidsim): their bytes were not verified", INFO))
    return problems


def _orphans(directory: Path, catalog: Catalog, records: list[VideoRecord]) -> list[Problem]:
    """Codes files that no row names."""
    referenced = {r.codes_file for r in records}
    orphans = [p for p in codes_paths(directory) if p.relative_to(directory).as_posix() not in referenced]
    problems = []
    for path, why in orphan_fates(catalog, orphans).items():
        if why is None:
            problems.append(Problem(str(path), "not in the catalog: left by an interrupted add or remove (the next "
                                               "`vidsim index add` deletes it)", INFO))
        else:
            problems.append(Problem(str(path), f"{why}; {repair_hint(directory)} to index it again"))
    return problems


def _files_alone(directory: Path, codec: Codec, stored: StoredConfig) -> list[Problem]:
    """Without a catalog: each codes file readable and passing its checksum (what repair can recover)."""
    problems = []
    for path in codes_paths(directory):
        try:
            inspect_codes(path, codec)
        except FileNotFoundError:
            continue
        except VidsimError as exc:
            reason = exc.reason if isinstance(exc, CodesDamagedError) else str(exc).removeprefix(f"{path}: ")
            problems.append(Problem(str(path), f"{reason}: repair cannot recover this video"))
    return problems


def _snapshot(directory: Path, stored: StoredConfig, catalog: Catalog, records: list[VideoRecord]) -> list[Problem]:
    """The vector snapshot: its checksum, its configuration, and its vector ids against the rows."""
    milvus = stored.index.vectors == "milvus"
    path = directory / (MILVUS_FILE if milvus else VECTORS_FILE)
    rebuilt = "rebuilt from the codes files when the index is next opened"
    store: VectorStore
    try:
        if milvus:
            store, header = _milvus_store(directory, stored, path)
        else:
            store, header = FaissStore.load(path)
    except FileNotFoundError:
        return [Problem(str(path), f"missing; {rebuilt}", INFO)] if records else []
    except VidsimError as exc:
        return [Problem(str(path), f"{str(exc).removeprefix(f'{path}: ')}; {rebuilt}")]
    try:
        return _compare(directory, stored, catalog, records, path, store, header, rebuilt)
    except VidsimError as exc:
        return [Problem(str(path), str(exc))]
    finally:
        store.close()


def _milvus_store(directory: Path, stored: StoredConfig, path: Path) -> tuple[VectorStore, dict]:
    """The collection of a Milvus index and its header (FileNotFoundError when the header is missing)."""
    from vidsim.index.milvus import open_store, read_header

    header = read_header(path)
    header["verified"] = True  # a header carries no checksum: the collection is compared with the rows below
    store = open_store(stored.index, directory, stored.index.code_dims or stored.dims)
    if not store.exists():
        store.close()
        raise VidsimError(f"{store.where}: the collection is missing")
    return store.loaded(), header


def _compare(directory: Path, stored: StoredConfig, catalog: Catalog, records: list[VideoRecord], path: Path,
             store: VectorStore, header: dict, rebuilt: str) -> list[Problem]:
    """The store's configuration and vector ids against the catalog's rows."""
    problems = []
    if not header.get("verified"):
        problems.append(Problem(str(path), "no checksum (written by an older vidsim): not verified", INFO))
    dims = stored.index.code_dims or stored.dims
    if header.get("feature_key") != stored.feature_key or store.dims != dims:
        return problems + [Problem(str(path), f"made with another feature configuration; {rebuilt}")]
    watermark = int(header.get("watermark", 0))
    last_id = catalog.next_ids()[0] - 1
    if watermark > last_id:
        problems.append(Problem(str(path), f"holds videos up to id {watermark}, but the catalog's ids end at {last_id}: "
                                           f"the catalog lost videos; {repair_hint(directory)}"))
    unreadable = {int(k) for k in (header.get("unreadable") or {}) if str(k).isdigit()}
    held = store.ids()
    live = [r for r in records if r.id <= watermark and r.id not in unreadable]
    expected = _ranges([(r.first_vector, r.frames) for r in live])
    missing = np.setdiff1d(expected, held)
    if len(missing):
        owners = sorted({r.id for r in live if np.any((missing >= r.first_vector) & (missing < r.first_vector + r.frames))})
        problems.append(Problem(str(path), f"lacks the vectors of video(s) {', '.join(map(str, owners))}; "
                                           f"{repair_hint(directory)} to rebuild the vector store"))
    removed = _ranges([(first, frames) for _id, first, frames in catalog.removed_since(watermark)])
    if store.shared:  # a Milvus collection takes videos as they commit, ahead of its header
        removed = np.concatenate([removed, _ranges([(r.first_vector, r.frames) for r in records if r.id > watermark])])
    stray = np.setdiff1d(np.setdiff1d(held, expected), removed)
    if len(stray):
        problems.append(Problem(str(path), f"holds {len(stray)} vectors that no video owns; "
                                           f"{repair_hint(directory)} to rebuild the vector store"))
    if len(np.unique(held)) != len(held):
        problems.append(Problem(str(path), f"holds some vectors twice; {repair_hint(directory)} to rebuild the vector store"))
    for video_id in sorted(unreadable & {r.id for r in records}):
        problems.append(Problem(str(path), f"lacks the vectors of video {video_id} (its codes file was unreadable "
                                           "when it was written): `vidsim index add` of the video, or repair, restores them"))
    return problems


def _ranges(spans: list[tuple[int, int]]) -> np.ndarray:
    """The vector ids [first, first + count) of each span, concatenated."""
    if not spans:
        return np.zeros(0, np.int64)
    return np.concatenate([np.arange(first, first + count, dtype=np.int64) for first, count in spans])
