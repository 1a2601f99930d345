"""What an index stores and how it searches: `IndexConfig` (storage) and `SearchConfig` (per query).

The storage fields are fixed when the index is created and written to `DIR/config.json`
with the VidsimConfig and feature key that made its features; the search fields may be
changed every time the index is opened.

Format 2 (this version) added the binary codes' projection (`code_projection`, `code_bits`,
`code_seed`); a format-1 `config.json` is read with the layout it was made with (binary codes
without projection), and a newer format is refused.
"""
from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, get_args

from vidsim.config import (
    VOLATILE_DECODE_FIELDS,
    VOLATILE_FEATURE_FIELDS,
    CodesKind,
    MilvusIndexKind,
    Overrides,
    ProjectionKind,
    VectorKind,
    VidsimConfig,
    check_choices,
    check_types,
)
from vidsim.errors import ConfigError, ConfigMismatchError, VidsimError
from vidsim.index.layout import CONFIG_FILE

if TYPE_CHECKING:
    from vidsim.features.types import VideoFeatures
    from vidsim.model import ViSiL

FORMAT_VERSION = 2
_COLLECTION_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,254}")
CODES: tuple[str, ...] = get_args(CodesKind)


@dataclass(frozen=True)
class SearchConfig:
    """How a query is answered: candidate generation, then fine re-ranking."""

    frame_neighbours: int = 64  # nearest indexed frames fetched for each query frame
    # videos re-ranked with the fine ViSiL similarity (at least the top_k asked for); the votes put
    # 98-100% of the copies of the benchmark's test split among their best 5-10 (benchmarks/results/search.md)
    candidates: int = 20
    offset_bin: float = 2.0  # seconds per temporal-offset bin when voting
    nprobe: int = 32  # IVF lists visited per query frame
    ef_search: int = 128  # HNSW search breadth
    # Re-ranking compares the query with a window of each candidate around the offset its votes
    # found: [offset - (speed - 1) L - margin, offset + speed L + margin] frames for a query of L
    # frames, which holds a copy played up to `window_speed` times faster or slower. None: whole videos.
    window_speed: float | None = 2.0
    window_margin: float = 10.0  # seconds added on both sides of the window
    # torch threads while re-ranking; None keeps torch's setting. 1: on the 2-core benchmark machine
    # one thread was up to 1.4x faster than two under load and about as fast otherwise, and a server
    # answering queries side by side wants one core each; None suits one long comparison
    # (e.g. an hour-long query) on an idle many-core machine.
    threads: int | None = 1

    def __post_init__(self):
        if self.candidates < 1 or self.frame_neighbours < 1:
            raise ConfigError("candidates and frame_neighbours must be at least 1")
        if self.window_speed is not None and self.window_speed < 1:
            raise ConfigError(f"window_speed must be at least 1 (or None for whole videos), got {self.window_speed}")
        if self.window_margin < 0:
            raise ConfigError(f"window_margin must be >= 0, got {self.window_margin}")


