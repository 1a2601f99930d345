"""What an engine is: something that turns a list of video files into features, streaming
`Embedded` results back in any order, while the caller (an index add, `vidsim extract`) stays
the only writer of what it keeps.

`Engine.embed` serves feature files (.safetensors) and feature-cache hits in the calling process
and hands the rest to the engine's `_run` (in process: `LocalEngine`; Ray actors: `RayEngine`);
features it makes are put in the cache there too, so the cache behaves as for in-process work.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Iterable, Iterator
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

    def embed(self, paths: Iterable[Path]) -> Iterator[Embedded]:
        """Features of every path, one `Embedded` each, in the order they are ready. `paths` is read
        as work is handed out, so a long (lazy) list starts at once."""
        from vidsim.model import _cache_put as cache_put

        hashes: dict[Path, str] = {}
        served: deque[Embedded] = deque()  # feature files, cache hits and unreadable files, met on the way
        for result in self._run(self._needing_work(paths, hashes, served)):
            yield from _drain(served)
            if result.features is not None and self.cache is not None and result.path in hashes:
                cache_put(self.cache, hashes[result.path], result.features)
            yield result
        yield from _drain(served)

    def _needing_work(self, paths: Iterable[Path], hashes: dict[Path, str], served: deque[Embedded]) -> Iterator[Path]:
        """The video files of `paths` that must be embedded; the outcome of the others goes to `served`."""
        from vidsim.store import FEATURE_SUFFIX, content_hash, load_features

        for path in paths:
            try:
                if path.suffix == FEATURE_SUFFIX:
                    features = load_features(path)
                    if not feature_key_matches(features, self.feature_key):
                        served.append(Embedded(path, None, f"features made with configuration {features.feature_key}, "
                                                           f"this run makes {self.feature_key}"))
                    else:
                        served.append(Embedded(path, features))
                    continue
                if self.cache is not None:
                    hashes[path] = content_hash(path)
                    cached = self.cache.get(hashes[path], self.feature_key)
                    if cached is not None and cached.frame_std is not None:
                        served.append(Embedded(path, cached, attempts=0))
                        continue
            except VideoError as exc:
                served.append(Embedded(path, None, exc.reason))
                continue
            yield path

    @abstractmethod
    def _run(self, paths: Iterator[Path]) -> Iterator[Embedded]:
        """Embed video files that need it (not feature files, not cached), taken from `paths` as work is handed out."""

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



def _drain(served: deque[Embedded]) -> Iterator[Embedded]:
    while served:
        yield served.popleft()
