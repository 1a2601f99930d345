"""What the service asks of the index: candidates chosen per search, and the path and name recorded
for an uploaded file (spooled under a temporary name)."""
from __future__ import annotations

from vidsim.index import Index
from vidsim.index import index as index_module


def test_candidates_per_search(base_index, serve_clips, serve_model, serve_cache, monkeypatch):
    seen = []
    rerank = index_module.rerank_candidates

    def spy(*args, **kwargs):
        seen.append(args[6].candidates)  # the SearchConfig the re-rank is given
        return rerank(*args, **kwargs)

    monkeypatch.setattr(index_module, "rerank_candidates", spy)
    with Index.open(base_index, model=serve_model, cache=serve_cache) as index:
        default = index.search_config.candidates
        assert index.search(serve_clips["copy"], top_k=1, candidates=1)[0].path == str(serve_clips["a"])
        index.search(serve_clips["copy"], top_k=2)
        index.search(serve_clips["copy"], top_k=5, candidates=3)  # at least top_k
    assert seen == [1, default, 5]


def test_sources_name_what_is_recorded(index_dir, serve_clips, serve_model, serve_cache, tmp_path):
    spooled = tmp_path / "upload-x1y2.mp4"
    spooled.write_bytes(serve_clips["c"].read_bytes())
    with Index.open(index_dir, model=serve_model, cache=serve_cache) as index:
        report = index.add([spooled], sources={spooled: ("upload:holiday.mp4", "holiday")})
        record = report.added[0]
        assert (record.path, record.name) == ("upload:holiday.mp4", "holiday")
        assert index.get(record.id).path == "upload:holiday.mp4"
        assert index.search(serve_clips["c"], top_k=1)[0].path == "upload:holiday.mp4"
        plain = index.add([serve_clips["copy"]]).added[0]
        assert (plain.path, plain.name) == (str(serve_clips["copy"]), "copy_of_a")
