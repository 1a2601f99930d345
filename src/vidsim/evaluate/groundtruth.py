"""Typed ground truth (copied video pairs and segments) and readers/writers for public dataset formats.

Formats handled, each checked against the dataset's own repository:

* VSC22 (facebookresearch/vsc2022) match CSV: header ``query_id,ref_id,query_start,query_end,
  ref_start,ref_end`` (any column order, extra columns ignored, optional ``score``); one row per
  copied segment, times in seconds. Candidate-pair CSV ``query_id,ref_id,score`` (descriptor track).
* FIVR-200K (MKLab-ITI/FIVR-200K ``dataset/annotation.json``): ``{query: {label: [video ids]}}``.
* VCSL (alipay/VCSL): ``label_file_uuid_total.json`` ``{"<q>-<r>": [[q_start, r_start, q_end, r_end],
  ...]}`` in seconds, ``pair_file_<split>.csv`` with header ``query_id,reference_id`` (positive and
  negative pairs of a split), ``split_meta_pairs.json`` ``{split: {query_set: ["<q>-<r>", ...]}}``.
"""
from __future__ import annotations

import csv
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from vidsim.errors import ConfigError
from vidsim.similarity.segments import Segment  # re-exported: defined low so similarity can use it

PathLike = str | os.PathLike
Pair = tuple[str, str]

__all__ = [
    "Segment",
    "GroundTruth",
    "SOURCE_ATTRIBUTE",
    "FIVR_TASK_LABELS",
    "read_vsc_csv",
    "read_vsc_predictions",
    "write_vsc_csv",
    "read_candidate_pairs",
    "write_candidate_pairs",
    "read_query_attributes",
    "read_ref_attributes",
    "read_fivr_annotation",
    "read_id_list",
    "read_vcsl_labels",
    "read_vcsl_predictions",
    "read_vcsl_pair_file",
    "read_vcsl_query_sets",
]


def _freeze_matches(matches: Mapping[str, Mapping[str, Iterable[Segment]]]) -> Mapping:
    frozen = {}
    for q, refs in matches.items():
        inner = {}
        for r, segs in refs.items():
            segs = tuple(segs)
            for s in segs:
                if not isinstance(s, Segment):
                    raise TypeError(f"ground truth for ({q}, {r}) holds {type(s).__name__}, not Segment")
            inner[str(r)] = segs
        frozen[str(q)] = MappingProxyType(inner)
    return MappingProxyType(frozen)


#: The query and reference attribute naming the source clip a video was cut from (benchmark manifests).
SOURCE_ATTRIBUTE = "source"


def _freeze_attributes(attributes: Mapping[str, Mapping[str, str]]) -> Mapping[str, Mapping[str, str]]:
    return MappingProxyType({str(i): MappingProxyType({str(k): str(v) for k, v in a.items()})
                             for i, a in attributes.items()})


def _merge_attributes(old: Mapping[str, Mapping[str, str]], new: Mapping[str, Mapping[str, str]]) -> dict:
    merged: dict[str, dict[str, str]] = {i: dict(a) for i, a in old.items()}
    for i, a in new.items():
        merged.setdefault(str(i), {}).update({str(k): str(v) for k, v in a.items()})
    return merged


