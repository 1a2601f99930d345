"""The trained head as a file: a safetensors state_dict with the official key names
(`attention.*`, `video_comperator.*`), and string metadata saying what made it (version,
backbone, whitening, feature key, recipe, data) so that a head is never used blind."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from vidsim.errors import ModelError
from vidsim.fsutil import atomic_path, safetensors_metadata
from vidsim.similarity.head import ViSiLHead

HEAD_FORMAT = "vidsim-visil-head/1"
RAW_KEYS = ("format", "version")  # plain strings; every other value is stored JSON-encoded


def save_head(path: str | Path, head: ViSiLHead, metadata: dict[str, Any]) -> Path:
    """Write the head's weights (atomically) with `metadata` (values JSON-encoded unless strings)."""
    from safetensors.torch import save_file

    if not head.learned:
        raise ModelError("only a learned ('visil') head has weights to save")
    meta = {k: str(v) if k in RAW_KEYS else json.dumps(v, sort_keys=True) for k, v in metadata.items()}
    meta["format"] = HEAD_FORMAT
    state = {k: v.detach().contiguous().cpu() for k, v in head.state_dict().items()}
    path = Path(path)
    with atomic_path(path) as tmp:
        save_file(state, str(tmp), metadata=meta)
    return path


def head_metadata(path: str | Path) -> dict[str, Any]:
    """The metadata of a head file written by `save_head` (JSON values decoded)."""
    try:
        raw = safetensors_metadata(path)
    except (OSError, ValueError) as exc:
        raise ModelError(f"{path}: not a readable head file ({exc})") from exc
    out: dict[str, Any] = {}
    for key, value in raw.items():
        try:
            out[key] = value if key in RAW_KEYS else json.loads(value)
        except ValueError:
            out[key] = value  # written by something else
    return out
