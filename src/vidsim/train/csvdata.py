"""Labelled training data from a CSV file: triplets or labelled pairs of video paths.

Two formats, told apart by the header (extra columns are ignored; blank lines and lines whose
first cell starts with `#` are skipped; paths are relative to the CSV file's directory; a path
may also be a `.safetensors` feature file made with the same feature options):

    anchor,positive,negative        one triplet per row: positive is a copy of anchor, negative is not
    query,target,label              one pair per row: label 1 = query copies target, 0 = it does not

The anchor (pairs: the target) is the reference a query is compared with. Pairs become triplets
per target: each copy of it with its non-copies (the hardest of them is mined at each step).
"""
from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

from vidsim.errors import VidsimError

TRIPLET_COLUMNS = ("anchor", "positive", "negative")
PAIR_COLUMNS = ("query", "target", "label")
LABELS = {"1": 1, "0": 0}


class TrainingDataError(VidsimError):
    """A training data file is malformed; the message names the file, the line and the reason."""


@dataclass
class LabelledData:
    """Video files and triplet items (reference, positive, [negatives]) as indices into `videos`."""

    source: Path
    kind: str  # "triplets" or "pairs"
    videos: list[Path] = field(default_factory=list)
    items: list[tuple[int, int, list[int]]] = field(default_factory=list)


def read_training_csv(path: str | Path) -> LabelledData:
    """Parse a triplet or pair CSV file; every error names the file and the line."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError as exc:
        raise TrainingDataError(f"{path}: no such file") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise TrainingDataError(f"{path}: cannot read ({exc})") from exc
    rows = [(n, row) for n, row in enumerate(csv.reader(text.splitlines()), start=1)
            if row and any(c.strip() for c in row) and not row[0].lstrip().startswith("#")]
    if not rows:
        raise TrainingDataError(f"{path}: empty file (expected a header: {','.join(TRIPLET_COLUMNS)} "
                                f"or {','.join(PAIR_COLUMNS)})")
    line, header = rows[0]
    names = [c.strip().lower() for c in header]
    if all(c in names for c in TRIPLET_COLUMNS):
        kind, columns = "triplets", TRIPLET_COLUMNS
    elif all(c in names for c in PAIR_COLUMNS):
        kind, columns = "pairs", PAIR_COLUMNS
    else:
        raise TrainingDataError(f"{path}:{line}: header must name the columns {','.join(TRIPLET_COLUMNS)} (triplets) "
                                f"or {','.join(PAIR_COLUMNS)} (pairs), got {','.join(header)}")
    where = {c: names.index(c) for c in columns}
    data = LabelledData(path, kind)
    index: dict[Path, int] = {}

    def video(cell: str, line: int, column: str) -> int:
        cell = cell.strip()
        if not cell:
            raise TrainingDataError(f"{path}:{line}: empty {column!r}")
        file = Path(cell) if Path(cell).is_absolute() else path.parent / cell
        if not file.is_file():
            raise TrainingDataError(f"{path}:{line}: {column} {cell}: no such file ({file})")
        key = file.resolve()
        if key not in index:
            index[key] = len(data.videos)
            data.videos.append(file)
        return index[key]

    copies: dict[int, list[int]] = {}  # pairs: target -> its copies, in file order
    others: dict[int, list[int]] = {}  # target -> its non-copies
    seen: dict[tuple[int, int, int], int] = {}  # (query, target, label) -> first line
    for line, row in rows[1:]:
        if len(row) < len(names):
            raise TrainingDataError(f"{path}:{line}: {len(row)} cells, the header has {len(names)}")
        cells = {c: row[i] for c, i in where.items()}
        if kind == "triplets":
            ids = [video(cells[c], line, c) for c in TRIPLET_COLUMNS]
            if len(set(ids)) < 3:
                raise TrainingDataError(f"{path}:{line}: anchor, positive and negative must be three different videos")
            data.items.append((ids[0], ids[1], [ids[2]]))
        else:
            label = LABELS.get(cells["label"].strip().lower())
            if label is None:
                raise TrainingDataError(f"{path}:{line}: label must be 1 (copy) or 0 (not a copy), got {cells['label']!r}")
            q, t = video(cells["query"], line, "query"), video(cells["target"], line, "target")
            if q == t:
                raise TrainingDataError(f"{path}:{line}: query and target are the same video")
            if (q, t, 1 - label) in seen:
                raise TrainingDataError(f"{path}:{line}: {cells['query'].strip()} is labelled both a copy and not a "
                                        f"copy of {cells['target'].strip()} (also line {seen[(q, t, 1 - label)]})")
            seen.setdefault((q, t, label), line)
            (copies if label else others).setdefault(t, [])
            if q not in (copies if label else others)[t]:
                (copies if label else others)[t].append(q)
    if kind == "pairs":
        for t, positives in copies.items():
            negatives = others.get(t, [])
            data.items += [(t, p, list(negatives)) for p in positives if negatives]
        if not data.items:
            raise TrainingDataError(f"{path}: no target has both a copy (label 1) and a non-copy (label 0); "
                                    "a triplet needs both")
    elif not data.items:
        raise TrainingDataError(f"{path}: a header but no triplet")
    return data
