"""Per-file choice between decoding everything and seeking, and of decoder threading.

Cost model. 'decode' decodes every frame. 'seek' (see sampler.Sampler) jumps only when
the container index (or, without one, the probed keyframe interval) puts a keyframe
clearly between the decoded position and the next sample, so it never decodes more
frames than 'decode'; it saves about the part of each sample period that lies before
the last keyframe, i.e. a lot when keyframes are at most one sample period apart
(all-intra: only the sampled frames are decoded) and little beyond two periods.
Measured on generated H.264 clips (x264 veryfast, 25 fps; 60 s at 240p, 30 s at 720p)
on a 2-core x86 box, sampling at 1 frame/s, including colour conversion and resize;
milliseconds for decode (1 thread) / decode (frame threads) / seek:

    keyframes every   240p               720p
    frame (intra)     881 / 657 / 153    4050 / 4043 / 490
    0.52 s            552 / 776 / 348    1671 / 1287 / 561
    1.08 s            420 / 361 / 259    1599 / 1181 / 807
    2.04 s            373 / 380 / 306    1449 / 1539 / 1662
    4.84 s            393 / 346 / 309    1617 / 1936 / 1568
    10 s              398 / 507 / 440    (timer noise on the shared box)

(at 0.5 and 2 frames/s the crossing sits at the same number of sample periods),
so seeking is chosen when keyframes are at most SEEK_MAX_KEYFRAME_PERIODS sample periods
apart. From 720p up, 'decode' runs FFmpeg's frame threads (seeking would flush them at
every jump, measured slower), so the threshold is divided by the speed-up frame threads
are expected to bring (EXPECTED_THREAD_SPEEDUP, from the CPU count; 1 on the 2-core box
where it was measured).
"""
from __future__ import annotations

import os

from .types import VideoInfo

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
    workers = threads if threads > 0 else (os.cpu_count() or 1)
    return max(1.0, min(workers, 8) / 2)  # frame threading scales roughly with half the cores


def choose_strategy(info: VideoInfo, fps: float, requested: str = "auto", threads: int = 0,
                    container_format: str = "") -> str:
    """'decode' or 'seek' for this file; `requested` other than 'auto' is returned as is.

    container_format is FFmpeg's demuxer name (a comma-separated list for some)."""
    if requested in ("decode", "seek"):
        return requested
    if requested != "auto":
        raise ValueError(f"strategy must be 'auto', 'decode' or 'seek', got {requested!r}")
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
