"""Evaluation reports: per-method results as JSON, Markdown tables and a PR-curve PNG.

matplotlib is imported only when a plot is drawn, and only its Agg canvas is used (no pyplot,
no global backend switch), so reports can be written on headless machines and inside tests.
"""
from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .groundtruth import GroundTruth, Pair, Segment
from .metrics import (
    PRCurve,
    flatten_scores,
    group_queries,
    micro_average_precision,
    micro_average_precision_against,
    micro_average_precision_excluding,
    per_query_average_precision,
    restrict_predictions,
    scores_from_pairs,
    segment_micro_average_precision,
    segment_precision_recall_f,
)

PathLike = str | os.PathLike

__all__ = [
    "MethodResult",
    "evaluate_method",
    "results_to_dict",
    "write_json",
    "markdown_report",
    "write_markdown",
    "plot_pr_curves",
    "write_report",
]


@dataclass(frozen=True, eq=False)
class MethodResult:
    """Everything measured for one method: headline metrics, per-group breakdowns, PR curve.

    ``groups[grouping][group][metric]``, e.g. ``groups["transform"]["crop"]["mAP"]``.
    """

    name: str
    metrics: Mapping[str, float]
    groups: Mapping[str, Mapping[str, Mapping[str, float]]] = field(default_factory=dict)
    curve: PRCurve | None = None


def _rp_name(precision: float) -> str:
    return f"R@P{precision * 100:g}"


def _video_metrics(scores: Mapping[str, Mapping[str, float]], gt: GroundTruth, precision: float,
                   same_source: frozenset[Pair] | None) -> tuple[dict, PRCurve]:
    aps = per_query_average_precision(scores, gt)
    pairs = flatten_scores(scores)
    micro = micro_average_precision(pairs, gt)
    recall, _ = micro.curve.recall_at_precision(precision)
    metrics = {
        "mAP": float(np.mean(list(aps.values()))) if aps else float("nan"),
        "uAP": micro.ap,
    }
    if same_source is not None:
        hard = {p for p in same_source if p[0] in gt.query_ids}
        metrics["uAP_excl_same_source"] = micro_average_precision_excluding(pairs, gt, hard).ap
        metrics["uAP_vs_same_source"] = micro_average_precision_against(pairs, gt, hard).ap
    metrics[_rp_name(precision)] = recall
    metrics["queries"] = float(len(aps))
    return metrics, micro.curve


def _segment_metrics(segments: Mapping[Pair, Iterable[Segment]], gt: GroundTruth, min_score: float | None) -> dict:
    res = segment_precision_recall_f(segments, gt, min_score=min_score)
    return {"seg_P": res.precision, "seg_R": res.recall, "seg_F": res.f1,
            "seg_uAP": segment_micro_average_precision(segments, gt, min_score=min_score).ap,
            "FRR": res.frr, "FAR": res.far}


def evaluate_method(
    name: str,
    gt: GroundTruth,
    *,
    scores: Mapping[str, Mapping[str, float]] | None = None,
    pairs: Iterable[tuple[str, str, float]] | None = None,
    segments: Mapping[Pair, Iterable[Segment]] | None = None,
    groupings: Mapping[str, Mapping[str, str]] | Sequence[str] = (),
    precision: float = 0.9,
    min_score: float | None = None,
    same_source: Iterable[Pair] | None = None,
) -> MethodResult:
    """Compute the standard metric set of one method, overall and per grouping.

    Video level (from ``scores`` dict[q][r] or ``pairs`` (q, r, score)): mAP, uAP (µAP), R@P90
    and the number of queries with copies; where there are "same source, other time" negatives,
    also uAP_excl_same_source (µAP with those pairs left out) and uAP_vs_same_source (the copies
    against them alone). ``same_source`` lists those pairs; None takes
    ``gt.same_source_negatives()`` (from the query and reference ``source`` attributes).
    Segment level (from ``segments``): VCSL seg_P, seg_R, seg_F, FRR, FAR and VSC22's segment
    µAP seg_uAP. ``groupings`` maps a grouping name to query -> group, or lists ``gt`` query
    attribute names (e.g. ["transform", "source"]).
    """
    if scores is None and pairs is not None:
        scores = scores_from_pairs(pairs)
    if scores is None and segments is None:
        raise ValueError("evaluate_method needs scores, pairs or segments")
    if not isinstance(groupings, Mapping):
        groupings = {g: gt.attribute(g) for g in groupings}
    hard = gt.same_source_negatives() if same_source is None else frozenset((str(q), str(r)) for q, r in same_source)
    hard_or_none = hard or None

    def measure(sub_scores: Any, sub_segments: Any, sub_gt: GroundTruth) -> tuple[dict, PRCurve | None]:
        out: dict[str, float] = {}
        curve = None
        if sub_scores is not None:
            vm, curve = _video_metrics(sub_scores, sub_gt, precision, hard_or_none)
            out.update(vm)
        if sub_segments is not None:
            out.update(_segment_metrics(sub_segments, sub_gt, min_score))
        return out, curve

    metrics, curve = measure(scores, segments, gt)
    groups: dict[str, dict[str, dict[str, float]]] = {}
    for grouping, mapping in groupings.items():
        groups[grouping] = {
            str(g): measure(
                None if scores is None else restrict_predictions(scores, qs),
                None if segments is None else restrict_predictions(segments, qs),
                gt.restrict(qs),
            )[0]
            for g, qs in group_queries(mapping, gt).items()
        }
    return MethodResult(name, metrics, groups, curve)


