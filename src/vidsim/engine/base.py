"""What an engine is: something that turns a list of video files into features, streaming
`Embedded` results back in any order, while the caller (an index add, `vidsim extract`) stays
the only writer of what it keeps.

`Engine.embed` serves feature files (.safetensors) and feature-cache hits in the calling process
and hands the rest to the engine's `_run` (in process: `LocalEngine`; Ray actors: `RayEngine`);
features it makes are put in the cache there too, so the cache behaves as for in-process work.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

from vidsim.errors import VideoError
from vidsim.features.types import VideoFeatures, feature_key_matches

if TYPE_CHECKING:
    from vidsim.store import FeatureCache


@dataclass(frozen=True)
class Embedded:
    """One file's outcome: its features, or why it has none (`error`); `attempts`: times it was run."""

    path: Path
    features: VideoFeatures | None
    error: str = ""
    attempts: int = 1

    @property
    def ok(self) -> bool:
        return self.features is not None


class Engine(ABC):
    """Embeds video files; `feature_key` names the features it makes (known once it has started)."""

    name = "engine"

    def __init__(self, cache: FeatureCache | None = None):
        self.cache = cache

    @property
    @abstractmethod
    def feature_key(self) -> str: ...

    @property
    @abstractmethod
    def dims(self) -> int: ...

    def describe(self) -> str:
        """One line for people: the engine and its workers."""
        return self.name

    def embed(self, paths: Sequence[Path]) -> Iterator[Embedded]:
        """Features of every path, one `Embedded` each, in the order they are ready (cache hits first)."""
        from vidsim.model import _cache_put as cache_put
        from vidsim.store import FEATURE_SUFFIX, content_hash, load_features

        hashes: dict[Path, str] = {}
        rest: list[Path] = []
        for path in paths:
            try:
                if path.suffix == FEATURE_SUFFIX:
                    features = load_features(path)
                    if not feature_key_matches(features, self.feature_key):
                        yield Embedded(path, None, f"features made with configuration {features.feature_key}, "
                                                   f"this run makes {self.feature_key}")
                    else:
                        yield Embedded(path, features)
                    continue
                if self.cache is not None:
                    hashes[path] = content_hash(path)
                    cached = self.cache.get(hashes[path], self.feature_key)
                    if cached is not None and cached.frame_std is not None:
                        yield Embedded(path, cached, attempts=0)
                        continue
            except VideoError as exc:
                yield Embedded(path, None, exc.reason)
                continue
            rest.append(path)
        for result in self._run(rest):
            if result.features is not None and self.cache is not None and result.path in hashes:
                cache_put(self.cache, hashes[result.path], result.features)
            yield result

    @abstractmethod
    def _run(self, paths: Sequence[Path]) -> Iterator[Embedded]:
        """Embed video files that need it (not feature files, not cached)."""

    def close(self) -> None:
        """Release what the engine holds (workers, a cluster it started)."""
        return None

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def check_engine(engine: Engine, feature_key: str, dims: int, where: str) -> None:
    """ConfigMismatchError unless the engine makes features with `feature_key` (an index's)."""
    from vidsim.errors import ConfigMismatchError

    if engine.feature_key != feature_key or engine.dims != dims:
        raise ConfigMismatchError(f"{where}: the {engine.describe()} makes features {engine.feature_key} "
                                  f"({engine.dims}-d), but it holds {feature_key} ({dims}-d); install the same vidsim, "
                                  "runtimes and weights on the workers as here")

