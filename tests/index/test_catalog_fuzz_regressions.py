"""What the catalog fuzz target (tools/fuzz) found: catalog content SQLite does not check (values
of the wrong type, NULLs, text that is not UTF-8, a missing counter, another schema or file
format) raised TypeError, AssertionError, UnicodeDecodeError or an OperationalError, where damage
is a sqlite3.DatabaseError that the index reports naming `vidsim index repair`; a failed
transaction hid SQLite's error behind "cannot rollback"; and a failed read left the SQLite
connection open, locking the file, for as long as its exception was alive."""
from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest
from damage_tools import catalog_rows, codes_files, run_vidsim

from vidsim.errors import IndexDamagedError
from vidsim.index.catalog import Catalog, CatalogContentError
from vidsim.index.damage import open_catalog

# Two 100-byte inputs from the fuzzer: a catalog's header, cut, with a few bytes changed (the first
# with "CREATE TABLE" pasted in from its dictionary).
CUT_SCHEMA = bytes.fromhex(
    "53514c69746520666f726d617420330010000202004020200000000200000007000000000000000000000003000000"
    "435245415445205441424c45010000000000000000000000000000000000000000000000000000000000000000000000"
    "02002e6301")
MALFORMED = bytes.fromhex(
    "53514c69746520666f726d617420330010000202004020200000000200000007000000000000000000000003000000"
    "040000000000000000000000010000000000000000000000000000000000000000000000000000000000000000000000"
    "02002e6301")
INSERT = ("ff" * 32, "/v.mp4", "v", 1.0, 2, "codes/ff/x", 1, 2)


def _catalog(path: Path, videos: int = 3) -> Path:
    """A real catalog with `videos` rows, its WAL folded in."""
    catalog = Catalog(path)
    for i in range(videos):
        digest = f"{i:02d}" + "ab" * 31
        catalog.insert(digest, f"/videos/clip{i}.mp4", f"clip{i}", 4.0, 4, f"codes/{digest[:2]}/{digest}.safetensors",
                       2304, 100_000)
    catalog.checkpoint()
    catalog.close()
    return path


def _sql(path: Path, *statements: str) -> None:
    """Change a catalog with plain SQLite, in one connection (journal mode DELETE: no WAL left)."""
    db = sqlite3.connect(path, isolation_level=None)
    try:
        db.execute("PRAGMA journal_mode=DELETE")
        for statement in statements:
            db.execute(statement)
    finally:
        db.close()


def _open_files(path: Path) -> list[str]:
    names = {str(path) + suffix for suffix in ("", "-wal", "-shm", "-journal")}
    fds = Path("/proc/self/fd")
    out = []
    for fd in fds.iterdir() if fds.is_dir() else ():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target in names:
            out.append(target)
    return out


def _damaged(path: Path, match: str, use=lambda catalog: catalog.videos()) -> sqlite3.DatabaseError:
    """The damage report (a sqlite3.DatabaseError, never an OperationalError) that opening and
    using the catalog gives; meanwhile, the exception alive, no file of it may still be open."""
    with pytest.raises(sqlite3.DatabaseError, match=match) as err:
        catalog = Catalog(path)
        try:
            use(catalog)
        finally:
            catalog.close()
    assert not isinstance(err.value, sqlite3.OperationalError), err.value
    assert not _open_files(path)
    return err.value


@pytest.mark.parametrize("content, match", [
    (CUT_SCHEMA, "database disk image is malformed"),
    (MALFORMED, "database disk image is malformed"),
])
def test_cut_headers_from_the_fuzzer_are_damage(tmp_path, content, match):
    path = tmp_path / "catalog.sqlite"
    path.write_bytes(content)
    _damaged(path, match)
    (tmp_path / "codes" / "ab").mkdir(parents=True)  # an index holding a video: refused, naming repair
    (tmp_path / "codes" / "ab" / ("ab" * 32 + ".safetensors")).write_bytes(b"x")
    with pytest.raises(IndexDamagedError, match="vidsim index repair"):
        open_catalog(tmp_path)
    assert not _open_files(path)


def test_damaged_header_fields(tmp_path):
    path = _catalog(tmp_path / "catalog.sqlite")
    good = path.read_bytes()
    for offset, value, match in ((19, b"\x03", "file is not a database"),  # read version 3
                                 (44, b"\x00\x00\x00\x09", "unsupported file format"),  # schema format 9
                                 (56, b"\x00\x00\x00\x02", "malformed database schema")):  # UTF-16le text
        path.write_bytes(good[:offset] + value + good[offset + len(value):])
        _damaged(path, match)
    # write version 3: SQLite calls the file read-only, so it opens read-only (rows readable)
    path.write_bytes(good[:18] + b"\x03" + good[19:])
    catalog = Catalog(path)
    try:
        assert catalog.read_only and len(catalog.videos()) == 3
    finally:
        catalog.close()


