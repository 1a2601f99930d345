"""Training data as features: source videos and augmented clips, extracted once through the
feature cache, labelled frame by frame, and held in memory (whitened) as one `FeatureBank`.

Region vectors are cached *unwhitened* (`FeatureCache`, keyed by each file's content hash and
the unwhitened feature key), so the whitening can be refitted without extracting again; the
bank applies the whitening in memory, exactly as the extractor would. Each clip made has a
record (frame labels, content hash) under the cache, keyed by its plan; a clip whose record and
features are cached is not made again, so an interrupted run resumes where it stopped.
"""
from __future__ import annotations

import json
import multiprocessing
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch

from vidsim.errors import ConfigError
from vidsim.features.types import VideoFeatures
from vidsim.fsutil import atomic_open
from vidsim.train.augment import ClipPlan, ClipRecord, Span, label_frames, make_clip, plan_clips
from vidsim.train.recipe import TrainRecipe

ProgressFn = Callable[[str, int, int], None]  # (stage, done, total)


@dataclass
class TrainVideo:
    """One video of the bank: frames [start, start + frames) of `FeatureBank.regions`, the source
    id and source time (s) each frame shows (-1/nan: none), and sources shown but not labelled."""

    name: str
    start: int
    frames: int
    sources: np.ndarray
    times: np.ndarray
    kind: str  # "original", "chain", "splice" or "labelled"
    excluded: frozenset[int] = field(default_factory=frozenset)

    @property
    def stop(self) -> int:
        return self.start + self.frames


class BankRow(NamedTuple):
    """One video on its way into the bank: features and frame labels (see TrainVideo)."""

    name: str
    kind: str
    regions: np.ndarray  # [F, R, D]
    sources: np.ndarray  # [F]
    times: np.ndarray  # [F]
    excluded: Sequence[int] = ()
    whitened: bool = False  # already whitened (a feature file made with the whitened options)


class FeatureBank:
    """All training videos' whitened region features in one tensor [N, R, D], with frame labels."""

    def __init__(self, rows: Sequence[BankRow], whiten: Callable[[torch.Tensor], torch.Tensor] | None = None):
        """`whiten` is applied to the rows not yet whitened (None: use them as they are)."""
        parts, self.videos, start = [], [], 0
        for row in rows:
            x = torch.from_numpy(np.ascontiguousarray(row.regions, dtype=np.float32))
            with torch.no_grad():
                parts.append(whiten(x) if whiten is not None and not row.whitened else x)
            self.videos.append(TrainVideo(row.name, start, len(x), np.asarray(row.sources, np.int64),
                                          np.asarray(row.times, np.float64), row.kind,
                                          frozenset(int(e) for e in row.excluded)))
            start += len(x)
        if not parts:
            raise ConfigError("no training videos")
        self.regions = torch.cat(parts)
        self.sources = np.concatenate([v.sources for v in self.videos])
        self.times = np.concatenate([v.times for v in self.videos])
        self.video_of = np.concatenate([np.full(v.frames, i) for i, v in enumerate(self.videos)])

    @property
    def dims(self) -> int:
        return int(self.regions.shape[-1])

    def gather(self, index: np.ndarray) -> torch.Tensor:
        return self.regions[torch.from_numpy(np.asarray(index, dtype=np.int64))]


