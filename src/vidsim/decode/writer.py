"""Encode upright RGB frames (and a mono audio track) into a file: the one video writer of vidsim.

    with VideoWriter("out.mp4", (320, 240), Fraction(25), VideoEncoding(options={"crf": "23"})) as w:
        for image in frames:
            w.write(image)

The container follows the file suffix. Muxers run with ``fflags +bitexact`` (no writing date or
library version in the file), so the same frames, encoder settings and PyAV build give the same
bytes; MP4-like files get their index first (``movflags +faststart``), so a cut-off file still opens.
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from types import TracebackType

import av
import numpy as np

__all__ = ["VideoEncoding", "VideoWriter", "write_audio_file"]

_MP4_LIKE = {".mp4", ".m4v", ".mov", ".m4a", ".3gp"}


@dataclass(frozen=True)
class VideoEncoding:
    """How the video stream is encoded. pix_fmt None picks the codec's 4:2:0 format (4:4:4 for odd
    sizes with x264/x265); threads=1 makes encoders give the same bytes on every machine."""

    codec: str = "libx264"
    options: Mapping[str, str] = field(default_factory=dict)
    pix_fmt: str | None = None
    bit_rate: int | None = None
    gop: int | None = None
    threads: int | None = None


def _container_options(path: Path) -> dict[str, str]:
    options = {"movflags": "+faststart"} if path.suffix.lower() in _MP4_LIKE else {}
    options["fflags"] = "+bitexact"
    return options


def _open_output(path: Path) -> av.container.OutputContainer:
    path.parent.mkdir(parents=True, exist_ok=True)
    return av.open(str(path), mode="w", options=_container_options(path))


def _pix_fmt(codec: str, width: int, height: int) -> str | None:
    formats = [f.name for f in (av.codec.Codec(codec, "w").video_formats or [])]
    if codec in ("libx264", "libx265") and (width % 2 or height % 2):
        return "yuv444p"  # their 4:2:0 needs even sizes
    preferred = ("yuvj420p", "yuv420p") if codec == "mjpeg" else ("yuv420p", "yuvj420p", "yuv444p")
    for name in preferred:
        if name in formats:
            return name
    return formats[0] if formats else None


def _audio_codec(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in (".webm", ".ogg", ".opus", ".ogv"):
        return "libopus"
    if suffix in (".avi", ".mpg", ".mpeg", ".ts", ".vob"):
        return "mp2"
    if suffix == ".wav":
        return "pcm_s16le"
    if suffix == ".flac":
        return "flac"
    return "aac"


def _add_audio_stream(container: av.container.OutputContainer, path: Path, rate: int) -> av.audio.stream.AudioStream:
    codec = _audio_codec(path)
    stream = container.add_stream(codec, rate=rate)
    assert isinstance(stream, av.audio.stream.AudioStream)
    stream.layout = "mono"
    formats = [f.name for f in (av.codec.Codec(codec, "w").audio_formats or [])]
    for name in ("fltp", "flt", "s16", "s16p"):
        if name in formats:
            stream.format = name
            break
    return stream


def _encode_audio(container: av.container.OutputContainer, stream: av.audio.stream.AudioStream,
                  wave: np.ndarray) -> None:
    """Encode mono samples in [-1, 1] in the codec's frame size, then flush the encoder."""
    rate = stream.codec_context.sample_rate
    chunk = stream.codec_context.frame_size or 1024
    fmt = stream.codec_context.format.name
    for start in range(0, len(wave), chunk):
        samples = np.asarray(wave[start : start + chunk], dtype=np.float32)[None, :]
        if fmt.startswith("s16"):
            samples = (samples * 32767).astype(np.int16)
        frame = av.AudioFrame.from_ndarray(samples, format=fmt, layout="mono")
        frame.sample_rate = rate
        frame.pts = start
        frame.time_base = Fraction(1, rate)
        for packet in stream.encode(frame):
            container.mux(packet)
    for packet in stream.encode(None):
        container.mux(packet)