# ---------------------------------------------------------------------------------------------
# JSON
# ---------------------------------------------------------------------------------------------
def _clean(x: Any) -> Any:
    if isinstance(x, Mapping):
        return {str(k): _clean(v) for k, v in x.items()}
    if isinstance(x, (list, tuple, np.ndarray)):
        return [_clean(v) for v in x]
    if isinstance(x, (float, np.floating)):
        return None if not math.isfinite(float(x)) else float(x)
    if isinstance(x, np.integer):
        return int(x)
    return x


def _decimate(curve: PRCurve, max_points: int) -> dict[str, Any]:
    n = len(curve.recall)
    idx = np.arange(n) if n <= max_points else np.unique(np.linspace(0, n - 1, max_points).round().astype(int))
    return {
        "precision": curve.precision[idx],
        "recall": curve.recall[idx],
        "thresholds": curve.thresholds[idx],
        "n_positives": curve.n_positives,
    }


def results_to_dict(results: Sequence[MethodResult], *, include_curves: bool = True,
                    max_curve_points: int = 1000) -> dict[str, Any]:
    """Plain JSON-ready dict of the results (NaN becomes null; long curves are subsampled)."""
    methods = []
    for res in results:
        item: dict[str, Any] = {"name": res.name, "metrics": res.metrics, "groups": res.groups}
        if include_curves and res.curve is not None:
            item["pr_curve"] = _decimate(res.curve, max_curve_points)
        methods.append(item)
    return _clean({"methods": methods})


def write_json(results: Sequence[MethodResult], path: PathLike, **kwargs: Any) -> Path:
    """Write :func:`results_to_dict` to ``path`` (indented, keys in insertion order)."""
    path = Path(path)
    path.write_text(json.dumps(results_to_dict(results, **kwargs), indent=2, allow_nan=False) + "\n",
                    encoding="utf-8")
    return path


# ---------------------------------------------------------------------------------------------
# Markdown
# ---------------------------------------------------------------------------------------------
_LABELS = {
    "uAP": "µAP",
    "uAP_excl_same_source": "µAP excl. same-source neg.",
    "uAP_vs_same_source": "µAP copies vs same-source neg.",
    "seg_uAP": "seg µAP (VSC22)",
}


_COUNTS = ("queries", "pairs")


def _is_count(metric: str) -> bool:
    return metric in _COUNTS or metric.startswith("n_")


def _cell(v: Any, metric: str = "") -> str:
    if v is None:
        return "–"
    v = float(v)
    if not math.isfinite(v):
        return "–"
    return str(int(v)) if _is_count(metric) and v.is_integer() else f"{v:.3f}"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], numeric_from: int = 1) -> list[str]:
    esc = lambda s: str(s).replace("|", "\\|")  # noqa: E731
    lines = ["| " + " | ".join(esc(h) for h in header) + " |",
             "|" + "|".join("---" if i < numeric_from else "---:" for i in range(len(header))) + "|"]
    lines += ["| " + " | ".join(esc(c) for c in row) + " |" for row in rows]
    return lines


