"""Turn a decoded frame into the network's input: upright, resized, centre-cropped RGB uint8.

Orientation comes from the frame's display matrix (FFmpeg attaches the container's matrix
to every decoded frame). Its 2x2 part [[a, b], [c, d]] maps a stored pixel (x, y), y
pointing down, to the displayed position (a*x + c*y, b*x + d*y); for the right-angle
rotations and mirrors that cameras write, a..d are -1, 0 or 1 and the mapping is a
transpose and/or flips, applied here with numpy views after resizing (cheap). Other
angles are rounded to the nearest quarter turn.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, cast

import av
import numpy as np
from av.video.reformatter import VideoReformatter

_DISPLAYMATRIX = "DISPLAYMATRIX"


@dataclass(frozen=True)
class Orientation:
    """Signs of the display matrix's rotation part; identity = (1, 0, 0, 1)."""

    a: int = 1
    b: int = 0
    c: int = 0
    d: int = 1

    @property
    def swaps_axes(self) -> bool:
        return self.a == 0

    @property
    def rotation(self) -> int:
        """Counter-clockwise display rotation in degrees, 0/90/180/270 (mirroring ignored)."""
        # av_display_rotation_get's convention: -atan2(b, a), counter-clockwise.
        return int(round(-math.degrees(math.atan2(self.b, self.a)))) % 360

    @classmethod
    def from_rotation(cls, degrees: float) -> Orientation:
        quarter = int(round(degrees / 90.0)) % 4
        return [cls(1, 0, 0, 1), cls(0, -1, 1, 0), cls(-1, 0, 0, -1), cls(0, 1, -1, 0)][quarter]

    def apply(self, image: np.ndarray) -> np.ndarray:
        """Display an [H, W, C] image stored in this orientation (returns a view)."""
        if self.a == 0:  # displayed x comes from stored y: transpose, then flip
            out = image.transpose(1, 0, 2)
            if self.b < 0:
                out = out[::-1]
            if self.c < 0:
                out = out[:, ::-1]
        else:
            out = image
            if self.a < 0:
                out = out[:, ::-1]
            if self.d < 0:
                out = out[::-1]
        return out


def _snap(values: np.ndarray) -> tuple[int, int, int, int] | None:
    a, b, c, d = (float(v) for v in values)
    # Round the rotation to a quarter turn, keep the mirroring (sign of the determinant).
    angle = math.atan2(b, a)
    quarter = int(round(angle / (math.pi / 2))) % 4
    ca, sa = [(1, 0), (0, 1), (-1, 0), (0, -1)][quarter]
    mirrored = (a * d - b * c) < 0
    # A pure rotation by `quarter` has rows (cos, sin), (-sin, cos) in FFmpeg's layout;
    # a mirrored matrix has its second row negated.
    sign = -1 if mirrored else 1
    return ca, sa, -sa * sign, ca * sign


def frame_orientation(frame: av.VideoFrame) -> Orientation:
    """The display orientation FFmpeg attached to a decoded frame (identity when none)."""
    try:
        side: Any
        for side in cast(Any, frame.side_data):  # PyAV's stubs type the side data loosely
            kind = getattr(side.type, "name", str(side.type))
            if kind.upper() == _DISPLAYMATRIX:
                raw = np.frombuffer(bytes(side), dtype=np.int32)
                if raw.size >= 5:
                    values = raw[[0, 1, 3, 4]].astype(np.float64) / 65536.0
                    snapped = _snap(values) if np.any(values != 0) else None
                    if snapped is not None:
                        return Orientation(*snapped)
    except Exception:  # noqa: BLE001 - unreadable side data: fall back to the rotation angle
        pass
    try:
        return Orientation.from_rotation(frame.rotation or 0)
    except Exception:  # noqa: BLE001
        return Orientation()


@dataclass(frozen=True)
class Shaper:
    """Fixed output geometry for one video, decided from its first sampled frame."""

    orientation: Orientation
    scaled_width: int  # size handed to swscale, in stored (unrotated) orientation
    scaled_height: int
    crop: int
    # one swscale context for the whole video (a frame's own reformat() would set up a new one each time)
    reformatter: VideoReformatter = field(default_factory=VideoReformatter, compare=False, repr=False)

    @classmethod
    def for_frame(cls, frame: av.VideoFrame, resize: int, crop: int,
                  sample_aspect_ratio: Fraction | None = None) -> Shaper:
        orientation = frame_orientation(frame)
        w, h = frame.width, frame.height
        if resize and resize > 0:
            sar = float(sample_aspect_ratio) if sample_aspect_ratio else 1.0
            display_w = w * sar if sar > 0 else float(w)
            scale = resize / min(display_w, h)
            if display_w <= h:
                sw, sh = resize, max(1, int(round(h * scale)))
            else:
                sw, sh = max(1, int(round(display_w * scale))), resize
        else:
            sw, sh = w, h
        return cls(orientation, sw, sh, crop if crop and crop > 0 else 0)

    def __call__(self, frame: av.VideoFrame) -> np.ndarray:
        rgb = self.reformatter.reformat(
            frame,
            width=self.scaled_width,
            height=self.scaled_height,
            format="rgb24",
            interpolation="BICUBIC",
        ).to_ndarray()
        image = self.orientation.apply(rgb)
        if self.crop:
            h, w = image.shape[:2]
            ch, cw = min(h, self.crop), min(w, self.crop)
            top, left = (h - ch) // 2, (w - cw) // 2
            image = image[top : top + ch, left : left + cw]
        return np.ascontiguousarray(image)
