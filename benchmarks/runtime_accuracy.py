"""Accuracy of each inference runtime and precision on the real-footage benchmark, against torch fp32.

    python benchmarks/runtime_accuracy.py [--bench DIR] [--splits test] [--rows LABEL ...]

The rule it applies (issue 11): a reduced-precision path may become a backbone's default only if,
on the test split, its mAP and µAP are within 0.005 of fp32's. Every row is vidsim's default
method (lite0, packaged whitening, chamfer) with only the runtime and precision changed; the max
|score change| is over all scored (query, reference) pairs against the torch fp32 row. Writes
benchmarks/results/runtime_accuracy.{md,json} with the date, versions and the exact command.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from environment import versions  # noqa: E402  (benchmarks/ is the script's directory)
from vidsim.bench import build_benchmark, fetch_corpus, needed_clips  # noqa: E402
from vidsim.config import FeatureConfig, VidsimConfig  # noqa: E402
from vidsim.errors import VidsimError  # noqa: E402
from vidsim.evaluate.runner import run_evaluation  # noqa: E402
from vidsim.evaluate.vidsim_methods import VidsimMethod  # noqa: E402
from vidsim.features.runtimes import resolve_runtime  # noqa: E402
from vidsim.store import FeatureCache  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
RULE = 0.005  # largest mAP / µAP loss against fp32 that a reduced precision may have to become a default
REFERENCE = "torch fp32 (reference: the default before runtimes)"
ROWS = {  # label -> (runtime, precision); the first is the reference
    REFERENCE: ("torch", "fp32"),
    "onnxruntime fp32": ("onnxruntime", "fp32"),
    "openvino fp32": ("openvino", "fp32"),
    "openvino bf16": ("openvino", "bf16"),
    "torch bf16": ("torch", "bf16"),
    "onnxruntime int8": ("onnxruntime", "int8"),
    "openvino int8": ("openvino", "int8"),
}


class RecordingMethod(VidsimMethod):
    """vidsim's default method that keeps every score it returns, in the order asked."""

    def __init__(self, name: str, **options: Any):
        super().__init__(name, **options)
        self.scores: list[float] = []

    def calculate_video_similarity(self, query: Any, reference: Any) -> float:
        score = super().calculate_video_similarity(query, reference)
        self.scores.append(score)
        return score


PACKAGES = ("vidsim", "torch", "onnxruntime", "openvino", "av", "numpy")  # versions recorded with the results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bench", type=Path, default=Path.home() / ".cache" / "vidsim" / "bench")
    parser.add_argument("--splits", nargs="+", default=["test"])
    parser.add_argument("--rows", nargs="+", help="subset of the row labels (the reference is always run)")
    parser.add_argument("--report", default="runtime_accuracy", help="name of the report files (default: %(default)s)")
    args = parser.parse_args()

    build_benchmark(fetch_corpus(only=needed_clips()), args.bench, seed=0)
    cache = FeatureCache()
    labels = [REFERENCE] + [label for label in (args.rows or list(ROWS)) if label != REFERENCE]
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    report: dict[str, Any] = {"date": started, "command": " ".join(["python", *sys.argv]), "versions": versions(PACKAGES),
                              "rule": RULE, "splits": {}, "skipped": {}}
    lines = ["# Accuracy per inference runtime and precision\n",
             f"Date: {started}. Command: `{report['command']}`.  ",
             "Versions: " + ", ".join(f"{k} {v}" for k, v in report["versions"].items()) + ".\n",
             "Every row is vidsim's default method (efficientnet-lite0, packaged 256-d whitening, chamfer) on "
             "`python benchmarks/build_benchmark.py` (seed 0), with only the inference runtime and precision "
             f"changed. Rule (issue 11): a reduced precision may become the default if its mAP and µAP are "
             f"within {RULE} of fp32's on the test split. max |Δ score|: over every scored (query, reference) "
             "pair, against the torch fp32 row. int8: post-training quantisation calibrated on up to 300 frames "
             "of the dev split's clips (never test; `vidsim.features.runtimes.calibration`). The JSON's seconds "
             "(decoding and extraction, or a feature cache read for features made before) are not a speed "
             "result: see benchmarks/results/extract.md.\n"]
    for split in args.splits:
        rows: dict[str, dict[str, Any]] = {}
        reference_scores: list[float] = []
        for label in labels:
            runtime, precision = ROWS[label]
            try:
                resolve_runtime(runtime, FeatureConfig.backbone, precision)
            except VidsimError as exc:  # not installed (int8 with openvino: nncf), or not supported
                report["skipped"][label] = str(exc)
                continue
            config = VidsimConfig(features=FeatureConfig(runtime=runtime, precision=precision))  # type: ignore[arg-type]
            method = RecordingMethod(label, config=config, cache=cache)
            start = time.time()
            run = run_evaluation(
                args.bench / split / "queries", args.bench / split / "refs", args.bench / f"gt_{split}.csv",
                [method], Path(tempfile.mkdtemp(prefix="vidsim-runtime-accuracy-")),  # per-family tables: not kept
                attributes=args.bench / f"manifest_{split}.csv", title=f"{split} split, {label}",
            )
            metrics = dict(run.results[0].metrics)
            if label == REFERENCE:
                reference_scores = list(method.scores)
            same_pairs = len(method.scores) == len(reference_scores)
            drift = max((abs(a - b) for a, b in zip(method.scores, reference_scores)), default=0.0)
            rows[label] = {"runtime": runtime, "precision": precision, "mAP": metrics.get("mAP"),
                           "uAP": metrics.get("uAP"), "R@P90": metrics.get("R@P90"), "seg_F": metrics.get("seg_F"),
                           "max_abs_score_change": drift if same_pairs else None, "pairs": len(method.scores),
                           "seconds": round(time.time() - start, 1), "failures": run.failures}
            print(label, json.dumps(rows[label]), flush=True)
        ref = rows[REFERENCE]
        for row in rows.values():
            row["d_mAP"] = row["mAP"] - ref["mAP"]
            row["d_uAP"] = row["uAP"] - ref["uAP"]
            row["within_rule"] = abs(row["d_mAP"]) <= RULE and abs(row["d_uAP"]) <= RULE
        report["splits"][split] = rows
        lines += [f"## {split} split\n",
                  "| runtime, precision | mAP | µAP | R@P90 | seg F | Δ mAP | Δ µAP | max \\|Δ score\\| | within 0.005 |",
                  "|---|---:|---:|---:|---:|---:|---:|---:|---|"]
        for label, row in rows.items():
            drift = "–" if row["max_abs_score_change"] is None else f"{row['max_abs_score_change']:.2e}"
            cells = " | ".join(f"{row[k]:.3f}" if row[k] == row[k] else "–" for k in ("mAP", "uAP", "R@P90", "seg_F"))
            lines.append(f"| {label} | {cells} | {row['d_mAP']:+.4f} | {row['d_uAP']:+.4f} | {drift} | "
                         f"{'yes' if row['within_rule'] else '**no**'} |")
        lines.append("")
    if report["skipped"]:
        lines.append("## Not run\n")
        lines += [f"- {label}: {why}" for label, why in report["skipped"].items()]
    (RESULTS / f"{args.report}.md").write_text("\n".join(lines) + "\n")
    (RESULTS / f"{args.report}.json").write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n")
    print(f"wrote {RESULTS / (args.report + '.md')}")


if __name__ == "__main__":
    main()
