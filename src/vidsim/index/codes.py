"""Compact per-frame region codes kept for re-ranking, and their files.

A codec turns whitened region features [P, R, D] float32 into arrays to store, and back into
float32 [P, R, d] for the ViSiL head (d = code_dims or D). Truncating dims keeps the leading
PCA components (whitening sorts them by variance) and renormalises each region.

| codes   | bytes per frame (9 regions, d dims) | decoded as |
|---------|-------------------------------------|------------|
| float32 | 36 d                                | exact      |
| float16 | 18 d                                | ~1e-3 relative error |
| int8    | 9 d + 18 (a float16 scale per region) | ~1% relative error |
| binary  | 9 d / 8                             | sign(x) / sqrt(d) (DnS-style sign bits) |

Files are safetensors, written to a temporary name, flushed to disk (fsync) and renamed into
place before the catalog row that names them commits.
"""
from __future__ import annotations

import json
from abc import ABC, abstractmethod
from pathlib import Path

import numpy as np
from safetensors import SafetensorError
from safetensors.numpy import load_file, save_file

from vidsim.errors import VidsimError
from vidsim.fsutil import atomic_path


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


class Codec(ABC):
    """Encodes region features for storage and decodes them for the ViSiL head."""

    name: str

    def __init__(self, dims: int | None = None):
        self.dims = dims

    def prepare_query(self, regions: np.ndarray) -> np.ndarray:
        """Query features as compared with decoded codes (asymmetric: truncated, not quantised)."""
        return truncate(regions, self.dims)

    def encode(self, regions: np.ndarray) -> dict[str, np.ndarray]:
        return self._encode(truncate(regions, self.dims))

    @abstractmethod
    def _encode(self, regions: np.ndarray) -> dict[str, np.ndarray]: ...

    @abstractmethod
    def decode(self, arrays: dict[str, np.ndarray]) -> np.ndarray: ...


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


class BinaryCodec(Codec):
    """Sign bits, packed 8 per byte; decoded to unit vectors of +-1/sqrt(d)."""

    name = "binary"

    def _encode(self, regions):
        return {"codes": np.packbits(regions > 0, axis=-1), "dims": np.array([regions.shape[-1]], np.int32)}

    def decode(self, arrays):
        d = int(arrays["dims"][0])
        bits = np.unpackbits(arrays["codes"], axis=-1, count=d).astype(np.float32)
        return (bits * 2.0 - 1.0) / np.float32(np.sqrt(d))


CODECS = {c.name: c for c in (Float32Codec, Float16Codec, Int8Codec, BinaryCodec)}


def make_codec(kind: str, dims: int | None = None) -> Codec:
    try:
        return CODECS[kind](dims)
    except KeyError:
        raise VidsimError(f"unknown codes {kind!r}: {', '.join(CODECS)}") from None


# --- files -----------------------------------------------------------------------------
def write_codes(path: Path, codec: Codec, regions: np.ndarray, timestamps: np.ndarray, meta: dict) -> int:
    """Encode and write one video's codes durably (tmp + fsync + rename + dir fsync); returns bytes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tensors = codec.encode(regions)
    tensors["timestamps"] = np.ascontiguousarray(timestamps, dtype=np.float64)
    metadata = {"codes": codec.name, "meta": json.dumps(meta, sort_keys=True)}
    with atomic_path(path, durable=True) as tmp:
        save_file(tensors, str(tmp), metadata=metadata)
    return path.stat().st_size


def read_codes(path: Path, codec: Codec) -> tuple[np.ndarray, np.ndarray]:
    """Decoded regions [P, R, d] float32 and timestamps [P] of one stored video."""
    try:
        arrays = load_file(str(path))
    except FileNotFoundError:
        raise
    except (SafetensorError, OSError, ValueError) as exc:
        raise VidsimError(f"{path}: unreadable codes file ({exc})") from exc
    return codec.decode(arrays), arrays["timestamps"]
