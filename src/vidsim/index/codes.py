"""Compact per-frame region codes kept for re-ranking, and their files.

A codec turns whitened region features [P, R, D] float32 into arrays to store, and back into
float32 [P, R, d] for the ViSiL head (d = code_dims or D). Truncating dims keeps the leading
PCA components (whitening sorts them by variance) and renormalises each region. The query is
never quantised (asymmetric comparison): its float32 regions meet the decoded codes (the re-rank
meets int8 and binary codes in their stored form, exactly: `Codec.targets`).

| codes            | bytes per frame (9 regions, d dims)   | decoded as |
|------------------|---------------------------------------|------------|
| float32          | 36 d                                  | exact      |
| float16          | 18 d                                  | ~1e-3 relative error |
| int8             | 9 d + 18 (a float16 scale per region)  | ~1% relative error |
| int4             | 9 ceil(d/2) + 18                       | ~10% per value, pair scores ~3e-3 |
| binary, b bits   | 9 b / 8                                | s P^T sign(P x) (see below) |
| binary, no proj. | 9 d / 8                                | sign(x) / sqrt(d) (the format-1 layout, DnS-style sign bits) |

The projected binary layout (the default, b = 512) is sign random projection: P is a seeded
random orthogonal projection onto b directions and s = sqrt(pi/2 max(b, d)) / b; for unit vectors,
E[q . decoded(x)] = q . x, so the head's Chamfer sums see unbiased estimates (on the benchmark's
real clips pair scores move by 0.02 rms, against 0.04-0.08 for one sign bit per dim).

Files are safetensors, written to a temporary name, flushed to disk (fsync) and renamed into
place before the catalog row that names them commits. Their metadata names the codec and its
layout, checked when read; frames can be read as a window without reading the whole file. The
metadata also holds what the video's catalog row needs (so that `index repair` can rebuild the
catalog from the files) and a SHA-256 of the whole file (`checksum`), verified by `inspect_codes`.
"""
from __future__ import annotations

import functools
import hashlib
import json
import math
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError, safe_open
from safetensors.numpy import save

from vidsim.errors import CodesDamagedError, ConfigError, VidsimError
from vidsim.fsutil import atomic_open
from vidsim.index.checksum import FIELD, PLACEHOLDER, hash_rest, is_digest, neutral, seal

DEFAULT_BITS = 512
MAX_HEADER = 100_000_000  # safetensors' own limit on a header's bytes


def truncate(regions: np.ndarray, dims: int | None) -> np.ndarray:
    """Keep the first `dims` dims of each region and L2-normalise again (float32)."""
    regions = np.asarray(regions, dtype=np.float32)
    if dims is None or dims >= regions.shape[-1]:
        return regions
    out = regions[..., :dims]
    norms = np.linalg.norm(out, axis=-1, keepdims=True)
    return (out / np.maximum(norms, 1e-12)).astype(np.float32)


def frame_vectors(regions: np.ndarray) -> np.ndarray:
    """One L2-normalised vector per frame: the mean of its regions [P, R, d] -> [P, d] float32."""
    mean = np.asarray(regions, dtype=np.float32).mean(axis=1)
    norms = np.linalg.norm(mean, axis=1, keepdims=True)
    return np.ascontiguousarray(mean / np.maximum(norms, 1e-12), dtype=np.float32)


@functools.lru_cache(maxsize=8)
def orthogonal_projection(bits: int, dims: int, seed: int) -> np.ndarray:
    """[bits, dims] float32 block of a seeded random orthogonal matrix (orthonormal columns when
    bits >= dims, rows otherwise). RandomState's normal stream is fixed across numpy versions and
    the QR factor's signs are normalised (positive diagonal of R), so the same seed gives the same
    matrix (to rounding) on every machine."""
    n = max(bits, dims)
    gauss = np.random.RandomState(seed).standard_normal((n, n))
    q, r = np.linalg.qr(gauss)
    q *= np.where(np.diag(r) < 0, -1.0, 1.0)[None, :]
    out = np.ascontiguousarray(q[:bits, :dims], dtype=np.float32)
    out.setflags(write=False)
    return out


