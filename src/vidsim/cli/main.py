"""`vidsim` console script: compare, matrix, extract, demo, evaluate.

No command prints a traceback: vidsim's own errors, and any OSError (disk full, read-only file
system, permission denied) that escapes a command, are one `error:` line naming the file; any
other exception is one "internal error" line. The hidden `--debug` flag (anywhere on the
command line) lets exceptions through, traceback and all.
"""
from __future__ import annotations

import argparse
import csv
import errno
import json
import os
import re
import sys
import warnings
from pathlib import Path
from typing import Any, get_args

from vidsim import __version__
from vidsim.cli.engine_options import engine_options
from vidsim.cli.runtime_options import runtime_options
from vidsim.config import (
    DecodeConfig,
    FeatureConfig,
    NonrefSkip,
    SimilarityConfig,
    VidsimConfig,
    with_overrides,
)
from vidsim.errors import VideoError, VidsimError

EXIT_OK, EXIT_ERROR, EXIT_PARTIAL = 0, 1, 2


# model option (argparse dest) -> the VidsimConfig field it sets; options default to None (left
# out), so that each command resolves them once: from the dataclasses' defaults, or from an
# index's stored configuration (`vidsim index`, `vidsim search`)
MODEL_FIELDS = {
    "fps": "decode.fps",
    "backbone": "features.backbone",
    "weights": "features.weights",
    "whitening": "features.whitening",
    "dims": "features.dims",
    "precision": "features.precision",
    "runtime": "features.runtime",
    "batch_size": "features.batch_size",
    "inference_threads": "features.threads",
    "decode_threads": "decode.threads",
    "skip_nonref": "decode.skip_nonref",
    "prefetch": "decode.prefetch",
    "head_weights": "similarity.head_weights",
    "symmetric": "similarity.symmetric",
    "symmetric_partial": "similarity.symmetric_partial",
    "flip_query": "similarity.flip_query",
    "flip_margin": "similarity.flip_margin",
    "min_frame_std": "similarity.min_frame_std",
}


def _model_options(parser: argparse.ArgumentParser) -> None:
    """Options shared by every command that builds a model."""
    group = parser.add_argument_group("model")
    group.add_argument("--backbone", help=f"backbone name (default: {FeatureConfig.backbone}); see `vidsim backbones`")
    group.add_argument("--weights", help="backbone weights file (required for resnet50: a torchvision ImageNet state_dict)")
    group.add_argument("--whitening",
                       help="PCA whitening: auto (the one packaged for the backbone, if any), none, or a file "
                            f"(.npz, or the official .pth with mean/V/d) (default: {FeatureConfig.whitening})")
    group.add_argument("--dims", type=int, help="keep this many whitened dimensions")
    group.add_argument("--head-weights", help="learned ViSiL head state_dict: switches to the 'visil' mode")
    _lever_options(group)
    runtime_options(group)
    group.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (default: %(default)s)")
    group.add_argument("--fps", type=float, help=f"sampled frames per second (default: {DecodeConfig.fps})")
    group.add_argument("--batch-size", type=int, help="frames per forward pass")
    group.add_argument("--skip-nonref", choices=get_args(NonrefSkip),
                       help="non-reference frames the decoder drops (H.264, MPEG-1/2/4): unsampled (those no sample "
                            "shows: the frames sampled stay those of a full decode), all (every one: a sample may "
                            "show the reference frame before it) or off; part of the feature configuration "
                            f"(default: {DecodeConfig.skip_nonref})")
    speed = parser.add_argument_group("threads (speed only: the features do not change)")
    speed.add_argument("--inference-threads", type=int, metavar="N",
                       help="threads of the inference runtime (default: 0, the CPUs this process may use)")
    speed.add_argument("--decode-threads", type=int, metavar="N",
                       help="FFmpeg decoder threads (default: 0, chosen by resolution and the CPUs available)")
    speed.add_argument("--prefetch", type=int, metavar="N",
                       help="batches a decode thread prepares while the network runs, and the next video's "
                            f"decoding starts while the current one is embedded; 0: decode in turn (default: "
                            f"{DecodeConfig.prefetch})")
    group.add_argument("--cache-dir", help="feature cache directory (default: the user cache dir)")
    group.add_argument("--no-cache", action="store_true", help="neither read nor write the feature cache")
    group.add_argument("-q", "--quiet", action="store_true", help="no progress bars")


