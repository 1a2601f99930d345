"""VSC22 matching-track segment µAP (``match_metric``) against hand computations and edge cases."""
from __future__ import annotations

import math

import numpy as np
import pytest

from vidsim.errors import ConfigError
from vidsim.evaluate import GroundTruth, Segment, evaluate_method, segment_micro_average_precision


def S(q0, q1, r0, r1, score=1.0):
    return Segment(q0, q1, r0, r1, score)


@pytest.fixture()
def gt():
    return GroundTruth({"q1": {"r1": (S(0, 10, 0, 10),)}, "q2": {"r2": (S(0, 10, 20, 30),)}})


def test_ranked_segments_by_hand(gt):
    """True length 20 s on each axis (10 + 10).
    0.9 (q1, r1) [0,10]x[0,10], exact: covered 10/10, predicted 10/10 -> P 1, R sqrt(.5 * .5) = .5; +1 * .5
    0.8 (q2, r1) [0,10]x[0,10], a pair without a copy: predicted 20/20 -> P .5, R .5; +0
    0.7 (q2, r2) [5,15]x[25,35], half on each axis: covered 15/15, predicted 30/30 -> P .5, R .75; +.5 * .25
    µAP = .5 + .125 = .625."""
    pred = {("q1", "r1"): [S(0, 10, 0, 10, 0.9)], ("q2", "r1"): [S(0, 10, 0, 10, 0.8)],
            ("q2", "r2"): [S(5, 15, 25, 35, 0.7)]}
    res = segment_micro_average_precision(pred, gt)
    assert res.ap == pytest.approx(0.625)
    np.testing.assert_allclose(res.curve.thresholds, [0.9, 0.8, 0.7])
    np.testing.assert_allclose(res.curve.precision, [1, 0.5, 0.5])
    np.testing.assert_allclose(res.curve.recall, [0.5, 0.5, 0.75])
    assert res.curve.n_positives == 2


def test_overlapping_predictions_count_their_union_once():
    """True [0,10]x[0,10].
    0.9 [5,15]x[5,15]: covered 5, predicted 10 per axis -> P .5, R .5; +.25
    0.8 [0,10]x[0,10]: union [0,15] -> covered 10, predicted 15 -> P 2/3, R 1; +(2/3) * .5
    µAP = 1/4 + 1/3 = 7/12 (summing overlapping lengths would give P .75 and recall 1.5)."""
    gt = GroundTruth({"q": {"r": (S(0, 10, 0, 10),)}})
    res = segment_micro_average_precision({("q", "r"): [S(5, 15, 5, 15, 0.9), S(0, 10, 0, 10, 0.8)]}, gt)
    assert res.ap == pytest.approx(7 / 12)
    np.testing.assert_allclose(res.curve.recall, [0.5, 1.0])


def test_query_and_reference_precision_are_combined_by_sqrt():
    """True [0,10]x[0,10].
    0.9 [0,10]x[50,60]: right query times, wrong reference times: no overlap area, the true segment
        is not reached -> covered 0 -> P 0, R 0
    0.8 [0,10]x[0,10]: reached; query axis covered 10 of 10 predicted, reference axis 10 of 20
        -> P sqrt(1 * .5), R 1; µAP = sqrt(.5)."""
    gt = GroundTruth({"q": {"r": (S(0, 10, 0, 10),)}})
    res = segment_micro_average_precision({("q", "r"): [S(0, 10, 50, 60, 0.9), S(0, 10, 0, 10, 0.8)]}, gt)
    assert res.ap == pytest.approx(math.sqrt(0.5))
    np.testing.assert_allclose(res.curve.precision, [0.0, math.sqrt(0.5)])


def test_equal_scores_are_one_threshold():
    """A copy and a false alarm at 0.5: one point, P .5, R 1 -> µAP .5 (whatever their order)."""
    gt = GroundTruth({"q1": {"r1": (S(0, 10, 0, 10),)}})
    for pred in ({("q1", "r1"): [S(0, 10, 0, 10, 0.5)], ("q2", "r1"): [S(0, 10, 0, 10, 0.5)]},
                 {("q2", "r1"): [S(0, 10, 0, 10, 0.5)], ("q1", "r1"): [S(0, 10, 0, 10, 0.5)]}):
        assert segment_micro_average_precision(pred, gt).ap == pytest.approx(0.5)


def test_edge_cases(gt):
    empty = segment_micro_average_precision({}, gt)
    assert empty.ap == 0.0 and len(empty.curve.recall) == 0  # no prediction
    # A copied pair with no prediction keeps its length in the recall denominator: half found.
    found = {("q1", "r1"): [S(0, 10, 0, 10)]}
    half = segment_micro_average_precision(found, gt)
    assert half.ap == pytest.approx(0.5)
    # Only pairs without a copy predicted: nothing found.
    assert segment_micro_average_precision({("q3", "r1"): [S(0, 10, 0, 10)]}, gt).ap == 0.0
    # No ground truth at all: undefined.
    assert math.isnan(segment_micro_average_precision({("q1", "r1"): [S(0, 1, 0, 1)]}, GroundTruth({})).ap)
    # Self-pairs, low scores with min_score and pairs outside a closed pair list are dropped.
    noisy = {("q1", "r1"): [S(0, 10, 0, 10, 0.9), S(20, 40, 20, 40, 0.1)], ("q1", "q1"): [S(0, 50, 0, 50, 1.0)]}
    assert segment_micro_average_precision(noisy, gt, min_score=0.5).ap == pytest.approx(0.5)
    closed = GroundTruth(gt.matches, pairs=gt.positive_pairs())
    assert segment_micro_average_precision({**found, ("q9", "r9"): [S(0, 9, 0, 9, 2.0)]}, closed).ap == 0.5
    with pytest.raises(ConfigError):  # segment µAP needs segments
        segment_micro_average_precision({}, GroundTruth({"q": {"r": ()}}))


def test_evaluate_method_reports_seg_uap_beside_vcsl(gt):
    pred = {("q1", "r1"): [S(0, 10, 0, 10, 0.9)], ("q2", "r2"): [S(5, 15, 25, 35, 0.7)]}
    res = evaluate_method("m", gt, segments=pred)
    # 0.9: P 1, R .5 (+.5); 0.7: covered 15/20 predicted -> P .75, R .75 (+.75 * .25)
    assert res.metrics["seg_uAP"] == pytest.approx(0.5 + 0.75 * 0.25)
    assert list(res.metrics) == ["seg_P", "seg_R", "seg_F", "seg_uAP", "FRR", "FAR"]
