"""VideoFeatures on disk: one safetensors file (regions, timestamps) with provenance metadata.

Writes go to a temporary name in the same directory and are renamed into place, so a
reader never sees a half-written file, even after a crash.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from safetensors import SafetensorError, safe_open
from safetensors.numpy import load_file, save_file

from vidsim.errors import VidsimError
from vidsim.features.types import VideoFeatures
from vidsim.fsutil import atomic_path

FORMAT_VERSION = "1"
FEATURE_SUFFIX = ".safetensors"  # the suffix of feature files (and of feature cache entries)


def save_features(path: str | Path, features: VideoFeatures) -> None:
    """Write `features` atomically, with their provenance as string metadata."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    metadata = {
        "format": FORMAT_VERSION,
        "feature_key": features.feature_key,
        "weights_version": features.weights_version,
        "source": features.source,
        "meta": json.dumps(features.meta, sort_keys=True),
    }
    tensors: dict[str, np.ndarray] = {
        "regions": np.ascontiguousarray(features.regions, dtype=np.float32),
        "timestamps": np.ascontiguousarray(features.timestamps, dtype=np.float64),
    }
    if features.frame_std is not None:
        tensors["frame_std"] = np.ascontiguousarray(features.frame_std, dtype=np.float32)
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata=metadata)


def load_features(path: str | Path) -> VideoFeatures:
    """Read a feature file; VidsimError naming the file when it is not one."""
    path = Path(path)
    try:
        tensors = load_file(str(path))
        with safe_open(str(path), framework="numpy") as fh:
            metadata = fh.metadata() or {}
    except (SafetensorError, OSError, ValueError) as exc:
        raise VidsimError(f"{path}: not a readable vidsim feature file ({exc})") from exc
    if "regions" not in tensors or "timestamps" not in tensors:
        raise VidsimError(f"{path}: not a vidsim feature file (no regions/timestamps)")
    try:
        return VideoFeatures(
            regions=tensors["regions"],
            timestamps=tensors["timestamps"],
            feature_key=metadata.get("feature_key", ""),
            weights_version=metadata.get("weights_version", ""),
            source=metadata.get("source", ""),
            meta=json.loads(metadata.get("meta", "{}")),
            frame_std=tensors.get("frame_std"),  # absent from files written before it existed
        )
    except ValueError as exc:  # shapes that disagree, or metadata that is not JSON
        raise VidsimError(f"{path}: not a valid vidsim feature file ({exc})") from exc
