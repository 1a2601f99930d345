"""Every video the tests decode is generated here (into a pytest tmp directory).

Besides vidsim.synth's natural-looking clips, two kinds of pattern clips make decoded
output checkable exactly:
  * "indexed" clips draw the frame's index as a row of black/white bars (10 bits), so a
    decoded sample tells which source frame it is;
  * "quadrant" clips show a different flat colour in each quarter (red, green / blue,
    white), so orientation and RGB order can be read back.
Broken files (cut-off, garbage payload, header only, text, random bytes) are derived here too.
"""
from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from vidsim import synth

BITS = 10
BAR = 16  # pixels per bit
INDEX_SIZE = (BITS * BAR, 96)  # (width, height) of indexed clips

RED, GREEN, BLUE, WHITE = (255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 255)


# ------------------------------------------------------------------ pattern frames
def index_image(index: int, size: tuple[int, int] = INDEX_SIZE) -> np.ndarray:
    width, height = size
    image = np.zeros((height, width, 3), dtype=np.uint8)
    for bit in range(BITS):
        if (index >> bit) & 1:
            image[:, bit * BAR : (bit + 1) * BAR] = 255
    return image


def read_index(image: np.ndarray) -> int:
    """The index drawn by index_image, read from a decoded (resize=0, crop=0) frame."""
    gray = image.astype(np.float32).mean(axis=2)
    value = 0
    for bit in range(BITS):
        bar = gray[:, bit * BAR + 4 : (bit + 1) * BAR - 4]
        if bar.mean() > 128:
            value |= 1 << bit
    return value


def quadrant_image(width: int, height: int) -> np.ndarray:
    """Upright asymmetric pattern: red | green over blue | white."""
    image = np.zeros((height, width, 3), dtype=np.uint8)
    h2, w2 = height // 2, width // 2
    image[:h2, :w2] = RED
    image[:h2, w2:] = GREEN
    image[h2:, :w2] = BLUE
    image[h2:, w2:] = WHITE
    return image


def quadrant_colours(image: np.ndarray) -> list[tuple[int, int, int]]:
    """Mean colour (rounded to 0/255) at the centre of each quarter: TL, TR, BL, BR."""
    h, w = image.shape[:2]
    out = []
    for y in (h // 4, 3 * h // 4):
        for x in (w // 4, 3 * w // 4):
            patch = image[y - 2 : y + 3, x - 2 : x + 3].reshape(-1, 3).mean(axis=0)
            out.append(tuple(int(255 if c > 128 else 0) for c in patch))
    return out


# ------------------------------------------------------------------ writers
def natural(path: Path, **kw) -> Path:
    """A small synth clip (160x120, 4 s, 25 fps unless overridden)."""
    kw.setdefault("seconds", 4.0)
    kw.setdefault("size", (160, 120))
    return synth.make_clip(path, **kw)


def indexed(path: Path, times: list[float] | None = None, count: int = 100, fps: float = 25,
            gop: int | None = None, codec: str = "libx264") -> Path:
    """Frames showing their own index; `times` (s) gives variable timestamps, else regular."""
    n = len(times) if times is not None else count
    frames = (index_image(i) for i in range(n))
    extra = {"crf": 12} if codec == "libx264" else {}
    return synth.write_video(path, frames, times=times, fps=fps, codec=codec, gop=gop, **extra)


def stored_with_matrix(path: Path, stored: np.ndarray, degrees: int, hflip: bool = False,
                       count: int = 5, sar: Fraction | None = None) -> Path:
    """Write `stored` as is and attach PyAV's display matrix (degrees counter-clockwise)
    directly, independently of vidsim.synth's own rotation handling; `sar` sets a
    non-square sample aspect ratio."""
    height, width = stored.shape[:2]
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=10)
        stream.width, stream.height = width, height
        stream.pix_fmt = "yuv444p"
        stream.options = {"crf": "10", "preset": "veryfast"}
        if degrees or hflip:
            stream.set_display_rotation(degrees, hflip=hflip)
        if sar is not None:
            stream.codec_context.sample_aspect_ratio = sar
        for i in range(count):
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(stored), format="rgb24")
            frame.pts = i
            frame.time_base = Fraction(1, 10)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return path


