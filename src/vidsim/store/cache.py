"""Feature cache keyed by (file content hash, feature configuration key).

A second run on the same file with the same configuration loads features instead of
decoding; renaming or moving the file keeps its entry, editing it does not.
"""
from __future__ import annotations

from pathlib import Path

import platformdirs

from vidsim.errors import VideoNotFoundError, VidsimError
from vidsim.features.types import VideoFeatures
from vidsim.fsutil import sha256_file
from vidsim.store.format import FEATURE_SUFFIX, load_features, save_features


def content_hash(path: str | Path) -> str:
    """SHA-256 of the file's bytes (hex); VideoNotFoundError when it cannot be read."""
    try:
        return sha256_file(path)
    except FileNotFoundError as exc:
        raise VideoNotFoundError(path, "no such file") from exc
    except IsADirectoryError as exc:
        raise VideoNotFoundError(path, "is a directory") from exc
    except PermissionError as exc:
        raise VideoNotFoundError(path, "permission denied") from exc


def default_cache_dir() -> Path:
    return Path(platformdirs.user_cache_dir("vidsim")) / "features"


class FeatureCache:
    """Directory of `<hash[:2]>/<hash>-<feature_key>.safetensors` entries."""

    def __init__(self, root: str | Path | None = None):
        self.root = Path(root) if root is not None else default_cache_dir()

    def entry(self, file_hash: str, feature_key: str) -> Path:
        return self.root / file_hash[:2] / f"{file_hash}-{feature_key}{FEATURE_SUFFIX}"

    def get(self, file_hash: str, feature_key: str) -> VideoFeatures | None:
        entry = self.entry(file_hash, feature_key)
        if not entry.is_file():
            return None
        try:
            return load_features(entry)
        except VidsimError:
            entry.unlink(missing_ok=True)  # unreadable entry: drop it and recompute
            return None

    def put(self, file_hash: str, features: VideoFeatures) -> Path:
        entry = self.entry(file_hash, features.feature_key)
        save_features(entry, features)
        return entry
