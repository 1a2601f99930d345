"""Bad inputs through the command line: every failure is one line, never a traceback (unless
--debug), batches report what failed and go on, and the data is still there afterwards.

Most run `vidsim` in a subprocess, as a user would; the error-handler cases that need a failure
planted in a command run in-process."""
from __future__ import annotations

import csv
import errno
import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import clips
from vidsim.synth import make_clip, make_copy

SRC = Path(__file__).resolve().parents[2] / "src"


def vidsim(*args) -> subprocess.CompletedProcess:
    """`vidsim ARGS` in a subprocess (this checkout's code); asserts that it printed no traceback."""
    proc = _run(*args)
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc


def _run(*args) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(SRC), os.environ.get("PYTHONPATH")]))}
    return subprocess.run([sys.executable, "-m", "vidsim.cli.main", *map(str, args)], capture_output=True,
                          text=True, env=env, timeout=300, check=False)


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("error:")]


def stored(index: Path) -> tuple[int, int]:
    """(codes files, catalog rows) of an index."""
    db = sqlite3.connect(f"file:{index / 'catalog.sqlite'}?mode=ro", uri=True)
    try:
        rows = db.execute("SELECT COUNT(*) FROM videos").fetchone()[0]
    finally:
        db.close()
    return len(list((index / "codes").rglob("*.safetensors"))), rows


@pytest.fixture(scope="module")
def media(tmp_path_factory):
    root = tmp_path_factory.mktemp("errors")
    (root / "videos").mkdir()
    a = make_clip(root / "videos" / "a.mp4", seconds=8, size=(160, 120), seed=23)
    b = make_clip(root / "videos" / "b.mp4", seconds=8, size=(160, 120), seed=24)
    copy = make_copy(a, root / "copy_of_a.mp4", crop=0.8, scale=0.7, crf=30)
    empty = root / "no-videos"
    (empty / "nested").mkdir(parents=True)
    (empty / "notes.txt").write_text("not a video\n")
    cache = root / "cache"
    index = root / "idx"
    proc = vidsim("index", "add", root / "videos", "--index", index, "--cache-dir", cache, "-q")
    assert proc.returncode == 0, proc.stderr
    return {"root": root, "a": a, "b": b, "copy": copy, "empty": empty, "cache": cache, "index": index}


# --- batches go on past bad inputs ------------------------------------------------------------------
def test_matrix_reports_missing_inputs_and_writes_the_matrix_of_the_rest(media, tmp_path):
    out = tmp_path / "m.csv"
    missing = tmp_path / "missing.mp4"
    proc = vidsim("matrix", media["a"], missing, media["empty"], media["b"], "--out", out,
                  "--cache-dir", media["cache"], "-q")
    assert proc.returncode == 2, proc.stderr  # some inputs failed, the rest went on
    lines = error_lines(proc.stderr)
    assert len(lines) == 2
    assert lines[0].startswith(f"error: {missing}: no such file")
    assert lines[1].startswith(f"error: {media['empty']}: no video files")
    rows = list(csv.reader(out.read_text().splitlines()))
    assert rows[0] == ["path", str(media["a"]), str(media["b"])] and len(rows) == 3
    matrix = np.array([[float(v) for v in r[1:]] for r in rows[1:]])
    np.testing.assert_allclose(np.diag(matrix), 1.0, atol=1e-4)
    proc = vidsim("matrix", missing, "--out", tmp_path / "none.csv", "-q")
    assert proc.returncode == 1 and len(error_lines(proc.stderr)) == 2  # the missing file, then "nothing left"


def test_index_add_of_a_folder_without_videos_says_so(media, tmp_path):
    index = tmp_path / "idx"
    proc = vidsim("index", "add", media["empty"], "--index", index, "-q")
    assert proc.returncode == 2, proc.stderr  # an input that yielded nothing counts as failed
    assert error_lines(proc.stderr) == [(f"error: {media['empty']}: no video files in this directory "
                                         "(searched recursively for video suffixes: .mp4, .mkv, .webm, ...)")]
    assert "added 0 videos" in proc.stdout and "1 failed" in proc.stdout
    proc = vidsim("index", "add", media["empty"], media["a"], "--index", index, "--cache-dir", media["cache"], "-q")
    assert proc.returncode == 2 and "added 1 videos" in proc.stdout, proc.stderr
    assert stored(index) == (1, 1)


# --- a wrong-shaped config.json -----------------------------------------------------------------------
@pytest.mark.parametrize("text, commands", [
    ("[1, 2, 3]", ["list", "stats", "search", "add"]),
    ('{"index": 5}', ["list"]),
    ('"an index"', ["stats"]),
    ('{"index": {"search": [1]}, "vidsim": {}, "feature_key": "x", "dims": 8}', ["list"]),
])
def test_a_wrong_shaped_config_json_is_the_unreadable_configuration_error(media, tmp_path, text, commands):
    index = tmp_path / "idx"
    shutil.copytree(media["index"], index)
    (index / "config.json").write_text(text)
    for command in commands:
        args = {"list": ["index", "list"], "stats": ["index", "stats"],
                "search": ["search", media["copy"], "--cache-dir", media["cache"], "-q"],
                "add": ["index", "add", media["b"], "--cache-dir", media["cache"], "-q"]}[command]
        proc = vidsim(*args, "--index", index)
        assert proc.returncode == 1, proc.stderr
        (line,) = error_lines(proc.stderr)
        assert line.startswith(f"error: {index / 'config.json'}: unreadable index configuration"), line
    assert stored(index) == (2, 2)


