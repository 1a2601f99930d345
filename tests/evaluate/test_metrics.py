"""Metrics against hand-computed values: AP/mAP (FIVR), µAP and R@P (VSC22), VCSL segment P/R/F."""
from __future__ import annotations

import math

import numpy as np
import pytest

from vidsim.evaluate import (
    GroundTruth,
    Segment,
    average_precision,
    f_score,
    mean_average_precision,
    micro_average_precision,
    pair_precision_recall,
    per_group,
    per_query_average_precision,
    precision_recall_curve,
    recall_at_precision,
    segment_macro_precision_recall,
    segment_precision_recall_f,
)


def video_gt(matches, queries=(), refs=(), attributes=None):
    """Video-level ground truth from {q: [refs]}."""
    return GroundTruth({q: {r: () for r in rs} for q, rs in matches.items()},
                       frozenset(queries), frozenset(refs), attributes or {})


# ---------------------------------------------------------------------------------------------
# average_precision
# ---------------------------------------------------------------------------------------------
def test_ap_hand_computed():
    assert average_precision([1, 0, 1], 2) == pytest.approx((1 + 2 / 3) / 2)
    assert average_precision([0, 1, 0, 0, 1], 2) == pytest.approx((1 / 2 + 2 / 5) / 2)


def test_ap_missing_relevant_count_as_zero():
    # 3 copies, only 2 in the list: the third contributes precision 0.
    assert average_precision([1, 0, 1], 3) == pytest.approx((1 + 2 / 3) / 3)


def test_ap_perfect_and_reversed():
    assert average_precision([1, 1, 0, 0]) == 1.0
    assert average_precision([0, 0, 1, 1]) == pytest.approx((1 / 3 + 2 / 4) / 2)
    assert average_precision([0, 0, 1, 1]) < 1.0


def test_ap_rejects_bad_input():
    with pytest.raises(ValueError):
        average_precision([0, 0], 0)
    with pytest.raises(ValueError):
        average_precision([1, 1], 1)
    with pytest.raises(ValueError):
        average_precision([1, 2], 2)


# ---------------------------------------------------------------------------------------------
# mAP (FIVR protocol)
# ---------------------------------------------------------------------------------------------
@pytest.fixture()
def map_gt():
    return video_gt({"q1": ["r1", "r2"], "q2": ["r3"]}, queries={"q3"}, refs={"r4", "r5"})


def test_map_hand_computed(map_gt):
    scores = {
        "q1": {"r1": 0.9, "r4": 0.8, "r2": 0.7, "r5": 0.1},  # [1,0,1,0] -> 5/6
        "q2": {"q2": 1.0, "zz": 0.95, "r1": 0.9, "r2": 0.5, "r3": 0.4},  # self and unknown dropped -> 1/3
        "q3": {"r1": 0.3},  # no copy: excluded
    }
    aps = per_query_average_precision(scores, map_gt)
    assert set(aps) == {"q1", "q2"}
    assert aps["q1"] == pytest.approx(5 / 6)
    assert aps["q2"] == pytest.approx(1 / 3)
    assert mean_average_precision(scores, map_gt) == pytest.approx((5 / 6 + 1 / 3) / 2)


def test_map_perfect_and_reversed(map_gt):
    refs = sorted(map_gt.ref_ids)
    perfect = {q: {r: (1.0 if map_gt.is_positive(q, r) else 0.0) for r in refs} for q in ("q1", "q2")}
    reversed_ = {q: {r: 1.0 - s for r, s in row.items()} for q, row in perfect.items()}
    assert mean_average_precision(perfect, map_gt) == 1.0
    assert mean_average_precision(reversed_, map_gt) < 0.6


def test_map_unscored_copies_are_missed(map_gt):
    scores = {"q1": {"r1": 0.9}, "q2": {"r1": 0.9}}  # r2 and r3 never scored
    aps = per_query_average_precision(scores, map_gt)
    assert aps == {"q1": pytest.approx(0.5), "q2": 0.0}
    # A query with copies but no scores at all counts as AP 0, not skipped.
    assert per_query_average_precision({}, map_gt) == {"q1": 0.0, "q2": 0.0}


