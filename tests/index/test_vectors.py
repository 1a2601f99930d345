import numpy as np
import pytest

from vidsim.index.vectors import FaissStore, choose_kind

# FAISS kinds, and Milvus (milvus-lite, a local file) with each index type it supports
STORES = ["flat", "ivf", "hnsw", "milvus-hnsw", "milvus-ivf_sq8", "milvus-flat"]


def _unit(n, d=32, seed=0):
    x = np.random.default_rng(seed).standard_normal((n, d)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def _needs_milvus():
    pytest.importorskip("pymilvus", reason="the Milvus store needs the milvus extra (pip install 'vidsim[milvus]')")
    pytest.importorskip("milvus_lite", reason="the Milvus store needs the milvus extra (pip install 'vidsim[milvus]')")


def _build(kind, dims, ids, vectors, where):
    """A store of `kind` holding `vectors` (Milvus: a milvus-lite file under `where`, video id = id // 100)."""
    if not kind.startswith("milvus"):
        return FaissStore.build(kind, dims, ids, vectors)
    _needs_milvus()
    from vidsim.index.milvus import MilvusStore

    where.mkdir(exist_ok=True)
    store = MilvusStore.connect(str(where / "vectors.db"), "vidsim_test", dims, kind.partition("-")[2], ivf_lists=16)
    store.reset()
    store.add(ids, vectors, videos=ids // 100, frames=ids % 100)
    return store


@pytest.mark.parametrize("kind", STORES)
def test_store_add_search_remove_save_load(tmp_path, kind):
    vectors, ids = _unit(2000), np.arange(100, 2100, dtype=np.int64)
    store = _build(kind, 32, ids, vectors, tmp_path / "milvus")
    assert store.ntotal == 2000 and store.kind == kind.partition("-")[0]
    scores, found = store.search(vectors[:20], 5, nprobe=64)
    assert (found[:, 0] == ids[:20]).mean() >= 0.9  # itself first (IVF/HNSW: approximately)
    assert scores.dtype == np.float32 and found.dtype == np.int64
    np.testing.assert_allclose(scores[:, 0][found[:, 0] == ids[:20]], 1.0, atol=1e-2)  # inner product of unit vectors
    assert store.remove(np.arange(100, 110)) == 10
    assert store.remove(np.array([5, 7])) == 0  # absent ids are ignored
    assert store.ntotal == 1990
    _, found = store.search(vectors[:10], 5, nprobe=64)
    assert not np.isin(found, np.arange(100, 110)).any()
    np.testing.assert_array_equal(np.sort(store.ids()), ids[10:])
    store.save(tmp_path / "v.faiss", {"watermark": 7})
    loaded, header = type(store).load(tmp_path / "v.faiss")
    assert header["watermark"] == 7 and loaded.kind == store.kind and loaded.ntotal == 1990
    np.testing.assert_array_equal(loaded.search(vectors[10:15], 3, nprobe=64)[1], store.search(vectors[10:15], 3, nprobe=64)[1])
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != "milvus") == ["v.faiss"]  # no temporary file left
    loaded.close()
    store.close()


@pytest.mark.parametrize("kind", STORES)
def test_removing_videos_and_adding_ids_again(tmp_path, kind):
    """remove_videos drops every vector of the videos named; adding ids again replaces them (no duplicates)."""
    vectors, ids = _unit(600), np.arange(600, dtype=np.int64)
    store = _build(kind, 32, ids, vectors, tmp_path / "milvus")
    assert store.remove_videos([1, 4], np.concatenate([ids[100:200], ids[400:500]])) == 200
    assert store.ntotal == 400 and not np.isin(store.ids(), np.r_[100:200, 400:500]).any()
    _, found = store.search(vectors[100:105], 3, nprobe=64)
    assert not np.isin(found, np.r_[100:200]).any()
    if store.shared:  # a shared store is caught up idempotently: the same ids again leave each once
        store.add(ids[:100], vectors[:100], videos=np.zeros(100, np.int64), frames=np.arange(100))
        assert store.ntotal == 400 and len(np.unique(store.ids())) == 400
    store.close()


def test_flat_stores_keep_float16_and_score_within_1e3(tmp_path):
    import faiss

    vectors, ids = _unit(500), np.arange(500, dtype=np.int64)
    store = FaissStore.build("flat", 32, ids, vectors)
    scores, found = store.search(vectors[:10], 500)
    exact = vectors[:10] @ vectors.T
    np.testing.assert_allclose(scores, np.take_along_axis(exact, found, axis=1), atol=1e-3)
    store.save(tmp_path / "v.faiss", {})
    assert (tmp_path / "v.faiss").stat().st_size < 500 * (32 * 2 + 8) + 1000
    # a float32 flat snapshot written by an earlier version still loads and searches
    old = FaissStore(faiss.IndexIDMap2(faiss.IndexFlatIP(32)), "flat", 32)
    old.add(ids, vectors)
    old.save(tmp_path / "old.faiss", {"watermark": 3})
    loaded, header = FaissStore.load(tmp_path / "old.faiss")
    assert header["watermark"] == 3 and loaded.search(vectors[:3], 1)[1][:, 0].tolist() == [0, 1, 2]


@pytest.mark.parametrize("kind", ["flat", "milvus-hnsw"])
def test_search_of_an_empty_store_and_k_past_ntotal(tmp_path, kind):
    store = _build(kind, 8, np.zeros(0, np.int64), np.zeros((0, 8), np.float32), tmp_path / "milvus")
    scores, ids = store.search(_unit(3, 8), 4)
    assert ids.shape == (3, 4) and (ids == -1).all()
    store.add(np.array([1, 2]), _unit(2, 8))
    _, ids = store.search(_unit(1, 8), 4)
    assert sorted(ids[0][:2]) == [1, 2] and (ids[0][2:] == -1).all()
    store.close()


def test_auto_policy_is_exact_until_the_threshold():
    assert choose_kind("auto", 10, 100) == "flat"
    assert choose_kind("auto", 101, 100) == "ivf"
    assert choose_kind("hnsw", 10, 100) == "hnsw"


def test_a_damaged_snapshot_is_reported(tmp_path):
    from vidsim.errors import VidsimError

    (tmp_path / "v.faiss").write_bytes(b"VIDSIMVS\x05\x00\x00\x00{}xyzgarbage")
    with pytest.raises(VidsimError):
        FaissStore.load(tmp_path / "v.faiss")
