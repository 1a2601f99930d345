"""The engine path of `index add` (results handed in by an engine, in any order) builds the index
the in-process add builds; a missing Ray is one clear error naming the extra to install."""
from __future__ import annotations

import shutil
import sys

import numpy as np
import pytest

from vidsim.engine import LocalEngine
from vidsim.errors import EngineError
from vidsim.index import Index


def contents(index: Index) -> dict[str, tuple]:
    """What an index holds, by path (ids follow the order results came in): row fields and codes."""
    out = {}
    for record in index.list():
        loaded = index.load_codes(record.id)
        assert loaded is not None
        out[record.path] = (record.content_hash, record.frames, record.duration, loaded[0], loaded[1])
    return out


def same_contents(left: dict[str, tuple], right: dict[str, tuple]) -> None:
    assert left.keys() == right.keys()
    for path in left:
        assert left[path][:3] == right[path][:3], path
        np.testing.assert_array_equal(left[path][3], right[path][3], err_msg=path)
        np.testing.assert_array_equal(left[path][4], right[path][4], err_msg=path)


def test_engine_add_builds_the_in_process_index(tmp_path, model, feature_cache, index_clips, query_features):
    twin = tmp_path / "twin.mp4"  # the same content as a, under another name: one row for both
    shutil.copy(index_clips["a"], twin)
    paths = [index_clips["videos"], twin, index_clips["broken"]]
    with Index.open(tmp_path / "here", model=model, cache=feature_cache) as here:
        expected = here.add(paths)
        held, results = contents(here), here.search(query_features["copy"], top_k=3)
    events = []
    with Index.open(tmp_path / "engine", model=model) as index, LocalEngine(model, cache=feature_cache) as engine:
        report = index.add(paths, progress=events.append, engine=engine)
        same_contents(contents(index), held)
        found = index.search(query_features["copy"], top_k=3)
        again = index.add(paths, engine=engine)
    assert sorted(r.path for r in report.added) == sorted(r.path for r in expected.added)
    assert report.failed == expected.failed and [p for p, _ in report.failed] == [str(index_clips["broken"])]
    assert [p for p, _ in report.skipped] == [str(twin)] == [p for p, _ in expected.skipped]
    assert [(m.path, m.similarity) for m in found] == [(m.path, m.similarity) for m in results]
    assert events[-1].videos_done == events[-1].videos_total == 5
    assert {e.path for e in events if e.event == "added"} == {r.path for r in report.added}
    assert not again.added and len(again.skipped) == 4  # indexed content is skipped before any embedding


def test_engine_with_other_features_is_refused(tmp_path, model, index_clips):
    from vidsim.config import FeatureConfig, VidsimConfig
    from vidsim.errors import ConfigMismatchError
    from vidsim.model import ViSiL

    other = ViSiL(VidsimConfig(features=FeatureConfig(dims=128)))
    with Index.open(tmp_path / "idx", model=model) as index, pytest.raises(ConfigMismatchError, match="128-d"):
        index.add([index_clips["a"]], engine=LocalEngine(other))
    with Index.open(tmp_path / "idx") as index:
        assert len(index) == 0


def test_missing_ray_names_the_extra(monkeypatch):
    from vidsim.config import VidsimConfig
    from vidsim.engine.ray_engine import RayEngine

    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` fails as if it were not installed
    with pytest.raises(EngineError, match=r"pip install 'vidsim\[ray\]'"):
        RayEngine(VidsimConfig())
