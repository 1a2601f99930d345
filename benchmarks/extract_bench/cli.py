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
from .common import ENTRY, RESULTS, rate_stats
from .report import machine_info, render_markdown, write_atomic
from .worker import worker_main

SECTIONS = ("e2e", "hires", "resnet", "rss", "similarity")
DEFAULT_SECTIONS = ("e2e", "hires", "resnet", "rss")
LONG = {"30 min": 1800.0, "2 h": 7200.0}
LONG_QUICK = {"10 min": 600.0}


def _sections(text: str) -> list[str]:
    names = [s.strip() for s in text.split(",") if s.strip()]
    bad = [s for s in names if s not in SECTIONS]
    if bad:
        raise argparse.ArgumentTypeError(f"unknown section {bad[0]!r}; known: {', '.join(SECTIONS)}")
    return names


def parse_args(argv: list[str]) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=PACKAGE_DOC.strip().splitlines()[0])
    ap.add_argument("--only", type=_sections, default=list(DEFAULT_SECTIONS), metavar="S,S",
                    help=f"sections to run, comma-separated, of {', '.join(SECTIONS)} (default {','.join(DEFAULT_SECTIONS)})")
    ap.add_argument("--quick", action="store_true",
                    help="smoke run: one round, no waiting for quiet, 32 resnet50 frames, a 10-min long video; prints only")
    ap.add_argument("--rounds", type=int, help="timed rounds per row (default 3; 1 with --quick)")
    ap.add_argument("--threads", type=int, default=None, help="torch threads per worker (default: usable cores)")
    ap.add_argument("--rows", type=lambda s: [x.strip() for x in s.split(",") if x.strip()], default=None, metavar="N,N",
                    help="run only these rows of the table (the old default and the default are always run); see --list-rows")
    ap.add_argument("--row", action="append", default=[], metavar="NAME:FIELD=VALUE,...[@SECTION+SECTION]",
                    help="an extra row for this run, e.g. 'decode 1 thread:decode.threads=1@e2e+hires' (repeatable)")
    ap.add_argument("--runtimes", type=lambda s: [x.strip() for x in s.split(",") if x.strip()], default=None, metavar="R,R",
                    help="runtimes to give rows of their own (default: every installed one)")
    ap.add_argument("--list-rows", action="store_true", help="print the rows and their overrides, then exit")
    ap.add_argument("--clip", type=Path, help="the 360p clip of the e2e section (default: the corpus clip 'franck', 200 s)")
    ap.add_argument("--resnet-frames", type=int, help="pre-decoded frames for the resnet50 timing (default all 200; 32 with --quick)")
    ap.add_argument("--cache-dir", type=Path, help="where the made clips live (default: <user cache>/vidsim/extract-bench)")
    ap.add_argument("--ffmpeg", help="the ffmpeg that makes the clips (default: the one on PATH, or /usr/bin/ffmpeg)")
    ap.add_argument("--wait-quiet", type=float, default=None, metavar="S",
                    help="before each timed run, wait up to S seconds until other processes use under 15%% "
                         "of the CPU (default 30; 0 with --quick)")
    ap.add_argument("--extra-rounds", type=int, default=2, metavar="N",
                    help="after the rounds, up to N more rounds of a table's headline rows while one has no quiet run "
                         "(only with --wait-quiet > 0; default 2)")
    ap.add_argument("--out", type=Path, help=f"where to write extract.md/.json (default {RESULTS} for a full run; "
                                             "a --quick run writes only where --out says)")
    ap.add_argument("--render", type=Path, metavar="JSON",
                    help="re-derive and print (and with --out, write) the report of an earlier run's extract.json")
    ap.add_argument("--no-write", action="store_true", help="print only")
    ap.add_argument("--note", action="append", default=[], help="a line for the Notes section (repeatable)")
    args = ap.parse_args(argv)
    args.rounds = args.rounds or (1 if args.quick else 3)
    if args.wait_quiet is None:
        args.wait_quiet = 0.0 if args.quick else 30.0
    args.threads = args.threads or (len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count())
    return args


def _extra_rows(args) -> dict:
    from .rows import parse_row

    return dict(parse_row(text) for text in args.row)


def list_rows(args) -> int:
    from .rows import RESNET_BASE, ROWS, runtime_rows

    rows = {**ROWS, **runtime_rows(args.runtimes), **_extra_rows(args)}
    print(f"resnet rows apply over {RESNET_BASE}")
    for name, row in rows.items():
        extra = (f" threads={row.threads}" if row.threads else "") + (f" env={dict(row.env)}" if row.env else "")
        print(f"{name:32s} {','.join(row.sections):22s} {dict(row.overrides)}{extra}  {row.note}")
    return 0