def cut(src: Path, dst: Path, fraction: float = 0.5) -> Path:
    data = src.read_bytes()
    dst.write_bytes(data[: int(len(data) * fraction)])
    return dst


def garbage_payload(src: Path, dst: Path) -> Path:
    """Copy an MP4 keeping its boxes but overwriting the media data with noise: the
    container and its video stream open, no packet decodes."""
    data = bytearray(src.read_bytes())
    start, stop = _box(data, b"mdat")
    noise = np.random.default_rng(7).integers(0, 256, stop - start, dtype=np.uint8)
    noise[::4] = 0  # keep NAL length prefixes small but wrong
    data[start:stop] = noise.tobytes()
    dst.write_bytes(bytes(data))
    return dst


def flipped_bytes(src: Path, dst: Path, count: int = 100, seed: int = 5) -> Path:
    """Copy an MP4 with `count` bytes of its media data (mdat) inverted: it opens and decodes,
    the decoder conceals the damage (FFmpeg logs errors)."""
    data = bytearray(src.read_bytes())
    start, stop = _box(data, b"mdat")
    picks = np.random.default_rng(seed).choice(np.arange(start + 64, stop - 64), count, replace=False)
    for i in picks:
        data[i] ^= 0xFF
    dst.write_bytes(bytes(data))
    return dst


def _box(data: bytearray, wanted: bytes) -> tuple[int, int]:
    """[start, stop) of the payload of the first top-level MP4 box of type `wanted`."""
    pos = 0
    while pos + 8 <= len(data):
        size = int.from_bytes(data[pos : pos + 4], "big")
        header = 8
        if size == 1:
            size = int.from_bytes(data[pos + 8 : pos + 16], "big")
            header = 16
        if size < header:
            break
        if bytes(data[pos + 4 : pos + 8]) == wanted:
            return pos + header, pos + size
        pos += size
    raise AssertionError(f"no {wanted!r} box")


def header_only(path: Path) -> Path:
    """A Matroska file whose video stream never received a packet."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height = 64, 48
        stream.pix_fmt = "yuv420p"
        container.start_encoding()
    return path


def text_file(path: Path) -> Path:
    path.write_text("this is not a video\n" * 50)
    return path


def random_bytes(path: Path, size: int = 200_000, seed: int = 3) -> Path:
    path.write_bytes(np.random.default_rng(seed).integers(0, 256, size, dtype=np.uint8).tobytes())
    return path


def audio_only(path: Path, seconds: float = 2.0) -> Path:
    return synth.make_audio_only(path, seconds)


def audio_with_cover(path: Path, seconds: float = 1.0) -> Path:
    """Music-file style MP4: an audio track plus a cover-art picture (attached_pic)."""
    with av.open(str(path), "w") as container:
        audio = container.add_stream("aac", rate=48000)
        audio.layout = "mono"
        cover = container.add_stream("mjpeg", rate=1)
        cover.width, cover.height = 64, 64
        cover.pix_fmt = "yuvj420p"
        cover.disposition = av.stream.Disposition.attached_pic
        frame = av.VideoFrame.from_ndarray(quadrant_image(64, 64), format="rgb24")
        frame.pts = 0
        for packet in list(cover.encode(frame)) + list(cover.encode(None)):
            container.mux(packet)
        samples = int(seconds * 48000)
        tone = (0.1 * np.sin(np.arange(samples) / 48000 * 2 * np.pi * 440)).astype(np.float32)
        for start in range(0, samples, 1024):
            chunk = av.AudioFrame.from_ndarray(tone[None, start : start + 1024], format="fltp", layout="mono")
            chunk.sample_rate = 48000
            chunk.pts = start
            for packet in audio.encode(chunk):
                container.mux(packet)
        for packet in audio.encode(None):
            container.mux(packet)
    return path
