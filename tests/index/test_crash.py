"""Crash safety and concurrency: `index add` killed (SIGKILL) at several points, and searches
while another process adds. The writer runs in a subprocess (crash_add.py)."""
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from vidsim.errors import IndexBusyError
from vidsim.index import Index

HARNESS = Path(__file__).with_name("crash_add.py")
NAMES = ["a", "b", "c"]


def _harness(directory, cache, point, nth, paths, **popen):
    cmd = [sys.executable, str(HARNESS), str(directory), cache, point, str(nth), *map(str, paths)]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **popen)


def _leftovers(directory: Path, index: Index) -> tuple[list[str], list[str]]:
    """(temporary files, codes files without a catalog row)."""
    tmp = [p.name for p in directory.rglob(".*.tmp")]
    referenced = {r.codes_file for r in index.list()}
    orphans = [p.relative_to(directory).as_posix() for p in (directory / "codes").rglob("*.safetensors")]
    return tmp, [p for p in orphans if p not in referenced]


@pytest.mark.parametrize("point, nth, committed", [
    ("extracting", 1, 0),  # killed while embedding the first video
    ("codes-written", 2, 1),  # the second video's codes file is in place, its row is not
    ("committed", 2, 2),  # the second row committed, the vector snapshot still holds only the first
    ("snapshot-rename", 2, 2),  # killed between writing the second snapshot and renaming it
])
def test_killed_add_leaves_an_index_that_opens_holds_committed_videos_and_resumes(
        tmp_path, index_clips, model, feature_cache, query_features, point, nth, committed):
    directory = tmp_path / "idx"
    Index.open(directory, model=model).close()
    paths = [index_clips[name] for name in NAMES]
    cache = "-" if point == "extracting" else str(feature_cache.root)
    proc = _harness(directory, cache, point, nth, paths)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == -signal.SIGKILL, err

    with Index.open(directory, model=model, cache=feature_cache) as index:
        assert [r.name for r in index.list()] == NAMES[:committed]
        assert index.stats().vectors == 8 * committed  # snapshot + catch-up from the codes files
        if committed:
            assert index.search(query_features["copy"], top_k=1)[0].path == str(index_clips["a"])
        tmp, orphans = _leftovers(directory, index)
        if point == "codes-written":
            assert len(orphans) == 1
        if point == "snapshot-rename":
            assert tmp
        report = index.add(paths)  # resume: the rest is added, committed videos are skipped
        assert [r.name for r in report.added] == NAMES[committed:] and len(report.skipped) == committed
        assert _leftovers(directory, index) == ([], [])
        assert index.stats().vectors == 24
        assert index.search(query_features["copy"], top_k=1)[0].path == str(index_clips["a"])


def test_searches_work_while_another_process_adds(tmp_path, index_clips, model, feature_cache, query_features):
    directory = tmp_path / "idx"
    with Index.open(directory, model=model, cache=feature_cache) as index:
        index.add([index_clips["a"]])
    reader = Index.open(directory, model=model, cache=feature_cache)  # opened before the add starts
    proc = _harness(directory, str(feature_cache.root), "pause", 1, [index_clips["b"], index_clips["c"]])
    try:
        deadline = time.monotonic() + 90
        while not (tmp_path / "ready").exists():  # the writer committed b and holds the lock
            assert proc.poll() is None, proc.communicate()[1]
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert reader.search(query_features["copy"], top_k=1)[0].path == str(index_clips["a"])
        assert [r.name for r in reader.list()] == ["a", "b"] and reader.stats().vectors == 16
        with Index.open(directory, model=model) as other:  # a fresh reader during the add
            assert other.stats().vectors == 16
            assert other.search(query_features["copy"], top_k=1)[0].path == str(index_clips["a"])
        with pytest.raises(IndexBusyError, match="another process"):
            reader.add([index_clips["c"]])
        (tmp_path / "go").touch()
        _, err = proc.communicate(timeout=90)
        assert proc.returncode == 0, err
        assert [r.name for r in reader.list()] == NAMES and reader.stats().vectors == 24  # caught up
        assert reader.search(query_features["copy"], top_k=1)[0].path == str(index_clips["a"])
    finally:
        if proc.poll() is None:
            proc.kill()
        reader.close()
