"""`vidsim report QUERY... --index DIR --out report.html` (registered by vidsim.cli.main)."""
from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from vidsim.cli.index_commands import EXIT_OK, ModelOverrides, _index_option, _open, copy_text
from vidsim.errors import VidsimError


def register(sub: Any, model_options: Callable[[argparse.ArgumentParser], None],
             model_overrides: ModelOverrides) -> None:
    """Add the report sub-command to the `vidsim` parser."""
    p = sub.add_parser("report", help="search the index and write an HTML page to look at the matches: aligned "
                                      "thumbnails of the copied segments, timelines, f2f heatmaps, decisions")
    p.add_argument("queries", nargs="+", metavar="QUERY", help="query video(s) (or .safetensors feature files)")
    _index_option(p)
    p.add_argument("--out", default="report.html", help="the HTML file to write (default: %(default)s)")
    p.add_argument("--top", type=int, default=5, help="matches listed per query (default: %(default)s)")
    p.add_argument("--details", type=int, default=3,
                   help="best matches shown in detail, with thumbnails and heatmap (default: %(default)s)")
    p.add_argument("--thumbs", type=int, default=6, help="thumbnail pairs per copied segment (default: %(default)s)")
    p.add_argument("--threshold", type=float,
                   help="similarity at or above which a match is a copy (default: the shipped threshold, as for search)")
    p.add_argument("--title", default="vidsim match report", help="the page's title")
    p.add_argument("--candidates", type=int, help="videos re-ranked with the fine similarity (as for search)")
    p.add_argument("--whole-videos", action="store_true", help="re-rank whole candidate videos (as for search)")
    model_options(p)
    p.set_defaults(func=cmd_report, _model_overrides=model_overrides)


def cmd_report(args: argparse.Namespace) -> int:
    from vidsim.cli.progress import frame_bar
    from vidsim.report import collect_report, write_report
    from vidsim.store import FEATURE_SUFFIX

    for name, value in (("--top", args.top), ("--details", args.details), ("--thumbs", args.thumbs)):
        if value < (0 if name == "--details" else 1):
            raise VidsimError(f"{name} must be {'>= 0' if name == '--details' else 'positive'}, got {value}")
    index = _open(args, create=False)
    reports = []
    with index:
        for query in map(Path, args.queries):
            total = None
            if not args.quiet and query.suffix != FEATURE_SUFFIX:
                from vidsim.decode import probe

                total = probe(query).duration
            with frame_bar(query.name, total, enabled=not args.quiet) as update:
                report = collect_report(index, query, top_k=args.top, details=args.details, threshold=args.threshold,
                                        candidates=args.candidates, thumbs=args.thumbs, progress=update)
            reports.append(report)
            best = report.matches[0] if report.matches else None
            summary = (f"best {Path(best.path).name} {best.similarity:.4f} (copy: {copy_text(best.is_copy)})"
                       if best else "no match")
            print(f"{query}: {len(report.matches)} matches, {summary}")
    path = write_report(args.out, reports, title=args.title)
    print(f"wrote the report of {len(reports)} quer{'y' if len(reports) == 1 else 'ies'} to {path}")
    return EXIT_OK
