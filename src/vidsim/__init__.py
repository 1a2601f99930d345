"""vidsim: find copies of videos with ViSiL fine-grained spatio-temporal similarity.

Heavy modules load on first use, so `import vidsim` stays fast for the CLI.
"""
from __future__ import annotations

__version__ = "0.1.0"

_LAZY = {
    "ViSiL": "vidsim.model",
    "compare_videos": "vidsim.model",
    "Comparison": "vidsim.model",
    "load_video": "vidsim.decode",
    "iter_frames": "vidsim.decode",
    "VidsimConfig": "vidsim.config",
    "DecodeConfig": "vidsim.config",
    "FeatureConfig": "vidsim.config",
    "SimilarityConfig": "vidsim.config",
    "VideoFeatures": "vidsim.features",
    "FeatureCache": "vidsim.store",
    "Index": "vidsim.index",
    "IndexConfig": "vidsim.index",
    "Match": "vidsim.index",
}

__all__ = sorted(_LAZY) + ["__version__"]


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'vidsim' has no attribute {name!r}")
