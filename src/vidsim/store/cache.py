"""Feature cache keyed by (file content hash, feature configuration key).

A second run on the same file with the same configuration loads features instead of
decoding; renaming or moving the file keeps its entry, editing it does not.
"""
from __future__ import annotations

import os
import threading
from collections import OrderedDict
from pathlib import Path

import platformdirs

from vidsim.errors import VideoNotFoundError, VidsimError
from vidsim.features.types import VideoFeatures
from vidsim.fsutil import sha256_file
from vidsim.store.format import FEATURE_SUFFIX, load_features, save_features

_HASHES: OrderedDict[tuple, str] = OrderedDict()  # recent hashes by (path, size, inode, mtime, ctime)
_HASHES_KEPT = 512
_hashes_lock = threading.Lock()


def content_hash(path: str | Path) -> str:
    """SHA-256 of the file's bytes (hex); VideoNotFoundError when it cannot be read.

    Recent results are remembered while the file's size, inode and modification and change
    times stay the same (an index add, the feature cache and decode-ahead each ask once)."""
    try:
        stat = os.stat(path)
        key = (os.path.abspath(path), stat.st_size, stat.st_ino, stat.st_mtime_ns, stat.st_ctime_ns)
        with _hashes_lock:
            known = _HASHES.get(key)
            if known is not None:
                _HASHES.move_to_end(key)
                return known
        digest = sha256_file(path)
        with _hashes_lock:
            _HASHES[key] = digest
            while len(_HASHES) > _HASHES_KEPT:
                _HASHES.popitem(last=False)
        return digest
    except FileNotFoundError as exc:
        raise VideoNotFoundError(path, "no such file") from exc
    except IsADirectoryError as exc:
        raise VideoNotFoundError(path, "is a directory") from exc
    except PermissionError as exc:
        raise VideoNotFoundError(path, "permission denied") from exc


def default_cache_dir() -> Path:
    return Path(platformdirs.user_cache_dir("vidsim")) / "features"


class FeatureCache:
    """Directory of `<hash[:2]>/<hash>-<feature_key>[-<view>].safetensors` entries; `view` names
    another picture of the same file (e.g. "mirror", its horizontal mirror image)."""

    def __init__(self, root: str | Path | None = None):
        self.root = Path(root) if root is not None else default_cache_dir()

    def entry(self, file_hash: str, feature_key: str, view: str = "") -> Path:
        suffix = f"-{view}" if view else ""
        return self.root / file_hash[:2] / f"{file_hash}-{feature_key}{suffix}{FEATURE_SUFFIX}"

    def get(self, file_hash: str, feature_key: str, view: str = "") -> VideoFeatures | None:
        entry = self.entry(file_hash, feature_key, view)
        if not entry.is_file():
            return None
        try:
            return load_features(entry)
        except VidsimError:
            entry.unlink(missing_ok=True)  # unreadable entry: drop it and recompute
            return None

    def put(self, file_hash: str, features: VideoFeatures, view: str = "") -> Path:
        entry = self.entry(file_hash, features.feature_key, view)
        save_features(entry, features)
        return entry
