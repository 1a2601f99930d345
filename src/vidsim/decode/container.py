"""Open a file with PyAV and pick its video stream, turning every failure into a vidsim error."""
from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from fractions import Fraction

import av

from vidsim.errors import (
    NoFramesError,
    NotAVideoError,
    NoVideoStreamError,
    VideoNotFoundError,
    VideoTooLargeError,
)

# FFmpeg demuxers that happily "open" plain text as ANSI-art video: never a real video.
_TEXT_FORMATS = {"tty", "bin", "xbin", "adf", "idf", "ansi"}
_TEXT_CODECS = {"ansi", "bintext", "xbin", "idf"}


def _ffmpeg_reason(exc: Exception) -> str:
    reason = getattr(exc, "strerror", None) or str(exc)
    return str(reason)


def check_path(path: str | os.PathLike) -> str:
    """The path as a string when it names a readable regular file, else VideoNotFoundError."""
    name = os.fspath(path)
    if not os.path.exists(name):
        raise VideoNotFoundError(name, "no such file")
    if os.path.isdir(name):
        raise VideoNotFoundError(name, "is a directory, not a video file")
    if not os.access(name, os.R_OK):
        raise VideoNotFoundError(name, "cannot be read (permission denied)")
    if os.path.getsize(name) == 0:
        raise NotAVideoError(name, "empty file")
    return name


def open_container(path: str | os.PathLike) -> av.container.InputContainer:
    name = check_path(path)
    try:
        container = av.open(name, mode="r", metadata_errors="ignore")
    except FileNotFoundError as exc:  # av.error.FileNotFoundError subclasses it
        raise VideoNotFoundError(name, "no such file") from exc
    except PermissionError as exc:
        raise VideoNotFoundError(name, "cannot be read (permission denied)") from exc
    except IsADirectoryError as exc:
        raise VideoNotFoundError(name, "is a directory, not a video file") from exc
    except av.error.EOFError as exc:
        # The container header parses but the file ends before any media data.
        raise NoFramesError(name, "the file ends before any frame (empty or cut-off container)") from exc
    except (av.FFmpegError, UnicodeDecodeError, OSError) as exc:
        raise NotAVideoError(name, f"FFmpeg cannot read it as a media file ({_ffmpeg_reason(exc)})") from exc
    if container.format.name in _TEXT_FORMATS:
        container.close()
        raise NotAVideoError(name, f"looks like a text file (FFmpeg format '{container.format.name}'), not a video")
    return container


def select_video_stream(container: av.container.InputContainer, name: str) -> av.video.stream.VideoStream:
    """The first real video stream (cover art pictures of music files do not count)."""
    candidates = [
        s
        for s in container.streams.video
        if not (int(s.disposition) & int(av.stream.Disposition.attached_pic))
    ]
    if not candidates:
        held: list[str] = sorted({s.type for s in container.streams if s.type != "video"})
        if container.streams.video:
            held.append("a cover-art picture")
        what = ", ".join(held) if held else "no streams at all"
        raise NoVideoStreamError(name, f"no video stream (the file holds {what})")
    stream = candidates[0]
    if stream.codec_context is None:
        # PyAV answers codec questions through the decoder, absent here: the tag may be unknown too
        tag = getattr(stream, "codec_tag", None) or "unknown"
        raise NoFramesError(name, f"no FFmpeg decoder for its video codec ({tag})")
    if stream.codec_context.name in _TEXT_CODECS:
        raise NotAVideoError(name, f"looks like a text file (codec '{stream.codec_context.name}'), not a video")
    return stream


def check_size(stream: av.video.stream.VideoStream, name: str, max_pixels: int | None,
               width: int | None = None, height: int | None = None) -> None:
    """VideoTooLargeError when width * height exceeds max_pixels (None: no limit)."""
    if max_pixels is None or max_pixels <= 0:
        return
    w = width if width is not None else stream.codec_context.width
    h = height if height is not None else stream.codec_context.height
    if w and h and w * h > max_pixels:
        raise VideoTooLargeError(name, f"frame size {w}x{h} = {w * h} pixels exceeds max_pixels={max_pixels}")


@contextmanager
def open_video(path: str | os.PathLike, max_pixels: int | None = None) -> Iterator[tuple]:
    """(container, video stream) for a readable video, closed on exit; raises vidsim errors."""
    container = open_container(path)
    name = container.name
    try:
        stream = select_video_stream(container, name)
        check_size(stream, name, max_pixels)
        yield container, stream
    finally:
        container.close()


_DURATION_TAG = re.compile(r"^(\d+):(\d{2}):(\d{2}(?:\.\d+)?)$")


def stream_duration(stream) -> float | None:
    """The video stream's own duration in seconds (not the container's), if the file says."""
    if stream.duration is not None and stream.time_base is not None and stream.duration > 0:
        return float(stream.duration * stream.time_base)
    for key, value in (stream.metadata or {}).items():  # Matroska writes a per-stream DURATION tag
        if key.upper() == "DURATION":
            match = _DURATION_TAG.match(value.strip())
            if match:
                h, m, s = match.groups()
                return int(h) * 3600 + int(m) * 60 + float(s)
    return None


def container_duration(container) -> float | None:
    if container.duration is not None and container.duration > 0:
        return container.duration / av.time_base
    return None


def average_fps(stream) -> float:
    for rate in (stream.average_rate, stream.guessed_rate, stream.base_rate):
        if rate is not None and rate > 0:
            return float(rate)
    return 0.0


def stream_origin(stream) -> int:
    """Presentation timestamp (stream time base) that counts as time 0 of the video: the
    stream's start time, else the container's, else 0."""
    if stream.start_time is not None:
        return stream.start_time
    container = getattr(stream, "container", None)
    start = getattr(container, "start_time", None)
    if start is not None and stream.time_base:
        return int(Fraction(start, av.time_base) / stream.time_base)
    return 0


def time_base(stream) -> Fraction:
    return stream.time_base if stream.time_base is not None else Fraction(1, 1)