def rederive(report: dict) -> dict:
    """Rates, ratios and headlines again from the raw runs of an extract.json."""
    from .end_to_end import derive_e2e, derive_hires
    from .memory import derive_rss
    from .resnet import derive_resnet

    for key, derive in (("e2e", derive_e2e), ("hires", derive_hires), ("resnet", derive_resnet), ("rss", derive_rss)):
        if key in report:
            derive(report[key])
    for res in report.get("similarity", {}).get("results", {}).values():
        res["pairs_per_s"] = rate_stats(res["runs"], "pairs")
    return report


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--worker"]:
        return worker_main(argv[1])
    args = parse_args(argv)
    try:
        extra_rows = _extra_rows(args)
    except ValueError as exc:  # ConfigError is one
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.list_rows:
        return list_rows(args)
    if args.render:
        report = rederive(json.loads(args.render.read_text()))
        report["notes"] = list(report.get("notes", [])) + list(args.note)
        md = render_markdown(report)
        print(md)
        if args.out and not args.no_write:
            write_atomic(args.out / "extract.json", json.dumps(report, indent=1) + "\n")
            write_atomic(args.out / "extract.md", md + "\n")
        return 0

    import numpy as np

    from vidsim.bench.corpus import fetch_corpus
    from vidsim.config import DecodeConfig
    from vidsim.decode import load_video

    from .media import HIRES, clip_info, default_cache_dir, find_ffmpeg, make_hires, make_loop
    from .resnet import SCORED_CLIPS, WHITEN_FIT_CLIPS
    from .rows import select_rows
    from .search_summary import summarise

    names = {"franck"}
    if "hires" in args.only:
        names |= {source for source, _ in HIRES.values()}
    if "resnet" in args.only:
        names |= {*SCORED_CLIPS, *WHITEN_FIT_CLIPS}
    corpus = {k: str(v) for k, v in fetch_corpus(only=sorted(names)).items()}
    clip = str(args.clip) if args.clip else corpus["franck"]
    cache = args.cache_dir or default_cache_dir()
    command = " ".join(["python", os.path.relpath(ENTRY, Path.cwd())] + [shlex.quote(a) for a in argv])
    report: dict = {
        "date": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "command": command,
        "machine": machine_info(args.threads),
        "clip": clip_info(clip),
        "rounds": args.rounds,
        "wait_quiet_s": args.wait_quiet,
        "quick": args.quick,
        "sections": args.only,
        "cpu_by_group": {},
        "made_clips": {},
    }
    if report["clip"]["duration_s"] < 200 and not args.quick:
        print(f"warning: {clip} lasts {report['clip']['duration_s']:.1f} s; the benchmark asks for 200 s", file=sys.stderr)

    def rows(section):
        return select_rows(section, args.runtimes, args.rows, extra_rows)

    t_start = time.perf_counter()
    if "hires" in args.only or "rss" in args.only:
        ffmpeg = find_ffmpeg(args.ffmpeg)
    if "e2e" in args.only:
        from .end_to_end import section_e2e

        report["e2e"] = section_e2e(clip, rows("e2e"), args)
        report["cpu_by_group"]["end to end, 360p"] = report["e2e"]["cpu"]
    if "hires" in args.only:
        from .end_to_end import section_hires

        clips = {}
        for label in HIRES:
            clips[label], rec = make_hires(label, corpus, cache, ffmpeg)
            report["made_clips"][label] = {**rec, **clip_info(clips[label])}
        report["hires"] = section_hires(clips, rows("hires"), args)
        report["cpu_by_group"]["end to end, 720p/1080p"] = report["hires"]["cpu"]
    if "resnet" in args.only:
        from .resnet import section_resnet

        with tempfile.TemporaryDirectory(prefix="vidsim-bench-") as tmp:
            frames = load_video(corpus["franck"], DecodeConfig())
            n = args.resnet_frames or (32 if args.quick else len(frames))
            frames_path = os.path.join(tmp, "frames.npy")
            np.save(frames_path, np.ascontiguousarray(frames[:n]))
            del frames
            report["resnet"] = section_resnet(frames_path, n, corpus, rows("resnet"), args)
        report["cpu_by_group"]["resnet50"] = report["resnet"]["timing"]["cpu"]
        report["cpu_by_group"]["resnet50 agreement"] = report["resnet"]["agreement_cpu"]
    if "rss" in args.only:
        from .memory import section_rss

        long_clips = {"200 s": corpus["franck"]}
        for label, seconds in (LONG_QUICK if args.quick else LONG).items():
            long_clips[label], rec = make_loop(seconds, corpus, cache, ffmpeg)
            report["made_clips"][label] = {**rec, **clip_info(long_clips[label])}
        report["rss"] = section_rss(long_clips, corpus["franck"], rows("rss"), args)
        report["cpu_by_group"]["peak RSS"] = report["rss"]["cpu"]
    if "similarity" in args.only:
        from .similarity import section_similarity

        report["similarity"] = section_similarity(args)
        report["cpu_by_group"]["similarity"] = report["similarity"]["cpu"]
    report["search"] = summarise()
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
    return 0