@dataclass(frozen=True)
class IndexConfig:
    """Storage layout of an index (fixed at creation) and its default search parameters."""

    # Per-frame region features kept for re-ranking: float32 (exact), float16 (half the size,
    # visually lossless), int8 / int4 (per-region scale), binary (sign bits; see codes.py).
    # The default, int8: about 2.3 KB a frame, 1/4 of float32 and 1/60 of ViSiL's 9 x 3840 float32;
    # search on it scores as comparing every pair does, where binary codes (576 bytes, 1/240) lose
    # short, small, heavily compressed queries (benchmarks/results/levers.md, search.md).
    codes: CodesKind = "int8"
    code_dims: int | None = None  # keep the first N whitened dims (PCA order); None keeps all
    # binary only: "orthogonal" = signs of the regions projected onto `code_bits` directions of a
    # random orthogonal matrix drawn from `code_seed`; "none" = one sign per dim (format-1 layout).
    code_projection: ProjectionKind = "orthogonal"
    code_bits: int | None = 512
    code_seed: int = 0
    # Frame vectors (L2-normalised mean of a frame's regions) for candidate generation:
    # flat = every vector scanned (float16); ivf = IVF with 8-bit scalar quantisation; hnsw = graph;
    # auto = flat until `flat_max_vectors` frames, then ivf (retrained when the collection has grown 4x).
    # An IVF needs 1000 vectors to train: below that, `ivf` stays flat. milvus = a Milvus collection
    # (vidsim.index.milvus) at `milvus_uri` (a milvus-lite file, or http://host:19530 for a server; None:
    # DIR/vectors.milvus.db), named `milvus_collection` (set when the index is created), indexed by
    # `milvus_index` (hnsw with `hnsw_m`, ivf_sq8 with `ivf_lists`, or flat). Never a credential: a
    # token comes from the MILVUS_TOKEN environment variable.
    vectors: VectorKind = "auto"
    flat_max_vectors: int = 100_000  # about 28 hours at 1 fps; a flat scan of 60 query frames ~0.1 s
    ivf_lists: int | None = None  # IVF cells; None: about 4 sqrt(frames)
    hnsw_m: int = 32
    milvus_uri: str | None = None
    milvus_collection: str | None = None
    milvus_index: MilvusIndexKind = "hnsw"
    search: SearchConfig = field(default_factory=SearchConfig)

    STORAGE_FIELDS = ("codes", "code_dims", "code_projection", "code_bits", "code_seed", "vectors",
                      "flat_max_vectors", "ivf_lists", "hnsw_m", "milvus_uri", "milvus_collection", "milvus_index")
    BINARY_FIELDS = ("code_projection", "code_bits", "code_seed")
    MILVUS_FIELDS = ("milvus_uri", "milvus_collection", "milvus_index")

    def __post_init__(self):
        check_choices(self)  # codes, code_projection, vectors: the values of their Literal types
        if self.codes == "binary" and self.code_projection == "orthogonal" and (
                self.code_bits is None or self.code_bits < 8 or self.code_bits % 8):
            raise ConfigError(f"code_bits must be a positive multiple of 8, got {self.code_bits}")
        if self.code_dims is not None and self.code_dims < 8:
            raise ConfigError(f"code_dims must be at least 8, got {self.code_dims}")
        if self.vectors != "milvus" and (self.milvus_uri is not None or self.milvus_collection is not None):
            raise ConfigError(f"milvus_uri and milvus_collection are for vectors \"milvus\", not {self.vectors!r}")
        if self.milvus_collection is not None and not _COLLECTION_NAME.fullmatch(self.milvus_collection):
            raise ConfigError(f"milvus_collection {self.milvus_collection!r}: letters, digits and underscores, "
                              "starting with a letter or underscore, at most 255")

    def storage(self) -> dict[str, Any]:
        """The fields fixed at creation (the binary layout's only when the codes are binary, Milvus's
        only when the vectors are in Milvus)."""
        return {name: getattr(self, name) for name in self.STORAGE_FIELDS
                if (self.codes == "binary" or name not in self.BINARY_FIELDS)
                and (self.vectors == "milvus" or name not in self.MILVUS_FIELDS)}

    def codes_label(self, dims: int) -> str:
        """e.g. "float16x256", "binary512x256" (bits of the projection), "binaryx256" (unprojected)."""
        d = self.code_dims or dims
        if self.codes == "binary" and self.code_projection == "orthogonal":
            return f"binary{self.code_bits}x{d}"
        return f"{self.codes}x{d}"

    def to_dict(self) -> dict[str, Any]:
        """All fields (Milvus's only when the vectors are in Milvus, so other indexes' config.json is unchanged)."""
        data = dataclasses.asdict(self)
        if self.vectors != "milvus":
            for name in self.MILVUS_FIELDS:
                del data[name]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> IndexConfig:
        data = dict(data)
        search = _json_object(data.pop("search", {}), '"index.search"')
        check_types(SearchConfig, search, "index.search.")
        check_types(cls, data, "index.")
        return cls(**data, search=SearchConfig(**search))


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
    def read(cls, path: Path) -> StoredConfig:
        """`DIR/config.json`, with errors naming the file."""
        try:
            return cls.from_json(path.read_text())
        except ConfigError as exc:
            raise ConfigError(f"{path}: {exc}") from None
        except VidsimError as exc:
            raise VidsimError(f"{path}: {exc}") from None
        except (OSError, ValueError, KeyError, TypeError, AttributeError, ArithmeticError, RecursionError) as exc:
            # ArithmeticError: int() of a huge number (1e999); RecursionError: JSON nested too deeply
            raise ConfigError(f"{path}: unreadable index configuration ({exc!r})") from exc

    @classmethod
    def from_json(cls, text: str) -> StoredConfig:
        data = _json_object(json.loads(text), "the file")
        version = int(data.get("format", 1))
        if version > FORMAT_VERSION:
            raise VidsimError(f"index format {version} was written by a newer vidsim (this one reads up to "
                              f"{FORMAT_VERSION}); upgrade vidsim")
        index = dict(_json_object(data["index"], '"index"'))
        _json_object(index.get("search", {}), '"index.search"')
        vidsim = _json_object(data["vidsim"], '"vidsim"')
        for section in ("decode", "features", "similarity"):
            _json_object(vidsim.get(section, {}), f'"vidsim.{section}"')
        if version < 2:  # format 1: binary codes had one sign bit per dim, no projection
            index.setdefault("code_projection", "none")
            index.setdefault("code_bits", None)
        check_types(cls, data)  # feature_key, dims, weights_version
        return cls(
            index=IndexConfig.from_dict(index),
            vidsim=VidsimConfig.from_dict(vidsim),
            feature_key=data["feature_key"],
            dims=int(data["dims"]),
            weights_version=data.get("weights_version", ""),
            format=version,
        )


