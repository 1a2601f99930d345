"""Named video transforms for the copy-detection benchmark, each at two strengths.

Every transform decodes a segment ``[start, end)`` of a source with PyAV, samples it on a
constant frame-rate grid, changes the frames with numpy/Pillow and re-encodes them with
PyAV (encoders run single-threaded, so the same inputs and seed give the same bytes). It
returns a `TransformRecord` holding the true time mapping: the query interval
``[query_start, query_end]`` of the output shows the source interval ``[src_start, src_end]``.

    rec = TRANSFORMS["crop"](src, "q.mp4", 12.0, 20.0, "strong", np.random.default_rng(0))
    rec = apply_chain(("crop", "text", "encode-h264"), src, "q.mp4", 12.0, 20.0, "weak", rng)
    rec = splice(src, "p.mp4", 12.0, 16.0, host=other, host_start=3.0, before=2.0, after=3.0,
                 strength="weak", rng=rng)

Families (weak / strong):

=============  ======================================================================
encode-h264    H.264 at a low bit rate: 0.05 / 0.015 bits per pixel (~290 / ~85 kb/s at 640x360x25)
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

Outputs keep the shorter side <= 360 and the longer <= 640 pixels (``max_size`` changes
that); everything but ``encode-*`` is written as H.264 CRF 23 (``DEFAULT_ENCODER``).
Source time is measured from the start of the video stream, as in `vidsim.decode`.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np

__all__ = [
    "STRENGTHS",
    "FAMILIES",
    "TRANSFORMS",
    "TIME_FAMILIES",
    "CHAINABLE",
    "Encoder",
    "DEFAULT_ENCODER",
    "REFERENCE_ENCODER",
    "TransformRecord",
    "apply_chain",
    "cut_segment",
    "splice",
    "random_chain",
    "output_suffix",
    "source_info",
    "read_frames",
    "SourceInfo",
]

STRENGTHS: tuple[str, ...] = ("weak", "strong")
MAX_SIZE: tuple[int, int] = (640, 360)  # (longer side, shorter side)
MAX_FPS = 30
_EPS = 1e-6


# --------------------------------------------------------------------------- encoders
@dataclass(frozen=True)
class Encoder:
    """How a transformed clip is encoded: CRF or bits per pixel (bit rate = bpp * w * h * fps)."""

    codec: str = "libx264"
    crf: int | None = 23
    bpp: float | None = None
    preset: str = "veryfast"
    max_bpp: float | None = 0.12  # CRF mode: VBV cap (keeps noisy clips small)

    def open(self, container, fps: Fraction, width: int, height: int):
        stream = container.add_stream(self.codec, rate=fps)
        stream.width, stream.height = width, height
        stream.pix_fmt = "yuv420p"
        stream.codec_context.time_base = 1 / fps
        stream.codec_context.thread_count = 1  # single-threaded: bit-exact across machines
        opts: dict[str, str] = {}
        if self.bpp is not None:
            stream.bit_rate = max(20_000, int(self.bpp * width * height * float(fps)))
        if self.codec == "libx264":
            opts["preset"] = self.preset
            # mbtree off: with it, this x264 gives different bytes from run to run on small frames
            x264 = ["mbtree=0"]
            if self.bpp is None and self.crf is not None:
                opts["crf"] = str(self.crf)
                if self.max_bpp:
                    kbps = max(50, int(self.max_bpp * width * height * float(fps) / 1000))
                    x264.append(f"vbv-maxrate={kbps}:vbv-bufsize={2 * kbps}")
            opts["x264-params"] = ":".join(x264)
        elif self.codec == "libvpx-vp9":
            opts.update({"deadline": "realtime", "cpu-used": "8", "row-mt": "0", "lag-in-frames": "0"})
            if self.bpp is None:
                opts.update({"crf": str(self.crf or 32), "b": "0"})
        stream.options = opts
        return stream

    def describe(self) -> dict[str, Any]:
        return {"codec": self.codec, **({"bpp": self.bpp} if self.bpp is not None else {"crf": self.crf})}


DEFAULT_ENCODER = Encoder()
REFERENCE_ENCODER = Encoder(crf=21)


class _Writer:
    def __init__(self, path: Path, fps: Fraction, size: tuple[int, int], encoder: Encoder):
        self.path, self.size = Path(path), size
        self.path.parent.mkdir(parents=True, exist_ok=True)
        options = {"movflags": "+faststart"} if self.path.suffix.lower() in (".mp4", ".mov", ".m4v") else {}
        # bitexact: muxers leave out the writing date and library version (WebM writes a date),
        # so one build gives the same bytes on every run
        options["fflags"] = "+bitexact"
        self.container = av.open(str(self.path), mode="w", options=options)
        try:
            self.stream = encoder.open(self.container, fps, *size)
        except Exception:
            self.container.close()
            raise
        self.count = 0

    def write(self, image: np.ndarray) -> None:
        if image.shape[1::-1] != self.size:
            raise ValueError(f"frame {image.shape[1::-1]} does not match the stream size {self.size}")
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")
        frame.pts = self.count
        self.count += 1
        for packet in self.stream.encode(frame):
            self.container.mux(packet)

    def close(self) -> None:
        try:
            for packet in self.stream.encode(None):
                self.container.mux(packet)
        finally:
            self.container.close()

    def __enter__(self):
        return self

    def __exit__(self, exc_type, *_):
        if exc_type is None:
            self.close()
        else:
            self.container.close()


# --------------------------------------------------------------------------- decoding
@dataclass(frozen=True)
class SourceInfo:
    """Display size (sample aspect ratio applied), frame rate, duration and codec of a video."""

    width: int
    height: int
    fps: float
    duration: float
    codec: str


def source_info(path: str | Path) -> SourceInfo:
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        w, h = s.codec_context.width, s.codec_context.height
        sar = s.sample_aspect_ratio
        if sar is not None and sar > 0 and sar != 1:
            w = int(round(w * float(sar)))
        rate = next((r for r in (s.average_rate, s.guessed_rate, s.base_rate) if r is not None and r > 0), None)
        if s.duration is not None and s.time_base is not None and s.duration > 0:
            dur = float(s.duration * s.time_base)
        elif c.duration:
            dur = c.duration / av.time_base
        else:
            dur = 0.0
        return SourceInfo(w, h, float(rate) if rate else 25.0, dur, s.codec_context.name)


def _even(x: float, lo: int = 2) -> int:
    return max(lo, int(round(x / 2)) * 2)


def fit_size(width: int, height: int, max_size: tuple[int, int] = MAX_SIZE) -> tuple[int, int]:
    """Scale (width, height) down so the longer side <= max_size[0], the shorter <= max_size[1]; even."""
    long_max, short_max = max_size
    scale = min(1.0, short_max / min(width, height), long_max / max(width, height))
    return _even(width * scale), _even(height * scale)


def _out_rate(fps: float) -> Fraction:
    """The constant frame rate to write for a source of `fps` (NTSC rates kept exact, <= 30)."""
    if fps <= 0:
        return Fraction(25)
    for r in (Fraction(24000, 1001), Fraction(30000, 1001)):
        if abs(fps - float(r)) < 0.01:
            return r
    return min(Fraction(MAX_FPS), Fraction(fps).limit_denominator(100))


class _Reader:
    """Frames of one video by display time, scaled to `size` (RGB), decoding forward from seeks."""

    def __init__(self, path: str | Path, size: tuple[int, int]):
        self.path, self.size = str(path), size
        self.container = None
        self.can_seek = True
        self._open(0.0)

    def _open(self, t: float) -> None:
        self.close()
        self.container = av.open(self.path)
        s = self.stream = self.container.streams.video[0]
        s.thread_type = "AUTO"
        self.tb = s.time_base
        self.origin = s.start_time if s.start_time is not None else 0
        self.seeked = False
        if self.can_seek and t > 1.5:
            try:
                self.container.seek(self.origin + int((t - 1.0) / self.tb), stream=s, backward=True)
                self.seeked = True
            except av.FFmpegError:
                self.can_seek = False
        self.frames = self.container.decode(s)
        self.cur = self.cur_t = self.cur_img = None
        self.index = 0
        self.nxt, self.nxt_t = self._next()

    def _next(self):
        for frame in self.frames:
            if frame.pts is not None:
                t = float((frame.pts - self.origin) * self.tb)
            else:
                t = (self.cur_t + 1 / 25) if self.cur_t is not None else 0.0
            self.index += 1
            return frame, t
        return None, None

    def at(self, t: float) -> np.ndarray:
        """The frame displayed at time t (the first frame before it starts, the last after the end)."""
        if self.cur_t is not None and (t < self.cur_t - _EPS or (t > self.cur_t + 5 and self.can_seek)):
            self._open(t)
        elif self.cur_t is None and self.seeked is False and t > 5 and self.index <= 1 and self.can_seek:
            self._open(t)
        while self.nxt is not None and self.nxt_t <= t + _EPS:
            self.cur, self.cur_t, self.cur_img = self.nxt, self.nxt_t, None
            self.nxt, self.nxt_t = self._next()
        if self.cur is None:
            if self.seeked:  # the seek landed after t: decode from the start instead
                self.can_seek = False
                self._open(0.0)
                return self.at(t)
            if self.nxt is None:
                raise ValueError(f"{self.path}: no video frames")
            self.cur, self.cur_t, self.cur_img = self.nxt, self.nxt_t, None
            self.nxt, self.nxt_t = self._next()
        if self.cur_img is None:
            w, h = self.size
            self.cur_img = self.cur.reformat(width=w, height=h, format="rgb24", interpolation="AREA").to_ndarray()
            self.cur_img.setflags(write=False)
        return self.cur_img

    def close(self) -> None:
        if self.container is not None:
            self.container.close()
            self.container = None

    def __enter__(self):
        return self

    def __exit__(self, *_):
        self.close()


def read_frames(path: str | Path, times: Iterable[float], size: tuple[int, int] | None = None) -> np.ndarray:
    """RGB frames [N, H, W, 3] displayed at `times` (seconds from the stream start), at `size` (w, h)."""
    if size is None:
        info = source_info(path)
        size = (info.width, info.height)
    with _Reader(path, size) as r:
        return np.stack([np.array(r.at(t)) for t in times])


# --------------------------------------------------------------------------- steps
@dataclass
class _Step:
    """One configured family: its output size, per-frame function and timing/encoder effects."""

    family: str
    params: dict[str, Any]
    size: tuple[int, int]
    apply: Callable[[np.ndarray, int], np.ndarray] | None = None
    speed: float = 1.0
    encoder: Encoder | None = None
    close: Callable[[], None] = lambda: None


Builder = Callable[[str, np.random.Generator, tuple[int, int], dict[str, Any]], _Step]


def _u(rng: np.random.Generator, lo: float, hi: float, nd: int = 3) -> float:
    return round(float(rng.uniform(lo, hi)), nd)


def _pick(strength: str, weak, strong):
    return weak if strength == "weak" else strong


def _pil(image: np.ndarray):
    from PIL import Image

    return Image.fromarray(image)


def _resize(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    from PIL import Image

    if image.shape[1::-1] == tuple(size):
        return image
    return np.asarray(_pil(image).resize(size, Image.BILINEAR, reducing_gap=3.0))


def _contain(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Fit image into a black canvas of `size`, keeping its aspect ratio, centred."""
    w, h = size
    ih, iw = image.shape[:2]
    s = min(w / iw, h / ih)
    cw, ch = max(1, min(w, int(round(iw * s)))), max(1, min(h, int(round(ih * s))))
    out = np.zeros((h, w, 3), np.uint8)
    y, x = (h - ch) // 2, (w - cw) // 2
    out[y : y + ch, x : x + cw] = _resize(image, (cw, ch))
    return out