@functools.lru_cache(maxsize=8)
def _decoding(bits: int, dims: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(2 s P, s 1P) of the projected binary decoder, s = sqrt(pi/2 max(bits, dims)) / bits."""
    projection = torch.from_numpy(orthogonal_projection(bits, dims, seed).copy())
    scale = math.sqrt(math.pi / 2 * max(bits, dims)) / bits
    return projection * (2 * scale), projection.sum(dim=0) * scale


class Codec(ABC):
    """Encodes region features for storage and decodes them for the ViSiL head."""

    name: str
    static_arrays: tuple[str, ...] = ()  # stored arrays that are not per frame (never windowed)

    def __init__(self, dims: int | None = None):
        self.dims = dims

    def layout(self) -> dict[str, Any]:
        """What made the codes (written into every codes file and checked when read)."""
        return {"codes": self.name}

    def prepare_query(self, regions: np.ndarray) -> np.ndarray:
        """Query features as compared with decoded codes (asymmetric: truncated, not quantised)."""
        return truncate(regions, self.dims)

    def encode(self, regions: np.ndarray) -> dict[str, np.ndarray]:
        return self._encode(truncate(regions, self.dims))

    @abstractmethod
    def _encode(self, regions: np.ndarray) -> dict[str, np.ndarray]: ...

    @abstractmethod
    def decode(self, arrays: dict[str, np.ndarray]) -> np.ndarray: ...

    def lift(self, regions: np.ndarray) -> np.ndarray:
        """Query regions [..., d] in the space of `targets`: lift(q) . targets(x) = q . decode(x)."""
        return np.ascontiguousarray(regions, dtype=np.float32)

    def targets(self, arrays: dict[str, np.ndarray], dims: int) -> Targets:
        """Stored arrays as the re-rank compares them with `lift`ed query regions of `dims` dims:
        the decoded regions [P, R, d] float32 here (ValueError if d is not `dims`)."""
        regions = self.decode(arrays)
        _check_dims(regions.shape[-1], dims)
        return Targets(regions)


@dataclass(frozen=True)
class Targets:
    """Codes as the re-rank compares them with `lift`ed query regions: `values` [P, R, D'] (decoded
    float32, or int8 exact integers: binary codes' signs, int8 codes' q) and `scale` [P, R] float32,
    each region's factor on its dot products (int8 codes' scale: q . u scaled is x . u; None: 1)."""

    values: np.ndarray
    scale: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.values)


def _check_dims(stored: int, dims: int) -> None:
    if stored != dims:
        raise ValueError(f"codes of {stored}-d regions, the query has {dims}")


class Float32Codec(Codec):
    name = "float32"

    def _encode(self, regions):
        return {"codes": np.ascontiguousarray(regions, dtype=np.float32)}

    def decode(self, arrays):
        return arrays["codes"].astype(np.float32, copy=False)


class Float16Codec(Codec):
    name = "float16"

    def _encode(self, regions):
        return {"codes": regions.astype(np.float16)}

    def decode(self, arrays):
        return arrays["codes"].astype(np.float32)


class Int8Codec(Codec):
    """Symmetric per-region scale: x ~ q * scale, q in [-127, 127]."""

    name = "int8"

    def _encode(self, regions):
        scale = np.abs(regions).max(axis=-1, keepdims=True) / 127.0
        scale = np.maximum(scale, 1e-12)
        codes = np.clip(np.rint(regions / scale), -127, 127).astype(np.int8)
        return {"codes": codes, "scale": scale[..., 0].astype(np.float16)}

    def decode(self, arrays):
        return arrays["codes"].astype(np.float32) * arrays["scale"].astype(np.float32)[..., None]

    def targets(self, arrays, dims):
        """The stored q, int8 [P, R, d] (exact in bf16, so compared through `blocked_f2f`'s exact bf16
        path), with the scale as each region's factor, never decoded."""
        codes = arrays["codes"]
        _check_dims(codes.shape[-1], dims)
        return Targets(codes, arrays["scale"].astype(np.float32))