def _lever_options(group: Any) -> None:
    """The similarity switches (`SimilarityConfig`), left out (None) unless given."""
    defaults = SimilarityConfig()
    group.add_argument("--symmetric", action=argparse.BooleanOptionalAction, default=None,
                       help="symmetric Chamfer, frame and video level (default: on for the chamfer head, off for "
                            "the learned one)")
    group.add_argument("--symmetric-partial", action=argparse.BooleanOptionalAction, default=None,
                       help="with --symmetric, the reference-to-query direction averages only the reference's best "
                            "frames, as many as the query has, so that a short query cut from a long reference is not "
                            f"scored down (default: {_on(defaults.symmetric_partial)})")
    group.add_argument("--flip-query", action=argparse.BooleanOptionalAction, default=None,
                       help="also score the query's horizontal mirror image and keep the better score (one more "
                            f"extraction of the query) (default: {_on(defaults.flip_query)})")
    group.add_argument("--flip-margin", type=float, metavar="M",
                       help="with --flip-query, the mirror image's score counts less M (default: "
                            f"{defaults.flip_margin:g})")
    group.add_argument("--min-frame-std", type=float, metavar="STD",
                       help="leave out frames whose pixel standard deviation (0-255) is below STD (black, blank, "
                            f"one-colour frames) when comparing and voting; 0 keeps all (default: {defaults.min_frame_std:g})")


def _on(value: bool) -> str:
    return "on" if value else "off"


def model_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The VidsimConfig fields the command line sets, by dotted name (options left out are absent);
    --head-weights also switches the head to the learned comparator."""
    given = {name: getattr(args, dest) for dest, name in MODEL_FIELDS.items() if getattr(args, dest, None) is not None}
    if "similarity.head_weights" in given:
        given["similarity.head"] = "visil" if given["similarity.head_weights"] else "chamfer"
    return given


def _config(args: argparse.Namespace) -> VidsimConfig:
    """The model configuration of a command that builds its own: the defaults with the options given."""
    return with_overrides(VidsimConfig(), model_overrides(args))


def _session(args: argparse.Namespace):
    from vidsim.model import ViSiL
    from vidsim.store import FeatureCache

    model = ViSiL(_config(args), device=args.device)
    cache = None if args.no_cache else FeatureCache(args.cache_dir)
    return model, cache


def _extract(model, cache, path: Path, quiet: bool, then: Path | None = None):
    """Features of one file with a progress bar over its duration; `then`, the file asked for next,
    is decoded ahead."""
    from vidsim.cli.progress import frame_bar
    from vidsim.decode import probe
    from vidsim.store import FEATURE_SUFFIX

    total = None
    if not quiet and path.suffix != FEATURE_SUFFIX:
        total = probe(path).duration
    with frame_bar(path.name, total, enabled=not quiet) as update:
        return model.extract_video(path, cache=cache, progress=update, then=then)


def _mirror(model, cache, path: Path):
    """With --flip-query, the features of the query's mirror image (None for a feature file)."""
    from vidsim.store import FEATURE_SUFFIX

    if not model.config.similarity.flip_query or path.suffix == FEATURE_SUFFIX:
        return None
    return model.extract_video(path, cache=cache, mirror=True)


def _report_error(exc: Exception) -> None:
    print(f"error: {exc}", file=sys.stderr)


