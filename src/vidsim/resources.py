"""Where the files shipped inside the package live: trained heads and PCA whitenings per backbone,
and the copy-decision thresholds (`vidsim.decision`).

A packaged head is named in configurations as "packaged:<backbone>@<version>", so that every
saved configuration records which shipped weights made its scores.
"""
from __future__ import annotations

from pathlib import Path

from vidsim.fsutil import safetensors_metadata

DATA_DIR = Path(__file__).resolve().parent / "data"
HEADS_DIR = DATA_DIR / "heads"
WHITENING_DIR = DATA_DIR / "whitening"
THRESHOLDS_FILE = DATA_DIR / "thresholds.json"
PACKAGED_PREFIX = "packaged:"


def packaged_head_file(backbone: str) -> Path:
    """Where the head trained for `backbone` is shipped (it may not exist)."""
    return HEADS_DIR / f"{backbone}.safetensors"


def packaged_heads() -> list[str]:
    """The backbones vidsim ships a trained head for, sorted."""
    return sorted(p.stem for p in HEADS_DIR.glob("*.safetensors"))


def packaged_head_name(backbone: str) -> str:
    """"packaged:<backbone>@<version>" of the head shipped for `backbone` ("packaged:<backbone>"
    when none is shipped or it has no version: building such a head fails, naming the backbone)."""
    path = packaged_head_file(backbone)
    version = safetensors_metadata(path).get("version", "") if path.is_file() else ""
    return f"{PACKAGED_PREFIX}{backbone}@{version}" if version else f"{PACKAGED_PREFIX}{backbone}"


def packaged_whitening(backbone: str) -> Path | None:
    """The whitening file shipped for `backbone`, if any."""
    path = WHITENING_DIR / f"{backbone}.npz"
    return path if path.is_file() else None


def packaged_thresholds() -> Path:
    """The shipped copy thresholds (written by benchmarks/thresholds.py; it may not exist)."""
    return THRESHOLDS_FILE
