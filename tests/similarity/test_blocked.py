"""`blocked_f2f`, the search re-rank's f2f: the values of `f2f_similarity` on real decoded clips,
in blocks, with target weights, and on int8 signs through bf16 parts (within float32 rounding)."""
import numpy as np
import pytest
import torch

from vidsim.index.codes import make_codec
from vidsim.similarity import blocked as blocked_module
from vidsim.similarity import f2f_similarity
from vidsim.similarity.blocked import bf16_products_available, blocked_f2f, query_columns


@pytest.fixture(scope="module")
def features(natural_mp4, natural_mkv):
    from vidsim.model import ViSiL

    model = ViSiL()
    query = model.extract_video(natural_mp4).regions  # 4 frames at 1 fps, 9 x 256
    target = model.extract_video(natural_mkv).regions
    return torch.from_numpy(np.concatenate([query, query[:2]])), torch.from_numpy(np.concatenate([target, query, target]))


@pytest.mark.parametrize("symmetric", [False, True])
@pytest.mark.parametrize("block_frames", [1, 3, 64])
def test_blocked_f2f_equals_f2f_similarity(features, symmetric, block_frames):
    query, target = features
    expected = f2f_similarity(query, target, symmetric)
    got = blocked_f2f(query_columns(query), target, symmetric, block_frames=block_frames)
    assert got.shape == expected.shape == (len(query), len(target))
    np.testing.assert_allclose(got.numpy(), expected.numpy(), atol=1e-6)
    assert float(got[0, len(target) // 3]) == pytest.approx(1.0, abs=1e-5)  # the query's own first frame


def test_weights_scale_each_target_regions_similarities(features):
    """A learned head's attention on the targets, x -> w x, applied as weights of x's similarities."""
    query, target = features
    weights = torch.linspace(0.5, 1.5, target.shape[0] * target.shape[1]).reshape(target.shape[:2])
    expected = f2f_similarity(query, target * weights[..., None], symmetric=True)
    got = blocked_f2f(query_columns(query), target, True, weights, block_frames=4)
    np.testing.assert_allclose(got.numpy(), expected.numpy(), atol=1e-6)


@pytest.mark.parametrize("split", [True, False])
def test_int8_signs_give_the_float32_product(features, split):
    """Binary codes' signs against the lifted query: the float64 result within a few 1e-7, with the
    query in two bf16 parts (the fast path where the CPU has bf16 products) or whole."""
    query, target = features
    codec = make_codec("binary")
    signs = torch.from_numpy(codec.targets(codec.encode(target.numpy()), 256).values)
    lifted = torch.from_numpy(codec.lift(query.numpy()))
    columns = query_columns(lifted, split=split)
    assert (columns.split is not None) == split
    exact = f2f_similarity(lifted.double(), signs.double())
    got = blocked_f2f(columns, signs, block_frames=5)
    assert np.abs(got.numpy() - exact.numpy()).max() < 1e-6
    hi_only = query_columns(lifted.to(torch.bfloat16).float(), split=False)  # what one bf16 part would give
    assert np.abs(blocked_f2f(hi_only, signs).numpy() - exact.numpy()).max() > 1e-5


def test_float_targets_never_take_the_bf16_path(features, monkeypatch):
    """Only int8 targets are exact in bf16: float32 ones are multiplied in float32 whatever the query holds."""
    query, target = features
    seen = []
    monkeypatch.setattr(blocked_module, "_bf16_products", _recording(blocked_module._bf16_products, seen))
    blocked_f2f(query_columns(query, split=True), target)
    assert seen == []
    blocked_f2f(query_columns(query, split=True), target.sign().to(torch.int8), block_frames=5)
    assert len(seen) == -(-len(target) // 5)  # one setting per block, for its hi product only


def _recording(context, seen):
    def record():
        seen.append(True)
        return context()
    return record


def test_the_precision_setting_is_restored(features):
    query, target = features
    signs = target.sign().to(torch.int8)
    matmul = torch.backends.mkldnn.matmul
    before = matmul.fp32_precision
    blocked_f2f(query_columns(query, split=True), signs)
    assert matmul.fp32_precision == before
    with pytest.raises(ValueError, match="expected target regions"):
        blocked_f2f(query_columns(query, split=True), signs[..., :10])
    assert matmul.fp32_precision == before
    assert blocked_f2f(query_columns(query), target[:0]).shape == (len(query), 0)
    print("bf16 products available:", bf16_products_available())
