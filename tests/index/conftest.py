"""Clips, a shared model and a shared feature cache for the index tests (each clip is
embedded once per session; later adds and searches read the cache)."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from damage_tools import results_of

from vidsim.synth import make_clip, make_copy

SECONDS = 8


@pytest.fixture(scope="session")
def index_clips(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("index-clips")
    videos = root / "videos"
    (videos / "nested").mkdir(parents=True)
    a = make_clip(videos / "a.mp4", seconds=SECONDS, size=(160, 120), seed=21)
    b = make_clip(videos / "b.mp4", seconds=SECONDS, size=(160, 120), seed=22)
    c = make_clip(videos / "nested" / "c.mp4", seconds=SECONDS, size=(160, 120), seed=23)
    queries = root / "queries"
    queries.mkdir()
    copy = make_copy(a, queries / "copy_of_a.mp4", crop=0.8, scale=0.7, crf=30)
    unrelated = make_clip(queries / "unrelated.mp4", seconds=SECONDS, size=(160, 120), seed=29)
    broken = root / "broken" / "broken.mp4"
    broken.parent.mkdir()
    broken.write_text("this is not a video\n" * 50)
    return {"videos": videos, "a": a, "b": b, "c": c, "queries": queries, "copy": copy,
            "unrelated": unrelated, "broken": broken}


@pytest.fixture(scope="session")
def feature_cache(tmp_path_factory):
    from vidsim.store import FeatureCache

    return FeatureCache(tmp_path_factory.mktemp("index-cache"))


@pytest.fixture(scope="session")
def model():
    from vidsim.model import ViSiL

    return ViSiL()


@pytest.fixture(scope="session")
def query_features(model, feature_cache, index_clips):
    """Features of the copy of a, and of the unrelated clip."""
    return {name: model.extract_video(index_clips[name], cache=feature_cache) for name in ("copy", "unrelated")}


# --- damaged indexes (test_damage.py, test_check_repair.py) -----------------------------------
@pytest.fixture(scope="session")
def sound_index(tmp_path_factory, index_clips, model, feature_cache, query_features):
    """An index of a, b and c, its codes files by video name, and its results for the copy of a."""
    from vidsim.index import Index

    directory = tmp_path_factory.mktemp("sound") / "idx"
    with Index.open(directory, model=model, cache=feature_cache) as index:
        index.add([index_clips[name] for name in ("a", "b", "c")])
        files = {r.name: directory / r.codes_file for r in index.list()}
        before = results_of(index.search(query_features["copy"], top_k=3))
    assert [m[1] for m in before][:1] == [str(index_clips["a"])] and len(before) == 3
    return {"dir": directory, "codes": files, "results": before}


@pytest.fixture
def index_copy(tmp_path, sound_index):
    """A copy of the sound index to damage, and its codes files by video name."""
    directory = tmp_path / "idx"
    shutil.copytree(sound_index["dir"], directory)
    return directory, {name: directory / path.relative_to(sound_index["dir"]) for name, path in sound_index["codes"].items()}
