"""A damaged index never loses a committed video: damaged catalogs are refused (then repaired),
damaged or missing codes files are skipped by search with a warning and rewritten by add, a
damaged vector snapshot is rebuilt with a warning. The CLI runs in a subprocess: exit codes, no
traceback, and the codes files and catalog rows still there."""
import json
import os
import random

import pytest
from damage_tools import catalog_rows, codes_files, results_of, run_vidsim

from vidsim.errors import CodesDamagedError, IndexDamagedError, IndexDamageWarning
from vidsim.index import Index
from vidsim.index.check import check_index


def _missing(path):
    for suffix in ("", "-wal", "-shm"):
        path.with_name(path.name + suffix).unlink(missing_ok=True)


def _empty(path):
    path.write_bytes(b"")


def _garbage(path):
    path.write_bytes(random.Random(7).randbytes(20000))


def _truncated(path):
    os.truncate(path, path.stat().st_size // 2)


CATALOG_DAMAGE = {"missing": _missing, "empty": _empty, "garbage": _garbage, "truncated": _truncated}


def _clean(proc):
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc


@pytest.mark.parametrize("damage", sorted(CATALOG_DAMAGE))
def test_a_damaged_catalog_is_refused_then_repair_recovers_every_video(
        damage, index_copy, sound_index, index_clips, feature_cache, model, query_features):
    directory, _ = index_copy
    CATALOG_DAMAGE[damage](directory / "catalog.sqlite")
    hint = f"vidsim index repair --index {directory}"
    commands = [["index", "list", "--index", directory]]
    if damage in ("missing", "empty"):  # where the next add used to delete every codes file
        commands.append(["index", "add", index_clips["c"], "--index", directory, "--cache-dir", feature_cache.root, "-q"])
    for args in commands:
        proc = _clean(run_vidsim(*args))
        assert proc.returncode == 1 and hint in proc.stderr and "catalog" in proc.stderr, proc.stderr
        assert len(codes_files(directory)) == 3  # nothing deleted, nothing opened as a new index
    with pytest.raises(IndexDamagedError, match="index repair"):
        Index.open(directory, model=model)

    proc = _clean(run_vidsim("index", "check", "--index", directory))
    assert proc.returncode == 1 and str(directory / "catalog.sqlite") in proc.stdout
    proc = _clean(run_vidsim("index", "repair", "--index", directory))
    assert proc.returncode == 0 and "3 videos recovered, 0 not recovered" in proc.stdout, proc.stdout + proc.stderr
    assert catalog_rows(directory) == 3 and len(codes_files(directory)) == 3
    assert check_index(directory).ok
    with Index.open(directory, model=model, cache=feature_cache) as index:
        assert [r.name for r in index.list()] == ["a", "b", "c"]
        assert results_of(index.search(query_features["copy"], top_k=3)) == sound_index["results"]


def test_a_truncated_codes_file_is_skipped_by_search_reported_by_check_and_rewritten_by_add(
        index_copy, sound_index, index_clips, feature_cache, model, query_features):
    directory, codes = index_copy
    damaged = codes["b"]
    os.truncate(damaged, damaged.stat().st_size - 300)

    proc = _clean(run_vidsim("search", index_clips["copy"], "--index", directory, "--json", "--top", "3",
                             "--cache-dir", feature_cache.root, "-q"))
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert [r["path"] for r in result["results"]] == [str(index_clips["a"]), str(index_clips["c"])]
    assert len(result["warnings"]) == 1 and str(damaged) in result["warnings"][0]
    assert f"warning: {damaged}" in proc.stderr and "vidsim index add" in proc.stderr
    with Index.open(directory, model=model) as index:
        with pytest.warns(IndexDamageWarning, match="left out of searches"):
            results = index.search(query_features["copy"], top_k=3)
        assert [m.path for m in results] == [str(index_clips["a"]), str(index_clips["c"])]
        assert len(results.warnings) == 1 and str(damaged) in results.warnings[0]
        with pytest.raises(CodesDamagedError, match="checksum"):
            index.load_codes(2)

    proc = _clean(run_vidsim("index", "check", "--index", directory, "--json"))
    report = json.loads(proc.stdout)
    assert proc.returncode == 1 and report["ok"] is False
    assert [p["file"] for p in report["problems"] if p["level"] == "error"] == [str(damaged)]

    proc = _clean(run_vidsim("index", "add", index_clips["b"], "--index", directory, "--cache-dir",
                             feature_cache.root, "-q"))
    assert proc.returncode == 0 and "rewrote 1 missing or damaged codes files" in proc.stdout, proc.stdout
    assert catalog_rows(directory) == 3 and len(codes_files(directory)) == 3
    assert list((directory / "damaged").rglob("*.safetensors"))  # the damaged bytes were kept, not deleted
    assert check_index(directory).ok
    with Index.open(directory, model=model) as index:
        results = index.search(query_features["copy"], top_k=3)
        assert results.warnings == () and results_of(results) == sound_index["results"]


def test_a_deleted_codes_file_is_reported_list_and_stats_still_work_and_add_writes_it_again(
        index_copy, sound_index, index_clips, feature_cache, model, query_features):
    directory, codes = index_copy
    codes["c"].unlink()
    proc = _clean(run_vidsim("index", "check", "--index", directory))
    assert proc.returncode == 1 and f"{codes['c']}: missing" in proc.stdout
    proc = _clean(run_vidsim("index", "list", "--index", directory, "--json"))
    assert proc.returncode == 0 and [v["name"] for v in json.loads(proc.stdout)["videos"]] == ["a", "b", "c"]
    proc = _clean(run_vidsim("index", "stats", "--index", directory, "--json"))
    assert proc.returncode == 0 and json.loads(proc.stdout)["videos"] == 3
    with Index.open(directory, model=model) as index:
        with pytest.warns(IndexDamageWarning):
            results = index.search(query_features["copy"], top_k=3)
        assert str(index_clips["c"]) not in [m.path for m in results] and results[0].path == str(index_clips["a"])
        assert len(results.warnings) == 1 and "codes file missing" in results.warnings[0]
    with Index.open(directory, model=model, cache=feature_cache) as index:
        report = index.add([index_clips["c"]])
        assert [r.name for r in report.repaired] == ["c"] and not report.added
    assert codes["c"].is_file() and check_index(directory).ok
    with Index.open(directory, model=model) as index:
        assert results_of(index.search(query_features["copy"], top_k=3)) == sound_index["results"]


def test_flipped_bytes_in_the_vector_snapshot_are_caught_and_the_snapshot_rebuilt(
        index_copy, sound_index, model, query_features):
    directory, _ = index_copy
    snapshot = directory / "vectors.faiss"
    data = bytearray(snapshot.read_bytes())
    for i in range(10):  # in the vectors, past the header: FAISS alone would load them silently
        data[len(data) // 2 + i] ^= 0x55
    snapshot.write_bytes(bytes(data))

    proc = _clean(run_vidsim("index", "check", "--index", directory))
    assert proc.returncode == 1 and f"{snapshot}: vector snapshot fails its checksum" in proc.stdout
    proc = _clean(run_vidsim("index", "stats", "--index", directory, "--json"))
    assert proc.returncode == 0 and json.loads(proc.stdout)["vectors"] == 24
    warnings = [line for line in proc.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and str(snapshot) in warnings[0] and "rebuilt" in warnings[0]
    assert check_index(directory).ok  # the opener wrote the rebuilt snapshot
    with Index.open(directory, model=model) as index:
        assert results_of(index.search(query_features["copy"], top_k=3)) == sound_index["results"]


def test_a_new_directory_still_becomes_an_index(tmp_path, model):
    with Index.open(tmp_path / "new", model=model) as index:
        assert len(index) == 0
    (tmp_path / "new" / "catalog.sqlite").unlink()  # no codes file: nothing to lose, a new catalog is made
    with Index.open(tmp_path / "new", model=model) as index:
        assert len(index) == 0
    proc = _clean(run_vidsim("index", "check", "--index", tmp_path / "new"))
    assert proc.returncode == 0 and proc.stdout == ""
