"""Triplets (reference, copy, non-copy) as frame indices into a `FeatureBank`.

Self-supervised (`SelfSupervisedTriplets`): the reference is a window of an original video or of
an augmented clip; the positive a window of *another* clip showing at least `min_copy_frames` of
the same source moments, possibly resampled in time (speed change) or placed between frames of
an unrelated video (a copy inside a longer clip); the negative candidates are windows of the
same source at other times (at least `guard_seconds` away: "same scene, other time") or of
other sources, built the same ways so that the form gives nothing away. Every candidate is
checked against the frame labels. Labelled (`LabelledTriplets`): whole videos from a CSV file.

Batches are a pure function of (seed, step), so a resumed run draws the same triplets.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vidsim.train.csvdata import TrainingDataError
from vidsim.train.data import FeatureBank
from vidsim.train.recipe import TrainRecipe

STEP_TAG = 0x73746570  # "step"
TOLERANCE = 0.5  # s: a query frame within this of a reference frame's source time shows the same moment
SPEEDS = (0.5, 0.67, 1.5, 2.0)
ATTEMPTS = 30


@dataclass
class Triplet:
    """Global frame indices of the reference (the target), the copy and the non-copy candidates."""

    ref: np.ndarray
    pos: np.ndarray
    negs: list[np.ndarray]


@dataclass(frozen=True)
class _Ref:
    source: int
    tmin: float
    tmax: float
    video: int
    excluded: frozenset


class SelfSupervisedTriplets:
    """Triplets cut from labelled frames; `extra_sources` (extra footage) give a
    `footage_ref_share` of the references, the other sources the rest."""

    def __init__(self, bank: FeatureBank, recipe: TrainRecipe, extra_sources: frozenset[int] = frozenset()):
        self.bank, self.recipe = bank, recipe
        self.extra_sources = frozenset(extra_sources)
        videos = bank.videos
        self.contains: dict[int, list[int]] = {}
        for i, v in enumerate(videos):
            for s in np.unique(v.sources[v.sources >= 0]):
                self.contains.setdefault(int(s), []).append(i)
        self.without = {s: [i for i, v in enumerate(videos) if s not in set(v.sources.tolist()) and s not in v.excluded]
                        for s in self.contains}
        # references: originals and augmented clips whose every frame shows one source
        self.ref_videos = [i for i, v in enumerate(videos) if v.kind in ("original", "chain")
                           and len(v.sources) and (v.sources == v.sources[0]).all() and v.sources[0] >= 0
                           and len(self.contains[int(v.sources[0])]) > 1]
        if not self.ref_videos:
            raise TrainingDataError("no video can be a reference: each source needs its original and augmented clips")

    # --- labels ------------------------------------------------------------------------------
    def classify(self, ref: _Ref, index: np.ndarray) -> int:
        """+1 copy, -1 non-copy, 0 neither (too little overlap, or too close in time to call)."""
        src, t = self.bank.sources[index], self.bank.times[index]
        same = src == ref.source
        shared = same & (t >= ref.tmin - TOLERANCE) & (t <= ref.tmax + TOLERANCE)
        if shared.sum() >= self.recipe.min_copy_frames:
            return 1
        guard = TOLERANCE + self.recipe.guard_seconds
        near = same & (t >= ref.tmin - guard) & (t <= ref.tmax + guard)
        if near.any():
            return 0
        excluded = frozenset().union(*(self.bank.videos[i].excluded for i in np.unique(self.bank.video_of[index])))
        if ref.source in excluded or np.isin(src, list(ref.excluded)).any():
            return 0
        return -1

    # --- windows -------------------------------------------------------------------------------
    def _window(self, rng: np.random.Generator, video: int, centre: int, length: int, step: float) -> np.ndarray | None:
        """`length` frames of `video` at `step` frames apart (step < 1 repeats frames) around local frame `centre`."""
        frames = self.bank.videos[video].frames
        span = (length - 1) * step
        if span > frames - 1:
            return None
        first = centre - step * int(rng.integers(length))
        first = min(max(first, 0.0), frames - 1 - span)
        local = np.round(first + step * np.arange(length)).astype(np.int64)
        return self.bank.videos[video].start + np.clip(local, 0, frames - 1)

    def _shaped(self, rng: np.random.Generator, video: int, centre: int, length: int, host_from: list[int]
                ) -> np.ndarray | None:
        """A query of `length` frames around `centre`: plain, resampled in time, or inside a host video."""
        r = self.recipe
        form = rng.random()
        if form < r.splice_prob and length >= r.min_copy_frames + 2 and host_from:
            k = int(rng.integers(r.min_copy_frames, length - 1))
            part = self._window(rng, video, centre, k, 1.0)
            host = host_from[int(rng.integers(len(host_from)))]
            around = self._window(rng, host, int(rng.integers(self.bank.videos[host].frames)), length - k, 1.0)
            if part is None or around is None:
                return None
            before = int(rng.integers(1, length - k)) if length - k > 1 else 0
            return np.concatenate([around[:before], part, around[before:]])
        if form < r.splice_prob + r.speed_prob:
            return self._window(rng, video, centre, length, SPEEDS[int(rng.integers(len(SPEEDS)))])
        window = self._window(rng, video, centre, length, 1.0)
        if window is None:  # a short video: stretch it (slow motion)
            frames = self.bank.videos[video].frames
            step = (frames - 1) / max(1, length - 1)
            window = self._window(rng, video, centre, length, step) if step >= 0.5 else None
        return window

    # --- sampling ------------------------------------------------------------------------------------
    def _reference(self, rng: np.random.Generator, length: int) -> tuple[_Ref, np.ndarray] | None:
        r = self.recipe
        videos = self.bank.videos
        augmented = rng.random() < r.augmented_ref_prob
        pool = [i for i in self.ref_videos if videos[i].frames >= length and (videos[i].kind != "original") == augmented]
        pool = pool or [i for i in self.ref_videos if videos[i].frames >= length]
        if not pool:
            return None
        sources = sorted({int(videos[i].sources[0]) for i in pool})
        if self.extra_sources:  # draw the kind first (footage or not), then a source of that kind
            extra = [s for s in sources if s in self.extra_sources]
            other = [s for s in sources if s not in self.extra_sources]
            if extra and other:
                sources = extra if rng.random() < r.footage_ref_share else other
        source = sources[int(rng.integers(len(sources)))]
        pool = [i for i in pool if videos[i].sources[0] == source]
        vi = pool[int(rng.integers(len(pool)))]
        v = videos[vi]
        first = int(rng.integers(v.frames - length + 1))
        index = np.arange(v.start + first, v.start + first + length)
        t = self.bank.times[index]
        return _Ref(source, float(np.nanmin(t)), float(np.nanmax(t)), vi, v.excluded), index

    def _positive(self, rng: np.random.Generator, ref: _Ref, length: int) -> np.ndarray | None:
        candidates = [i for i in self.contains[ref.source] if i != ref.video]
        hosts = self.without[ref.source]
        for _ in range(ATTEMPTS):
            vi = candidates[int(rng.integers(len(candidates)))]
            v = self.bank.videos[vi]
            shown = np.flatnonzero((v.sources == ref.source) & (v.times >= ref.tmin - TOLERANCE)
                                   & (v.times <= ref.tmax + TOLERANCE))
            if len(shown) < self.recipe.min_copy_frames:
                continue
            query = self._shaped(rng, vi, int(shown[int(rng.integers(len(shown)))]), length, hosts)
            if query is not None and self.classify(ref, query) == 1:
                return query
        return None

    def _negative(self, rng: np.random.Generator, ref: _Ref, length: int) -> np.ndarray | None:
        hosts = self.without[ref.source]
        guard = TOLERANCE + self.recipe.guard_seconds + 1.0
        for _ in range(ATTEMPTS):
            if rng.random() < self.recipe.same_source_negative_prob:
                vi = self.contains[ref.source][int(rng.integers(len(self.contains[ref.source])))]
                v = self.bank.videos[vi]
                away = np.flatnonzero((v.sources == ref.source) & ((v.times < ref.tmin - guard) | (v.times > ref.tmax + guard)))
                if not len(away):
                    continue
                centre = int(away[int(rng.integers(len(away)))])
            else:
                if not hosts:
                    continue
                vi = hosts[int(rng.integers(len(hosts)))]
                centre = int(rng.integers(self.bank.videos[vi].frames))
            query = self._shaped(rng, vi, centre, length, hosts)
            if query is not None and self.classify(ref, query) == -1:
                return query
        return None

    def batch(self, step: int, size: int | None = None) -> list[Triplet]:
        """The triplets of training step `step` (same step, same triplets)."""
        r = self.recipe
        rng = np.random.default_rng([r.seed, STEP_TAG, step])
        ref_len = int(rng.integers(r.ref_frames[0], r.ref_frames[1] + 1))
        query_len = int(rng.integers(r.query_frames[0], r.query_frames[1] + 1))
        longest = max(self.bank.videos[i].frames for i in self.ref_videos)
        ref_len = min(ref_len, longest)
        out: list[Triplet] = []
        tries = 0
        while len(out) < (size or r.batch_size):
            tries += 1
            if tries > 50 * (size or r.batch_size):
                raise TrainingDataError(f"cannot build triplets of {ref_len}-frame references and {query_len}-frame "
                                        "queries from this data: too few sources or too short videos")
            drawn = self._reference(rng, ref_len)
            if drawn is None:
                continue
            ref, ref_index = drawn
            pos = self._positive(rng, ref, query_len)
            if pos is None:
                continue
            negs = [n for n in (self._negative(rng, ref, query_len) for _ in range(r.mining_pool)) if n is not None]
            if negs:
                out.append(Triplet(ref_index, pos, negs))
        return out


class LabelledTriplets:
    """Triplets from labelled videos: items (reference video, positive video, negative videos)."""

    def __init__(self, bank: FeatureBank, items: list[tuple[int, int, list[int]]], recipe: TrainRecipe):
        if not items:
            raise TrainingDataError("no labelled triplet")
        self.bank, self.items, self.recipe = bank, items, recipe

    def _frames(self, video: int) -> np.ndarray:
        v = self.bank.videos[video]
        return np.arange(v.start, v.stop)

    def batch(self, step: int, size: int | None = None) -> list[Triplet]:
        r = self.recipe
        size = size or r.batch_size
        epoch, offset = divmod(step, r.steps_per_epoch)
        order = np.random.default_rng([r.seed, STEP_TAG, epoch]).permutation(len(self.items))
        rng = np.random.default_rng([r.seed, STEP_TAG, epoch, offset])
        out = []
        for k in range(offset * size, offset * size + size):
            ref, pos, negs = self.items[int(order[k % len(order)])]
            pick = rng.permutation(len(negs))[: r.mining_pool]
            out.append(Triplet(self._frames(ref), self._frames(pos), [self._frames(negs[int(j)]) for j in pick]))
        return out
