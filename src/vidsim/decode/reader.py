"""Sampled, upright, resized frames of a video, streamed in bounded batches."""
from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Iterator

import av
import numpy as np

from vidsim.config import DecodeConfig
from vidsim.errors import ConfigError, DecodeErrorWarning, NoFramesError, TruncatedVideoWarning

from .container import check_size, container_duration, open_video, stream_duration
from .errorlog import counting_errors, quiesce
from .probing import probe_file
from .sampler import Sampler
from .skipping import skip_mode
from .source import FrameSource
from .strategy import choose_strategy, decoder_threads
from .transform import Shaper
from .types import FrameBatch, VideoInfo


def iter_frames(path: str | os.PathLike, config: DecodeConfig = DecodeConfig()) -> Iterator[FrameBatch]:
    """Stream the sampled frames of a video as FrameBatch objects of config.batch_size.

    Samples are taken at t_k = k / config.fps seconds of presentation time from the start
    of the video stream; sample k is the frame being displayed at t_k, i.e. the last
    frame whose timestamp is <= t_k (the first frame for times before it), and sampling
    ends at the end of the last frame (see vidsim.decode.sampler). Batch timestamps are
    the t_k. Frames come out upright (display matrix applied), the shorter side resized
    to config.resize (bicubic, swscale; 0 keeps the decoded size, and the sample aspect
    ratio is honoured only when resizing), then centre-cropped to config.crop x
    config.crop (0: no crop; a side shorter than crop is kept whole), RGB uint8.

    Only one batch is held at a time. config.strategy picks how frames are reached
    ('auto' chooses per file, see vidsim.decode.strategy); both give the same samples.
    config.skip_nonref lets the decoder drop non-reference frames (vidsim.decode.skipping):
    'unsampled' (the default) only those no sample shows, so the samples are unchanged.

    The file is probed when this is called, so VideoNotFoundError, NotAVideoError,
    NoVideoStreamError, VideoTooLargeError and (mostly) NoFramesError are raised here,
    not at the first iteration. A damaged or cut-off file yields the frames before the
    damage and warns with TruncatedVideoWarning; damage the decoder concealed (FFmpeg
    reported errors, the frames came out) warns once with DecodeErrorWarning, naming the
    count; the frames are kept as decoded either way.
    """
    return open_frames(path, config, _warn)


WarnFn = Callable[[str, type[Warning]], None]  # (message, category): how a decode's warnings are issued


def _warn(message: str, category: type[Warning]) -> None:
    warnings.warn(message, category, stacklevel=5)  # the frame that iterates over iter_frames


def open_frames(path: str | os.PathLike, config: DecodeConfig, warn: WarnFn) -> Iterator[FrameBatch]:
    """`iter_frames` with its warnings handed to `warn` (a decode thread passes them on to its consumer)."""
    if not config.fps > 0:
        raise ConfigError(f"DecodeConfig.fps must be positive, got {config.fps}")
    if config.batch_size < 1:
        raise ConfigError(f"DecodeConfig.batch_size must be >= 1, got {config.batch_size}")
    info, scan = probe_file(path, max_pixels=config.max_pixels)
    strategy = choose_strategy(info, config.fps, config.strategy, config.threads, scan.container_format)
    return _generate(path, config, info, strategy, warn)


def _generate(path, config: DecodeConfig, info: VideoInfo, strategy: str, warn: WarnFn) -> Iterator[FrameBatch]:
    """Open the video, count FFmpeg's errors while decoding it, and let its decoder settle before closing."""
    with open_video(path, config.max_pixels) as (container, stream), counting_errors() as decode_errors:
        try:
            yield from _decode(container, stream, config, info, strategy, decode_errors, warn)
        finally:
            quiesce(stream)


