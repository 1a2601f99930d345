"""The similarity levers on real decoded video: uninformative frames left out, a mirrored query."""
from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
import torch

from vidsim.config import SimilarityConfig, VidsimConfig
from vidsim.decode import VideoEncoding, VideoWriter, iter_decoded_frames
from vidsim.errors import ConfigError
from vidsim.features.types import VideoFeatures, frame_pixel_std
from vidsim.similarity import ViSiLHead, video_scores
from vidsim.similarity.chamfer import chamfer_score
from vidsim.similarity.informative import informative_frames, mask_cells, select_frames
from vidsim.similarity.views import better_view
from vidsim.store import FeatureCache, load_features, save_features
from vidsim.synth import make_clip

SIZE = (160, 120)


def _rewrite(src, dst, black_seconds: float = 0.0, mirror: bool = False, fps: int = 25):
    """`src` re-encoded (mirrored left to right if asked), then `black_seconds` of black frames."""
    frames = [f.to_rgb() for f in iter_decoded_frames(src)]
    if mirror:
        frames = [np.ascontiguousarray(f[:, ::-1]) for f in frames]
    frames += [np.zeros_like(frames[0])] * int(black_seconds * fps)
    with VideoWriter(dst, SIZE, Fraction(fps), VideoEncoding(options={"crf": "23"}, threads=1)) as writer:
        for image in frames:
            writer.write(image)
    return dst


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    root = tmp_path_factory.mktemp("levers")
    a = make_clip(root / "a.mp4", seconds=6, size=SIZE, seed=41)
    b = make_clip(root / "b.mp4", seconds=6, size=SIZE, seed=42)
    return {
        "a": a,
        "a_dark": _rewrite(a, root / "a_dark.mp4", black_seconds=6),
        "b_dark": _rewrite(b, root / "b_dark.mp4", black_seconds=6),
        "a_mirror": _rewrite(a, root / "a_mirror.mp4", mirror=True),
        "b": b,
    }


@pytest.fixture(scope="module")
def model():
    """vidsim before the levers: asymmetric Chamfer over every frame."""
    from vidsim.model import ViSiL

    return ViSiL(VidsimConfig(similarity=SimilarityConfig(symmetric=False, min_frame_std=0.0)))


@pytest.fixture(scope="module")
def features(model, videos, tmp_path_factory):
    cache = FeatureCache(tmp_path_factory.mktemp("levers-cache"))
    return {name: model.extract_video(path, cache=cache) for name, path in videos.items()}, cache


def test_frame_pixel_std_by_hand():
    frames = np.zeros((3, 4, 4, 3), np.uint8)
    frames[0] = (200, 10, 40)  # one colour: 0 whatever the colour
    frames[1, :2] = 255  # half white, half black: 127.5 in every channel
    frames[2, :, :, 1] = np.arange(4)[None, :] * 10  # only green varies
    np.testing.assert_allclose(frame_pixel_std(frames), [0.0, 127.5, np.std([0, 10, 20, 30])], rtol=1e-6)


def test_black_frames_of_a_real_clip_measure_near_zero(features):
    dark = features[0]["a_dark"]
    assert dark.frame_std is not None and dark.frame_std.shape == (dark.num_frames,)
    picture, black = dark.frame_std[:6], dark.frame_std[7:]
    assert picture.min() > 20 and black.max() < 2


def test_frame_std_round_trips_and_older_files_read_without_it(features, tmp_path):
    dark = features[0]["a_dark"]
    save_features(tmp_path / "f.safetensors", dark)
    np.testing.assert_array_equal(load_features(tmp_path / "f.safetensors").frame_std, dark.frame_std)
    older = VideoFeatures(dark.regions, dark.timestamps, dark.feature_key)  # as files made before frame_std
    save_features(tmp_path / "old.safetensors", older)
    assert load_features(tmp_path / "old.safetensors").frame_std is None


def test_a_cache_entry_without_frame_std_is_made_again(model, videos, features, monkeypatch):
    _, cache = features
    from vidsim.store import content_hash

    entry = cache.entry(content_hash(videos["b"]), model.feature_key)
    stale = load_features(entry)
    save_features(entry, VideoFeatures(stale.regions, stale.timestamps, stale.feature_key, stale.weights_version))
    again = model.extract_video(videos["b"], cache=cache)
    assert again.frame_std is not None and load_features(entry).frame_std is not None


def test_informative_frames_rules():
    stds = np.array([0.5, 30.0, 12.0, 1.0])
    np.testing.assert_array_equal(informative_frames(stds, 8.0), [False, True, True, False])
    assert informative_frames(stds, 0.0) is None  # off
    assert informative_frames(None, 8.0) is None  # never measured
    assert informative_frames(stds, 0.1) is None  # every frame passes
    assert informative_frames(stds, 100.0) is None  # none does: compared whole


