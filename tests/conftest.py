"""Shared fixtures: generated clips (tests/clips.py), made once per session in a tmp dir."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # make `import clips` work

import clips  # noqa: E402
from vidsim import synth  # noqa: E402


@pytest.fixture(scope="session")
def clip_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("clips")


@pytest.fixture(scope="session")
def natural_mp4(clip_dir) -> Path:
    """4 s, 160x120, 25 fps, H.264 with B-frames, encoder-chosen keyframes."""
    return clips.natural(clip_dir / "natural.mp4", seed=1)


@pytest.fixture(scope="session")
def natural_mkv(clip_dir) -> Path:
    return clips.natural(clip_dir / "natural.mkv", seed=2, audio=True)


@pytest.fixture(scope="session")
def indexed_mp4(clip_dir) -> Path:
    """100 frames at 25 fps (4 s) showing their index, keyframe every 25 frames."""
    return clips.indexed(clip_dir / "indexed.mp4", count=100, gop=25)


@pytest.fixture(scope="session")
def indexed_intra(clip_dir) -> Path:
    """All-intra version of indexed_mp4 (every frame a keyframe)."""
    return clips.indexed(clip_dir / "indexed_intra.mp4", count=100, gop=1)


@pytest.fixture(scope="session")
def vfr_times() -> list[float]:
    return synth.vfr_times(6.0, fps=12, seed=5)


@pytest.fixture(scope="session")
def indexed_vfr_mkv(clip_dir, vfr_times) -> Path:
    return clips.indexed(clip_dir / "indexed_vfr.mkv", times=vfr_times, fps=12, gop=12)


@pytest.fixture(scope="session")
def indexed_vfr_mp4(clip_dir, vfr_times) -> Path:
    return clips.indexed(clip_dir / "indexed_vfr.mp4", times=vfr_times, fps=12)


@pytest.fixture(scope="session")
def indexed_ts(clip_dir) -> Path:
    """MPEG-TS: no seek index, so seeking relies on the probed keyframe interval."""
    return clips.indexed(clip_dir / "indexed.ts", count=100, gop=12)


@pytest.fixture(scope="session")
def indexed_webm(clip_dir) -> Path:
    """VP9 in WebM: the cues (index) are only loaded at the first seek."""
    return clips.indexed(clip_dir / "indexed.webm", count=100, gop=12, codec="libvpx-vp9")
