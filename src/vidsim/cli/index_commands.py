"""`vidsim index add|remove|list|stats|check|repair` and `vidsim search` (registered by vidsim.cli.main)."""
from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, get_args

from vidsim.cli.engine_options import engine_options, opened_engine
from vidsim.config import CodesKind, MilvusIndexKind, VectorKind
from vidsim.errors import VideoError, VidsimError
from vidsim.units import format_bytes, format_mmss

if TYPE_CHECKING:
    from vidsim.index import Index

EXIT_OK, EXIT_ERROR, EXIT_PARTIAL = 0, 1, 2


# index option (argparse dest) -> the field of the index's config.json it sets
INDEX_FIELDS = {"codes": "index.codes", "code_dims": "index.code_dims", "code_bits": "index.code_bits",
                "vectors": "index.vectors", "milvus_uri": "index.milvus_uri", "milvus_collection": "index.milvus_collection",
                "milvus_index": "index.milvus_index"}
ModelOverrides = Callable[[argparse.Namespace], "dict[str, Any]"]


def register(sub: Any, model_options: Callable[[argparse.ArgumentParser], None],
             model_overrides: ModelOverrides) -> None:
    """Add the index and search sub-commands to the `vidsim` parser; `model_overrides(args)` gives
    the VidsimConfig fields a command line sets (see vidsim.cli.main)."""

    def with_model_options(parser: argparse.ArgumentParser) -> None:
        model_options(parser)
        parser.set_defaults(_model_overrides=model_overrides)

    index = sub.add_parser("index", help="build and manage a searchable index of videos (a directory)")
    isub = index.add_subparsers(dest="index_command", required=True)

    p = isub.add_parser("add", help="add videos (directories searched recursively; indexed content is skipped)")
    p.add_argument("paths", nargs="+")
    _index_option(p)
    group = p.add_argument_group("index storage (fixed when the index is created)")
    group.add_argument("--codes", choices=get_args(CodesKind),
                       help="region features kept for re-ranking (default: int8, about 2.3 KB per frame, scores as "
                            "comparing every pair does; binary: 512 sign bits of a seeded random orthogonal projection "
                            "per region, 576 bytes per frame, loses short, small, heavily compressed queries)")
    group.add_argument("--code-dims", type=int, help="keep this many leading whitened dims in the codes (default: all)")
    group.add_argument("--code-bits", type=int, help="binary codes: sign bits per region (default: 512)")
    group.add_argument("--vectors", choices=get_args(VectorKind),
                       help="frame-vector search: flat (exact), ivf, hnsw, or auto (flat, then ivf past 100k frames), all "
                            "FAISS in-process; milvus: a Milvus collection (needs the milvus extra)")
    group.add_argument("--milvus-uri", metavar="URI",
                       help="--vectors milvus: a milvus-lite file (default: DIR/vectors.milvus.db) or a Milvus server, "
                            "http://host:19530 (a token, if it needs one, from the MILVUS_TOKEN environment variable)")
    group.add_argument("--milvus-collection", metavar="NAME",
                       help="--vectors milvus: the collection (default: vidsim_<index directory name>_<random suffix>)")
    group.add_argument("--milvus-index", choices=get_args(MilvusIndexKind),
                       help="--vectors milvus: the collection's index (default: hnsw)")
    with_model_options(p)
    engine_options(p)
    p.set_defaults(func=cmd_index_add)

    p = isub.add_parser("remove", help="remove videos by id (see `vidsim index list`)")
    p.add_argument("ids", nargs="+", type=int)
    _index_option(p)
    p.set_defaults(func=cmd_index_remove)

    p = isub.add_parser("list", help="list the indexed videos")
    _index_option(p)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cmd_index_list)

    p = isub.add_parser("stats", help="videos, hours, frames and bytes on disk by component")
    _index_option(p)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cmd_index_stats)

    p = isub.add_parser("check", help="check every file of the index (catalog, codes files, vector snapshot); "
                                      "prints one line per problem, nothing when all is well")
    _index_option(p)
    p.add_argument("--json", action="store_true", help='print one JSON object {"ok": ..., "problems": [...]}')
    p.set_defaults(func=cmd_index_check)

    p = isub.add_parser("repair", help="rebuild the catalog and the vector store from the codes files; damaged "
                                       "files are moved to DIR/damaged/")
    _index_option(p)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cmd_index_repair)

    p = sub.add_parser("search", help="find indexed videos that share content with a query (or a folder of queries)")
    p.add_argument("query", help="a video, a .safetensors feature file, or a directory of queries (batch)")
    _index_option(p)
    p.add_argument("--top", type=int, default=10, help="results per query (default: %(default)s)")
    p.add_argument("--min-similarity", type=float, help="leave out results below this similarity")
    p.add_argument("--threshold", type=float,
                   help="similarity at or above which a result is a copy (is_copy); default: the threshold shipped for "
                        "the index's backbone, head and codes, chosen on the benchmark for precision 0.95 (none ships "
                        "for other configurations: is_copy is then null)")
    p.add_argument("--json", action="store_true", help="print one JSON object (one query)")
    p.add_argument("--out", help="write VSC22-style CSV rows query_id,ref_id,query_start,query_end,ref_start,"
                                 "ref_end,score,is_copy (the default for a directory of queries: stdout)")
    p.add_argument("--candidates", type=int,
                   help="videos re-ranked with the fine similarity (default: 20, SearchConfig.candidates; at least --top)")
    p.add_argument("--whole-videos", action="store_true",
                   help="re-rank whole candidate videos, not a window around the offset the votes found")
    with_model_options(p)
    p.set_defaults(func=cmd_search)


