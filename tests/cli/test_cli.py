"""The command line end to end on generated clips (PyAV), in-process for speed."""
import csv
import json

import numpy as np
import pytest

from vidsim.cli.main import main
from vidsim.synth import make_clip, make_copy


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    root = tmp_path_factory.mktemp("clips")
    original = make_clip(root / "original.mp4", seconds=12, size=(320, 240), seed=11)
    copy = make_copy(original, root / "copy.mp4", crop=0.8, scale=0.6, crf=30)
    (root / "nested").mkdir()
    unrelated = make_clip(root / "nested" / "unrelated.mp4", seconds=12, size=(320, 240), seed=12)
    return {"root": root, "original": original, "copy": copy, "unrelated": unrelated}


def _run(capsys, *args):
    code = main([*map(str, args), "-q"])
    out, err = capsys.readouterr()
    return code, out, err


def test_compare_json_and_copy_beats_unrelated(clips, capsys, tmp_path):
    cache = tmp_path / "cache"
    code, out, _ = _run(capsys, "compare", clips["copy"], clips["original"], "--json", "--cache-dir", cache)
    assert code == 0
    copy = json.loads(out)  # exactly one JSON object on stdout
    assert set(copy) == {"query", "target", "similarity", "mode", "is_copy", "threshold"}
    assert copy["query"] == str(clips["copy"]) and copy["mode"] == "chamfer-symmetric-partial"
    code, out, _ = _run(capsys, "compare", clips["unrelated"], clips["original"], "--json", "--cache-dir", cache)
    unrelated = json.loads(out)
    assert copy["similarity"] > unrelated["similarity"]


def test_compare_text_output_names_the_mode_and_writes_heatmap(clips, capsys, tmp_path):
    heatmap = tmp_path / "f2f.png"
    code, out, _ = _run(capsys, "compare", clips["copy"], clips["original"], "--heatmap", heatmap, "--no-cache")
    assert code == 0
    assert "mode: chamfer" in out and "ViSiL_f" in out
    assert heatmap.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_second_run_reads_the_cache_instead_of_decoding(clips, capsys, tmp_path, monkeypatch):
    import vidsim.decode.pipeline
    import vidsim.decode.reader

    cache = tmp_path / "cache"
    calls = []
    for module in (vidsim.decode.reader, vidsim.decode.pipeline):  # decoded in turn, or by the decode thread
        real = module.open_frames
        monkeypatch.setattr(module, "open_frames", lambda *a, real=real, **k: calls.append(a) or real(*a, **k))
    assert _run(capsys, "compare", clips["copy"], clips["original"], "--json", "--cache-dir", cache)[0] == 0
    assert len(calls) == 2
    calls.clear()
    code, out, _ = _run(capsys, "compare", clips["copy"], clips["original"], "--json", "--cache-dir", cache)
    assert code == 0 and calls == []
    assert len(list(cache.rglob("*.safetensors"))) == 2


def test_missing_file_is_a_clear_error(clips, capsys, tmp_path):
    code, out, err = _run(capsys, "compare", tmp_path / "nope.mp4", clips["original"], "--no-cache")
    assert code == 1 and out == ""
    assert "nope.mp4" in err


def test_matrix_csv_over_a_directory_skips_bad_files(clips, capsys, tmp_path):
    bad = clips["root"] / "nested" / "broken.mp4"
    bad.write_bytes(b"this is not a video")
    out_csv, heatmap = tmp_path / "sims.csv", tmp_path / "m.png"
    try:
        code, _, err = _run(capsys, "matrix", clips["root"], "--out", out_csv, "--heatmap", heatmap, "--no-cache")
    finally:
        bad.unlink()
    assert code == 2  # some inputs failed, the rest went on
    assert "broken.mp4" in err
    rows = list(csv.reader(out_csv.read_text().splitlines()))
    names = rows[0][1:]
    assert rows[0][0] == "path" and len(names) == 3 and [r[0] for r in rows[1:]] == names
    matrix = np.array([[float(v) for v in r[1:]] for r in rows[1:]])
    np.testing.assert_allclose(np.diag(matrix), 1.0, atol=1e-4)
    i_copy, i_orig, i_unrel = (names.index(str(clips[k])) for k in ("copy", "original", "unrelated"))
    assert matrix[i_copy, i_orig] > matrix[i_copy, i_unrel]
    assert heatmap.exists()


def test_extract_writes_features_that_compare_like_videos(clips, capsys, tmp_path):
    out_dir = tmp_path / "features"
    code, out, _ = _run(capsys, "extract", clips["copy"], clips["original"], "--out", out_dir, "--no-cache")
    assert code == 0
    manifest = list(csv.DictReader((out_dir / "manifest.csv").read_text().splitlines()))
    assert [row["file"] for row in manifest] == ["copy.safetensors", "original.safetensors"]
    assert int(manifest[0]["frames"]) == 12
    _, video_out, _ = _run(capsys, "compare", clips["copy"], clips["original"], "--json", "--no-cache")
    _, feature_out, _ = _run(capsys, "compare", out_dir / "copy.safetensors", out_dir / "original.safetensors", "--json")
    assert json.loads(feature_out)["similarity"] == pytest.approx(json.loads(video_out)["similarity"], abs=1e-6)
    # features made with another configuration are refused, not silently compared
    code, _, err = _run(capsys, "compare", out_dir / "copy.safetensors", clips["original"], "--fps", "2", "--no-cache")
    assert code == 1 and "another configuration" in err


def test_extract_many_decodes_ahead_with_the_features_of_decoding_in_turn(clips, capsys, tmp_path):
    from vidsim.store import load_features

    bad = tmp_path / "broken.mp4"
    bad.write_text("this is not a video\n" * 20)
    inputs = [clips["original"], bad, clips["copy"], clips["unrelated"]]
    code, _, err = _run(capsys, "extract", *inputs, "--out", tmp_path / "ahead", "--no-cache")
    assert code == 2  # the bad file failed, the rest went on
    assert [line for line in err.splitlines() if line.startswith("error:")] == [
        line for line in err.splitlines() if "broken.mp4" in line] and "broken.mp4" in err
    code, _, _ = _run(capsys, "extract", *inputs, "--out", tmp_path / "in_turn", "--no-cache", "--prefetch", "0",
                      "--skip-nonref", "off", "--inference-threads", "1", "--decode-threads", "1")
    assert code == 2
    names = sorted(p.name for p in (tmp_path / "ahead").glob("*.safetensors"))
    assert names == ["copy.safetensors", "original.safetensors", "unrelated.safetensors"]
    for name in names:
        ahead, in_turn = load_features(tmp_path / "ahead" / name), load_features(tmp_path / "in_turn" / name)
        np.testing.assert_array_equal(ahead.regions, in_turn.regions)
        assert ahead.feature_key != in_turn.feature_key  # the skip is recorded, though the frames are the same
    code, _, _ = _run(capsys, "extract", clips["copy"], "--out", tmp_path / "all", "--no-cache", "--skip-nonref", "all",
                      "--prefetch", "1", "--inference-threads", "1")
    assert code == 0
    keys = {load_features(p).feature_key for d in ("ahead", "all") for p in (tmp_path / d).glob("copy.*")}
    assert len(keys) == 2
