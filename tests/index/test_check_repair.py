"""`index check` and `index repair` beyond the damaged catalog: lost rows, files of older
versions (no checksums, no row in their metadata), checksums catching flipped bytes, and what
add's cleanup deletes or sets aside."""
import json
import shutil
import struct
import warnings

import pytest
from damage_tools import catalog_rows, codes_files, results_of, run_vidsim
from safetensors import safe_open
from safetensors.numpy import save_file

from vidsim.errors import CodesDamagedError, IndexDamageWarning
from vidsim.index import Index
from vidsim.index.catalog import Catalog
from vidsim.index.check import check_index
from vidsim.index.codes import inspect_codes
from vidsim.index.repair import repair_index
from vidsim.index.vectors import MAGIC, FaissStore


def _aside(directory):
    return sorted((directory / "damaged" / "codes").rglob("*.safetensors"))


def test_a_clean_index_checks_silently(index_copy):
    directory, _ = index_copy
    proc = run_vidsim("index", "check", "--index", directory)
    assert proc.returncode == 0 and proc.stdout == "" and "Traceback" not in proc.stderr
    proc = run_vidsim("index", "check", "--index", directory, "--json")
    assert json.loads(proc.stdout) == {"index": str(directory), "ok": True, "problems": []}
    proc = run_vidsim("index", "repair", "--index", directory / "nothing")
    assert proc.returncode == 1 and "no such directory" in proc.stderr and "Traceback" not in proc.stderr


def test_checksums_catch_flipped_bytes_that_the_file_format_lets_through(index_copy):
    directory, codes = index_copy
    path = codes["a"]
    original = path.read_bytes()
    assert inspect_codes(path).verified
    header = 8 + int.from_bytes(original[:8], "little")
    assert original.index(b"a.mp4") < header <= len(original) - 50
    for where in (len(original) - 50, original.index(b"a.mp4")):  # in the codes, in the metadata's source path
        data = bytearray(original)
        data[where] ^= 0x04
        path.write_bytes(bytes(data))
        with safe_open(str(path), framework="numpy") as fh:  # still a well-formed safetensors file
            fh.get_tensor("codes")
        with pytest.raises(CodesDamagedError, match="fails its checksum"):
            inspect_codes(path)
    path.write_bytes(original)
    assert check_index(directory).ok


def test_rows_lost_from_an_intact_catalog_are_set_aside_by_add_and_brought_back_by_repair(
        tmp_path, sound_index, index_clips, model, feature_cache, query_features):
    directory = tmp_path / "idx"
    with Index.open(directory, model=model, cache=feature_cache) as index:
        index.add([index_clips["a"]])
    backup = tmp_path / "catalog-with-a.sqlite"
    shutil.copy(directory / "catalog.sqlite", backup)
    with Index.open(directory, model=model, cache=feature_cache) as index:
        index.add([index_clips["b"], index_clips["c"]])
    for suffix in ("-wal", "-shm"):
        (directory / f"catalog.sqlite{suffix}").unlink(missing_ok=True)
    shutil.copy(backup, directory / "catalog.sqlite")  # an older catalog put back: b and c have no row

    with Index.open(directory, model=model, cache=feature_cache) as index:
        assert [r.name for r in index.list()] == ["a"]
        with pytest.warns(IndexDamageWarning, match="moved to"):
            report = index.add([index_clips["a"]])  # the cleanup must not delete b's and c's codes files
        assert not report.added and len(report.skipped) == 1
    assert len(codes_files(directory)) == 1 and len(_aside(directory)) == 2
    check = check_index(directory)
    assert not check.ok and any("lost videos" in p.problem for p in check.errors)

    report = repair_index(directory)
    assert [(r.id, r.name) for r in report.recovered] == [(1, "a"), (2, "b"), (3, "c")]
    assert report.lost == () and report.estimated == ()
    assert _aside(directory) == [] and len(codes_files(directory)) == 3 and catalog_rows(directory) == 3
    assert check_index(directory).ok
    with Index.open(directory, model=model) as index:
        assert results_of(index.search(query_features["copy"], top_k=3)) == sound_index["results"]


