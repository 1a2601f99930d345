"""vidsim's resnet50 path equals the official ViSiL PyTorch code (fixture made by
tools/parity/make_fixture.py from the official branch, with the same seeded weights)."""
from pathlib import Path

import numpy as np
import pytest
import torch

from vidsim.config import FeatureConfig, SimilarityConfig, VidsimConfig
from vidsim.features.seeded import seeded_head, seeded_whitening
from vidsim.model import ViSiL
from vidsim.similarity import chamfer_score

FIXTURE = Path(__file__).parent / "fixtures" / "visil_parity.npz"
RTOL, ATOL = 1e-5, 1e-6


@pytest.fixture(scope="module")
def reference():
    with np.load(FIXTURE) as data:
        return {k: data[k] for k in data.files}


def _model(tmp_path_factory, dims: int, symmetric: bool) -> ViSiL:
    root = tmp_path_factory.mktemp(f"parity{dims}")
    white = root / "white.npz"
    np.savez(white, **seeded_whitening(3840, seed=0))
    head = root / "head.pth"
    torch.save({k: torch.from_numpy(v) for k, v in seeded_head(dims, seed=0).items()}, head)
    config = VidsimConfig(
        features=FeatureConfig(backbone="resnet50", weights="seed:0", whitening=str(white), dims=dims),
        similarity=SimilarityConfig(head="visil", head_weights=str(head), symmetric=symmetric),
    )
    return ViSiL(config)


@pytest.fixture(scope="module")
def full_model(tmp_path_factory):
    return _model(tmp_path_factory, 3840, symmetric=False)


@pytest.fixture(scope="module")
def sym_model(tmp_path_factory):
    return _model(tmp_path_factory, 512, symmetric=True)


def _close(actual, expected):
    np.testing.assert_allclose(np.asarray(actual, dtype=np.float64), expected, rtol=RTOL, atol=ATOL)


def test_region_vectors_match_official(full_model, reference):
    with torch.no_grad():
        regions = full_model.extractor.region_vectors(torch.from_numpy(reference["q_frames"]))
    _close(regions.numpy(), reference["q_regions"])


def test_full_model_matches_official(full_model, reference):
    q = full_model.extract_features(reference["q_frames"])
    t = full_model.extract_features(reference["t_frames"])
    _close(q.numpy(), reference["q_features"])
    _close(t.numpy(), reference["t_features"])
    _close(full_model.calculate_f2f_matrix(q, t).numpy(), reference["f2f"])
    _close(full_model.calculate_visil_output(q, t).numpy(), reference["visil_output"])
    _close(float(full_model.calculate_video_similarity(q, t)), reference["similarity"])
    # The copies of query frames 1 and 2 (target 3 and 4) are their best matches.
    f2f = full_model.calculate_f2f_matrix(q, t).numpy()
    assert f2f[1].argmax() == 3 and f2f[2].argmax() == 4


def test_symmetric_model_matches_official(sym_model, reference):
    q = sym_model.extract_features(reference["q_frames"])
    t = sym_model.extract_features(reference["t_frames"])
    assert q.shape == (4, 9, 512)
    _close(q.numpy(), reference["q_features_sym"])
    _close(t.numpy(), reference["t_features_sym"])
    _close(sym_model.calculate_f2f_matrix(q, t).numpy(), reference["f2f_sym"])
    _close(sym_model.calculate_visil_output(q, t).numpy(), reference["visil_output_sym"])
    _close(float(sym_model.calculate_video_similarity(q, t)), reference["similarity_sym"])


@pytest.mark.parametrize("model_name,suffix", [("full_model", ""), ("sym_model", "_sym")])
def test_comparator_on_larger_map_matches_official(request, reference, model_name, suffix):
    model = request.getfixturevalue(model_name)
    sim = torch.from_numpy(reference["cmp_input"])
    with torch.no_grad():
        output = model.head.comparator_output(sim)
        similarity = chamfer_score(torch.clamp(output, -1, 1), model.head.symmetric)
    _close(output.numpy(), reference[f"cmp_output{suffix}"])
    _close(float(similarity), reference[f"cmp_similarity{suffix}"])
