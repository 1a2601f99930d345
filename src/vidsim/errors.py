"""One exception type per failure a user can meet; each names the file and the reason."""
from __future__ import annotations

import os


class VidsimError(Exception):
    """Base of every error vidsim raises on purpose."""


class VideoError(VidsimError):
    """A problem with one input file; `path` and `reason` are kept for batch reports."""

    def __init__(self, path: str | os.PathLike, reason: str):
        self.path = os.fspath(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


class VideoNotFoundError(VideoError, FileNotFoundError):
    """The path does not exist or cannot be read."""


class NotAVideoError(VideoError):
    """FFmpeg cannot open the file as a media container."""


class NoVideoStreamError(VideoError):
    """The container opens but holds no video stream (audio only, subtitles...)."""


class NoFramesError(VideoError):
    """The video stream yields no decodable frame."""


class VideoTooLargeError(VideoError):
    """The frame size exceeds the configured limit (DecodeConfig.max_pixels)."""


class TruncatedVideoWarning(UserWarning):
    """Decoding stopped early at damaged data; the frames before the damage were kept."""


class DecodeErrorWarning(UserWarning):
    """FFmpeg reported errors while decoding a video (damaged data, concealed by the decoder):
    the frames were kept as decoded and may look damaged."""


class CacheWriteWarning(UserWarning):
    """A feature cache entry could not be written (disk full, read-only): the work goes on uncached."""


class ModelError(VidsimError):
    """A backbone, whitening or head cannot be built or loaded (unknown name, bad weights file)."""


class ConfigError(VidsimError, ValueError):
    """A configuration value or an input file (ground truth, config.json, recipe) is not valid.

    A ValueError too, so that callers which caught the ValueError raised before keep working."""


class ConfigMismatchError(VidsimError):
    """Features or an index were made with another configuration than the one asked for."""


class EngineError(VidsimError):
    """An extraction engine that cannot start or run: Ray not installed, no cluster at the address
    given, workers that cannot build the feature extractor or find no resources."""


class IndexBusyError(VidsimError):
    """Another process is writing to the index (adding or removing videos) right now."""


class IndexWriteError(VidsimError):
    """Writing to an index failed (disk full, read-only file system, permission denied); what
    had committed is kept, and running the same command again resumes."""

    def __init__(self, message: str, path: str | os.PathLike, cause: str):
        self.path = os.fspath(path)  # the file being written
        self.cause = cause  # e.g. "No space left on device (ENOSPC)"
        super().__init__(message)


class IndexDamagedError(VidsimError):
    """An index's files are damaged (catalog missing, empty or unreadable; a codes file unreadable
    or failing its checksum); the message names the damage and the repair command."""


class CodesDamagedError(IndexDamagedError):
    """One video's codes file is missing, unreadable or fails its checksum; `path` and `reason`
    are kept so that search can skip the video and say why."""

    def __init__(self, path: str | os.PathLike, reason: str):
        self.path = os.fspath(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


class IndexDamageWarning(UserWarning):
    """Damage an index command worked around: a vector snapshot rebuilt, a video skipped by search."""