def cmd_compare(args: argparse.Namespace) -> int:
    from vidsim.decision import model_decision
    from vidsim.model import compare_videos

    model, cache = _session(args)
    decision = model_decision(model, args.threshold)
    query = _extract(model, cache, Path(args.query), args.quiet)
    target = _extract(model, cache, Path(args.target), args.quiet)
    result = compare_videos(model, query, target, _mirror(model, cache, Path(args.query)))
    is_copy = decision.is_copy(result.similarity)
    if args.heatmap:
        from vidsim.viz import save_heatmap

        save_heatmap(
            args.heatmap, result.f2f, result.query_timestamps, result.target_timestamps,
            title=f"{Path(args.query).name} vs {Path(args.target).name}: {result.similarity:.3f} ({result.mode})",
            query_label=Path(args.query).name, target_label=Path(args.target).name, comparator=result.visil_output,
        )
    if args.json:
        out = {"query": args.query, "target": args.target, "similarity": result.similarity, "mode": result.mode,
               "is_copy": is_copy, "threshold": decision.to_dict()}
        if model.config.similarity.flip_query:
            out["mirrored"] = result.mirrored
        print(json.dumps(out))
    else:
        print(f"similarity {result.similarity:.4f}  (mode: {_mode_text(result.mode)})")
        print(f"copy       {'unknown' if is_copy is None else 'yes' if is_copy else 'no'}  ({decision.describe()})")
        if result.mirrored:
            print("  the query's mirror image scored better (--flip-query)")
        print(f"  query  {args.query}: {len(result.query_timestamps)} frames")
        print(f"  target {args.target}: {len(result.target_timestamps)} frames")
        if args.heatmap:
            print(f"  heatmap written to {args.heatmap}")
    return EXIT_OK


def _mode_text(mode: str) -> str:
    if mode.startswith("chamfer"):
        return f"{mode}: ViSiL_f, Chamfer over the frame-to-frame matrix, no learned head"
    return f"{mode}: learned ViSiL comparator"


def _collect(paths: list[str]) -> tuple[list[Path], int]:
    """The videos named or found under `paths`, and how many inputs failed: a missing path or a
    directory without videos is reported and the rest go on (VidsimError when nothing is left)."""
    from vidsim.decode import check_inputs, find_videos

    usable, failed = check_inputs(paths)
    for path, reason in failed:
        print(f"error: {path}: {reason}", file=sys.stderr)
    found = find_videos(usable) if usable else []
    if not found:
        raise VidsimError(f"no video files found in {' '.join(paths)}")
    return found, len(failed)


def _extract_many(model, cache, paths: list[Path], quiet: bool):
    """Features of each path, the next one decoded while the current one is embedded; bad files are
    reported and skipped, the rest go on."""
    from vidsim.cli.progress import item_bar

    features, failed = {}, []
    following = dict(zip(paths, paths[1:]))
    for path in item_bar(paths, "videos", "video", enabled=not quiet and len(paths) > 1):
        try:
            features[path] = _extract(model, cache, path, quiet, then=following.get(path))
        except VideoError as exc:
            failed.append(path)
            _report_error(exc)
    return features, failed


def _extract_by_engine(args: argparse.Namespace, paths: list[Path]):
    """As `_extract_many`, the videos embedded by the engine the options name, in the order they
    finish (the features kept in the order given)."""
    from vidsim.cli.engine_options import opened_engine
    from vidsim.cli.progress import item_bar
    from vidsim.store import FeatureCache

    cache = None if args.no_cache else FeatureCache(args.cache_dir)
    done: dict[Path, Any] = {}
    failed = []
    with opened_engine(args, _config(args), cache) as engine:
        assert engine is not None
        with item_bar(None, "videos", "video", enabled=not args.quiet) as bar:
            bar.total = len(paths)
            for result in engine.embed(paths):
                bar.update(1)
                if result.features is None:
                    failed.append(result.path)
                    bar.write(f"error: {result.path}: {result.error}", file=sys.stderr)
                else:
                    done[result.path] = result.features
    return {path: done[path] for path in paths if path in done}, failed


def cmd_matrix(args: argparse.Namespace) -> int:
    from vidsim.model import similarity_matrix

    videos, missing = _collect(args.paths)
    model, cache = _session(args)
    features, failed = _extract_many(model, cache, videos, args.quiet)
    if not features:
        raise VidsimError("no video could be read")
    names = [str(p) for p in features]
    mirrors = [_mirror(model, cache, p) for p in features] if model.config.similarity.flip_query else None
    matrix = similarity_matrix(model, list(features.values()), mirrors=mirrors)
    out = open(args.out, "w", newline="") if args.out else sys.stdout
    try:
        writer = csv.writer(out)
        writer.writerow(["path", *names])
        for name, row in zip(names, matrix):
            writer.writerow([name, *(f"{v:.6f}" for v in row)])
    finally:
        if args.out:
            out.close()
    if args.heatmap:
        from vidsim.viz import save_matrix_heatmap

        save_matrix_heatmap(args.heatmap, matrix, names, title=f"video similarity ({model.mode})")
    from vidsim.decision import model_decision

    print(f"mode: {_mode_text(model.mode)}; {model_decision(model).describe()}", file=sys.stderr)
    return EXIT_PARTIAL if failed or missing else EXIT_OK


