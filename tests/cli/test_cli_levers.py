"""The similarity levers on the command line: --flip-query, --min-frame-std, --[no-]symmetric,
and `vidsim evaluate --method vidsim-search --index-option ...`."""
import json

import numpy as np
import pytest

from vidsim.cli.main import main
from vidsim.synth import make_clip, write_video


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    from vidsim.decode import iter_decoded_frames

    root = tmp_path_factory.mktemp("cli-levers")
    (root / "refs").mkdir()
    (root / "queries").mkdir()
    original = make_clip(root / "refs" / "R1.mp4", seconds=6, size=(160, 120), seed=61)
    other = make_clip(root / "refs" / "R2.mp4", seconds=6, size=(160, 120), seed=62)
    mirrored = write_video(root / "queries" / "Q1.mp4",
                           (np.ascontiguousarray(f.to_rgb()[:, ::-1]) for f in iter_decoded_frames(original)), fps=25)
    unrelated = make_clip(root / "queries" / "Q2.mp4", seconds=6, size=(160, 120), seed=63)
    gt = root / "gt.csv"
    gt.write_text("query_id,ref_id,query_start,query_end,ref_start,ref_end\nQ1,R1,0.0,6.0,0.0,6.0\n")
    return {"root": root, "original": original, "other": other, "mirrored": mirrored, "unrelated": unrelated, "gt": gt}


def _run(capsys, *args):
    code = main([*map(str, args), "-q"])
    out, err = capsys.readouterr()
    return code, out, err


def test_compare_with_flip_query_says_the_mirror_won(clips, capsys, tmp_path):
    cache = tmp_path / "cache"
    code, out, _ = _run(capsys, "compare", clips["mirrored"], clips["original"], "--json", "--cache-dir", cache)
    plain = json.loads(out)
    assert code == 0 and "mirrored" not in plain
    code, out, _ = _run(capsys, "compare", clips["mirrored"], clips["original"], "--json", "--flip-query", "--cache-dir", cache)
    flipped = json.loads(out)
    assert code == 0 and flipped["mirrored"] is True and flipped["similarity"] > plain["similarity"]
    code, out, _ = _run(capsys, "compare", clips["mirrored"], clips["original"], "--flip-query", "--cache-dir", cache)
    assert "mirror image scored better" in out


def test_symmetric_can_be_switched_both_ways(clips, capsys, tmp_path):
    cache = tmp_path / "cache"
    modes = {}
    for flag in ("--symmetric", "--no-symmetric"):
        code, out, _ = _run(capsys, "compare", clips["unrelated"], clips["original"], "--json", flag, "--cache-dir", cache)
        assert code == 0
        modes[flag] = json.loads(out)["mode"]
    assert modes == {"--symmetric": "chamfer-symmetric-partial", "--no-symmetric": "chamfer"}


def test_a_negative_min_frame_std_is_one_error_line(clips, capsys):
    code, _, err = _run(capsys, "compare", clips["unrelated"], clips["original"], "--min-frame-std", "-1", "--no-cache")
    assert code == 1 and err.strip().splitlines() == ["error: min_frame_std must be a number >= 0, got -1.0"]


def test_evaluate_through_the_index_and_a_bad_index_option(clips, capsys, tmp_path):
    common = ["evaluate", "--queries", clips["root"] / "queries", "--refs", clips["root"] / "refs", "--gt", clips["gt"],
              "--cache-dir", tmp_path / "cache", "--method", "vidsim-search", "--flip-query"]
    code, out, _ = _run(capsys, *common, "--index-option", "index.codes=int8", "--out", tmp_path / "eval")
    assert code == 0 and "| vidsim-search |" in out
    report = json.loads((tmp_path / "eval" / "evaluation.json").read_text())
    assert report["methods"][0]["metrics"]["mAP"] == pytest.approx(1.0)  # the mirrored copy ranks first
    code, _, err = _run(capsys, *common, "--index-option", "codes=int8", "--out", tmp_path / "bad")
    assert code == 1 and "expected index.FIELD=VALUE" in err
