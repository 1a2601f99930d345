"""`vidsim evaluate`: score every (query, reference) pair with each method, then measure.

Videos are identified by file stem (as in VSC22, FIVR and VCSL layouts). Each method
indexes every video once and scores all pairs; bad files are reported and left out (their
pairs count as misses). Results: JSON, Markdown and a PR-curve PNG per run.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Sequence

from vidsim.errors import VidsimError, VideoError
from vidsim.evaluate.groundtruth import (
    GroundTruth,
    read_fivr_annotation,
    read_query_attributes,
    read_vcsl_labels,
    read_vsc_csv,
)
from vidsim.evaluate.methods import Method, build_method
from vidsim.evaluate.report import MethodResult, evaluate_method, write_report

GT_FORMATS = ("vsc", "fivr-dsvr", "fivr-csvr", "fivr-isvr", "vcsl")


@dataclass
class EvaluationRun:
    results: list[MethodResult]
    outputs: dict[str, Path]
    failures: dict[str, str] = field(default_factory=dict)  # video path -> reason
    timings: dict[str, float] = field(default_factory=dict)  # method -> seconds


def videos_by_id(directory: Path) -> dict[str, Path]:
    """Map file stem -> path for the videos under `directory` (recursively)."""
    from vidsim.decode import find_videos

    found: dict[str, Path] = {}
    for path in find_videos([directory]):
        if path.stem in found:
            raise VidsimError(f"{path}: duplicate video id {path.stem!r} (also {found[path.stem]})")
        found[path.stem] = path
    return found


def load_ground_truth(path: Path, fmt: str, query_ids: Iterable[str], ref_ids: Iterable[str],
                      pairs: Path | None = None) -> GroundTruth:
    if fmt == "vsc":
        return read_vsc_csv(path, query_ids=query_ids, ref_ids=ref_ids)
    if fmt.startswith("fivr-"):
        return read_fivr_annotation(path, task=fmt.split("-", 1)[1].upper(), database=list(ref_ids))
    if fmt == "vcsl":
        return read_vcsl_labels(path, pairs)
    raise VidsimError(f"unknown ground-truth format {fmt!r}; choose one of {', '.join(GT_FORMATS)}")


def score_all(method: Method, queries: dict[str, Path], refs: dict[str, Path],
              failures: dict[str, str], progress: Callable[[str, int, int], None] | None = None
              ) -> dict[str, dict[str, float]]:
    """Index every video once, then score every (query, ref) pair."""
    descriptors: dict[Path, object] = {}
    todo = list(dict.fromkeys([*queries.values(), *refs.values()]))
    for i, path in enumerate(todo):
        try:
            descriptors[path] = method.index_video(path)
        except VideoError as exc:
            failures[str(path)] = exc.reason
        if progress is not None:
            progress(f"{method.name}: index", i + 1, len(todo))
    scores: dict[str, dict[str, float]] = {}
    for i, (qid, qpath) in enumerate(queries.items()):
        if qpath not in descriptors:
            continue
        row = scores.setdefault(qid, {})
        for rid, rpath in refs.items():
            if rid != qid and rpath in descriptors:
                row[rid] = method.calculate_video_similarity(descriptors[qpath], descriptors[rpath])
        if progress is not None:
            progress(f"{method.name}: score", i + 1, len(queries))
    return scores


def run_evaluation(
    queries_dir: Path,
    refs_dir: Path,
    gt_path: Path,
    methods: Sequence[str | Method],
    out_dir: Path,
    gt_format: str = "vsc",
    attributes: Path | None = None,
    groupings: Sequence[str] = ("family", "source", "kind"),
    pairs: Path | None = None,
    title: str = "Evaluation",
    method_options: dict | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> EvaluationRun:
    queries, refs = videos_by_id(queries_dir), videos_by_id(refs_dir)
    if not queries or not refs:
        raise VidsimError(f"no videos found in {queries_dir if not queries else refs_dir}")
    gt = load_ground_truth(gt_path, gt_format, queries, refs, pairs)
    used_groupings: list[str] = []
    if attributes is not None:
        attrs = read_query_attributes(attributes)
        gt = gt.with_attributes(attrs)
        present = {k for a in attrs.values() for k in a}
        used_groupings = [g for g in groupings if g in present]
    run = EvaluationRun(results=[], outputs={})
    for spec in methods:
        method = spec if isinstance(spec, Method) else build_method(spec, **(method_options or {}))
        start = time.perf_counter()
        scores = score_all(method, queries, refs, run.failures, progress)
        run.timings[method.name] = time.perf_counter() - start
        run.results.append(evaluate_method(method.name, gt, scores=scores, groupings=used_groupings))
    run.outputs = write_report(run.results, out_dir, title=title)
    return run
