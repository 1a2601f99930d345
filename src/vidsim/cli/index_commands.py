"""`vidsim index add|remove|list|stats` and `vidsim search` (registered by vidsim.cli.main)."""
from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import sys
import time
from pathlib import Path

from vidsim.errors import VidsimError, VideoError

EXIT_OK, EXIT_ERROR, EXIT_PARTIAL = 0, 1, 2


# Model options left out on the command line keep their default wrapped in one of these types
# (printed the same in --help), so that the index's own configuration can take their place.
class _DefaultStr(str):
    pass


class _DefaultFloat(float):
    pass


class _DefaultInt(int):
    pass


_MARKED = (_DefaultStr, _DefaultFloat, _DefaultInt)


def _mark(value):
    if isinstance(value, bool) or value is None:
        return value  # None and False (store_true) already mean "not given"
    for kind in _MARKED:
        if isinstance(value, kind.__mro__[1]):
            return kind(value)
    return value


def _given(args: argparse.Namespace, name: str) -> bool:
    value = getattr(args, name, None)
    return not (value is None or value is False or isinstance(value, _MARKED))

# model option -> (VidsimConfig section, field): what an existing index's config.json supplies
# for the options a command line leaves out.
_CONFIG_OPTIONS = {
    "fps": ("decode", "fps"),
    "backbone": ("features", "backbone"),
    "weights": ("features", "weights"),
    "whitening": ("features", "whitening"),
    "dims": ("features", "dims"),
    "precision": ("features", "precision"),
    "batch_size": ("features", "batch_size"),
    "head_weights": ("similarity", "head_weights"),
    "symmetric": ("similarity", "symmetric"),
}
_INDEX_OPTIONS = {"codes": "codes", "code_dims": "code_dims", "code_bits": "code_bits", "vectors": "vectors"}


def register(sub, model_options, make_config) -> None:
    """Add the index and search sub-commands to the `vidsim` parser."""
    probe = argparse.ArgumentParser(add_help=False)
    model_options(probe)
    defaults = vars(probe.parse_args([]))  # the model options' own defaults

    def with_model_options(parser: argparse.ArgumentParser) -> None:
        model_options(parser)
        parser.set_defaults(**{name: _mark(defaults[name]) for name in _CONFIG_OPTIONS if name in defaults})
        parser.set_defaults(_model_defaults=defaults, _make_config=make_config)

    index = sub.add_parser("index", help="build and manage a searchable index of videos (a directory)")
    isub = index.add_subparsers(dest="index_command", required=True)

    p = isub.add_parser("add", help="add videos (directories searched recursively; indexed content is skipped)")
    p.add_argument("paths", nargs="+")
    _index_option(p)
    group = p.add_argument_group("index storage (fixed when the index is created)")
    group.add_argument("--codes", choices=["float32", "float16", "int8", "int4", "binary"],
                       help="region features kept for re-ranking (default: binary, 512 sign bits of a seeded "
                            "random orthogonal projection per region: 576 bytes per frame)")
    group.add_argument("--code-dims", type=int, help="keep this many leading whitened dims in the codes (default: all)")
    group.add_argument("--code-bits", type=int, help="binary codes: sign bits per region (default: 512)")
    group.add_argument("--vectors", choices=["auto", "flat", "ivf", "hnsw"],
                       help="frame-vector search: flat (exact), ivf, hnsw, or auto (flat, then ivf past 100k frames)")
    with_model_options(p)
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

    p = sub.add_parser("search", help="find indexed videos that share content with a query (or a folder of queries)")
    p.add_argument("query", help="a video, a .safetensors feature file, or a directory of queries (batch)")
    _index_option(p)
    p.add_argument("--top", type=int, default=10, help="results per query (default: %(default)s)")
    p.add_argument("--min-similarity", type=float, help="leave out results below this similarity")
    p.add_argument("--json", action="store_true", help="print one JSON object (one query)")
    p.add_argument("--out", help="write VSC22-style CSV rows query_id,ref_id,query_start,query_end,ref_start,"
                                 "ref_end,score (the default for a directory of queries: stdout)")
    p.add_argument("--candidates", type=int,
                   help="videos re-ranked with the fine similarity (default: 20, SearchConfig.candidates; at least --top)")
    p.add_argument("--whole-videos", action="store_true",
                   help="re-rank whole candidate videos, not a window around the offset the votes found")
    with_model_options(p)
    p.set_defaults(func=cmd_search)