def test_repair_keeps_the_sound_videos_and_reports_the_damaged_one(index_copy, model, query_features, index_clips):
    directory, codes = index_copy
    codes["c"].write_bytes(codes["c"].read_bytes()[:100])
    proc = run_vidsim("index", "repair", "--index", directory)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr  # partial: one video not recovered
    assert "2 videos recovered, 1 not recovered" in proc.stdout
    lines = [line for line in proc.stdout.splitlines() if line.startswith("not recovered: ")]
    assert len(lines) == 1 and str(codes["c"]) in lines[0] and f"vidsim index add {index_clips['c']}" in lines[0]
    assert (directory / "damaged" / codes["c"].relative_to(directory)).is_file()
    assert check_index(directory).ok
    with Index.open(directory, model=model) as index:
        assert [(r.id, r.name) for r in index.list()] == [(1, "a"), (2, "b")]  # ids kept
        results = index.search(query_features["copy"], top_k=3)
        assert results[0].path == str(index_clips["a"]) and results.warnings == ()


def test_a_file_left_by_an_interrupted_removal_is_deleted_by_the_next_add(index_copy, model, feature_cache, index_clips):
    directory, codes = index_copy
    catalog = Catalog(directory / "catalog.sqlite")
    catalog.delete(3)  # the row is gone (and noted as removed), the process died before unlinking the file
    catalog.close()
    with Index.open(directory, model=model, cache=feature_cache) as index:
        with warnings.catch_warnings():
            warnings.simplefilter("error", IndexDamageWarning)
            index.add([index_clips["a"]])
    assert not codes["c"].exists() and not (directory / "damaged").exists()


def _as_written_before_checksums(directory):
    """Rewrite the codes files and the snapshot as vidsim wrote them before checksums."""
    for path in codes_files(directory):
        with safe_open(str(path), framework="numpy") as fh:
            metadata = fh.metadata()
            tensors = {key: fh.get_tensor(key) for key in fh.keys()}
        meta = json.loads(metadata["meta"])
        old = {key: meta[key] for key in ("content_hash", "source", "feature_key")}
        save_file(tensors, str(path), metadata={"codes": metadata["codes"], "layout": metadata["layout"],
                                                "meta": json.dumps(old, sort_keys=True)})
    import faiss

    snapshot = directory / "vectors.faiss"
    store, header = FaissStore.load(snapshot)
    header = {k: v for k, v in header.items() if k not in ("checksum", "verified", "unreadable")}
    blob = json.dumps(header, sort_keys=True).encode()
    snapshot.write_bytes(MAGIC + struct.pack("<I", len(blob)) + blob + faiss.serialize_index(store.index).tobytes())


def test_an_index_written_before_checksums_is_read_checked_and_repaired(index_copy, sound_index, model,
                                                                         query_features):
    directory, _ = index_copy
    _as_written_before_checksums(directory)
    with warnings.catch_warnings():
        warnings.simplefilter("error", IndexDamageWarning)
        with Index.open(directory, model=model) as index:
            assert results_of(index.search(query_features["copy"], top_k=3)) == sound_index["results"]
    proc = run_vidsim("index", "check", "--index", directory)
    assert proc.returncode == 0, proc.stdout  # not verified is not damage
    lines = proc.stdout.splitlines()
    assert len(lines) == 2 and all(line.startswith("info: ") for line in lines)
    assert "3 codes files carry no checksum" in proc.stdout and "vectors.faiss: no checksum" in proc.stdout

    (directory / "catalog.sqlite").unlink()
    report = repair_index(directory)
    assert len(report.recovered) == 3 and report.lost == ()
    assert len(report.estimated) == 3 and all("id" in fields and "duration" in fields for _, fields in report.estimated)
    assert sorted(r.name for r in report.recovered) == ["a", "b", "c"]
    assert all(r.duration == pytest.approx(8.0, abs=0.6) for r in report.recovered)
    assert check_index(directory).ok
    with Index.open(directory, model=model) as index:  # new ids: compare paths, similarities and segments
        assert [m[1:] for m in results_of(index.search(query_features["copy"], top_k=3))] == [
            m[1:] for m in sound_index["results"]]
