import numpy as np
import pytest
import torch

from vidsim.errors import ModelError
from vidsim.features.whitening import PCAWhitening


@pytest.fixture
def vectors():
    rng = np.random.default_rng(0)
    mixing = rng.standard_normal((16, 16)) * np.linspace(3.0, 0.1, 16)
    return (rng.standard_normal((4000, 16)) @ mixing.T + 2.0).astype(np.float32)


def test_fit_whitens_the_training_data(vectors):
    white = PCAWhitening.fit(vectors)
    projected = (torch.from_numpy(vectors) - white.mean) @ white.DVt
    cov = np.cov(projected.numpy().T)
    np.testing.assert_allclose(cov, np.eye(16), atol=2e-2)
    assert torch.all(white.d[:-1] >= white.d[1:]), "components sorted by eigenvalue"


def test_output_is_l2_normalised_and_reduced(vectors):
    white = PCAWhitening.fit(vectors, dims=5)
    out = white(torch.from_numpy(vectors[:10]))
    assert out.shape == (10, 5)
    np.testing.assert_allclose(out.norm(dim=-1).numpy(), 1.0, rtol=1e-5)


@pytest.mark.parametrize("suffix", [".npz", ".pth"])
def test_save_load_round_trip(tmp_path, vectors, suffix):
    white = PCAWhitening.fit(vectors)
    path = tmp_path / f"white{suffix}"
    if suffix == ".npz":
        white.save(path)
    else:  # the official layout: a torch dict with mean, V, d
        torch.save({"mean": white.mean, "V": white.V, "d": white.d}, path)
    loaded = PCAWhitening.load(path, dims=8)
    x = torch.from_numpy(vectors[:20])
    np.testing.assert_allclose(loaded(x).numpy(), PCAWhitening.fit(vectors, dims=8)(x).numpy(), rtol=1e-4, atol=1e-5)


def test_unsorted_official_eigenvalues_are_sorted_on_load(tmp_path):
    rng = np.random.default_rng(1)
    mean, V, d = rng.standard_normal(6), rng.standard_normal((6, 6)), np.array([0.1, 3.0, 0.5, 2.0, 1.0, 0.2])
    white = PCAWhitening(mean, V, d, dims=2)
    np.testing.assert_allclose(white.d.numpy(), [3.0, 2.0])
    np.testing.assert_allclose(white.V.numpy(), V[:, [1, 3]].astype(np.float32))


def test_missing_and_malformed_files_raise(tmp_path):
    with pytest.raises(ModelError, match="not found"):
        PCAWhitening.load(tmp_path / "nope.npz")
    bad = tmp_path / "bad.npz"
    np.savez(bad, mean=np.zeros(3))
    with pytest.raises(ModelError, match="lacks"):
        PCAWhitening.load(bad)