class Int4Codec(Codec):
    """Symmetric per-region scale, q in [-7, 7], two values per byte (q + 8 in each nibble)."""

    name = "int4"
    static_arrays = ("dims",)

    def _encode(self, regions):
        d = regions.shape[-1]
        scale = np.maximum(np.abs(regions).max(axis=-1, keepdims=True) / 7.0, 1e-12)
        q = (np.clip(np.rint(regions / scale), -7, 7) + 8).astype(np.uint8)
        if d % 2:
            q = np.concatenate([q, np.full(q.shape[:-1] + (1,), 8, np.uint8)], axis=-1)
        packed = (q[..., 0::2] << 4) | q[..., 1::2]
        return {"codes": packed, "scale": scale[..., 0].astype(np.float16), "dims": np.array([d], np.int32)}

    def decode(self, arrays):
        d = int(arrays["dims"][0])
        packed = arrays["codes"]
        q = np.empty(packed.shape[:-1] + (2 * packed.shape[-1],), np.float32)
        q[..., 0::2] = packed >> 4
        q[..., 1::2] = packed & 15
        return (q[..., :d] - 8.0) * arrays["scale"].astype(np.float32)[..., None]


class BinaryCodec(Codec):
    """Sign bits, packed 8 per byte. With `bits`: signs of a seeded random orthogonal projection
    onto `bits` directions, decoded back to d dims as an unbiased estimate of each (unit) region.
    Without (`bits=None`): one sign per dim, decoded to +-1/sqrt(d) (the format-1 layout)."""

    name = "binary"
    static_arrays = ("dims",)

    def __init__(self, dims: int | None = None, bits: int | None = DEFAULT_BITS, seed: int = 0):
        super().__init__(dims)
        if bits is not None and (bits < 8 or bits % 8):
            raise ConfigError(f"binary codes need a positive multiple of 8 bits, got {bits}")
        self.bits = bits
        self.seed = seed

    def layout(self):
        if self.bits is None:
            return {"codes": self.name, "projection": "none"}
        return {"codes": self.name, "projection": "orthogonal", "bits": self.bits, "seed": self.seed}

    def _encode(self, regions):
        d = regions.shape[-1]
        values = regions if self.bits is None else regions @ orthogonal_projection(self.bits, d, self.seed).T
        return {"codes": np.packbits(values > 0, axis=-1), "dims": np.array([d], np.int32)}

    def decode(self, arrays):
        d = int(arrays["dims"][0])
        if self.bits is None:
            signs = np.unpackbits(arrays["codes"], axis=-1, count=d).astype(np.float32)
            return (signs * 2.0 - 1.0) / np.float32(np.sqrt(d))
        weights, offset = _decoding(self.bits, d, self.seed)
        bits = np.unpackbits(arrays["codes"], axis=-1, count=self.bits)
        shape = bits.shape[:-1]
        # (2 b - 1) s P = b (2 s P) - s (1 P): one matrix product on the raw bits, in torch (its
        # thread setting applies; numpy's BLAS took 24 ms on a 99 x 512 product under load)
        flat = torch.from_numpy(bits.reshape(-1, self.bits)).to(torch.float32) @ weights
        return (flat - offset).numpy().reshape(*shape, d)

    def lift(self, regions):
        """q -> s P q (projected; decode(x) = s P^T (2 b - 1)) or q / sqrt(d) (unprojected), so that the
        re-rank multiplies the query with the codes' signs and never decodes them."""
        regions = np.asarray(regions, dtype=np.float32)
        d = regions.shape[-1]
        if self.bits is None:
            return np.ascontiguousarray(regions / np.float32(np.sqrt(d)))
        weights, _ = _decoding(self.bits, d, self.seed)  # 2 s P
        flat = torch.from_numpy(np.ascontiguousarray(regions.reshape(-1, d))) @ (weights.t() / 2)
        return flat.numpy().reshape(*regions.shape[:-1], self.bits)

    def targets(self, arrays, dims):
        """The signs 2 b - 1 of the stored bits, int8 [P, R, bits] (d bits unprojected), one table
        look-up per byte."""
        d = int(arrays["dims"][0])
        _check_dims(d, dims)
        codes = arrays["codes"]
        signs = np.take(_SIGNS, codes, axis=0).reshape(*codes.shape[:-1], 8 * codes.shape[-1])
        return Targets(signs if self.bits is not None or signs.shape[-1] == d else np.ascontiguousarray(signs[..., :d]))


