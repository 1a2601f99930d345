"""`python benchmarks/extract.py`: options, the run of the chosen sections, and the report files."""
from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import shlex
import sys
import tempfile
import time
from pathlib import Path

from . import __doc__ as PACKAGE_DOC
from .agreement import WHITEN_FIT_CLIPS, section_agreement
from .common import ENTRY, REQUIRED_RATIO, RESULTS, rate_stats
from .decoding import section_decode
from .end_to_end import section_e2e
from .extraction import derive_extract, section_extract
from .report import machine_info, render_markdown, write_atomic
from .similarity import section_similarity
from .worker import worker_main

SECTIONS = ("decode", "extract", "agreement", "similarity", "e2e")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--worker"]:
        return worker_main(argv[1])
    ap = argparse.ArgumentParser(description=PACKAGE_DOC.strip().splitlines()[0])
    ap.add_argument("--clip", type=Path, help="video to benchmark (default: the corpus clip 'franck', 200 s)")
    ap.add_argument("--quick", action="store_true", help="smoke run: 32 frames, one round, fewer variants")
    ap.add_argument("--rounds", type=int, help="timed rounds per measurement (default 3; 1 with --quick)")
    ap.add_argument("--frames", type=int, help="pre-decoded frames for extraction (default all; 32 with --quick)")
    ap.add_argument("--threads", type=int, default=None, help="torch threads per worker (default: usable cores)")
    ap.add_argument("--bf16-batches", type=int, nargs="+", default=None, metavar="B",
                    help="resnet50 bf16 batch sizes to try (default 8 16 32)")
    ap.add_argument("--lite", nargs="*", default=None, metavar="V",
                    help="efficientnet variants (default lite0 lite1 lite2; lite0 with --quick)")
    ap.add_argument("--runtimes", nargs="*", default=None, metavar="R",
                    help="exported runtimes with rows beside torch's in the extract section "
                         "(default: the installed ones of onnxruntime, openvino)")
    ap.add_argument("--sections", nargs="+", choices=SECTIONS, default=list(SECTIONS))
    ap.add_argument("--out", type=Path, help=f"where to write extract.md/.json (default {RESULTS} for a full run; "
                                             "a --quick run writes only where --out says)")
    ap.add_argument("--wait-quiet", type=float, default=None, metavar="S",
                    help="before each timed run, wait up to S seconds until other processes use under 15%% "
                         "of the CPU (default 30; 0 with --quick)")
    ap.add_argument("--no-passive", dest="passive", action="store_false",
                    help="skip the extra rows run with OMP_WAIT_POLICY=PASSIVE")
    ap.add_argument("--extra-rounds", type=int, default=4, metavar="N",
                    help="after the rounds, up to N more rounds of the reference and the resnet50 bf16 rows while "
                         "one of them has no quiet run (only with --wait-quiet > 0; default 4)")
    ap.add_argument("--render", type=Path, metavar="JSON",
                    help="re-derive and print (and with --out, write) the report of an earlier run's extract.json")
    ap.add_argument("--no-write", action="store_true", help="print only")
    ap.add_argument("--note", action="append", default=[], help="a line for the Notes section (repeatable)")
    args = ap.parse_args(argv)
    args.rounds = args.rounds or (1 if args.quick else 3)
    if args.wait_quiet is None:
        args.wait_quiet = 0.0 if args.quick else 30.0
    args.threads = args.threads or (len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count())
    args.bf16_batches = args.bf16_batches or ([16] if args.quick else [8, 16, 32])
    args.lite = args.lite if args.lite is not None else (["lite0"] if args.quick else ["lite0", "lite1", "lite2"])

    if args.render:
        report = json.loads(args.render.read_text())
        report["notes"] = list(report.get("notes", [])) + list(args.note)
        if "extract" in report:
            derive_extract(report["extract"])
        for key, counts in (("decode", ("frames", "video_s")), ("similarity", ("pairs",)), ("e2e", ("frames", "video_s"))):
            for res in report.get(key, {}).get("results", {}).values():
                for count in counts:
                    res[f"{count}_per_s"] = rate_stats(res["runs"], count)
        md = render_markdown(report)
        print(md)
        if args.out and not args.no_write:
            write_atomic(args.out / "extract.json", json.dumps(report, indent=1) + "\n")
            write_atomic(args.out / "extract.md", md + "\n")
        return 0

    import numpy as np

    from vidsim.bench.corpus import fetch_corpus
    from vidsim.config import DecodeConfig
    from vidsim.decode import load_video, probe

    corpus_names = ["franck"]
    if "agreement" in args.sections:
        corpus_names += ["cap12", "cap13", *WHITEN_FIT_CLIPS]
    corpus = {k: str(v) for k, v in fetch_corpus(only=corpus_names).items()}
    clip = str(args.clip) if args.clip else corpus["franck"]
    info = probe(clip)
    command = " ".join(["python", os.path.relpath(ENTRY, Path.cwd())] + [shlex.quote(a) for a in argv])
    report = {
        "date": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "command": command,
        "machine": machine_info(args.threads),
        "clip": {"name": Path(clip).name, "path": clip, "duration_s": info.duration, "width": info.width,
                 "height": info.height, "fps": info.fps, "codec": info.codec,
                 "keyframe_interval_s": info.keyframe_interval},
        "rounds": args.rounds,
        "wait_quiet_s": args.wait_quiet,
        "quick": args.quick,
        "cpu_by_group": {},
    }
    if info.duration < 200 and not args.quick:
        print(f"warning: {clip} lasts {info.duration:.1f} s; the benchmark asks for at least 200 s", file=sys.stderr)
    t_start = time.perf_counter()
    bf16_batch = 16
    with tempfile.TemporaryDirectory(prefix="vidsim-bench-") as tmp:
        if "decode" in args.sections:
            report["decode"] = section_decode(clip, args)
            report["cpu_by_group"]["decoding"] = report["decode"]["cpu"]
        if "extract" in args.sections:
            frames = load_video(clip, DecodeConfig())
            n = args.frames or (32 if args.quick else len(frames))
            frames_path = os.path.join(tmp, "frames.npy")
            np.save(frames_path, np.ascontiguousarray(frames[:n]))
            del frames
            report["extract"] = section_extract(frames_path, n, args)
            for gname, group in report["extract"]["groups"].items():
                report["cpu_by_group"][f"extraction {gname}"] = group["cpu"]
            bf16_batch = report["extract"]["headline"]["best_bf16_batch_size"]
        if "agreement" in args.sections:
            paths = {"franck": clip if not args.clip else corpus["franck"], "cap12": corpus["cap12"],
                     "cap13": corpus["cap13"]}
            fit_paths = {k: corpus[k] for k in WHITEN_FIT_CLIPS}
            report["agreement"] = section_agreement(paths, fit_paths, args, bf16_batch)
            report["cpu_by_group"]["agreement"] = report["agreement"]["cpu"]
        if "similarity" in args.sections:
            report["similarity"] = section_similarity(args)
            report["cpu_by_group"]["similarity"] = report["similarity"]["cpu"]
        if "e2e" in args.sections:
            report["e2e"] = section_e2e(clip, args, bf16_batch)
            report["cpu_by_group"]["end to end"] = report["e2e"]["cpu"]
    report["total_s"] = round(time.perf_counter() - t_start, 1)
    report["notes"] = list(args.note)

    md = render_markdown(report)
    print(md)
    out = args.out if args.out else (None if args.quick else RESULTS)
    if out and not args.no_write:
        out.mkdir(parents=True, exist_ok=True)
        write_atomic(out / "extract.json", json.dumps(report, indent=1, sort_keys=False, default=float) + "\n")
        write_atomic(out / "extract.md", md + "\n")
        print(f"\nwrote {out / 'extract.md'} and {out / 'extract.json'}", file=sys.stderr)
    if "extract" in report and not report["extract"]["headline"]["meets_required"]:
        print(f"note: ratio below {REQUIRED_RATIO:.0f}x", file=sys.stderr)
    return 0
