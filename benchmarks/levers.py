"""The similarity levers of issue 12, each alone and combined, side by side on the benchmark's splits.

    python benchmarks/levers.py [--bench DIR] [--splits dev dev-dark dev-tiny] [--variants LABEL ...]

Every row is one `run_evaluation` (what `vidsim evaluate` runs) over the same cached features; the
equivalent command line is recorded with each. Levers: uninformative frames (`--min-frame-std`),
a mirrored query (`--flip-query`, `--flip-margin`), the symmetric variant (`--symmetric`), and
search against exhaustive comparison (`--method vidsim-search`, `--index-option ...`).

Besides the benchmark's own splits, two sets are derived from each, so that the levers meet the
cases they are for (written once into `<bench>-levers/`, deterministic, nothing committed):

- `<split>-dark`: the same videos and ground truth, but about half of them (chosen by a hash of the
  id) end in a 1-s fade to black and 2-5 s of black, so that unrelated videos share dark frames;
- `<split>-tiny`: the queries' first 4 s only, downscaled to 96 px high and encoded at CRF 38
  (short, small, heavily compressed), against the same references; the ground truth is cut to
  those 4 s (a copy that starts later is no longer one).

Choices are made on dev (dev, dev-dark, dev-tiny); test is run once, after them. Writes
benchmarks/results/levers.json (metrics, per family and kind, of every run; each run's full report
goes to --reports).
"""
from __future__ import annotations

import argparse
import csv
import json
import shlex
import shutil
import sys
import time
import zlib
from fractions import Fraction
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from environment import kept_text, versions  # noqa: E402  (benchmarks/ is the script's directory)
from vidsim.bench import build_benchmark, fetch_corpus, needed_clips  # noqa: E402
from vidsim.decode import VideoEncoding, VideoWriter, iter_decoded_frames, probe  # noqa: E402
from vidsim.evaluate.methods import build_method  # noqa: E402
from vidsim.evaluate.runner import run_evaluation  # noqa: E402
from vidsim.store import FeatureCache  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
PACKAGES = ("vidsim", "torch", "av", "numpy", "faiss-cpu")
TINY_SECONDS, TINY_HEIGHT, TINY_CRF = 4.0, 96, "38"

# Every variant names all the switches, so that a change of vidsim's defaults changes no row:
# BASELINE is vidsim's configuration before these levers (asymmetric Chamfer, every frame, binary codes).
BASELINE = {"symmetric": False, "symmetric_partial": False, "flip_query": False, "min_frame_std": 0.0}
BASE_FLAGS = "--no-symmetric --no-symmetric-partial --no-flip-query --min-frame-std 0"
BINARY = {"index.codes": "binary"}
CHOSEN = {"symmetric": True, "symmetric_partial": True, "flip_query": False, "min_frame_std": 8.0}
CHOSEN_FLAGS = "--symmetric --symmetric-partial --no-flip-query --min-frame-std 8"
INT8 = {"index.codes": "int8"}


def _exhaustive(change: dict, flags: str, base: dict = BASELINE, base_flags: str = BASE_FLAGS) -> tuple[str, dict, str]:
    return "vidsim", {**base, **change}, f"{base_flags} {flags}".strip()


def _search(index: dict, change: dict, flags: str, base: dict = BASELINE, base_flags: str = BASE_FLAGS) -> tuple[str, dict, str]:
    options = " ".join(f"--index-option {k}={v}" for k, v in index.items())
    return "vidsim-search", {**base, **change, "index_options": index}, f"--method vidsim-search {base_flags} {flags} {options}"