def test_map_ties_are_pessimistic_and_deterministic():
    gt = video_gt({"q": ["a"]}, refs={"b", "c"})
    s1 = {"q": {"a": 0.5, "b": 0.5, "c": 0.5}}
    s2 = {"q": {"c": 0.5, "b": 0.5, "a": 0.5}}
    assert mean_average_precision(s1, gt) == mean_average_precision(s2, gt) == pytest.approx(1 / 3)
    assert mean_average_precision(s1, gt, ties="optimistic") == 1.0


def test_map_nan_when_no_query_has_copies():
    assert math.isnan(mean_average_precision({}, video_gt({}, queries={"q"}, refs={"r"})))


def test_map_rejects_nonfinite(map_gt):
    with pytest.raises(ValueError):
        mean_average_precision({"q1": {"r1": float("nan")}}, map_gt)


# ---------------------------------------------------------------------------------------------
# µAP, PR curve, recall at precision (VSC22 descriptor track)
# ---------------------------------------------------------------------------------------------
@pytest.fixture()
def pair_gt():
    # 3 copies; (q2, r3) is never predicted but still counts in the denominator.
    return video_gt({"q1": ["r1", "r2"], "q2": ["r3"]})


PAIRS = [("q1", "r1", 0.9), ("q2", "r1", 0.8), ("q1", "r2", 0.7), ("q2", "r2", 0.6)]


def test_micro_ap_hand_computed(pair_gt):
    res = micro_average_precision(PAIRS, pair_gt)
    assert res.ap == pytest.approx((1 / 1 + 2 / 3) / 3)
    np.testing.assert_allclose(res.curve.thresholds, [0.9, 0.8, 0.7, 0.6])
    np.testing.assert_allclose(res.curve.precision, [1, 1 / 2, 2 / 3, 1 / 2])
    np.testing.assert_allclose(res.curve.recall, [1 / 3, 1 / 3, 2 / 3, 2 / 3])
    assert res.curve.n_positives == 3


def test_micro_ap_order_of_input_does_not_matter(pair_gt):
    assert micro_average_precision(PAIRS[::-1], pair_gt).ap == micro_average_precision(PAIRS, pair_gt).ap


def test_micro_ap_perfect_and_reversed():
    gt = video_gt({"q1": ["r1"], "q2": ["r2"]})
    perfect = [("q1", "r1", 0.9), ("q2", "r2", 0.8), ("q1", "r2", 0.2), ("q2", "r1", 0.1)]
    rev = [(q, r, 1 - s) for q, r, s in perfect]
    assert micro_average_precision(perfect, gt).ap == 1.0
    assert micro_average_precision(rev, gt).ap == pytest.approx((1 / 3 + 2 / 4) / 2)


def test_micro_ap_ties():
    gt = video_gt({"q": ["a", "b"]})
    tied = [("q", "a", 0.5), ("q", "b", 0.5), ("q", "c", 0.5)]
    # One threshold: precision 2/3 for both copies (scikit-learn / VSC22 behaviour).
    assert micro_average_precision(tied, gt).ap == pytest.approx(2 / 3)
    assert micro_average_precision(tied, gt, ties="pessimistic").ap == pytest.approx((1 / 2 + 2 / 3) / 2)
    assert micro_average_precision(tied, gt, ties="optimistic").ap == 1.0


def test_micro_ap_edge_cases(pair_gt):
    assert micro_average_precision([], pair_gt).ap == 0.0
    assert math.isnan(micro_average_precision(PAIRS, video_gt({})).ap)
    with pytest.raises(ValueError):
        micro_average_precision(PAIRS + [("q1", "r1", 0.1)], pair_gt)
    # Self-pairs are ignored.
    assert micro_average_precision(PAIRS + [("q1", "q1", 5.0)], pair_gt).ap == pytest.approx(5 / 9)


def test_recall_at_precision(pair_gt):
    r90 = recall_at_precision(PAIRS, pair_gt, 0.9)
    assert r90.recall == pytest.approx(1 / 3) and r90.threshold == 0.9
    r60 = recall_at_precision(PAIRS, pair_gt, precision=0.6)
    assert r60.recall == pytest.approx(2 / 3) and r60.threshold == 0.7
    none = recall_at_precision([("q1", "r9", 1.0)] + PAIRS, pair_gt, 0.9)
    assert none.recall == 0.0 and none.threshold is None
    assert len(none.curve.recall) == 5


