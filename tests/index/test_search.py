"""Re-ranking: the batched, windowed path against the head's own per-pair scores, and
windows that still find a copy in the middle of a long reference (real decoded clips)."""
import json

import numpy as np
import pytest
import torch

from vidsim.errors import VidsimError
from vidsim.features.types import VideoFeatures
from vidsim.index import Index, IndexConfig, SearchConfig
from vidsim.index import search as search_module
from vidsim.index.search import rerank, rerank_window
from vidsim.similarity import ViSiLHead, video_scores
from vidsim.synth import make_clip, make_copy


@pytest.fixture(scope="module")
def clip_features(model, feature_cache, index_clips, query_features):
    targets = {name: model.extract_video(index_clips[name], cache=feature_cache).regions for name in ("a", "b", "c")}
    targets["short"] = targets["b"][:3]  # under the head's 4 frames: repeated, as the head does
    return query_features["copy"].regions, targets


def _heads():
    torch.manual_seed(0)
    learned = ViSiLHead(256, kind="visil").eval()  # seeded random attention and comparator
    torch.manual_seed(0)
    learned_sym = ViSiLHead(256, kind="visil", symmetric=True).eval()
    return {"chamfer": ViSiLHead(256).eval(), "chamfer-symmetric": ViSiLHead(256, symmetric=True).eval(),
            "visil": learned, "visil-symmetric": learned_sym, "chamfer-chunked": ViSiLHead(256, chunk_frames=5).eval(),
            "visil-chunked": _chunked(learned)}


def _chunked(head):
    head.chunk_frames = 5  # 8-frame targets scored in two chunks (5 + 3 -> one of 8), as long ones are
    return head


@pytest.mark.parametrize("mode", ["chamfer", "chamfer-symmetric", "visil", "visil-symmetric", "chamfer-chunked",
                                  "visil-chunked"])
def test_batched_rerank_equals_the_heads_per_pair_scores(clip_features, monkeypatch, mode):
    query, targets = clip_features
    head = _heads()[mode]
    monkeypatch.setattr(search_module, "STACK_FRAMES", 12)  # several stacked batches
    ids = {name: i for i, name in enumerate(targets, 1)}
    by_id = {i: targets[name] for name, i in ids.items()}

    def load(video_id, first, stop):
        return by_id[video_id][first:stop], np.arange(first, stop, dtype=np.float64)

    requests = [(i, 0, len(by_id[i])) for i in by_id]  # windows covering whole videos
    ranked = rerank(head, query, requests, load, keep=2)
    with torch.no_grad():
        q = head.prepare(torch.from_numpy(query))
        expected = {i: float(head(q, head.prepare(torch.from_numpy(t)))) for i, t in by_id.items()}
    assert sorted(r.video_id for r in ranked) == sorted(by_id)
    for r in ranked:
        assert r.similarity == pytest.approx(expected[r.video_id], abs=1e-5), r.video_id
    assert [r.similarity for r in ranked] == sorted((r.similarity for r in ranked), reverse=True)
    assert [r.f2f is not None for r in ranked] == [True, True, False, False]  # only the best keep their map
    best = ranked[0]
    with torch.no_grad():  # the kept map is for localisation: before attention with a learned head
        f2f = head.f2f(torch.from_numpy(query), torch.from_numpy(by_id[best.video_id])).numpy()
    np.testing.assert_allclose(best.f2f, f2f, atol=1e-5)
    if head.learned:
        with torch.no_grad():
            attended = head.f2f(q, head.prepare(torch.from_numpy(by_id[best.video_id]))).numpy()
        assert np.abs(best.f2f - attended).max() > 1e-3  # attention does change the map
    assert ranked[0].video_id == ids["a"]  # the copy of a, in every mode


def test_video_score_of_a_window_is_the_heads_score_of_those_frames(clip_features):
    query, targets = clip_features
    head = ViSiLHead(256)
    q, t = torch.from_numpy(query), torch.from_numpy(targets["a"][2:7])
    with torch.no_grad():
        assert float(video_scores(head, [head.f2f(q, t)]).scores[0]) == pytest.approx(float(head(q, t)), abs=1e-6)


def test_rerank_windows():
    config = SearchConfig(window_speed=2.0, window_margin=10.0)
    # a 60-frame query at offset 1000 of an hour: [o - 2 - 60 - 10, o + 4 + 120 + 10]
    assert rerank_window(1000, 60, 3600, config, fps=1.0, bin_frames=2) == (928, 1134)
    assert rerank_window(5, 60, 3600, config, fps=1.0, bin_frames=2) == (0, 139)  # clipped at the start
    assert rerank_window(3590, 60, 3600, config, fps=1.0) == (3519, 3600)  # and at the end
    assert rerank_window(20, 60, 100, config, fps=1.0) == (0, 100)  # a short video: all of it
    assert rerank_window(1000, 60, 3600, SearchConfig(window_speed=None), fps=1.0) == (0, 3600)
    same_speed = SearchConfig(window_speed=1.0, window_margin=0.0)
    assert rerank_window(1000, 60, 3600, same_speed, fps=1.0, bin_frames=2) == (998, 1064)
    with pytest.raises(ValueError, match="window_speed"):
        SearchConfig(window_speed=0.5)


