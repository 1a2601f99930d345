"""`vidsim train` as a library call: data -> cached features -> whitening -> triplets -> trained
head file (+ the whitening, when refitted) and a JSON summary in the run directory.

    from vidsim.train import TrainJob, run_training
    result = run_training(TrainJob(out=Path("runs/lite0")))          # the packaged head's recipe
    result = run_training(TrainJob(out=Path("runs/mine"), videos=[Path("videos/")]))
    result = run_training(TrainJob(out=Path("runs/csv"), csv=Path("pairs.csv")))
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from vidsim.config import DecodeConfig, FeatureConfig, VidsimConfig
from vidsim.errors import VidsimError
from vidsim.fsutil import atomic_open
from vidsim.train.data import BankRow, FeatureBank, ProgressFn, prepare_self_supervised
from vidsim.train.export import save_head
from vidsim.train.recipe import DEFAULT, TrainRecipe
from vidsim.train.trainer import StepCallback, Trainer, epoch_summary, new_head
from vidsim.train.triplets import LabelledTriplets, SelfSupervisedTriplets

HEAD_FILE, WHITENING_FILE, SUMMARY_FILE = "head.safetensors", "whitening.npz", "train.json"
CORPUS_SPLITS = ("dev",)


@dataclass
class TrainJob:
    """What to train on, with which features, and where the run lives."""

    out: Path
    recipe: TrainRecipe = DEFAULT
    videos: list[Path] = field(default_factory=list)  # self-supervised on these files/directories
    csv: Path | None = None  # labelled triplets or pairs (vidsim.train.csvdata)
    corpus: str | None = None  # "dev": the benchmark's dev sources (the default when no data is given)
    footage: bool = False  # add the extra footage videos (vidsim.bench.footage) to the self-supervised sources
    footage_groups: tuple[str, ...] = ("permissive",)  # licence groups of footage used ("copyleft": opt in)
    footage_dir: Path | None = None  # footage cache (default: <user cache>/vidsim/footage)
    decode: DecodeConfig = field(default_factory=DecodeConfig)
    features: FeatureConfig = field(default_factory=FeatureConfig)  # whitening may also be "fit"
    cache_dir: Path | None = None  # feature cache (default: the user cache dir)
    version: str | None = None  # the head's version string (default: date + fingerprint)
    workers: int = 1  # processes making clips (0: in this process)
    threads: int = 0  # torch threads (0: torch's default)
    keep_clips: bool = False
    restart: bool = False


@dataclass
class TrainResult:
    head: Path
    whitening: Path | None
    summary: dict[str, Any]
    resumed_at: int  # step the run resumed from (0: started fresh)


def corpus_sources(split: str = "dev") -> list[tuple[str, Path]]:
    """The benchmark's clips of one split (reference sources, their other takes, held-out clips)."""
    from vidsim.bench import HELD_OUT, NEGATIVE_TAKES, SOURCES_DEV, fetch_corpus

    if split not in CORPUS_SPLITS:
        raise VidsimError(f"corpus split {split!r}: training may only use {', '.join(CORPUS_SPLITS)} "
                          "(the test split is never seen in training)")
    names = [*SOURCES_DEV, *[t for t, s in NEGATIVE_TAKES.items() if s in SOURCES_DEV], *HELD_OUT["dev"]]
    clips = fetch_corpus(only=names)
    return [(name, clips[name]) for name in names]