# ------------------------------------------------------------------------------------- sources
def make_spans(sources: Sequence[tuple[str, Path]], recipe: TrainRecipe) -> list[Span]:
    """Stretches of each source (id = its position) to make clips from: the whole video when it is
    at most `span_seconds` long, else up to `spans_per_video` random non-overlapping stretches."""
    from vidsim.decode import probe

    spans = []
    for sid, (name, path) in enumerate(sources):
        duration = probe(path).duration
        lo, hi = 0.05, max(0.1, duration - 0.1)
        if hi - lo <= recipe.span_seconds:
            spans.append(Span(sid, name, str(path), round(lo, 3), round(hi, 3)))
            continue
        rng = np.random.default_rng([recipe.seed, sid, 0x5A])
        slots = int((hi - lo) // recipe.span_seconds)
        for slot in sorted(rng.permutation(slots)[: recipe.spans_per_video]):
            a = lo + slot * recipe.span_seconds
            spans.append(Span(sid, name, str(path), round(a, 3), round(a + recipe.span_seconds, 3)))
    return spans


# ------------------------------------------------------------------------------------- making clips
CLIP_RECORDS = "train-clips"  # under the feature cache: one JSON record per clip made, by plan key


def plan_key(plan: ClipPlan) -> str:
    """Hash of everything that decides a clip's content: a record is reused only for an equal plan."""
    import dataclasses
    import hashlib

    return hashlib.sha256(json.dumps(dataclasses.asdict(plan), sort_keys=True).encode()).hexdigest()[:24]


def _make(args: tuple[ClipPlan, str]) -> ClipRecord:
    plan, out_dir = args
    return make_clip(plan, out_dir)


class ClipFeatures:
    """Features of the clips of some plans: made (in worker processes), extracted by a model
    without whitening, and cached. Each clip's record (frame labels, content hash) is kept under
    the feature cache by plan key, so any later run with the same plan loads its features
    instead of making the clip again."""

    def __init__(self, model, cache, work_dir: Path, workers: int = 1, keep_clips: bool = False,
                 progress: ProgressFn | None = None):
        self.model, self.cache = model, cache
        self.work_dir = Path(work_dir)
        self.records = Path(cache.root) / CLIP_RECORDS
        self.workers = max(0, int(workers))
        self.keep_clips = keep_clips
        self.progress = progress or (lambda stage, done, total: None)

    def _record_path(self, plan: ClipPlan) -> Path:
        key = plan_key(plan)
        return self.records / key[:2] / f"{key}.json"

    def _cached(self, plan: ClipPlan) -> tuple[dict, VideoFeatures] | None:
        path = self._record_path(plan)
        try:
            entry = json.loads(path.read_text())
        except (OSError, ValueError):
            return None  # no record (or a damaged one): make the clip
        features = self.cache.get(entry.get("hash", ""), self.model.feature_key)
        return (entry, features) if features is not None else None

    def _finish(self, plan: ClipPlan, record: ClipRecord) -> tuple[dict, VideoFeatures]:
        from vidsim.store import content_hash

        path = Path(record.file)
        entry = {**record.to_dict(), "hash": content_hash(path)}
        features = self.model.extract_video(path, cache=self.cache)
        with atomic_open(self._record_path(plan), "w") as fh:
            json.dump(entry, fh, sort_keys=True)
        if not self.keep_clips:
            path.unlink(missing_ok=True)
        return entry, features

    def run(self, plans: Sequence[ClipPlan]) -> list[tuple[dict, VideoFeatures]]:
        """(record, features) of every plan, making and extracting only what is not cached."""
        clips_dir = self.work_dir / "clips"
        clips_dir.mkdir(parents=True, exist_ok=True)
        done: dict[str, tuple[dict, VideoFeatures]] = {}
        todo = []
        for plan in plans:
            hit = self._cached(plan)
            if hit is not None:
                done[plan.clip_id] = hit
            else:
                todo.append(plan)
        total = len(plans)
        self.progress("clips", len(done), total)
        by_id = {plan.clip_id: plan for plan in plans}

        def finish(record: ClipRecord) -> None:
            done[record.clip_id] = self._finish(by_id[record.clip_id], record)
            self.progress("clips", len(done), total)

        if self.workers == 0:
            for plan in todo:
                finish(make_clip(plan, clips_dir))
        elif todo:
            # spawn, not fork: forking a process that already runs torch threads can hang the child
            with ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn")) as pool:
                queue = list(todo)
                pending = {pool.submit(_make, (queue.pop(0), str(clips_dir))) for _ in range(min(len(queue), 2 * self.workers))}
                while pending:
                    finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                    for fut in finished:
                        if queue:  # keep the workers busy while this process extracts
                            pending.add(pool.submit(_make, (queue.pop(0), str(clips_dir))))
                        finish(fut.result())
        return [done[p.clip_id] for p in plans]


def clip_videos(plans: Sequence[ClipPlan], made: Sequence[tuple[dict, VideoFeatures]]) -> list[BankRow]:
    """Bank rows of made clips (unwhitened)."""
    rows = []
    for plan, (entry, features) in zip(plans, made):
        sources, times = label_frames(entry["segments"], np.asarray(features.timestamps, np.float64))
        rows.append(BankRow(plan.clip_id, plan.kind, features.regions, sources, times, entry.get("excluded", [])))
    return rows


def original_videos(sources: Sequence[tuple[str, Path]], model, cache, progress: ProgressFn | None = None
                    ) -> list[BankRow]:
    """Bank rows of the source videos themselves (source id = position; times = timestamps)."""
    rows = []
    for sid, (name, path) in enumerate(sources):
        features = model.extract_video(path, cache=cache)
        stamps = np.asarray(features.timestamps, np.float64)
        rows.append(BankRow(name, "original", features.regions, np.full(len(stamps), sid), stamps))
        if progress is not None:
            progress("sources", sid + 1, len(sources))
    return rows


def prepare_self_supervised(sources: Sequence[tuple[str, Path]], recipe: TrainRecipe, model, cache, run_dir: Path,
                            workers: int = 1, keep_clips: bool = False, progress: ProgressFn | None = None,
                            extra_from: int | None = None):
    """Bank rows of the sources and of their augmented clips (unwhitened), and the clip plans;
    sources from position `extra_from` on are extra footage (see `plan_clips`)."""
    originals = original_videos(sources, model, cache, progress)
    spans = make_spans(sources, recipe)
    plans = plan_clips(spans, recipe, extra_from)
    made = ClipFeatures(model, cache, run_dir, workers, keep_clips, progress).run(plans)
    return originals + clip_videos(plans, made), plans