def cmd_extract(args: argparse.Namespace) -> int:
    from vidsim.model import export_features

    paths, missing = _collect(args.paths)
    if args.engine == "local":
        model, cache = _session(args)
        features, failed = _extract_many(model, cache, paths, args.quiet)
    else:
        features, failed = _extract_by_engine(args, paths)
    manifest = export_features(features, Path(args.out))
    print(f"wrote features of {len(features)} videos to {args.out} (manifest: {manifest})")
    return EXIT_PARTIAL if failed or missing else EXIT_OK


def cmd_demo(args: argparse.Namespace) -> int:
    from vidsim.demo import run_demo

    model, cache = _session(args)
    result = run_demo(model, Path(args.out), cache=cache, progress=not args.quiet)
    print(result.summary())
    return EXIT_OK


def cmd_evaluate(args: argparse.Namespace) -> int:
    from vidsim.evaluate.runner import run_evaluation
    from vidsim.store import FeatureCache

    bars: dict[str, Any] = {}

    def progress(label: str, done: int, total: int) -> None:
        if args.quiet:
            return
        from vidsim.cli.progress import item_bar

        bar = bars.get(label)
        if bar is None:
            bar = bars[label] = item_bar(None, label, "video", enabled=True)
            bar.total = total
        bar.update(done - bar.n)
        if done >= total:
            bar.close()

    options = {"cache": None if args.no_cache else FeatureCache(args.cache_dir), "device": args.device}
    options["whitening"] = args.whitening
    if args.weights:
        options["weights"] = args.weights
    if args.dims:
        options["dims"] = args.dims
    if args.alignment:
        options["alignment"] = args.alignment
    levers = ("symmetric", "symmetric_partial", "flip_query", "flip_margin", "min_frame_std")
    for name in ("precision", "runtime", *levers):  # where given; the similarity switches too
        if getattr(args, name) is not None:
            options[name] = getattr(args, name)
    methods = args.method or ["vidsim"]
    index_options = _index_options(args.index_option or [])
    if args.head_weights or index_options:  # methods that take these get them; the others are left as they are
        from vidsim.evaluate.methods import build_method

        def build(name: str):
            if args.head_weights and name.startswith("vidsim-visil"):
                return build_method(name, head_weights=args.head_weights, **options)
            if index_options and name.startswith("vidsim-search"):
                return build_method(name, index_options=index_options, **options)
            return name

        methods = [build(m) for m in methods]
    run = run_evaluation(
        Path(args.queries), Path(args.refs), Path(args.gt), methods, Path(args.out),
        gt_format=args.gt_format, attributes=Path(args.attributes) if args.attributes else None,
        ref_attributes=Path(args.ref_attributes) if args.ref_attributes else None,
        pairs=Path(args.pairs) if args.pairs else None, title=args.title, method_options=options,
        progress=progress,
    )
    for path, reason in run.failures.items():
        print(f"error: {path}: {reason} (left out: its pairs count as misses)", file=sys.stderr)
    print(run.outputs["markdown"].read_text())
    print(f"results: {', '.join(str(p) for p in run.outputs.values())}")
    return EXIT_PARTIAL if run.failures else EXIT_OK


def _index_options(items: list[str]) -> dict[str, Any]:
    """`--index-option FIELD=VALUE` pairs (fields named as in config.json, e.g. index.codes=int8,
    index.search.candidates=50); values read as JSON where they parse (numbers, true, null), else text."""
    out: dict[str, Any] = {}
    for item in items:
        name, sep, text = item.partition("=")
        if not sep or not name.startswith("index."):
            raise VidsimError(f"--index-option {item!r}: expected index.FIELD=VALUE (e.g. index.codes=int8)")
        try:
            out[name] = json.loads(text)
        except json.JSONDecodeError:
            out[name] = text
    return out