# label -> (method, options, the `vidsim evaluate` options that give it)
VARIANTS: dict[str, tuple[str, dict, str]] = {
    "baseline": _exhaustive({}, ""),
    "symmetric": _exhaustive({"symmetric": True}, "--symmetric"),
    "symmetric, partial": _exhaustive({"symmetric": True, "symmetric_partial": True}, "--symmetric --symmetric-partial"),
    "flip, margin 0": _exhaustive({"flip_query": True, "flip_margin": 0.0}, "--flip-query --flip-margin 0"),
    "flip, margin 0.05": _exhaustive({"flip_query": True, "flip_margin": 0.05}, "--flip-query --flip-margin 0.05"),
    "min_frame_std 4": _exhaustive({"min_frame_std": 4.0}, "--min-frame-std 4"),
    "min_frame_std 8": _exhaustive({"min_frame_std": 8.0}, "--min-frame-std 8"),
    "min_frame_std 12": _exhaustive({"min_frame_std": 12.0}, "--min-frame-std 12"),
    "search": _search(BINARY, {}, ""),
    "search, int8 codes": _search(INT8, {}, ""),
    "search, 256 neighbours": _search({**BINARY, "index.search.frame_neighbours": 256}, {}, ""),
    "frames 8 + symmetric": _exhaustive({"min_frame_std": 8.0, "symmetric": True}, "--min-frame-std 8 --symmetric"),
    "chosen": _exhaustive({}, "", CHOSEN, CHOSEN_FLAGS),
    "chosen + flip": _exhaustive({"flip_query": True, "flip_margin": 0.05}, "--flip-query", CHOSEN, CHOSEN_FLAGS),
    "search, chosen": _search(BINARY, {}, "", CHOSEN, CHOSEN_FLAGS),
    "search int8, chosen": _search(INT8, {}, "", CHOSEN, CHOSEN_FLAGS),
    # the packaged learned head (vidsim-visil) under the same switches
    "learned, baseline": ("vidsim-visil", BASELINE, f"--method vidsim-visil {BASE_FLAGS}"),
    "learned, chosen": ("vidsim-visil", CHOSEN, f"--method vidsim-visil {CHOSEN_FLAGS}"),
    "learned, min_frame_std 8": ("vidsim-visil", {**BASELINE, "min_frame_std": 8.0},
                                 f"--method vidsim-visil {BASE_FLAGS} --min-frame-std 8"),
}


# --- derived sets --------------------------------------------------------------------------------
def _write(path: Path, frames, size: tuple[int, int], fps: float, crf: str = "23") -> None:
    encoding = VideoEncoding(options={"crf": crf, "preset": "medium"}, threads=1)
    with VideoWriter(path, size, Fraction(fps).limit_denominator(1001), encoding) as writer:
        for image in frames:
            writer.write(image)


def _even(x: float) -> int:
    return max(2, int(round(x / 2)) * 2)


def _dark_tail(video_id: str) -> float:
    """Seconds of black a video of the dark set ends in (0: none): from a hash of its id."""
    h = zlib.crc32(video_id.encode())
    return 0.0 if h % 2 else 2.0 + (h >> 1) % 4


def make_dark(video: Path, out_dir: Path) -> None:
    """The video with its dark tail (re-encoded), or the file itself where it gets none."""
    black = _dark_tail(video.stem)
    if not black:
        shutil.copyfile(video, out_dir / video.name)
        return
    info = probe(video)
    size = (_even(info.width), _even(info.height))

    def frames():  # streamed: one picture in memory at a time
        last = None
        for frame in iter_decoded_frames(video):
            last = frame.to_rgb(size)
            yield last
        assert last is not None
        fade = max(1, round(info.fps))
        for k in range(fade):
            yield (last.astype(np.float32) * (1 - (k + 1) / fade)).astype(np.uint8)
        for _ in range(int(round(black * info.fps))):
            yield np.zeros_like(last)

    _write(out_dir / f"{video.stem}.mp4", frames(), size, info.fps)


def make_tiny(video: Path, out: Path) -> None:
    info = probe(video)
    size = (_even(info.width * TINY_HEIGHT / info.height), TINY_HEIGHT)
    frames = [f.to_rgb(size) for f in iter_decoded_frames(video) if f.time < TINY_SECONDS - 1e-6]
    _write(out, frames, size, info.fps, TINY_CRF)


