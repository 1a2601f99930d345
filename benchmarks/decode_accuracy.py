"""What skipping non-reference frames costs: timestamp error and accuracy on the real-footage benchmark.

    python benchmarks/decode_accuracy.py [--bench DIR] [--splits dev test]

Rows are vidsim's default method (lite0, packaged whitening, chamfer, runtime auto) with only
`DecodeConfig.skip_nonref` changed: `off` (every frame decoded: the exact path, the reference),
`unsampled` (non-reference frames no sample shows are dropped) and `all` (every non-reference
frame is dropped; a sample may show the reference frame before the one the sampling rule picks).
The rule (issue 11) a skip must pass to be the default: mAP and µAP on the test split within
0.005 of the exact path's. Per split it reports mAP, µAP, the max |score change| over every
scored (query, reference) pair against `off`, the timestamp error (presentation time of the frame
each sample shows, minus that of the frame the exact path shows, over every sample of every
video) and the share of frames decoded. Writes benchmarks/results/decode_accuracy.{md,json}.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

import vidsim.decode.reader as reader  # noqa: E402
from environment import versions  # noqa: E402  (benchmarks/ is the script's directory)
from runtime_accuracy import RecordingMethod  # noqa: E402
from vidsim.bench import build_benchmark, fetch_corpus, needed_clips  # noqa: E402
from vidsim.config import DecodeConfig, VidsimConfig  # noqa: E402
from vidsim.decode import VIDEO_EXTENSIONS  # noqa: E402
from vidsim.evaluate.runner import run_evaluation  # noqa: E402
from vidsim.store import FeatureCache  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
RULE = 0.005
MODES = ("off", "unsampled", "all")  # the first is the reference
PACKAGES = ("vidsim", "av", "onnxruntime", "torch", "numpy")


def shown_times(path: Path, mode: str) -> tuple[np.ndarray, int, int]:
    """(presentation time of the frame each sample shows, frames decoded, packets the decoder was
    allowed to drop) for one video with `skip_nonref=mode`."""
    sources: list[reader.FrameSource] = []
    real = reader.FrameSource

    class Counting(real):  # type: ignore[misc, valid-type]
        def __init__(self, *args: Any, **kwargs: Any):
            super().__init__(*args, **kwargs)
            sources.append(self)

    reader.FrameSource = Counting  # type: ignore[misc]
    try:
        batches = list(reader.iter_frames(path, DecodeConfig(skip_nonref=mode)))  # type: ignore[arg-type]
    finally:
        reader.FrameSource = real  # type: ignore[misc]
    times = np.concatenate([b.frame_times for b in batches if b.frame_times is not None])
    return times, sum(s.decoded for s in sources), sum(s.dropped for s in sources)


def timestamp_errors(videos: list[Path]) -> dict[str, dict[str, Any]]:
    """Per mode: statistics of (frame shown - frame the exact path shows), seconds, over all samples."""
    exact = {path: shown_times(path, MODES[0]) for path in videos}
    exact_decoded = sum(decoded for _, decoded, _ in exact.values())
    out: dict[str, dict[str, Any]] = {}
    for mode in MODES:
        errors, decoded, dropped, mismatched = [], 0, 0, 0
        for path in videos:
            times, count, skipped = exact[path] if mode == MODES[0] else shown_times(path, mode)
            decoded, dropped = decoded + count, dropped + skipped
            if len(times) != len(exact[path][0]):
                mismatched += 1
                continue
            errors.append(times - exact[path][0])
        err = np.abs(np.concatenate(errors)) if errors else np.zeros(0)
        out[mode] = {"samples": int(err.size), "videos": len(videos), "videos_with_other_sample_counts": mismatched,
                     "share_moved": float((err > 1e-9).mean()) if err.size else 0.0,
                     "mean_abs_s": float(err.mean()) if err.size else 0.0,
                     "p95_abs_s": float(np.percentile(err, 95)) if err.size else 0.0,
                     "max_abs_s": float(err.max()) if err.size else 0.0,
                     "frames_decoded": decoded, "packets_droppable": dropped,
                     "share_decoded": decoded / exact_decoded if exact_decoded else 0.0}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bench", type=Path, default=Path.home() / ".cache" / "vidsim" / "bench")
    parser.add_argument("--splits", nargs="+", default=["dev", "test"])
    parser.add_argument("--report", default="decode_accuracy", help="name of the report files (default: %(default)s)")
    args = parser.parse_args()

    build_benchmark(fetch_corpus(only=needed_clips()), args.bench, seed=0)
    cache = FeatureCache()
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    report: dict[str, Any] = {"date": started, "command": " ".join(["python", *sys.argv]), "versions": versions(PACKAGES),
                              "rule": RULE, "splits": {}}
    lines = ["# Accuracy of skipping non-reference frames\n",
             f"Date: {started}. Command: `{report['command']}`.  ",
             "Versions: " + ", ".join(f"{k} {v}" for k, v in report["versions"].items()) + ".\n",
             "Every row is vidsim's default method (efficientnet-lite0, packaged 256-d whitening, chamfer, runtime "
             "auto) on `python benchmarks/build_benchmark.py` (seed 0), with only `--skip-nonref` changed; `off` "
             "decodes every frame (the exact path, the reference). Rule (issue 11): a skip may be the default if "
             f"its mAP and µAP on the test split are within {RULE} of the exact path's. max |Δ score|: over every "
             "scored (query, reference) pair, against `off`. Timestamp error: presentation time of the frame a "
             "sample shows minus that of the frame the exact path shows, over every sample of every video of the "
             "split (queries and references). Decoded: frames decoded, as a share of the exact path's.\n"]
    for split in args.splits:
        queries, refs = args.bench / split / "queries", args.bench / split / "refs"
        videos = sorted(p for d in (queries, refs) for p in d.iterdir() if p.suffix.lower() in VIDEO_EXTENSIONS)
        errors = timestamp_errors(videos)
        rows: dict[str, dict[str, Any]] = {}
        reference: list[float] = []
        for mode in MODES:
            config = VidsimConfig(decode=DecodeConfig(skip_nonref=mode))  # type: ignore[arg-type]
            method = RecordingMethod(f"skip_nonref={mode}", config=config, cache=cache)
            run = run_evaluation(queries, refs, args.bench / f"gt_{split}.csv", [method],
                                 Path(tempfile.mkdtemp(prefix="vidsim-decode-accuracy-")),
                                 attributes=args.bench / f"manifest_{split}.csv", title=f"{split} split, {mode}")
            metrics = dict(run.results[0].metrics)
            if mode == MODES[0]:
                reference = list(method.scores)
            same_pairs = len(method.scores) == len(reference)
            drift = max((abs(a - b) for a, b in zip(method.scores, reference)), default=0.0)
            rows[mode] = {"mAP": metrics.get("mAP"), "uAP": metrics.get("uAP"), "R@P90": metrics.get("R@P90"),
                          "seg_F": metrics.get("seg_F"), "max_abs_score_change": drift if same_pairs else None,
                          "pairs": len(method.scores), "failures": run.failures, "timestamps": errors[mode]}
            print(split, mode, json.dumps(rows[mode]), flush=True)
        ref = rows[MODES[0]]
        for row in rows.values():
            row["d_mAP"] = row["mAP"] - ref["mAP"]
            row["d_uAP"] = row["uAP"] - ref["uAP"]
            row["within_rule"] = abs(row["d_mAP"]) <= RULE and abs(row["d_uAP"]) <= RULE
        report["splits"][split] = rows
        lines += [f"## {split} split ({len(videos)} videos, {errors[MODES[0]]['samples']} samples)\n",
                  "| skip_nonref | mAP | µAP | Δ mAP | Δ µAP | max \\|Δ score\\| | within 0.005 | samples moved | "
                  "mean \\|Δt\\| s | p95 \\|Δt\\| s | max \\|Δt\\| s | decoded |",
                  "|---|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|"]
        for mode, row in rows.items():
            ts = row["timestamps"]
            drift = "–" if row["max_abs_score_change"] is None else f"{row['max_abs_score_change']:.2e}"
            lines.append(f"| {mode} | {row['mAP']:.4f} | {row['uAP']:.4f} | {row['d_mAP']:+.4f} | {row['d_uAP']:+.4f} | "
                         f"{drift} | {'yes' if row['within_rule'] else '**no**'} | {100 * ts['share_moved']:.1f}% | "
                         f"{ts['mean_abs_s']:.4f} | {ts['p95_abs_s']:.4f} | {ts['max_abs_s']:.4f} | "
                         f"{100 * ts['share_decoded']:.0f}% |")
        lines.append("")
    (RESULTS / f"{args.report}.md").write_text("\n".join(lines) + "\n")
    (RESULTS / f"{args.report}.json").write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n")
    print(f"wrote {RESULTS / (args.report + '.md')}")


if __name__ == "__main__":
    main()
