"""Search with the similarity levers: uninformative frames (kept in the codes files) and a mirrored query."""
from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from vidsim.decode import VideoEncoding, VideoWriter, iter_decoded_frames
from vidsim.errors import ConfigError
from vidsim.index import Index
from vidsim.index.codes import read_arrays, read_frame_std, write_arrays
from vidsim.synth import make_clip

SIZE = (160, 120)


def _rewrite(src, dst, black_seconds: float = 0.0, mirror: bool = False, fps: int = 25):
    frames = [f.to_rgb() for f in iter_decoded_frames(src)]
    if mirror:
        frames = [np.ascontiguousarray(f[:, ::-1]) for f in frames]
    frames += [np.zeros_like(frames[0])] * int(black_seconds * fps)
    with VideoWriter(dst, SIZE, Fraction(fps), VideoEncoding(options={"crf": "23"}, threads=1)) as writer:
        for image in frames:
            writer.write(image)
    return dst


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    root = tmp_path_factory.mktemp("search-levers")
    refs, queries = root / "refs", root / "queries"
    refs.mkdir()
    queries.mkdir()
    a = make_clip(root / "a.mp4", seconds=6, size=SIZE, seed=51)
    b = make_clip(root / "b.mp4", seconds=6, size=SIZE, seed=52)
    c = make_clip(root / "c.mp4", seconds=6, size=SIZE, seed=53)
    return {
        "refs": refs, "a": _rewrite(a, refs / "a.mp4"), "b_dark": _rewrite(b, refs / "b_dark.mp4", black_seconds=6),
        "c_dark": _rewrite(c, queries / "c_dark.mp4", black_seconds=6),
        "a_mirror": _rewrite(a, queries / "a_mirror.mp4", mirror=True),
    }


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    from vidsim.store import FeatureCache

    return FeatureCache(tmp_path_factory.mktemp("search-levers-cache"))


@pytest.fixture(scope="module")
def index_dir(tmp_path_factory, clips, cache):
    directory = tmp_path_factory.mktemp("search-levers-index") / "index"
    with Index.open(directory, cache=cache) as index:
        index.add([clips["refs"]])
    return directory


def _scores(index, query, **kw):
    return {m.path.rsplit("/", 1)[-1]: m.similarity for m in index.search(query, top_k=5, **kw)}


def test_codes_files_keep_the_frames_pixel_deviations(index_dir, clips, cache):
    with Index.open(index_dir, cache=cache) as index:
        record = next(r for r in index.list() if r.name == "b_dark")
        stds = read_frame_std(index_dir / record.codes_file)
        assert stds is not None and stds.shape == (record.frames,)
        assert stds[:6].min() > 20 and stds[7:].max() < 2
        np.testing.assert_array_equal(read_frame_std(index_dir / record.codes_file, (2, 5)), stds[2:5])


def test_dark_frames_shared_with_an_unrelated_video_stop_counting(index_dir, clips, cache):
    with Index.open(index_dir, cache=cache, overrides={"vidsim.similarity.min_frame_std": 0.0}) as index:
        off = _scores(index, clips["c_dark"])
    with Index.open(index_dir, cache=cache, overrides={"vidsim.similarity.min_frame_std": 8.0}) as index:
        on = _scores(index, clips["c_dark"])
        assert index.similarity_config.min_frame_std == 8.0
    assert off["b_dark.mp4"] > on.get("b_dark.mp4", -1.0) + 0.2  # the black halves matched each other


def test_codes_written_before_frame_std_still_search(index_dir, clips, cache, tmp_path):
    """An older codes file (no frame_std) compares every one of its frames; the query's are still left out."""
    import json
    import shutil

    from safetensors import safe_open

    old = tmp_path / "old-index"
    shutil.copytree(index_dir, old)
    with Index.open(old, cache=cache) as index:
        record = next(r for r in index.list() if r.name == "b_dark")
        path = old / record.codes_file
        arrays = read_arrays(path, index.codec)
        with safe_open(str(path), framework="numpy") as fh:
            metadata = {k: v for k, v in (fh.metadata() or {}).items() if k != "checksum"}
        write_arrays(path, {k: v for k, v in arrays.items() if k != "frame_std"}, metadata)
        assert read_frame_std(path) is None and json.loads(metadata["layout"]) == index.codec.layout()
    with Index.open(old, cache=cache, overrides={"vidsim.similarity.min_frame_std": 8.0}) as index:
        scores = _scores(index, clips["c_dark"])
    with Index.open(index_dir, cache=cache, overrides={"vidsim.similarity.min_frame_std": 8.0}) as index:
        both_sides = _scores(index, clips["c_dark"])
    # the query's black frames are left out, the reference's cannot be: its black frames meet the query's
    # pictures only, which they do not resemble
    assert scores["b_dark.mp4"] == pytest.approx(both_sides["b_dark.mp4"], abs=0.1)


def test_a_mirrored_copy_scores_higher_with_the_mirrored_query(index_dir, clips, cache):
    with Index.open(index_dir, cache=cache) as index:
        plain = _scores(index, clips["a_mirror"])
    with Index.open(index_dir, cache=cache, overrides={"vidsim.similarity.flip_query": True}) as index:
        flipped = _scores(index, clips["a_mirror"])
        features = index.features_of(clips["a_mirror"])
        given = _scores(index, features, mirror=index.mirror_of(clips["a_mirror"]))
        assert _scores(index, features) == pytest.approx(plain)  # features alone: nothing to mirror
    assert flipped["a.mp4"] > plain["a.mp4"] + 0.05
    assert given == pytest.approx(flipped)


def test_the_search_method_scores_as_the_index_searches(index_dir, clips, cache, tmp_path):
    from vidsim.evaluate.methods import build_method

    method = build_method("vidsim-search", cache=cache)
    refs = {p.stem: method.extract(p) for p in sorted(clips["refs"].iterdir())}
    query = method.extract(clips["c_dark"])
    row = method.score_query(query, refs)
    with Index.open(index_dir, cache=cache) as index:
        expected = {k.removesuffix(".mp4"): v for k, v in _scores(index, clips["c_dark"]).items()}
    assert row == pytest.approx(expected)
    assert method.localise(query, refs["a"]) == [] or all(s.ref_end > s.ref_start for s in method.localise(query, refs["a"]))
    with pytest.raises(ConfigError, match="unknown"):
        build_method("vidsim-search", cache=cache, index_options={"index.nonsense": 1}).score_query(query, refs)