def _index_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--index", required=True, metavar="DIR", help="index directory")


# --- opening the index with the command line's options --------------------------------------------
def _open(args: argparse.Namespace, create: bool, with_model: bool = True) -> Index:
    """The index of --index, with the options given on the command line (the rest: the index's own)."""
    from vidsim.index import Index

    directory = Path(args.index)
    if not create and not Index.exists(directory):
        raise VidsimError(f"{directory}: no vidsim index here (create one with `vidsim index add VIDEOS --index {directory}`)")
    cache = None
    if with_model:
        from vidsim.store import FeatureCache

        cache = None if args.no_cache else FeatureCache(args.cache_dir)
    return Index.open(directory, create=create, overrides=_overrides(args, with_model), cache=cache,
                      device=getattr(args, "device", "cpu"))


def _overrides(args: argparse.Namespace, with_model: bool) -> dict[str, Any]:
    """The index and model fields the command line sets, named as in the index's config.json."""
    overrides: dict[str, Any] = {name: getattr(args, dest) for dest, name in INDEX_FIELDS.items()
                                 if getattr(args, dest, None) is not None}
    if any(name.startswith("index.milvus_") for name in overrides):
        overrides.setdefault("index.vectors", "milvus")  # --milvus-uri alone means --vectors milvus
    if getattr(args, "candidates", None):
        overrides["index.search.candidates"] = args.candidates
    if getattr(args, "whole_videos", False):
        overrides["index.search.window_speed"] = None
    if with_model:
        overrides.update({f"vidsim.{name}": value for name, value in args._model_overrides(args).items()})
    return overrides


# --- index commands ----------------------------------------------------------------------------
def cmd_index_add(args: argparse.Namespace) -> int:
    from vidsim.cli.progress import item_bar

    index = _open(args, create=True)
    with index, opened_engine(args, index.model_config, index.cache) as engine:
        bar = item_bar(None, "indexing", "video", enabled=not args.quiet)
        started = time.monotonic()

        def progress(p) -> None:
            bar.total = p.videos_total
            if p.event in ("added", "repaired", "skipped", "failed"):
                bar.update(p.videos_done - bar.n)
            if p.event == "failed":
                bar.write(f"error: {p.path}: {p.message}", file=sys.stderr)  # also when the bar is off (-q)
            elapsed = max(time.monotonic() - started, 1e-9)
            bar.set_postfix_str(f"{p.seconds / 3600:.2f} h, {p.frames} frames, {p.frames / elapsed:.1f} frames/s",
                                refresh=p.event == "frames")

        try:
            report = index.add(args.paths, progress=progress, engine=engine)
        finally:
            bar.close()
        repaired = f"rewrote {len(report.repaired)} missing or damaged codes files, " if report.repaired else ""
        print(f"added {len(report.added)} videos ({report.seconds / 3600:.2f} h, {report.frames} frames), {repaired}"
              f"skipped {len(report.skipped)} already indexed, {len(report.failed)} failed; index {args.index}: "
              f"{len(index)} videos")
    return EXIT_PARTIAL if report.failed else EXIT_OK


