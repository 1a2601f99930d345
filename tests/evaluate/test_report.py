"""Report outputs: metric set per method and group, JSON, Markdown tables, a valid PR-curve PNG."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest

from vidsim.evaluate import (
    GroundTruth,
    MethodResult,
    Segment,
    evaluate_method,
    markdown_report,
    plot_pr_curves,
    write_report,
)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture()
def gt():
    seg = (Segment(0, 10, 0, 10),)
    return GroundTruth(
        {"q1": {"r1": seg}, "q2": {"r2": seg}},
        query_ids=frozenset({"q3"}),
        ref_ids=frozenset({"r3"}),
        query_attributes={"q1": {"transform": "crop"}, "q2": {"transform": "flip"}, "q3": {"transform": "crop"}},
    )


@pytest.fixture()
def results(gt):
    good = {"q1": {"r1": 0.9, "r2": 0.1}, "q2": {"r2": 0.8, "r3": 0.3}, "q3": {"r1": 0.2}}
    bad = {"q1": {"r1": 0.1, "r2": 0.9}, "q2": {"r2": 0.2, "r3": 0.8}, "q3": {"r1": 0.95}}
    segs = {("q1", "r1"): [Segment(0, 10, 0, 10)], ("q2", "r2"): [Segment(5, 15, 5, 15)]}
    return [
        evaluate_method("good", gt, scores=good, segments=segs, groupings=["transform"]),
        evaluate_method("bad", gt, pairs=[(q, r, s) for q, row in bad.items() for r, s in row.items()],
                        groupings={"source": {"q1": "franck", "q2": "franck", "q3": "minions"}}),
    ]


def test_evaluate_method_values(results):
    good, bad = results
    assert good.metrics["mAP"] == 1.0 and good.metrics["uAP"] == 1.0 and good.metrics["R@P90"] == 1.0
    assert good.metrics["queries"] == 2
    # VCSL: pair 1 perfect, pair 2 quarter-overlap -> P = R = (1 + .25) / 2.
    assert good.metrics["seg_P"] == pytest.approx(0.625) and good.metrics["seg_R"] == pytest.approx(0.625)
    assert good.metrics["FRR"] == 0.0 and good.metrics["FAR"] == 0.0
    # VSC22 segment µAP: both at score 1, one threshold: covered 15 of 20 predicted, of 20 true per axis.
    assert good.metrics["seg_uAP"] == pytest.approx(0.75 * 0.75)
    assert bad.metrics["mAP"] == pytest.approx(0.5) and bad.metrics["uAP"] < 0.5
    assert "seg_P" not in bad.metrics
    assert good.groups["transform"]["crop"]["mAP"] == 1.0 and good.groups["transform"]["crop"]["queries"] == 1
    assert good.groups["transform"]["flip"]["seg_P"] == pytest.approx(0.25)
    assert math.isnan(bad.groups["source"]["minions"]["mAP"])  # q3 has no copy
    assert good.curve is not None and good.curve.n_positives == 2


def test_markdown(results):
    md = markdown_report(results, title="Bench")
    lines = md.splitlines()
    assert lines[0] == "# Bench"
    assert lines[2].startswith("| method | mAP | µAP | R@P90 | queries | seg_P | seg_R | seg_F | seg µAP (VSC22) |")
    assert lines[4].startswith("| good | 1.000 | 1.000 | 1.000 | 2 | 0.625 |")
    assert lines[5].startswith("| bad | 0.500 |") and lines[5].rstrip().endswith("| – |")
    assert "## Per transform" in md and "## Per source" in md
    assert "| crop | 1.000 | – |" in md  # "bad" has no transform breakdown
    assert "| minions | – | – |" in md or "| minions | – |" in md


def test_write_report(tmp_path, results):
    paths = write_report(results, tmp_path / "out", stem="run1", title="Bench")
    data = json.loads(paths["json"].read_text())
    assert [m["name"] for m in data["methods"]] == ["good", "bad"]
    assert data["methods"][0]["metrics"]["mAP"] == 1.0
    assert data["methods"][1]["groups"]["source"]["minions"]["mAP"] is None  # NaN -> null
    assert data["methods"][0]["pr_curve"]["recall"][-1] == 1.0
    assert paths["markdown"].read_text().startswith("# Bench")
    png = paths["png"].read_bytes()
    assert png[:8] == PNG_MAGIC
    from matplotlib.image import imread

    img = imread(paths["png"])
    assert img.ndim == 3 and img.shape[0] > 100 and img.shape[1] > 100
    assert float(np.std(img[..., :3])) > 0  # something was drawn


def test_plot_without_curves(tmp_path):
    path = plot_pr_curves([MethodResult("segments only", {"seg_F": 0.5})], tmp_path / "empty.png")
    assert path.read_bytes()[:8] == PNG_MAGIC


def test_import_does_not_load_matplotlib():
    import subprocess
    import sys

    code = "import sys, vidsim.evaluate; print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
