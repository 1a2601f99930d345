"""Scoring methods for `vidsim evaluate`: one interface, a registry of named methods.

A method (what `--method` names; not an alignment method, which `vidsim.similarity.align` calls
`alignment` here) extracts a descriptor of each video once (`extract`) and scores a
(query, reference) pair of descriptors (`calculate_video_similarity`); methods that can
localise copies also return segments. vidsim's own modes and the baselines (global
descriptor, videohash, vpdq) all sit behind it, so one command runs them side by side.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from vidsim.errors import VidsimError


class Method(ABC):
    """A video similarity method under evaluation (an evaluation method, not an alignment)."""

    name: str = ""

    @abstractmethod
    def extract(self, path: Path) -> Any:
        """Descriptor of one video (raises vidsim.errors.VideoError for unreadable files)."""

    @abstractmethod
    def calculate_video_similarity(self, query: Any, reference: Any) -> float:
        """Higher means more likely a copy."""

    def score_query(self, query: Any, references: Mapping[str, Any]) -> dict[str, float]:
        """Scores of one query against references (id -> descriptor); a reference left out of the
        result was not found (counts as a miss). Default: `calculate_video_similarity` of each pair;
        methods that answer a query as a whole (an index search, a mirrored query) override it."""
        return {rid: self.calculate_video_similarity(query, ref) for rid, ref in references.items()}

    def localise(self, query: Any, reference: Any) -> list | None:
        """Copied segments (vidsim.evaluate.groundtruth.Segment) or None if not supported."""
        return None

    def describe(self) -> dict:
        """What to record in the results (versions, parameters)."""
        return {"name": self.name}


_METHODS: dict[str, Callable[..., Method]] = {}


def register_method(name: str):
    def wrap(factory):
        _METHODS[name] = factory
        return factory

    return wrap


def available_methods() -> list[str]:
    _load_builtins()
    return sorted(_METHODS)


def build_method(name: str, **options) -> Method:
    """Build a method by name; `vidsim:<backbone>` selects vidsim with another backbone."""
    _load_builtins()
    base = name.split(":", 1)[0] if name.startswith("vidsim") else name
    if base not in _METHODS:
        raise VidsimError(f"unknown method {name!r}; available: {', '.join(sorted(_METHODS))}")
    return _METHODS[base](name=name, **options)


def _load_builtins() -> None:
    import importlib

    for module in ("vidsim.evaluate.vidsim_methods", "vidsim.evaluate.baselines"):
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise
