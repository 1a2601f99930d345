"""Human-readable quantities for command output."""
from __future__ import annotations


def format_bytes(size: float) -> str:
    """A byte count in powers of 1024: "512 B", "1.5 KB", "3.2 MB", up to "12.0 GB" (no larger unit)."""
    for unit in ("B", "KB", "MB"):
        if size < 1024:
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GB"
