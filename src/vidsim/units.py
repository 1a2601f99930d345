"""How quantities are written for people: times as mm:ss, byte counts in powers of 1024."""
from __future__ import annotations


def format_mmss(seconds: float) -> str:
    """mm:ss, or h:mm:ss from an hour on (rounded to the second; negative times read 00:00)."""
    total = int(round(max(0.0, float(seconds))))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


def format_bytes(size: float) -> str:
    """A byte count in powers of 1024: "512 B", "1.5 KB", "3.2 MB", up to "12.0 GB" (no larger unit)."""
    for unit in ("B", "KB", "MB"):
        if size < 1024:
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GB"