def _decode(container, stream, config: DecodeConfig, info: VideoInfo, strategy: str,
            decode_errors: Callable[[], int], warn: WarnFn) -> Iterator[FrameBatch]:
    """The batches of one opened video; `decode_errors()` counts FFmpeg's errors so far."""
    name = container.name
    thread_type, thread_count = decoder_threads(info, strategy, config.threads)
    stream.thread_type = thread_type
    stream.thread_count = thread_count
    skip = skip_mode(config.skip_nonref, stream.codec_context.name, container.format.name)
    source = FrameSource(container, stream, decode_errors, skip, config.fps)
    sampler = Sampler(source, config.fps, strategy, seek_gap=info.keyframe_interval)
    shaper: Shaper | None = None
    frames: list[np.ndarray] = []
    times: list[float] = []
    shown: list[float] = []
    last_frame: av.VideoFrame | None = None
    last_image: np.ndarray | None = None
    total = 0
    for t, frame in sampler:
        if shaper is None:
            check_size(stream, name, config.max_pixels, frame.width, frame.height)
            shaper = Shaper.for_frame(frame, config.resize, config.crop, stream.sample_aspect_ratio)
        if frame is not last_frame or last_image is None:
            last_frame, last_image = frame, shaper(frame)
        frames.append(last_image)
        times.append(t)
        stamp = frame.pts if frame.pts is not None else frame.dts
        shown.append(source.seconds(stamp) if stamp is not None else float("nan"))
        total += 1
        if len(frames) == config.batch_size:
            yield _batch(frames, times, shown)
            frames, times, shown = [], [], []
    last_frame = last_image = None
    if frames:
        yield _batch(frames, times, shown)
    if total == 0:
        detail = source.damage.read_error or (
            f"{source.damage.bad_packets} packets failed to decode" if source.damage.bad_packets else None
        )
        raise NoFramesError(name, "no decodable frame" + (f" ({detail})" if detail else ""))
    _warn_if_damaged(name, source, sampler, stream, container, source.concealed_errors(), warn)


def _batch(frames: list[np.ndarray], times: list[float], shown: list[float]) -> FrameBatch:
    return FrameBatch(frames=np.stack(frames), timestamps=np.asarray(times, dtype=np.float64),
                      frame_times=np.asarray(shown, dtype=np.float64))


def _warn_if_damaged(name: str, source: FrameSource, sampler: Sampler, stream, container, errors: int,
                     warn: WarnFn) -> None:
    covered = sampler.end_time
    declared = stream_duration(stream)
    tolerance = 0.5 + 2 * source.default_duration
    if declared is None:
        declared = container_duration(container)  # may include longer audio: be lenient
        tolerance = max(2.0, 0.1 * declared) if declared else 0.0
    reasons = []
    if source.damage.read_error:
        reasons.append(f"reading stopped at damaged data ({source.damage.read_error})")
    if source.damage.bad_packets:
        where = source.damage.first_bad_time
        at = f" (first at {where:.2f} s)" if where is not None else ""
        reasons.append(f"{source.damage.bad_packets} damaged packet(s) skipped{at}")
    if declared and (covered is None or covered < declared - tolerance):
        got = f"{covered:.2f}" if covered is not None else "an unknown time"
        reasons.append(f"frames end at {got} s of the declared {declared:.2f} s")
    if reasons:
        if errors:
            reasons.append(f"FFmpeg reported {_errors(errors)}")
        warn(f"{name}: video looks truncated or damaged: {'; '.join(reasons)}; "
             "kept the frames decoded before the damage", TruncatedVideoWarning)
    elif errors:
        warn(f"{name}: FFmpeg reported {_errors(errors)} (damaged data, concealed by the decoder); "
             "the frames were kept as decoded and may be degraded", DecodeErrorWarning)


def _errors(count: int) -> str:
    return f"{count} decode error{'' if count == 1 else 's'}"


def load_video(path: str | os.PathLike, config: DecodeConfig = DecodeConfig()) -> np.ndarray:
    """All sampled frames as one uint8 [T, H, W, 3] array (use iter_frames for long videos)."""
    batches = [batch.frames for batch in iter_frames(path, config)]
    return batches[0] if len(batches) == 1 else np.concatenate(batches, axis=0)
