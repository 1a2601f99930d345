"""Output size and frame rate of benchmark clips: even sides within a box, NTSC rates kept exact."""
from __future__ import annotations

from fractions import Fraction

__all__ = ["MAX_SIZE", "MAX_FPS", "even", "fit_size", "output_rate"]

MAX_SIZE: tuple[int, int] = (640, 360)  # (longer side, shorter side)
MAX_FPS = 30


def even(x: float, lo: int = 2) -> int:
    """x rounded to an even number, at least lo (4:2:0 video needs even sides)."""
    return max(lo, int(round(x / 2)) * 2)


def fit_size(width: int, height: int, max_size: tuple[int, int] = MAX_SIZE) -> tuple[int, int]:
    """Scale (width, height) down so the longer side <= max_size[0], the shorter <= max_size[1]; even."""
    long_max, short_max = max_size
    scale = min(1.0, short_max / min(width, height), long_max / max(width, height))
    return even(width * scale), even(height * scale)


def output_rate(fps: float) -> Fraction:
    """The constant frame rate to write for a source of `fps` (NTSC rates kept exact, <= 30)."""
    if fps <= 0:
        return Fraction(25)
    for r in (Fraction(24000, 1001), Fraction(30000, 1001)):
        if abs(fps - float(r)) < 0.01:
            return r
    return min(Fraction(MAX_FPS), Fraction(fps).limit_denominator(100))