def footage_sources(groups: tuple[str, ...] = ("permissive",), dest: Path | None = None,
                    progress: ProgressFn | None = None) -> tuple[list[tuple[str, Path]], dict[str, Any]]:
    """The extra footage as training videos (fetched, SHA-256 checked, made once and kept in
    `dest`), and a description of it for the head's metadata."""
    from vidsim.bench.footage import MANIFEST, default_footage_dir, fetch_footage, load_manifest, select_files
    from vidsim.bench.footage_build import FootageRecipe, build_footage
    from vidsim.fsutil import sha256_file

    root = Path(dest) if dest is not None else default_footage_dir()
    files = select_files(load_manifest(), groups)
    sources = fetch_footage(root, files=files)
    recipe = FootageRecipe()
    tick = (lambda done, total: progress("footage", done, total)) if progress is not None else None
    videos = build_footage(files, sources, root / ("videos-" + "-".join(sorted(groups))), recipe, tick)
    desc = {"groups": sorted(groups), "files": len(files), "videos": len(videos),
            "manifest_sha256": sha256_file(MANIFEST)[:16], "recipe": dataclasses.asdict(recipe)}
    return videos, desc


def _video_sources(paths: list[Path]) -> list[tuple[str, Path]]:
    from vidsim.decode import find_videos

    found = find_videos([str(p) for p in paths])
    if len(found) < 2:
        raise VidsimError(f"self-supervised training needs at least 2 videos; found {len(found)} in "
                          f"{' '.join(map(str, paths))}")
    return [(str(p), p) for p in found]


