import json

import numpy as np
import pytest
from safetensors import safe_open

from vidsim.errors import CodesDamagedError, VidsimError
from vidsim.index.codes import (
    frame_vectors,
    make_codec,
    orthogonal_projection,
    read_codes,
    read_targets,
    truncate,
    write_codes,
)


def _regions(frames=6, dims=64, seed=0):
    x = np.random.default_rng(seed).standard_normal((frames, 9, dims)).astype(np.float32)
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


@pytest.mark.parametrize("kind, max_error", [("float32", 0.0), ("float16", 2e-3), ("int8", 2e-2), ("int4", 0.15)])
def test_codecs_round_trip_through_a_file(tmp_path, kind, max_error):
    regions, times = _regions(), np.arange(6, dtype=np.float64)
    codec = make_codec(kind)
    size = write_codes(tmp_path / "v.safetensors", codec, regions, times, {"k": 1})
    decoded, stamps = read_codes(tmp_path / "v.safetensors", codec)
    assert decoded.dtype == np.float32 and decoded.shape == regions.shape
    np.testing.assert_array_equal(stamps, times)
    assert size == (tmp_path / "v.safetensors").stat().st_size
    assert not list(tmp_path.glob(".*"))  # no temporary file left
    assert np.abs(decoded - regions).max() <= max_error


def test_unprojected_binary_codes_are_the_signs_of_each_dim(tmp_path):
    """The format-1 layout (bits=None): sign bits decoded to unit vectors of +-1/sqrt(d)."""
    regions = _regions()
    codec = make_codec("binary", bits=None)
    write_codes(tmp_path / "v.safetensors", codec, regions, np.arange(6.0), {})
    decoded, _ = read_codes(tmp_path / "v.safetensors", codec)
    np.testing.assert_allclose(np.linalg.norm(decoded, axis=-1), 1.0, rtol=1e-5)
    assert np.array_equal(decoded > 0, regions > 0)


@pytest.mark.parametrize("bits", [128, 256, 512])
def test_projected_binary_codes_estimate_inner_products_without_bias(bits):
    """q . decode(x) estimates q . x for unit regions: self-similarity ~1, and the error of a
    related pair shrinks with more bits."""
    x = _regions(frames=40, dims=256, seed=1)
    noise = _regions(frames=40, dims=256, seed=2)
    q = 0.8 * x + 0.6 * noise
    q /= np.linalg.norm(q, axis=-1, keepdims=True)
    codec = make_codec("binary", bits=bits)
    decoded = codec.decode(codec.encode(x))
    assert decoded.shape == x.shape and decoded.dtype == np.float32
    assert abs((decoded * x).sum(-1).mean() - 1.0) < 0.02
    error = (decoded * q).sum(-1) - (x * q).sum(-1)
    assert abs(error.mean()) < 0.02
    assert error.std() < 1.5 * np.sqrt(np.pi / 2 / bits)  # ~ the estimator's standard deviation


def test_more_bits_mean_smaller_errors():
    x, q = _regions(frames=40, dims=256, seed=3), _regions(frames=40, dims=256, seed=4)
    errors = []
    for bits in (128, 512):
        codec = make_codec("binary", bits=bits)
        errors.append(np.abs((codec.decode(codec.encode(x)) * q).sum(-1) - (x * q).sum(-1)).mean())
    assert errors[1] < 0.7 * errors[0]


def test_the_projection_is_pinned_by_its_seed():
    """Indexes decode with a matrix regenerated from (bits, dims, seed): it must never change."""
    p = orthogonal_projection(512, 256, 0)
    assert p.shape == (512, 256) and p.dtype == np.float32
    np.testing.assert_allclose(p.T @ p, np.eye(256), atol=1e-5)  # orthonormal columns
    np.testing.assert_allclose(p[0, :4], [0.07655556, 0.01655216, 0.04340269, 0.09720708], atol=1e-6)
    np.testing.assert_allclose(p[511, -3:], [-0.01306834, -0.09971762, 0.03074735], atol=1e-6)
    short = orthogonal_projection(128, 256, 0)
    np.testing.assert_allclose(short @ short.T, np.eye(128), atol=1e-5)  # orthonormal rows
    assert not np.allclose(orthogonal_projection(512, 256, 1), p)


