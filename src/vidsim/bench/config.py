"""The numbers that shape a benchmark build (part of its fingerprint): the full and the small one."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from .families import FAMILIES

__all__ = ["BuildConfig", "FULL", "SMALL"]


@dataclass(frozen=True)
class BuildConfig:
    """The numbers that shape a build (part of the fingerprint)."""

    ref_length: tuple[float, float] = (8.0, 15.0)
    min_gap: float = 6.0  # between references of a source (room for a hard negative)
    max_refs_per_source: int = 6
    margin: float = 0.25  # kept clear at both ends of a source
    families: tuple[str, ...] = tuple(FAMILIES)
    copies_per_combo: Mapping[str, int] = field(default_factory=lambda: {"dev": 1, "test": 2})
    chains_per_strength: Mapping[str, int] = field(default_factory=lambda: {"dev": 4, "test": 8})
    min_copy: float = 5.0
    full_copy_prob: float = 0.35
    partials_per_ref: int = 1
    partial_length: tuple[float, float] = (3.0, 6.0)
    partial_host: tuple[float, float] = (1.0, 5.0)  # host seconds before and after, each
    negative_length: tuple[float, float] = (4.0, 10.0)
    negative_guard: float = 1.0
    max_negatives_per_source: int = 4
    takes_per_negative_source: int = 3
    unrelated: Mapping[str, int] = field(default_factory=lambda: {"dev": 8, "test": 10})
    unrelated_length: tuple[float, float] = (4.0, 12.0)
    max_size: tuple[int, int] = (640, 360)

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        return {k: (dict(v) if isinstance(v, Mapping) else list(v) if isinstance(v, tuple) else v)
                for k, v in d.items()}


FULL = BuildConfig()
SMALL = BuildConfig(
    ref_length=(3.0, 3.5), min_gap=2.2, max_refs_per_source=2, margin=0.1,
    families=("crop", "hflip", "grayscale", "text", "pip", "speed-fast", "fps", "encode-h264"),
    copies_per_combo={"dev": 1, "test": 1}, chains_per_strength={"dev": 1, "test": 1},
    min_copy=2.0, full_copy_prob=0.5, partials_per_ref=1, partial_length=(1.5, 2.0), partial_host=(0.5, 1.0),
    negative_length=(1.5, 2.5), negative_guard=0.3, max_negatives_per_source=1, takes_per_negative_source=1,
    unrelated={"dev": 1, "test": 1}, unrelated_length=(1.5, 2.5), max_size=(320, 240),
)
