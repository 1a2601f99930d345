"""Cheap facts about a video: container metadata plus a short demux scan and one decoded frame."""
from __future__ import annotations

import os
from dataclasses import dataclass

import av

from vidsim.errors import NoFramesError

from .container import (
    average_fps,
    check_size,
    container_duration,
    open_video,
    stream_duration,
    stream_origin,
    time_base,
)
from .transform import Orientation, frame_orientation
from .types import VideoInfo

# Scan limits: enough packets to see a few keyframes of ordinary GOPs, never a whole long file.
SCAN_KEYFRAMES = 6
SCAN_PACKETS = 600
SCAN_BYTES = 32 << 20
SCAN_UNDECODABLE = 2000  # packets to try before deciding that nothing decodes


@dataclass(frozen=True)
class ScanResult:
    keyframe_times: tuple[float, ...]
    packets: int
    reached_end: bool
    first_frame_size: tuple[int, int] | None
    orientation: Orientation
    container_format: str = ""


def _scan(container, stream, name: str, max_pixels: int | None) -> ScanResult:
    """Demux the first packets: keyframe times, and decode until the first frame."""
    tb = time_base(stream)
    origin = stream_origin(stream)
    stream.thread_count = 1  # one frame only: no threading delay
    keyframes: list[float] = []
    packets = 0
    size = 0
    first = None
    reached_end = False
    demux = container.demux(stream)
    try:
        while True:
            try:
                packet = next(demux)
            except StopIteration:
                reached_end = True
                break
            except av.FFmpegError:
                reached_end = True
                packet = None
            if packet is not None and packet.size:
                packets += 1
                size += packet.size
                ts = packet.pts if packet.pts is not None else packet.dts
                if packet.is_keyframe and ts is not None:
                    keyframes.append(float((ts - origin) * tb))
            if first is None:
                try:
                    frames = stream.decode(packet if (packet is None or packet.size) else None)
                except av.FFmpegError:
                    frames = []
                if frames:
                    first = frames[0]
                    check_size(stream, name, max_pixels, first.width, first.height)
            if packet is None or not packet.size:
                reached_end = True
                break
            if first is not None and (
                len(keyframes) >= SCAN_KEYFRAMES or packets >= SCAN_PACKETS or size >= SCAN_BYTES
            ):
                break
            if first is None and packets >= SCAN_UNDECODABLE:
                break
    finally:
        demux.close()
    return ScanResult(
        keyframe_times=tuple(sorted(set(keyframes))),
        packets=packets,
        reached_end=reached_end,
        first_frame_size=(first.width, first.height) if first is not None else None,
        orientation=frame_orientation(first) if first is not None else Orientation(),
        container_format=container.format.name,
    )


def keyframe_interval(times: tuple[float, ...]) -> float | None:
    if len(times) < 2:
        return None
    return (times[-1] - times[0]) / (len(times) - 1)


def probe_file(path: str | os.PathLike, max_pixels: int | None = None) -> tuple[VideoInfo, ScanResult]:
    with open_video(path, max_pixels) as (container, stream):
        name = container.name
        scan = _scan(container, stream, name, max_pixels)
        if scan.first_frame_size is None and scan.reached_end:
            if scan.packets == 0:
                raise NoFramesError(name, "the video stream holds no frames")
            raise NoFramesError(name, f"none of the {scan.packets} video packets decodes")
        fps = average_fps(stream)
        duration = stream_duration(stream) or container_duration(container)
        frame_count = stream.frames or None
        if not duration and frame_count and fps:
            duration = frame_count / fps
        if scan.first_frame_size is not None:
            coded_w, coded_h = scan.first_frame_size
        else:
            coded_w, coded_h = stream.codec_context.width, stream.codec_context.height
        sar = stream.sample_aspect_ratio
        width = int(round(coded_w * float(sar))) if sar and sar > 0 else coded_w
        height = coded_h
        if scan.orientation.swaps_axes:
            width, height = height, width
        info = VideoInfo(
            path=name,
            duration=float(duration or 0.0),
            fps=fps,
            width=int(width),
            height=int(height),
            rotation=scan.orientation.rotation,
            codec=stream.codec_context.name,
            frame_count=frame_count,
            keyframe_interval=keyframe_interval(scan.keyframe_times),
            has_audio=any(s.type == "audio" for s in container.streams),
        )
        return info, scan


def probe(path: str | os.PathLike, max_pixels: int | None = None) -> VideoInfo:
    """Describe a video cheaply: container metadata, a short demux scan, one decoded frame.

    The keyframe interval is estimated from the keyframes among the first packets (at
    most 600 packets / 32 MB / 6 keyframes are read). The first frame is decoded to learn
    the display rotation and to check that the stream decodes. max_pixels (None: no
    limit) refuses oversized frames before any decoding.

    Raises VideoNotFoundError, NotAVideoError, NoVideoStreamError, NoFramesError (the
    scan reached the end of the file without a decodable frame) or VideoTooLargeError.
    """
    return probe_file(path, max_pixels)[0]
