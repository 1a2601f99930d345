"""A query seen two ways (`SimilarityConfig.flip_query`): as it is and as its horizontal mirror image.

The better view's score is kept, but the mirror's counts only by what it gains beyond `flip_margin`:
the larger of two scores of a non-copy is a little higher than either, and the margin takes that back
(mirrored copies gain far more than it).
"""
from __future__ import annotations


def better_view(original: float, mirrored: float | None, margin: float) -> tuple[float, bool]:
    """The score kept for a pair, and whether the mirror image gave it: `mirrored - margin` when that
    is higher than `original`, else `original` (also when there is no mirrored score)."""
    if mirrored is None or mirrored - margin <= original:
        return original, False
    return mirrored - margin, True
