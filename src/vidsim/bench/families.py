"""The benchmark's transform families: what each one draws from the seed and how chains are formed.

Planning only: a family turns (strength, rng, input size) into a `Step` holding its parameters
and output size; `vidsim.bench.render` turns steps into pixel operations. Families (weak / strong):

=============  ======================================================================
encode-h264    H.264 at a low bit rate: 0.05 / 0.015 bits per pixel
encode-vp9     VP9 (realtime) at the same bit rates, WebM when the file name says so
downscale      1/2 / 1/4 of each side
crop           keep 80-85 % / 70-75 % of each side (independently), random position
hflip          left-right mirror / left-right and upside-down mirror
color          brightness +-0.04-0.10, contrast x0.85-1.15, gamma 0.8-1.25 /
               brightness +-0.12-0.22, contrast x0.6-0.75 or x1.35-1.6, gamma 0.55-0.7 or 1.5-1.8
blur           Gaussian blur, radius 0.6 % / 1.6 % of the shorter side
noise          Gaussian noise per frame, sigma 6 / 18 (of 255)
rotate         2-5 / 8-14 degrees either way, black corners
grayscale      70 % desaturated / fully grey
letterbox      black bars above and below, 10 % / 20 % of the height each
pillarbox      black bars left and right, 10 % / 20 % of the width each
text           one short caption / 2-3 large lines on a translucent box (Pillow)
logo           a small translucent logo in a corner / a large opaque one (Pillow)
pip            the copy inside another clip (``host=`` needed), 60 % / 35 % of its width
speed-slow     0.9x / 0.75x playback speed (timestamps stretched)
speed-fast     1.1x / 1.25x playback speed
fps            15 / 10 frames per second
=============  ======================================================================
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from vidsim.decode import probe
from vidsim.errors import ConfigError

from .encoders import Encoder
from .sizing import MAX_SIZE, even, fit_size

__all__ = [
    "STRENGTHS", "FPS_TARGET", "Step", "Family", "FAMILIES", "TIME_FAMILIES", "CHAINABLE", "SPLICE_FAMILIES",
    "plan_steps", "random_chain", "output_suffix", "caption_font",
]

STRENGTHS: tuple[str, ...] = ("weak", "strong")
FPS_TARGET: Mapping[str, int] = {"weak": 15, "strong": 10}


@dataclass(frozen=True)
class Step:
    """One configured family: the parameters the manifest records, the output size, timing and
    encoder effects, and `extra` values the pixels need but the manifest leaves out (colours, files)."""

    family: str
    params: dict[str, Any]
    size: tuple[int, int]
    speed: float = 1.0
    encoder: Encoder | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)


#: (strength, rng, input size, context) -> Step; context: fps, max_size, host, host_start, host_end
Planner = Callable[[str, np.random.Generator, tuple[int, int], Mapping[str, Any]], Step]
_T = TypeVar("_T")


def _u(rng: np.random.Generator, lo: float, hi: float, nd: int = 3) -> float:
    return round(float(rng.uniform(lo, hi)), nd)


def _pick(strength: str, weak: _T, strong: _T) -> _T:
    return weak if strength == "weak" else strong


def caption_font(px: float) -> Any:
    """Pillow's default font at `px` pixels (at least 8)."""
    from PIL import ImageFont

    return ImageFont.load_default(size=max(8, int(px)))


def _downscale(strength: str, rng: np.random.Generator, size: tuple[int, int], ctx: Mapping[str, Any]) -> Step:
    f = _pick(strength, 2, 4)
    out = (even(size[0] / f, 16), even(size[1] / f, 16))
    return Step("downscale", {"factor": 1 / f, "size": list(out)}, out)


def _crop(strength: str, rng: np.random.Generator, size: tuple[int, int], ctx: Mapping[str, Any]) -> Step:
    lo, hi = _pick(strength, (0.80, 0.85), (0.70, 0.75))
    fw, fh = _u(rng, lo, hi), _u(rng, lo, hi)
    w, h = size
    cw, ch = even(w * fw), even(h * fh)
    x0, y0 = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
    return Step("crop", {"keep_w": fw, "keep_h": fh, "box": [x0, y0, cw, ch]}, (cw, ch))


