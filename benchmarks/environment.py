"""What a benchmark result records about the machine's software (Python and package versions), and the
hand-written text of a results file that a rerun keeps."""
from __future__ import annotations

import platform
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path


def versions(packages: Iterable[str]) -> dict[str, str]:
    """Python's version and each installed package's ("not installed" where absent)."""
    out = {"python": platform.python_version()}
    for package in packages:
        try:
            out[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            out[package] = "not installed"
    return out


def kept_text(path: Path, marker: str) -> str:
    """The text of a results file from `marker` (e.g. "## Reading") on, written by hand and kept when the
    script rewrites the tables above it; "" where the file or the marker is absent."""
    if not path.is_file():
        return ""
    text = path.read_text()
    return text[text.index(marker):] if marker in text else ""
