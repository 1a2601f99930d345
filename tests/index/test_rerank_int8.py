"""int8 codes in the re-rank: compared as their stored integers (exact in bf16) with each region's
scale as a weight of its similarities, never decoded. On real decoded clips in an index, the same
scores and f2f maps as the decoded float32 regions within 1e-5 (chamfer, the default symmetric
partial chamfer, a learned head), through bf16 products where the CPU has them and through the
float32 fallback."""
import numpy as np
import pytest
import torch

from vidsim.index import Index, IndexConfig, SearchConfig
from vidsim.index.codes import Targets
from vidsim.index.search import rerank
from vidsim.similarity import ViSiLHead
from vidsim.similarity import blocked as blocked_module
from vidsim.similarity.blocked import bf16_products_available


@pytest.fixture(scope="module")
def index(tmp_path_factory, index_clips, model, feature_cache):
    directory = tmp_path_factory.mktemp("int8") / "idx"
    config = IndexConfig(codes="int8", search=SearchConfig(window_margin=2.0, candidates=8))
    with Index.open(directory, config, model=model, cache=feature_cache) as index:
        index.add([index_clips[name] for name in ("a", "b", "c")])
        yield index


@pytest.fixture(scope="module")
def queries(index_clips, model, feature_cache):
    return {name: model.extract_video(index_clips[name], cache=feature_cache) for name in ("copy", "unrelated")}


@pytest.fixture(params=["bf16", "fallback"])
def products(request, monkeypatch):
    """The exact bf16 products (skipped where torch/the CPU has none) or the float32 fallback; the
    list records each bf16-mode product."""
    if request.param == "bf16" and not bf16_products_available():
        pytest.skip("torch cannot run bf16 products on this CPU (needs oneDNN with AVX512-BF16 or AMX)")
    if request.param == "fallback":
        monkeypatch.setattr(blocked_module, "bf16_products_available", lambda: False)
    seen: list[bool] = []
    original = blocked_module._bf16_products

    def recording():
        seen.append(True)
        return original()

    monkeypatch.setattr(blocked_module, "_bf16_products", recording)
    return request.param, seen


def _heads():
    torch.manual_seed(0)
    return {"chamfer": ViSiLHead(256).eval(),
            "chamfer-symmetric-partial": ViSiLHead(256, symmetric=True, symmetric_partial=True).eval(),
            "visil": ViSiLHead(256, kind="visil").eval()}


def _decoded(index):
    """The decoded-float32 path's loader: the same windows as float32 regions."""
    def load(video_id, first, stop):
        regions, times = index.load_codes(video_id, (first, stop))
        return Targets(regions), times
    return load


@pytest.mark.parametrize("head_name", list(_heads()))
def test_int8_targets_give_the_decoded_scores_and_f2f_maps(index, queries, products, head_name):
    kind, seen = products
    head = _heads()[head_name]
    records = {r.name: r for r in index.list()}
    requests = [(records["a"].id, 0, records["a"].frames), (records["b"].id, 2, 7),
                (records["c"].id, 1, records["c"].frames - 1)]
    dims = index.codec.prepare_query(queries["copy"].regions).shape[-1]
    targets, _ = index.load_targets(requests[1][0], requests[1][1:], dims)
    assert targets.values.dtype == np.int8 and targets.scale is not None  # what the fast path is handed

    for query in queries.values():
        regions = index.codec.prepare_query(query.regions)
        seen.clear()
        fast = rerank(head, regions, requests, lambda v, f, s: index.load_targets(v, (f, s), dims), keep=3)
        assert bool(seen) == (kind == "bf16")  # int8 targets take the bf16 products exactly where available
        plain = {r.video_id: r for r in rerank(head, regions, requests, _decoded(index), keep=3)}
        assert [r.video_id for r in fast] == sorted(plain, key=lambda v: -plain[v].similarity)
        for r in fast:
            p = plain[r.video_id]
            assert r.similarity == pytest.approx(p.similarity, abs=1e-5)
            assert r.f2f is not None and p.f2f is not None and r.f2f.shape == p.f2f.shape
            np.testing.assert_allclose(r.f2f, p.f2f, atol=1e-5, rtol=0)
        if query is queries["copy"]:  # a real match, so the maps compared are not all near zero
            assert fast[0].video_id == records["a"].id and fast[0].f2f.max() > 0.5


def test_index_search_on_int8_codes_gives_the_decoded_results(index, queries, products, monkeypatch):
    """Index.search end to end (votes, windows, the default head: symmetric partial chamfer,
    uninformative frames left out) on the int8 targets and on the decoded regions."""
    kind, seen = products
    for query in queries.values():
        seen.clear()
        fast = index.search(query, top_k=3)
        assert bool(seen) == (kind == "bf16")
        with monkeypatch.context() as patch:
            patch.setattr(index, "load_targets", lambda v, frames, dims, record=None: _decoded(index)(v, *frames))
            plain = index.search(query, top_k=3)
        assert [m.video_id for m in fast] == [m.video_id for m in plain] and fast
        for f, p in zip(fast, plain):
            assert f.similarity == pytest.approx(p.similarity, abs=1e-5)
            assert [(s.query_start, s.query_end, s.ref_start, s.ref_end) for s in f.segments] == \
                [(s.query_start, s.query_end, s.ref_start, s.ref_end) for s in p.segments]
            assert [s.score for s in f.segments] == pytest.approx([s.score for s in p.segments], abs=1e-5)
    assert index.search(queries["copy"], top_k=1)[0].segments  # the copy is found and located
