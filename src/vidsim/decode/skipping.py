"""Which packets the decoder may drop when only the sampled frames are wanted.

FFmpeg's `skip_frame = "NONREF"` drops the frames no other frame is predicted from (in H.264
those with nal_ref_idc 0: most B-frames of x264's default encodes); the frames that remain
decode exactly as before. `SkipPlan` goes further than dropping them all: it keeps each frame
a sample shows (the sampling rule of vidsim.decode.sampler: the last frame with time <= t_k),
so the samples are the frames a full decode gives. It reads only packet timestamps, in decode
order: a packet's frame is shown by a sample unless another frame is seen to come after it and
no later than that sample (or before it, for the first frame); a packet still undecided waits
until the decode timestamps pass the sample time (no later packet can then be shown before it),
at most `MAX_PENDING` packets. Anything it cannot reason about (a missing timestamp, decode
timestamps going back) is decoded.
"""
from __future__ import annotations

import bisect
import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from vidsim.config import NonrefSkip as SkipMode

EPS = 1e-4  # seconds: the sampler's tolerance (vidsim.decode.sampler.EPS)
# Decoders whose "NONREF" drops only frames that no other frame refers to. HEVC is left out:
# its "sub-layer non-reference" pictures may be referred to by higher temporal layers.
SKIP_CODECS = frozenset({"h264", "mpeg1video", "mpeg2video", "mpeg4"})
# Demuxers whose packets carry each frame's own presentation time ("unsampled" reads them). AVI
# does not (its packets are in decode order, with packed B-frames in MPEG-4 part 2); elsewhere
# only "all" applies.
TIMED_FORMATS = frozenset({"mov", "mp4", "matroska", "webm", "mpegts", "mpeg"})
MAX_PENDING = 128  # packets held back at most before the oldest is decoded anyway

__all__ = ["SKIP_CODECS", "SkipMode", "SkipPlan", "skip_mode"]


def skip_mode(mode: str, codec: str, container_format: str) -> SkipMode:
    """The mode that applies to a stream of `codec` in a `container_format` file (FFmpeg's demuxer
    names, comma-separated): "off" where the decoder's NONREF is not known to drop only frames that
    nothing refers to, or for "unsampled" where packet times are not the frames' own."""
    if mode == "off" or codec not in SKIP_CODECS:
        return "off"
    if mode == "all":
        return "all"
    return "unsampled" if set(container_format.split(",")) & TIMED_FORMATS else "off"


@dataclass
class _Pending:
    packet: Any
    time: float | None  # presentation time, seconds
    sample: float  # the first sample time at or after `time` (+EPS)
    needed: bool | None = None


class SkipPlan:
    """Packets in decode order in (`push`), the same packets out with whether their frame must be
    decoded (`True`) or may be dropped if it is a non-reference frame (`False`)."""

    def __init__(self, fps: float, seconds: Callable[[int], float]):
        self.fps = float(fps)
        self.seconds = seconds
        self.pending: deque[_Pending] = deque()
        # presentation times seen, sorted; those before every pending packet's and the latest decode
        # time are dropped (no packet to decide can be shown before them)
        self.times: list[float] = []
        self.first: float | None = None  # the smallest presentation time seen
        self.dts: float | None = None  # the latest decode time seen
        self.reliable = True  # False once timestamps break the assumptions: decode everything
        self.dropped = 0  # packets handed out as droppable

    def _sample_after(self, time: float) -> float:
        """The first sample time t_k with time <= t_k + EPS."""
        k = max(0, math.ceil((time - EPS) * self.fps))
        while k > 0 and time <= (k - 1) / self.fps + EPS:
            k -= 1
        while time > k / self.fps + EPS:
            k += 1
        return k / self.fps

    def push(self, packet: Any) -> list[tuple[Any, bool]]:
        """Take the next packet; return the packets now decided, in decode order."""
        pts, dts = packet.pts, packet.dts
        if packet.is_discard:  # decoded for its references, never shown: neither evidence nor skipped
            self.pending.append(_Pending(packet, None, 0.0))
            return self._release(final=len(self.pending) > MAX_PENDING)
        time = self.seconds(pts) if pts is not None else None
        decode_time = self.seconds(dts) if dts is not None else None
        if time is None or (decode_time is not None and (time < decode_time - EPS or
                                                         (self.dts is not None and decode_time < self.dts))):
            self.reliable = False
        if decode_time is not None:
            self.dts = decode_time
        if time is not None:
            bisect.insort(self.times, time)
            self.first = time if self.first is None else min(self.first, time)
        self.pending.append(_Pending(packet, time, self._sample_after(time) if time is not None else 0.0))
        return self._release(final=len(self.pending) > MAX_PENDING)

    def finish(self) -> list[tuple[Any, bool]]:
        """At the end of the stream: every packet still held, decided."""
        return self._release(final=True, everything=True)

    def _release(self, final: bool, everything: bool = False) -> list[tuple[Any, bool]]:
        out: list[tuple[Any, bool]] = []
        while self.pending:
            entry = self.pending[0]
            if entry.needed is None:
                entry.needed = self._decide(entry, final)
            if entry.needed is None:
                break
            self.pending.popleft()
            if not entry.needed:
                self.dropped += 1
            out.append((entry.packet, entry.needed))
            final = everything  # MAX_PENDING forces out only the oldest packet
        floor = min((e.time for e in self.pending if e.time is not None), default=self.dts)
        if self.dts is not None:
            floor = self.dts if floor is None else min(floor, self.dts)
        elif len(self.times) <= 8 * MAX_PENDING:
            floor = None  # without decode times, keep some history for packets still to come
        if floor is not None:
            del self.times[:bisect.bisect_left(self.times, floor)]
        return out

    def _decide(self, entry: _Pending, final: bool) -> bool | None:
        """True: a sample shows this packet's frame (or it cannot be told); False: none does;
        None: not known yet."""
        if not self.reliable or entry.time is None:
            return True
        time, limit = entry.time, entry.sample + EPS
        times = self.times
        after = bisect.bisect_right(times, time)
        if after >= 2 and times[after - 2] == time:
            return True  # two frames at one time: which one the sampler keeps is left to the decoder
        later = after < len(times) and times[after] <= limit
        assert self.first is not None  # set by the push of this packet at the latest
        earlier = self.first < time
        if later and earlier:
            return False  # another frame is shown by then, and this is not the first frame
        if final:
            return True
        if self.dts is None:
            return None  # no decode times: wait for the evidence, or for MAX_PENDING
        if not later and self.dts > limit:
            return True  # the frame shown at entry.sample: no packet still to come is shown before it
        if not earlier and self.dts >= time:
            return True  # the first frame (shown by every sample before it)
        return None
