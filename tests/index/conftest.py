"""Clips, a shared model and a shared feature cache for the index tests (each clip is
embedded once per session; later adds and searches read the cache)."""
from __future__ import annotations

from pathlib import Path

import pytest

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
