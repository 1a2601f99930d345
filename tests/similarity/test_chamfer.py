import numpy as np
import pytest
import torch
import torch.nn.functional as F

from vidsim.similarity import chamfer as chamfer_module
from vidsim.similarity import chamfer_score, f2f_similarity, naive_f2f_similarity
from vidsim.similarity.head import ViSiLHead


def _regions(frames, seed, regions=9, dims=16):
    g = torch.Generator().manual_seed(seed)
    return F.normalize(torch.randn(frames, regions, dims, generator=g), dim=-1)


def test_f2f_matches_the_tutorial_loop():
    q, t = _regions(5, 0), _regions(7, 1)
    np.testing.assert_allclose(f2f_similarity(q, t).numpy(), naive_f2f_similarity(q.numpy(), t.numpy()), rtol=1e-5, atol=1e-6)


def test_symmetric_f2f_averages_both_directions():
    q, t = _regions(3, 2), _regions(4, 3)
    forward = naive_f2f_similarity(q.numpy(), t.numpy())
    backward = naive_f2f_similarity(t.numpy(), q.numpy()).T
    np.testing.assert_allclose(f2f_similarity(q, t, symmetric=True).numpy(), (forward + backward) / 2, rtol=1e-5, atol=1e-6)


def test_chunked_f2f_equals_unchunked(monkeypatch):
    q, t = _regions(6, 4), _regions(50, 5)
    full = f2f_similarity(q, t)
    monkeypatch.setattr(chamfer_module, "MAX_CHUNK_ELEMENTS", 6 * 9 * 9 * 3)  # 3 target frames per chunk
    np.testing.assert_allclose(f2f_similarity(q, t).numpy(), full.numpy(), rtol=1e-6)


def test_video_chamfer_by_hand():
    sim = torch.tensor([[0.1, 0.9, 0.2], [0.5, 0.3, 0.4]])
    assert chamfer_score(sim).item() == pytest.approx((0.9 + 0.5) / 2)
    assert chamfer_score(sim, symmetric=True).item() == pytest.approx(((0.9 + 0.5) / 2 + (0.5 + 0.9 + 0.4) / 3) / 2)
    # partial: the 2-frame query can show at most 2 of the 3 target frames; their best 2 column maxima count
    assert chamfer_score(sim, symmetric=True, partial=True).item() == pytest.approx(((0.9 + 0.5) / 2 + (0.9 + 0.5) / 2) / 2)
    assert chamfer_score(sim.T, symmetric=True, partial=True).item() == pytest.approx(chamfer_score(sim.T, symmetric=True).item())


def test_partial_symmetric_does_not_score_down_a_clip_cut_from_a_long_video():
    video = _regions(40, 10)
    clip = video[10:16]
    plain, partial = ViSiLHead(16, symmetric=True), ViSiLHead(16, symmetric=True, symmetric_partial=True)
    assert partial.mode == "chamfer-symmetric-partial"
    assert plain(clip, video).item() < 0.8  # 34 of the 40 target frames are not in the clip
    assert partial(clip, video).item() == pytest.approx(1.0, abs=1e-5)
    assert partial(video, video).item() == pytest.approx(plain(video, video).item())


def test_a_video_is_most_similar_to_itself_and_a_clip_of_it():
    video, other = _regions(20, 6), _regions(20, 7)
    head = ViSiLHead(16)
    assert head(video, video).item() == pytest.approx(1.0, abs=1e-6)
    assert head(video[5:12], video).item() == pytest.approx(1.0, abs=1e-6)  # a cut-out copy
    assert head(video, other).item() < 0.9


def test_long_targets_are_scored_in_chunks_and_averaged():
    q, t = _regions(4, 8), _regions(10, 9)
    head = ViSiLHead(16, chunk_frames=5)
    expected = (chamfer_score(f2f_similarity(q, t[:5])) + chamfer_score(f2f_similarity(q, t[5:]))) / 2
    assert head(q, t).item() == pytest.approx(expected.item(), rel=1e-6)
    # a tail under 4 frames joins the last chunk instead of being scored alone
    head = ViSiLHead(16, chunk_frames=4)
    expected = (chamfer_score(f2f_similarity(q, t[:4])) + chamfer_score(f2f_similarity(q, t[4:]))) / 2
    assert head(q, t).item() == pytest.approx(expected.item(), rel=1e-6)


def test_learned_head_loads_official_key_names(tmp_path):
    from vidsim.features.seeded import seeded_head

    path = tmp_path / "head.pth"
    torch.save({k: torch.from_numpy(v) for k, v in seeded_head(16).items()}, path)
    head = ViSiLHead(16, kind="visil")
    head.load_weights(path)
    assert torch.allclose(head.video_comperator.conv1.weight, torch.from_numpy(seeded_head(16)["video_comperator.conv1.weight"]))
    score = head(head.prepare(_regions(8, 1)), head.prepare(_regions(12, 2)))
    assert -1.0 <= score.item() <= 1.0
