"""Turn files and folders named by the user into the list of videos to process."""
from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from vidsim.errors import VideoError, VideoNotFoundError

# Lower-case suffixes searched for inside directories (files named explicitly are kept
# whatever their suffix). Containers FFmpeg reads that normally carry video.
VIDEO_EXTENSIONS: frozenset[str] = frozenset(
    {
        ".mp4", ".m4v", ".mov", ".qt", ".mkv", ".webm", ".avi", ".wmv", ".asf", ".flv", ".f4v",
        ".mpg", ".mpeg", ".m1v", ".m2v", ".mpe", ".vob", ".ts", ".mts", ".m2ts", ".tsv",
        ".3gp", ".3g2", ".ogv", ".mxf", ".dv", ".rm", ".rmvb", ".divx", ".nut", ".y4m",
        ".h264", ".264", ".h265", ".265", ".hevc", ".ivf",
    }
)


def is_video_name(path: str | os.PathLike) -> bool:
    return Path(path).suffix.lower() in VIDEO_EXTENSIONS


def find_videos(paths: Iterable[str | os.PathLike]) -> list[Path]:
    """Expand files and directories into a sorted, de-duplicated list of video paths.

    A file is kept as given, whatever its suffix. A directory is searched recursively for
    files whose suffix (any case) is in VIDEO_EXTENSIONS; hidden entries (names starting
    with '.', e.g. macOS '._clip.mp4' forks) are skipped and symlinked directories are
    not followed. Paths that resolve to the same file are listed once. Raises
    VideoNotFoundError for a path that does not exist.
    """
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    found: dict[str, Path] = {}

    def add(path: Path) -> None:
        found.setdefault(os.path.realpath(path), path)

    for item in paths:
        path = Path(item)
        if path.is_dir():
            for root, dirs, files in os.walk(path):
                dirs[:] = [d for d in dirs if not d.startswith(".")]
                for filename in files:
                    if not filename.startswith(".") and is_video_name(filename):
                        add(Path(root) / filename)
        elif path.exists():
            add(path)
        else:
            raise VideoNotFoundError(path, "no such file or directory")
    return sorted(found.values(), key=lambda p: (str(p).lower(), str(p)))


NO_VIDEOS = "no video files in this directory (searched recursively for video suffixes: .mp4, .mkv, .webm, ...)"


def check_inputs(paths: Iterable[str | os.PathLike]) -> tuple[list[str | os.PathLike], list[tuple[str, str]]]:
    """(the paths that hold videos, (path, reason) for each that does not: missing, or a
    directory without video files), so that a batch reports those and goes on with the rest."""
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    usable: list[str | os.PathLike] = []
    failed: list[tuple[str, str]] = []
    for item in paths:
        try:
            found = find_videos([item])
        except VideoError as exc:
            failed.append((exc.path, exc.reason))
            continue
        if found:
            usable.append(item)
        else:  # only a directory can hold nothing: a file is kept whatever its suffix
            failed.append((os.fspath(item), NO_VIDEOS))
    return usable, failed