def cmd_index_remove(args: argparse.Namespace) -> int:
    index = _open(args, create=False, with_model=False)
    with index:
        removed = index.remove(args.ids)
    for record in removed:
        print(f"removed {record.id} {record.path}")
    return EXIT_OK


def cmd_index_list(args: argparse.Namespace) -> int:
    index = _open(args, create=False, with_model=False)
    with index:
        records = index.list()
    if args.json:
        from vidsim.index.as_json import video_json

        print(json.dumps({"index": args.index, "videos": [video_json(r) for r in records]}))
        return EXIT_OK
    print(f"{'id':>6}  {'duration':>8}  {'frames':>7}  path")
    for r in records:
        print(f"{r.id:>6}  {format_mmss(r.duration):>8}  {r.frames:>7}  {r.path}")
    return EXIT_OK


def cmd_index_stats(args: argparse.Namespace) -> int:
    index = _open(args, create=False, with_model=False)
    with index:
        stats = index.stats()
        stored = index.stored
    if args.json:
        from vidsim.index.as_json import stats_json

        print(json.dumps(stats_json(args.index, stats, stored.feature_key)))
        return EXIT_OK
    print(f"index      {args.index}")
    print(f"videos     {stats.videos}")
    print(f"hours      {stats.hours:.3f}")
    print(f"frames     {stats.frames}")
    print(f"features   {stored.vidsim.features.backbone}, {stored.dims} dims, {stored.vidsim.decode.fps:g} fps "
          f"(key {stored.feature_key})")
    print(f"codes      {stats.codes}")
    print(f"vectors    {stats.vectors} ({stats.vector_store})")
    print("bytes on disk")
    for name, size in stats.bytes.items():
        per_hour = ""
        if stats.hours > 0 and name in ("codes", "vectors"):
            per_hour = f"  ({format_bytes(size / stats.hours)}/hour of video)"
        print(f"  {name:<8} {format_bytes(size):>10}{per_hour}")
    print(f"  {'total':<8} {format_bytes(stats.total_bytes):>10}")
    return EXIT_OK


def cmd_index_check(args: argparse.Namespace) -> int:
    from vidsim.index.check import INFO, check_index

    directory = Path(args.index)
    if not directory.is_dir():
        raise VidsimError(f"{directory}: no such directory")
    report = check_index(directory)
    if args.json:
        print(json.dumps({"index": args.index, **report.to_dict()}))
    else:
        for problem in report.problems:
            print(f"{'info: ' if problem.level == INFO else ''}{problem.file}: {problem.problem}")
    if report.ok:
        return EXIT_OK
    print(f"error: {len(report.errors)} problems in index {directory}", file=sys.stderr)
    return EXIT_ERROR


def cmd_index_repair(args: argparse.Namespace) -> int:
    from vidsim.index.repair import repair_index

    directory = Path(args.index)
    if not directory.is_dir():
        raise VidsimError(f"{directory}: no such directory")
    report = repair_index(directory)
    if args.json:
        print(json.dumps({"index": args.index, "recovered": len(report.recovered),
                          "not_recovered": [{"file": f, "problem": why} for f, why in report.lost],
                          "estimated": [{"file": f, "fields": fields} for f, fields in report.estimated],
                          "moved": [{"from": a, "to": b} for a, b in report.moved]}))
    else:
        for what, why in report.lost:
            print(f"not recovered: {what}: {why}")
        for file, fields in report.estimated:
            print(f"estimated: {file}: {fields} (not in the codes file, which an older vidsim wrote)")
        print(f"repaired index {directory}: {len(report.recovered)} videos recovered, {len(report.lost)} not "
              "recovered; catalog and vector store rebuilt")
    return EXIT_PARTIAL if report.lost else EXIT_OK