class VideoWriter:
    """Write upright RGB uint8 [H, W, 3] frames of `size` (width, height) to `path`.

    Frame k is stamped k / fps unless `write` is given its time; `time_base` (default 1 / fps)
    is the resolution of given times. `rotation` (a multiple of 90) stores the pictures turned
    and a display matrix that turns them back, as phones do. `audio_rate` adds a mono audio
    stream, filled by `write_audio` after the last frame.
    """

    def __init__(self, path: str | os.PathLike, size: tuple[int, int], fps: Fraction,
                 encoding: VideoEncoding = VideoEncoding(), *, time_base: Fraction | None = None,
                 rotation: int = 0, audio_rate: int | None = None):
        if rotation % 90:
            raise ValueError(f"rotation must be a multiple of 90 degrees, got {rotation}")
        self.path = Path(path)
        self.size = (int(size[0]), int(size[1]))
        self._quarter = int(rotation // 90) % 4
        self._time_base = time_base if time_base is not None else 1 / Fraction(fps)
        self._regular = self._time_base == 1 / Fraction(fps)
        self._count = 0
        self._last_pts = -1
        self._video_done = False
        self._container = _open_output(self.path)
        try:
            self._video = self._add_video(fps, encoding)
            self._audio = _add_audio_stream(self._container, self.path, audio_rate) if audio_rate else None
        except Exception:
            self._container.close()
            raise

    def _add_video(self, fps: Fraction, encoding: VideoEncoding) -> av.video.stream.VideoStream:
        stored_w, stored_h = self.size[::-1] if self._quarter % 2 else self.size
        stream = self._container.add_stream(encoding.codec, rate=fps)
        assert isinstance(stream, av.video.stream.VideoStream)
        stream.width, stream.height = stored_w, stored_h
        pix_fmt = encoding.pix_fmt or _pix_fmt(encoding.codec, stored_w, stored_h)
        if pix_fmt:
            stream.pix_fmt = pix_fmt
        if encoding.bit_rate:
            stream.bit_rate = int(encoding.bit_rate)
        if encoding.gop:
            stream.gop_size = int(encoding.gop)
        stream.codec_context.time_base = self._time_base
        if encoding.threads is not None:
            stream.codec_context.thread_count = int(encoding.threads)
        stream.options = {k: str(v) for k, v in encoding.options.items()}
        if self._quarter:
            stream.set_display_rotation(self._quarter * 90)
        return stream

    def write(self, image: np.ndarray, time: float | None = None) -> None:
        """Encode one frame, shown at `time` seconds (None: the next k / fps)."""
        if image.shape[1::-1] != self.size:
            raise ValueError(f"frame {image.shape[1::-1]} does not match the stream size {self.size}")
        if time is None:
            if not self._regular:
                raise ValueError("frames need their time when the time base is not 1 / fps")
            pts = self._count
        else:
            pts = int(round(time / self._time_base))
        if pts <= self._last_pts:
            tick = float(self._time_base) * 1000
            raise ValueError(f"frame times must increase by at least {tick:g} ms")
        self._last_pts = pts
        self._count += 1
        stored = np.ascontiguousarray(np.rot90(image, k=-self._quarter))
        frame = av.VideoFrame.from_ndarray(stored, format="rgb24")
        frame.pts = pts
        frame.time_base = self._time_base
        for packet in self._video.encode(frame):
            self._container.mux(packet)

    def _finish_video(self) -> None:
        if not self._video_done:
            self._video_done = True
            for packet in self._video.encode(None):
                self._container.mux(packet)

    def write_audio(self, wave: np.ndarray) -> None:
        """End the video stream, then encode the whole audio track (mono samples in [-1, 1])."""
        if self._audio is None:
            raise ValueError("this writer has no audio stream (audio_rate=None)")
        self._finish_video()
        _encode_audio(self._container, self._audio, wave)

    @property
    def frames(self) -> int:
        return self._count

    def close(self) -> None:
        """Flush the encoder and close the file."""
        try:
            self._finish_video()
        finally:
            self._container.close()

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if exc_type is None:
            self.close()
        else:
            self._container.close()


def write_audio_file(path: str | os.PathLike, wave: np.ndarray, rate: int) -> Path:
    """A file holding only a mono audio track; the codec follows the suffix (.m4a, .wav, .ogg, ...)."""
    path = Path(path)
    container = _open_output(path)
    try:
        _encode_audio(container, _add_audio_stream(container, path, rate), wave)
    finally:
        container.close()
    return path
