"""Counting the errors FFmpeg reports while decoding: damage the decoder conceals (a few flipped
bytes) leaves no other trace, the frames come out, degraded.

PyAV drops FFmpeg's log by default (level None), its error counter with it. While vidsim decodes,
the level is raised to PANIC: FFmpeg's errors then reach PyAV's counter, and nothing is printed
(only panics are passed on to Python's `logging`). The user's own level, if set, is left alone.
Decoder threads that log take the GIL, so a decoder is flushed (`quiesce`) before it is freed.
The counter is process-wide: files decoded at once in several threads share it.
"""
from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import av
import av.logging

_lock = threading.Lock()
_users = 0  # decodes counting right now
_restore_none = False  # the level was None (PyAV's default) before the first of them


@contextmanager
def counting_errors() -> Iterator[Callable[[], int]]:
    """Yield a function giving the FFmpeg errors logged since the block began."""
    global _users, _restore_none
    with _lock:
        if _users == 0:
            _restore_none = av.logging.get_level() is None
            if _restore_none:
                av.logging.set_level(av.logging.PANIC)
        _users += 1
    start = _error_count()
    try:
        yield lambda: _error_count() - start
    finally:
        with _lock:
            _users -= 1
            if _users == 0 and _restore_none:
                av.logging.set_level(None)


def quiesce(stream) -> None:
    """Let the decoder's threads finish (without holding the GIL) before the decoder is freed."""
    try:
        stream.codec_context.flush_buffers()
    except (av.FFmpegError, AttributeError):
        pass


def _error_count() -> int:
    return int(av.logging.get_last_error()[0])