@dataclass(frozen=True, eq=False)
class GroundTruth:
    """Which (query, reference) pairs are copies, with their copied segments when known.

    ``matches[q][r]`` lists the copied segments of pair (q, r); an empty tuple means "a copy,
    without segment annotation" (FIVR). A pair absent from ``matches`` is a negative.
    ``query_ids``/``ref_ids`` are the evaluated queries and the reference database (they always
    include every id named in ``matches``). ``pairs``, when given, is the closed list of pairs that
    are evaluated (VCSL pair files); otherwise every query x reference pair is in play.
    ``query_attributes[q]`` holds optional labels such as ``{"transform": "crop", "source": ...}``;
    ``ref_attributes[r]`` the same for references (the benchmark's ``refs_<split>.csv``).
    """

    matches: Mapping[str, Mapping[str, tuple[Segment, ...]]] = field(default_factory=dict)
    query_ids: frozenset[str] = frozenset()
    ref_ids: frozenset[str] = frozenset()
    query_attributes: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    pairs: frozenset[Pair] | None = None
    ref_attributes: Mapping[str, Mapping[str, str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        matches = _freeze_matches(self.matches)
        queries = set(map(str, self.query_ids)) | set(matches)
        # Drop empty inner mappings so "has a positive" is simply "q in matches".
        matches = MappingProxyType({q: refs for q, refs in matches.items() if refs})
        refs = set(map(str, self.ref_ids)) | {r for m in matches.values() for r in m}
        pairs = None
        if self.pairs is not None:
            pairs = frozenset((str(q), str(r)) for q, r in self.pairs)
            missing = [(q, r) for q, m in matches.items() for r in m if (q, r) not in pairs]
            if missing:
                raise ConfigError(f"positive pairs missing from the evaluated pair list: {missing[:5]}")
            queries |= {q for q, _ in pairs}
            refs |= {r for _, r in pairs}
        object.__setattr__(self, "matches", matches)
        object.__setattr__(self, "query_ids", frozenset(queries))
        object.__setattr__(self, "ref_ids", frozenset(refs))
        object.__setattr__(self, "query_attributes", _freeze_attributes(self.query_attributes))
        object.__setattr__(self, "pairs", pairs)
        object.__setattr__(self, "ref_attributes", _freeze_attributes(self.ref_attributes))

    # -- queries ---------------------------------------------------------------------------
    def positives(self, query_id: str) -> frozenset[str]:
        """Reference ids that are copies of ``query_id`` (empty if none)."""
        return frozenset(self.matches.get(query_id, {}))

    def is_positive(self, query_id: str, ref_id: str) -> bool:
        """True when (query_id, ref_id) is an annotated copy."""
        return ref_id in self.matches.get(query_id, {})

    def segments(self, query_id: str, ref_id: str) -> tuple[Segment, ...]:
        """Annotated copied segments of a pair; empty for negatives and unsegmented positives."""
        return self.matches.get(query_id, {}).get(ref_id, ())

    def positive_pairs(self) -> frozenset[Pair]:
        """All annotated copy pairs."""
        return frozenset((q, r) for q, m in self.matches.items() for r in m)

    @property
    def n_positive_pairs(self) -> int:
        """Number of annotated copy pairs (the µAP denominator)."""
        return sum(len(m) for m in self.matches.values())

    def attribute(self, name: str) -> dict[str, str]:
        """query -> value of attribute ``name``, for the queries that have it (a grouping for metrics)."""
        return {q: a[name] for q, a in self.query_attributes.items() if name in a and q in self.query_ids}

    def same_source_negatives(self) -> frozenset[Pair]:
        """Non-copied pairs whose query and reference come from the same source clip (``source`` attribute).

        "Same source, other time": a query showing another moment of the footage a reference was
        cut from (a copy of another reference of that source, or the benchmark's hard negatives).
        Empty unless both queries and references carry the attribute.
        """
        name = SOURCE_ATTRIBUTE
        by_source: dict[str, list[str]] = {}
        for r, a in self.ref_attributes.items():
            if name in a and r in self.ref_ids:
                by_source.setdefault(a[name], []).append(r)
        out = set()
        for q, src in self.attribute(name).items():
            for r in by_source.get(src, ()):
                if r != q and not self.is_positive(q, r) and (self.pairs is None or (q, r) in self.pairs):
                    out.add((q, r))
        return frozenset(out)

    # -- derived ground truths -------------------------------------------------------------
    def restrict(self, query_ids: Iterable[str]) -> GroundTruth:
        """The same ground truth limited to some queries (references unchanged): per-group metrics."""
        keep = set(query_ids) & self.query_ids
        return GroundTruth(
            matches={q: m for q, m in self.matches.items() if q in keep},
            query_ids=frozenset(keep),
            ref_ids=self.ref_ids,
            query_attributes={q: a for q, a in self.query_attributes.items() if q in keep},
            pairs=None if self.pairs is None else frozenset(p for p in self.pairs if p[0] in keep),
            ref_attributes=self.ref_attributes,
        )

    def with_attributes(self, attributes: Mapping[str, Mapping[str, str]] = MappingProxyType({}),
                        ref_attributes: Mapping[str, Mapping[str, str]] = MappingProxyType({})) -> GroundTruth:
        """A copy with per-query and per-reference attributes merged in (new values win)."""
        return GroundTruth(self.matches, self.query_ids, self.ref_ids, _merge_attributes(self.query_attributes, attributes),
                           self.pairs, _merge_attributes(self.ref_attributes, ref_attributes))

    def __repr__(self) -> str:
        return (f"GroundTruth({len(self.query_ids)} queries, {len(self.ref_ids)} refs, "
                f"{self.n_positive_pairs} positive pairs"
                + ("" if self.pairs is None else f", {len(self.pairs)} evaluated pairs") + ")")


# ---------------------------------------------------------------------------------------------
# VSC22 CSV
# ---------------------------------------------------------------------------------------------
_SEGMENT_COLUMNS = ("query_start", "query_end", "ref_start", "ref_end")
VSC_COLUMNS = ("query_id", "ref_id") + _SEGMENT_COLUMNS


def _unreadable(path: PathLike, exc: OSError | UnicodeDecodeError) -> ConfigError:
    """The ConfigError for a file that cannot be opened or is not UTF-8 text."""
    if isinstance(exc, UnicodeDecodeError):
        return ConfigError(f"{os.fspath(path)}: not UTF-8 text ({exc.reason} at byte {exc.start})")
    return ConfigError(f"{os.fspath(path)}: cannot read it ({exc.strerror or exc})")


def _read_json(path: PathLike) -> Any:
    """The parsed JSON file, or a ConfigError naming the file (and the line of a syntax error)."""
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, UnicodeDecodeError) as exc:
        raise _unreadable(path, exc) from None
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{os.fspath(path)} line {exc.lineno}: not valid JSON ({exc.msg})") from None
    except RecursionError:
        raise ConfigError(f"{os.fspath(path)}: JSON nested too deeply to read") from None


def _read_csv_rows(path: PathLike, required: Sequence[str]) -> list[tuple[int, dict[str, str]]]:
    """(line number, row) of every non-blank row, with keys and values stripped."""
    try:
        with open(path, newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            try:
                if reader.fieldnames is None:
                    raise ConfigError(f"{os.fspath(path)}: empty file, expected a header row")
                header = [h.strip() for h in reader.fieldnames]
                missing = [c for c in required if c not in header]
                if missing:
                    raise ConfigError(f"{os.fspath(path)}: missing column(s) {missing}; header is {header}")
                rows = []
                for row in reader:
                    clean = {(k or "").strip(): (v or "").strip() for k, v in row.items() if k is not None}
                    if not any(clean.values()):
                        continue  # blank line
                    rows.append((reader.line_num, clean))
                return rows
            except csv.Error as exc:
                raise ConfigError(f"{os.fspath(path)} row {reader.line_num}: not a readable CSV row ({exc})") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise _unreadable(path, exc) from None


def _frozen(matches: Mapping[str, Mapping[str, Sequence[Segment]]]) -> dict[str, dict[str, tuple[Segment, ...]]]:
    """Segment lists collected while reading, as the tuples `GroundTruth` holds."""
    return {q: {r: tuple(segs) for r, segs in m.items()} for q, m in matches.items()}


def _row_segment(row: Mapping[str, str], path: PathLike, line: int, default_score: float) -> Segment | None:
    values = [row.get(c, "") for c in _SEGMENT_COLUMNS]
    if all(v == "" for v in values):
        return None
    if any(v == "" for v in values):
        raise ConfigError(f"{os.fspath(path)} row {line}: segment columns are partly empty")
    score = row.get("score", "")
    try:
        q0, q1, r0, r1 = map(float, values)
        return Segment(q0, q1, r0, r1, score=float(score) if score != "" else default_score)
    except ValueError as exc:
        raise ConfigError(f"{os.fspath(path)} row {line}: {exc}") from None


def read_vsc_csv(path: PathLike, *, query_ids: Iterable[str] = (), ref_ids: Iterable[str] = ()) -> GroundTruth:
    """Read a VSC22 ground-truth CSV into a GroundTruth.

    Rows whose four segment columns are all empty mark a copy without segments. Queries and
    references that have no copy must be passed in ``query_ids``/``ref_ids`` (the CSV cannot hold them).
    """
    matches: dict[str, dict[str, list[Segment]]] = {}
    for i, row in _read_csv_rows(path, VSC_COLUMNS):
        q, r = row["query_id"], row["ref_id"]
        if not q or not r:
            raise ConfigError(f"{os.fspath(path)} row {i}: empty query_id or ref_id")
        segs = matches.setdefault(q, {}).setdefault(r, [])
        seg = _row_segment(row, path, i, 1.0)
        if seg is not None:
            segs.append(Segment(seg.query_start, seg.query_end, seg.ref_start, seg.ref_end))
    return GroundTruth(matches=_frozen(matches), query_ids=frozenset(query_ids), ref_ids=frozenset(ref_ids))


def read_vsc_predictions(path: PathLike) -> dict[Pair, list[Segment]]:
    """Read predicted segments (VSC22 match CSV with a ``score`` column; 1.0 when absent)."""
    preds: dict[Pair, list[Segment]] = {}
    for i, row in _read_csv_rows(path, VSC_COLUMNS):
        seg = _row_segment(row, path, i, 1.0)
        segs = preds.setdefault((row["query_id"], row["ref_id"]), [])
        if seg is not None:
            segs.append(seg)
    return preds


def _fmt(x: float) -> str:
    return repr(float(x))  # shortest string that reads back to the same float


def write_vsc_csv(
    path: PathLike,
    data: GroundTruth | Mapping[Pair, Iterable[Segment]],
    *,
    include_score: bool | None = None,
) -> None:
    """Write ground truth or predicted segments in the VSC22 CSV layout (rows sorted by id, then time).

    ``include_score`` defaults to False for a GroundTruth and True for predictions. A pair with no
    segment is written with empty segment columns.
    """
    if isinstance(data, GroundTruth):
        items = [((q, r), segs) for q, m in data.matches.items() for r, segs in m.items()]
        include_score = False if include_score is None else include_score
    else:
        items = [((k[0], k[1]), tuple(v)) for k, v in data.items()]
        include_score = True if include_score is None else include_score
    header = list(VSC_COLUMNS) + (["score"] if include_score else [])
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(header)
        for (q, r), segs in sorted(items, key=lambda kv: kv[0]):
            if not segs:
                w.writerow([q, r, "", "", "", ""] + ([""] if include_score else []))
                continue
            for s in sorted(segs, key=lambda s: (s.query_start, s.ref_start, s.query_end, s.ref_end)):
                row = [q, r, _fmt(s.query_start), _fmt(s.query_end), _fmt(s.ref_start), _fmt(s.ref_end)]
                w.writerow(row + ([_fmt(s.score)] if include_score else []))


def read_candidate_pairs(path: PathLike) -> list[tuple[str, str, float]]:
    """Read a VSC22 descriptor-track candidate file ``query_id,ref_id,score``."""
    out = []
    for i, row in _read_csv_rows(path, ("query_id", "ref_id", "score")):
        try:
            out.append((row["query_id"], row["ref_id"], float(row["score"])))
        except ValueError:
            raise ConfigError(f"{os.fspath(path)} row {i}: bad score {row['score']!r}") from None
    return out


def write_candidate_pairs(path: PathLike, pairs: Iterable[tuple[str, str, float]]) -> None:
    """Write (query, ref, score) triples as ``query_id,ref_id,score``, best score first."""
    rows = sorted(pairs, key=lambda t: (-float(t[2]), t[0], t[1]))
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["query_id", "ref_id", "score"])
        for q, r, s in rows:
            w.writerow([q, r, _fmt(s)])


def _read_attributes(path: PathLike, id_column: str) -> dict[str, dict[str, str]]:
    rows = _read_csv_rows(path, (id_column,))
    return {row[id_column]: {k: v for k, v in row.items() if k != id_column and v != ""} for _, row in rows}


def read_query_attributes(path: PathLike) -> dict[str, dict[str, str]]:
    """Read a per-query attribute CSV (``query_id,<attr>,...``, e.g. transform, source) for grouping."""
    return _read_attributes(path, "query_id")


def read_ref_attributes(path: PathLike) -> dict[str, dict[str, str]]:
    """Read a per-reference attribute CSV (``ref_id,<attr>,...``: the benchmark's ``refs_<split>.csv``)."""
    return _read_attributes(path, "ref_id")


# ---------------------------------------------------------------------------------------------
# FIVR-200K
# ---------------------------------------------------------------------------------------------
#: Labels of ``annotation.json`` that count as relevant per FIVR task (FIVR-200K README and
#: ``evaluation.py``; ViSiL's ``datasets.FIVR`` uses the same three visual lists).
FIVR_TASK_LABELS: Mapping[str, tuple[str, ...]] = MappingProxyType({
    "DSVR": ("ND", "DS"),              # Duplicate Scene Video Retrieval
    "CSVR": ("ND", "DS", "CS"),        # Complementary Scene Video Retrieval
    "ISVR": ("ND", "DS", "CS", "IS"),  # Incident Scene Video Retrieval
    "DAVR": ("DA",),                   # Duplicate Audio Video Retrieval (audio labels, 2021)
})


def read_id_list(path: PathLike) -> list[str]:
    """Read one video id per line (FIVR ``youtube_ids.txt``), skipping blank lines."""
    try:
        with open(path, encoding="utf-8") as f:
            return [line.strip() for line in f if line.strip()]
    except (OSError, UnicodeDecodeError) as exc:
        raise _unreadable(path, exc) from None


def read_fivr_annotation(
    path: PathLike,
    task: str = "DSVR",
    *,
    database: Iterable[str] | PathLike | None = None,
) -> GroundTruth:
    """Read FIVR-200K ``annotation.json`` as a video-level GroundTruth for one retrieval task.

    Labels (FIVR paper): ND near-duplicate, DS duplicate scene (shares a scene shot by the same
    camera), CS complementary scene (same moment, another viewpoint), IS incident scene (same
    incident, no overlap in space or time), DA duplicate audio. Relevant: DSVR = ND+DS,
    CSVR = ND+DS+CS, ISVR = ND+DS+CS+IS, DAVR = DA. Every query in the file is a query; the
    reference database is ``database`` (ids or a ``youtube_ids.txt`` path) or, when omitted,
    every video named under any label. As in FIVR's ``evaluation.py``, positives outside the
    database are dropped; a query is never its own positive.
    """
    task = task.upper()
    if task not in FIVR_TASK_LABELS:
        raise ConfigError(f"unknown FIVR task {task!r}; expected one of {sorted(FIVR_TASK_LABELS)}")
    labels = FIVR_TASK_LABELS[task]
    ann = _read_json(path)
    if not isinstance(ann, dict) or not all(
            isinstance(groups, dict) and all(isinstance(vids, list) for vids in groups.values())
            for groups in ann.values()):
        raise ConfigError(f"{os.fspath(path)}: expected {{query: {{label: [video ids]}}}}")
    if database is None:
        db = {str(v) for groups in ann.values() for vids in groups.values() for v in vids}
    elif isinstance(database, (str, os.PathLike)):
        db = set(read_id_list(database))
    else:
        db = set(map(str, database))
    matches = {}
    for q, groups in ann.items():
        rel = {str(v) for lab in labels for v in groups.get(lab, [])} & db
        rel.discard(q)
        if rel:
            matches[str(q)] = {r: () for r in sorted(rel)}
    return GroundTruth(matches=matches, query_ids=frozenset(map(str, ann)), ref_ids=frozenset(db))


# ---------------------------------------------------------------------------------------------
# VCSL
# ---------------------------------------------------------------------------------------------
def _split_vcsl_key(key: str, path: PathLike) -> Pair:
    if not isinstance(key, str):
        raise ConfigError(f"{os.fspath(path)}: pair key {key!r} is not a '<query_id>-<ref_id>' string")
    parts = key.split("-")
    if len(parts) != 2 or not all(parts):
        raise ConfigError(f"{os.fspath(path)}: pair key {key!r} is not '<query_id>-<ref_id>'")
    return parts[0], parts[1]


def _vcsl_box(box: Any, path: PathLike, key: str) -> Segment:
    # VCSL boxes are (query_min, ref_min, query_max, ref_max[, score]).
    if not isinstance(box, (list, tuple)) or len(box) not in (4, 5):
        raise ConfigError(f"{os.fspath(path)}: {key}: box {box!r} is not [q_start, r_start, q_end, r_end]")
    try:
        q0, r0, q1, r1 = (float(v) for v in box[:4])
        score = float(box[4]) if len(box) == 5 else 1.0
        return Segment(q0, q1, r0, r1, score)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{os.fspath(path)}: {key}: {exc}") from None


def read_vcsl_pair_file(path: PathLike) -> list[Pair]:
    """Read a VCSL ``pair_file_<split>.csv`` (header ``query_id,reference_id``)."""
    return [(row["query_id"], row["reference_id"])
            for _, row in _read_csv_rows(path, ("query_id", "reference_id"))]


def read_vcsl_labels(label_file: PathLike, pair_file: PathLike | None = None) -> GroundTruth:
    """Read VCSL segment labels (``{"<q>-<r>": [[q_start, r_start, q_end, r_end], ...]}``, seconds).

    With ``pair_file`` (``pair_file_<split>.csv``) the ground truth is closed over that split's
    pairs, as in VCSL's ``run_video_eval.py``: labelled pairs outside the split are dropped, and
    listed pairs without labels are the negatives. Boxes are converted to Segment(query_start,
    query_end, ref_start, ref_end).
    """
    raw = _read_json(label_file)
    if not isinstance(raw, dict):
        raise ConfigError(f"{os.fspath(label_file)}: expected an object keyed by '<query_id>-<ref_id>'")
    pairs = None if pair_file is None else frozenset(read_vcsl_pair_file(pair_file))
    matches: dict[str, dict[str, list[Segment]]] = {}
    queries, refs = set(), set()
    for key, boxes in raw.items():
        q, r = _split_vcsl_key(key, label_file)
        if pairs is not None and (q, r) not in pairs:
            continue
        queries.add(q)
        refs.add(r)
        if not isinstance(boxes, list):
            raise ConfigError(f"{os.fspath(label_file)}: {key}: expected a list of boxes")
        segs = [_vcsl_box(b, label_file, key) for b in boxes]
        if segs:  # an empty label list means "no copy" in VCSL's evaluation (gt = [])
            matches.setdefault(q, {})[r] = segs
    return GroundTruth(matches=_frozen(matches), query_ids=frozenset(queries), ref_ids=frozenset(refs), pairs=pairs)


def read_vcsl_predictions(path: PathLike) -> dict[Pair, list[Segment]]:
    """Read VCSL-style predictions (same JSON layout as the labels; an optional 5th value is the score)."""
    raw = _read_json(path)
    if not isinstance(raw, dict) or not all(isinstance(v, list) for v in raw.values()):
        raise ConfigError(f"{os.fspath(path)}: expected {{'<query_id>-<ref_id>': [boxes]}}")
    return {_split_vcsl_key(k, path): [_vcsl_box(b, path, k) for b in v] for k, v in raw.items()}


def read_vcsl_query_sets(path: PathLike, split: str = "test") -> dict[str, list[Pair]]:
    """Read VCSL ``split_meta_pairs.json``: query set -> its pairs, for VCSL's macro averaging."""
    raw = _read_json(path)
    if not isinstance(raw, dict) or not all(
            isinstance(part, dict) and all(isinstance(pairs, list) for pairs in part.values())
            for part in raw.values()):
        raise ConfigError(f"{os.fspath(path)}: expected {{split: {{query_set: ['<query_id>-<ref_id>', ...]}}}}")
    if split == "all":
        sets = {k: v for part in raw.values() for k, v in part.items()}
    elif split in raw:
        sets = raw[split]
    else:
        raise ConfigError(f"{os.fspath(path)}: no split {split!r}; has {sorted(raw)}")
    return {str(k): [_split_vcsl_key(p, path) for p in v] for k, v in sets.items()}
