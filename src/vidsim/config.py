"""Typed configuration of every stage, with a JSON round trip and a stable hash.

The hash of the parts that change feature values (decode + features) keys the feature
cache and is stored next to every index, so an artefact always knows what made it.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

Device = Literal["cpu", "cuda"]


@dataclass(frozen=True)
class DecodeConfig:
    """How frames are sampled from a video and shaped for the network."""

    fps: float = 1.0  # sampled frames per second of video time (by presentation timestamp)
    resize: int = 256  # shorter side after resizing; 0 keeps the decoded size
    crop: int = 224  # centre crop side; 0 disables cropping
    batch_size: int = 32  # frames per FrameBatch: bounds memory for long videos
    strategy: Literal["auto", "decode", "seek"] = "auto"  # how frames are reached
    threads: int = 0  # decoder threads; 0 lets vidsim choose by resolution
    max_pixels: int = 8192 * 4320  # larger frames are refused (VideoTooLargeError)


@dataclass(frozen=True)
class FeatureConfig:
    """Which backbone and post-processing turn frames into region vectors."""

    backbone: str = "efficientnet-lite0"
    weights: str | None = None  # backbone weights file (required for resnet50; packaged for lite*)
    # PCA whitening: "auto" = the one packaged for the backbone if any (fitted on the benchmark's
    # dev sources), "none", or a file (.npz, or the official .pth with mean/V/d).
    whitening: str | None = "auto"
    dims: int | None = None  # keep this many whitened dimensions (None: all in the file)
    precision: Literal["fp32", "bf16"] = "fp32"
    batch_size: int = 32  # frames per network forward pass


HeadKind = Literal["chamfer", "visil"]  # chamfer = ViSiL_f (untrained); visil = learned attention + comparator


@dataclass(frozen=True)
class SimilarityConfig:
    """How two videos' region features become one score."""

    head: HeadKind = "chamfer"  # the kind of head (ViSiLHead.kind)
    # ViSiL head state_dict (attention + comparator, official key names): a file, or "auto" = the head
    # packaged for the backbone, which VidsimConfig records as "packaged:<backbone>@<version>".
    head_weights: str | None = None
    symmetric: bool = False
    chunk_frames: int = 2048  # targets longer than this are scored in chunks (official protocol)


@dataclass(frozen=True)
class VidsimConfig:
    decode: DecodeConfig = field(default_factory=DecodeConfig)
    features: FeatureConfig = field(default_factory=FeatureConfig)
    similarity: SimilarityConfig = field(default_factory=SimilarityConfig)

    def __post_init__(self):
        # "auto" becomes the packaged head's versioned name, so that every saved config (index
        # config.json, evaluation reports) records which head weights made its scores.
        resolved = resolve_head_weights(self.similarity.head_weights, self.features.backbone)
        if resolved != self.similarity.head_weights:
            object.__setattr__(self, "similarity", dataclasses.replace(self.similarity, head_weights=resolved))

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "VidsimConfig":
        return cls(
            decode=_build(DecodeConfig, data.get("decode", {})),
            features=_build(FeatureConfig, data.get("features", {})),
            similarity=_build(SimilarityConfig, data.get("similarity", {})),
        )

    @classmethod
    def from_json(cls, text: str) -> "VidsimConfig":
        return cls.from_dict(json.loads(text))

    def feature_key(self, *provenance: str) -> str:
        """Stable hash of everything that changes feature values (not batch sizes or threads);
        `provenance` adds what the configuration only names (weights and whitening versions)."""
        decode = dataclasses.asdict(self.decode)
        for volatile in ("batch_size", "strategy", "threads", "max_pixels"):
            decode.pop(volatile)
        features = dataclasses.asdict(self.features)
        features.pop("batch_size")
        payload = json.dumps({"decode": decode, "features": features, "provenance": provenance}, sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()[:16]


PACKAGED_HEADS_DIR = Path(__file__).resolve().parent / "data" / "heads"
PACKAGED_PREFIX = "packaged:"


def packaged_head_file(backbone: str) -> Path:
    """Where the head trained for `backbone` is shipped (it may not exist)."""
    return PACKAGED_HEADS_DIR / f"{backbone}.safetensors"


def safetensors_metadata(path: str | Path) -> dict[str, str]:
    """The string metadata in a safetensors file's header (read with the standard library only)."""
    with open(path, "rb") as fh:
        (size,) = struct.unpack("<Q", fh.read(8))
        header = json.loads(fh.read(size))
    return dict(header.get("__metadata__") or {})


def resolve_head_weights(head_weights: str | None, backbone: str) -> str | None:
    """"auto" -> "packaged:<backbone>@<version>" (or "packaged:<backbone>" when vidsim ships no
    head for that backbone, which fails when the head is built); anything else is kept."""
    if head_weights != "auto":
        return head_weights
    path = packaged_head_file(backbone)
    if not path.is_file():
        return f"{PACKAGED_PREFIX}{backbone}"
    version = safetensors_metadata(path).get("version", "")
    return f"{PACKAGED_PREFIX}{backbone}@{version}" if version else f"{PACKAGED_PREFIX}{backbone}"


def _build(kind: type, data: dict[str, Any]):
    known = {f.name for f in dataclasses.fields(kind)}
    unknown = set(data) - known
    if unknown:
        raise ValueError(f"unknown {kind.__name__} fields: {sorted(unknown)}")
    return kind(**data)
