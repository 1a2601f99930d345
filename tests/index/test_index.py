"""The Index facade end to end on generated clips (API)."""
import dataclasses
import json

import numpy as np
import pytest

from vidsim.config import FeatureConfig, VidsimConfig
from vidsim.errors import ConfigMismatchError, IndexDamageWarning, VidsimError
from vidsim.features.types import VideoFeatures
from vidsim.index import Index, IndexConfig, Match


@pytest.fixture(scope="module")
def built(tmp_path_factory, index_clips, model, feature_cache):
    directory = tmp_path_factory.mktemp("index") / "idx"
    index = Index.open(directory, model=model, cache=feature_cache)
    events = []
    report = index.add([index_clips["videos"], index_clips["broken"]], progress=events.append)
    yield index, report, events
    index.close()


def test_add_reports_added_and_failed_videos_with_progress(built, index_clips):
    index, report, events = built
    assert sorted(r.name for r in report.added) == ["a", "b", "c"]  # directories searched recursively
    assert [path for path, _ in report.failed] == [str(index_clips["broken"])]
    assert report.skipped == ()
    assert {e.event for e in events} >= {"start", "added", "failed"}
    last = events[-1]
    assert (last.videos_done, last.videos_total) == (4, 4)
    assert last.seconds == pytest.approx(24, abs=1.5) and last.frames >= 0


def test_copy_comes_first_with_its_segment_and_unrelated_scores_lower(built, index_clips, query_features):
    index, _, _ = built
    matches = index.search(query_features["copy"], top_k=3)
    assert all(isinstance(m, Match) for m in matches)
    assert [m.similarity for m in matches] == sorted((m.similarity for m in matches), reverse=True)
    best = matches[0]
    assert best.path == str(index_clips["a"])
    assert best.segments, "the copied segment is located"
    seg = best.segments[0]
    assert seg.query_start <= 1.0 and seg.query_end >= 7.0 and abs(seg.ref_start - seg.query_start) <= 1.0
    unrelated = index.search(query_features["unrelated"], top_k=3)
    assert max(m.similarity for m in unrelated) < best.similarity
    assert index.search(query_features["copy"], top_k=3, min_similarity=best.similarity + 1e-6) == []


def test_a_partial_copy_is_located_at_the_right_times(built, index_clips, query_features):
    index, _, _ = built
    full = query_features["copy"]
    # the copy's frames 3..7 (3 s to 8 s of a), re-timed to start at 0 as in a cut-out clip
    part = VideoFeatures(full.regions[3:], full.timestamps[3:] - full.timestamps[3], full.feature_key,
                         full.weights_version, "cut")
    best = index.search(part, top_k=1)[0]
    assert best.path == str(index_clips["a"]) and best.segments
    seg = best.segments[0]
    assert seg.query_start <= 1.0 and abs(seg.ref_start - 3.0) <= 1.0 and abs((seg.ref_start - seg.query_start) - 3.0) <= 1.0


def test_adding_again_skips_indexed_content(built, index_clips, tmp_path):
    index, _, _ = built
    renamed = tmp_path / "same-bytes.mp4"
    renamed.write_bytes(index_clips["a"].read_bytes())
    report = index.add([index_clips["a"], renamed])
    assert report.added == () and len(report.skipped) == 2 and "already indexed" in report.skipped[0][1]
    assert len(index) == 3


def test_stats_and_list(built):
    index, _, _ = built
    stats = index.stats()
    assert (stats.videos, stats.frames, stats.vectors, stats.vector_kind) == (3, 24, 24, "flat")
    assert stats.hours == pytest.approx(24 / 3600, rel=0.1)
    assert set(stats.bytes) == {"catalog", "codes", "vectors", "config"} and stats.bytes["codes"] > 24 * 9 * 512 // 8
    assert stats.codes == "int8x256"  # the default codes
    assert [r.id for r in index.list()] == [1, 2, 3]


def test_remove_and_reopen(tmp_path, index_clips, model, feature_cache, query_features):
    directory = tmp_path / "idx"
    with Index.open(directory, model=model, cache=feature_cache) as index:
        index.add([index_clips["a"], index_clips["b"]])
        a_id = next(r.id for r in index.list() if r.name == "a")
        with pytest.raises(VidsimError, match="no video with id 99"):
            index.remove([a_id, 99])  # all or nothing
        assert len(index) == 2
        removed = index.remove(a_id)
        assert [r.name for r in removed] == ["a"]
        assert all(m.video_id != a_id for m in index.search(query_features["copy"]))
        assert len(list((directory / "codes").rglob("*.safetensors"))) == 1
    with Index.open(directory, create=False, cache=feature_cache) as index:  # no model: built when needed
        assert [r.name for r in index.list()] == ["b"] and index.stats().vectors == 8
        assert index.search(query_features["copy"])[0].path == str(index_clips["b"])
        report = index.add([index_clips["a"]])  # re-adding removed content works (new id)
        assert report.added[0].id == 3


def test_snapshot_is_only_a_cache(tmp_path, index_clips, model, feature_cache, query_features):
    directory = tmp_path / "idx"
    with Index.open(directory, model=model, cache=feature_cache) as index:
        index.add([index_clips["a"], index_clips["b"]])
    (directory / "vectors.faiss").write_bytes(b"damaged")
    with pytest.warns(IndexDamageWarning, match="rebuilt from the codes files"), Index.open(directory, model=model) as index:
        assert index.stats().vectors == 16
        assert index.search(query_features["copy"])[0].path == str(index_clips["a"])
    (directory / "vectors.faiss").unlink()
    with Index.open(directory, model=model) as index:
        assert index.stats().vectors == 16
    assert (directory / "vectors.faiss").is_file()  # rewritten by the opener (no writer was busy)


