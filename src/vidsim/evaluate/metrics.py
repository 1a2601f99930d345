"""Evaluation metrics for video copy detection, in plain numpy.

Video level: per-query average precision and mAP as the FIVR-200K protocol computes it, and
micro-AP (µAP) over globally ranked (query, reference) pairs as VSC22's descriptor track does,
also with a set of hard-negative pairs left out or kept as the only non-copies.
Segment level: VCSL's copy-overlap precision/recall and VSC22's matching-track segment µAP.
Every metric can be broken down per group of queries (transform family, source clip...) with
:func:`per_group`.

Conventions shared by all metrics: scores must be finite, higher means "more likely a copy";
self-pairs (query id == reference id) are never evaluated.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeVar, get_args

import numpy as np

from vidsim.errors import ConfigError

from .groundtruth import GroundTruth, Pair, Segment

__all__ = [
    "Ties",
    "average_precision",
    "per_query_average_precision",
    "mean_average_precision",
    "PRCurve",
    "MicroAP",
    "RecallAtPrecision",
    "flatten_scores",
    "scores_from_pairs",
    "precision_recall_curve",
    "micro_average_precision",
    "micro_average_precision_excluding",
    "micro_average_precision_against",
    "recall_at_precision",
    "PairPR",
    "SegmentPRF",
    "pair_precision_recall",
    "segment_precision_recall_f",
    "segment_macro_precision_recall",
    "segment_micro_average_precision",
    "f_score",
    "per_group",
    "group_queries",
    "restrict_predictions",
]

#: How equal scores are ordered when ranking.
#: "pessimistic": within a tie, non-copies rank before copies (the lowest AP the tie allows);
#: "optimistic": copies first; "group": a tie is one threshold, every copy in it gets the
#: precision at the end of the tie (scikit-learn's ``average_precision_score``, VSC22's µAP).
Ties = Literal["pessimistic", "optimistic", "group"]
_TIES: tuple[str, ...] = get_args(Ties)


# ---------------------------------------------------------------------------------------------
# Average precision
# ---------------------------------------------------------------------------------------------
def average_precision(ranked_relevance: Sequence[int | bool] | np.ndarray, n_relevant: int | None = None) -> float:
    """AP of one ranked list: mean over all ``n_relevant`` copies of precision at the copy's rank.

    ``ranked_relevance[k]`` is 1 if the item at rank k+1 is a copy. Copies absent from the list
    (``n_relevant`` larger than its number of ones) contribute precision 0, as in FIVR's
    ``evaluation.py``. ``n_relevant`` defaults to the number of ones. Example: [1, 0, 1] with
    2 copies -> (1/1 + 2/3) / 2.
    """
    rel = np.asarray(ranked_relevance, dtype=float).ravel()
    if rel.size and not np.all((rel == 0) | (rel == 1)):
        raise ValueError("ranked_relevance must hold only 0/1 values")
    hits = int(rel.sum())
    n = hits if n_relevant is None else int(n_relevant)
    if n <= 0:
        raise ValueError("average precision is undefined without relevant items")
    if hits > n:
        raise ValueError(f"ranked list holds {hits} relevant items but n_relevant is {n}")
    ranks = np.flatnonzero(rel) + 1
    return float(np.sum(np.arange(1, hits + 1) / ranks) / n)


def _check_ties(ties: str) -> None:
    if ties not in _TIES:
        raise ConfigError(f"ties must be one of {_TIES}, got {ties!r}")


def _ap_from_scores(scores: np.ndarray, labels: np.ndarray, n_relevant: int, ties: str) -> float:
    """AP of items ranked by descending score, ties resolved as ``ties`` says."""
    _check_ties(ties)
    if ties == "group":
        if scores.size == 0:
            return 0.0
        order = np.argsort(-scores, kind="stable")
        s, lab = scores[order], labels[order]
        ends = np.flatnonzero(np.r_[s[1:] != s[:-1], True])
        tp = np.cumsum(lab)[ends]
        gained = np.diff(np.r_[0, tp])
        return float(np.sum(tp / (ends + 1) * gained) / n_relevant)
    # lexsort: last key is primary. Score descending, then labels (0 first if pessimistic).
    secondary = labels if ties == "pessimistic" else ~labels
    order = np.lexsort((secondary, -scores))
    return average_precision(labels[order], n_relevant)


def _check_finite(value: float, where: str) -> float:
    value = float(value)
    if not math.isfinite(value):
        raise ConfigError(f"score of {where} is not finite: {value!r}")
    return value


def per_query_average_precision(
    scores: Mapping[str, Mapping[str, float]],
    gt: GroundTruth,
    *,
    ties: Ties = "pessimistic",
) -> dict[str, float]:
    """AP of every ground-truth query that has at least one copy (FIVR protocol).

    Each query ranks the references of ``gt.ref_ids`` it scored (others, and itself, are dropped,
    like FIVR's "video in dataset" filter); copies it never scored count as missed (precision 0).
    A query with copies but no scores at all gets AP 0 (FIVR's script would skip it with a warning).
    """
    out: dict[str, float] = {}
    for q in sorted(gt.query_ids):
        positives = gt.positives(q) - {q}
        if not positives:
            continue
        row = scores.get(q, {})
        refs = [r for r in row if r != q and r in gt.ref_ids]
        s = np.array([_check_finite(row[r], f"({q}, {r})") for r in refs], dtype=float)
        lab = np.array([r in positives for r in refs], dtype=bool)
        out[q] = _ap_from_scores(s, lab, len(positives), ties) if refs else 0.0
    return out


def mean_average_precision(
    scores: Mapping[str, Mapping[str, float]],
    gt: GroundTruth,
    *,
    ties: Ties = "pessimistic",
) -> float:
    """Video-level mAP: mean of :func:`per_query_average_precision` (NaN if no query has a copy).

    Ties default to pessimistic (copies placed after non-copies of equal score) so the result
    does not depend on dict order and cannot be inflated by constant scores.
    """
    aps = per_query_average_precision(scores, gt, ties=ties)
    return float(np.mean(list(aps.values()))) if aps else float("nan")


# ---------------------------------------------------------------------------------------------
# Micro AP over pairs, PR curve, recall at precision
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class PRCurve:
    """Precision and recall at each distinct score threshold, thresholds descending."""

    precision: np.ndarray
    recall: np.ndarray
    thresholds: np.ndarray
    n_positives: int

    def recall_at_precision(self, precision: float) -> tuple[float, float | None]:
        """Highest recall at a threshold whose precision is >= ``precision``, and that threshold."""
        ok = np.flatnonzero(self.precision >= precision)
        if ok.size == 0 or self.n_positives == 0:
            return (0.0 if self.n_positives else float("nan")), None
        i = ok[np.argmax(self.recall[ok])]
        return float(self.recall[i]), float(self.thresholds[i])


@dataclass(frozen=True, eq=False)
class MicroAP:
    """µAP and the PR curve it was computed from."""

    ap: float
    curve: PRCurve


@dataclass(frozen=True, eq=False)
class RecallAtPrecision:
    """Recall reached at the lowest threshold that keeps precision >= the target."""

    recall: float
    threshold: float | None  # None when no threshold reaches the target precision
    precision: float  # the target
    curve: PRCurve


def flatten_scores(scores: Mapping[str, Mapping[str, float]]) -> list[tuple[str, str, float]]:
    """dict[q][r] -> score into a list of (q, r, score) triples."""
    return [(q, r, s) for q, row in scores.items() for r, s in row.items()]


def scores_from_pairs(pairs: Iterable[tuple[str, str, float]]) -> dict[str, dict[str, float]]:
    """(q, r, score) triples into dict[q][r] -> score (the best score wins on duplicates)."""
    out: dict[str, dict[str, float]] = {}
    for q, r, s in pairs:
        row = out.setdefault(q, {})
        row[r] = max(float(s), row.get(r, -math.inf))
    return out


def _pair_arrays(pairs: Iterable[tuple[str, str, float]], gt: GroundTruth) -> tuple[np.ndarray, np.ndarray]:
    seen: set[Pair] = set()
    scores, labels = [], []
    for q, r, s in pairs:
        if q == r:
            continue
        if (q, r) in seen:
            raise ConfigError(f"pair ({q}, {r}) is scored twice")
        seen.add((q, r))
        scores.append(_check_finite(s, f"({q}, {r})"))
        labels.append(gt.is_positive(q, r))
    return np.asarray(scores, dtype=float), np.asarray(labels, dtype=bool)


def _n_positive_pairs(gt: GroundTruth) -> int:
    return sum(1 for q, r in gt.positive_pairs() if q != r)


def precision_recall_curve(pairs: Iterable[tuple[str, str, float]], gt: GroundTruth) -> PRCurve:
    """Global PR curve of (query, ref, score) pairs; recall is over all copies in ``gt``."""
    s, lab = _pair_arrays(pairs, gt)
    return _curve(s, lab, _n_positive_pairs(gt))


def _curve(s: np.ndarray, lab: np.ndarray, n_pos: int) -> PRCurve:
    if s.size == 0:
        empty = np.zeros(0)
        return PRCurve(empty, empty.copy(), empty.copy(), n_pos)
    order = np.argsort(-s, kind="stable")
    s, lab = s[order], lab[order]
    ends = np.flatnonzero(np.r_[s[1:] != s[:-1], True])
    tp = np.cumsum(lab)[ends].astype(float)
    precision = tp / (ends + 1)
    recall = tp / n_pos if n_pos else np.full(tp.shape, np.nan)
    return PRCurve(precision, recall, s[ends].copy(), n_pos)


def micro_average_precision(
    pairs: Iterable[tuple[str, str, float]],
    gt: GroundTruth,
    *,
    ties: Ties = "group",
) -> MicroAP:
    """µAP (VSC22 descriptor track): AP of all pairs ranked together by score.

    AP = sum over copies found of precision at their rank, divided by *all* copies in ``gt``:
    copies that no pair scores still count in the denominator (VSC22's DrivenData scorer
    rescales scikit-learn's AP by found/total copies, which is the same number). Default ties:
    "group", as scikit-learn and so VSC22 do. NaN when ``gt`` has no copy. Duplicated pairs raise.
    """
    s, lab = _pair_arrays(pairs, gt)
    n_pos = _n_positive_pairs(gt)
    curve = _curve(s, lab, n_pos)
    ap = _ap_from_scores(s, lab, n_pos, ties) if n_pos else float("nan")
    return MicroAP(ap, curve)


def _negative_pairs(gt: GroundTruth, negatives: Iterable[Pair]) -> frozenset[Pair]:
    """The given pairs, checked to be negatives (a copied pair cannot be one)."""
    chosen = frozenset((str(q), str(r)) for q, r in negatives)
    copies = sorted(p for p in chosen if gt.is_positive(*p))
    if copies:
        raise ConfigError(f"pairs given as negatives are copies in the ground truth: {copies[:5]}")
    return chosen


def micro_average_precision_excluding(
    pairs: Iterable[tuple[str, str, float]],
    gt: GroundTruth,
    negatives: Iterable[Pair],
    *,
    ties: Ties = "group",
) -> MicroAP:
    """µAP with the ``negatives`` (query, reference) pairs left out (none may be a copy).

    The copies and the other non-copies are ranked as in :func:`micro_average_precision`; so it
    shows what the rest of the problem scores once a kind of hard negative is set aside.
    """
    drop = _negative_pairs(gt, negatives)
    return micro_average_precision([t for t in pairs if (t[0], t[1]) not in drop], gt, ties=ties)


def micro_average_precision_against(
    pairs: Iterable[tuple[str, str, float]],
    gt: GroundTruth,
    negatives: Iterable[Pair],
    *,
    ties: Ties = "group",
) -> MicroAP:
    """µAP of the copies against the ``negatives`` pairs alone (every other non-copy left out).

    Ranked together: every copied pair and every pair of ``negatives``. NaN when ``negatives``
    is empty (there is no such problem to measure) or ``gt`` has no copy.
    """
    keep = _negative_pairs(gt, negatives)
    kept = [t for t in pairs if (t[0], t[1]) in keep or gt.is_positive(t[0], t[1])]
    result = micro_average_precision(kept, gt, ties=ties)
    return result if keep else MicroAP(float("nan"), result.curve)


def recall_at_precision(
    pairs: Iterable[tuple[str, str, float]],
    gt: GroundTruth,
    precision: float = 0.9,
) -> RecallAtPrecision:
    """Recall at the operating threshold with the most recall whose precision is >= ``precision``.

    Operating points are distinct score thresholds (a tie cannot be split). Recall 0 and
    threshold None when no threshold is precise enough.
    """
    curve = precision_recall_curve(pairs, gt)
    rec, thr = curve.recall_at_precision(precision)
    return RecallAtPrecision(rec, thr, float(precision), curve)


# ---------------------------------------------------------------------------------------------
# VCSL segment precision / recall
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PairPR:
    """VCSL precision/recall of one video pair, with how many segments each side had."""

    precision: float
    recall: float
    n_predicted: int
    n_true: int


@dataclass(frozen=True, eq=False)
class SegmentPRF:
    """VCSL "overall segment-level" result plus its video-level FRR/FAR and per-pair values."""

    precision: float  # mean over pairs with at least one predicted segment
    recall: float  # mean over pairs with at least one true segment
    f1: float
    frr: float  # share of copied pairs with no prediction (false rejection)
    far: float  # share of non-copied pairs with a prediction (false alarm)
    n_pairs: int  # evaluated pairs
    n_positive: int
    n_negative: int
    per_pair: Mapping[Pair, PairPR]  # pairs with a prediction or a true segment


def f_score(precision: float, recall: float) -> float:
    """Harmonic mean 2PR/(P+R); 0 when either is 0 (even if the other is undefined), else NaN if one is NaN.

    So a method that predicts nothing on copied pairs (precision undefined, recall 0) scores F = 0.
    """
    if precision == 0 or recall == 0:
        return 0.0
    if math.isnan(precision) or math.isnan(recall):
        return float("nan")
    return 2 * precision * recall / (precision + recall)


def _union_length(starts: np.ndarray, ends: np.ndarray) -> float:
    """Total length covered by intervals [starts[i], ends[i]], overlaps counted once."""
    if starts.size == 0:
        return 0.0
    order = np.argsort(starts, kind="stable")
    total, cur_s, cur_e = 0.0, float(starts[order[0]]), float(ends[order[0]])
    for i in order[1:]:
        s, e = float(starts[i]), float(ends[i])
        if s > cur_e:
            total += cur_e - cur_s
            cur_s, cur_e = s, e
        else:
            cur_e = max(cur_e, e)
    return total + cur_e - cur_s


def _ratio(num: float, den: float) -> float:
    return num / den if den > 0 else 0.0


def _as_segment(x: Segment | Sequence[float]) -> Segment:
    return x if isinstance(x, Segment) else Segment(*x)


def pair_precision_recall(predicted: Sequence[Segment], true: Sequence[Segment]) -> PairPR:
    """VCSL precision/recall of one pair (``vcsl/metric.py: precision_recall``).

    Each segment is a box on the (query time x reference time) plane. For every predicted box,
    take its intersections with the true boxes it overlaps with positive area, and measure the
    union of those intersections projected on the query axis and on the reference axis; sum over
    predicted boxes and divide by the summed lengths of the predicted boxes on that axis.
    Precision = P_query * P_ref. Recall is the same with the roles swapped (per true box, over the
    predicted boxes it overlaps, divided by the summed true lengths): R = R_query * R_ref.
    Empty sides follow VCSL: prediction but no copy -> (P 0, R 1); copy but no prediction ->
    (P 1, R 0); neither -> (1, 1). VCSL adds 1e-6 to denominators; this computes the exact
    ratio (0 when a denominator is 0), so results differ from VCSL by at most ~1e-6 relative.
    """
    pred = [_as_segment(s) for s in predicted]
    true = [_as_segment(s) for s in true]
    n_p, n_t = len(pred), len(true)
    if n_p and not n_t:
        return PairPR(0.0, 1.0, n_p, 0)
    if n_t and not n_p:
        return PairPR(1.0, 0.0, 0, n_t)
    if not n_p and not n_t:
        return PairPR(1.0, 1.0, 0, 0)
    P = np.array([(s.query_start, s.query_end, s.ref_start, s.ref_end) for s in pred], dtype=float)
    T = np.array([(s.query_start, s.query_end, s.ref_start, s.ref_end) for s in true], dtype=float)
    # Intersection of every predicted box (rows) with every true box (columns), per axis.
    q0 = np.maximum(P[:, None, 0], T[None, :, 0])
    q1 = np.minimum(P[:, None, 1], T[None, :, 1])
    r0 = np.maximum(P[:, None, 2], T[None, :, 2])
    r1 = np.minimum(P[:, None, 3], T[None, :, 3])
    hit = (q1 - q0 > 0) & (r1 - r0 > 0)  # positive intersection area

    def covered(axis: int) -> tuple[float, float]:
        # axis 0: per predicted box (rows); axis 1: per true box (columns).
        tq = tr = 0.0
        for k in range(hit.shape[axis]):
            m = hit[k] if axis == 0 else hit[:, k]
            if not m.any():
                continue
            sl = (k, m) if axis == 0 else (m, k)
            tq += _union_length(q0[sl], q1[sl])
            tr += _union_length(r0[sl], r1[sl])
        return tq, tr

    tp_q, tp_r = covered(0)
    precision = _ratio(tp_q, float(np.sum(P[:, 1] - P[:, 0]))) * _ratio(tp_r, float(np.sum(P[:, 3] - P[:, 2])))
    tp_q, tp_r = covered(1)
    recall = _ratio(tp_q, float(np.sum(T[:, 1] - T[:, 0]))) * _ratio(tp_r, float(np.sum(T[:, 3] - T[:, 2])))
    return PairPR(precision, recall, n_p, n_t)


def segment_precision_recall_f(
    predicted: Mapping[Pair, Iterable[Segment]],
    gt: GroundTruth,
    *,
    min_score: float | None = None,
) -> SegmentPRF:
    """VCSL overall segment-level precision, recall and F-score, plus video-level FRR/FAR.

    Definition (alipay/VCSL ``vcsl/metric.py`` ``precision_recall`` + ``evaluate_micro``, used by
    ``run_video_eval.py``): :func:`pair_precision_recall` on every evaluated pair, then
    precision = mean over pairs with at least one predicted segment (pairs without a prediction
    are left out: VCSL drops their placeholder precision 1), recall = mean over copied pairs
    (non-copies' placeholder recall 1 is left out), F = 2PR/(P+R). So a false alarm on a
    non-copy pulls precision to 0 for that pair and a missed copy pulls recall to 0.
    FRR = missed copied pairs / copied pairs; FAR = non-copies with a prediction / non-copies
    (VCSL computes the same from a positive/negative ratio argument).

    Evaluated pairs: ``gt.pairs`` when set (a VCSL split; predictions for other pairs are
    ignored, as VCSL does), else every query x reference pair of ``gt`` plus every predicted
    pair. Segments with ``score < min_score`` are dropped first. A copied pair without segment
    annotation raises ConfigError (a ValueError).
    """
    universe = gt.pairs
    preds: dict[Pair, list[Segment]] = {}
    for key, segs in predicted.items():
        q, r = key
        if q == r or (universe is not None and (q, r) not in universe):
            continue
        kept = [s for s in map(_as_segment, segs) if min_score is None or s.score >= min_score]
        if kept:
            preds[(q, r)] = kept
    positives = {p for p in gt.positive_pairs() if p[0] != p[1] and (universe is None or p in universe)}
    for q, r in positives:
        if not gt.segments(q, r):
            raise ConfigError(f"copied pair ({q}, {r}) has no segment annotation")
    if universe is not None:
        n_pairs = sum(1 for q, r in universe if q != r)
    else:
        n_pairs = len(gt.query_ids) * len(gt.ref_ids) - len(gt.query_ids & gt.ref_ids)
        n_pairs += sum(1 for q, r in preds if q not in gt.query_ids or r not in gt.ref_ids)
    per_pair = {p: pair_precision_recall(preds.get(p, ()), gt.segments(*p))
                for p in sorted(positives | set(preds))}
    precisions = [v.precision for v in per_pair.values() if v.n_predicted]
    recalls = [v.recall for v in per_pair.values() if v.n_true]
    prec = float(np.mean(precisions)) if precisions else float("nan")
    rec = float(np.mean(recalls)) if recalls else float("nan")
    n_pos = len(positives)
    n_neg = n_pairs - n_pos
    missed = sum(1 for v in per_pair.values() if v.n_true and not v.n_predicted)
    false_alarms = sum(1 for v in per_pair.values() if v.n_predicted and not v.n_true)
    return SegmentPRF(
        precision=prec,
        recall=rec,
        f1=f_score(prec, rec),
        frr=missed / n_pos if n_pos else float("nan"),
        far=false_alarms / n_neg if n_neg else float("nan"),
        n_pairs=n_pairs,
        n_positive=n_pos,
        n_negative=n_neg,
        per_pair=per_pair,
    )


def segment_macro_precision_recall(
    result: SegmentPRF, query_sets: Mapping[str, Iterable[Pair]]
) -> tuple[float, float, float, int]:
    """VCSL's macro average over query sets (``evaluate_macro``): (precision, recall, F, n_sets).

    Per set, the plain mean of its pairs' precision and recall (VCSL's placeholder values for
    empty sides included, a pair with neither prediction nor copy counting as (1, 1)); then the
    mean over sets. Query sets come from ``split_meta_pairs.json`` (:func:`read_vcsl_query_sets`).
    """
    ps, rs = [], []
    for pairs in query_sets.values():
        vals = [result.per_pair.get((p[0], p[1]), PairPR(1.0, 1.0, 0, 0)) for p in pairs]
        if not vals:
            continue
        ps.append(np.mean([v.precision for v in vals]))
        rs.append(np.mean([v.recall for v in vals]))
    if not ps:
        return float("nan"), float("nan"), float("nan"), 0
    p, r = float(np.mean(ps)), float(np.mean(rs))
    return p, r, f_score(p, r), len(ps)


# ---------------------------------------------------------------------------------------------
# VSC22 matching-track segment µAP
# ---------------------------------------------------------------------------------------------
Interval = tuple[float, float]


def _merged(intervals: Iterable[Interval]) -> list[Interval]:
    """Union of intervals as sorted, disjoint intervals."""
    out: list[Interval] = []
    for a, b in sorted(intervals):
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def _length(merged: Sequence[Interval]) -> float:
    return sum(b - a for a, b in merged)


def _overlap(x: Sequence[Interval], y: Sequence[Interval]) -> float:
    """Length of the intersection of two merged interval lists (sweep over both)."""
    i = j = 0
    total = 0.0
    while i < len(x) and j < len(y):
        lo, hi = max(x[i][0], y[j][0]), min(x[i][1], y[j][1])
        total += max(0.0, hi - lo)
        if x[i][1] < y[j][1]:
            i += 1
        else:
            j += 1
    return total


def _boxes_overlap(a: Segment, b: Segment) -> bool:
    """True when two segments, as boxes on the (query time x reference time) plane, share positive area."""
    return (min(a.query_end, b.query_end) - max(a.query_start, b.query_start) > 0
            and min(a.ref_end, b.ref_end) - max(a.ref_start, b.ref_start) > 0)


_AXES: tuple[Callable[[Segment], Interval], ...] = (
    lambda s: (s.query_start, s.query_end),
    lambda s: (s.ref_start, s.ref_end),
)


class _PairState:
    """One pair's predictions so far, the true segments they reach, and the per-axis lengths counted."""

    def __init__(self, true: Sequence[Segment]):
        self.true = list(true)
        self.reached = [False] * len(self.true)
        self.predicted: list[Segment] = []
        self.covered = [0.0, 0.0]  # per axis: |union of predictions ∩ union of reached true segments|
        self.length = [0.0, 0.0]  # per axis: |union of predictions|

    def add(self, seg: Segment) -> tuple[list[float], list[float]]:
        """Add a prediction; returns how much the covered and predicted lengths grew, per axis."""
        self.predicted.append(seg)
        for k, t in enumerate(self.true):
            self.reached[k] = self.reached[k] or _boxes_overlap(seg, t)
        reached = [t for t, hit in zip(self.true, self.reached) if hit]
        d_cov, d_len = [], []
        for axis, interval in enumerate(_AXES):
            pred = _merged(map(interval, self.predicted))
            cov, length = _overlap(pred, _merged(map(interval, reached))), _length(pred)
            d_cov.append(cov - self.covered[axis])
            d_len.append(length - self.length[axis])
            self.covered[axis], self.length[axis] = cov, length
        return d_cov, d_len


def segment_micro_average_precision(
    predicted: Mapping[Pair, Iterable[Segment]],
    gt: GroundTruth,
    *,
    min_score: float | None = None,
) -> MicroAP:
    """VSC22 matching-track segment µAP (facebookresearch/vsc2022 ``vsc/metrics.py`` ``match_metric``).

    Every predicted segment of every pair is ranked together by its score, best first. Going down
    the list, each pair keeps the union of its predicted intervals on the query axis and on the
    reference axis, and the union of its true intervals reached so far (a true segment counts
    once a prediction of the pair overlaps it with positive area on the query x reference plane).
    Per axis, over all pairs: precision = |predicted ∩ reached true| / |predicted|, recall = the
    same intersection / |true| (every true segment's union, reached or not). A point of the
    curve is P = sqrt(P_query * P_ref), R = sqrt(R_query * R_ref), taken after each group of
    equal scores; µAP = sum of P * (R - previous R). Overlapping predictions count their union
    once, so they cannot inflate either side; a prediction on a non-copied pair adds only to
    |predicted|. Pairs are those of ``gt.pairs`` when set, self-pairs and segments with
    ``score < min_score`` are dropped; NaN when ``gt`` has no copied segment. A copied pair
    without segment annotation raises ConfigError.
    """
    universe = gt.pairs
    positives = [p for p in sorted(gt.positive_pairs()) if p[0] != p[1] and (universe is None or p in universe)]
    for q, r in positives:
        if not gt.segments(q, r):
            raise ConfigError(f"copied pair ({q}, {r}) has no segment annotation")
    true_length = [sum(_length(_merged(map(interval, gt.segments(*p)))) for p in positives) for interval in _AXES]
    ranked = sorted(((float(s.score), (q, r), s) for (q, r), segs in predicted.items()
                     if q != r and (universe is None or (q, r) in universe)
                     for s in map(_as_segment, segs) if min_score is None or s.score >= min_score),
                    key=lambda t: -t[0])
    states: dict[Pair, _PairState] = {}
    covered, length = [0.0, 0.0], [0.0, 0.0]
    precisions: list[float] = []
    recalls: list[float] = []
    thresholds: list[float] = []
    for i, (score, pair, seg) in enumerate(ranked):
        state = states.get(pair)
        if state is None:
            state = states[pair] = _PairState(gt.segments(*pair))
        d_cov, d_len = state.add(seg)
        for axis in (0, 1):
            covered[axis] += d_cov[axis]
            length[axis] += d_len[axis]
        if i + 1 < len(ranked) and ranked[i + 1][0] == score:
            continue  # equal scores are one threshold
        p = [_ratio(covered[a], length[a]) for a in (0, 1)]
        rec = [_ratio(covered[a], true_length[a]) for a in (0, 1)]
        precisions.append(math.sqrt(p[0] * p[1]))
        recalls.append(math.sqrt(rec[0] * rec[1]))
        thresholds.append(score)
    curve = PRCurve(np.asarray(precisions), np.asarray(recalls), np.asarray(thresholds), len(positives))
    if not positives or true_length[0] <= 0 or true_length[1] <= 0:
        return MicroAP(float("nan"), curve)
    gains = np.diff(np.r_[0.0, curve.recall])
    return MicroAP(float(np.sum(curve.precision * gains)), curve)


# ---------------------------------------------------------------------------------------------
# Per-group breakdown
# ---------------------------------------------------------------------------------------------
R = TypeVar("R")


def restrict_predictions(predictions: Any, query_ids: Iterable[str]) -> Any:
    """Keep only the predictions of some queries; handles the three prediction shapes used here.

    dict[q][r] -> score, dict[(q, r)] -> segments, or an iterable of (q, r, score) triples.
    """
    keep = set(query_ids)
    if isinstance(predictions, Mapping):
        return {k: v for k, v in predictions.items()
                if (k[0] if isinstance(k, tuple) else k) in keep}
    return [t for t in predictions if t[0] in keep]


def per_group(
    metric: Callable[..., R],
    predictions: Any,
    gt: GroundTruth,
    groups: Mapping[str, Hashable] | str,
    **kwargs: Any,
) -> dict[Hashable, R]:
    """Compute ``metric(predictions, gt, **kwargs)`` separately for each group of queries.

    ``groups`` maps query id -> group (or names a ``gt`` query attribute, e.g. "transform").
    Each group sees the ground truth restricted to its queries (same reference database) and
    only its queries' predictions, so denominators (copies, pairs) are per group. Queries
    without a group are left out. Groups are returned sorted by their string form.
    """
    if not isinstance(predictions, Mapping):
        predictions = list(predictions)
    return {g: metric(restrict_predictions(predictions, qs), gt.restrict(qs), **kwargs)
            for g, qs in group_queries(groups, gt).items()}


def group_queries(groups: Mapping[str, Hashable] | str, gt: GroundTruth) -> dict[Hashable, frozenset[str]]:
    """group -> its queries among ``gt.query_ids``, from a query -> group mapping or an attribute name.

    Groups are ordered by their string form so reports are stable.
    """
    mapping = gt.attribute(groups) if isinstance(groups, str) else groups
    members: dict[Hashable, set[str]] = {}
    for q, g in mapping.items():
        if q in gt.query_ids:
            members.setdefault(g, set()).add(q)
    return {g: frozenset(qs) for g, qs in sorted(members.items(), key=lambda kv: str(kv[0]))}
