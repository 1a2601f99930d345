"""An index whose frame vectors live in Milvus (milvus-lite, a local file): it finds what the FAISS
index finds, removes by video id, catches up on open with the catalog as the source of truth, is
rebuilt by repair, records its URI and collection (never a token) and says which store it uses."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from vidsim.cli.main import main
from vidsim.errors import VidsimError
from vidsim.index import Index
from vidsim.index.config import IndexConfig
from vidsim.index.layout import MILVUS_FILE, MILVUS_LITE_FILE

pytest.importorskip("pymilvus", reason="the Milvus store needs the milvus extra (pip install 'vidsim[milvus]')")
pytest.importorskip("milvus_lite", reason="the Milvus store needs the milvus extra (pip install 'vidsim[milvus]')")


def _results(index: Index, query) -> list[tuple[int, str, float]]:
    return [(m.video_id, m.path, m.similarity) for m in index.search(query, top_k=3)]


@pytest.fixture(scope="module")
def indexes(tmp_path_factory, index_clips, model, feature_cache):
    """A FAISS (flat) and a Milvus index of the same three clips."""
    root = tmp_path_factory.mktemp("milvus")
    clips = [index_clips[name] for name in ("a", "b", "c")]
    for name, vectors in (("faiss", "flat"), ("milvus", "milvus")):
        with Index.open(root / name, IndexConfig(vectors=vectors), model=model, cache=feature_cache) as index:
            index.add(clips)
    return root


def _same(found, expected):
    assert [r[:2] for r in found] == [r[:2] for r in expected]
    np.testing.assert_allclose([r[2] for r in found], [r[2] for r in expected], atol=1e-6)


def test_a_milvus_index_finds_what_the_faiss_index_finds(indexes, query_features, model, monkeypatch):
    monkeypatch.setenv("MILVUS_TOKEN", "not-to-be-written-anywhere")
    with Index.open(indexes / "faiss", model=model) as faiss_index:
        expected = {name: _results(faiss_index, q) for name, q in query_features.items()}
    with Index.open(indexes / "milvus", model=model) as index:
        for name, query in query_features.items():
            _same(_results(index, query), expected[name])
        stats = index.stats()
    assert expected["copy"][0][1].endswith("a.mp4")
    assert (stats.vectors, stats.vector_kind) == (24, "milvus")
    stored = json.loads((indexes / "milvus" / "config.json").read_text())["index"]
    assert stored["vectors"] == "milvus" and stored["milvus_uri"] is None and stored["milvus_index"] == "hnsw"
    assert stored["milvus_collection"].startswith("vidsim_milvus_")
    lite = indexes / "milvus" / MILVUS_LITE_FILE
    assert stats.vector_store == f"milvus hnsw, collection {stored['milvus_collection']} at {lite}"
    assert stats.bytes["vectors"] > 0  # the milvus-lite file inside the index directory
    faiss_config = json.loads((indexes / "faiss" / "config.json").read_text())["index"]
    assert not any(k.startswith("milvus") for k in faiss_config)  # other indexes' config.json is unchanged
    for path in (indexes / "milvus").iterdir():
        if path.is_file():
            assert b"not-to-be-written" not in path.read_bytes()


def test_remove_deletes_by_video_and_catch_up_rebuilds_from_the_catalog(indexes, tmp_path, query_features, model):
    directory = tmp_path / "idx"
    shutil.copytree(indexes / "milvus", directory)
    with Index.open(directory, model=model) as index:
        before = _results(index, query_features["copy"])
        index.remove(before[0][0])  # the copied clip
        assert index.stats().vectors == 16
        assert before[0][0] not in [r[0] for r in _results(index, query_features["copy"])]
    header = json.loads((directory / MILVUS_FILE).read_text())
    assert header["watermark"] == 3 and header["ntotal"] == 16
    # a writer killed before its header: the header is behind the collection, which is set straight on open
    (directory / MILVUS_FILE).write_text(json.dumps({**header, "watermark": 2}))
    with Index.open(directory, model=model) as index:
        assert index.stats().vectors == 16 and len(np.unique(index.vectors.store.ids())) == 16
        _same(_results(index, query_features["copy"]), before[1:])
    # the header lost: the collection is rebuilt from the codes files
    (directory / MILVUS_FILE).unlink()
    with Index.open(directory, model=model) as index:
        assert index.stats().vectors == 16
        _same(_results(index, query_features["copy"]), before[1:])


def test_repair_and_check_rebuild_and_verify_the_collection(indexes, tmp_path, query_features, model, capsys):
    from vidsim.index.check import check_index
    from vidsim.index.milvus import open_store

    directory = tmp_path / "idx"
    shutil.copytree(indexes / "milvus", directory)
    assert check_index(directory).ok
    stored = Index.open(directory, model=model)
    store = open_store(stored.stored.index, directory, 256)
    expected = _results(stored, query_features["copy"])
    store.loaded().remove(np.arange(0, 5))  # vectors lost behind vidsim's back
    report = check_index(directory)
    assert not report.ok and "lacks the vectors of video(s) 1" in report.errors[0].problem
    stored.close()
    store.close()
    assert main(["index", "repair", "--index", str(directory)]) == 0
    capsys.readouterr()
    assert check_index(directory).ok
    with Index.open(directory, model=model) as index:
        assert index.stats().vectors == 24
        _same(_results(index, query_features["copy"]), expected)


def test_cli_creates_a_milvus_index_at_a_given_uri_and_stats_names_it(tmp_path, index_clips, feature_cache, capsys):
    uri = tmp_path / "elsewhere" / "frames.db"
    uri.parent.mkdir()
    directory = tmp_path / "idx"
    assert main(["index", "add", str(index_clips["a"]), "--index", str(directory), "--milvus-uri", str(uri),
                 "--milvus-collection", "frames_of_a", "--milvus-index", "ivf_sq8", "--cache-dir",
                 str(feature_cache.root), "-q"]) == 0
    assert main(["index", "stats", "--index", str(directory), "--json"]) == 0
    stats = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert stats["vector_kind"] == "milvus" and stats["vectors"] == 8
    assert stats["vector_store"] == f"milvus ivf_sq8, collection frames_of_a at {uri}"
    assert main(["index", "stats", "--index", str(directory)]) == 0
    assert f"vectors    8 (milvus ivf_sq8, collection frames_of_a at {uri})" in capsys.readouterr().out
    stored = json.loads((directory / "config.json").read_text())["index"]
    assert (stored["milvus_uri"], stored["milvus_collection"]) == (str(uri), "frames_of_a")
    # a second index may not take over the same collection
    assert main(["index", "add", str(index_clips["b"]), "--index", str(tmp_path / "other"), "--milvus-uri", str(uri),
                 "--milvus-collection", "frames_of_a", "--cache-dir", str(feature_cache.root), "-q"]) == 1
    err = capsys.readouterr().err
    assert "collection frames_of_a at" in err and "the collection already exists" in err


def test_clear_errors_for_an_unreachable_server_and_a_missing_extra(tmp_path, model, monkeypatch):
    with pytest.raises(VidsimError, match=r"http://127\.0\.0\.1:9: cannot reach the Milvus server"):
        Index.open(tmp_path / "a", IndexConfig(vectors="milvus", milvus_uri="http://127.0.0.1:9"), model=model)
    assert not (tmp_path / "a" / "config.json").exists()
    monkeypatch.setitem(__import__("sys").modules, "pymilvus", None)
    with pytest.raises(VidsimError, match=r"pip install 'vidsim\[milvus\]'"):
        Index.open(tmp_path / "b", IndexConfig(vectors="milvus"), model=model)


@pytest.fixture
def milvus_server(tmp_path):
    """milvus-lite's gRPC server in its own process on a free loopback port (a Milvus server's API)."""
    import socket
    import subprocess
    import sys
    import time

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "milvus_lite", "server", "--data-dir", str(tmp_path / "server"),
                               "--host", "127.0.0.1", "--port", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            assert server.poll() is None, "the milvus-lite server exited"
            time.sleep(0.2)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(30)


def test_a_server_collection_is_changed_only_by_the_writer_and_read_by_others(milvus_server, tmp_path, index_clips,
                                                                              model, feature_cache, query_features):
    from vidsim.index.lock import WriteLock

    directory = tmp_path / "idx"
    config = IndexConfig(vectors="milvus", milvus_uri=milvus_server)
    with Index.open(directory, config, model=model, cache=feature_cache) as writer:
        writer.add([index_clips["a"], index_clips["b"]])
        header = (directory / MILVUS_FILE).read_text()
        with WriteLock(directory):  # another process is writing: a reader opening now changes nothing
            (directory / MILVUS_FILE).unlink()  # (without the lock, this would make it rebuild the collection)
            with Index.open(directory, model=model) as reader:
                found = _results(reader, query_features["copy"])
                assert found[0][1] == str(index_clips["a"]) and reader.stats().vectors == 16
            assert not (directory / MILVUS_FILE).exists()
            (directory / MILVUS_FILE).write_text(header)
        with Index.open(directory, model=model) as reader:
            writer.add([index_clips["c"]])  # while the reader is open: it sees c on its next search
            assert len(_results(reader, query_features["copy"])) == 3 and reader.stats().vectors == 24
            assert json.loads((directory / MILVUS_FILE).read_text())["watermark"] == 3
    assert json.loads((directory / "config.json").read_text())["index"]["milvus_uri"] == milvus_server