def test_precision_recall_curve_groups_ties(pair_gt):
    curve = precision_recall_curve([("q1", "r1", 1.0), ("q2", "r1", 1.0), ("q2", "r3", 0.5)], pair_gt)
    np.testing.assert_allclose(curve.thresholds, [1.0, 0.5])
    np.testing.assert_allclose(curve.precision, [1 / 2, 2 / 3])
    np.testing.assert_allclose(curve.recall, [1 / 3, 2 / 3])


# ---------------------------------------------------------------------------------------------
# VCSL segment precision / recall
# ---------------------------------------------------------------------------------------------
def S(q0, q1, r0, r1, score=1.0):
    return Segment(q0, q1, r0, r1, score)


def test_pair_pr_partial_overlap():
    # Intersection covers half of each box on both axes: 0.5 * 0.5.
    pr = pair_precision_recall([S(5, 15, 5, 15)], [S(0, 10, 0, 10)])
    assert pr.precision == pytest.approx(0.25) and pr.recall == pytest.approx(0.25)


def test_pair_pr_one_good_one_false_prediction():
    pr = pair_precision_recall([S(0, 10, 100, 110), S(20, 30, 0, 10)], [S(0, 10, 100, 110)])
    assert pr.precision == pytest.approx((10 / 20) * (10 / 20))
    assert pr.recall == pytest.approx(1.0)


def test_pair_pr_union_over_overlapping_true_boxes():
    # The predicted box covers both true boxes; their intersections overlap on [3, 5] and are
    # merged (union) before measuring: 10 s covered out of 20 s on each axis.
    pr = pair_precision_recall([S(0, 20, 0, 20)], [S(0, 5, 0, 5), S(3, 10, 3, 10)])
    assert pr.precision == pytest.approx(0.25)
    assert pr.recall == pytest.approx(1.0)


def test_pair_pr_axis_swapped_boxes_score_zero():
    # VCSL paper Fig. 4(f): right query times, wrong reference times -> no overlap area.
    gt = [S(4, 14, 10, 18), S(20, 28, 21, 29)]
    pred = [S(4, 14, 21, 29), S(20, 28, 10, 18)]
    pr = pair_precision_recall(pred, gt)
    assert pr.precision == 0.0 and pr.recall == 0.0


def test_pair_pr_empty_sides_follow_vcsl():
    assert (pair_precision_recall([S(0, 1, 0, 1)], []).precision, pair_precision_recall([S(0, 1, 0, 1)], []).recall) == (0.0, 1.0)
    assert (pair_precision_recall([], [S(0, 1, 0, 1)]).precision, pair_precision_recall([], [S(0, 1, 0, 1)]).recall) == (1.0, 0.0)
    assert pair_precision_recall([], []).precision == 1.0


@pytest.fixture()
def seg_case():
    gt = GroundTruth(
        {
            "q1": {"r1": (S(0, 10, 0, 10),), "r2": (S(0, 10, 0, 10),)},
            "q2": {"r2": (S(0, 5, 0, 5), S(3, 10, 3, 10))},
        },
        query_ids=frozenset({"q3"}),
    )
    pred = {
        ("q1", "r1"): [S(5, 15, 5, 15)],  # P .25, R .25
        # ("q1", "r2") missed:               P (1, excluded), R 0
        ("q2", "r1"): [S(0, 3, 0, 3)],  # false alarm: P 0, R (1, excluded)
        ("q2", "r2"): [S(0, 20, 0, 20)],  # P .25, R 1
    }
    return gt, pred