def _index_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--index", required=True, metavar="DIR", help="index directory")


# --- opening the index with the command line's options --------------------------------------------
def _open(args: argparse.Namespace, create: bool, with_model: bool = True):
    from vidsim.index import Index, IndexConfig
    from vidsim.index.index import CONFIG_FILE
    from vidsim.index.config import StoredConfig

    directory = Path(args.index)
    if not create and not (directory / CONFIG_FILE).is_file():
        raise VidsimError(f"{directory}: no vidsim index here (create one with `vidsim index add VIDEOS --index {directory}`)")
    stored = StoredConfig.read(directory / CONFIG_FILE) if (directory / CONFIG_FILE).is_file() else None
    model = cache = None
    device = getattr(args, "device", "cpu")
    if with_model:
        from vidsim.store import FeatureCache

        cache = None if args.no_cache else FeatureCache(args.cache_dir)
        model = _model_config(args, stored)
    config = None
    given = {field: getattr(args, dest) for dest, field in _INDEX_OPTIONS.items() if getattr(args, dest, None) is not None}
    search = {}
    if getattr(args, "candidates", None):
        search["candidates"] = args.candidates
    if getattr(args, "whole_videos", False):
        search["window_speed"] = None
    if given or search or stored is None:
        base = stored.index if stored is not None else IndexConfig()
        config = dataclasses.replace(base, **given, search=dataclasses.replace(base.search, **search))
    return Index.open(directory, config, create=create, model=model, cache=cache, device=device)


def _model_config(args: argparse.Namespace, stored):
    """The VidsimConfig the command line asks for, or None to use the index's own: options
    left out take the index's values (the model options' defaults for a new index)."""
    explicit = {name for name in _CONFIG_OPTIONS if _given(args, name)}
    if stored is not None and not (explicit - {"batch_size"}):
        if "batch_size" in explicit:
            return dataclasses.replace(
                stored.vidsim, features=dataclasses.replace(stored.vidsim.features, batch_size=args.batch_size))
        return None  # built lazily from config.json, only if a video must be embedded
    filled = argparse.Namespace(**vars(args))
    for name, (section, field) in _CONFIG_OPTIONS.items():
        if name in explicit:
            continue
        if stored is None:
            setattr(filled, name, args._model_defaults[name])
        else:
            setattr(filled, name, getattr(getattr(stored.vidsim, section), field))
    if stored is None:
        return args._make_config(filled)
    # an existing index: its configuration, with the explicit options applied on top
    config = stored.vidsim
    features = {f: getattr(filled, n) for n, (s, f) in _CONFIG_OPTIONS.items() if s == "features"}
    similarity = {"head_weights": filled.head_weights, "symmetric": filled.symmetric,
                  "head": "visil" if filled.head_weights else "chamfer"}
    return dataclasses.replace(
        config,
        decode=dataclasses.replace(config.decode, fps=filled.fps),
        features=dataclasses.replace(config.features, **features),
        similarity=dataclasses.replace(config.similarity, **similarity),
    )