def test_config_is_stored_and_other_configurations_are_refused(tmp_path, model, query_features):
    directory = tmp_path / "idx"
    Index.open(directory, IndexConfig(codes="int8"), model=model).close()
    stored = json.loads((directory / "config.json").read_text())
    assert stored["index"]["codes"] == "int8" and stored["feature_key"] == model.feature_key
    assert stored["vidsim"]["features"]["backbone"] == "efficientnet-lite0"
    with pytest.raises(ConfigMismatchError, match="codes"):
        Index.open(directory, IndexConfig(codes="binary"))
    with Index.open(directory, dataclasses.replace(IndexConfig(codes="int8"), search=dataclasses.replace(
            IndexConfig().search, candidates=5))) as index:  # search parameters may change
        assert index.search_config.candidates == 5
    with pytest.raises(ConfigMismatchError, match="dims"):
        Index.open(directory, model=VidsimConfig(features=FeatureConfig(dims=128)))
    other = dataclasses.replace(query_features["copy"], feature_key="0123456789abcdef")
    with Index.open(directory) as index, pytest.raises(ConfigMismatchError, match="0123456789abcdef"):
        index.search(other)
    with pytest.raises(VidsimError, match="no vidsim index"):
        Index.open(tmp_path / "missing", create=False)
    (tmp_path / "not-empty").mkdir()
    (tmp_path / "not-empty" / "x.mp4").write_bytes(b"")
    with pytest.raises(VidsimError, match="not a vidsim index"):
        Index.open(tmp_path / "not-empty")


@pytest.mark.parametrize("options, label", [
    ({"codes": "binary", "code_projection": "none", "code_bits": None}, "binaryx256"),
    ({"codes": "binary", "code_bits": 256, "code_seed": 7}, "binary256x256"),
    ({"codes": "float16"}, "float16x256"), ({"codes": "int8"}, "int8x256"), ({"codes": "int4"}, "int4x256"),
    ({"codes": "float16", "code_dims": 64}, "float16x64")])
def test_compact_codes_still_find_the_copy(tmp_path, index_clips, model, feature_cache, query_features, options, label):
    with Index.open(tmp_path / "idx", IndexConfig(**options), model=model, cache=feature_cache) as index:
        index.add([index_clips["videos"]])
        assert index.search(query_features["copy"], top_k=1)[0].path == str(index_clips["a"])
        assert index.stats().codes == label


@pytest.mark.parametrize("kind", ["hnsw", "ivf"])
def test_other_vector_stores(tmp_path, index_clips, model, feature_cache, query_features, kind):
    config = IndexConfig(vectors=kind)
    with Index.open(tmp_path / "idx", config, model=model, cache=feature_cache) as index:
        index.add([index_clips["videos"]])
        assert index.search(query_features["copy"], top_k=1)[0].path == str(index_clips["a"])
        # hnsw from the start; ivf only once there are enough vectors to train it
        assert index.stats().vector_kind == ("hnsw" if kind == "hnsw" else "flat")


def test_auto_switches_to_ivf_past_the_threshold(tmp_path, model):
    """Synthetic features (no decoding): 1200 frames in 12 videos, threshold 1000."""
    rng = np.random.default_rng(0)
    directory = tmp_path / "idx"
    with Index.open(directory, IndexConfig(flat_max_vectors=1000), model=model) as index:
        files = []
        for i in range(12):
            regions = rng.standard_normal((100, 9, 256)).astype(np.float32)
            regions /= np.linalg.norm(regions, axis=-1, keepdims=True)
            f = VideoFeatures(regions, np.arange(100.0), model.feature_key, "", f"v{i}")
            from vidsim.store import save_features

            save_features(tmp_path / f"v{i}.safetensors", f)
            files.append(tmp_path / f"v{i}.safetensors")
        index.add(files[:9])
        assert index.stats().vector_kind == "flat"
        index.add(files[9:])
        assert index.stats().vector_kind == "ivf" and index.stats().vectors == 1200
        query = VideoFeatures(regions[20:60], np.arange(40.0), model.feature_key, "", "q")
        assert index.search(query, top_k=1)[0].path == str(files[-1])
    with Index.open(directory) as index:
        assert index.stats().vector_kind == "ivf"


def test_votes_alone_pick_the_copy_when_only_one_candidate_is_reranked(built, index_clips, query_features):
    index, _, _ = built
    narrow = dataclasses.replace(index.stored.index, search=dataclasses.replace(index.search_config, candidates=1,
                                                                                 frame_neighbours=4))
    with Index.open(index.directory, narrow) as small:
        matches = small.search(query_features["copy"], top_k=1)
        assert [m.path for m in matches] == [str(index_clips["a"])]
        assert len(small.search(query_features["copy"], top_k=3)) == 3  # at least top_k are re-ranked


def test_overrides_apply_on_top_of_the_stored_configuration(built):
    index, _, _ = built
    with Index.open(index.directory, overrides={"index.search.candidates": 5}) as other:
        assert other.search_config.candidates == 5 and other.stored.index == index.stored.index
    with pytest.raises(ConfigMismatchError, match="codes"):
        Index.open(index.directory, overrides={"index.codes": "binary"})  # not the index's (the default, int8)
    with pytest.raises(ConfigMismatchError, match="dims"):
        Index.open(index.directory, overrides={"vidsim.features.dims": 128})
    with Index.open(index.directory, overrides={"vidsim.features.batch_size": 4}) as other:  # speed only
        assert other.model.config.features.batch_size == 4 and other.feature_key == index.feature_key
