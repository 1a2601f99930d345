"""Pixel operations of the transform families: planned `Step`s become functions on RGB frames.

Every operation is a pure function of its step and the frame index (noise draws from its own
seeded stream frame after frame), so a plan always renders to the same pictures.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Any

import numpy as np

from .families import Step, caption_font
from .frames import FrameCursor

__all__ = ["FrameOp", "Pipeline", "resize", "contain"]

#: (RGB frame, output frame index) -> RGB frame
FrameOp = Callable[[np.ndarray, int], np.ndarray]


def _pil(image: np.ndarray) -> Any:
    from PIL import Image

    return Image.fromarray(image)


def resize(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Bilinear resize to (width, height) (Pillow, antialiased when shrinking)."""
    from PIL import Image

    if image.shape[1::-1] == tuple(size):
        return image
    return np.asarray(_pil(image).resize(size, Image.Resampling.BILINEAR, reducing_gap=3.0))


def contain(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Fit image into a black canvas of `size`, keeping its aspect ratio, centred."""
    w, h = size
    ih, iw = image.shape[:2]
    s = min(w / iw, h / ih)
    cw, ch = max(1, min(w, int(round(iw * s)))), max(1, min(h, int(round(ih * s))))
    out = np.zeros((h, w, 3), np.uint8)
    y, x = (h - ch) // 2, (w - cw) // 2
    out[y : y + ch, x : x + cw] = resize(image, (cw, ch))
    return out


class _Overlay:
    """Alpha-blend a fixed RGBA picture at (x, y)."""

    def __init__(self, rgba: np.ndarray, x: int, y: int):
        self.rgb = rgba[..., :3].astype(np.float32)
        self.alpha = rgba[..., 3:4].astype(np.float32) / 255.0
        self.x, self.y = x, y

    def __call__(self, im: np.ndarray, k: int) -> np.ndarray:
        out = np.array(im)
        h, w = self.rgb.shape[:2]
        region = out[self.y : self.y + h, self.x : self.x + w].astype(np.float32)
        a = self.alpha[: region.shape[0], : region.shape[1]]
        rgb = self.rgb[: region.shape[0], : region.shape[1]]
        out[self.y : self.y + h, self.x : self.x + w] = np.round(region + a * (rgb - region)).astype(np.uint8)
        return out


def _text(step: Step) -> FrameOp:
    from PIL import Image, ImageDraw

    x, y, tw, th = step.params["box"]
    font = caption_font(step.params["font_px"])
    colour = tuple(step.extra["colour"])
    image = Image.new("RGBA", (tw, th), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    if step.extra["backdrop"]:
        draw.rectangle([0, 0, tw - 1, th - 1], fill=(0, 0, 0, 150))
    top = 4
    for line, box in zip(step.params["lines"], step.extra["line_boxes"], strict=True):
        draw.text((4 - box[0], top - box[1]), line, font=font, fill=colour + (255,), stroke_width=2,
                  stroke_fill=(0, 0, 0, 255))
        top += box[3] - box[1] + 4
    return _Overlay(np.asarray(image), x, y)


def _logo(step: Step) -> FrameOp:
    from PIL import Image, ImageDraw

    side, alpha = step.params["side"], step.extra["alpha"]
    bg = tuple(step.extra["colour"])
    fg = tuple(255 - c for c in bg)
    image = Image.new("RGBA", (side, side), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    shape = step.params["shape"]
    if shape == "circle":
        draw.ellipse([0, 0, side - 1, side - 1], fill=bg + (alpha,), outline=fg + (alpha,), width=max(1, side // 16))
    elif shape == "square":
        draw.rounded_rectangle([0, 0, side - 1, side - 1], radius=side // 5, fill=bg + (alpha,))
    else:
        draw.polygon([(side // 2, 0), (side - 1, side - 1), (0, side - 1)], fill=bg + (alpha,))
    letters = step.params["letters"]
    font = caption_font(side * 0.42)
    bbox = draw.textbbox((0, 0), letters, font=font)
    draw.text(((side - bbox[2] - bbox[0]) / 2, (side - bbox[3] - bbox[1]) * 0.6), letters, font=font,
              fill=fg + (alpha,))
    return _Overlay(np.asarray(image), *step.extra["at"])


def _color(step: Step) -> FrameOp:
    p = step.params
    x = np.arange(256, dtype=np.float64) / 255.0
    y = (np.power(x, p["gamma"]) - 0.5) * p["contrast"] + 0.5 + p["brightness"]
    lut = np.clip(np.round(y * 255), 0, 255).astype(np.uint8)
    return lambda im, k: lut[im]


def _blur(step: Step) -> FrameOp:
    from PIL import ImageFilter

    filt = ImageFilter.GaussianBlur(step.params["radius"])
    return lambda im, k: np.asarray(_pil(im).filter(filt))


def _noise(step: Step) -> FrameOp:
    sigma = step.params["sigma"]
    gen = np.random.default_rng(step.params["seed"])

    def apply(im: np.ndarray, k: int) -> np.ndarray:
        n = gen.standard_normal(im.shape, dtype=np.float32) * sigma
        return np.clip(im.astype(np.float32) + n, 0, 255).astype(np.uint8)

    return apply


def _rotate(step: Step) -> FrameOp:
    from PIL import Image

    angle = step.params["degrees"]
    return lambda im, k: np.asarray(_pil(im).rotate(angle, Image.Resampling.BILINEAR, fillcolor=(0, 0, 0)))


def _grayscale(step: Step) -> FrameOp:
    amount = step.params["desaturation"]
    weights = np.array([0.299, 0.587, 0.114], np.float32)

    def apply(im: np.ndarray, k: int) -> np.ndarray:
        f = im.astype(np.float32)
        grey = (f @ weights)[..., None]
        out = grey if amount == 1.0 else f + amount * (grey - f)
        return np.clip(np.round(np.broadcast_to(out, im.shape)), 0, 255).astype(np.uint8)

    return apply


def _pad(step: Step) -> FrameOp:
    cw, ch = step.size
    x0, y0, iw, ih = step.params["content"]

    def apply(im: np.ndarray, k: int) -> np.ndarray:
        out = np.zeros((ch, cw, 3), np.uint8)
        out[y0 : y0 + ih, x0 : x0 + iw] = resize(im, (iw, ih))
        return out

    return apply


def _crop(step: Step) -> FrameOp:
    x0, y0, cw, ch = step.params["box"]
    return lambda im, k: im[y0 : y0 + ch, x0 : x0 + cw]


def _hflip(step: Step) -> FrameOp:
    if step.params["axes"] == "x":
        return lambda im, k: im[:, ::-1]
    return lambda im, k: im[::-1, ::-1]


def _downscale(step: Step) -> FrameOp:
    return lambda im, k: resize(im, step.size)


_OPS: dict[str, Callable[[Step], FrameOp]] = {
    "crop": _crop, "rotate": _rotate, "hflip": _hflip, "downscale": _downscale, "letterbox": _pad,
    "pillarbox": _pad, "color": _color, "grayscale": _grayscale, "blur": _blur, "noise": _noise,
    "text": _text, "logo": _logo,
}


class Pipeline:
    """The frame operations of a chain's steps, applied in order (time and encode steps have none);
    holds the host clip a picture-in-picture step reads, until closed."""

    def __init__(self, steps: Sequence[Step]):
        self._ops: list[FrameOp] = []
        self._hosts: list[FrameCursor] = []
        try:
            for step in steps:
                if step.family == "pip":
                    self._ops.append(self._pip(step))
                elif step.family in _OPS:
                    self._ops.append(_OPS[step.family](step))
        except Exception:
            self.close()
            raise

    def _pip(self, step: Step) -> FrameOp:
        x, y, iw, ih = step.params["box"]
        start, span, fps = step.extra["start"], step.extra["span"], float(step.extra["fps"])
        host = FrameCursor(step.extra["path"], step.size)
        self._hosts.append(host)

        def apply(im: np.ndarray, k: int) -> np.ndarray:
            out = np.array(host.at(start + math.fmod(k / fps, span)))
            out[y : y + ih, x : x + iw] = resize(im, (iw, ih))
            return out

        return apply

    def __call__(self, image: np.ndarray, k: int) -> np.ndarray:
        for op in self._ops:
            image = op(image, k)
        return image

    def close(self) -> None:
        for host in self._hosts:
            host.close()
        self._hosts = []

    def __enter__(self) -> Pipeline:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