def test_code_sizes_per_frame():
    regions = _regions(frames=10, dims=256)
    sizes = {kind: sum(a.nbytes for a in make_codec(kind).encode(regions).values()) / 10
             for kind in ("float32", "float16", "int8", "int4", "binary")}
    assert sizes["float32"] == 9 * 256 * 4 and sizes["float16"] == 9 * 256 * 2
    assert sizes["int8"] == 9 * 256 + 9 * 2
    assert sizes["int4"] <= 9 * 128 + 9 * 2 + 1
    assert sizes["binary"] <= 9 * 512 / 8 + 1  # 512 bits per region, + the dims (4 bytes per file)
    legacy = make_codec("binary", bits=None).encode(regions)
    assert sum(a.nbytes for a in legacy.values()) / 10 <= 9 * 256 / 8 + 1


@pytest.mark.parametrize("kind", ["float16", "int4", "binary"])
def test_a_window_of_frames_reads_the_same_as_slicing_the_whole(tmp_path, kind):
    regions = _regions(frames=30, dims=64)
    codec = make_codec(kind)
    write_codes(tmp_path / "v.safetensors", codec, regions, np.arange(30.0) * 0.5, {})
    whole, times = read_codes(tmp_path / "v.safetensors", codec)
    part, part_times = read_codes(tmp_path / "v.safetensors", codec, (7, 19))
    np.testing.assert_array_equal(part, whole[7:19])
    np.testing.assert_array_equal(part_times, times[7:19])


def test_codes_files_record_their_layout_and_another_is_refused(tmp_path):
    path = tmp_path / "v.safetensors"
    write_codes(path, make_codec("binary", bits=256, seed=3), _regions(), np.arange(6.0), {})
    with safe_open(str(path), framework="numpy") as fh:
        assert json.loads(fh.metadata()["layout"]) == {"codes": "binary", "projection": "orthogonal", "bits": 256,
                                                       "seed": 3}
    with pytest.raises(VidsimError, match=f"{path}.*bits.*256.*512"):
        read_codes(path, make_codec("binary"))
    with pytest.raises(VidsimError, match="holds binary codes"):
        read_codes(path, make_codec("int8"))


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


@pytest.mark.parametrize("kind, bits, dims", [("binary", 512, 64), ("binary", 256, 64), ("binary", None, 60),
                                              ("int8", None, 64), ("float16", None, 64)])
def test_a_lifted_query_meets_the_stored_targets_as_it_would_the_decoded_regions(tmp_path, kind, bits, dims):
    """scale * (lift(q) . targets(x)) = q . decode(x): the re-rank compares binary codes as their signs
    (int8, never decoded; 60 unprojected dims are not a whole number of bytes), int8 codes as their
    integers and per-region scale, and other codes as decoded float32."""
    regions, query = _regions(frames=12, dims=dims, seed=5), _regions(frames=3, dims=dims, seed=6)
    codec = make_codec(kind, bits=bits) if kind == "binary" else make_codec(kind)
    write_codes(tmp_path / "v.safetensors", codec, regions, np.arange(12.0), {})
    loaded, times = read_targets(tmp_path / "v.safetensors", codec, (2, 9), dims)
    decoded, _ = read_codes(tmp_path / "v.safetensors", codec, (2, 9))
    targets = loaded.values
    np.testing.assert_array_equal(times, np.arange(2.0, 9.0))
    if kind == "binary":
        assert targets.dtype == np.int8 and targets.shape == (7, 9, bits or dims)
        assert set(np.unique(targets)) == {-1, 1} and loaded.scale is None
    elif kind == "int8":  # the stored integers, the scale weighting each region's dot products
        assert targets.dtype == np.int8 and targets.shape == (7, 9, dims) and np.abs(targets).max() == 127
        assert loaded.scale is not None and loaded.scale.dtype == np.float32 and loaded.scale.shape == (7, 9)
    else:
        assert targets.dtype == np.float32 and loaded.scale is None
    lifted = codec.lift(query).astype(np.float64)
    scale = np.ones((7, 9)) if loaded.scale is None else loaded.scale.astype(np.float64)
    expected = np.einsum("prd,qsd->prqs", query.astype(np.float64), decoded.astype(np.float64))
    got = np.einsum("prd,qsd->prqs", lifted, targets.astype(np.float64)) * scale
    np.testing.assert_allclose(got, expected, atol=2e-6)


def test_targets_of_another_dimension_are_refused_as_damage(tmp_path):
    path = tmp_path / "v.safetensors"
    write_codes(path, make_codec("binary"), _regions(dims=64), np.arange(6.0), {})
    with pytest.raises(CodesDamagedError, match=f"{path}: codes of 64-d regions, the query has 128"):
        read_targets(path, make_codec("binary"), (0, 3), 128)
