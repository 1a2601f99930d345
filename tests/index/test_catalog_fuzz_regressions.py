"""Crashes the catalog fuzz target (tools/fuzz) found: a damaged or foreign catalog.sqlite gave
sqlite3 errors (or TypeError, AssertionError) instead of a VidsimError naming the file, a failed
transaction hid its error behind "cannot rollback", and a failed read left the SQLite connection
open (locking the file) for as long as its exception was alive."""
from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

import vidsim
from vidsim.errors import VidsimError
from vidsim.index import Index
from vidsim.index.catalog import Catalog

# Two 100-byte inputs from the fuzzer: a catalog's header, cut, with a few bytes changed (the first
# one with "CREATE TABLE" pasted in from the dictionary).
CUT_SCHEMA = bytes.fromhex(
    "53514c69746520666f726d617420330010000202004020200000000200000007000000000000000000000003000000"
    "435245415445205441424c45010000000000000000000000000000000000000000000000000000000000000000000000"
    "02002e6301")
MALFORMED = bytes.fromhex(
    "53514c69746520666f726d617420330010000202004020200000000200000007000000000000000000000003000000"
    "040000000000000000000000010000000000000000000000000000000000000000000000000000000000000000000000"
    "02002e6301")


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
    """Change a catalog with plain SQLite (journal mode DELETE: no WAL left behind)."""
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


def _damaged(path: Path, match: str, read=lambda catalog: catalog.videos()) -> VidsimError:
    """The VidsimError opening (and reading) the catalog gives; meanwhile no file of it stays open."""
    with pytest.raises(VidsimError, match=match) as err:
        catalog = Catalog(path)
        try:
            read(catalog)
        finally:
            catalog.close()
    assert str(err.value).startswith(f"{path}: the index catalog is damaged")
    assert not _open_files(path)  # the exception is still alive here: nothing may hold the file
    return err.value


@pytest.mark.parametrize("content, match", [
    (b"\x00" * 3 + os.urandom(2000), "file is not a database"),
    (CUT_SCHEMA, "database disk image is malformed"),
    (MALFORMED, "database disk image is malformed"),
])
def test_not_a_catalog_is_a_vidsim_error_naming_the_file(tmp_path, content, match):
    path = tmp_path / "catalog.sqlite"
    path.write_bytes(content)
    _damaged(path, match)


def test_damaged_header_fields(tmp_path):
    path = _catalog(tmp_path / "catalog.sqlite")
    good = path.read_bytes()
    for offset, value, match in ((19, b"\x03", "file is not a database"),  # read version 3
                                 (56, b"\x00\x00\x00\x02", "malformed database schema")):  # UTF-16le text
        path.write_bytes(good[:offset] + value + good[offset + len(value):])
        _damaged(path, match)
    # write version 3: SQLite calls the file read-only; the catalog opens read-only (its rows
    # readable, as on a read-only mount), and a write is refused naming the file
    path.write_bytes(good[:18] + b"\x03" + good[19:])
    catalog = Catalog(path)
    try:
        assert catalog.read_only and len(catalog.videos()) == 3
    finally:
        catalog.close()
    _damaged(path, "attempt to write a readonly database",
             read=lambda catalog: catalog.insert("ff" * 32, "/v.mp4", "v", 1.0, 2, "codes/ff/x", 1, 2))


def test_a_damaged_page_is_reported_not_hidden_by_a_failed_rollback(tmp_path):
    # SQLite rolls back by itself on SQLITE_CORRUPT; the ROLLBACK that followed raised "cannot
    # rollback - no transaction is active" and hid the real error.
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
    # they reached VectorRanges as TypeError / ValueError (sorting or numpy conversion)
    path = _catalog(tmp_path / "catalog.sqlite")
    _sql(path, *setup)
    _sql(path, update)  # a new connection: it reads the edited schema
    _damaged(path, match)
    _damaged(path, match, read=lambda catalog: catalog.get(video_id))


def test_text_that_is_not_utf8_is_damage_and_leaves_nothing_open(tmp_path):
    # The cursor of the failed read, kept alive by the exception's traceback, used to turn
    # close() into a deferred close: the connection kept the file (and its locks) open.
    path = _catalog(tmp_path / "catalog.sqlite")
    _sql(path, "UPDATE videos SET content_hash = CAST(x'00ff61' AS TEXT) WHERE id = 2")
    _damaged(path, "Could not decode to UTF-8 column 'content_hash'")
    _damaged(path, "Could not decode", read=lambda catalog: catalog.by_hash("01" + "ab" * 31) or catalog.get(2))


def test_a_foreign_database_is_not_a_catalog(tmp_path):
    path = tmp_path / "catalog.sqlite"
    _sql(path, "CREATE TABLE videos (id INTEGER PRIMARY KEY, title TEXT)", "INSERT INTO videos VALUES (1, 'x')")
    _damaged(path, "no such column")


def test_writes_on_a_damaged_catalog(tmp_path):
    path = _catalog(tmp_path / "catalog.sqlite")
    _sql(path, "UPDATE counters SET value = 'x'")
    insert = lambda catalog: catalog.insert("ff" * 32, "/v.mp4", "v", 1.0, 2, "codes/ff/x", 1, 2)  # noqa: E731
    _damaged(path, r"its vector counter is \[\('x',\)\]", read=insert)
    # a row that vanishes once committed (here: a trigger) used to fail an assert
    path = _catalog(tmp_path / "vanishing.sqlite")
    _sql(path, "CREATE TRIGGER vanish AFTER INSERT ON videos BEGIN DELETE FROM videos WHERE id = new.id; END")
    _damaged(path, "the row just added for f{64} cannot be read back", read=insert)


def _cli(*args) -> subprocess.CompletedProcess:
    src = Path(vidsim.__file__).resolve().parents[1]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(src), os.environ.get("PYTHONPATH", "")]))
    return subprocess.run([sys.executable, "-m", "vidsim.cli.main", *map(str, args)], capture_output=True,
                          text=True, env=env, timeout=600)


def test_cli_on_a_garbage_catalog_says_so_and_deletes_nothing(tmp_path, index_clips, feature_cache):
    directory = tmp_path / "idx"
    with Index.open(directory, cache=feature_cache) as index:
        index.add([index_clips["a"], index_clips["b"]])
    codes = sorted((directory / "codes").rglob("*.safetensors"))
    assert len(codes) == 2
    catalog = directory / "catalog.sqlite"
    for suffix in ("-wal", "-shm"):
        Path(f"{catalog}{suffix}").unlink(missing_ok=True)
    catalog.write_bytes(MALFORMED + bytes(4096))
    for command in (["index", "list"], ["index", "stats"], ["index", "add", index_clips["c"], "--cache-dir", feature_cache.root]):
        proc = _cli(*command, "--index", directory)
        assert proc.returncode == 1, proc.stderr
        assert "Traceback" not in proc.stderr
        # refused as a damaged index, naming the catalog and the repair command
        assert "catalog.sqlite" in proc.stderr and "vidsim index repair" in proc.stderr
    assert sorted((directory / "codes").rglob("*.safetensors")) == codes