_SIGNS = np.unpackbits(np.arange(256, dtype=np.uint8)[:, None], axis=1).astype(np.int8) * 2 - 1  # byte -> 8 signs


CODECS = {c.name: c for c in (Float32Codec, Float16Codec, Int8Codec, Int4Codec, BinaryCodec)}


def make_codec(kind: str, dims: int | None = None, *, bits: int | None = DEFAULT_BITS, seed: int = 0) -> Codec:
    """The codec of `kind`; `bits` and `seed` apply to binary codes only (bits=None: unprojected)."""
    if kind == "binary":
        return BinaryCodec(dims, bits, seed)
    try:
        return CODECS[kind](dims)
    except KeyError:
        raise ConfigError(f"unknown codes {kind!r}: {', '.join(CODECS)}") from None


def codec_of(config) -> Codec:
    """The codec an `IndexConfig` describes."""
    bits = config.code_bits if config.code_projection == "orthogonal" else None
    return make_codec(config.codes, config.code_dims, bits=bits, seed=config.code_seed)


# --- files -----------------------------------------------------------------------------
CHECKSUM_KEY = b'"checksum":"'  # how the checksum entry reads in a safetensors header (compact JSON)
FRAME_STD = "frame_std"  # optional per-frame array: VideoFeatures.frame_std


@dataclass(frozen=True)
class CodesInfo:
    """What a codes file's header says, after its checksum was verified."""

    meta: dict[str, Any]  # the "meta" entry: content hash, source, and (since the checksums) the row's fields
    frames: int  # stored frames (length of the timestamps)
    layout: dict[str, Any] | None  # the codec layout it was written with (None: written before layouts)
    verified: bool  # False: the file carries no checksum (written by an older vidsim), so it was not verified


def write_codes(path: Path, codec: Codec, regions: np.ndarray, timestamps: np.ndarray, meta: dict,
                frame_std: np.ndarray | None = None) -> int:
    """Encode and write one video's codes durably (tmp + fsync + rename + dir fsync), sealed
    with a checksum of the whole file (`vidsim.index.checksum`); returns its bytes. `frame_std`:
    the frames' pixel deviations (`VideoFeatures.frame_std`), kept so that search can leave out
    uninformative frames (files without it, written before, compare every frame)."""
    tensors = codec.encode(regions)
    tensors["timestamps"] = np.ascontiguousarray(timestamps, dtype=np.float64)
    if frame_std is not None:
        tensors[FRAME_STD] = np.ascontiguousarray(frame_std, dtype=np.float32)
    return write_arrays(path, tensors, {"codes": codec.name, "layout": json.dumps(codec.layout(), sort_keys=True),
                                        "meta": json.dumps(meta, sort_keys=True)})


def write_arrays(path: Path, tensors: dict[str, np.ndarray], metadata: dict[str, str]) -> int:
    """Write encoded arrays and their metadata as a sealed codes file (durably); returns its bytes."""
    blob, _ = seal(save({**tensors}, metadata={**metadata, FIELD: PLACEHOLDER}), CHECKSUM_KEY)
    with atomic_open(path, "wb", durable=True) as fh:
        fh.write(blob)
    return len(blob)