def _hflip(strength: str, rng: np.random.Generator, size: tuple[int, int], ctx: Mapping[str, Any]) -> Step:
    return Step("hflip", {"axes": _pick(strength, "x", "xy")}, size)


def _color(strength: str, rng: np.random.Generator, size: tuple[int, int], ctx: Mapping[str, Any]) -> Step:
    sign = 1 if rng.random() < 0.5 else -1
    if strength == "weak":
        b, c, g = sign * _u(rng, 0.04, 0.10), _u(rng, 0.85, 1.15), _u(rng, 0.8, 1.25)
    else:
        b = sign * _u(rng, 0.12, 0.22)
        c = _u(rng, 0.6, 0.75) if rng.random() < 0.5 else _u(rng, 1.35, 1.6)
        g = _u(rng, 0.55, 0.7) if rng.random() < 0.5 else _u(rng, 1.5, 1.8)
    return Step("color", {"brightness": b, "contrast": c, "gamma": g}, size)


def _blur(strength: str, rng: np.random.Generator, size: tuple[int, int], ctx: Mapping[str, Any]) -> Step:
    return Step("blur", {"radius": round(min(size) * _pick(strength, 0.006, 0.016), 2)}, size)


def _noise(strength: str, rng: np.random.Generator, size: tuple[int, int], ctx: Mapping[str, Any]) -> Step:
    return Step("noise", {"sigma": _pick(strength, 6.0, 18.0), "seed": int(rng.integers(2**31))}, size)


def _rotate(strength: str, rng: np.random.Generator, size: tuple[int, int], ctx: Mapping[str, Any]) -> Step:
    lo, hi = _pick(strength, (2, 5), (8, 14))
    angle = _u(rng, lo, hi, 2) * (1 if rng.random() < 0.5 else -1)
    return Step("rotate", {"degrees": angle}, size)


def _grayscale(strength: str, rng: np.random.Generator, size: tuple[int, int], ctx: Mapping[str, Any]) -> Step:
    return Step("grayscale", {"desaturation": _pick(strength, 0.7, 1.0)}, size)


def _pad(axis: str) -> Planner:
    name = "letterbox" if axis == "y" else "pillarbox"

    def plan(strength: str, rng: np.random.Generator, size: tuple[int, int], ctx: Mapping[str, Any]) -> Step:
        bar = _pick(strength, 0.10, 0.20)
        w, h = size
        canvas = (w, h / (1 - 2 * bar)) if axis == "y" else (w / (1 - 2 * bar), h)
        cw, ch = fit_size(int(round(canvas[0])), int(round(canvas[1])), ctx.get("max_size", MAX_SIZE))
        inner = (cw, even(ch * (1 - 2 * bar))) if axis == "y" else (even(cw * (1 - 2 * bar)), ch)
        x0, y0 = (cw - inner[0]) // 2, (ch - inner[1]) // 2
        return Step(name, {"bar": bar, "content": [x0, y0, *inner]}, (cw, ch))

    return plan


_WORDS = ("breaking", "news", "live", "exclusive", "watch", "now", "full", "video", "replay", "today",
          "best", "moments", "original", "subscribe", "channel", "viral", "clip", "world", "top", "new")


