"""Procedurally generated test videos (used by the tests), written with
`vidsim.decode.VideoWriter`.

`make_clip` renders shots of a smooth random colour field panned by a moving camera, with
textured shapes (stripes, checkers, rings, blocky noise) moving across it; the scene is a
pure function of (seed, time), so the same seed gives the same pictures at any frame rate
and different seeds give unrelated ones. `make_copy` writes a transformed near-duplicate
(centre crop, rescale, re-encode, optional new frame rate), `make_audio_only` a file
without video.
"""
from __future__ import annotations

import math
import os
from collections.abc import Iterable, Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np

from vidsim.decode import VideoEncoding, VideoWriter, write_audio_file

__all__ = ["make_clip", "make_copy", "make_audio_only", "render_frame", "write_video"]


# --------------------------------------------------------------------------- scene
class _Sprite:
    def __init__(self, rng: np.random.Generator, width: int, height: int):
        side = min(width, height)
        w = max(4, int(side * rng.uniform(0.18, 0.45)))
        h = max(4, int(side * rng.uniform(0.18, 0.45)))
        self.patch = _texture(rng, h, w)
        self.mask = _mask(rng, h, w)
        self.size = (w, h)
        # Positions may leave the frame by up to half the sprite; bounce off those limits.
        self.lo = (-w // 2, -h // 2)
        self.hi = (width - w // 2, height - h // 2)
        self.start = (rng.uniform(self.lo[0], self.hi[0]), rng.uniform(self.lo[1], self.hi[1]))
        speed = side * rng.uniform(0.15, 0.6)  # pixels per second
        angle = rng.uniform(0, 2 * math.pi)
        self.velocity = (speed * math.cos(angle), speed * math.sin(angle))

    def position(self, t: float) -> tuple[int, int]:
        x, y = (int(round(_bounce(self.start[i] + self.velocity[i] * t, self.lo[i], self.hi[i]))) for i in (0, 1))
        return x, y

    def paste(self, image: np.ndarray, t: float) -> None:
        x, y = self.position(t)
        w, h = self.size
        H, W = image.shape[:2]
        x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + w, W), min(y + h, H)
        if x1 <= x0 or y1 <= y0:
            return
        sub_mask = self.mask[y0 - y : y1 - y, x0 - x : x1 - x]
        region = image[y0:y1, x0:x1]
        region[sub_mask] = self.patch[y0 - y : y1 - y, x0 - x : x1 - x][sub_mask]


def _bounce(value: float, lo: float, hi: float) -> float:
    span = hi - lo
    if span <= 0:
        return lo
    phase = (value - lo) % (2 * span)
    return lo + (phase if phase <= span else 2 * span - phase)


def _colours(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.uniform(0, 255, size=(n, 3)).astype(np.float32)


def _texture(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    c1, c2 = _colours(rng, 2)
    kind = rng.integers(0, 4)
    if kind == 0:  # stripes at a random angle
        angle = rng.uniform(0, math.pi)
        period = rng.uniform(4, 14)
        wave = np.sin((xx * math.cos(angle) + yy * math.sin(angle)) * 2 * math.pi / period) > 0
    elif kind == 1:  # checkerboard
        cell = int(rng.integers(3, 10))
        wave = ((xx // cell + yy // cell) % 2) > 0
    elif kind == 2:  # concentric rings
        period = rng.uniform(4, 12)
        r = np.hypot(xx - w / 2, yy - h / 2)
        wave = np.sin(r * 2 * math.pi / period) > 0
    else:  # blocky noise
        cell = int(rng.integers(2, 6))
        small = rng.random(((h + cell - 1) // cell, (w + cell - 1) // cell)) > 0.5
        wave = np.repeat(np.repeat(small, cell, 0), cell, 1)[:h, :w]
    out = np.where(wave[..., None], c1, c2)
    return np.clip(out, 0, 255).astype(np.uint8)


def _mask(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    u, v = (xx + 0.5) / w * 2 - 1, (yy + 0.5) / h * 2 - 1
    kind = rng.integers(0, 4)
    if kind == 0:
        return np.ones((h, w), dtype=bool)
    if kind == 1:
        return u * u + v * v <= 1
    if kind == 2:
        return np.abs(u) + np.abs(v) <= 1
    return v >= np.abs(u) * 2 - 1  # triangle, apex up


def _interp_matrix(n_out: int, n_in: int) -> np.ndarray:
    """[n_out, n_in] weights of linear interpolation from n_in evenly spread samples."""
    pos = np.linspace(0, n_in - 1, n_out, dtype=np.float32)
    lo = np.minimum(pos.astype(int), max(n_in - 2, 0))
    frac = pos - lo
    weights = np.zeros((n_out, n_in), dtype=np.float32)
    weights[np.arange(n_out), lo] = 1 - frac
    if n_in > 1:
        weights[np.arange(n_out), lo + 1] += frac
    return weights


def _smooth_field(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """A random colour field: a coarse grid of colours, bilinearly interpolated, plus a grating."""
    gh, gw = int(rng.integers(2, 5)), int(rng.integers(2, 6))
    grid = _colours(rng, gh * gw).reshape(gh, gw, 3)
    rows = _interp_matrix(h, gh) @ grid.reshape(gh, gw * 3)  # [h, gw*3]
    field = np.matmul(_interp_matrix(w, gw)[None], rows.reshape(h, gw, 3))  # [h, w, 3]
    angle = rng.uniform(0, math.pi)
    period = rng.uniform(12, 40)
    k = 2 * math.pi / period
    grating = np.sin(np.arange(h, dtype=np.float32)[:, None] * (k * math.sin(angle))
                     + np.arange(w, dtype=np.float32)[None, :] * (k * math.cos(angle)))
    tint = (rng.uniform(15, 35) * rng.choice([-1.0, 1.0], size=3)).astype(np.float32)
    field += grating[..., None] * tint
    return np.clip(field, 0, 255).astype(np.uint8)


class _Shot:
    def __init__(self, seed: int, index: int, width: int, height: int, seconds: float):
        rng = np.random.default_rng([int(seed) & 0xFFFFFFFF, index, 0x51D])
        self.pad = max(4, min(width, height) // 6)
        self.background = _smooth_field(rng, height + 2 * self.pad, width + 2 * self.pad)
        pan = self.pad / max(seconds, 0.5)
        self.pan = (rng.uniform(-pan, pan), rng.uniform(-pan, pan))
        self.sprites = [_Sprite(rng, width, height) for _ in range(int(rng.integers(3, 7)))]
        self.size = (width, height)

    def render(self, t: float) -> np.ndarray:
        w, h = self.size
        ox = int(round(_bounce(self.pad + self.pan[0] * t, 0, 2 * self.pad)))
        oy = int(round(_bounce(self.pad + self.pan[1] * t, 0, 2 * self.pad)))
        image = self.background[oy : oy + h, ox : ox + w].copy()
        for sprite in self.sprites:
            sprite.paste(image, t)
        return image


class _Scene:
    def __init__(self, seed: int, size: tuple[int, int], shot_seconds: float):
        self.seed, self.size = seed, (int(size[0]), int(size[1]))
        self.shot_seconds = float(shot_seconds) if shot_seconds and shot_seconds > 0 else math.inf
        self._shot: _Shot | None = None
        self._index = -1

    def render(self, t: float) -> np.ndarray:
        index = int(t // self.shot_seconds) if math.isfinite(self.shot_seconds) else 0
        if self._shot is None or index != self._index:
            self._shot = _Shot(self.seed, index, *self.size, self.shot_seconds)
            self._index = index
        return self._shot.render(t - index * self.shot_seconds if index else t)


def render_frame(t: float, size: tuple[int, int] = (320, 240), seed: int = 0, shot_seconds: float = 3.0) -> np.ndarray:
    """The upright RGB uint8 [H, W, 3] picture `make_clip` shows at time t (seconds)."""
    return _Scene(seed, size, shot_seconds).render(t)


# --------------------------------------------------------------------------- writing
AUDIO_RATE = 48000


def _rate(fps: float | Fraction) -> Fraction:
    rate = Fraction(fps).limit_denominator(1001)
    if rate <= 0:
        raise ValueError(f"fps must be positive, got {fps}")
    return rate


def _encoder_options(codec: str, gop: int | None, extra: dict[str, Any]) -> dict[str, str]:
    options: dict[str, str] = {}
    if codec == "libx264":
        options.update(preset="superfast", crf="23")
        if gop:
            options["x264-params"] = f"keyint={gop}:min-keyint={gop}:scenecut=0"
    elif codec == "libx265":
        options.update(preset="ultrafast", crf="28")
        params = "log-level=error"
        if gop:
            params += f":keyint={gop}:min-keyint={gop}:scenecut=0"
        options["x265-params"] = params
    elif codec in ("libvpx", "libvpx-vp9"):
        options.update(deadline="realtime", **{"cpu-used": "8", "lag-in-frames": "0"})
    elif codec == "libsvtav1":
        options.update(preset="12")
    options.update({k: str(v) for k, v in extra.items()})
    return options


def _tone(seconds: float, seed: int, rate: int = AUDIO_RATE) -> np.ndarray:
    """A soft chord of three random pitches with a slow tremolo, mono float samples."""
    rng = np.random.default_rng([int(seed) & 0xFFFFFFFF, 0xA0D10])
    freqs = rng.uniform(180, 900, size=3)
    t = (np.arange(int(round(seconds * rate))) / rate).astype(np.float64)
    return sum(np.sin(2 * math.pi * f * t) for f in freqs) * (0.08 + 0.04 * np.sin(2 * math.pi * 0.3 * t))


def write_video(
    path: str | os.PathLike,
    frames: Iterable[np.ndarray],
    times: Iterable[float] | None = None,
    fps: float | Fraction = 25,
    codec: str = "libx264",
    rotation: int = 0,
    audio_seconds: float | None = None,
    gop: int | None = None,
    seed: int = 0,
    pix_fmt: str | None = None,
    bit_rate: int | None = None,
    **options: Any,
) -> Path:
    """Encode upright RGB uint8 [H, W, 3] frames to `path` (container from the suffix).

    times (seconds, increasing by >= 1 ms) gives each frame's timestamp on a 1 ms time
    base; None spaces them regularly at fps. rotation (multiple of 90) stores a display
    matrix turning the pictures that many degrees counter-clockwise, and the frames are
    stored turned the other way, so a player (or vidsim.decode) shows them as given.
    audio_seconds adds a tone track that long. Extra keyword arguments are encoder
    options (e.g. crf=30, preset="slow").
    """
    if times is None:
        timed: Iterable[tuple[float | None, np.ndarray]] = ((None, image) for image in frames)
    else:
        timed = zip(times, frames)
    return _encode(path, timed, fps=fps, codec=codec, rotation=rotation, audio_seconds=audio_seconds,
                   gop=gop, seed=seed, pix_fmt=pix_fmt, bit_rate=bit_rate, vfr=times is not None, options=options)


def _encode(
    path: str | os.PathLike,
    timed: Iterable[tuple[float | None, np.ndarray]],
    *,
    fps: float | Fraction,
    codec: str,
    rotation: int,
    audio_seconds: float | None,
    gop: int | None,
    seed: int,
    pix_fmt: str | None,
    bit_rate: int | None,
    vfr: bool,
    options: dict[str, Any],
) -> Path:
    path = Path(path)
    rate = _rate(fps)
    if rotation % 90:
        raise ValueError(f"rotation must be a multiple of 90 degrees, got {rotation}")
    items = iter(timed)
    first = next(items, None)
    if first is None:
        raise ValueError("write_video needs at least one frame")
    height, width = first[1].shape[:2]
    if not bit_rate and codec in ("mpeg4", "mpeg2video", "mpeg1video", "libvpx", "libvpx-vp9"):
        bit_rate = int(max(200_000, width * height * float(rate) * 0.15))
    encoding = VideoEncoding(codec=codec, options=_encoder_options(codec, gop, options), pix_fmt=pix_fmt,
                             bit_rate=bit_rate, gop=gop)
    with VideoWriter(path, (width, height), rate, encoding, time_base=Fraction(1, 1000) if vfr else None,
                     rotation=rotation, audio_rate=AUDIO_RATE if audio_seconds else None) as writer:
        for t, image in _chain(first, items):
            writer.write(image, t if vfr else None)
        if audio_seconds:
            writer.write_audio(_tone(audio_seconds, seed))
    return path


def _chain(first: tuple[float | None, np.ndarray],
           rest: Iterator[tuple[float | None, np.ndarray]]) -> Iterator[tuple[float | None, np.ndarray]]:
    yield first
    yield from rest


def vfr_times(seconds: float, fps: float, seed: int = 0) -> list[float]:
    """Irregular frame times (ms resolution) averaging about fps, with occasional long holds."""
    rng = np.random.default_rng([int(seed) & 0xFFFFFFFF, 0xF7])
    times, t = [], 0.0
    step = 1.0 / fps
    while t < seconds - 1e-9:
        times.append(t)
        gap = step * (rng.uniform(3, 8) if rng.random() < 0.05 else rng.uniform(0.4, 1.6))
        t = round(t + max(gap, 0.002), 3)
    return times


def make_clip(
    path: str | os.PathLike,
    seconds: float = 10.0,
    fps: float = 25,
    size: tuple[int, int] = (320, 240),
    seed: int = 0,
    codec: str = "libx264",
    shot_seconds: float = 3.0,
    rotation: int = 0,
    vfr: bool = False,
    audio: bool = False,
    gop: int | None = None,
    **kw: Any,
) -> Path:
    """Write `seconds` of generated video to `path` (container from the suffix).

    size is (width, height) as displayed; rotation (multiple of 90, counter-clockwise)
    stores the frames turned and a display matrix that turns them back, like a phone
    recording. vfr=True gives irregular timestamps averaging about fps (ms time base);
    audio=True adds a tone track; gop forces a keyframe every `gop` frames (None: encoder
    default, scene cuts included). Other keyword arguments: pix_fmt, bit_rate, or encoder
    options (crf=..., preset=...). Returns the path.
    """
    scene = _Scene(seed, size, shot_seconds)
    times = vfr_times(seconds, fps, seed) if vfr else [i / fps for i in range(max(1, int(round(seconds * fps))))]
    frames = (scene.render(t) for t in times)
    return write_video(
        path,
        frames,
        times=times if vfr else None,
        fps=fps,
        codec=codec,
        rotation=rotation,
        audio_seconds=seconds if audio else None,
        gop=gop,
        seed=seed,
        **kw,
    )


def make_audio_only(path: str | os.PathLike, seconds: float = 5.0, seed: int = 0) -> Path:
    """Write a tone-only file (no video stream); the codec follows the suffix (.m4a, .wav, ...)."""
    return write_audio_file(path, _tone(seconds, seed), AUDIO_RATE)


def make_copy(
    src: str | os.PathLike,
    dst: str | os.PathLike,
    crop: float = 0.8,
    scale: float = 0.5,
    codec: str = "libx264",
    bitrate: int | None = None,
    crf: int | None = None,
    fps: float | None = None,
) -> Path:
    """Write a transformed near-duplicate of `src`: upright frames centre-cropped to
    `crop` of each side, rescaled by `scale` (bicubic), re-encoded with `codec` at
    `bitrate` or `crf`; `fps` resamples the frame rate (None keeps the source timing)."""
    from vidsim.config import DecodeConfig
    from vidsim.decode import iter_decoded_frames, iter_frames, probe

    if not 0 < crop <= 1:
        raise ValueError(f"crop must be in (0, 1], got {crop}")
    if not scale > 0:
        raise ValueError(f"scale must be positive, got {scale}")

    def transform(image: np.ndarray) -> np.ndarray:
        h, w = image.shape[:2]
        ch, cw = max(2, int(round(h * crop))), max(2, int(round(w * crop)))
        top, left = (h - ch) // 2, (w - cw) // 2
        image = np.ascontiguousarray(image[top : top + ch, left : left + cw])
        out_w = max(2, int(round(cw * scale / 2)) * 2)
        out_h = max(2, int(round(ch * scale / 2)) * 2)
        frame = av.VideoFrame.from_ndarray(image, format="rgb24")
        return frame.reformat(width=out_w, height=out_h, format="rgb24", interpolation="BICUBIC").to_ndarray()

    options: dict[str, Any] = {}
    if crf is not None:
        options["crf"] = crf
    if fps is not None:
        config = DecodeConfig(fps=fps, resize=0, crop=0, batch_size=16, max_pixels=0)

        def frames() -> Iterator[np.ndarray]:
            for batch in iter_frames(src, config):
                for image in batch.frames:
                    yield transform(image)

        return write_video(dst, frames(), fps=fps, codec=codec, bit_rate=bitrate, **options)

    def source_frames() -> Iterator[tuple[float, np.ndarray]]:
        last = None
        for frame in iter_decoded_frames(src):
            t = round(frame.time, 3)
            if last is not None and t <= last:
                continue
            last = t
            yield t, transform(frame.to_rgb())

    rate = probe(src).fps or 25
    return _encode(dst, source_frames(), fps=rate, codec=codec, rotation=0, audio_seconds=None, gop=None,
                   seed=0, pix_fmt=None, bit_rate=bitrate, vfr=True, options=options)
