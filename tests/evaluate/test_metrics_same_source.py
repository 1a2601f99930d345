"""µAP with the "same source, other time" negatives left out, and the copies against them alone, by hand."""
from __future__ import annotations

import math

import pytest

from vidsim.errors import ConfigError
from vidsim.evaluate import (
    GroundTruth,
    evaluate_method,
    micro_average_precision,
    micro_average_precision_against,
    micro_average_precision_excluding,
    read_ref_attributes,
)

# References r1 and r3 are two moments of source A, r2 is cut from B. q1 copies r1, q2 copies r2;
# q3 is another moment of A (a hard negative), q4 an unrelated clip of C.
QUERIES = {"q1": ("copy", "A"), "q2": ("copy", "B"), "q3": ("hard-negative", "A"), "q4": ("unrelated", "C")}
REFS = {"r1": "A", "r2": "B", "r3": "A"}
SAME_SOURCE = {("q1", "r3"), ("q3", "r1"), ("q3", "r3")}


@pytest.fixture()
def gt():
    return GroundTruth({"q1": {"r1": ()}, "q2": {"r2": ()}}, query_ids=frozenset(QUERIES), ref_ids=frozenset(REFS),
                       query_attributes={q: {"kind": k, "source": s} for q, (k, s) in QUERIES.items()},
                       ref_attributes={r: {"source": s} for r, s in REFS.items()})


PAIRS = [
    ("q4", "r2", 0.95),  # other non-copy
    ("q1", "r1", 0.90),  # copy
    ("q3", "r1", 0.80),  # same source
    ("q1", "r3", 0.70),  # same source: a copy against another moment of its source
    ("q2", "r2", 0.60),  # copy
    ("q3", "r3", 0.50),  # same source
    ("q2", "r1", 0.40),  # other non-copy
]


def test_same_source_negatives_from_the_source_attributes(gt):
    assert gt.same_source_negatives() == SAME_SOURCE
    assert gt.restrict({"q1", "q2"}).same_source_negatives() == {("q1", "r3")}
    closed = GroundTruth(gt.matches, pairs=gt.positive_pairs() | {("q3", "r1"), ("q4", "r2")},
                         query_attributes=gt.query_attributes, ref_attributes=gt.ref_attributes)
    assert closed.same_source_negatives() == {("q3", "r1")}  # only the evaluated pairs
    assert GroundTruth(gt.matches, query_attributes=gt.query_attributes).same_source_negatives() == frozenset()


def test_three_micro_aps_by_hand(gt):
    """All pairs ranked: 0.95 N, 0.90 C (precision 1/2), 0.80 N, 0.70 N, 0.60 C (2/5) -> (1/2 + 2/5) / 2 = 0.45.
    Same-source pairs left out: 0.95 N, 0.90 C (1/2), 0.60 C (2/3), 0.40 N -> (1/2 + 2/3) / 2 = 7/12.
    Copies against the same-source pairs alone: 0.90 C (1/1), 0.80 N, 0.70 N, 0.60 C (2/4), 0.50 N -> 3/4."""
    assert micro_average_precision(PAIRS, gt).ap == pytest.approx(0.45)
    assert micro_average_precision_excluding(PAIRS, gt, SAME_SOURCE).ap == pytest.approx(7 / 12)
    against = micro_average_precision_against(PAIRS, gt, SAME_SOURCE)
    assert against.ap == pytest.approx(3 / 4)
    assert list(against.curve.thresholds) == [0.9, 0.8, 0.7, 0.6, 0.5]


def test_unscored_copies_still_count(gt):
    """(q2, r2) never scored: against: 0.90 C (1/1), then only negatives -> 1 / 2 copies = 1/2;
    without: 0.95 N, 0.90 C (1/2), 0.40 N -> (1/2) / 2 = 1/4."""
    pairs = [t for t in PAIRS if t[:2] != ("q2", "r2")]
    assert micro_average_precision_against(pairs, gt, SAME_SOURCE).ap == pytest.approx(1 / 2)
    assert micro_average_precision_excluding(pairs, gt, SAME_SOURCE).ap == pytest.approx(1 / 4)


def test_edge_cases(gt):
    assert micro_average_precision_excluding([], gt, SAME_SOURCE).ap == 0.0  # no prediction: nothing found
    assert micro_average_precision_against([], gt, SAME_SOURCE).ap == 0.0
    assert micro_average_precision_excluding(PAIRS, gt, ()).ap == micro_average_precision(PAIRS, gt).ap
    assert math.isnan(micro_average_precision_against(PAIRS, gt, ()).ap)  # no such negatives: no such problem
    no_copies = GroundTruth({}, query_ids=frozenset({"q3"}))
    assert math.isnan(micro_average_precision_against([("q3", "r1", 0.5)], no_copies, {("q3", "r1")}).ap)
    with pytest.raises(ConfigError, match="q1"):  # a copied pair cannot be a negative
        micro_average_precision_excluding(PAIRS, gt, SAME_SOURCE | {("q1", "r1")})


def test_evaluate_method_reports_them_overall_and_per_group(gt):
    scores: dict[str, dict[str, float]] = {}
    for q, r, s in PAIRS:
        scores.setdefault(q, {})[r] = s
    res = evaluate_method("m", gt, scores=scores, groupings=["kind"])
    assert res.metrics["uAP"] == pytest.approx(0.45)
    assert res.metrics["uAP_excl_same_source"] == pytest.approx(7 / 12)
    assert res.metrics["uAP_vs_same_source"] == pytest.approx(3 / 4)
    assert list(res.metrics)[:4] == ["mAP", "uAP", "uAP_excl_same_source", "uAP_vs_same_source"]
    copies = res.groups["kind"]["copy"]
    # q1, q2 alone: 0.90 C, 0.70 SS, 0.60 C (2/3), 0.40 N; against SS: 0.90 C, 0.70 N, 0.60 C (2/3)
    assert copies["uAP"] == pytest.approx((1 + 2 / 3) / 2)
    assert copies["uAP_excl_same_source"] == pytest.approx(1.0)
    assert copies["uAP_vs_same_source"] == pytest.approx((1 + 2 / 3) / 2)
    assert math.isnan(res.groups["kind"]["unrelated"]["uAP_vs_same_source"])  # no copy, no same-source pair
    plain = evaluate_method("m", GroundTruth(gt.matches, gt.query_ids), scores=scores)
    assert "uAP_excl_same_source" not in plain.metrics  # no sources known: not reported
    explicit = evaluate_method("m", GroundTruth(gt.matches, gt.query_ids), scores=scores, same_source=SAME_SOURCE)
    assert explicit.metrics["uAP_vs_same_source"] == pytest.approx(3 / 4)


def test_read_ref_attributes(tmp_path, gt):
    path = tmp_path / "refs_dev.csv"
    path.write_text("ref_id,split,source,src_start\nr1,dev,A,0.5\nr2,dev,B,\nr3,dev,A,30\n")
    refs = read_ref_attributes(path)
    assert refs == {"r1": {"split": "dev", "source": "A", "src_start": "0.5"}, "r2": {"split": "dev", "source": "B"},
                    "r3": {"split": "dev", "source": "A", "src_start": "30"}}
    bare = GroundTruth(gt.matches, gt.query_ids, gt.ref_ids, gt.query_attributes)
    assert bare.with_attributes(ref_attributes=refs).same_source_negatives() == SAME_SOURCE
    bad = tmp_path / "bad.csv"
    bad.write_text("id,source\nr1,A\n")
    with pytest.raises(ConfigError, match="ref_id"):
        read_ref_attributes(bad)
