"""The copy thresholds vidsim ships (`is_copy`), chosen on the benchmark's dev split, checked on test.

    python benchmarks/thresholds.py [--bench DIR] [--backbones NAME ...] [--modes chamfer ...]
                                    [--codes exhaustive binary float]

For each backbone (default: every one vidsim ships a whitening for and can build here), head mode
(chamfer, chamfer-symmetric, and the packaged learned head "visil" where one ships) and codes
class, every (query, reference) pair of
a split is scored as users score it:
  * exhaustive: the `vidsim` evaluation method (`vidsim evaluate`'s scores, `vidsim compare`'s);
  * binary / float: `Index.search(top_k = all references)` on an index of the split's references
    with the default binary codes / float32 codes (pairs the search does not return are not copies).
On dev, the threshold is the one with the highest recall at precision >= 0.95 (midway between the
lowest accepted score and the next lower one); test is then measured once at that threshold.
Writes src/vidsim/data/thresholds.json (entries computed here replace those with the same
backbone, mode and codes; the others are kept) and benchmarks/results/thresholds.md (the rows of
this run: run it without options to renew everything).
"""
from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from environment import versions  # noqa: E402  (benchmarks/ is the script's directory)
from vidsim.bench import build_benchmark, fetch_corpus, needed_clips  # noqa: E402
from vidsim.config import FeatureConfig, SimilarityConfig, VidsimConfig  # noqa: E402
from vidsim.decision import CODES_CLASSES, EXHAUSTIVE, TARGET_PRECISION, ShippedThreshold, head_mode  # noqa: E402
from vidsim.errors import VidsimError  # noqa: E402
from vidsim.evaluate.groundtruth import GroundTruth, read_query_attributes  # noqa: E402
from vidsim.evaluate.metrics import flatten_scores, precision_recall_curve  # noqa: E402
from vidsim.evaluate.runner import load_ground_truth, score_all, videos_by_id  # noqa: E402
from vidsim.evaluate.vidsim_methods import VidsimMethod  # noqa: E402
from vidsim.features import available_backbones  # noqa: E402
from vidsim.index import Index, IndexConfig  # noqa: E402
from vidsim.index.config import threshold_codes  # noqa: E402
from vidsim.resources import packaged_heads, packaged_thresholds, packaged_whitening  # noqa: E402
from vidsim.store import FeatureCache  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
MODES = ("chamfer", "chamfer-symmetric", "chamfer-symmetric-partial", "visil")
INDEX_CODES = {  # codes class -> the index storage it is calibrated on
    "binary": IndexConfig(codes="binary", code_projection="orthogonal", code_bits=512),
    "float": IndexConfig(codes="float32"),
}
PACKAGES = ("vidsim", "torch", "numpy", "faiss-cpu", "onnxruntime")  # versions recorded with the results
Scores = dict[str, dict[str, float]]


@dataclasses.dataclass(frozen=True)
class Split:
    name: str
    queries: dict[str, Path]
    refs: dict[str, Path]
    refs_dir: Path
    gt: GroundTruth
    attributes: dict[str, dict[str, str]]
    ref_sources: dict[str, str]

    def same_source(self, query: str, ref: str) -> bool:
        """A non-copy pair of a query and a reference cut from the same source clip at another time."""
        source = self.attributes.get(query, {}).get("source")
        return source is not None and source == self.ref_sources.get(ref) and not self.gt.is_positive(query, ref)


def load_split(bench: Path, name: str) -> Split:
    queries, refs = videos_by_id(bench / name / "queries"), videos_by_id(bench / name / "refs")
    gt = load_ground_truth(bench / f"gt_{name}.csv", "vsc", queries, refs)
    with open(bench / f"refs_{name}.csv", newline="") as fh:
        ref_sources = {row["ref_id"]: row["source"] for row in csv.DictReader(fh)}
    return Split(name, queries, refs, bench / name / "refs", gt, read_query_attributes(bench / f"manifest_{name}.csv"),
                 ref_sources)