# --- warnings are one line --------------------------------------------------------------------------
def test_a_video_with_flipped_bytes_is_indexed_with_one_warning_line(media, tmp_path):
    source = clips.natural(tmp_path / "source.mp4", seconds=8, seed=31)
    damaged = clips.flipped_bytes(source, tmp_path / "flipped.mp4", seed=0)
    index = tmp_path / "idx"
    proc = vidsim("index", "add", damaged, "--index", index, "--no-cache", "-q")
    assert proc.returncode == 0 and "added 1 videos" in proc.stdout, proc.stderr
    warnings = [line for line in proc.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and warnings[0].startswith(f"warning: {damaged}: FFmpeg reported ")
    assert "decode errors" in warnings[0]
    assert stored(index) == (1, 1)


# --- similarity within [-1, 1] ------------------------------------------------------------------------
def test_search_similarities_stay_within_minus_one_and_one(media):
    """a's self-match, re-ranked on its binary codes, scores a little over 1 before clamping
    (1.0002 on the FFmpeg build the wheels ship); every reported score is within [-1, 1]."""
    proc = vidsim("search", media["a"], "--index", media["index"], "--json", "--cache-dir", media["cache"], "-q")
    assert proc.returncode == 0, proc.stderr
    results = json.loads(proc.stdout)["results"]
    assert results[0]["path"] == str(media["a"]) and results[0]["similarity"] == pytest.approx(1.0, abs=0.01)
    scores = [r["similarity"] for r in results] + [s["score"] for r in results for s in r["segments"]]
    assert all(-1.0 <= s <= 1.0 for s in scores)
    assert [r["similarity"] for r in results] == sorted((r["similarity"] for r in results), reverse=True)


def test_clamping_keeps_the_order_of_the_unclamped_scores(media):
    """Two candidates whose decoded regions overshoot (x 1.10 and x 1.05 a's own regions) both score
    1.0 once clamped, and stay in the order of their unclamped scores."""
    from vidsim.index import SearchConfig
    from vidsim.index.search import Candidate, rerank, rerank_candidates
    from vidsim.model import ViSiL
    from vidsim.store import FeatureCache

    model = ViSiL()
    features = model.extract_video(media["a"], cache=FeatureCache(media["cache"]))
    regions, times = features.regions, features.timestamps
    scale = {1: 1.05, 2: 1.10, 3: 0.5}

    def load(video_id, first, stop):
        return regions[first:stop] * scale[video_id], times[first:stop]

    config = SearchConfig(window_speed=None)
    found = [Candidate(v, 1.0, 1.0, 1.0, 0.0) for v in (1, 2, 3)]
    raw = rerank(model.head, regions, [(v, 0, len(regions)) for v in (1, 2, 3)], load)
    assert [r.video_id for r in raw] == [2, 1, 3] and raw[1].similarity > 1.0
    ranked = rerank_candidates(model.head, regions, times, found, lambda v: len(regions), load, config,
                               fps=1.0, top_k=3)
    assert [(r.video_id, r.similarity) for r, _ in ranked] == [
        (2, 1.0), (1, 1.0), (3, pytest.approx(raw[2].similarity))]
    assert all(s.score <= 1.0 for _, segments in ranked for s in segments)


# --- the top-level handler ---------------------------------------------------------------------------
def test_debug_shows_the_traceback_and_nothing_else_does(tmp_path):
    missing = tmp_path / "missing.mp4"
    plain = vidsim("compare", missing, missing, "--no-cache", "-q")
    assert plain.returncode == 1 and error_lines(plain.stderr) == [f"error: {missing}: no such file"]
    debug = _run("compare", missing, missing, "--no-cache", "-q", "--debug")
    assert debug.returncode == 1 and "Traceback" in debug.stderr and "VideoNotFoundError" in debug.stderr
    help_text = vidsim("--help").stdout + vidsim("compare", "--help").stdout
    assert "--debug" not in help_text  # hidden


@pytest.mark.parametrize("raised, expected", [
    (OSError(errno.ENOSPC, "No space left on device", "/data/idx/.vectors.faiss.k2j4h5g6.tmp"),
     "error: /data/idx/vectors.faiss: No space left on device (ENOSPC)"),
    (PermissionError(errno.EACCES, "Permission denied", "/data/out.csv"),
     "error: /data/out.csv: Permission denied (EACCES)"),
    (OSError(errno.EROFS, "Read-only file system"), "error: Read-only file system (EROFS)"),
    (RuntimeError("unexpected\nstate"),
     ("error: internal error (RuntimeError: unexpected state); rerun with --debug for the traceback, "
      "and please report it")),
])
def test_any_exception_leaving_a_command_is_one_line(monkeypatch, capsys, raised, expected):
    from vidsim.cli import main as cli

    def failing(args):
        raise raised

    monkeypatch.setattr(cli, "cmd_methods", failing)
    assert cli.main(["methods"]) == 1
    out, err = capsys.readouterr()
    assert out == "" and err == expected + "\n"
    with pytest.raises(type(raised)):
        cli.main(["methods", "--debug"])