def _downscale(strength, rng, size, ctx):
    f = _pick(strength, 2, 4)
    out = (_even(size[0] / f, 16), _even(size[1] / f, 16))
    return _Step("downscale", {"factor": 1 / f, "size": list(out)}, out, lambda im, k: _resize(im, out))


def _crop(strength, rng, size, ctx):
    lo, hi = _pick(strength, (0.80, 0.85), (0.70, 0.75))
    fw, fh = _u(rng, lo, hi), _u(rng, lo, hi)
    w, h = size
    cw, ch = _even(w * fw), _even(h * fh)
    x0, y0 = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
    params = {"keep_w": fw, "keep_h": fh, "box": [x0, y0, cw, ch]}
    return _Step("crop", params, (cw, ch), lambda im, k: im[y0 : y0 + ch, x0 : x0 + cw])


def _hflip(strength, rng, size, ctx):
    if strength == "weak":
        return _Step("hflip", {"axes": "x"}, size, lambda im, k: im[:, ::-1])
    return _Step("hflip", {"axes": "xy"}, size, lambda im, k: im[::-1, ::-1])


def _color(strength, rng, size, ctx):
    sign = 1 if rng.random() < 0.5 else -1
    if strength == "weak":
        b, c, g = sign * _u(rng, 0.04, 0.10), _u(rng, 0.85, 1.15), _u(rng, 0.8, 1.25)
    else:
        b = sign * _u(rng, 0.12, 0.22)
        c = _u(rng, 0.6, 0.75) if rng.random() < 0.5 else _u(rng, 1.35, 1.6)
        g = _u(rng, 0.55, 0.7) if rng.random() < 0.5 else _u(rng, 1.5, 1.8)
    x = np.arange(256, dtype=np.float64) / 255.0
    y = (np.power(x, g) - 0.5) * c + 0.5 + b
    lut = np.clip(np.round(y * 255), 0, 255).astype(np.uint8)
    return _Step("color", {"brightness": b, "contrast": c, "gamma": g}, size, lambda im, k: lut[im])