def mode_config(backbone: str, mode: str) -> VidsimConfig:
    learned = mode.startswith("visil")
    return VidsimConfig(features=FeatureConfig(backbone=backbone),
                        similarity=SimilarityConfig(head="visil" if learned else "chamfer",
                                                    head_weights="auto" if learned else None,
                                                    symmetric="-symmetric" in mode,
                                                    symmetric_partial=mode.endswith("-partial")))


def exhaustive_scores(method: VidsimMethod, split: Split) -> Scores:
    failures: dict[str, str] = {}
    scores = score_all(method, split.queries, split.refs, failures)
    if failures:
        raise SystemExit(f"unreadable benchmark videos: {failures}")
    return scores


def search_scores(method: VidsimMethod, split: Split, storage: IndexConfig, codes: str, cache: FeatureCache,
                  work: Path) -> Scores:
    """Every query searched with top_k = all references on an index of the split's references."""
    model = method.model
    name = f"{model.config.features.backbone}-{head_mode(model.config)}-{codes}-{split.name}"
    with Index.open(work / name, storage, model=model, cache=cache) as index:
        index.add([split.refs_dir])
        assert threshold_codes(index.stored.index, index.stored.dims) == codes
        stem_of = {r.id: Path(r.path).stem for r in index.list()}
        scores: Scores = {}
        for qid, path in split.queries.items():
            matches = index.search(model.extract_video(path, cache=cache), top_k=len(split.refs), segments=False)
            scores[qid] = {stem_of[m.video_id]: m.similarity for m in matches if stem_of[m.video_id] != qid}
        return scores


def choose(scores: Scores, gt: GroundTruth) -> dict[str, Any]:
    """The dev threshold: highest recall at precision >= TARGET_PRECISION, midway to the next lower score."""
    curve = precision_recall_curve(flatten_scores(scores), gt)
    ok = np.flatnonzero(curve.precision >= TARGET_PRECISION)
    reached = ok.size > 0
    if not reached:  # no operating point is precise enough: the most precise one, flagged
        ok = np.flatnonzero(curve.precision == curve.precision.max())
    i = int(ok[np.argmax(curve.recall[ok])])
    accepted = float(curve.thresholds[i])
    below = float(curve.thresholds[i + 1]) if i + 1 < len(curve.thresholds) else accepted - 0.02
    threshold = round((accepted + below) / 2, 4)
    if not below < threshold <= accepted:
        threshold = accepted
    return {"threshold": threshold, "reached": reached, **measure(scores, gt, threshold)}


def measure(scores: Scores, gt: GroundTruth, threshold: float) -> dict[str, Any]:
    """Precision and recall of `similarity >= threshold` over every pair (unscored pairs: not copies)."""
    called = [(q, r) for q, r, s in flatten_scores(scores) if s >= threshold and q != r]
    tp = sum(gt.is_positive(q, r) for q, r in called)
    copies = sum(1 for q, r in gt.positive_pairs() if q != r)
    pairs = sum(len(row) for row in scores.values())
    return {"precision": tp / len(called) if called else float("nan"), "recall": tp / copies if copies else float("nan"),
            "tp": tp, "fp": len(called) - tp, "copies": copies, "pairs": pairs,
            "false_positives": [(q, r) for q, r in called if not gt.is_positive(q, r)],
            "misses": [(q, r) for q, r in gt.positive_pairs() if q != r and (q, r) not in set(called)]}


def oracle(scores: Scores, gt: GroundTruth) -> tuple[float, float | None]:
    """Test's own recall at precision >= TARGET_PRECISION (what a threshold chosen on test would give)."""
    return precision_recall_curve(flatten_scores(scores), gt).recall_at_precision(TARGET_PRECISION)