def _text(strength: str, rng: np.random.Generator, size: tuple[int, int], ctx: Mapping[str, Any]) -> Step:
    from PIL import Image, ImageDraw

    w, h = size
    n_lines = 1 if strength == "weak" else int(rng.integers(2, 4))
    words = [str(_WORDS[int(i)]) for i in rng.integers(0, len(_WORDS), size=3 * n_lines)]
    lines = [" ".join(words[3 * i : 3 * i + 3]).upper() if strength == "strong" else " ".join(words[:3])
             for i in range(n_lines)]
    px = max(8, int(round(h * _pick(strength, 0.06, 0.10))))
    font = caption_font(px)
    measure = ImageDraw.Draw(Image.new("RGBA", (1, 1)))
    boxes = [tuple(int(v) for v in measure.textbbox((0, 0), line, font=font, stroke_width=2)) for line in lines]
    tw = min(w, max(b[2] - b[0] for b in boxes) + 8)
    th = min(h, sum(b[3] - b[1] + 4 for b in boxes) + 8)
    colour = tuple(int(c) for c in rng.integers(160, 256, size=3))
    x = int(rng.integers(0, max(1, w - tw + 1)))
    if strength == "weak":
        y0 = int(h - th - rng.integers(0, max(1, h // 10)))
    else:
        y0 = int(rng.integers(0, max(1, h - th + 1)))
    params = {"lines": lines, "font_px": px, "box": [x, max(0, y0), tw, th]}
    return Step("text", params, size, extra={"colour": colour, "line_boxes": boxes, "backdrop": strength == "strong"})


def _logo(strength: str, rng: np.random.Generator, size: tuple[int, int], ctx: Mapping[str, Any]) -> Step:
    w, h = size
    side = max(12, int(round(w * _u(rng, *_pick(strength, (0.12, 0.16), (0.22, 0.30))))))
    side = min(side, h - 4)
    alpha = _pick(strength, 150, 235)
    colour = tuple(int(c) for c in rng.integers(0, 256, size=3))
    shape = int(rng.integers(0, 3))
    letters = "".join(chr(ord("A") + int(i)) for i in rng.integers(0, 26, size=2))
    margin = max(2, min(w, h) // 30)
    corner = int(rng.integers(0, 4))
    x = margin if corner in (0, 2) else w - side - margin
    y = margin if corner in (0, 1) else h - side - margin
    params = {"side": side, "alpha": round(alpha / 255, 3), "corner": ["tl", "tr", "bl", "br"][corner],
              "letters": letters, "shape": ["circle", "square", "triangle"][shape]}
    return Step("logo", params, size, extra={"alpha": alpha, "colour": colour, "at": (max(0, x), max(0, y))})


def _pip(strength: str, rng: np.random.Generator, size: tuple[int, int], ctx: Mapping[str, Any]) -> Step:
    host = ctx.get("host")
    if host is None:
        raise ConfigError("pip needs host=<path of the clip to put the copy in>")
    hinfo = ctx.get("host_info") or probe(host)
    canvas = fit_size(hinfo.width, hinfo.height, ctx.get("max_size", MAX_SIZE))
    host_start = float(ctx.get("host_start", 0.0))
    host_end = float(ctx.get("host_end", hinfo.duration))
    frac = _pick(strength, 0.60, 0.35)
    iw = even(canvas[0] * frac)
    ih = even(iw * size[1] / size[0])
    if ih > 0.9 * canvas[1]:
        ih = even(canvas[1] * 0.9)
        iw = even(ih * size[0] / size[1])
    x = int(rng.integers(0, canvas[0] - iw + 1))
    y = int(rng.integers(0, canvas[1] - ih + 1))
    params = {"host": Path(host).stem, "host_start": round(host_start, 3), "scale": frac, "box": [x, y, iw, ih]}
    extra = {"path": str(host), "start": host_start, "span": max(host_end - host_start, 0.1), "fps": ctx["fps"]}
    return Step("pip", params, canvas, extra=extra)


def _speed(kind: str) -> Planner:
    def plan(strength: str, rng: np.random.Generator, size: tuple[int, int], ctx: Mapping[str, Any]) -> Step:
        factor = _pick(strength, 0.9, 0.75) if kind == "slow" else _pick(strength, 1.1, 1.25)
        return Step(f"speed-{kind}", {"speed": factor}, size, speed=factor)

    return plan


def _fps(strength: str, rng: np.random.Generator, size: tuple[int, int], ctx: Mapping[str, Any]) -> Step:
    return Step("fps", {"fps": FPS_TARGET[strength]}, size)


def _encode(codec: str) -> Planner:
    name = "encode-h264" if codec == "libx264" else "encode-vp9"

    def plan(strength: str, rng: np.random.Generator, size: tuple[int, int], ctx: Mapping[str, Any]) -> Step:
        enc = Encoder(codec=codec, crf=None, bpp=_pick(strength, 0.05, 0.015))
        return Step(name, enc.describe(), size, encoder=enc)

    return plan


@dataclass(frozen=True)
class Family:
    name: str
    plan: Planner
    kind: str  # "geometry", "pixel", "overlay", "composite", "time", "encode"
    description: str


# Registry order is the order in which members of a chain are applied.
FAMILIES: dict[str, Family] = {f.name: f for f in (
    Family("crop", _crop, "geometry", "crop 80-85% / 70-75% of each side"),
    Family("rotate", _rotate, "geometry", "rotate 2-5 / 8-14 degrees"),
    Family("hflip", _hflip, "geometry", "mirror left-right / left-right and upside-down"),
    Family("downscale", _downscale, "geometry", "downscale to 1/2 / 1/4"),
    Family("letterbox", _pad("y"), "geometry", "black bars above and below, 10% / 20% each"),
    Family("pillarbox", _pad("x"), "geometry", "black bars left and right, 10% / 20% each"),
    Family("color", _color, "pixel", "brightness, contrast, gamma"),
    Family("grayscale", _grayscale, "pixel", "70% / 100% desaturated"),
    Family("blur", _blur, "pixel", "Gaussian blur 0.6% / 1.6% of the shorter side"),
    Family("noise", _noise, "pixel", "Gaussian noise sigma 6 / 18"),
    Family("text", _text, "overlay", "caption / large text block"),
    Family("logo", _logo, "overlay", "small translucent / large opaque logo"),
    Family("pip", _pip, "composite", "copy inside another clip at 60% / 35% width"),
    Family("speed-slow", _speed("slow"), "time", "0.9x / 0.75x speed"),
    Family("speed-fast", _speed("fast"), "time", "1.1x / 1.25x speed"),
    Family("fps", _fps, "time", "15 / 10 fps"),
    Family("encode-h264", _encode("libx264"), "encode", "H.264 at 0.05 / 0.015 bits per pixel"),
    Family("encode-vp9", _encode("libvpx-vp9"), "encode", "VP9 at 0.05 / 0.015 bits per pixel"),
)}

TIME_FAMILIES = frozenset(n for n, f in FAMILIES.items() if f.kind == "time")
#: Families that may appear in a chain (pip needs a second clip and stays single).
CHAINABLE: tuple[str, ...] = tuple(n for n in FAMILIES if n != "pip")
#: Families the copied part of a partial copy may go through (frame by frame, same timing).
SPLICE_FAMILIES: tuple[str, ...] = tuple(n for n, f in FAMILIES.items() if f.kind in ("geometry", "pixel", "overlay"))
# At most one member of each group in a chain.
_EXCLUSIVE = ({"encode-h264", "encode-vp9"}, {"speed-slow", "speed-fast"}, {"letterbox", "pillarbox"},
              {"crop", "downscale"})


def plan_steps(chain: Sequence[str], strength: str, rng: np.random.Generator, size: tuple[int, int],
               ctx: Mapping[str, Any]) -> list[Step]:
    """The steps of `chain` in order, each planned on the previous one's output size."""
    steps: list[Step] = []
    for name in chain:
        step = FAMILIES[name].plan(strength, rng, size, ctx)
        size = step.size
        steps.append(step)
    return steps


def random_chain(rng: np.random.Generator, length: int | None = None,
                 families: Sequence[str] = CHAINABLE) -> tuple[str, ...]:
    """2-3 compatible families in application (registry) order."""
    n = int(rng.integers(2, 4)) if length is None else int(length)
    pool = list(families)
    chosen: list[str] = []
    while len(chosen) < n and pool:
        name = pool[int(rng.integers(0, len(pool)))]
        chosen.append(name)
        pool = [p for p in pool if p != name and not any(name in g and p in g for g in _EXCLUSIVE)]
    order = list(FAMILIES)
    return tuple(sorted(chosen, key=order.index))


def output_suffix(chain: Iterable[str]) -> str:
    """The file suffix a chain's output should get (.webm for VP9, else .mp4)."""
    return ".webm" if "encode-vp9" in tuple(chain) else ".mp4"
