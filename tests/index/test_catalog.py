import numpy as np

from vidsim.index.catalog import Catalog, VectorRanges
from vidsim.index.search import vote


def test_catalog_hands_out_vector_ranges_and_keeps_removals(tmp_path):
    catalog = Catalog(tmp_path / "c.sqlite")
    a = catalog.insert("h1", "/v/a.mp4", "a", 10.0, 10, "codes/a", 100, 1000)
    b = catalog.insert("h2", "/v/b.mp4", "b", 5.0, 5, "codes/b", 50, 500)
    assert (a.id, a.first_vector, b.id, b.first_vector) == (1, 0, 2, 10)
    assert catalog.by_hash("h2") == b and catalog.totals() == (2, 15.0, 15, 150)
    assert catalog.delete(1) == a and catalog.delete(1) is None
    c = catalog.insert("h1", "/v/a.mp4", "a", 10.0, 10, "codes/a", 100, 1000)
    assert c.id == 3 and c.first_vector == 15  # ids and vector ids are never reused
    assert catalog.removed_since(3) == [(1, 0, 10)]
    other = Catalog(tmp_path / "c.sqlite")  # a second connection sees the commits
    assert [r.id for r in other.videos()] == [2, 3]
    version = other.data_version()
    catalog.insert("h3", "/v/d.mp4", "d", 1.0, 1, "codes/d", 1, 1)
    assert other.data_version() != version


def test_vector_ranges_lookup():
    ranges = VectorRanges(np.array([0, 10, 30]), np.array([10, 20, 5]), np.array([1, 2, 4]))
    videos, frames = ranges.lookup(np.array([0, 9, 10, 29, 30, 34, 35, -1, 100]))
    assert videos.tolist() == [1, 1, 2, 2, 4, 4, -1, -1, -1]
    assert frames[:6].tolist() == [0, 9, 0, 19, 0, 4]


def test_votes_favour_hits_on_one_temporal_offset():
    ranges = VectorRanges(np.array([0, 100]), np.array([100, 100]), np.array([1, 2]))
    n = 8
    # video 1: every query frame hits frame q + 20 (a copy, offset 20); video 2: the same
    # similarities but scattered over unrelated offsets.
    ids = np.stack([np.arange(n) + 20, 100 + (np.arange(n) * 37) % 100], axis=1)
    scores = np.full((n, 2), 0.8, np.float32)
    found = vote(scores, ids, ranges, bin_frames=2)
    assert [c.video_id for c in found] == [1, 2]
    assert found[0].frame_votes == found[1].frame_votes
    assert found[0].offset_votes > 2 * found[1].offset_votes
    assert abs(found[0].offset - 20) <= 2
    assert vote(np.zeros((0, 2)), np.zeros((0, 2), np.int64), ranges, 2) == []
