"""Full and read-only disks, and file permissions, through the command line (subprocesses).

The disks are small tmpfs mounts (filled to the last block, or remounted read-only), so these
tests run as root where mounting is allowed, and skip with the reason elsewhere. Every run
checks the exit status, that stderr holds no traceback, and that the data is still there
(codes files and catalog rows counted).
"""
from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"


def vidsim(*args, umask: int | None = None) -> subprocess.CompletedProcess:
    """`vidsim ARGS` in a subprocess (this checkout's code); asserts that it printed no traceback."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(SRC), os.environ.get("PYTHONPATH")]))}
    proc = subprocess.run([sys.executable, "-m", "vidsim.cli.main", *map(str, args)], capture_output=True,
                          text=True, env=env, timeout=300, check=False,
                          preexec_fn=None if umask is None else (lambda: os.umask(umask)))
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc


def stored(index: Path) -> tuple[int, int]:
    """(codes files, catalog rows) of an index, the rows read from a copy of its catalog (and WAL)."""
    codes = len(list((index / "codes").rglob("*.safetensors")))
    with tempfile.TemporaryDirectory() as tmp:
        for name in ("catalog.sqlite", "catalog.sqlite-wal"):
            if (index / name).exists():
                shutil.copy(index / name, tmp)
        db = sqlite3.connect(Path(tmp) / "catalog.sqlite")
        try:
            rows = db.execute("SELECT COUNT(*) FROM videos").fetchone()[0]
        finally:
            db.close()
    return codes, rows


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("error:")]


# --- small disks ------------------------------------------------------------------------------
class Tmpfs:
    """A tmpfs of `size` mounted at `path`, to be filled or remounted read-only."""

    def __init__(self, path: Path, size: str):
        self.path = path
        path.mkdir(parents=True)
        if os.geteuid() != 0:
            pytest.skip("needs root to mount a small tmpfs (disk-full and read-only file systems)")
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                              capture_output=True, text=True, check=False)
        if done.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
        self.filler = path / "filler"

    def fill(self, leave: int = 0) -> None:
        """Take every free block, then give back `leave` bytes."""
        fd = os.open(self.filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
        try:
            for chunk in (1 << 16, 4096, 512, 1):
                try:
                    while True:
                        os.write(fd, b"\0" * chunk)
                except OSError:
                    pass
        finally:
            os.close(fd)
        if leave:
            os.truncate(self.filler, max(0, self.filler.stat().st_size - leave))

    def free(self) -> None:
        self.filler.unlink(missing_ok=True)

    def read_only(self) -> None:
        subprocess.run(["mount", "-o", "remount,ro", str(self.path)], check=True)

    def unmount(self) -> None:
        if subprocess.run(["umount", str(self.path)], capture_output=True, check=False).returncode != 0:
            subprocess.run(["umount", "-l", str(self.path)], capture_output=True, check=False)


@pytest.fixture
def tmpfs(tmp_path):
    mounted: list[Tmpfs] = []

    def make(size: str = "1m") -> Tmpfs:
        mounted.append(Tmpfs(tmp_path / f"disk{len(mounted)}", size))
        return mounted[-1]

    yield make
    for disk in mounted:
        disk.unmount()


@pytest.fixture(scope="module")
def built(tmp_path_factory, index_clips, feature_cache) -> Path:
    """An index of a, b and c (on the ordinary disk), copied onto each small disk."""
    directory = tmp_path_factory.mktemp("disks") / "idx"
    proc = vidsim("index", "add", index_clips["a"], index_clips["b"], index_clips["c"], "--index", directory,
                  "--cache-dir", feature_cache.root, "-q")
    assert proc.returncode == 0, proc.stderr
    return directory


def _copy_index(built: Path, disk: Tmpfs) -> Path:
    index = disk.path / "idx"
    shutil.copytree(built, index)
    return index


def _reads(index: Path, index_clips, feature_cache) -> None:
    """list, stats and search all work and see the three videos."""
    import json

    proc = vidsim("index", "list", "--index", index, "--json")
    assert proc.returncode == 0, proc.stderr
    assert [v["name"] for v in json.loads(proc.stdout)["videos"]] == ["a", "b", "c"]
    proc = vidsim("index", "stats", "--index", index, "--json")
    assert proc.returncode == 0, proc.stderr
    stats = json.loads(proc.stdout)
    assert stats["videos"] == 3 and stats["vectors"] == 24  # caught up in memory
    proc = vidsim("search", index_clips["copy"], "--index", index, "--json", "--top", "1",
                  "--cache-dir", feature_cache.root, "-q")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["results"][0]["path"] == str(index_clips["a"])
    proc = vidsim("index", "check", "--index", index)
    assert proc.returncode == 0 and all(line.startswith("info: ") for line in proc.stdout.splitlines()), proc.stdout


# --- full disk --------------------------------------------------------------------------------
def test_add_on_a_full_disk_stops_with_one_line_loses_nothing_and_resumes(tmpfs, index_clips, feature_cache):
    disk = tmpfs("512k")
    index = disk.path / "idx"
    cache = ("--cache-dir", feature_cache.root)  # the cache lives on another disk
    assert vidsim("index", "add", index_clips["a"], "--index", index, *cache, "-q").returncode == 0
    committed = 1
    # no room at all, then room for about one video: each run stops at the write that fails
    for leave in (0, 80 * 1024):
        disk.fill(leave)
        proc = vidsim("index", "add", index_clips["videos"], "--index", index, *cache, "-q")
        assert proc.returncode == 1, proc.stderr
        (line,) = error_lines(proc.stderr)
        assert line.startswith(f"error: {index}: cannot write {index}/")
        assert "No space left on device (ENOSPC)" in line and "run the same command again to resume" in line
        added = int(re.search(r"(\d+) videos? added in this run", line).group(1))
        codes, rows = stored(index)
        committed += added
        assert rows == committed and committed <= codes <= committed + 1  # + the codes file of a row not committed
        disk.free()
    proc = vidsim("index", "add", index_clips["videos"], "--index", index, *cache, "-q")
    assert proc.returncode == 0, proc.stderr
    assert f"added {3 - committed} videos" in proc.stdout and f"skipped {committed} already indexed" in proc.stdout
    assert stored(index) == (3, 3)
    assert not list(index.rglob(".*.tmp"))


def test_reading_commands_work_on_a_full_disk(tmpfs, built, index_clips, feature_cache):
    disk = tmpfs("1m")
    index = _copy_index(built, disk)
    (index / "vectors.faiss").unlink()  # opening must catch up: it cannot write the snapshot now
    disk.fill()
    _reads(index, index_clips, feature_cache)
    assert not (index / "vectors.faiss").exists() and not list(index.rglob(".*.tmp"))
    assert stored(index) == (3, 3)


# --- read-only directory -------------------------------------------------------------------------
def test_reading_commands_work_on_a_read_only_mount_and_writers_say_why_they_cannot(
        tmpfs, built, index_clips, feature_cache):
    disk = tmpfs("1m")
    index = _copy_index(built, disk)
    (index / "vectors.faiss").unlink()
    disk.read_only()
    _reads(index, index_clips, feature_cache)
    for command in (["index", "add", index_clips["unrelated"], "--cache-dir", feature_cache.root, "-q"],
                    ["index", "remove", "1"]):
        proc = vidsim(*command, "--index", index)
        assert proc.returncode == 1, proc.stderr
        (line,) = error_lines(proc.stderr)
        assert f"cannot write {index}/write.lock: Read-only file system (EROFS)" in line
    assert stored(index) == (3, 3)


def test_a_read_only_index_with_a_write_ahead_log_shows_its_commits(tmpfs, index_clips, feature_cache):
    """A writer killed after its second commit leaves catalog.sqlite-wal and -shm beside the
    catalog; on a read-only mount both committed videos are listed and searched."""
    import signal

    disk = tmpfs("1m")
    index = disk.path / "idx"
    assert vidsim("index", "add", index_clips["c"], "--index", index, "--cache-dir", feature_cache.root,
                  "-q").returncode == 0
    harness = Path(__file__).with_name("crash_add.py")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(SRC), os.environ.get("PYTHONPATH")]))}
    killed = subprocess.run([sys.executable, str(harness), str(index), str(feature_cache.root), "committed", "2",
                             str(index_clips["a"]), str(index_clips["b"])], capture_output=True, text=True,
                            env=env, timeout=300, check=False)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert (index / "catalog.sqlite-wal").stat().st_size > 0
    disk.read_only()
    proc = vidsim("index", "list", "--index", index)
    assert proc.returncode == 0, proc.stderr
    assert [line.split()[-1] for line in proc.stdout.splitlines()[1:]] == [
        str(index_clips[name]) for name in ("c", "a", "b")]
    proc = vidsim("search", index_clips["copy"], "--index", index, "--top", "1", "--cache-dir",
                  feature_cache.root, "-q")
    assert proc.returncode == 0 and str(index_clips["a"]) in proc.stdout, proc.stderr


# --- permissions -------------------------------------------------------------------------------------
@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o077, 0o600)])
def test_index_files_get_the_umask_permissions(tmp_path, index_clips, feature_cache, umask, mode):
    index = tmp_path / "idx"
    proc = vidsim("index", "add", index_clips["a"], "--index", index, "--cache-dir", feature_cache.root, "-q",
                  umask=umask)
    assert proc.returncode == 0, proc.stderr
    files = [index / "config.json", index / "vectors.faiss", index / "catalog.sqlite",
             *(index / "codes").rglob("*.safetensors")]
    assert len(files) == 4
    assert {f.name: oct(f.stat().st_mode & 0o777) for f in files} == {f.name: oct(mode) for f in files}


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_atomic_writes_apply_the_umask(tmp_path, umask):
    from vidsim.fsutil import atomic_open, atomic_path, current_umask

    before = os.umask(umask)
    try:
        assert current_umask() == umask
        with atomic_open(tmp_path / "a.txt", "w", durable=True) as fh:
            fh.write("x")
        with atomic_path(tmp_path / "b.bin") as tmp:
            tmp.write_bytes(b"x")
    finally:
        os.umask(before)
    for name in ("a.txt", "b.bin"):
        assert (tmp_path / name).stat().st_mode & 0o777 == 0o666 & ~umask