def _blur(strength, rng, size, ctx):
    from PIL import ImageFilter

    radius = round(min(size) * _pick(strength, 0.006, 0.016), 2)
    filt = ImageFilter.GaussianBlur(radius)
    return _Step("blur", {"radius": radius}, size, lambda im, k: np.asarray(_pil(im).filter(filt)))


def _noise(strength, rng, size, ctx):
    sigma = _pick(strength, 6.0, 18.0)
    seed = int(rng.integers(2**31))
    gen = np.random.default_rng(seed)

    def apply(im, k):
        n = gen.standard_normal(im.shape, dtype=np.float32) * sigma
        return np.clip(im.astype(np.float32) + n, 0, 255).astype(np.uint8)

    return _Step("noise", {"sigma": sigma, "seed": seed}, size, apply)


def _rotate(strength, rng, size, ctx):
    from PIL import Image

    lo, hi = _pick(strength, (2, 5), (8, 14))
    angle = _u(rng, lo, hi, 2) * (1 if rng.random() < 0.5 else -1)
    return _Step("rotate", {"degrees": angle}, size,
                 lambda im, k: np.asarray(_pil(im).rotate(angle, Image.BILINEAR, fillcolor=(0, 0, 0))))


def _grayscale(strength, rng, size, ctx):
    amount = _pick(strength, 0.7, 1.0)
    weights = np.array([0.299, 0.587, 0.114], np.float32)

    def apply(im, k):
        f = im.astype(np.float32)
        grey = (f @ weights)[..., None]
        out = grey if amount == 1.0 else f + amount * (grey - f)
        return np.clip(np.round(np.broadcast_to(out, im.shape)), 0, 255).astype(np.uint8)

    return _Step("grayscale", {"desaturation": amount}, size, apply)


