"""Files made at first use into the model cache, each set with a manifest of their SHA-256s.

The manifest is written last (atomically), so a set whose manifest is there and agrees with every
file's bytes is whole; anything else (a file missing, cut short or changed, no manifest) is made again.
"""
from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from vidsim.fsutil import atomic_open, sha256_file


def write_manifest(manifest: Path, files: Sequence[Path], **record: Any) -> None:
    """Record the SHA-256 and size of each of `files` (by name) with `record` in `manifest`."""
    entry = {"files": {f.name: {"sha256": sha256_file(f), "bytes": f.stat().st_size} for f in files}, **record}
    with atomic_open(manifest, "w") as fh:
        json.dump(entry, fh, indent=1, sort_keys=True)


def verified(manifest: Path, files: Sequence[Path]) -> bool:
    """Whether `manifest` lists exactly `files` and each one's bytes still match it."""
    try:
        listed = json.loads(manifest.read_text())["files"]
        if sorted(listed) != sorted(f.name for f in files):
            return False
        return all(listed[f.name]["sha256"] == sha256_file(f) for f in files)
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return False
