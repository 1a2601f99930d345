"""Per-file choice between decoding everything and seeking, and of decoder threading.

The thresholds below come from timings recorded in docs/decoding.md.
"""
from __future__ import annotations

from typing import get_args

from vidsim.config import DecodeStrategy
from vidsim.cpus import available_cpus
from vidsim.errors import ConfigError

from .types import VideoInfo

# 'seek' is chosen when keyframes are at most this many sample periods apart (divided by the
# expected frame-thread speed-up, since 'decode' runs FFmpeg's frame threads from 720p up).
SEEK_MAX_KEYFRAME_PERIODS = 2.0
# Demuxers whose seeking is a byte-position guess and whose timestamps after a seek can
# differ from a straight decode (MPEG program streams, raw elementary streams): 'auto'
# never seeks in them.
IMPRECISE_SEEK_FORMATS = frozenset({"mpeg", "mpegvideo", "h264", "hevc", "m4v", "vc1", "cavsvideo"})
THREADED_MIN_PIXELS = 1280 * 720  # frame threading pays off from about 720p


def expected_thread_speedup(info: VideoInfo, threads: int = 0) -> float:
    """How much faster 'decode' is expected to run thanks to frame threads (>= 1)."""
    if threads == 1:
        return 1.0
    if threads <= 0 and info.width * info.height < THREADED_MIN_PIXELS:
        return 1.0
    workers = threads if threads > 0 else available_cpus()
    return max(1.0, min(workers, 8) / 2)  # frame threading scales roughly with half the cores


def choose_strategy(info: VideoInfo, fps: float, requested: str = "auto", threads: int = 0,
                    container_format: str = "") -> str:
    """'decode' or 'seek' for this file; `requested` other than 'auto' is returned as is.

    container_format is FFmpeg's demuxer name (a comma-separated list for some)."""
    if requested in ("decode", "seek"):
        return requested
    if requested not in get_args(DecodeStrategy):
        raise ConfigError(f"strategy must be one of {', '.join(get_args(DecodeStrategy))}, got {requested!r}")
    if set(container_format.split(",")) & IMPRECISE_SEEK_FORMATS:
        return "decode"
    interval = info.keyframe_interval
    if interval is None or not fps > 0:
        return "decode"  # fewer than two keyframes in the probed window: they are far apart
    limit = SEEK_MAX_KEYFRAME_PERIODS / fps / expected_thread_speedup(info, threads)
    return "seek" if interval <= limit else "decode"


def decoder_threads(info: VideoInfo, strategy: str, threads: int = 0) -> tuple[str, int]:
    """(thread_type, thread_count) for the decoder; threads > 0 forces that many."""
    if threads and threads > 0:
        return ("AUTO", threads) if threads > 1 else ("SLICE", 1)
    if strategy == "decode" and info.width * info.height >= THREADED_MIN_PIXELS:
        return "AUTO", 0  # frame + slice threads, FFmpeg picks the count from the CPUs
    return "SLICE", 0  # no frame-threading delay; slice/tile threads where the stream has them
