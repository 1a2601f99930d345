"""Labelled training files: both formats parse, and every error names the file and the line."""
import pytest

from vidsim.train.csvdata import TrainingDataError, read_training_csv


@pytest.fixture
def videos(tmp_path):
    for name in ("a.mp4", "b.mp4", "c.mp4", "d.mp4"):
        (tmp_path / name).write_bytes(b"not decoded by the parser")
    return tmp_path


def _csv(root, text, name="data.csv"):
    path = root / name
    path.write_text(text)
    return path


def test_triplets_file(videos):
    data = read_training_csv(_csv(videos, "anchor,positive,negative\n# a comment\na.mp4,b.mp4,c.mp4\n\na.mp4,b.mp4,d.mp4\n"))
    assert data.kind == "triplets"
    assert [p.name for p in data.videos] == ["a.mp4", "b.mp4", "c.mp4", "d.mp4"]
    assert data.items == [(0, 1, [2]), (0, 1, [3])]


def test_pairs_file_makes_triplets_per_target(videos):
    text = "query,target,label,note\nb.mp4,a.mp4,1,copy\nc.mp4,a.mp4,0,\nd.mp4,a.mp4,0,\nd.mp4,c.mp4,1,\n"
    data = read_training_csv(_csv(videos, text))
    assert data.kind == "pairs"
    # target a.mp4 (index 1) has one copy (b) and two non-copies (c, d); c.mp4 has no non-copy: no triplet
    assert data.items == [(1, 0, [2, 3])]


@pytest.mark.parametrize("text, line, message", [
    ("left,right\na.mp4,b.mp4\n", 1, "header must name the columns anchor,positive,negative"),
    ("anchor,positive,negative\na.mp4,b.mp4\n", 2, "2 cells, the header has 3"),
    ("anchor,positive,negative\na.mp4,,c.mp4\n", 2, "empty 'positive'"),
    ("anchor,positive,negative\na.mp4,b.mp4,c.mp4\na.mp4,b.mp4,missing.mp4\n", 3, "negative missing.mp4: no such file"),
    ("anchor,positive,negative\na.mp4,a.mp4,c.mp4\n", 2, "anchor, positive and negative must be three different videos"),
    ("query,target,label\nb.mp4,a.mp4,yes\n", 2, "label must be 1 .* or 0 .*, got 'yes'"),
    ("query,target,label\nb.mp4,b.mp4,1\n", 2, "query and target are the same video"),
    ("query,target,label\nb.mp4,a.mp4,1\nb.mp4,a.mp4,0\n", 3,
     "b.mp4 is labelled both a copy and not a copy of a.mp4 .also line 2"),
])
def test_errors_name_the_file_and_the_line(videos, text, line, message):
    path = _csv(videos, text)
    with pytest.raises(TrainingDataError, match=rf"^{path}:{line}: {message}"):
        read_training_csv(path)


@pytest.mark.parametrize("text, message", [
    ("", "empty file"),
    ("anchor,positive,negative\n", "a header but no triplet"),
    ("query,target,label\nb.mp4,a.mp4,1\n", "no target has both a copy"),
])
def test_file_level_errors_name_the_file(videos, text, message):
    path = _csv(videos, text)
    with pytest.raises(TrainingDataError, match=rf"^{path}: {message}"):
        read_training_csv(path)


def test_missing_file(tmp_path):
    with pytest.raises(TrainingDataError, match="nothing.csv: no such file"):
        read_training_csv(tmp_path / "nothing.csv")