def _tiny_truth(src: Path, dst: Path) -> None:
    """The ground truth cut to the queries' first TINY_SECONDS (linear time mapping within a row)."""
    with open(src, newline="") as fh:
        rows = list(csv.DictReader(fh))
    kept = []
    for row in rows:
        qs, qe, rs, re_ = (float(row[k]) for k in ("query_start", "query_end", "ref_start", "ref_end"))
        if qs >= TINY_SECONDS:
            continue
        if qe > TINY_SECONDS:
            re_ = rs + (re_ - rs) * (TINY_SECONDS - qs) / (qe - qs)
            qe = TINY_SECONDS
        kept.append({**row, "query_end": f"{qe:.3f}", "ref_end": f"{re_:.3f}"})
    with open(dst, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(kept)


def derived_split(bench: Path, name: str) -> tuple[Path, Path, Path, Path]:
    """(queries, refs, ground truth, manifest) of a split or of a derived set ("dev-dark", "test-tiny")."""
    split, _, kind = name.partition("-")
    if not kind:
        return bench / split / "queries", bench / split / "refs", bench / f"gt_{split}.csv", bench / f"manifest_{split}.csv"
    root = bench.parent / f"{bench.name}-levers" / name
    done = root / "done.json"
    if not done.is_file():
        if root.exists():
            shutil.rmtree(root)
        for part in ("queries", "refs"):
            (root / part).mkdir(parents=True)
            for video in sorted((bench / split / part).iterdir()):
                if kind == "dark":
                    make_dark(video, root / part)
                elif part == "queries":
                    make_tiny(video, root / part / f"{video.stem}.mp4")
                else:
                    shutil.copyfile(video, root / part / video.name)
        if kind == "dark":
            shutil.copyfile(bench / f"gt_{split}.csv", root / "gt.csv")
        else:
            _tiny_truth(bench / f"gt_{split}.csv", root / "gt.csv")
        shutil.copyfile(bench / f"manifest_{split}.csv", root / "manifest.csv")
        done.write_text(json.dumps({"made": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}))
    return root / "queries", root / "refs", root / "gt.csv", root / "manifest.csv"


# --- runs ----------------------------------------------------------------------------------------
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bench", type=Path, default=Path.home() / ".cache" / "vidsim" / "bench")
    parser.add_argument("--splits", nargs="+", default=["dev", "dev-dark", "dev-tiny"])
    parser.add_argument("--variants", nargs="+", help="subset of the variant labels")
    parser.add_argument("--report", default="levers", help="name of the report files (default: %(default)s)")
    parser.add_argument("--reports", type=Path, default=Path.home() / ".cache" / "vidsim" / "levers-reports",
                        help="where each run's full evaluation report goes (default: %(default)s; not committed)")
    args = parser.parse_args()

    build_benchmark(fetch_corpus(only=needed_clips()), args.bench, seed=0)
    cache = FeatureCache()
    labels = args.variants or list(VARIANTS)
    out_json = RESULTS / f"{args.report}.json"
    report = json.loads(out_json.read_text()) if out_json.is_file() else {"runs": {}}
    command = shlex.join(["python", *sys.argv])
    report["commands"] = [c for c in report.get("commands", []) if c != command] + [command]
    report["versions"] = versions(PACKAGES)
    for split in args.splits:
        queries, refs, gt, manifest = derived_split(args.bench, split)
        ref_attributes = args.bench / f"refs_{split.partition('-')[0]}.csv"  # the same references' sources
        for label in labels:
            name, options, flags = VARIANTS[label]
            method = build_method(name, cache=cache, **options)
            method.name = label
            started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
            t = time.time()
            run = run_evaluation(queries, refs, gt, [method], args.reports / split / _slug(label),
                                 attributes=manifest, ref_attributes=ref_attributes, title=f"{split}: {label}")
            result = run.results[0]
            report["runs"].setdefault(split, {})[label] = {
                "date": started, "seconds": round(time.time() - t, 1), "failures": run.failures,
                "command": f"vidsim evaluate --queries {queries} --refs {refs} --gt {gt} --attributes {manifest} "
                           f"--ref-attributes {ref_attributes} "
                           f"{flags}".strip(),
                "options": options, "metrics": dict(result.metrics),
                "family": {g: {k: v.get(k) for k in ("mAP", "uAP")} for g, v in result.groups.get("family", {}).items()},
                "kind": {g: dict(v) for g, v in result.groups.get("kind", {}).items()},
            }
            m = result.metrics
            print(f"{split:9s} {label:28s} mAP {m['mAP']:.4f}  µAP {m['uAP']:.4f}  R@P90 {m['R@P90']:.3f}  "
                  f"seg F {m.get('seg_F', float('nan')):.3f}", flush=True)
            out_json.write_text(json.dumps(report, indent=1, ensure_ascii=False, default=float) + "\n")
    write_markdown(report, RESULTS / f"{args.report}.md")
    print(f"wrote {out_json} and {out_json.with_suffix('.md')}")


# --- report --------------------------------------------------------------------------------------
FAMILY_COLUMNS = ("baseline", "symmetric, partial", "flip, margin 0.05", "min_frame_std 8", "chosen", "chosen + flip",
                  "search", "search int8, chosen")
READING = "## Reading"


def _cell(v) -> str:
    return "–" if v is None or v != v else f"{v:.3f}"


def write_markdown(report: dict, path: Path) -> None:
    """levers.md from the JSON: per split, every variant's headline metrics, then per-family mAP of the
    main ones; the hand-written text from "## Reading" on is kept from the file already there."""
    kept = kept_text(path, READING)
    lines = ["# Similarity levers (issue 12): each alone and combined\n",
             "Commands: " + "; ".join(f"`{c}`" for c in report.get("commands", [])) + " (every row is one "
             "`vidsim evaluate` run; its own command line is in levers.json).  ",
             "Versions: " + ", ".join(f"{k} {v}" for k, v in report.get("versions", {}).items()) + ".\n",
             "Splits: the benchmark's dev and test (`benchmarks/build_benchmark.py`, seed 0); `-dark`: the same videos, "
             "about half of them ending in a 1-s fade to black and 2-5 s of black; `-tiny`: the queries' first 4 s, "
             "96 px high, CRF 38, against the same references. mAP per query (FIVR), µAP over all pairs (VSC22), R@P90: "
             "recall at precision 0.9, seg F: VCSL segment F. `search` rows answer each query through an index of the "
             "references (`--method vidsim-search`, default index: binary 512-bit codes) as `vidsim search` does.\n"]
    for split, runs in report.get("runs", {}).items():
        dates = sorted(r["date"] for r in runs.values())
        lines += [f"## {split}\n", f"Runs {dates[0]} to {dates[-1]}.\n",
                  "| variant | mAP | µAP | R@P90 | seg P | seg R | seg F | FRR | FAR | other metrics |",
                  "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
        known = ("mAP", "uAP", "R@P90", "seg_P", "seg_R", "seg_F", "FRR", "FAR", "queries")
        for label, run in runs.items():
            m = run["metrics"]
            other = ", ".join(f"{k} {_cell(v)}" for k, v in m.items() if k not in known)
            lines.append(f"| {label} | " + " | ".join(_cell(m.get(k)) for k in known[:-1]) + f" | {other} |")
        columns = [c for c in FAMILY_COLUMNS if c in runs]
        families = sorted({f for c in columns for f in runs[c]["family"]})
        if columns and families:
            lines += ["", f"Per family, mAP / µAP ({split}):\n", "| family | " + " | ".join(columns) + " |",
                      "|---|" + "---:|" * len(columns)]
            for family in families:
                cells = [runs[c]["family"].get(family, {}) for c in columns]
                lines.append(f"| {family} | " + " | ".join(f"{_cell(x.get('mAP'))} / {_cell(x.get('uAP'))}" for x in cells) + " |")
        lines.append("")
    path.write_text("\n".join(lines) + "\n" + (kept or f"{READING}\n\n(to be written)\n"))


def _slug(label: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in label).strip("-")


if __name__ == "__main__":
    main()
