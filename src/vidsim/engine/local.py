"""The in-process engine: one model, the videos in their order, the next one decoded while the
current one is embedded (the model's decode-ahead thread), as `vidsim extract` and `index add`
do without an engine."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from vidsim.engine.base import Embedded, Engine
from vidsim.errors import VideoError

if TYPE_CHECKING:
    from vidsim.model import ViSiL
    from vidsim.store import FeatureCache


class LocalEngine(Engine):
    """Embeds with `model` in this process; `progress(frames, seconds reached)` as frames are embedded."""

    name = "local"

    def __init__(self, model: ViSiL, cache: FeatureCache | None = None,
                 progress: Callable[[int, float], None] | None = None):
        super().__init__(cache)
        self.model = model
        self.progress = progress

    @property
    def feature_key(self) -> str:
        return self.model.feature_key

    @property
    def dims(self) -> int:
        return self.model.extractor.dims

    def describe(self) -> str:
        return "in-process engine"

    def _run(self, paths: Iterator[Path]) -> Iterator[Embedded]:
        path = next(paths, None)
        while path is not None:
            following = next(paths, None)  # decoded while `path` is embedded
            try:
                # the cache was read by `embed`; none here, so that each video is embedded once
                features = self.model.extract_video(path, progress=self.progress, then=following)
            except VideoError as exc:
                yield Embedded(path, None, exc.reason)
            else:
                yield Embedded(path, features)
            path = following