def _pad(axis: str):
    name = "letterbox" if axis == "y" else "pillarbox"

    def build(strength, rng, size, ctx):
        bar = _pick(strength, 0.10, 0.20)
        w, h = size
        canvas = (w, h / (1 - 2 * bar)) if axis == "y" else (w / (1 - 2 * bar), h)
        cw, ch = fit_size(int(round(canvas[0])), int(round(canvas[1])), ctx.get("max_size", MAX_SIZE))
        if axis == "y":
            inner = (cw, _even(ch * (1 - 2 * bar)))
        else:
            inner = (_even(cw * (1 - 2 * bar)), ch)
        x0, y0 = (cw - inner[0]) // 2, (ch - inner[1]) // 2

        def apply(im, k):
            out = np.zeros((ch, cw, 3), np.uint8)
            out[y0 : y0 + inner[1], x0 : x0 + inner[0]] = _resize(im, inner)
            return out

        return _Step(name, {"bar": bar, "content": [x0, y0, *inner]}, (cw, ch), apply)

    return build


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


_WORDS = ("breaking", "news", "live", "exclusive", "watch", "now", "full", "video", "replay", "today",
          "best", "moments", "original", "subscribe", "channel", "viral", "clip", "world", "top", "new")


def _font(px: int):
    from PIL import ImageFont

    return ImageFont.load_default(size=max(8, int(px)))