def test_left_out_frames_leave_the_map_and_read_as_no_match():
    sim = torch.tensor([[0.9, 0.1, 1.0], [0.2, 0.8, 1.0], [1.0, 1.0, 1.0]])
    rows, cols = np.array([True, True, False]), np.array([True, True, False])
    np.testing.assert_allclose(select_frames(sim, rows, cols).numpy(), [[0.9, 0.1], [0.2, 0.8]])
    masked = mask_cells(sim.numpy(), rows, cols)
    assert (masked[2] == -1).all() and (masked[:, 2] == -1).all() and masked[0, 0] == pytest.approx(0.9)
    head = ViSiLHead(8)
    kept = video_scores(head, [sim], [(rows, cols)]).scores[0]
    assert float(kept) == pytest.approx(float(chamfer_score(repeat4(sim[:2, :2]))))


def repeat4(sim):
    from vidsim.similarity import repeat_to

    return repeat_to(repeat_to(sim, 4, 0), 4, 1)


def test_dark_tails_of_unrelated_clips_no_longer_count(model, features):
    feats, _ = features
    off = model.calculate_video_similarity(feats["a_dark"], feats["b_dark"])
    strict = VidsimConfig(similarity=SimilarityConfig(symmetric=False, min_frame_std=8.0))
    from vidsim.model import ViSiL

    lever = ViSiL(strict)
    on = lever.calculate_video_similarity(feats["a_dark"], feats["b_dark"])
    plain = lever.calculate_video_similarity(feats["a"], feats["b"])
    assert float(off) > float(plain) + 0.2  # half of each clip is black: the black halves match
    assert float(on) == pytest.approx(float(plain), abs=0.05)  # left out, the pair scores as without them
    copy = lever.calculate_video_similarity(feats["a_dark"], feats["a"])
    assert float(copy) > 0.9  # a copy with a black tail is still a copy


def test_a_mirrored_copy_is_found_through_the_mirrored_query(model, videos, features):
    """The mirror of a mirrored copy is the original again (re-encoded): it scores far above the copy as it is."""
    from vidsim.model import ViSiL, compare_videos

    feats, cache = features
    flipping = ViSiL(VidsimConfig(similarity=SimilarityConfig(symmetric=False, min_frame_std=0.0, flip_query=True)))
    views = flipping.query_views(videos["a_mirror"], cache)
    assert len(views) == 2
    plain = float(model.calculate_video_similarity(feats["a_mirror"], feats["a"]))
    best = float(flipping.calculate_video_similarity(views[0], feats["a"], mirror=views[1]))
    assert best > 0.85 and best > plain + 0.05
    assert best == pytest.approx(float(model.calculate_video_similarity(views[1], feats["a"])) - 0.05, abs=1e-6)
    result = compare_videos(flipping, views[0], feats["a"], views[1])
    assert result.mirrored and result.similarity == pytest.approx(best, abs=1e-6)
    # an unrelated pair keeps its own score: the mirror's, less the margin, does not beat it
    unrelated = compare_videos(flipping, feats["b"], feats["a"], flipping.extract_video(videos["b"], cache, mirror=True))
    assert not unrelated.mirrored
    assert unrelated.similarity == pytest.approx(float(model.calculate_video_similarity(feats["b"], feats["a"])), abs=1e-6)


def test_better_view_by_hand():
    assert better_view(0.5, 0.9, 0.05) == (pytest.approx(0.85), True)
    assert better_view(0.5, 0.54, 0.05) == (0.5, False)
    assert better_view(0.5, None, 0.05) == (0.5, False)


def test_mirror_of_a_feature_file_is_refused(model, features, tmp_path):
    from vidsim.errors import ModelError

    save_features(tmp_path / "a.safetensors", features[0]["a"])
    with pytest.raises(ModelError, match="no pictures to mirror"):
        model.extract_video(tmp_path / "a.safetensors", mirror=True)


def test_lever_fields_are_checked():
    with pytest.raises(ConfigError, match="min_frame_std"):
        SimilarityConfig(min_frame_std=-1)
    with pytest.raises(ConfigError, match="flip_margin"):
        SimilarityConfig(flip_margin=float("nan"))
    saved_before = VidsimConfig.from_dict({"similarity": {"head": "chamfer"}})  # a config.json without the fields
    assert (saved_before.similarity.min_frame_std, saved_before.similarity.symmetric_partial) == (0.0, False)


def test_symmetric_by_default_for_the_chamfer_head_only():
    assert SimilarityConfig().resolved_symmetric and SimilarityConfig().symmetric_partial
    assert not SimilarityConfig(head="visil", head_weights="x").resolved_symmetric
    assert SimilarityConfig(head="visil", head_weights="x", symmetric=True).resolved_symmetric
    assert not SimilarityConfig(symmetric=False).resolved_symmetric
    head = ViSiLHead.from_config(SimilarityConfig(), 8)
    assert head.mode == "chamfer-symmetric-partial"
    older = VidsimConfig.from_dict({"similarity": {"head": "chamfer", "symmetric": False}})  # a config.json of before
    assert ViSiLHead.from_config(older.similarity, 8).mode == "chamfer"