def test_a_damaged_page_is_reported_not_hidden_by_a_failed_rollback(tmp_path):
    # SQLite rolls back by itself on SQLITE_CORRUPT; the ROLLBACK that followed raised "cannot
    # rollback - no transaction is active" (an OperationalError) in place of the damage.
    path = _catalog(tmp_path / "catalog.sqlite")
    db = sqlite3.connect(path)
    page_size = db.execute("PRAGMA page_size").fetchone()[0]
    root = db.execute("SELECT rootpage FROM sqlite_master WHERE name = 'counters'").fetchone()[0]
    db.close()
    data = bytearray(path.read_bytes())
    data[(root - 1) * page_size:root * page_size] = b"\xff" * page_size
    path.write_bytes(bytes(data))
    error = _damaged(path, "malformed")
    assert "rollback" not in str(error)


_NO_NOT_NULL = ["PRAGMA writable_schema = ON",  # NOT NULL holds only while the schema says so
                "UPDATE sqlite_master SET sql = replace(sql, 'NOT NULL', '') WHERE name = 'videos'"]


@pytest.mark.parametrize("setup, update, video_id, match", [
    ([], "UPDATE videos SET frames = 'abc' WHERE id = 2", 2, "video 2: frames is 'abc'"),
    ([], "UPDATE videos SET path = x'2f76' WHERE id = 1", 1, r"video 1: path is b'/v'"),
    (_NO_NOT_NULL, "UPDATE videos SET first_vector = NULL WHERE id = 3", 3, "video 3: first_vector is None"),
])
def test_rows_of_the_wrong_type_are_damage(tmp_path, setup, update, video_id, match):
    # they reached VectorRanges as TypeError / ValueError (sorting, numpy conversion)
    path = _catalog(tmp_path / "catalog.sqlite")
    _sql(path, *setup)
    _sql(path, update)  # a new connection: it reads the edited schema
    assert isinstance(_damaged(path, match), CatalogContentError)
    _damaged(path, match, use=lambda catalog: catalog.get(video_id))


def test_text_that_is_not_utf8_is_damage_and_leaves_nothing_open(tmp_path):
    # The cursor of the failed read, kept alive by the exception's traceback, made close() a
    # deferred close: the connection kept the file (and its locks) open.
    path = _catalog(tmp_path / "catalog.sqlite")
    _sql(path, "UPDATE videos SET content_hash = CAST(x'00ff61' AS TEXT) WHERE id = 2")
    _damaged(path, "Could not decode to UTF-8 column 'content_hash'")
    _damaged(path, "Could not decode", use=lambda catalog: catalog.get(2))


def test_a_foreign_database_is_not_a_catalog(tmp_path):
    path = tmp_path / "catalog.sqlite"
    _sql(path, "CREATE TABLE videos (id INTEGER PRIMARY KEY, title TEXT)", "INSERT INTO videos VALUES (1, 'x')")
    _damaged(path, "no such column")


def test_writes_on_a_damaged_catalog(tmp_path):
    path = _catalog(tmp_path / "catalog.sqlite")
    _sql(path, "UPDATE counters SET value = 'x'")
    _damaged(path, r"its vector counter is \[\('x',\)\]", use=lambda catalog: catalog.insert(*INSERT))
    # a row that vanishes once committed (here: a trigger) failed an assert
    path = _catalog(tmp_path / "vanishing.sqlite")
    _sql(path, "CREATE TRIGGER vanish AFTER INSERT ON videos BEGIN DELETE FROM videos WHERE id = new.id; END")
    _damaged(path, "the row just added for f{64} cannot be read back", use=lambda catalog: catalog.insert(*INSERT))


def test_cli_on_a_row_of_the_wrong_type_names_check_and_repair_which_recovers_it(index_copy):
    # SQLite's quick_check passes (no constraint is broken), so the index opens and its first
    # read meets the row; every command says so in one line, check reports it, repair mends it.
    directory, _ = index_copy
    _sql(directory / "catalog.sqlite", "UPDATE videos SET frames = 'abc' WHERE id = 2")
    for command in (["index", "list"], ["index", "stats"]):
        proc = run_vidsim(*command, "--index", directory)
        assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
        assert "video 2: frames is 'abc'" in proc.stderr and "vidsim index repair" in proc.stderr, proc.stderr
    proc = run_vidsim("index", "check", "--index", directory)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "frames is 'abc'" in proc.stdout, proc.stdout + proc.stderr
    assert len(codes_files(directory)) == 3
    proc = run_vidsim("index", "repair", "--index", directory)
    assert proc.returncode == 0 and "3 videos recovered" in proc.stdout, proc.stdout + proc.stderr
    assert catalog_rows(directory) == 3 and len(codes_files(directory)) == 3
    proc = run_vidsim("index", "list", "--index", directory)
    assert proc.returncode == 0 and "Traceback" not in proc.stderr
