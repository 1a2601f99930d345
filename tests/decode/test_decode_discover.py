"""find_videos(): expanding user paths."""
from __future__ import annotations

from pathlib import Path

import pytest

from vidsim.decode import VIDEO_EXTENSIONS, find_videos
from vidsim.errors import VideoNotFoundError


def touch(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x")
    return path


def test_nested_directory(tmp_path):
    root = tmp_path / "videos"
    wanted = [
        touch(root / "a.mp4"),
        touch(root / "b.MKV"),
        touch(root / "sub" / "c.webm"),
        touch(root / "sub" / "deeper" / "d.mov"),
        touch(root / "sub" / "deeper" / "e.avi"),
    ]
    touch(root / "notes.txt")
    touch(root / "sub" / "cover.jpg")
    touch(root / "._a.mp4")  # macOS resource fork
    touch(root / ".hidden" / "x.mp4")
    found = find_videos([root])
    assert found == sorted(wanted, key=lambda p: str(p).lower())
    assert all(isinstance(p, Path) for p in found)


def test_files_kept_as_given_and_deduplicated(tmp_path):
    root = tmp_path / "v"
    a = touch(root / "a.mp4")
    odd = touch(tmp_path / "clip.data")  # named explicitly: kept whatever the suffix
    found = find_videos([str(a), root, odd, root / "." / "a.mp4"])
    assert found == sorted([a, odd], key=lambda p: str(p).lower())


def test_missing_path_raises(tmp_path):
    with pytest.raises(VideoNotFoundError):
        find_videos([tmp_path / "missing"])


def test_extensions_are_lowercase_with_dot():
    assert ".mp4" in VIDEO_EXTENSIONS and ".mkv" in VIDEO_EXTENSIONS
    assert all(e.startswith(".") and e == e.lower() for e in VIDEO_EXTENSIONS)


def test_empty_input():
    assert find_videos([]) == []