def _ordered_keys(dicts: Iterable[Mapping[str, Any]]) -> list[str]:
    keys: list[str] = []
    for d in dicts:
        keys += [k for k in d if k not in keys]
    return keys


def markdown_report(results: Sequence[MethodResult], *, title: str = "Evaluation",
                    group_metrics: Sequence[str] | None = None) -> str:
    """Markdown: one table of headline metrics (a row per method), then per grouping one table per
    metric (a row per group, a column per method). ``group_metrics`` limits the per-group tables."""
    lines = [f"# {title}", ""]
    metric_names = _ordered_keys(r.metrics for r in results)
    lines += _table(["method"] + [_LABELS.get(m, m) for m in metric_names],
                    [[r.name] + [_cell(r.metrics.get(m), m) for m in metric_names] for r in results])
    for grouping in _ordered_keys(r.groups for r in results):
        tables = [r.groups.get(grouping, {}) for r in results]
        group_names = sorted(_ordered_keys(tables), key=str)
        names = _ordered_keys(v for t in tables for v in t.values())
        if group_metrics is not None:
            names = [m for m in names if m in group_metrics]
        lines += ["", f"## Per {grouping}"]
        for metric in names:
            lines += ["", f"### {_LABELS.get(metric, metric)}", ""]
            rows = [[g] + [_cell(t.get(g, {}).get(metric), metric) for t in tables] for g in group_names]
            lines += _table([grouping] + [r.name for r in results], rows)
    return "\n".join(lines) + "\n"


def write_markdown(results: Sequence[MethodResult], path: PathLike, **kwargs: Any) -> Path:
    """Write :func:`markdown_report` to ``path``."""
    path = Path(path)
    path.write_text(markdown_report(results, **kwargs), encoding="utf-8")
    return path


# ---------------------------------------------------------------------------------------------
# PR-curve plot
# ---------------------------------------------------------------------------------------------
def plot_pr_curves(results: Sequence[MethodResult], path: PathLike, *, title: str = "Precision-recall (all pairs)",
                   precision_line: float | None = 0.9, dpi: int = 120) -> Path:
    """Draw one precision-recall curve per method that has one into a PNG file."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.4, 4.8))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    drawn = 0
    for res in results:
        c = res.curve
        if c is None or len(c.recall) == 0 or not np.all(np.isfinite(c.recall)):
            continue
        # Keep the thresholds where recall grows; precision at such a point holds over the recall
        # step that leads to it, so the area under the drawn steps is the (tie-grouped) µAP.
        gain = np.diff(np.r_[0.0, c.recall]) > 0
        if not gain.any():
            continue
        rec = np.r_[0.0, c.recall[gain]]
        prec = np.r_[c.precision[gain][0], c.precision[gain]]
        uap = res.metrics.get("uAP")
        label = res.name if uap is None or not math.isfinite(uap) else f"{res.name} (µAP {uap:.3f})"
        ax.plot(rec, prec, drawstyle="steps-pre", label=label)
        drawn += 1
    if precision_line is not None:
        ax.axhline(precision_line, color="grey", linestyle=":", linewidth=1)
    if not drawn:
        ax.text(0.5, 0.5, "no PR curve", ha="center", va="center", transform=ax.transAxes)
    ax.set_xlim(0.0, 1.02)
    ax.set_ylim(0.0, 1.02)
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.set_title(title)
    ax.grid(True, linestyle=":", linewidth=0.5)
    if drawn:
        ax.legend(loc="lower left", fontsize="small")
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, format="png", dpi=dpi)
    return path


def write_report(results: Sequence[MethodResult], out_dir: PathLike, *, stem: str = "evaluation",
                 title: str = "Evaluation") -> dict[str, Path]:
    """Write ``<stem>.json``, ``<stem>.md`` and ``<stem>_pr.png`` into ``out_dir``; returns their paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    return {
        "json": write_json(results, out / f"{stem}.json"),
        "markdown": write_markdown(results, out / f"{stem}.md", title=title),
        "png": plot_pr_curves(results, out / f"{stem}_pr.png", title=f"{title}: precision-recall"),
    }
