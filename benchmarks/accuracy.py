"""Accuracy of every method on the real-footage benchmark, dev and test splits, side by side.

    python benchmarks/accuracy.py [--bench DIR] [--splits dev test] [--methods NAME ...]

Builds (or reuses) the benchmark from the corpus, runs `vidsim.evaluate.runner.run_evaluation`
for each split with every method on the same data, and writes
benchmarks/results/accuracy.{md,json} (plus per-split reports and PR curves) with the date,
package versions and the exact command. Test sources are never used to tune anything.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from environment import versions  # noqa: E402  (benchmarks/ is the script's directory)
from vidsim.bench import build_benchmark, fetch_corpus, needed_clips  # noqa: E402
from vidsim.errors import VidsimError  # noqa: E402
from vidsim.evaluate.methods import build_method  # noqa: E402
from vidsim.evaluate.runner import run_evaluation  # noqa: E402
from vidsim.store import FeatureCache  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"

# name -> (registry name, options); the first is vidsim's default configuration.
METHODS = {
    "vidsim (default: lite0, whitening 256-d, chamfer)": ("vidsim", {}),
    "vidsim lite0, no whitening": ("vidsim", {"whitening": "none"}),
    "vidsim lite0, symmetric": ("vidsim", {"symmetric": True}),
    "vidsim lite1": ("vidsim:efficientnet-lite1", {}),
    "vidsim lite2": ("vidsim:efficientnet-lite2", {}),
    "global-mean (lite0, whitened)": ("global-mean", {}),
    "videohash": ("videohash", {}),
    "vpdq": ("vpdq", {}),
}
NOT_RUN = {
    "vidsim resnet50": "no ImageNet ResNet-50 weights can be installed here (torchvision's are a download); "
                       "a seeded random init would measure nothing",
}


# metric keys of the split tables, in column order (SS: same-source hard negatives)
COLUMNS = ("mAP", "uAP", "uAP_excl_same_source", "uAP_vs_same_source", "R@P90", "seg_P", "seg_R", "seg_F", "seg_uAP")

PACKAGES = ("vidsim", "torch", "av", "numpy", "videohash", "vpdq", "efficientnet-lite-pytorch")  # versions recorded with the results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bench", type=Path, default=Path.home() / ".cache" / "vidsim" / "bench")
    parser.add_argument("--splits", nargs="+", default=["dev", "test"])
    parser.add_argument("--methods", nargs="+", help="subset of the method labels")
    parser.add_argument("--report", default="accuracy", help="name of the report files (default: %(default)s)")
    args = parser.parse_args()

    build_benchmark(fetch_corpus(only=needed_clips()), args.bench, seed=0)
    cache = FeatureCache()
    labels = args.methods or list(METHODS)
    methods, skipped = [], dict(NOT_RUN)
    for label in labels:
        name, options = METHODS[label]
        try:
            method = build_method(name, cache=cache, **options)
        except VidsimError as exc:
            skipped[label] = str(exc)
            continue
        method.name = label
        methods.append(method)

    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    report = {"date": started, "command": " ".join(["python", *sys.argv]), "versions": versions(PACKAGES),
              "skipped": skipped, "splits": {}}
    lines = ["# Accuracy on the real-footage benchmark\n",
             f"Date: {started}. Command: `{report['command']}`.  ",
             "Versions: " + ", ".join(f"{k} {v}" for k, v in report["versions"].items()) + ".\n",
             "Benchmark: `python benchmarks/build_benchmark.py` (seed 0; dev and test split by source). "
             "mAP: per query over its ranked references, averaged over queries with a copy (FIVR "
             "protocol); µAP: all (query, reference) pairs ranked globally (VSC22); µAP excl. SS: the "
             "same with the same-source negatives left out (non-copied pairs whose query and reference "
             "come from one source clip: another time of the same footage); µAP vs SS: the copies "
             "against those negatives alone; R@P90: recall at precision 0.9; seg P/R/F: VCSL segment "
             "precision, recall, F; seg µAP: VSC22's matching-track segment µAP. Only dev sources were "
             "used to choose anything (the packaged whitening is fitted on dev sources).\n"]
    for split in args.splits:
        out_dir = RESULTS / f"{args.report}_{split}"
        start = time.time()
        run = run_evaluation(
            args.bench / split / "queries", args.bench / split / "refs", args.bench / f"gt_{split}.csv",
            methods, out_dir, attributes=args.bench / f"manifest_{split}.csv", title=f"{split} split",
            ref_attributes=args.bench / f"refs_{split}.csv",
        )
        report["splits"][split] = {
            "seconds": round(time.time() - start, 1),
            "method_seconds": {k: round(v, 1) for k, v in run.timings.items()},
            "failures": run.failures,
            "metrics": {r.name: dict(r.metrics) for r in run.results},
        }
        lines.append(f"## {split} split\n")
        lines.append("| method | mAP | µAP | µAP excl. SS | µAP vs SS | R@P90 | seg P | seg R | seg F | seg µAP | seconds |")
        lines.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for r in run.results:
            m = r.metrics
            cells = [m.get(k, float("nan")) for k in COLUMNS]
            text = " | ".join("–" if v != v else f"{v:.3f}" for v in cells)
            lines.append(f"| {r.name} | {text} | {run.timings[r.name]:.0f} |")
        lines.append(f"\nPer family, source and kind: [{out_dir.name}/evaluation.md]({out_dir.name}/evaluation.md); "
                     f"PR curves: [{out_dir.name}/evaluation_pr.png]({out_dir.name}/evaluation_pr.png).\n")
        print("\n".join(lines[-(len(run.results) + 4):]), flush=True)
    if skipped:
        lines.append("## Not run\n")
        lines += [f"- {label}: {why}" for label, why in skipped.items()]
    (RESULTS / f"{args.report}.md").write_text("\n".join(lines) + "\n")
    (RESULTS / f"{args.report}.json").write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n")
    print(f"wrote {RESULTS / (args.report + '.md')}")


if __name__ == "__main__":
    main()
