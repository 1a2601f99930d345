"""tqdm progress bars on stderr, turned into the library's progress callbacks."""
from __future__ import annotations

import sys
from contextlib import contextmanager

from tqdm import tqdm


@contextmanager
def frame_bar(label: str, total_seconds: float | None, enabled: bool):
    """A bar over seconds of video decoded, showing sampled frames/s; yields the callback."""
    bar = tqdm(
        total=round(total_seconds, 1) if total_seconds else None,
        desc=label,
        unit="s",
        disable=not enabled,
        file=sys.stderr,
        leave=False,
        bar_format="{desc}: {percentage:3.0f}%|{bar}| {n:.0f}/{total:.0f} s of video [{elapsed}<{remaining}{postfix}]",
    )
    frames = 0

    def update(new_frames: int, reached: float) -> None:
        nonlocal frames
        frames += new_frames
        bar.n = min(reached, bar.total or reached)
        elapsed = bar.format_dict["elapsed"] or 1e-9
        bar.set_postfix_str(f"{frames} frames, {frames / elapsed:.1f} frames/s", refresh=True)

    try:
        yield update
    finally:
        bar.close()


def item_bar(items, label: str, unit: str, enabled: bool):
    return tqdm(items, desc=label, unit=unit, disable=not enabled, file=sys.stderr)