def test_torch_threads_are_set_for_the_rerank_and_restored(clip_features):
    query, targets = clip_features
    before = torch.get_num_threads()
    seen = []

    def load(video_id, first, stop):
        seen.append(torch.get_num_threads())
        return targets["a"][first:stop], np.arange(first, stop, dtype=np.float64)

    rerank(ViSiLHead(256), query, [(1, 0, 8)], load, threads=1)
    assert seen == [1] and torch.get_num_threads() == before


@pytest.fixture(scope="module")
def long_reference(tmp_path_factory, model, feature_cache):
    """A 60-s reference and a transformed copy of it, embedded once."""
    root = tmp_path_factory.mktemp("long")
    ref = make_clip(root / "long.mp4", seconds=60, fps=10, size=(160, 120), seed=31)
    copy = make_copy(ref, root / "long_copy.mp4", crop=0.8, scale=0.7, crf=30)
    return ref, model.extract_video(copy, cache=feature_cache)


def test_a_copy_in_the_middle_of_a_long_reference_is_found_at_the_right_times_through_a_window(
        tmp_path, long_reference, index_clips, model, feature_cache, monkeypatch):
    ref, copy = long_reference
    # the copy's seconds 30..38, cut out and re-timed from 0
    part = VideoFeatures(copy.regions[30:38], copy.timestamps[30:38] - copy.timestamps[30], copy.feature_key,
                         copy.weights_version, "cut")
    config = IndexConfig(search=SearchConfig(window_margin=2.0))
    windows = []
    original = Index.load_targets

    def spy(self, video_id, frames, dims, record=None):
        windows.append((video_id, frames))
        return original(self, video_id, frames, dims, record)

    with Index.open(tmp_path / "idx", config, model=model, cache=feature_cache) as index:
        index.add([ref, index_clips["videos"]])
        long_id = next(r.id for r in index.list() if r.name == "long")
        monkeypatch.setattr(Index, "load_targets", spy)
        best = index.search(part, top_k=2)[0]
    assert best.video_id == long_id and best.segments
    (first, stop), = [frames for video_id, frames in windows if video_id == long_id]
    assert 0 < first <= 30 and 38 <= stop < 60, "re-ranked on a window, not the whole reference"
    seg = best.segments[0]
    assert seg.query_start <= 1.0 and seg.query_end >= 7.0
    assert abs(seg.ref_start - 30.0) <= 1.0 and abs(seg.ref_end - 38.0) <= 1.0  # in the reference's seconds
    with Index.open(tmp_path / "idx", IndexConfig(search=SearchConfig(window_speed=None))) as whole:
        full = whole.search(part, top_k=1)[0]
    # the window holds every frame the copy matches: the same segment, a score within a hair
    assert full.video_id == long_id and full.similarity == pytest.approx(best.similarity, abs=0.02)
    assert abs(full.segments[0].ref_start - seg.ref_start) <= 1.0


def test_a_format_1_index_with_unprojected_binary_codes_still_opens(tmp_path, index_clips, model, feature_cache,
                                                                    query_features):
    directory = tmp_path / "idx"
    legacy = IndexConfig(codes="binary", code_projection="none", code_bits=None)
    with Index.open(directory, legacy, model=model, cache=feature_cache) as index:
        index.add([index_clips["videos"]])
    stored = json.loads((directory / "config.json").read_text())
    stored["format"] = 1  # as an index made before the projection existed wrote it
    for name in ("code_projection", "code_bits", "code_seed"):
        del stored["index"][name]
    (directory / "config.json").write_text(json.dumps(stored))
    with Index.open(directory, cache=feature_cache) as index:
        assert (index.stored.index.code_projection, index.stored.index.code_bits) == ("none", None)
        assert index.stats().codes == "binaryx256"
        assert index.search(query_features["copy"], top_k=1)[0].path == str(index_clips["a"])
    with pytest.raises(VidsimError, match="code_bits"):  # the new default layout is another layout
        Index.open(directory, IndexConfig(codes="binary"))
    stored["format"] = 99
    (directory / "config.json").write_text(json.dumps(stored))
    with pytest.raises(VidsimError, match=r"config\.json.*newer vidsim"):
        Index.open(directory)


def test_attention_weights_read_in_blocks_are_the_heads(clip_features):
    """The learned head's attention on target regions, computed a few frames at a time (as the
    re-rank does for int8 signs, never converting a whole stack at once)."""
    _, targets = clip_features
    head = _heads()["visil"]
    x = torch.from_numpy(targets["a"])
    with torch.no_grad():
        got = search_module._attention_weights(x, head.attention.context_vector.weight.reshape(-1), frames=3)
        np.testing.assert_allclose(got.numpy(), head.attention.weights(x)[..., 0].numpy(), atol=1e-6)
