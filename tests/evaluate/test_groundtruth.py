"""Readers and writers on small hand-written files in each dataset's format (tests/evaluate/data)."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from vidsim.evaluate import (
    FIVR_TASK_LABELS,
    GroundTruth,
    Segment,
    read_candidate_pairs,
    read_fivr_annotation,
    read_query_attributes,
    read_vcsl_labels,
    read_vcsl_predictions,
    read_vcsl_query_sets,
    read_vsc_csv,
    read_vsc_predictions,
    segment_macro_precision_recall,
    segment_precision_recall_f,
    write_candidate_pairs,
    write_vsc_csv,
)

DATA = Path(__file__).parent / "data"


# ---------------------------------------------------------------------------------------------
# typed values
# ---------------------------------------------------------------------------------------------
def test_segment_validation_and_immutability():
    s = Segment(1, 2, 3, 5)
    assert (s.query_length, s.ref_length, s.score) == (1.0, 2.0, 1.0)
    assert isinstance(s.query_start, float)
    with pytest.raises(ValueError):
        Segment(2, 1, 0, 1)
    with pytest.raises(ValueError):
        Segment(0, float("inf"), 0, 1)
    with pytest.raises(AttributeError):
        s.score = 0.5  # type: ignore[misc]


def test_groundtruth_ids_and_restrict():
    gt = GroundTruth({"q1": {"r1": [Segment(0, 1, 0, 1)]}, "q2": {}}, query_ids=frozenset({"q3"}),
                     ref_ids=frozenset({"r9"}), query_attributes={"q1": {"transform": "crop"}})
    assert gt.query_ids == {"q1", "q2", "q3"} and gt.ref_ids == {"r1", "r9"}
    assert gt.positives("q1") == {"r1"} and gt.positives("q2") == frozenset()
    assert gt.is_positive("q1", "r1") and not gt.is_positive("q1", "r9")
    assert gt.n_positive_pairs == 1 and gt.positive_pairs() == {("q1", "r1")}
    assert gt.attribute("transform") == {"q1": "crop"}
    sub = gt.restrict(["q2", "q3", "unknown"])
    assert sub.query_ids == {"q2", "q3"} and sub.n_positive_pairs == 0 and sub.ref_ids == gt.ref_ids
    with pytest.raises(TypeError):
        gt.matches["q1"]["r2"] = ()  # type: ignore[index]
    with pytest.raises(ValueError):  # a copy outside the evaluated pair list
        GroundTruth({"q": {"r": ()}}, pairs=frozenset({("q", "x")}))


# ---------------------------------------------------------------------------------------------
# VSC22 CSV
# ---------------------------------------------------------------------------------------------
def test_read_vsc_csv():
    gt = read_vsc_csv(DATA / "vsc_gt.csv", query_ids=["Q100003"], ref_ids=["R200002"])
    assert gt.query_ids == {"Q100001", "Q100002", "Q100003", "Q100004"}
    assert gt.ref_ids == {"R200001", "R200003", "R200007", "R200009", "R200002"}
    assert gt.segments("Q100001", "R200001") == (Segment(0.0, 10.5, 30.0, 40.5), Segment(20, 25, 50, 55))
    assert gt.segments("Q100001", "R200007") == (Segment(3.25, 8.0, 0.0, 4.75),)
    assert gt.is_positive("Q100004", "R200009") and gt.segments("Q100004", "R200009") == ()
    assert gt.n_positive_pairs == 4


def test_vsc_csv_round_trip(tmp_path):
    gt = read_vsc_csv(DATA / "vsc_gt.csv")
    out = tmp_path / "gt.csv"
    write_vsc_csv(out, gt)
    assert out.read_text().splitlines()[0] == "query_id,ref_id,query_start,query_end,ref_start,ref_end"
    again = read_vsc_csv(out)
    assert again.matches == gt.matches and again.query_ids == gt.query_ids
    write_vsc_csv(tmp_path / "gt2.csv", again)
    assert (tmp_path / "gt2.csv").read_text() == out.read_text()  # writing is deterministic


def test_vsc_predictions_round_trip(tmp_path):
    preds = read_vsc_predictions(DATA / "vsc_predictions.csv")  # columns in another order
    assert preds[("Q100001", "R200001")][0] == Segment(1, 10, 31, 40, 0.93)
    assert preds[("Q100002", "R200005")] == [Segment(0, 5, 0, 5, 0.2)]
    out = tmp_path / "pred.csv"
    write_vsc_csv(out, preds)
    assert out.read_text().splitlines()[0].endswith(",score")
    assert read_vsc_predictions(out) == preds
    # Predictions scored against the VSC ground truth.
    res = segment_precision_recall_f(preds, read_vsc_csv(DATA / "vsc_gt.csv").restrict(["Q100001", "Q100002"]))
    assert 0 < res.precision < 1 and 0 < res.recall < 1


def test_vsc_csv_errors(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("query_id,ref_id,query_start\nQ1,R1,0\n")
    with pytest.raises(ValueError, match="missing column"):
        read_vsc_csv(bad)
    bad.write_text("query_id,ref_id,query_start,query_end,ref_start,ref_end\nQ1,R1,0,1,,\n")
    with pytest.raises(ValueError, match="partly empty"):
        read_vsc_csv(bad)
    bad.write_text("query_id,ref_id,query_start,query_end,ref_start,ref_end\nQ1,R1,5,1,0,1\n")
    with pytest.raises(ValueError, match="row 2"):
        read_vsc_csv(bad)


def test_candidate_pairs_round_trip(tmp_path):
    pairs = read_candidate_pairs(DATA / "vsc_candidates.csv")
    assert pairs[0] == ("Q100001", "R200001", 0.9) and len(pairs) == 4
    out = tmp_path / "c.csv"
    write_candidate_pairs(out, reversed(pairs))
    assert read_candidate_pairs(out) == pairs  # written best first


def test_query_attributes():
    attrs = read_query_attributes(DATA / "query_attributes.csv")
    assert attrs["Q100002"] == {"transform": "flip", "source": "minions"}
    gt = read_vsc_csv(DATA / "vsc_gt.csv").with_attributes(attrs)
    # Q100003 is not a ground-truth query, so it does not appear in the grouping.
    assert gt.attribute("transform") == {"Q100001": "crop", "Q100002": "flip"}


# ---------------------------------------------------------------------------------------------
# FIVR-200K
# ---------------------------------------------------------------------------------------------
def test_fivr_tasks():
    path = DATA / "fivr_annotation.json"
    dsvr = read_fivr_annotation(path, "DSVR")
    assert dsvr.query_ids == {"qAAAAAAAAAA", "qBBBBBBBBBB", "qCCCCCCCCCC"}
    assert dsvr.positives("qAAAAAAAAAA") == {"v1111111111", "v2222222222"}
    assert dsvr.positives("qBBBBBBBBBB") == {"v6666666666"}  # the query itself is never a positive
    assert dsvr.positives("qCCCCCCCCCC") == frozenset()
    assert "v8888888888" in dsvr.ref_ids  # IS videos stay in the database as non-copies
    csvr = read_fivr_annotation(path, "csvr")
    assert csvr.positives("qAAAAAAAAAA") == {"v1111111111", "v2222222222", "v3333333333"}
    isvr = read_fivr_annotation(path, "ISVR")
    assert isvr.positives("qAAAAAAAAAA") == {"v1111111111", "v2222222222", "v3333333333", "v4444444444"}
    assert isvr.positives("qBBBBBBBBBB") == {"v6666666666", "v7777777777"}
    assert isvr.positives("qCCCCCCCCCC") == {"v8888888888"}
    davr = read_fivr_annotation(path, "DAVR")
    assert davr.positives("qAAAAAAAAAA") == {"v5555555555"} and davr.positives("qCCCCCCCCCC") == {"v1111111111"}
    assert FIVR_TASK_LABELS["ISVR"] == ("ND", "DS", "CS", "IS")
    with pytest.raises(ValueError):
        read_fivr_annotation(path, "XYZ")


def test_fivr_database_filter():
    # v2222222222 is missing from the database list, so it is dropped from the positives.
    gt = read_fivr_annotation(DATA / "fivr_annotation.json", "DSVR", database=DATA / "fivr_youtube_ids.txt")
    assert gt.positives("qAAAAAAAAAA") == {"v1111111111"}
    assert "v9999999999" in gt.ref_ids and "v2222222222" not in gt.ref_ids


# ---------------------------------------------------------------------------------------------
# VCSL
# ---------------------------------------------------------------------------------------------
def test_vcsl_labels_without_pair_file():
    gt = read_vcsl_labels(DATA / "vcsl_label_file.json")
    # Boxes are [q_start, r_start, q_end, r_end].
    assert gt.segments("aa01", "bb01") == (Segment(0, 20, 10, 30),)
    assert gt.segments("aa01", "bb02") == (Segment(5, 15, 0, 10), Segment(30, 50, 40, 60))
    assert gt.is_positive("aa02", "bb03")
    assert not gt.is_positive("aa03", "bb01") and "aa03" in gt.query_ids  # empty label list
    assert gt.pairs is None


def test_vcsl_labels_with_pair_file():
    gt = read_vcsl_labels(DATA / "vcsl_label_file.json", DATA / "vcsl_pair_file.csv")
    assert gt.pairs == {("aa01", "bb01"), ("aa01", "bb02"), ("aa01", "bb03"), ("aa03", "bb01")}
    assert gt.positive_pairs() == {("aa01", "bb01"), ("aa01", "bb02")}  # aa02-bb03 is not in this split
    preds = read_vcsl_predictions(DATA / "vcsl_pred.json")
    assert preds[("aa01", "bb01")][1] == Segment(10, 20, 20, 30, 0.4)
    res = segment_precision_recall_f(preds, gt)
    # aa01-bb01: two halves of the true box -> P = R = 1; aa01-bb02 missed -> R 0;
    # aa01-bb03 false alarm -> P 0; aa02-bb03 outside the split -> ignored.
    assert res.precision == pytest.approx(0.5)
    assert res.recall == pytest.approx(0.5)
    assert (res.n_pairs, res.n_positive, res.frr, res.far) == (4, 2, 0.5, 0.5)
    sets = read_vcsl_query_sets(DATA / "vcsl_split_meta_pairs.json", "test")
    assert sets == {"set1": [("aa01", "bb01"), ("aa01", "bb02")], "set2": [("aa03", "bb01")]}
    p, r, _, n = segment_macro_precision_recall(res, sets)
    assert n == 2 and p == pytest.approx((1.0 + 1.0) / 2) and r == pytest.approx((0.5 + 1.0) / 2)
    assert set(read_vcsl_query_sets(DATA / "vcsl_split_meta_pairs.json", "all")) == {"set1", "set2", "set9"}


def test_vcsl_bad_key(tmp_path):
    bad = tmp_path / "labels.json"
    bad.write_text('{"a-b-c": [[0, 0, 1, 1]]}')
    with pytest.raises(ValueError, match="pair key"):
        read_vcsl_labels(bad)


def test_bad_files_are_config_errors_naming_the_file(tmp_path):
    from vidsim.errors import ConfigError, VidsimError

    broken = tmp_path / "labels.json"
    broken.write_text('{"q-r": [[0, 0, 1, 1]],\n  oops}')
    with pytest.raises(ConfigError, match=re.escape(f"{broken} line 2: not valid JSON")):
        read_vcsl_labels(broken)
    with pytest.raises(ConfigError, match=re.escape(f"{tmp_path / 'missing.csv'}: cannot read it")):
        read_vsc_csv(tmp_path / "missing.csv")
    binary = tmp_path / "gt.csv"
    binary.write_bytes(b"query_id,ref_id\n\xff\xfe\n")
    with pytest.raises(ConfigError, match="not UTF-8"):
        read_vsc_csv(binary)
    bad = tmp_path / "bad.csv"
    bad.write_text("query_id,ref_id,query_start,query_end,ref_start,ref_end\n\nQ1,R1,0,1,,\n")
    with pytest.raises(VidsimError, match=r"row 3: segment columns are partly empty"):  # blank line counted
        read_vsc_csv(bad)
    (tmp_path / "pred.json").write_text('{"q-r": [["a", 0, 1, 1]]}')
    with pytest.raises(ConfigError, match="pred.json: q-r: could not convert"):
        read_vcsl_predictions(tmp_path / "pred.json")
