"""Decoded frames of one video stream with their presentation times, tolerant of damage."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction

import av

from .container import average_fps, stream_origin, time_base
from .skipping import SkipMode, SkipPlan


@dataclass
class DamageReport:
    """What went wrong while reading; a non-empty report triggers TruncatedVideoWarning."""

    read_error: str | None = None  # the container could not be read further
    bad_packets: int = 0  # packets the decoder rejected (skipped)
    first_bad_time: float | None = None  # seconds, of the first rejected packet

    @property
    def damaged(self) -> bool:
        return self.read_error is not None or self.bad_packets > 0


class FrameSource:
    """Demux + decode one stream from the container's current position.

    `frames()` yields (seconds, frame) in presentation order: seconds is
    (pts - stream start) * time_base. Packets the decoder rejects are skipped and counted;
    a container read error ends the stream after draining the decoder. The caller seeks
    with `seek(seconds)`, which flushes the decoder.

    `skip` (vidsim.decode.skipping): "unsampled" lets the decoder drop the non-reference frames
    that no sample at `fps` shows, "all" every non-reference frame; the caller checks the codec.
    """

    def __init__(self, container, stream, errors: Callable[[], int] | None = None,
                 skip: SkipMode = "off", fps: float = 1.0):
        self.container = container
        self.stream = stream
        # FFmpeg's error count (vidsim.decode.errorlog); errors logged between a seek and the first
        # frame after it are expected (pictures referring to frames before the seek point, e.g.
        # "co located POCs unavailable") and kept apart in seek_errors
        self.errors = errors or (lambda: 0)
        self.seek_errors = 0
        self._settling_from: int | None = None
        self.tb: Fraction = time_base(stream)
        self._tb_num, self._tb_den = self.tb.numerator, self.tb.denominator
        self.origin: int = stream_origin(stream)
        self.skip = skip
        self.fps = fps
        self.dropped = 0  # packets the decoder was allowed to drop (non-reference frames among them were)
        fps = average_fps(stream)
        self.default_duration = 1.0 / fps if fps > 0 else 0.04
        self.damage = DamageReport()
        self.decoded = 0

    def concealed_errors(self) -> int:
        """FFmpeg errors logged while decoding, those logged while a seek settled left out."""
        total = self.errors()
        pending = total - self._settling_from if self._settling_from is not None else 0
        return max(0, total - self.seek_errors - pending)

    def seconds(self, pts: int) -> float:
        # float(Fraction((pts - origin) * num, den)), without building the Fraction: both round once
        return (pts - self.origin) * self._tb_num / self._tb_den

    def frame_duration(self, frame) -> float:
        duration = getattr(frame, "duration", None)
        if duration:
            seconds = float(duration * (frame.time_base or self.tb))
            if seconds > 0:
                return seconds
        return self.default_duration

    def seek(self, seconds: float) -> None:
        """Seek to the keyframe shown at or before `seconds` (FFmpeg seeks by presentation
        time); flushes the decoder; raises av.FFmpegError on failure."""
        timestamp = max(self.origin + int(seconds / self.tb), self.origin)
        if self._settling_from is None:
            self._settling_from = self.errors()
        self.container.seek(timestamp, stream=self.stream, backward=True, any_frame=False)

    def keyframe_before(self, seconds: float) -> float | None:
        """Estimated presentation time of the last indexed keyframe shown at or before
        `seconds`; None when the container has no usable index (yet: Matroska
        loads its cues at the first seek). Index timestamps are decode times in MP4, which
        run ahead of presentation by the reordering delay; that delay is added back."""
        try:
            entries = self.stream.index_entries
            if len(entries) < 2:
                return None
            delay = max(0, self.origin - entries[0].timestamp)
            target = self.origin + int(seconds / self.tb) - delay
            for _ in range(3):
                index = entries.search_timestamp(target, backward=True, any_frame=False)
                if index < 0:
                    return None
                entry = entries[index]
                shown = self.seconds(entry.timestamp + delay)
                if shown <= seconds + 1e-4:
                    return shown
                target = entry.timestamp - 1  # shown after `seconds`: take the one before
            return None
        except Exception:  # noqa: BLE001 - an index is an optimisation only
            return None

    def frames(self) -> Iterator[tuple[float, av.VideoFrame]]:
        stream = self.stream
        demux = self.container.demux(stream)
        plan = SkipPlan(self.fps, self.seconds) if self.skip == "unsampled" else None
        context = stream.codec_context
        if self.skip != "off":
            context.skip_frame = "NONREF" if self.skip == "all" else "DEFAULT"
        dropping = False
        last = None
        try:
            while True:
                try:
                    packet = next(demux)
                except StopIteration:
                    break
                except av.FFmpegError as exc:  # damaged or cut-off container data
                    if self.damage.read_error is None:
                        self.damage.read_error = str(getattr(exc, "strerror", None) or exc)
                    packet = None  # drain the decoder below
                if plan is None:
                    ready = [(packet, True)]
                elif packet is None or not packet.size:  # end of the stream (a flush): decide what is held
                    ready = [*plan.finish(), (packet, True)]
                else:
                    ready = plan.push(packet)
                for item, needed in ready:
                    if plan is not None and dropping == needed:
                        dropping = not needed
                        context.skip_frame = "NONREF" if dropping else "DEFAULT"
                    self.dropped += not needed
                    try:
                        decoded = stream.decode(item)
                    except av.FFmpegError:
                        self.damage.bad_packets += 1
                        if self.damage.first_bad_time is None and item is not None and item.pts is not None:
                            self.damage.first_bad_time = self.seconds(item.pts)
                        continue
                    for frame in decoded:
                        stamp = frame.pts if frame.pts is not None else frame.dts
                        if stamp is not None:
                            seconds = self.seconds(stamp)
                        elif last is not None:
                            seconds = last + self.default_duration
                        elif self.decoded == 0:
                            seconds = 0.0  # untimed stream: count from its first frame
                        else:
                            continue  # untimed frame right after a seek: cannot be placed
                        last = seconds
                        self.decoded += 1
                        if self._settling_from is not None:  # the first frame since a seek
                            self.seek_errors += self.errors() - self._settling_from
                            self._settling_from = None
                        yield seconds, frame
                if packet is None:
                    break
        finally:
            demux.close()
