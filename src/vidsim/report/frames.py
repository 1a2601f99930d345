"""Thumbnails of the frames shown at given times, decoded with vidsim.decode, as JPEG bytes."""
from __future__ import annotations

import io
import os
from collections.abc import Sequence

import numpy as np

from vidsim.decode import DecodedFrame, iter_decoded_frames

# a later time this far past the decoded position is reached by seeking, not by decoding through
REOPEN_GAP = 8.0
THUMB_HEIGHT = 80  # pixels; the page's CSS lays the strips out for it


def frames_at(path: str | os.PathLike[str], times: Sequence[float]) -> list[np.ndarray | None]:
    """The upright RGB picture shown at each of `times` (seconds from the start of the video
    stream): the last frame whose time is <= t (the first frame before it; the last after the end).
    Decodes forward from the keyframe before the earliest time, seeking again across long gaps.
    Raises vidsim's VideoError when the file cannot be opened."""
    out: list[np.ndarray | None] = [None] * len(times)
    order = sorted(range(len(times)), key=lambda i: times[i])
    frames = None
    previous: DecodedFrame | None = None
    current: DecodedFrame | None = None
    try:
        for i in order:
            t = float(times[i])
            if frames is None or (current is not None and t - current.time > REOPEN_GAP):
                if frames is not None:
                    frames.close()
                frames = iter_decoded_frames(path, start=t)
                previous, current = None, next(frames, None)
            while current is not None and current.time <= t + 1e-6:
                previous, current = current, next(frames, None)
            chosen = previous if previous is not None else current
            out[i] = chosen.to_rgb() if chosen is not None else None
    finally:
        if frames is not None:
            frames.close()
    return out


def jpeg_thumbnail(image: np.ndarray, height: int = THUMB_HEIGHT, quality: int = 80) -> bytes:
    """An RGB picture scaled to `height` pixels (aspect kept), as JPEG bytes."""
    from PIL import Image

    picture = Image.fromarray(np.ascontiguousarray(image, dtype=np.uint8))
    width = max(1, round(picture.width * height / max(1, picture.height)))
    picture = picture.resize((width, height), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    picture.save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()
