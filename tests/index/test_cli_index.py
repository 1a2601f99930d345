"""`vidsim index ...` and `vidsim search` in-process."""
import csv
import json

import pytest

from vidsim.cli.main import main


def _run(capsys, *args):
    code = main([*map(str, args)])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def cli_index(tmp_path_factory):
    return tmp_path_factory.mktemp("cli") / "idx"


def test_index_add_list_stats(cli_index, index_clips, feature_cache, capsys):
    cache = feature_cache.root
    code, out, err = _run(capsys, "index", "add", index_clips["videos"], index_clips["broken"], "--index", cli_index,
                          "--cache-dir", cache)
    assert code == 2  # one input failed; the others were indexed
    assert "added 3 videos" in out and "1 failed" in out
    assert f"error: {index_clips['broken']}" in err and "frames/s" in err  # progress bar on stderr
    code, out, _ = _run(capsys, "index", "add", index_clips["a"], "--index", cli_index, "--cache-dir", cache, "-q")
    assert code == 0 and "skipped 1 already indexed" in out
    code, out, _ = _run(capsys, "index", "list", "--index", cli_index, "--json")
    listed = json.loads(out)["videos"]
    assert [v["name"] for v in listed] == ["a", "b", "c"] and listed[0]["duration"] == pytest.approx(8, abs=0.5)
    code, out, _ = _run(capsys, "index", "list", "--index", cli_index)
    assert "00:08" in out and str(index_clips["c"]) in out
    code, out, _ = _run(capsys, "index", "stats", "--index", cli_index, "--json")
    stats = json.loads(out)
    assert stats["videos"] == 3 and stats["frames"] == 24 and set(stats["bytes"]) == {"catalog", "codes", "vectors", "config"}
    code, out, _ = _run(capsys, "index", "stats", "--index", cli_index)
    assert code == 0 and "/hour of video" in out and "int8x256" in out


def test_search_json_and_table(cli_index, index_clips, feature_cache, capsys):
    code, out, _ = _run(capsys, "search", index_clips["copy"], "--index", cli_index, "--json", "--top", "2",
                        "--cache-dir", feature_cache.root, "-q")
    assert code == 0
    result = json.loads(out)  # exactly one JSON object
    assert set(result) == {"query", "results", "threshold", "warnings"} and len(result["results"]) == 2
    assert result["warnings"] == []
    first = result["results"][0]
    assert set(first) == {"id", "path", "similarity", "is_copy", "segments"} and first["path"] == str(index_clips["a"])
    assert set(first["segments"][0]) == {"query_start", "query_end", "ref_start", "ref_end", "score"}
    assert first["similarity"] >= result["results"][1]["similarity"]
    code, out, _ = _run(capsys, "search", index_clips["copy"], "--index", cli_index, "--cache-dir", feature_cache.root, "-q")
    assert code == 0 and str(index_clips["a"]) in out and "00:00-00:0" in out


def test_search_options_whole_videos_and_candidates(cli_index, index_clips, feature_cache, capsys):
    windowed = _run(capsys, "search", index_clips["copy"], "--index", cli_index, "--json", "--top", "1",
                    "--cache-dir", feature_cache.root, "-q")
    whole = _run(capsys, "search", index_clips["copy"], "--index", cli_index, "--json", "--top", "1",
                 "--whole-videos", "--candidates", "3", "--cache-dir", feature_cache.root, "-q")
    assert windowed[0] == whole[0] == 0
    a, b = json.loads(windowed[1])["results"][0], json.loads(whole[1])["results"][0]
    # 8-s clips: the window holds the whole video, so both read the same frames
    assert a["path"] == b["path"] == str(index_clips["a"]) and a["similarity"] == pytest.approx(b["similarity"], abs=1e-6)
    from vidsim.index import SearchConfig

    with pytest.raises(SystemExit):
        main(["search", "--help"])
    out = " ".join(capsys.readouterr().out.split())  # argparse wraps the help lines
    assert "--whole-videos" in out and f"default: {SearchConfig().candidates}," in out  # the help says the default


def test_search_batch_writes_vsc_csv(cli_index, index_clips, feature_cache, capsys, tmp_path):
    out_csv = tmp_path / "matches.csv"
    code, _, _ = _run(capsys, "search", index_clips["queries"], "--index", cli_index, "--out", out_csv,
                      "--cache-dir", feature_cache.root, "--top", "1", "-q")
    assert code == 0
    rows = list(csv.DictReader(out_csv.open()))
    assert list(rows[0]) == ["query_id", "ref_id", "query_start", "query_end", "ref_start", "ref_end", "score", "is_copy"]
    copy_rows = [r for r in rows if r["query_id"] == "copy_of_a"]
    assert copy_rows and copy_rows[0]["ref_id"] == "a" and float(copy_rows[0]["query_end"]) > 6
    assert {r["query_id"] for r in rows} <= {"copy_of_a", "unrelated"}


def test_search_refuses_other_feature_options_and_missing_index(cli_index, index_clips, tmp_path, capsys):
    code, _, err = _run(capsys, "search", index_clips["copy"], "--index", cli_index, "--dims", "128", "--no-cache", "-q")
    assert code == 1 and "another feature configuration" in err and "dims" in err
    # codes other than the index's (the default, int8) are refused
    code, _, err = _run(capsys, "index", "add", index_clips["a"], "--index", cli_index, "--codes", "binary", "-q")
    assert code == 1 and "codes" in err
    code, _, err = _run(capsys, "search", index_clips["copy"], "--index", tmp_path / "none", "-q")
    assert code == 1 and "no vidsim index" in err


def test_remove(tmp_path, index_clips, feature_cache, capsys):
    directory = tmp_path / "idx"
    assert _run(capsys, "index", "add", index_clips["a"], index_clips["b"], "--index", directory,
                "--cache-dir", feature_cache.root, "-q")[0] == 0
    code, out, _ = _run(capsys, "index", "remove", "1", "--index", directory)
    assert code == 0 and "removed 1" in out
    code, _, err = _run(capsys, "index", "remove", "1", "--index", directory)
    assert code == 1 and "no video with id 1" in err
    code, out, _ = _run(capsys, "index", "list", "--index", directory, "--json")
    assert [v["name"] for v in json.loads(out)["videos"]] == ["b"]


def test_options_left_out_come_from_the_index(tmp_path, index_clips, capsys):
    """An index made with --dims 128 --fps 0.5 is searched without repeating them."""
    directory, cache = tmp_path / "idx", tmp_path / "cache"
    code, _, _ = _run(capsys, "index", "add", index_clips["a"], "--index", directory, "--dims", "128", "--fps", "0.5",
                      "--codes", "int8", "--cache-dir", cache, "-q")
    assert code == 0
    stored = json.loads((directory / "config.json").read_text())
    assert stored["vidsim"]["features"]["dims"] == 128 and stored["vidsim"]["decode"]["fps"] == 0.5
    code, out, err = _run(capsys, "search", index_clips["copy"], "--index", directory, "--json", "--cache-dir", cache, "-q")
    assert code == 0, err
    assert json.loads(out)["results"][0]["path"] == str(index_clips["a"])
    code, _, err = _run(capsys, "search", index_clips["copy"], "--index", directory, "--fps", "1", "--cache-dir", cache, "-q")
    assert code == 1 and "fps" in err
