"""Typed configuration of every stage, with a JSON round trip and a stable hash.

The hash of the parts that change feature values (decode + features) keys the feature
cache and is stored next to every index, so an artefact always knows what made it.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar, cast

from vidsim.errors import ConfigError
from vidsim.fsutil import safetensors_metadata
from vidsim.resources import PACKAGED_PREFIX, packaged_head_file, packaged_head_name

__all__ = [
    "Device", "DecodeStrategy", "NonrefSkip", "Precision", "RuntimeName", "DecodeConfig", "FeatureConfig", "SimilarityConfig",
    "VidsimConfig", "check_choices", "check_types",
    "resolve_head_weights",
    # re-exported for similarity/head.py and older imports; their home is vidsim.resources / vidsim.fsutil
    "PACKAGED_PREFIX", "packaged_head_file", "safetensors_metadata",
]

Device = Literal["cpu", "cuda"]
DecodeStrategy = Literal["auto", "decode", "seek"]  # how frames are reached (decode/strategy.py)
# Non-reference frames the decoder may drop (decode/skipping.py): none, those no sample shows (the
# samples stay those of a full decode), or all of them (a sample may show the reference frame before).
NonrefSkip = Literal["off", "unsampled", "all"]
# Network precision; int8 is post-training quantisation (features/runtimes/quantise.py), not run by torch.
Precision = Literal["fp32", "bf16", "int8"]
# Which inference runtime runs the backbone (vidsim.features.runtimes); "auto" is resolved when a
# model is built, and the resolved name is what configurations and feature keys record.
RuntimeName = Literal["auto", "torch", "onnxruntime", "openvino"]
# An index's storage choices (vidsim.index.config), here so that the CLI can list them without importing the index.
CodesKind = Literal["float32", "float16", "int8", "int4", "binary"]
ProjectionKind = Literal["orthogonal", "none"]
# FAISS kinds in-process, or "milvus": the frame vectors in a Milvus collection (vidsim.index.milvus)
VectorKind = Literal["auto", "flat", "ivf", "hnsw", "milvus"]
MilvusIndexKind = Literal["hnsw", "ivf_sq8", "flat"]  # the Milvus index over a milvus collection's vectors
# Fields that change how fast features are made, not their values: left out of the feature key.
VOLATILE_DECODE_FIELDS = ("batch_size", "strategy", "threads", "max_pixels", "prefetch")
VOLATILE_FEATURE_FIELDS = ("batch_size", "threads")


@dataclass(frozen=True)
class DecodeConfig:
    """How frames are sampled from a video and shaped for the network."""

    fps: float = 1.0  # sampled frames per second of video time (by presentation timestamp)
    resize: int = 256  # shorter side after resizing; 0 keeps the decoded size
    crop: int = 224  # centre crop side; 0 disables cropping
    batch_size: int = 32  # frames per FrameBatch: bounds memory for long videos
    strategy: DecodeStrategy = "auto"  # how frames are reached
    threads: int = 0  # decoder threads; 0 lets vidsim choose by resolution and the cores available
    max_pixels: int = 8192 * 4320  # larger frames are refused (VideoTooLargeError)
    # Non-reference frames the decoder drops (H.264, MPEG-1/2/4 part 2): "unsampled" keeps every
    # frame a sample shows, so the samples are a full decode's; "all" may show the reference frame
    # before; "off" decodes everything. Recorded in the feature key (except "off").
    skip_nonref: NonrefSkip = "unsampled"
    prefetch: int = 2  # batches a decode thread prepares ahead of the network; 0: no decode thread

    def __post_init__(self) -> None:
        check_choices(self)
        _check_not_negative(self, "prefetch")


@dataclass(frozen=True)
class FeatureConfig:
    """Which backbone and post-processing turn frames into region vectors."""

    backbone: str = "efficientnet-lite0"
    weights: str | None = None  # backbone weights file (required for resnet50; packaged for lite*)
    # PCA whitening: "auto" = the one packaged for the backbone if any (fitted on the benchmark's
    # dev sources), "none", or a file (.npz, or the official .pth with mean/V/d).
    whitening: str | None = "auto"
    dims: int | None = None  # keep this many whitened dimensions (None: all in the file)
    precision: Precision = "fp32"
    runtime: RuntimeName = "auto"
    batch_size: int = 32  # frames per network forward pass
    threads: int = 0  # inference threads of the runtime; 0: the CPUs this process may use

    def __post_init__(self) -> None:
        check_choices(self)
        _check_not_negative(self, "threads")


HeadKind = Literal["chamfer", "visil"]  # chamfer = ViSiL_f (untrained); visil = learned attention + comparator


@dataclass(frozen=True)
class SimilarityConfig:
    """How two videos' region features become one score."""

    head: HeadKind = "chamfer"  # the kind of head (ViSiLHead.kind)
    # ViSiL head state_dict (attention + comparator, official key names): a file, or "auto" = the head
    # packaged for the backbone, which VidsimConfig records as "packaged:<backbone>@<version>".
    head_weights: str | None = None
    # Chamfer in both directions; None: by the head's kind, on for chamfer, off for the learned head
    # (`resolved_symmetric`). `symmetric_partial`: the target-to-query direction averages the target's
    # best-matching P frames when it is longer than a P-frame query (chamfer_score), not all of them.
    # These defaults and min_frame_std 8 were chosen on the benchmark's dev split (benchmarks/results/levers.md).
    symmetric: bool | None = None
    symmetric_partial: bool = True
    chunk_frames: int = 2048  # targets longer than this are scored in chunks (official protocol)
    # Also score the query's horizontal mirror image and keep the better score (one more extraction
    # of each query; the references, and an index, are unchanged). The mirror's score counts less
    # `flip_margin` (similarity.views): it takes back what the larger of two scores adds to non-copies.
    flip_query: bool = False
    flip_margin: float = 0.05
    # Frames whose pixel standard deviation (0-255, VideoFeatures.frame_std) is below this are
    # uninformative (black, blank, one colour) and left out of comparisons and votes; 0 keeps all.
    min_frame_std: float = 8.0

    @property
    def resolved_symmetric(self) -> bool:
        """Whether scoring is symmetric: `symmetric`, or where it is None, on for the chamfer head only
        (for the learned head the partial symmetric variant lost on the dev split's short queries)."""
        return self.symmetric if self.symmetric is not None else self.head == "chamfer"

    def __post_init__(self) -> None:
        check_choices(self)
        if not self.min_frame_std >= 0:
            raise ConfigError(f"min_frame_std must be a number >= 0, got {self.min_frame_std!r}")
        if not self.flip_margin >= 0:
            raise ConfigError(f"flip_margin must be a number >= 0, got {self.flip_margin!r}")