def by_family(pairs: list[tuple[str, str]], split: Split) -> str:
    counts = Counter(f"{split.attributes.get(q, {}).get('kind', '?')}/{split.attributes.get(q, {}).get('family', '?')}"
                     for q, _ in pairs)
    top = sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:4]  # ties by name: the same text every run
    return ", ".join(f"{name} {n}" for name, n in top) or "–"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bench", type=Path, default=Path.home() / ".cache" / "vidsim" / "bench")
    parser.add_argument("--backbones", nargs="+", default=[b for b in available_backbones() if packaged_whitening(b)])
    parser.add_argument("--modes", nargs="+", choices=MODES, default=list(MODES))
    parser.add_argument("--codes", nargs="+", choices=CODES_CLASSES, default=list(CODES_CLASSES))
    parser.add_argument("--out", type=Path, default=packaged_thresholds(), help="thresholds file (default: %(default)s)")
    parser.add_argument("--report", type=Path, default=RESULTS / "thresholds.md")
    args = parser.parse_args()

    build_benchmark(fetch_corpus(only=needed_clips()), args.bench, seed=0)
    started = time.time()
    date = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    command = " ".join(["python", "benchmarks/thresholds.py", *sys.argv[1:]])
    cache = FeatureCache()
    splits = {name: load_split(args.bench, name) for name in ("dev", "test")}
    entries: list[ShippedThreshold] = []
    rows: list[dict[str, Any]] = []
    skipped: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="vidsim-thresholds-") as tmp:
        for backbone in args.backbones:
            for mode in args.modes:
                if mode.startswith("visil") and backbone not in packaged_heads():
                    skipped[f"{backbone} / {mode}"] = "vidsim ships no learned head for it"
                    continue
                try:
                    method = VidsimMethod(f"vidsim {backbone} {mode}", config=mode_config(backbone, mode), cache=cache)
                except VidsimError as exc:  # e.g. backbone weights not installed
                    skipped[f"{backbone} / {mode}"] = str(exc)
                    continue
                model = method.model
                assert model.mode == mode
                for codes in args.codes:
                    t = time.perf_counter()
                    scores = {name: exhaustive_scores(method, split) if codes == EXHAUSTIVE else
                              search_scores(method, split, INDEX_CODES[codes], codes, cache, Path(tmp))
                              for name, split in splits.items()}
                    dev = choose(scores["dev"], splits["dev"].gt)
                    test = measure(scores["test"], splits["test"].gt, dev["threshold"])
                    other = [p for p in test["false_positives"] if not splits["test"].same_source(*p)]
                    called = test["tp"] + len(other)
                    test["precision_other"] = test["tp"] / called if called else float("nan")
                    test["fp_same_source"] = test["fp"] - len(other)
                    test_recall, test_threshold = oracle(scores["test"], splits["test"].gt)
                    entry = ShippedThreshold(
                        backbone, mode, codes, dev["threshold"], round(dev["precision"], 4), round(dev["recall"], 4),
                        dev["copies"], dev["pairs"], date, command, model.config, model.extractor.weights_version,
                        model.extractor.whitening_version, model.feature_key)
                    entries.append(entry)
                    rows.append({"entry": entry, "dev": dev, "test": test, "oracle": (test_recall, test_threshold),
                                 "seconds": time.perf_counter() - t})
                    print(f"{entry.label}: threshold {entry.threshold:.4f}; dev P {dev['precision']:.3f} "
                          f"R {dev['recall']:.3f}; test P {test['precision']:.3f} R {test['recall']:.3f} "
                          f"({test['fp']} false positives)", flush=True)

    write_thresholds(args.out, entries)
    write_report(args.report, rows, skipped, splits, date, command, time.time() - started)
    print(f"wrote {args.out} and {args.report}")


def write_thresholds(path: Path, entries: list[ShippedThreshold]) -> None:
    """thresholds.json: `entries` replace those with the same (backbone, mode, codes); the rest stay."""
    from vidsim.decision import read_thresholds

    fresh = {(e.backbone, e.mode, e.codes): e for e in entries}
    kept = [e for e in read_thresholds(path) if (e.backbone, e.mode, e.codes) not in fresh]
    order = {m: i for i, m in enumerate(MODES)}
    everything = sorted([*kept, *fresh.values()], key=lambda e: (e.backbone, order.get(e.mode, 99), e.mode,
                                                                  CODES_CLASSES.index(e.codes)))
    data = {"format": 1,
            "rule": f"is_copy = similarity >= threshold; each threshold has the highest recall at precision >= "
                    f"{TARGET_PRECISION} on the benchmark's dev split (benchmarks/thresholds.py)",
            "thresholds": [e.to_dict() for e in everything]}
    path.write_text(json.dumps(data, indent=1) + "\n")


