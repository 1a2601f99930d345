"""256-bit binary codes (issue 13 item 5) against exhaustive comparison and the default int8 codes.

    python benchmarks/codes256.py [--bench DIR] [--splits dev dev-tiny test test-tiny]

Every row is one `run_evaluation` (what `vidsim evaluate` runs) over the same cached features,
under vidsim's current defaults (symmetric partial Chamfer, min_frame_std 8); the search rows
answer each query through an index of the references (`--method vidsim-search`) with the codes
named. The rule: 256-bit codes become the default only if search with them stays within 1 point
(0.01) of exhaustive comparison on both mAP and µAP. Writes benchmarks/results/codes256.json and
the tables of codes256.md (its text from "## Decision" on is kept).
"""
from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from environment import kept_text, versions  # noqa: E402  (benchmarks/ is the script's directory)
from levers import CHOSEN, CHOSEN_FLAGS, PACKAGES, _slug, derived_split  # noqa: E402
from vidsim.bench import build_benchmark, fetch_corpus, needed_clips  # noqa: E402
from vidsim.evaluate.methods import build_method  # noqa: E402
from vidsim.evaluate.runner import run_evaluation  # noqa: E402
from vidsim.store import FeatureCache  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
BYTES_PER_FRAME = {"int8": 9 * 256 + 18, "binary 512": 9 * 64, "binary 256": 9 * 32}  # region codes (+ int8 scales)


def _search(index: dict) -> tuple[str, dict, str]:
    options = " ".join(f"--index-option {k}={v}" for k, v in index.items())
    return "vidsim-search", {**CHOSEN, "index_options": index}, f"--method vidsim-search {CHOSEN_FLAGS} {options}"


# label -> (method, options, the `vidsim evaluate` options that give it)
ROWS: dict[str, tuple[str, dict, str]] = {
    "exhaustive": ("vidsim", CHOSEN, CHOSEN_FLAGS),
    "search, int8 (default)": _search({"index.codes": "int8"}),
    "search, binary 512": _search({"index.codes": "binary", "index.code_bits": 512}),
    "search, binary 256": _search({"index.codes": "binary", "index.code_bits": 256}),
}
DECISION = "## Decision"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bench", type=Path, default=Path.home() / ".cache" / "vidsim" / "bench")
    parser.add_argument("--splits", nargs="+", default=["dev", "dev-tiny", "test", "test-tiny"])
    parser.add_argument("--rows", nargs="+", help="subset of the row labels")
    parser.add_argument("--reports", type=Path, default=Path.home() / ".cache" / "vidsim" / "codes256-reports",
                        help="where each run's full evaluation report goes (default: %(default)s; not committed)")
    args = parser.parse_args()

    build_benchmark(fetch_corpus(only=needed_clips()), args.bench, seed=0)
    cache = FeatureCache()
    out_json = RESULTS / "codes256.json"
    report = json.loads(out_json.read_text()) if out_json.is_file() else {"runs": {}}
    command = shlex.join(["python", *sys.argv])
    report["commands"] = [c for c in report.get("commands", []) if c != command] + [command]
    report["versions"] = versions(PACKAGES)
    for split in args.splits:
        queries, refs, gt, manifest = derived_split(args.bench, split)
        ref_attributes = args.bench / f"refs_{split.partition('-')[0]}.csv"
        for label in args.rows or list(ROWS):
            name, options, flags = ROWS[label]
            method = build_method(name, cache=cache, **options)
            method.name = label
            started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
            run = run_evaluation(queries, refs, gt, [method], args.reports / split / _slug(label),
                                 attributes=manifest, ref_attributes=ref_attributes, title=f"{split}: {label}")
            result = run.results[0]
            report["runs"].setdefault(split, {})[label] = {
                "date": started, "failures": run.failures, "options": options, "metrics": dict(result.metrics),
                "command": f"vidsim evaluate --queries {queries} --refs {refs} --gt {gt} --attributes {manifest} "
                           f"--ref-attributes {ref_attributes} {flags}".strip(),
            }
            m = result.metrics
            print(f"{split:9s} {label:24s} mAP {m['mAP']:.4f}  µAP {m['uAP']:.4f}", flush=True)
            out_json.write_text(json.dumps(report, indent=1, ensure_ascii=False, default=float) + "\n")
    write_markdown(report, RESULTS / "codes256.md")
    print(f"wrote {out_json} and {out_json.with_suffix('.md')}")


def _cell(v) -> str:
    return "–" if v is None or v != v else f"{v:.4f}"


def write_markdown(report: dict, path: Path) -> None:
    """codes256.md: per split, each row's mAP and µAP and its gap to exhaustive comparison; the text
    from "## Decision" on is kept from the file already there."""
    kept = kept_text(path, DECISION)
    lines = ["# 256-bit binary codes against exhaustive comparison and int8 (issue 13, item 5)\n",
             "Commands: " + "; ".join(f"`{c}`" for c in report.get("commands", [])) + " (every row is one "
             "`vidsim evaluate` run; its own command line is in codes256.json).  ",
             "Versions: " + ", ".join(f"{k} {v}" for k, v in report.get("versions", {}).items()) + ".\n",
             "Defaults of vidsim as configured (chamfer-symmetric-partial, min_frame_std 8). Splits: the benchmark's dev "
             "and test (`benchmarks/build_benchmark.py`, seed 0); `-tiny`: the queries' first 4 s, 96 px high, CRF 38 "
             "(`benchmarks/levers.py`). Bytes per frame: the region codes of 9 regions of 256 whitened dims (int8 with "
             "its float16 per-region scales); ViSiL's 9 x 3840 float32 are 138,240 bytes.\n"]
    for split, runs in report.get("runs", {}).items():
        base = runs.get("exhaustive", {}).get("metrics", {})
        dates = sorted(r["date"] for r in runs.values())
        lines += [f"## {split}\n", f"Runs {dates[0]} to {dates[-1]}.\n",
                  "| row | bytes/frame | mAP | µAP | R@P90 | seg F | mAP - exhaustive | µAP - exhaustive |",
                  "|---|---:|---:|---:|---:|---:|---:|---:|"]
        for label, run in runs.items():
            m = run["metrics"]
            size = next((str(b) for k, b in BYTES_PER_FRAME.items() if k in label), "–")
            gaps = [_cell(m[k] - base[k]) if k in base else "–" for k in ("mAP", "uAP")]
            lines.append(f"| {label} | {size} | {_cell(m.get('mAP'))} | {_cell(m.get('uAP'))} | {_cell(m.get('R@P90'))} | "
                         f"{_cell(m.get('seg_F'))} | {gaps[0]} | {gaps[1]} |")
        lines.append("")
    path.write_text("\n".join(lines) + "\n" + (kept or f"{DECISION}\n\n(to be written)\n"))


if __name__ == "__main__":
    main()