def cmd_whiten(args: argparse.Namespace) -> int:
    import numpy as np

    from vidsim.features import PCAWhitening

    args.whitening = "none"  # fitted on unwhitened region vectors
    videos, missing = _collect(args.paths)
    model, cache = _session(args)
    features, failed = _extract_many(model, cache, videos, args.quiet)
    if not features:
        raise VidsimError("no video could be read")
    vectors = np.concatenate([f.regions.reshape(-1, f.dims) for f in features.values()])
    if len(vectors) < vectors.shape[1]:
        print(f"warning: {len(vectors)} region vectors for {vectors.shape[1]} dims: the whitening will be "
              "unstable; use more video", file=sys.stderr)
    PCAWhitening.fit(vectors).save(args.out)
    print(f"whitening fitted on {len(vectors)} region vectors of {len(features)} videos ({model.config.features.backbone}), "
          f"written to {args.out}; use it with --whitening {args.out} [--dims N]")
    return EXIT_PARTIAL if failed or missing else EXIT_OK


def cmd_methods(args: argparse.Namespace) -> int:
    from vidsim.evaluate.methods import available_methods

    print("\n".join(available_methods()))
    return EXIT_OK


def cmd_backbones(args: argparse.Namespace) -> int:
    from vidsim.features import available_backbones

    for name in available_backbones():
        print(name)
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vidsim", description="Find copies of videos (ViSiL similarity).")
    parser.add_argument("--version", action="version", version=f"vidsim {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("compare", help="similarity of two videos")
    p.add_argument("query")
    p.add_argument("target")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--heatmap", help="write the frame-to-frame matrix as a PNG")
    p.add_argument("--threshold", type=float,
                   help="similarity at or above which the pair is a copy; default: the threshold shipped for the "
                        "backbone and head, chosen on the benchmark for precision 0.95 (none ships for other "
                        "configurations: the decision is then unknown)")
    _model_options(p)
    p.set_defaults(func=cmd_compare)

    p = sub.add_parser("matrix", help="N x N similarity matrix of videos (directories searched recursively)")
    p.add_argument("paths", nargs="+")
    p.add_argument("--out", help="CSV file (default: stdout)")
    p.add_argument("--heatmap", help="write the matrix as a PNG")
    _model_options(p)
    p.set_defaults(func=cmd_matrix)

    p = sub.add_parser("extract", help="write features of videos for later use")
    p.add_argument("paths", nargs="+")
    p.add_argument("--out", required=True, help="output directory")
    _model_options(p)
    engine_options(p)
    p.set_defaults(func=cmd_extract)

    p = sub.add_parser("whiten", help="fit a PCA whitening on the region features of videos")
    p.add_argument("paths", nargs="+")
    p.add_argument("--out", required=True, help="output .npz (mean, V, d: the official layout)")
    _model_options(p)
    p.set_defaults(func=cmd_whiten)

    p = sub.add_parser("demo", help="index real clips (the vidsim[demo] extra), search transformed copies of them, "
                                    "print the matches and write an HTML report")
    p.add_argument("--out", default="vidsim-demo", help="output directory (default: %(default)s)")
    _model_options(p)
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("evaluate", help="score query/reference pairs with methods and report mAP, µAP, R@P90")
    p.add_argument("--queries", required=True, help="directory of query videos (ids = file stems)")
    p.add_argument("--refs", required=True, help="directory of reference videos (may be the same directory)")
    p.add_argument("--gt", required=True, help="ground truth file")
    p.add_argument("--gt-format", default="vsc", choices=["vsc", "fivr-dsvr", "fivr-csvr", "fivr-isvr", "vcsl"],
                   help="vsc: VSC22 CSV (default); fivr-*: FIVR-200K annotation.json per task; vcsl: VCSL label file")
    p.add_argument("--pairs", help="VCSL pair file restricting the evaluated pairs")
    p.add_argument("--attributes", help="per-query attributes CSV (query_id,family,source,...) for breakdowns")
    p.add_argument("--ref-attributes", help="per-reference attributes CSV (ref_id,source,...): with sources on "
                   "both sides, µAP is also reported without and against the same-source negatives")
    p.add_argument("--method", action="append",
                   help="method to run, repeatable (default: vidsim); `vidsim methods` lists them")
    p.add_argument("--out", default="vidsim-eval", help="output directory (default: %(default)s)")
    p.add_argument("--title", default="Evaluation")
    p.add_argument("--whitening", default="auto", help="whitening for the vidsim methods: auto, none or a file")
    p.add_argument("--dims", type=int, help="keep this many whitened dimensions (vidsim methods)")
    p.add_argument("--alignment", choices=["tn", "dp", "hv"],
                   help="copied-segment localisation for the vidsim methods (default: tn)")
    p.add_argument("--weights", help="backbone weights for vidsim:resnet50")
    p.add_argument("--head-weights", help="learned head file for the vidsim-visil method (default: the packaged one)")
    runtime_options(p)
    _lever_options(p)
    p.add_argument("--index-option", action="append", metavar="FIELD=VALUE",
                   help="index field for the vidsim-search method, named as in config.json (e.g. index.codes=int8, "
                        "index.search.candidates=50), repeatable")
    p.add_argument("--device", default="cpu")
    p.add_argument("--cache-dir")
    p.add_argument("--no-cache", action="store_true")
    p.add_argument("-q", "--quiet", action="store_true")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("methods", help="list the evaluation methods")
    p.set_defaults(func=cmd_methods)

    p = sub.add_parser("backbones", help="list the registered backbones")
    p.set_defaults(func=cmd_backbones)

    from vidsim.cli import index_commands

    index_commands.register(sub, _model_options, model_overrides)
    from vidsim.cli import report_command

    report_command.register(sub, _model_options, model_overrides)
    from vidsim.cli import train_command

    train_command.register(sub)
    from vidsim.cli import serve_command

    serve_command.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = _take_flag(argv, "--debug")
    args = build_parser().parse_args(argv)
    previous_format = warnings.formatwarning
    warnings.formatwarning = lambda message, category, *a, **k: f"warning: {message}\n"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("default")
            return args.func(args)
    except KeyboardInterrupt:
        if debug:
            raise
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `vidsim ... | head`: the reader left; not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except Exception as exc:  # the one place every failure becomes one line
        if debug:
            raise
        print(f"error: {describe_error(exc)}", file=sys.stderr)
        return EXIT_ERROR
    finally:
        warnings.formatwarning = previous_format


def _take_flag(argv: list[str], flag: str) -> bool:
    """Remove `flag` from argv (anywhere before a `--`); whether it was there."""
    end = argv.index("--") if "--" in argv else len(argv)
    found = flag in argv[:end]
    argv[:end] = [a for a in argv[:end] if a != flag]
    return found


_TEMPORARY = re.compile(r"^\.(?P<name>.+)\.[A-Za-z0-9_]{8}\.tmp$")  # fsutil.atomic_path's temporary names


def describe_error(exc: BaseException) -> str:
    """One line for a failure: vidsim's message; an OSError's file (the file a temporary name
    stands for) and cause; else "internal error" with the exception, pointing at --debug."""
    if isinstance(exc, VidsimError):
        return str(exc)
    if isinstance(exc, OSError) and (exc.strerror or exc.errno):
        code = exc.errno or 0
        cause = exc.strerror or os.strerror(code)
        if code in errno.errorcode:
            cause += f" ({errno.errorcode[code]})"
        if not isinstance(exc.filename, (str, bytes, os.PathLike)):
            return cause
        name = Path(os.fsdecode(exc.filename))
        shown = _TEMPORARY.match(name.name)
        target = name.with_name(shown["name"]) if shown else name
        other = f" -> {os.fsdecode(exc.filename2)}" if isinstance(exc.filename2, (str, bytes)) and not shown else ""
        return f"{target}{other}: {cause}"
    from vidsim.fsutil import write_error_cause

    failed_write = write_error_cause(exc)
    if failed_write is not None:
        return f"a write failed: {failed_write}"
    import sqlite3

    if isinstance(exc, sqlite3.DatabaseError) and not isinstance(exc, sqlite3.OperationalError):
        return (f"an index catalog became unreadable while in use ({exc}); "
                "check it with `vidsim index check --index DIR`, mend it with `vidsim index repair --index DIR`")
    detail = " ".join(f"{type(exc).__name__}: {exc}".split())
    return f"internal error ({detail}); rerun with --debug for the traceback, and please report it"


if __name__ == "__main__":
    sys.exit(main())
