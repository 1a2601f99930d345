"""Extraction engines: where videos are decoded and embedded for an index add or `vidsim extract`.
`LocalEngine` runs in this process; `RayEngine` (the `ray` extra) runs Ray actors on this machine or
a cluster. Each yields `Embedded` results (a path and its features, or why it has none) as they are
ready; the caller stays the only writer."""
from vidsim.engine.base import Embedded, Engine, check_engine
from vidsim.engine.local import LocalEngine

__all__ = ["Embedded", "Engine", "LocalEngine", "RayEngine", "check_engine"]


def __getattr__(name: str):
    if name == "RayEngine":  # imported when asked for: `ray` itself is imported only when one is made
        from vidsim.engine.ray_engine import RayEngine

        return RayEngine
    raise AttributeError(name)
