"""Real encoded clips (tests/clips.py), a small real index of two of them, and apps serving copies
of it; one model and one feature cache shared by every app of the session, so each clip is
embedded once."""
from __future__ import annotations

import secrets
import shutil
from pathlib import Path

import pytest

import clips
from vidsim.synth import make_copy

SECONDS = 6


@pytest.fixture(scope="session")
def serve_clips(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("serve-clips")
    videos = root / "videos"
    (videos / "more").mkdir(parents=True)
    a = clips.natural(videos / "a.mp4", seconds=SECONDS, seed=31)
    b = clips.natural(videos / "b.mp4", seconds=SECONDS, seed=32)
    c = clips.natural(videos / "more" / "c.mp4", seconds=SECONDS, seed=33)
    queries = root / "queries"
    queries.mkdir()
    copy = make_copy(a, queries / "copy_of_a.mp4", crop=0.8, scale=0.7, crf=30)
    text = clips.text_file(queries / "notes.mp4")
    outside = root / "outside"
    outside.mkdir()
    secret = make_copy(b, outside / "secret.mp4", crop=0.9, scale=0.8, crf=28)
    return {"root": root, "videos": videos, "a": a, "b": b, "c": c, "queries": queries, "copy": copy,
            "text": text, "outside": outside, "secret": secret}


@pytest.fixture(scope="session")
def serve_model():
    from vidsim.model import ViSiL

    return ViSiL()


@pytest.fixture(scope="session")
def serve_cache(tmp_path_factory):
    from vidsim.store import FeatureCache

    return FeatureCache(tmp_path_factory.mktemp("serve-cache"))


@pytest.fixture(scope="session")
def base_index(tmp_path_factory, serve_clips, serve_model, serve_cache) -> Path:
    """An index of a and b (c is left for adds)."""
    from vidsim.index import Index

    directory = tmp_path_factory.mktemp("serve-index") / "idx"
    with Index.open(directory, model=serve_model, cache=serve_cache) as index:
        index.add([serve_clips["a"], serve_clips["b"]])
    return directory


@pytest.fixture
def index_dir(tmp_path, base_index) -> Path:
    """A copy of the base index, for a test that writes."""
    directory = tmp_path / "idx"
    shutil.copytree(base_index, directory)
    return directory


@pytest.fixture
def api_keys(tmp_path) -> tuple[Path, list[str]]:
    keys = [secrets.token_urlsafe(24), secrets.token_urlsafe(24)]
    path = tmp_path / "keys.txt"
    path.write_text(f"# service keys\n{keys[0]}\n\n  {keys[1]}  \n")
    return path, keys


@pytest.fixture
def make_app(serve_model, serve_cache, serve_clips, tmp_path):
    """make_app(index_dir, **settings) -> a FastAPI app (settings: ServeSettings fields; by default
    one search at a time, paths allowed under the clips' videos/ and queries/, uploads spooled
    under tmp_path/spool)."""
    from vidsim.index import Index
    from vidsim.serve.app import create_app
    from vidsim.serve.settings import ServeSettings

    spool = tmp_path / "spool"
    spool.mkdir()

    def make(directory: Path, open_index=None, **fields):
        fields.setdefault("allow_roots", (serve_clips["videos"], serve_clips["queries"]))
        fields.setdefault("max_searches", 1)
        fields.setdefault("spool_dir", spool)
        settings = ServeSettings(directory, **fields)
        return create_app(settings, open_index=open_index or (
            lambda: Index.open(directory, model=serve_model, cache=serve_cache)))

    return make
