"""Crashes the config fuzz target (tools/fuzz) found in reading an index's config.json; each is
now the "unreadable index configuration" ConfigError naming the file, and the CLI says so in one
line without a traceback, the index's data untouched."""
from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

import vidsim
from vidsim.config import VidsimConfig
from vidsim.errors import ConfigError
from vidsim.index import Index
from vidsim.index.config import IndexConfig, StoredConfig

GOOD = json.loads(StoredConfig(IndexConfig(), VidsimConfig(), "0123456789abcdef", 256, "v1").to_json())


def _with(path: str, value) -> str:
    """GOOD with the value at a dotted path replaced."""
    data = json.loads(json.dumps(GOOD))
    *parents, last = path.split(".")
    node = data
    for key in parents:
        node = node[key]
    node[last] = value
    return json.dumps(data)


@pytest.mark.parametrize("content, message", [
    ("[1, 2, 3]", "unreadable index configuration: the file must be a JSON object, not an array"),
    ('"config"', "the file must be a JSON object, not a string"),
    (_with("index", [1]), 'unreadable index configuration: "index" must be a JSON object, not an array'),
    (_with("vidsim", None), '"vidsim" must be a JSON object, not null'),
    (_with("index.search", 5), '"index.search" must be a JSON object, not a number'),
    (_with("format", 1e999), "unreadable index configuration .*OverflowError"),  # int(inf)
    (_with("dims", 1e999), "dims must be an integer, got inf"),
    ("[" * 100_000, "unreadable index configuration .*RecursionError"),
    (_with("index.code_bits", "512"), "index.code_bits must be an integer or null, got '512'"),
    (_with("index.search.candidates", [20]), r"index.search.candidates must be an integer, got \[20\]"),
    (_with("index.search.window_speed", "2"), "index.search.window_speed must be a number or null"),
    (_with("vidsim.decode.fps", "fast"), "decode.fps must be a number, got 'fast'"),
    (_with("feature_key", 12), "feature_key must be a string, got 12"),
    (_with("dims", "256"), "dims must be an integer, got '256'"),
])
def test_bad_config_json_is_a_config_error_naming_the_file(tmp_path, content, message):
    path = tmp_path / "config.json"
    path.write_text(content)
    with pytest.raises(ConfigError, match=message) as err:
        StoredConfig.read(path)
    assert str(err.value).startswith(f"{path}: ")


def test_the_written_config_still_reads_back(tmp_path):
    path = tmp_path / "config.json"
    path.write_text(json.dumps(GOOD))
    assert StoredConfig.read(path).to_json() == json.dumps(GOOD, indent=2, sort_keys=True)


def _cli(*args) -> subprocess.CompletedProcess:
    src = Path(vidsim.__file__).resolve().parents[1]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(src), os.environ.get("PYTHONPATH", "")]))
    return subprocess.run([sys.executable, "-m", "vidsim.cli.main", *map(str, args)], capture_output=True,
                          text=True, env=env, timeout=600)


def _data(directory: Path) -> tuple[int, int]:
    """(codes files, catalog rows) of an index, read without vidsim."""
    db = sqlite3.connect(directory / "catalog.sqlite")
    try:
        rows = db.execute("SELECT COUNT(*) FROM videos").fetchone()[0]
    finally:
        db.close()
    return len(list((directory / "codes").rglob("*.safetensors"))), rows


def test_cli_refuses_a_wrong_typed_config_json_in_one_line(tmp_path, index_clips, feature_cache):
    directory = tmp_path / "idx"
    with Index.open(directory, cache=feature_cache) as index:
        index.add([index_clips["a"], index_clips["b"]])
    config = directory / "config.json"
    good = config.read_text()
    data = json.loads(good)
    data["vidsim"]["decode"]["fps"] = "fast"
    config.write_text(json.dumps(data))
    for command in (["index", "list"], ["index", "stats"], ["search", index_clips["copy"], "--cache-dir", feature_cache.root]):
        proc = _cli(*command, "--index", directory)
        assert proc.returncode == 1, proc.stderr
        assert "Traceback" not in proc.stderr
        assert f"{config}: decode.fps must be a number, got 'fast'" in proc.stderr
    assert _data(directory) == (2, 2)
    config.write_text(good)
    proc = _cli("index", "list", "--index", directory, "--json")
    assert proc.returncode == 0 and len(json.loads(proc.stdout)["videos"]) == 2