def shared(split: Split) -> int:
    counts = Counter(split.ref_sources.get(r) for r in split.refs)
    return sum(1 for r in split.refs if counts[split.ref_sources.get(r)] > 1)


def sources(split: Split) -> str:
    counts = Counter(split.ref_sources.get(r) for r in split.refs)
    return ", ".join(f"{name} {n}" for name, n in counts.most_common())


def write_report(path: Path, rows: list[dict[str, Any]], skipped: dict[str, str], splits: dict[str, Split],
                 date: str, command: str, seconds: float) -> None:
    dev, test = splits["dev"], splits["test"]
    lines = [
        "# Copy thresholds (`is_copy`): chosen on dev, measured on test\n",
        f"Date: {date}. Command: `{command}` ({seconds / 60:.0f} min).  ",
        "Versions: " + ", ".join(f"{k} {v}" for k, v in versions(PACKAGES).items()) + ".\n",
        f"Benchmark: `python benchmarks/build_benchmark.py` (seed 0): dev {len(dev.queries)} queries x "
        f"{len(dev.refs)} references ({dev.gt.n_positive_pairs} copies), test {len(test.queries)} x "
        f"{len(test.refs)} ({test.gt.n_positive_pairs} copies). Every (query, reference) pair is scored as users "
        "score it: *exhaustive* = the `vidsim` evaluation method on full features (`vidsim compare`, `matrix`, "
        "`evaluate`); *binary* / *float* = `Index.search` with top_k = all references on an index of the split's "
        "references with binary codes (512 projected sign bits) / float32 codes (float16 and int8 indexes, int8 "
        "the default, use the float threshold: int8 scores are within 2e-4 of float32's on dev), default "
        "SearchConfig. The threshold is the one with the highest dev recall "
        f"at precision >= {TARGET_PRECISION} (midway between the lowest accepted score and the next lower one); "
        "`is_copy` = similarity >= threshold. Test was measured once, after the choice. Test R@P95 is test's "
        "own best recall at precision >= 0.95 (a threshold chosen on test): the gap to the shipped threshold's "
        "test recall is the cost of choosing on dev.\n",
        "Same-source negatives: a query and a reference cut from the same source clip at another time (often the "
        f"same static shot seconds later; {shared(dev)} of dev's {len(dev.refs)} and {shared(test)} of test's "
        f"{len(test.refs)} references share their source with another reference: test {sources(test)}); "
        "'test P other' leaves those pairs out, the rest of the negatives stay.\n",
        "| backbone | head | codes | threshold | dev P | dev R | **test P** | **test R** | test FP (same-source) | "
        "test P other | test R@P95 (its threshold) |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        e, d, t = row["entry"], row["dev"], row["test"]
        recall, threshold = row["oracle"]
        flag = "" if d["reached"] else " (below target)"
        oracle_text = f"{recall:.3f} ({threshold:.3f})" if threshold is not None else f"{recall:.3f} (–)"
        lines.append(f"| {e.backbone} | {e.mode} | {e.codes} | {e.threshold:.4f} | {d['precision']:.3f}{flag} | "
                     f"{d['recall']:.3f} | **{t['precision']:.3f}** | **{t['recall']:.3f}** | {t['fp']} ({t['fp_same_source']}) | "
                     f"{t['precision_other']:.3f} | {oracle_text} |")
    lines += ["", "## Test errors at the shipped thresholds (query kind/family)\n",
              "| backbone | head | codes | false positives | missed copies |", "|---|---|---|---|---|"]
    for row in rows:
        e, t = row["entry"], row["test"]
        lines.append(f"| {e.backbone} | {e.mode} | {e.codes} | {by_family(t['false_positives'], test)} | "
                     f"{len(t['misses'])}: {by_family(t['misses'], test)} |")
    if skipped:
        lines += ["", "## Not calibrated (is_copy is null there)\n", *(f"- {what}: {why}" for what, why in skipped.items())]
    path.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