def test_segment_prf_overall(seg_case):
    gt, pred = seg_case
    res = segment_precision_recall_f(pred, gt)
    assert res.precision == pytest.approx((0.25 + 0 + 0.25) / 3)
    assert res.recall == pytest.approx((0.25 + 0 + 1) / 3)
    assert res.f1 == pytest.approx(5 / 21)
    # Universe: {q1, q2, q3} x {r1, r2} = 6 pairs, 3 copies, 3 non-copies.
    assert (res.n_pairs, res.n_positive, res.n_negative) == (6, 3, 3)
    assert res.frr == pytest.approx(1 / 3) and res.far == pytest.approx(1 / 3)
    assert set(res.per_pair) == {("q1", "r1"), ("q1", "r2"), ("q2", "r1"), ("q2", "r2")}


def test_segment_prf_min_score_and_closed_pair_list(seg_case):
    gt, pred = seg_case
    pred = dict(pred)
    pred[("q2", "r1")] = [S(0, 3, 0, 3, score=0.1)]
    res = segment_precision_recall_f(pred, gt, min_score=0.5)  # the false alarm is dropped
    assert res.precision == pytest.approx(0.25) and res.far == 0.0
    closed = GroundTruth(gt.matches, pairs=gt.positive_pairs() | {("q2", "r1")})
    res = segment_precision_recall_f({**pred, ("q9", "r9"): [S(0, 1, 0, 1)]}, closed)
    assert res.n_pairs == 4 and res.n_negative == 1
    assert ("q9", "r9") not in res.per_pair  # outside the evaluated pairs: ignored, as VCSL does


def test_segment_prf_perfect():
    gt = GroundTruth({"q": {"r": (S(0, 10, 5, 15), S(20, 30, 40, 50))}})
    res = segment_precision_recall_f({("q", "r"): list(gt.segments("q", "r"))}, gt)
    assert res.precision == res.recall == res.f1 == 1.0


def test_segment_prf_requires_segments():
    with pytest.raises(ValueError):
        segment_precision_recall_f({}, video_gt({"q": ["r"]}))


def test_segment_macro(seg_case):
    gt, pred = seg_case
    res = segment_precision_recall_f(pred, gt)
    p, r, f, n = segment_macro_precision_recall(res, {"a": [("q1", "r1"), ("q1", "r2")], "b": [("q2", "r2")]})
    # Set a: P mean(.25, 1) R mean(.25, 0); set b: P .25, R 1.
    assert n == 2
    assert p == pytest.approx((0.625 + 0.25) / 2)
    assert r == pytest.approx((0.125 + 1.0) / 2)
    assert f == pytest.approx(f_score(p, r))


# ---------------------------------------------------------------------------------------------
# per-group breakdown
# ---------------------------------------------------------------------------------------------
def test_per_group_restricts_queries_and_denominators(pair_gt):
    groups = {"q1": "crop", "q2": "flip"}
    res = per_group(lambda p, g: micro_average_precision(p, g).ap, PAIRS, pair_gt, groups)
    assert list(res) == ["crop", "flip"]
    assert res["crop"] == pytest.approx(1.0)  # q1: r1 (0.9), r2 (0.7), both copies, ranked first
    assert res["flip"] == 0.0  # q2's only copy r3 is never predicted


def test_per_group_by_attribute(map_gt):
    gt = map_gt.with_attributes({"q1": {"t": "a"}, "q2": {"t": "b"}, "q3": {"t": "a"}})
    scores = {"q1": {"r1": 0.9, "r4": 0.8, "r2": 0.7}, "q2": {"r3": 0.9}}
    res = per_group(mean_average_precision, scores, gt, "t")
    assert res == {"a": pytest.approx(5 / 6), "b": 1.0}
    seg = per_group(segment_precision_recall_f,
                    {("q1", "r1"): [S(0, 1, 0, 1)]},
                    GroundTruth({"q1": {"r1": (S(0, 1, 0, 1),)}}, query_ids=frozenset({"q2"}),
                                query_attributes={"q1": {"t": "a"}, "q2": {"t": "b"}}), "t")
    assert seg["a"].f1 == 1.0 and math.isnan(seg["b"].recall)


def test_f_score_edge_cases():
    assert f_score(0.5, 0.5) == 0.5
    assert f_score(0.0, 0.0) == 0.0
    assert f_score(float("nan"), 0.0) == 0.0  # nothing predicted on copies
    assert math.isnan(f_score(float("nan"), 0.5))
