"""What an index stores and how it searches: `IndexConfig` (storage) and `SearchConfig` (per query).

The storage fields are fixed when the index is created and written to `DIR/config.json`
with the VidsimConfig and feature key that made its features; the search fields may be
changed every time the index is opened.
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any, Literal

from vidsim.config import VidsimConfig

CodesKind = Literal["float32", "float16", "int8", "binary"]
VectorKind = Literal["auto", "flat", "ivf", "hnsw"]
FORMAT_VERSION = 1


@dataclass(frozen=True)
class SearchConfig:
    """How a query is answered: candidate generation, then fine re-ranking."""

    frame_neighbours: int = 64  # nearest indexed frames fetched for each query frame
    candidates: int = 100  # videos re-ranked with the fine ViSiL similarity
    offset_bin: float = 2.0  # seconds per temporal-offset bin when voting
    nprobe: int = 32  # IVF lists visited per query frame
    ef_search: int = 128  # HNSW search breadth


@dataclass(frozen=True)
class IndexConfig:
    """Storage layout of an index (fixed at creation) and its default search parameters."""

    # Per-frame region features kept for re-ranking: float32 (exact), float16 (half the size,
    # visually lossless), int8 (per-region scale), binary (sign bits as in DnS's binary student).
    codes: CodesKind = "float16"
    code_dims: int | None = None  # keep the first N whitened dims (PCA order); None keeps all
    # Frame vectors (L2-normalised mean of a frame's regions) for candidate generation:
    # flat = exact inner product; ivf = IVF with 8-bit scalar quantisation; hnsw = graph;
    # auto = flat until `flat_max_vectors` frames, then ivf (retrained when the collection has grown 4x).
    # An IVF needs 1000 vectors to train: below that, `ivf` stays flat.
    vectors: VectorKind = "auto"
    flat_max_vectors: int = 100_000  # about 28 hours at 1 fps; exact search of 100 query frames ~0.5-1 s
    ivf_lists: int | None = None  # IVF cells; None: about 4 sqrt(frames)
    hnsw_m: int = 32
    search: SearchConfig = field(default_factory=SearchConfig)

    STORAGE_FIELDS = ("codes", "code_dims", "vectors", "flat_max_vectors", "ivf_lists", "hnsw_m")

    def __post_init__(self):
        if self.codes not in ("float32", "float16", "int8", "binary"):
            raise ValueError(f"unknown codes {self.codes!r}: float32, float16, int8 or binary")
        if self.vectors not in ("auto", "flat", "ivf", "hnsw"):
            raise ValueError(f"unknown vectors {self.vectors!r}: auto, flat, ivf or hnsw")
        if self.code_dims is not None and self.code_dims < 8:
            raise ValueError(f"code_dims must be at least 8, got {self.code_dims}")

    def storage(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.STORAGE_FIELDS}

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "IndexConfig":
        data = dict(data)
        search = SearchConfig(**data.pop("search", {}))
        return cls(**data, search=search)


@dataclass(frozen=True)
class StoredConfig:
    """The content of `DIR/config.json`: everything that made the index's data."""

    index: IndexConfig
    vidsim: VidsimConfig
    feature_key: str  # ViSiL.feature_key: decode + features config + weights and whitening versions
    dims: int  # dims of the extracted region features (before code_dims)
    weights_version: str = ""
    format: int = FORMAT_VERSION

    def to_json(self) -> str:
        return json.dumps(
            {
                "format": self.format,
                "feature_key": self.feature_key,
                "dims": self.dims,
                "weights_version": self.weights_version,
                "index": self.index.to_dict(),
                "vidsim": self.vidsim.to_dict(),
            },
            indent=2,
            sort_keys=True,
        )

    @classmethod
    def from_json(cls, text: str) -> "StoredConfig":
        data = json.loads(text)
        return cls(
            index=IndexConfig.from_dict(data["index"]),
            vidsim=VidsimConfig.from_dict(data["vidsim"]),
            feature_key=data["feature_key"],
            dims=int(data["dims"]),
            weights_version=data.get("weights_version", ""),
            format=int(data.get("format", FORMAT_VERSION)),
        )


def config_differences(stored: dict[str, Any], asked: dict[str, Any], prefix: str = "") -> list[str]:
    """Human-readable `name: stored -> asked` lines for every field that differs (nested dicts walked)."""
    lines = []
    for key in sorted(set(stored) | set(asked)):
        a, b = stored.get(key), asked.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            lines += config_differences(a, b, f"{prefix}{key}.")
        elif a != b:
            lines.append(f"{prefix}{key}: index has {a!r}, asked for {b!r}")
    return lines