def threshold_codes(config: IndexConfig, dims: int) -> str:
    """The codes class whose copy threshold applies to an index's scores (`vidsim.decision`):
    "binary" (512 projected sign bits, all dims), "float" (float32, or float16 or int8, the
    default, whose scores are within 1e-3 of float32's), else the codes label (no threshold ships)."""
    all_dims = config.code_dims in (None, dims)
    if config.codes == "binary" and config.code_projection == "orthogonal" and config.code_bits == 512 and all_dims:
        return "binary"
    if config.codes in ("float32", "float16", "int8") and all_dims:
        return "float"
    return config.codes_label(dims)


def _json_object(value: Any, where: str) -> dict[str, Any]:
    """`value` when it is a JSON object; the "unreadable index configuration" ConfigError otherwise."""
    if not isinstance(value, dict):
        kind = {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}.get(type(value), "a number")
        raise ConfigError(f"unreadable index configuration: {where} must be a JSON object, not {kind} "
                          f"({json.dumps(value)[:40]})")
    return value


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


def split_overrides(overrides: Overrides) -> tuple[dict[str, Any], dict[str, Any]]:
    """`Index.open`'s overrides, named by their place in config.json ("index.codes",
    "index.search.candidates", "vidsim.features.dims"), as (IndexConfig fields, VidsimConfig fields)."""
    index: dict[str, Any] = {}
    vidsim: dict[str, Any] = {}
    for name, value in overrides.items():
        section, _, rest = name.partition(".")
        if section not in ("index", "vidsim") or not rest:
            raise ConfigError(f"unknown index option {name!r}: expected index.<field>, index.search.<field> "
                             "or vidsim.<section>.<field>")
        (index if section == "index" else vidsim)[rest] = value
    return index, vidsim


def check_storage(directory: Path, stored: StoredConfig, asked: IndexConfig) -> None:
    """ConfigMismatchError unless `asked` has the storage fields the index was created with."""
    diffs = config_differences(stored.index.storage(), asked.storage())
    if diffs:
        raise ConfigMismatchError(
            f"{directory}: the index was created with another storage configuration: " + "; ".join(diffs)
        )


def check_model(directory: Path, stored: StoredConfig, model: ViSiL) -> None:
    """ConfigMismatchError unless `model` makes the features the index holds."""
    if model.feature_key == stored.feature_key:
        return
    diffs = config_differences(
        {"decode": stored.vidsim.to_dict()["decode"], "features": stored.vidsim.to_dict()["features"]},
        {"decode": model.config.to_dict()["decode"], "features": model.config.to_dict()["features"]},
    )
    volatile = {f"decode.{name}" for name in VOLATILE_DECODE_FIELDS} | {
        f"features.{name}" for name in VOLATILE_FEATURE_FIELDS}
    diffs = [d for d in diffs if d.split(":")[0] not in volatile]
    detail = "; ".join(diffs) or "the backbone weights or whitening files differ from those used to build it"
    raise ConfigMismatchError(
        f"{directory}: the index was built with another feature configuration ({stored.feature_key}, asked "
        f"for {model.feature_key}): {detail}"
    )


def check_features(directory: Path, stored: StoredConfig, features: VideoFeatures) -> None:
    """ConfigMismatchError unless `features` were made with the index's configuration."""
    from vidsim.features.types import feature_key_matches

    if not feature_key_matches(features, stored.feature_key):
        raise ConfigMismatchError(
            f"{features.source or 'query'}: features made with configuration {features.feature_key}, "
            f"but the index {directory} holds {stored.feature_key}; extract the query with the "
            f"index's options (see {directory / CONFIG_FILE})"
        )
    if features.dims != stored.dims:
        raise ConfigMismatchError(f"{features.source or 'query'}: {features.dims}-d features, index has {stored.dims}-d")
