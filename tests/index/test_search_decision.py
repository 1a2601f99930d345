"""The copy decision on real footage: `Index.search` (Match.is_copy), `vidsim search` (JSON, table,
batch CSV) and `vidsim compare`, with the shipped thresholds, a given one, and none."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from vidsim.bench import fetch_corpus
from vidsim.cli.main import main
from vidsim.decision import model_decision
from vidsim.synth import make_copy

REFERENCES = ("bikes", "megamind", "wolfgang")  # indexed
UNRELATED = "world"  # never indexed; no reference shares its footage


@pytest.fixture(scope="module")
def footage(tmp_path_factory) -> dict[str, Path]:
    """Real corpus clips; `copy` is wolfgang cropped to 80%, halved and re-encoded at CRF 30."""
    clips = fetch_corpus(only=[*REFERENCES, UNRELATED])
    queries = tmp_path_factory.mktemp("decision") / "queries"
    queries.mkdir()
    copy = make_copy(clips["wolfgang"], queries / "copy_of_wolfgang.mp4", crop=0.8, scale=0.5, crf=30)
    unrelated = queries / f"{UNRELATED}{clips[UNRELATED].suffix}"
    unrelated.write_bytes(clips[UNRELATED].read_bytes())
    return {**clips, "copy": copy, "unrelated": unrelated, "queries": queries}


@pytest.fixture(scope="module")
def real_index(tmp_path_factory, footage, model, feature_cache) -> Path:
    from vidsim.index import Index

    directory = tmp_path_factory.mktemp("decision-index") / "idx"
    with Index.open(directory, model=model, cache=feature_cache) as index:
        index.add([footage[name] for name in REFERENCES])
    return directory


def _run(capsys, *args):
    code = main([*map(str, args)])
    out, err = capsys.readouterr()
    return code, out, err


def test_the_installed_default_matches_its_shipped_thresholds(model):
    decision = model_decision(model)
    assert decision.source == "shipped", (
        f"{decision.note} -- the default configuration changed: rerun `python benchmarks/thresholds.py`")


def test_search_decides_a_copy_and_an_unrelated_clip_and_a_given_threshold_overrides(real_index, footage, model,
                                                                                  feature_cache):
    from vidsim.index import Index

    with Index.open(real_index, model=model, cache=feature_cache) as index:
        assert index.decision().source == "shipped" and index.decision().shipped.codes == "float"  # int8, the default
        threshold = index.decision().threshold
        copy = index.search(footage["copy"], top_k=3)
        assert copy[0].path == str(footage["wolfgang"]) and copy[0].is_copy is True
        assert copy[0].similarity >= threshold + 0.1  # the decision has a margin, not a coin toss
        assert [m.is_copy for m in copy[1:]] == [False, False] and copy.decision.threshold == threshold
        unrelated = index.search(footage["unrelated"], top_k=3)
        assert len(unrelated) == 3 and not any(m.is_copy for m in unrelated)
        assert max(m.similarity for m in unrelated) < threshold - 0.1

        strict = index.search(footage["copy"], top_k=1, threshold=copy[0].similarity + 0.01)
        assert strict[0].is_copy is False and strict.decision.source == "given"
        lax = index.search(footage["unrelated"], top_k=1, threshold=unrelated[0].similarity - 0.01)
        assert lax[0].is_copy is True
        assert index.search(footage["copy"], top_k=1)[0].is_copy is True  # the override lasted one call


def test_search_cli_prints_the_decision_in_json_table_and_csv(real_index, footage, feature_cache, capsys, tmp_path):
    common = ("--index", real_index, "--cache-dir", feature_cache.root, "-q")
    code, out, _ = _run(capsys, "search", footage["copy"], "--json", "--top", "2", *common)
    result = json.loads(out)
    assert code == 0 and [r["is_copy"] for r in result["results"]] == [True, False]
    assert result["threshold"]["source"] == "shipped" and result["threshold"]["note"] is None
    assert "float codes" in result["threshold"]["calibration"]  # the default int8 codes share float's threshold

    code, out, _ = _run(capsys, "search", footage["copy"], "--top", "2", *common)
    lines = out.splitlines()
    assert code == 0 and "copy threshold 0." in lines[0] and "shipped" in lines[0]
    assert lines[1].split()[3] == "copy"
    first, second = (line for line in lines[2:] if line.split()[0] in ("1", "2"))
    assert first.split()[3] == "yes" and str(footage["wolfgang"]) in first and second.split()[3] == "no"

    out_csv = tmp_path / "matches.csv"
    code, _, _ = _run(capsys, "search", footage["queries"], "--out", out_csv, "--top", "1", *common)
    rows = list(csv.DictReader(out_csv.open()))
    assert code == 0 and {r["query_id"]: r["is_copy"] for r in rows} == {"copy_of_wolfgang": "true", UNRELATED: "false"}

    code, _, _ = _run(capsys, "search", footage["queries"], "--out", out_csv, "--top", "1", "--threshold", "-1", *common)
    assert code == 0 and {r["is_copy"] for r in csv.DictReader(out_csv.open())} == {"true"}
    code, out, _ = _run(capsys, "search", footage["copy"], "--json", "--top", "1", "--threshold", "1.5", *common)
    result = json.loads(out)
    assert result["results"][0]["is_copy"] is False and result["threshold"] == {
        "value": 1.5, "source": "given", "calibration": None, "note": None}


def test_an_index_no_threshold_ships_for_says_so(tmp_path, footage, feature_cache, capsys):
    directory = tmp_path / "int4"
    common = ("--index", directory, "--cache-dir", feature_cache.root, "-q")
    assert _run(capsys, "index", "add", footage["wolfgang"], footage["bikes"], "--codes", "int4", *common)[0] == 0
    code, out, _ = _run(capsys, "search", footage["copy"], "--json", *common)
    result = json.loads(out)
    assert code == 0 and result["results"][0]["path"] == str(footage["wolfgang"])
    assert {r["is_copy"] for r in result["results"]} == {None} and result["threshold"]["value"] is None
    assert "int4x256 codes" in result["threshold"]["note"] and "--threshold" in result["threshold"]["note"]
    code, out, _ = _run(capsys, "search", footage["copy"], *common)
    assert "no copy threshold ships" in out.splitlines()[0] and " ? " in out
    out_csv = tmp_path / "m.csv"
    code, _, err = _run(capsys, "search", footage["queries"], "--out", out_csv, *common)
    assert code == 0 and "note: no copy threshold ships" in err
    assert {r["is_copy"] for r in csv.DictReader(out_csv.open())} == {""}
    code, out, _ = _run(capsys, "search", footage["copy"], "--json", "--threshold", "0.3", *common)
    assert json.loads(out)["results"][0]["is_copy"] is True


def test_compare_prints_the_decision(footage, feature_cache, capsys):
    common = ("--cache-dir", feature_cache.root, "-q")
    code, out, _ = _run(capsys, "compare", footage["copy"], footage["wolfgang"], *common)
    assert code == 0 and out.splitlines()[1].split()[:2] == ["copy", "yes"] and "exhaustive comparison" in out
    code, out, _ = _run(capsys, "compare", footage["unrelated"], footage["wolfgang"], "--json", *common)
    result = json.loads(out)
    assert result["is_copy"] is False and result["threshold"]["source"] == "shipped"
    code, out, _ = _run(capsys, "compare", footage["copy"], footage["wolfgang"], "--json", "--threshold", "0.99", *common)
    assert json.loads(out)["is_copy"] is False
    code, out, _ = _run(capsys, "compare", footage["copy"], footage["wolfgang"], "--dims", "128", *common)
    decided = out.splitlines()[1]
    assert decided.startswith("copy       unknown") and "features.dims is 128, not None" in decided
    code, _, err = _run(capsys, "compare", footage["copy"], footage["wolfgang"], "--threshold", "nan", *common)
    assert code == 1 and err.startswith("error: --threshold must be a number")


def test_matrix_names_its_threshold(footage, feature_cache, capsys, tmp_path):
    code, _, err = _run(capsys, "matrix", footage["copy"], footage["wolfgang"], "--out", tmp_path / "m.csv",
                        "--cache-dir", feature_cache.root, "-q")
    assert code == 0 and "copy threshold 0." in err and "exhaustive comparison" in err