def _text(strength, rng, size, ctx):
    from PIL import Image, ImageDraw

    w, h = size
    n_lines = 1 if strength == "weak" else int(rng.integers(2, 4))
    words = [str(_WORDS[int(i)]) for i in rng.integers(0, len(_WORDS), size=3 * n_lines)]
    lines = [" ".join(words[3 * i : 3 * i + 3]).upper() if strength == "strong" else " ".join(words[:3])
             for i in range(n_lines)]
    px = max(8, int(round(h * _pick(strength, 0.06, 0.10))))
    font = _font(px)
    probe = ImageDraw.Draw(Image.new("RGBA", (1, 1)))
    boxes = [probe.textbbox((0, 0), line, font=font, stroke_width=2) for line in lines]
    tw = min(w, max(b[2] - b[0] for b in boxes) + 8)
    th = min(h, sum(b[3] - b[1] + 4 for b in boxes) + 8)
    image = Image.new("RGBA", (tw, th), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    colour = tuple(int(c) for c in rng.integers(160, 256, size=3))
    if strength == "strong":
        draw.rectangle([0, 0, tw - 1, th - 1], fill=(0, 0, 0, 150))
    y = 4
    for line, box in zip(lines, boxes):
        draw.text((4 - box[0], y - box[1]), line, font=font, fill=colour + (255,), stroke_width=2,
                  stroke_fill=(0, 0, 0, 255))
        y += box[3] - box[1] + 4
    x = int(rng.integers(0, max(1, w - tw + 1)))
    if strength == "weak":
        y0 = int(h - th - rng.integers(0, max(1, h // 10)))
    else:
        y0 = int(rng.integers(0, max(1, h - th + 1)))
    params = {"lines": lines, "font_px": px, "box": [x, max(0, y0), tw, th]}
    return _Step("text", params, size, _Overlay(np.asarray(image), x, max(0, y0)))


def _logo(strength, rng, size, ctx):
    from PIL import Image, ImageDraw

    w, h = size
    side = max(12, int(round(w * _u(rng, *_pick(strength, (0.12, 0.16), (0.22, 0.30))))))
    side = min(side, h - 4)
    alpha = _pick(strength, 150, 235)
    image = Image.new("RGBA", (side, side), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    bg = tuple(int(c) for c in rng.integers(0, 256, size=3))
    fg = tuple(255 - c for c in bg)
    shape = int(rng.integers(0, 3))
    if shape == 0:
        draw.ellipse([0, 0, side - 1, side - 1], fill=bg + (alpha,), outline=fg + (alpha,), width=max(1, side // 16))
    elif shape == 1:
        draw.rounded_rectangle([0, 0, side - 1, side - 1], radius=side // 5, fill=bg + (alpha,))
    else:
        draw.polygon([(side // 2, 0), (side - 1, side - 1), (0, side - 1)], fill=bg + (alpha,))
    letters = "".join(chr(ord("A") + int(i)) for i in rng.integers(0, 26, size=2))
    font = _font(side * 0.42)
    bbox = draw.textbbox((0, 0), letters, font=font)
    draw.text(((side - bbox[2] - bbox[0]) / 2, (side - bbox[3] - bbox[1]) * 0.6), letters, font=font,
              fill=fg + (alpha,))
    margin = max(2, min(w, h) // 30)
    corner = int(rng.integers(0, 4))
    x = margin if corner in (0, 2) else w - side - margin
    y = margin if corner in (0, 1) else h - side - margin
    params = {"side": side, "alpha": round(alpha / 255, 3), "corner": ["tl", "tr", "bl", "br"][corner],
              "letters": letters, "shape": ["circle", "square", "triangle"][shape]}
    return _Step("logo", params, size, _Overlay(np.asarray(image), max(0, x), max(0, y)))


def _pip(strength, rng, size, ctx):
    host = ctx.get("host")
    if host is None:
        raise ValueError("pip needs host=<path of the clip to put the copy in>")
    hinfo = source_info(host)
    canvas = fit_size(hinfo.width, hinfo.height, ctx.get("max_size", MAX_SIZE))
    host_start = float(ctx.get("host_start", 0.0))
    host_end = float(ctx.get("host_end", hinfo.duration))
    span = max(host_end - host_start, 0.1)
    fps = ctx["fps"]
    frac = _pick(strength, 0.60, 0.35)
    iw = _even(canvas[0] * frac)
    ih = _even(iw * size[1] / size[0])
    if ih > 0.9 * canvas[1]:
        ih = _even(canvas[1] * 0.9)
        iw = _even(ih * size[0] / size[1])
    x = int(rng.integers(0, canvas[0] - iw + 1))
    y = int(rng.integers(0, canvas[1] - ih + 1))
    reader = _Reader(host, canvas)

    def apply(im, k):
        t = host_start + math.fmod(k / float(fps), span)
        out = np.array(reader.at(t))
        out[y : y + ih, x : x + iw] = _resize(im, (iw, ih))
        return out

    params = {"host": Path(host).stem, "host_start": round(host_start, 3), "scale": frac, "box": [x, y, iw, ih]}
    return _Step("pip", params, canvas, apply, close=reader.close)


def _speed(kind: str):
    def build(strength, rng, size, ctx):
        factor = _pick(strength, 0.9, 0.75) if kind == "slow" else _pick(strength, 1.1, 1.25)
        return _Step(f"speed-{kind}", {"speed": factor}, size, speed=factor)

    return build


_FPS_TARGET = {"weak": 15, "strong": 10}


def _fps(strength, rng, size, ctx):
    return _Step("fps", {"fps": _FPS_TARGET[strength]}, size)


def _encode(codec: str):
    name = "encode-h264" if codec == "libx264" else "encode-vp9"

    def build(strength, rng, size, ctx):
        enc = Encoder(codec=codec, crf=None, bpp=_pick(strength, 0.05, 0.015))
        return _Step(name, enc.describe(), size, encoder=enc)

    return build


@dataclass(frozen=True)
class Family:
    name: str
    build: Builder
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
# At most one member of each group in a chain.
_EXCLUSIVE = ({"encode-h264", "encode-vp9"}, {"speed-slow", "speed-fast"}, {"letterbox", "pillarbox"},
              {"crop", "downscale"})


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


# --------------------------------------------------------------------------- records
@dataclass(frozen=True)
class TransformRecord:
    """What a transform wrote and the true time mapping between its output and its source.

    The output interval [query_start, query_end] shows the source interval [src_start, src_end]
    (played at `speed`). `duration` is the output length (frames / fps).
    """

    path: Path
    family: str  # the family, "chain" for several, "none" for a plain cut, "splice" for a partial copy
    strength: str
    chain: tuple[str, ...]
    params: dict[str, Any]
    src_start: float
    src_end: float
    query_start: float
    query_end: float
    speed: float
    duration: float
    fps: float
    width: int
    height: int
    frames: int
    codec: str = "libx264"

    def to_query(self, t: float) -> float:
        """Output time showing source time t (inside the copied interval)."""
        return self.query_start + (t - self.src_start) / self.speed


TransformFn = Callable[..., TransformRecord]


def _check(strength: str, start: float, end: float) -> None:
    if strength not in STRENGTHS:
        raise ValueError(f"strength must be one of {STRENGTHS}, got {strength!r}")
    if not end > start >= 0:
        raise ValueError(f"need 0 <= start < end, got [{start}, {end}]")


def _frames_for(length: float, fps: Fraction) -> int:
    return max(1, math.ceil(length * fps - 1e-6))


def _configure(chain: Sequence[str], strength: str, rng: np.random.Generator, size: tuple[int, int],
               ctx: dict[str, Any]) -> list[_Step]:
    steps: list[_Step] = []
    try:
        for name in chain:
            step = FAMILIES[name].build(strength, rng, size, ctx)
            size = step.size
            steps.append(step)
    except Exception:
        for s in steps:
            s.close()
        raise
    return steps


def _run_steps(steps: Sequence[_Step], image: np.ndarray, k: int) -> np.ndarray:
    for s in steps:
        if s.apply is not None:
            image = s.apply(image, k)
    return image


def _params(steps: Sequence[_Step], fps: Fraction, encoder: Encoder) -> dict[str, Any]:
    out: dict[str, Any] = {s.family: s.params for s in steps}
    out["fps"] = round(float(fps), 3)
    out["encoder"] = encoder.describe()
    return out


def apply_chain(chain: Sequence[str], src: str | Path, dst: str | Path, start: float, end: float,
                strength: str, rng: np.random.Generator, **ctx: Any) -> TransformRecord:
    """Write source interval [start, end) of `src` to `dst` through the families in `chain`, in order.

    ctx: ``host``/``host_start``/``host_end`` (pip), ``fps`` (output rate when no fps family;
    default the source's, at most 30), ``max_size`` ((longer, shorter) side limits),
    ``encoder`` (an `Encoder` when no encode family), ``family`` (label for the record).
    """
    chain = tuple(chain)
    unknown = [n for n in chain if n not in FAMILIES]
    if unknown:
        raise ValueError(f"unknown transform(s) {unknown}; known: {sorted(FAMILIES)}")
    _check(strength, start, end)
    info = source_info(src)
    fps = Fraction(_FPS_TARGET[strength]) if "fps" in chain else Fraction(ctx.get("fps") or _out_rate(info.fps))
    work = fit_size(info.width, info.height, ctx.get("max_size", MAX_SIZE))
    ctx = dict(ctx, fps=fps)
    steps = _configure(chain, strength, rng, work, ctx)
    speed = math.prod(s.speed for s in steps)
    encoder = next((s.encoder for s in reversed(steps) if s.encoder), None) or ctx.get("encoder") or DEFAULT_ENCODER
    size = steps[-1].size if steps else work
    length = end - start
    n = _frames_for(length / speed, fps)
    try:
        with _Reader(src, work) as reader, _Writer(Path(dst), fps, size, encoder) as writer:
            for k in range(n):
                writer.write(_run_steps(steps, reader.at(start + k * speed / float(fps)), k))
    finally:
        for s in steps:
            s.close()
    family = ctx.get("family") or (chain[0] if len(chain) == 1 else ("chain" if chain else "none"))
    return TransformRecord(
        path=Path(dst), family=family, strength=strength, chain=chain, params=_params(steps, fps, encoder),
        src_start=round(float(start), 3), src_end=round(float(end), 3), query_start=0.0,
        query_end=round(length / speed, 3),
        speed=float(speed), duration=round(n / float(fps), 3), fps=round(float(fps), 3), width=size[0], height=size[1],
        frames=n, codec=encoder.codec,
    )


def cut_segment(src: str | Path, dst: str | Path, start: float, end: float, **ctx: Any) -> TransformRecord:
    """Re-encode [start, end) of `src` unchanged but for the size limit (a benchmark reference)."""
    ctx.setdefault("encoder", REFERENCE_ENCODER)
    return apply_chain((), src, dst, start, end, "weak", np.random.default_rng(0), **ctx)


def splice(src: str | Path, dst: str | Path, start: float, end: float, *, host: str | Path,
           host_start: float, before: float, after: float, strength: str, rng: np.random.Generator,
           chain: Sequence[str] = (), **ctx: Any) -> TransformRecord:
    """A partial copy: `before` s of `host` from host_start, then [start, end) of `src` (through the
    pixel/geometry/overlay families in `chain`, fitted into the host's frame), then `after` s more
    of the host. The copied part starts at a frame boundary; the record gives its true times."""
    chain = tuple(chain)
    bad = [n for n in chain if n not in FAMILIES or FAMILIES[n].kind in ("time", "encode", "composite")]
    if bad:
        raise ValueError(f"splice chain may hold only pixel/geometry/overlay families, not {bad}")
    _check(strength, start, end)
    if before < 0 or after < 0:
        raise ValueError("before and after must be >= 0")
    info, hinfo = source_info(src), source_info(host)
    fps = Fraction(ctx.get("fps") or _out_rate(info.fps))
    work = fit_size(info.width, info.height, ctx.get("max_size", MAX_SIZE))
    canvas = fit_size(hinfo.width, hinfo.height, ctx.get("max_size", MAX_SIZE))
    steps = _configure(chain, strength, rng, work, dict(ctx, fps=fps))
    encoder = ctx.get("encoder") or DEFAULT_ENCODER
    k0 = _frames_for(before, fps) if before > 0 else 0
    k1 = k0 + _frames_for(end - start, fps)
    n = k1 + (_frames_for(after, fps) if after > 0 else 0)
    f = float(fps)
    try:
        with _Reader(src, work) as reader, _Reader(host, canvas) as hreader, \
                _Writer(Path(dst), fps, canvas, encoder) as writer:
            for k in range(n):
                if k0 <= k < k1:
                    image = _contain(_run_steps(steps, reader.at(start + (k - k0) / f), k), canvas)
                else:
                    t = k / f if k < k0 else k0 / f + (k - k1) / f
                    image = hreader.at(host_start + t)
                writer.write(image)
    finally:
        for s in steps:
            s.close()
    params = _params(steps, fps, encoder)
    params["host"] = {"name": Path(host).stem, "start": round(float(host_start), 3),
                      "end": round(host_start + (k0 + n - k1) / f, 3)}
    q0 = k0 / f
    return TransformRecord(
        path=Path(dst), family=ctx.get("family") or "splice", strength=strength, chain=chain, params=params,
        src_start=round(float(start), 3), src_end=round(float(end), 3), query_start=round(q0, 3),
        query_end=round(q0 + (end - start), 3), speed=1.0, duration=round(n / f, 3), fps=round(f, 3),
        width=canvas[0], height=canvas[1], frames=n, codec=encoder.codec,
    )


def _single(name: str) -> TransformFn:
    def transform(src, dst, start, end, strength, rng, **ctx) -> TransformRecord:
        return apply_chain((name,), src, dst, start, end, strength, rng, **ctx)

    transform.__name__ = transform.__qualname__ = name.replace("-", "_")
    transform.__doc__ = f"{name}: {FAMILIES[name].description}. See apply_chain."
    return transform


#: name -> transform(src, dst, start, end, strength, rng, **ctx) -> TransformRecord
TRANSFORMS: Mapping[str, TransformFn] = {name: _single(name) for name in FAMILIES}