def read_codes(path: Path, codec: Codec, frames: tuple[int, int] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Decoded regions [P, R, d] float32 and timestamps [P] of one stored video; `frames`
    (first, stop) reads only that window of frames (memory-mapped, the rest is not read).
    The checksum is not verified here (`inspect_codes` does, reading the whole file)."""
    arrays = read_arrays(path, codec, frames)
    return codec.decode(arrays), arrays["timestamps"]


def read_targets(path: Path, codec: Codec, frames: tuple[int, int] | None, dims: int) -> tuple[Targets, np.ndarray]:
    """`Codec.targets` (of P frames) and timestamps [P] of one stored video, or of a window of its frames
    (as `read_codes`); CodesDamagedError when its regions do not have the query's `dims`."""
    arrays = read_arrays(path, codec, frames)
    try:
        return codec.targets(arrays, dims), arrays["timestamps"]
    except ValueError as exc:
        raise CodesDamagedError(path, str(exc)) from exc


def read_frame_std(path: Path, frames: tuple[int, int] | None = None) -> np.ndarray | None:
    """The stored pixel deviations of a codes file's frames (or of a window of them); None when the
    file has none (written before they were kept)."""
    try:
        with safe_open(str(path), framework="numpy") as fh:
            if FRAME_STD not in fh.keys():
                return None
            return fh.get_tensor(FRAME_STD) if frames is None else fh.get_slice(FRAME_STD)[frames[0]:frames[1]]
    except FileNotFoundError:
        raise
    except (SafetensorError, OSError, ValueError) as exc:
        raise CodesDamagedError(path, f"unreadable codes file ({exc})") from exc


def read_arrays(path: Path, codec: Codec, frames: tuple[int, int] | None = None) -> dict[str, np.ndarray]:
    """The stored (encoded) arrays of a codes file, or of a window of its frames."""
    try:
        with safe_open(str(path), framework="numpy") as fh:
            metadata = fh.metadata() or {}
            _check_layout(path, codec, metadata)
            arrays = {}
            for key in fh.keys():
                if frames is None or key in codec.static_arrays:
                    arrays[key] = fh.get_tensor(key)
                else:
                    arrays[key] = fh.get_slice(key)[frames[0]:frames[1]]
    except FileNotFoundError:
        raise
    except (SafetensorError, OSError, ValueError) as exc:
        raise CodesDamagedError(path, f"unreadable codes file ({exc})") from exc
    return arrays


def inspect_codes(path: Path, codec: Codec | None = None) -> CodesInfo:
    """Header of a codes file, its checksum verified over the whole file (arrays not decoded).

    Raises FileNotFoundError when it is absent, CodesDamagedError when it is unreadable or fails
    its checksum, VidsimError when `codec` is given and the file holds another layout."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(8)
            length = int.from_bytes(head, "little") if len(head) == 8 else -1
            if not 0 < length <= MAX_HEADER:
                raise ValueError("not a safetensors file")
            header = fh.read(length)
            metadata = json.loads(header).get("__metadata__") or {}
            stored = metadata.get(FIELD)
            if stored is not None:
                if not is_digest(stored):
                    raise ValueError(f"malformed checksum {stored!r}")
                digest = hashlib.sha256(head + neutral(header, CHECKSUM_KEY, stored))
                hash_rest(digest, fh)
                if digest.hexdigest() != stored:
                    raise CodesDamagedError(path, "codes file fails its checksum (its bytes changed since it was written)")
        with safe_open(str(path), framework="numpy") as st:  # checks the arrays cover the file exactly
            frames = int(st.get_slice("timestamps").get_shape()[0])
        meta = json.loads(metadata.get("meta", "{}"))
        layout = json.loads(metadata["layout"]) if "layout" in metadata else None
        if not isinstance(meta, dict):
            raise ValueError("its meta entry is not an object")
    except (FileNotFoundError, CodesDamagedError):
        raise
    except (SafetensorError, OSError, ValueError, AttributeError, KeyError) as exc:
        raise CodesDamagedError(path, f"unreadable codes file ({exc})") from exc
    if codec is not None:
        _check_layout(path, codec, metadata)
    return CodesInfo(meta, frames, layout, stored is not None)


def _check_layout(path: Path, codec: Codec, metadata: dict[str, str]) -> None:
    stored = metadata.get("codes")
    if stored is not None and stored != codec.name:
        raise VidsimError(f"{path}: holds {stored} codes, but the index's configuration says {codec.name}")
    layout = metadata.get("layout")
    if layout is not None and json.loads(layout) != codec.layout():
        raise VidsimError(f"{path}: codes made with layout {layout}, but the index's configuration says "
                          f"{json.dumps(codec.layout(), sort_keys=True)}")
