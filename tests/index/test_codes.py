import numpy as np
import pytest

from vidsim.index.codes import frame_vectors, make_codec, read_codes, truncate, write_codes


def _regions(frames=6, dims=64, seed=0):
    x = np.random.default_rng(seed).standard_normal((frames, 9, dims)).astype(np.float32)
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


@pytest.mark.parametrize("kind, max_error", [("float32", 0.0), ("float16", 2e-3), ("int8", 2e-2), ("binary", None)])
def test_codecs_round_trip_through_a_file(tmp_path, kind, max_error):
    regions, times = _regions(), np.arange(6, dtype=np.float64)
    codec = make_codec(kind)
    size = write_codes(tmp_path / "v.safetensors", codec, regions, times, {"k": 1})
    decoded, stamps = read_codes(tmp_path / "v.safetensors", codec)
    assert decoded.dtype == np.float32 and decoded.shape == regions.shape
    np.testing.assert_array_equal(stamps, times)
    assert size == (tmp_path / "v.safetensors").stat().st_size
    assert not list(tmp_path.glob(".*"))  # no temporary file left
    if max_error is not None:
        assert np.abs(decoded - regions).max() <= max_error
    else:  # sign bits decoded to unit vectors that agree in sign with the input
        np.testing.assert_allclose(np.linalg.norm(decoded, axis=-1), 1.0, rtol=1e-5)
        assert np.array_equal(decoded > 0, regions > 0)


def test_code_sizes_per_frame():
    regions = _regions(frames=10, dims=256)
    sizes = {kind: sum(a.nbytes for a in make_codec(kind).encode(regions).values()) / 10
             for kind in ("float32", "float16", "int8", "binary")}
    assert sizes["float32"] == 9 * 256 * 4 and sizes["float16"] == 9 * 256 * 2
    assert sizes["int8"] == 9 * 256 + 9 * 2
    assert sizes["binary"] <= 9 * 256 / 8 + 4


def test_truncated_codes_keep_leading_dims_renormalised():
    regions = _regions(dims=64)
    codec = make_codec("float16", dims=16)
    decoded = codec.decode(codec.encode(regions))
    assert decoded.shape == (6, 9, 16)
    np.testing.assert_allclose(np.linalg.norm(decoded, axis=-1), 1.0, rtol=2e-3)
    np.testing.assert_allclose(codec.prepare_query(regions), truncate(regions, 16))
    assert np.corrcoef(decoded.ravel(), truncate(regions, 16).ravel())[0, 1] > 0.999


def test_frame_vectors_are_unit_means():
    regions = _regions()
    vectors = frame_vectors(regions)
    assert vectors.shape == (6, 64)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)
    mean = regions.mean(axis=1)
    np.testing.assert_allclose(vectors, mean / np.linalg.norm(mean, axis=1, keepdims=True), rtol=1e-5)
