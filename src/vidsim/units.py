"""How quantities are written for people: times as mm:ss."""
from __future__ import annotations


def format_mmss(seconds: float) -> str:
    """mm:ss, or h:mm:ss from an hour on (rounded to the second; negative times read 00:00)."""
    total = int(round(max(0.0, float(seconds))))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"