# What a saved similarity section without these fields meant (vidsim before the levers): an index,
# report or threshold made then keeps scoring as it did.
SAVED_BEFORE_LEVERS = {"symmetric_partial": False, "min_frame_std": 0.0}


@dataclass(frozen=True)
class VidsimConfig:
    decode: DecodeConfig = field(default_factory=DecodeConfig)
    features: FeatureConfig = field(default_factory=FeatureConfig)
    similarity: SimilarityConfig = field(default_factory=SimilarityConfig)

    def __post_init__(self) -> None:
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
    def from_dict(cls, data: dict[str, Any]) -> VidsimConfig:
        if not isinstance(data, Mapping):
            raise ConfigError(f"a VidsimConfig is an object of sections, got {type(data).__name__}")
        features = data.get("features", {})
        if isinstance(features, Mapping) and "features" in data:  # saved before runtimes existed: torch made them
            features = {"runtime": "torch", **features}
        decode = data.get("decode", {})
        if isinstance(decode, Mapping) and "decode" in data:  # saved before frames were skipped: all decoded
            decode = {"skip_nonref": "off", **decode}
        similarity = data.get("similarity", {})
        if isinstance(similarity, Mapping) and "similarity" in data:  # saved before the levers: as it scored then
            similarity = {**SAVED_BEFORE_LEVERS, **similarity}
        return cls(
            decode=_build(DecodeConfig, decode),
            features=_build(FeatureConfig, features),
            similarity=_build(SimilarityConfig, similarity),
        )

    @classmethod
    def from_json(cls, text: str) -> VidsimConfig:
        return cls.from_dict(json.loads(text))

    def feature_key(self, *provenance: str) -> str:
        """Stable hash of everything that changes feature values (not batch sizes or threads);
        `provenance` adds what the configuration only names (weights and whitening versions)."""
        decode = dataclasses.asdict(self.decode)
        for volatile in VOLATILE_DECODE_FIELDS:
            decode.pop(volatile)
        features = dataclasses.asdict(self.features)
        for volatile in VOLATILE_FEATURE_FIELDS:
            features.pop(volatile)
        if features["runtime"] == "torch":  # the keys of everything made before runtimes existed
            features.pop("runtime")
        if decode["skip_nonref"] == "off":  # the keys of everything made before frames were skipped
            decode.pop("skip_nonref")
        payload = json.dumps({"decode": decode, "features": features, "provenance": provenance}, sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()[:16]


Overrides = Mapping[str, Any]  # field values by dotted name, e.g. {"decode.fps": 0.5, "features.dims": 128}
C = TypeVar("C")


def with_overrides(config: C, overrides: Overrides) -> C:
    """`config` (a frozen dataclass with nested sections) with the fields named in `overrides`
    replaced; each level is rebuilt once, so its checks see all its new values together."""
    return _with_overrides(config, overrides, "")


def _with_overrides(config: C, overrides: Overrides, prefix: str) -> C:
    if not overrides:
        return config
    if not dataclasses.is_dataclass(config) or isinstance(config, type):
        raise ConfigError(f"unknown field {prefix}{sorted(overrides)[0]}: {prefix.rstrip('.')} has no fields")
    names = {f.name for f in dataclasses.fields(config)}
    direct: dict[str, Any] = {}
    nested: dict[str, dict[str, Any]] = {}
    for path, value in overrides.items():
        name, _, rest = path.partition(".")
        if name not in names:
            raise ConfigError(f"unknown {type(config).__name__} field {prefix}{path!s}")
        if rest:
            nested.setdefault(name, {})[rest] = value
        else:
            direct[name] = value
    for name, inner in nested.items():
        direct[name] = _with_overrides(direct.get(name, getattr(config, name)), inner, f"{prefix}{name}.")
    return cast(C, dataclasses.replace(config, **direct))


def resolve_head_weights(head_weights: str | None, backbone: str) -> str | None:
    """"auto" -> "packaged:<backbone>@<version>" (or "packaged:<backbone>" when vidsim ships no
    head for that backbone, which fails when the head is built); anything else is kept."""
    if head_weights != "auto":
        return head_weights
    return packaged_head_name(backbone)


_CHOICES: dict[type, dict[str, tuple[Any, ...]]] = {}


def _choices(kind: type) -> dict[str, tuple[Any, ...]]:
    """Field name -> allowed values, for the fields of dataclass `kind` typed with a Literal
    (None allowed too when the type is `Literal[...] | None`); computed once per class."""
    if kind in _CHOICES:
        return _CHOICES[kind]
    hints = typing.get_type_hints(kind)
    out: dict[str, tuple[Any, ...]] = {}
    for f in dataclasses.fields(kind):
        hint = hints[f.name]
        if typing.get_origin(hint) in (typing.Union, types.UnionType):
            parts = typing.get_args(hint)
        else:
            parts = (hint,)
        literals = [p for p in parts if typing.get_origin(p) is Literal]
        if literals:
            allowed = tuple(v for p in literals for v in typing.get_args(p))
            out[f.name] = allowed + ((None,) if type(None) in parts else ())
    _CHOICES[kind] = out
    return out


def check_choices(config: Any) -> None:
    """ConfigError when a Literal-typed field of the dataclass `config` holds another value."""
    for name, allowed in _choices(type(config)).items():
        value = getattr(config, name)
        if value not in allowed:
            raise ConfigError(f"unknown {name} {value!r}: {', '.join(map(str, allowed))}")


def _check_not_negative(config: Any, name: str) -> None:
    value = getattr(config, name)
    if isinstance(value, int) and value < 0:
        raise ConfigError(f"{type(config).__name__}.{name} must be 0 or more, got {value}")


_JSON_NAMES = {bool: "true or false", int: "an integer", float: "a number", str: "a string", type(None): "null"}
_TYPES: dict[type, dict[str, tuple[type, ...]]] = {}


def _field_types(kind: type) -> dict[str, tuple[type, ...]]:
    """Field name -> the JSON scalar types it takes (int for float too), for the fields of
    dataclass `kind` typed with bool, int, float, str or None unions (Literals: see _choices)."""
    if kind not in _TYPES:
        hints = typing.get_type_hints(kind)
        out: dict[str, tuple[type, ...]] = {}
        for f in dataclasses.fields(kind):
            hint = hints[f.name]
            parts = typing.get_args(hint) if typing.get_origin(hint) in (typing.Union, types.UnionType) else (hint,)
            if all(p in _JSON_NAMES for p in parts):
                out[f.name] = tuple(parts) + ((int,) if float in parts else ())
        _TYPES[kind] = out
    return _TYPES[kind]


def check_types(kind: type, data: Mapping[str, Any], section: str = "") -> None:
    """ConfigError when a value read from JSON for dataclass `kind` has the wrong type: a
    config.json holding `"fps": "fast"` is refused when read, not at the first use."""
    for name, allowed in _field_types(kind).items():
        if name in data:
            value = data[name]
            if not isinstance(value, allowed) or (isinstance(value, bool) and bool not in allowed):
                expected = " or ".join(dict.fromkeys(_JSON_NAMES[t] for t in allowed if t is not int or float not in allowed))
                raise ConfigError(f"{section}{name} must be {expected}, got {value!r}")


def _build(kind: type, data: dict[str, Any]):
    if not isinstance(data, Mapping):
        raise ConfigError(f"{kind.__name__} must be an object of fields, got {type(data).__name__}")
    known = {f.name for f in dataclasses.fields(kind)}
    unknown = set(data) - known
    if unknown:
        raise ConfigError(f"unknown {kind.__name__} fields: {sorted(unknown)}")
    check_types(kind, data, f"{_SECTIONS.get(kind, kind.__name__)}.")
    return kind(**data)


_SECTIONS = {DecodeConfig: "decode", FeatureConfig: "features", SimilarityConfig: "similarity"}
