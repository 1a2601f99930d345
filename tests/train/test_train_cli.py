"""`vidsim train` end to end on generated clips: self-supervised on a directory, labelled pairs,
the head file's metadata, resuming, and using the head with `vidsim compare`."""
import json

import pytest

from vidsim.cli.main import main
from vidsim.synth import make_clip, make_copy
from vidsim.train.export import head_metadata

QUICK = ["--recipe", "quick", "--set", "variants=1", "--set", "splices=1", "--epochs", "1", "--triplets-per-epoch", "16",
         "--workers", "0", "-q"]


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    root = tmp_path_factory.mktemp("train-cli")
    (root / "videos").mkdir()
    a = make_clip(root / "videos" / "a.mp4", seconds=6, fps=8, size=(160, 120), seed=31)
    b = make_clip(root / "videos" / "b.mp4", seconds=6, fps=8, size=(160, 120), seed=32)
    copy = make_copy(a, root / "a-copy.mp4", crop=0.8, scale=0.8, crf=30)
    return {"root": root, "a": a, "b": b, "copy": copy}


def _run(capsys, *args):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def test_self_supervised_run_writes_a_usable_head_and_resumes(videos, capsys, tmp_path_factory):
    out, cache = videos["root"] / "run", videos["root"] / "cache"
    code, text, err = _run(capsys, "train", videos["root"] / "videos", "--out", out, "--cache-dir", cache,
                           "--version", "test-1", *QUICK)
    assert code == 0, err
    assert "epoch 1: loss" in text and "head test-1 written to" in text
    meta = head_metadata(out / "head.safetensors")
    assert meta["version"] == "test-1" and meta["backbone"] == "efficientnet-lite0" and meta["dims"] == 256
    assert meta["whitening_version"].startswith("efficientnet-lite0.npz:")
    assert meta["recipe"]["variants"] == 1 and meta["data"]["kind"] == "self-supervised"
    summary = json.loads((out / "train.json").read_text())
    assert summary["steps"] == 2 and len(summary["epochs"]) == 1

    # the same command again: everything is cached and the checkpoint is complete
    code, text, err = _run(capsys, "train", videos["root"] / "videos", "--out", out, "--cache-dir", cache,
                           "--version", "test-1", *QUICK)
    assert code == 0, err
    assert "resumed at step 2" in text

    # other options against the same checkpoint: refused, naming the file
    code, text, err = _run(capsys, "train", videos["root"] / "videos", "--out", out, "--cache-dir", cache,
                           *QUICK, "--lr", "0.5")
    assert code == 1 and "checkpoint.pt: checkpoint of another run (differs in: recipe)" in err

    code, text, err = _run(capsys, "compare", videos["copy"], videos["a"], "--json", "--head-weights",
                           out / "head.safetensors", "--cache-dir", cache, "-q")
    assert code == 0, err
    assert json.loads(text)["mode"] == "visil"


def test_labelled_pairs_run(videos, capsys):
    csv = videos["root"] / "pairs.csv"
    csv.write_text("query,target,label\na-copy.mp4,videos/a.mp4,1\nvideos/b.mp4,videos/a.mp4,0\n")
    out = videos["root"] / "run-csv"
    code, text, err = _run(capsys, "train", "--csv", csv, "--out", out, "--cache-dir", videos["root"] / "cache", *QUICK)
    assert code == 0, err
    assert head_metadata(out / "head.safetensors")["data"]["kind"] == "csv-pairs"


def test_bad_csv_is_reported_with_its_line(videos, capsys):
    csv = videos["root"] / "bad.csv"
    csv.write_text("query,target,label\na-copy.mp4,videos/a.mp4,maybe\n")
    code, _, err = _run(capsys, "train", "--csv", csv, "--out", videos["root"] / "run-bad", *QUICK)
    assert code == 1 and f"{csv}:2: label must be 1" in err


def test_test_split_is_refused(capsys, tmp_path):
    from vidsim.errors import VidsimError
    from vidsim.train.run import corpus_sources

    with pytest.raises(VidsimError, match="training may only use dev"):
        corpus_sources("test")