# --- index commands ----------------------------------------------------------------------------
def cmd_index_add(args: argparse.Namespace) -> int:
    from vidsim.cli.progress import item_bar

    index = _open(args, create=True)
    with index:
        bar = item_bar(None, "indexing", "video", enabled=not args.quiet)
        started = time.monotonic()

        def progress(p) -> None:
            bar.total = p.videos_total
            if p.event in ("added", "skipped", "failed"):
                bar.update(p.videos_done - bar.n)
            if p.event == "failed":
                bar.write(f"error: {p.path}: {p.message}", file=sys.stderr)  # also when the bar is off (-q)
            elapsed = max(time.monotonic() - started, 1e-9)
            bar.set_postfix_str(f"{p.seconds / 3600:.2f} h, {p.frames} frames, {p.frames / elapsed:.1f} frames/s",
                                refresh=p.event == "frames")

        try:
            report = index.add(args.paths, progress=progress)
        finally:
            bar.close()
        print(f"added {len(report.added)} videos ({report.seconds / 3600:.2f} h, {report.frames} frames), "
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
        print(json.dumps({"index": args.index, "videos": [
            {"id": r.id, "path": r.path, "name": r.name, "duration": r.duration, "frames": r.frames,
             "content_hash": r.content_hash} for r in records]}))
        return EXIT_OK
    print(f"{'id':>6}  {'duration':>8}  {'frames':>7}  path")
    for r in records:
        print(f"{r.id:>6}  {_mmss(r.duration):>8}  {r.frames:>7}  {r.path}")
    return EXIT_OK


def cmd_index_stats(args: argparse.Namespace) -> int:
    index = _open(args, create=False, with_model=False)
    with index:
        stats = index.stats()
        stored = index.stored
    if args.json:
        print(json.dumps({"index": args.index, "videos": stats.videos, "hours": stats.hours, "frames": stats.frames,
                          "vectors": stats.vectors, "vector_kind": stats.vector_kind, "codes": stats.codes,
                          "bytes": stats.bytes, "feature_key": stored.feature_key}))
        return EXIT_OK
    print(f"index      {args.index}")
    print(f"videos     {stats.videos}")
    print(f"hours      {stats.hours:.3f}")
    print(f"frames     {stats.frames}")
    print(f"features   {stored.vidsim.features.backbone}, {stored.dims} dims, {stored.vidsim.decode.fps:g} fps "
          f"(key {stored.feature_key})")
    print(f"codes      {stats.codes}")
    print(f"vectors    {stats.vectors} ({stats.vector_kind})")
    print("bytes on disk")
    for name, size in stats.bytes.items():
        per_hour = f"  ({_human(size / stats.hours)}/hour of video)" if stats.hours > 0 and name in ("codes", "vectors") else ""
        print(f"  {name:<8} {_human(size):>10}{per_hour}")
    print(f"  {'total':<8} {_human(stats.total_bytes):>10}")
    return EXIT_OK


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
            queries += sorted(p for p in query.rglob("*.safetensors") if not p.name.startswith("."))
        if not queries:
            raise VidsimError(f"no video files found in {query}")
        return _search_batch(index, args, queries)


def _search_one(index, args, path: Path):
    from vidsim.cli.progress import frame_bar

    total = None
    if not args.quiet and path.suffix != ".safetensors":
        from vidsim.decode import probe

        total = probe(path).duration
    with frame_bar(path.name, total, enabled=not args.quiet) as update:
        return index.search(path, top_k=args.top, min_similarity=args.min_similarity, progress=update)


def _print_matches(args, query: Path, matches) -> None:
    if args.json:
        print(json.dumps({"query": str(query), "results": [
            {"id": m.video_id, "path": m.path, "similarity": m.similarity, "segments": [
                {"query_start": s.query_start, "query_end": s.query_end, "target_start": s.ref_start,
                 "target_end": s.ref_end, "score": s.score} for s in m.segments]}
            for m in matches]}))
        return
    print(f"query {query}: {len(matches)} results")
    if not matches:
        return
    print(f"{'rank':>4}  {'id':>6}  {'similarity':>10}  path")
    for rank, m in enumerate(matches, 1):
        print(f"{rank:>4}  {m.video_id:>6}  {m.similarity:>10.4f}  {m.path}")
        for s in m.segments:
            print(f"{'':>24}query {_mmss(s.query_start)}-{_mmss(s.query_end)}  ->  "
                  f"target {_mmss(s.ref_start)}-{_mmss(s.ref_end)}  ({s.score:.3f})")


def _search_batch(index, args, queries: list[Path]) -> int:
    from vidsim.cli.progress import item_bar

    out = open(args.out, "w", newline="") if args.out else sys.stdout
    failed = 0
    try:
        writer = csv.writer(out)
        writer.writerow(["query_id", "ref_id", "query_start", "query_end", "ref_start", "ref_end", "score"])
        for path in item_bar(queries, "queries", "query", enabled=not args.quiet and len(queries) > 1):
            try:
                features = index.features_of(path)
                matches = index.search(features, top_k=args.top, min_similarity=args.min_similarity)
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
                for row in rows:
                    writer.writerow([path.stem, ref_id, *(f"{v:.3f}" for v in row[:4]), f"{row[4]:.6f}"])
    finally:
        if args.out:
            out.close()
    if args.out:
        print(f"wrote matches of {len(queries) - failed} queries to {args.out}", file=sys.stderr)
    return EXIT_PARTIAL if failed else EXIT_OK


def _mmss(seconds: float) -> str:
    seconds = max(0.0, float(seconds))
    minutes, secs = divmod(int(round(seconds)), 60)
    if minutes >= 60:
        return f"{minutes // 60}:{minutes % 60:02d}:{secs:02d}"
    return f"{minutes:02d}:{secs:02d}"


def _human(size: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TB"