# --- search ----------------------------------------------------------------------------------
def cmd_search(args: argparse.Namespace) -> int:
    from vidsim.decode import find_videos

    query = Path(args.query)
    batch = query.is_dir()
    if batch and args.json:
        raise VidsimError("--json prints one query's results; for a directory of queries use --out (CSV)")
    index = _open(args, create=False)
    with index:
        if not batch and args.out is None:
            matches = _search_one(index, args, query)
            _print_matches(args, query, matches)
            return EXIT_OK
        queries = find_videos([query]) if batch else [query]
        if batch:
            from vidsim.store import FEATURE_SUFFIX

            queries += sorted(p for p in query.rglob(f"*{FEATURE_SUFFIX}") if not p.name.startswith("."))
        if not queries:
            raise VidsimError(f"no video files found in {query}")
        return _search_batch(index, args, queries)


def _search_one(index, args, path: Path):
    from vidsim.cli.progress import frame_bar
    from vidsim.store import FEATURE_SUFFIX

    total = None
    if not args.quiet and path.suffix != FEATURE_SUFFIX:
        from vidsim.decode import probe

        total = probe(path).duration
    with frame_bar(path.name, total, enabled=not args.quiet) as update:
        return index.search(path, top_k=args.top, min_similarity=args.min_similarity, progress=update,
                            threshold=args.threshold)


def _print_matches(args, query: Path, matches) -> None:
    """The results of one query (its warnings, each a video left out, went to stderr as they came)."""
    if args.json:
        from vidsim.index.as_json import search_json

        print(json.dumps(search_json(str(query), matches)))
        return
    print(f"query {query}: {len(matches)} results; {matches.decision.describe()}")
    if not matches:
        return
    print(f"{'rank':>4}  {'id':>6}  {'similarity':>10}  {'copy':>4}  path")
    for rank, m in enumerate(matches, 1):
        print(f"{rank:>4}  {m.video_id:>6}  {m.similarity:>10.4f}  {copy_text(m.is_copy):>4}  {m.path}")
        for s in m.segments:
            print(f"{'':>30}query {format_mmss(s.query_start)}-{format_mmss(s.query_end)}  ->  "
                  f"ref {format_mmss(s.ref_start)}-{format_mmss(s.ref_end)}  ({s.score:.3f})")


def copy_text(is_copy: bool | None) -> str:
    """A copy decision for tables: yes, no, or ? when no threshold applies."""
    return "?" if is_copy is None else "yes" if is_copy else "no"


def _search_batch(index, args, queries: list[Path]) -> int:
    from vidsim.cli.progress import item_bar

    out = open(args.out, "w", newline="") if args.out else sys.stdout
    failed = 0
    try:
        writer = csv.writer(out)
        writer.writerow(["query_id", "ref_id", "query_start", "query_end", "ref_start", "ref_end", "score", "is_copy"])
        decision = index.decision(args.threshold)
        if decision.threshold is None:
            print(f"note: {decision.note}", file=sys.stderr)
        for path in item_bar(queries, "queries", "query", enabled=not args.quiet and len(queries) > 1):
            try:
                features = index.features_of(path)
                matches = index.search(features, top_k=args.top, min_similarity=args.min_similarity,
                                       threshold=args.threshold, mirror=index.mirror_of(path))
            except VideoError as exc:
                failed += 1
                print(f"error: {exc}", file=sys.stderr)
                continue
            query_end = float(features.timestamps[-1]) + 1.0 / index.stored.vidsim.decode.fps if features.num_frames else 0.0
            for m in matches:
                record = index.get(m.video_id)
                ref_id = record.name if record else Path(m.path).stem
                # a match without localised segments is written as one row spanning both videos
                rows = [(s.query_start, s.query_end, s.ref_start, s.ref_end, s.score) for s in m.segments] or [
                    (0.0, query_end, 0.0, record.duration if record else 0.0, m.similarity)]
                is_copy = "" if m.is_copy is None else str(m.is_copy).lower()  # the match's decision, on each of its rows
                for row in rows:
                    writer.writerow([path.stem, ref_id, *(f"{v:.3f}" for v in row[:4]), f"{row[4]:.6f}", is_copy])
    finally:
        if args.out:
            out.close()
    if args.out:
        print(f"wrote matches of {len(queries) - failed} queries to {args.out}", file=sys.stderr)
    return EXIT_PARTIAL if failed else EXIT_OK
