"""`index add` decodes the next video while the current one is embedded, and builds the same index
as decoding each video in its turn."""
from __future__ import annotations

import os

import numpy as np
import pytest

import vidsim.decode.pipeline as pipeline
from vidsim.config import DecodeConfig, VidsimConfig
from vidsim.features import FeatureExtractor
from vidsim.index import Index
from vidsim.model import ViSiL


@pytest.fixture
def events(monkeypatch):
    """("open", path) when the decode thread opens a video, ("embedded", path) when its features are made."""
    log: list[tuple[str, str]] = []
    opener, embed = pipeline.open_frames, FeatureExtractor.embed_batches

    def opening(path, config, warn):
        log.append(("open", os.fspath(path)))
        return opener(path, config, warn)

    def embedding(self, batches, source="", feature_key="", progress=None):
        features = embed(self, batches, source, feature_key, progress)
        log.append(("embedded", os.fspath(source)))
        return features

    monkeypatch.setattr(pipeline, "open_frames", opening)
    monkeypatch.setattr(FeatureExtractor, "embed_batches", embedding)
    return log


def contents(index: Index) -> dict[str, tuple]:
    out = {}
    for record in index.list():
        regions, times = index.load_codes(record.id)
        out[record.content_hash] = (record.path, record.frames, record.duration, regions, times)
    return out


def test_prefetching_add_builds_the_same_index_and_overlaps_decoding(tmp_path, index_clips, model, events):
    videos = [index_clips["a"], index_clips["broken"], index_clips["b"], index_clips["c"]]
    in_turn = ViSiL(VidsimConfig(decode=DecodeConfig(prefetch=0)))
    with Index.open(tmp_path / "in_turn", model=in_turn) as index:  # no cache: every video decoded
        report_in_turn = index.add(videos)
        expected = contents(index)
    assert events == [("embedded", str(p)) for p in videos if p != index_clips["broken"]]  # no decode thread
    events.clear()
    with Index.open(tmp_path / "ahead", model=model) as index:
        report = index.add(videos)
        got = contents(index)
    assert [r.path for r in report.added] == [r.path for r in report_in_turn.added]
    assert report.failed == report_in_turn.failed and [p for p, _ in report.failed] == [str(index_clips["broken"])]
    assert got.keys() == expected.keys()
    for key, (path, frames, duration, regions, times) in expected.items():
        assert got[key][:3] == (path, frames, duration)
        np.testing.assert_array_equal(got[key][3], regions)
        np.testing.assert_array_equal(got[key][4], times)
    # c was opened by the decode thread before b, the video before it, was embedded
    assert events.index(("open", str(index_clips["c"]))) < events.index(("embedded", str(index_clips["b"])))
    assert events.count(("open", str(index_clips["c"]))) == 1


def test_prefetching_skips_what_is_indexed_already(tmp_path, index_clips, model, events):
    with Index.open(tmp_path / "idx", model=model) as index:
        index.add([index_clips["a"]])
        events.clear()
        report = index.add([index_clips["b"], index_clips["a"], index_clips["c"]])
    assert [r.name for r in report.added] == ["b", "c"] and len(report.skipped) == 1
    assert ("open", str(index_clips["a"])) not in events  # indexed content is not decoded ahead
    assert events.index(("open", str(index_clips["c"]))) < events.index(("embedded", str(index_clips["b"])))
