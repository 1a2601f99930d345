import numpy as np
import pytest

from vidsim.index.vectors import FaissStore, choose_kind


def _unit(n, d=32, seed=0):
    x = np.random.default_rng(seed).standard_normal((n, d)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


@pytest.mark.parametrize("kind", ["flat", "ivf", "hnsw"])
def test_store_add_search_remove_save_load(tmp_path, kind):
    vectors, ids = _unit(2000), np.arange(100, 2100, dtype=np.int64)
    store = FaissStore.build(kind, 32, ids, vectors)
    assert store.ntotal == 2000 and store.kind == kind
    scores, found = store.search(vectors[:20], 5, nprobe=64)
    assert (found[:, 0] == ids[:20]).mean() >= 0.9  # itself first (IVF/HNSW: approximately)
    assert scores.dtype == np.float32 and found.dtype == np.int64
    assert store.remove(np.arange(100, 110)) == 10
    assert store.remove(np.array([5, 7])) == 0  # absent ids are ignored
    assert store.ntotal == 1990
    _, found = store.search(vectors[:10], 5, nprobe=64)
    assert not np.isin(found, np.arange(100, 110)).any()
    store.save(tmp_path / "v.faiss", {"watermark": 7})
    loaded, header = FaissStore.load(tmp_path / "v.faiss")
    assert header["watermark"] == 7 and loaded.kind == kind and loaded.ntotal == 1990
    np.testing.assert_array_equal(loaded.search(vectors[10:15], 3, nprobe=64)[1], store.search(vectors[10:15], 3, nprobe=64)[1])
    assert [p.name for p in tmp_path.iterdir()] == ["v.faiss"]


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


def test_search_of_an_empty_store_and_k_past_ntotal():
    store = FaissStore.empty("flat", 8)
    scores, ids = store.search(_unit(3, 8), 4)
    assert ids.shape == (3, 4) and (ids == -1).all()
    store.add(np.array([1, 2]), _unit(2, 8))
    _, ids = store.search(_unit(1, 8), 4)
    assert sorted(ids[0][:2]) == [1, 2] and (ids[0][2:] == -1).all()


def test_auto_policy_is_exact_until_the_threshold():
    assert choose_kind("auto", 10, 100) == "flat"
    assert choose_kind("auto", 101, 100) == "ivf"
    assert choose_kind("hnsw", 10, 100) == "hnsw"


def test_a_damaged_snapshot_is_reported(tmp_path):
    from vidsim.errors import VidsimError

    (tmp_path / "v.faiss").write_bytes(b"VIDSIMVS\x05\x00\x00\x00{}xyzgarbage")
    with pytest.raises(VidsimError):
        FaissStore.load(tmp_path / "v.faiss")