def _digest(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _labelled_rows(job: TrainJob, raw_model, eval_key: str | None, cache, progress: ProgressFn):
    """Bank rows of a CSV's videos (cut to max_frames) and its items; feature files are accepted
    when made with the training features (unwhitened or whitened: the flag says which)."""
    from vidsim.store import load_features
    from vidsim.train.csvdata import read_training_csv

    assert job.csv is not None  # called for CSV jobs only
    data = read_training_csv(job.csv)
    rows = []
    for i, path in enumerate(data.videos):
        if path.suffix == ".safetensors":
            feats = load_features(path)
            if feats.feature_key != raw_model.feature_key and not (eval_key and feats.feature_key == eval_key):
                raise VidsimError(f"{path}: features made with other options (key {feats.feature_key}); training "
                                  f"uses {eval_key} (whitened) or {raw_model.feature_key} (unwhitened)")
            whitened = feats.feature_key == eval_key
        else:
            feats, whitened = raw_model.extract_video(path, cache=cache), False
        n = min(feats.num_frames, job.recipe.max_frames)
        rows.append(BankRow(str(path), "labelled", feats.regions[:n], np.full(n, i), np.asarray(feats.timestamps[:n]),
                            whitened=whitened))
        progress("videos", i + 1, len(data.videos))
    return data, rows


def run_training(job: TrainJob, progress: ProgressFn | None = None, on_step: StepCallback | None = None) -> TrainResult:
    """Prepare the data (cached), train (resuming a checkpoint in `job.out` unless `restart`), and
    write head.safetensors (+ whitening.npz when fitted) and train.json into `job.out`."""
    from vidsim.features import FeatureExtractor, PCAWhitening
    from vidsim.model import ViSiL
    from vidsim.store import FeatureCache

    progress = progress or (lambda stage, done, total: None)
    recipe, out = job.recipe, Path(job.out)
    out.mkdir(parents=True, exist_ok=True)
    if job.threads:
        torch.set_num_threads(job.threads)
    if job.restart:
        (out / "checkpoint.pt").unlink(missing_ok=True)
    started = time.time()
    cache = FeatureCache(job.cache_dir)
    raw_features = dataclasses.replace(job.features, whitening="none", dims=None)
    raw_model = ViSiL(VidsimConfig(decode=job.decode, features=raw_features))
    fit = job.features.whitening == "fit"

    # --- data: features of every training video, unwhitened
    if job.csv is not None and job.videos:
        raise VidsimError("give either videos (self-supervised) or a CSV file (labelled), not both")
    if job.csv is not None and job.footage:
        raise VidsimError("extra footage is for self-supervised training (the corpus or videos), not a CSV file")
    if job.csv is not None:
        eval_key = None if fit else FeatureExtractor(job.features).feature_key(job.decode)
        data, rows = _labelled_rows(job, raw_model, eval_key, cache, progress)
        data_desc = {"kind": f"csv-{data.kind}", "file": str(job.csv), "csv_sha256": _digest(job.csv.read_text()),
                     "videos": len(data.videos), "items": len(data.items)}
        fit_rows = [r for r in rows if not r.whitened]
    else:
        sources = _video_sources(job.videos) if job.videos else corpus_sources(job.corpus or "dev")
        extra_from, footage_desc = None, None
        if job.footage:
            extra, footage_desc = footage_sources(tuple(job.footage_groups), job.footage_dir, progress)
            extra_from, sources = len(sources), sources + extra
        rows, plans = prepare_self_supervised(sources, recipe, raw_model, cache, out, job.workers, job.keep_clips,
                                              progress, extra_from)
        data_desc = {"kind": "self-supervised", "corpus": None if job.videos else (job.corpus or "dev"),
                     "sources": [[name, Path(p).stat().st_size] for name, p in sources], "clips": len(plans)}
        if footage_desc is not None:
            data_desc["footage"] = footage_desc
        fit_rows = [r for r in rows if r.kind == "original"]
    prepared = time.time()

    # --- whitening: the configured one, or fitted on the source videos (unsupervised)
    whitening_file = None
    if fit:
        vectors = np.concatenate([r.regions.reshape(-1, r.regions.shape[-1]) for r in fit_rows])
        whitening_file = out / WHITENING_FILE
        PCAWhitening.fit(vectors, dims=job.features.dims or 256).save(whitening_file)
        eval_features = dataclasses.replace(job.features, whitening=str(whitening_file.resolve()))
    else:
        eval_features = job.features
    extractor = FeatureExtractor(eval_features)
    feature_key = extractor.feature_key(job.decode)

    bank = FeatureBank(rows, whiten=extractor.whitening)  # None: no whitening
    triplets: LabelledTriplets | SelfSupervisedTriplets
    if job.csv is not None:
        triplets = LabelledTriplets(bank, data.items, recipe)
    else:
        footage_ids = frozenset(range(extra_from, len(sources))) if extra_from is not None else frozenset()
        triplets = SelfSupervisedTriplets(bank, recipe, footage_ids)
    data_desc.update(videos_in_bank=len(bank.videos), frames=int(bank.regions.shape[0]))

    # --- train
    fingerprint = {"recipe": recipe.fingerprint(), "data": _digest(data_desc), "feature_key": feature_key,
                   "whitening": extractor.whitening_version}
    head = new_head(bank.dims, recipe.seed)
    trainer = Trainer(head, bank, triplets, recipe, out, fingerprint)
    resumed = trainer.resume() and trainer.step
    trainer.fit(on_step=on_step)
    trained = time.time()

    # --- the head file and the summary
    version = job.version or f"{time.strftime('%Y%m%d', time.gmtime())}-{_digest(fingerprint)[:8]}"
    epochs = epoch_summary(trainer.history, recipe.steps_per_epoch)
    from vidsim import __version__

    metadata = {
        "version": version, "backbone": job.features.backbone, "weights_version": raw_model.extractor.weights_version,
        "dims": bank.dims, "whitening": job.features.whitening if not fit else WHITENING_FILE,
        "whitening_version": extractor.whitening_version, "fps": job.decode.fps, "feature_key": feature_key,
        "precision": job.features.precision, "recipe": recipe.to_dict(), "data": data_desc,
        "steps": trainer.step, "final_epoch": epochs[-1] if epochs else {}, "vidsim": __version__,
        "trained": time.strftime("%Y-%m-%d", time.gmtime()),
    }
    head_path = save_head(out / HEAD_FILE, head, metadata)
    summary = {**metadata, "epochs": epochs, "resumed_at": int(resumed or 0),
               "seconds": {"data": round(prepared - started, 1), "train": round(trained - prepared, 1),
                           "total": round(time.time() - started, 1)}}
    with atomic_open(out / SUMMARY_FILE, "w") as fh:
        json.dump(summary, fh, indent=1, sort_keys=True)
    return TrainResult(head_path, whitening_file, summary, int(resumed or 0))
