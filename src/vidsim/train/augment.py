"""Augmented clips for self-supervised training, made with the benchmark's transform families.

Each source video gives stretches (`Span`s) of at most `span_seconds`; each stretch gives
`variants` clips through one family or a random 2-3 family chain of `vidsim.bench`
(at a random strength, a random sub-second start and a low random frame rate), and `splices`
partial copies of a few seconds of it spliced into another source (`vidsim.bench.splice`). Seeds
are drawn from `numpy.random.default_rng([seed, TRAIN_TAG, span, clip])`, a stream the benchmark
builder (`default_rng([seed, split])`) never uses, so no training clip repeats a benchmark query.

Every clip records which source time each of its frames shows (`segments`), which is what
labels copies and non-copies when triplets are built from its features.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from vidsim.bench import (
    CHAINABLE,
    FAMILIES,
    SPLICE_FAMILIES,
    STRENGTHS,
    apply_chain,
    output_suffix,
    random_chain,
    splice,
)
from vidsim.train.recipe import TrainRecipe

TRAIN_TAG = 0x7472616E  # "tran": the seed-sequence word that separates training clips from the benchmark's
#: families drawn for training clips: the benchmark's, but "fps" (every clip gets a low frame rate anyway)
SINGLE_FAMILIES: tuple[str, ...] = tuple(n for n in FAMILIES if n != "fps")
CHAIN_FAMILIES: tuple[str, ...] = tuple(n for n in CHAINABLE if n != "fps")


@dataclass(frozen=True)
class Span:
    """A stretch [start, end) s of source video `source` (an id: frames of one source video are
    copies of each other only at the same source time)."""

    source: int
    name: str
    path: str
    start: float
    end: float

    @property
    def seconds(self) -> float:
        return self.end - self.start


@dataclass(frozen=True)
class ClipPlan:
    """One clip to make (picklable: it is sent to worker processes)."""

    clip_id: str
    kind: str  # "chain" or "splice"
    span: Span
    chain: tuple[str, ...]
    strength: str
    start: float  # source interval shown (chain: all of it; splice: the copied part)
    end: float
    fps: int
    seed: int
    host: Span | None = None
    host_start: float = 0.0
    before: float = 0.0
    after: float = 0.0
    max_size: tuple[int, int] = (640, 360)

    @property
    def filename(self) -> str:
        return self.clip_id + output_suffix(self.chain)


@dataclass
class ClipRecord:
    """A clip that was made: `segments` rows (q0, q1, source, src0, speed) say that clip time
    q in [q0, q1) shows source time src0 + (q - q0) * speed; `excluded` sources are visible in
    the clip without being labelled (a picture-in-picture host), so no pair with them is a negative."""

    clip_id: str
    file: str
    family: str
    chain: list[str]
    strength: str
    segments: list[list[float]]
    excluded: list[int] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def plan_clips(spans: Sequence[Span], recipe: TrainRecipe, extra_from: int | None = None) -> list[ClipPlan]:
    """Every clip of a recipe, deterministically from its seed. Sources numbered `extra_from` and
    above are extra footage: they get `footage_variants` / `footage_splices` clips, and the
    others keep their own clips (hosts among themselves), so adding footage changes none of them."""
    plans: list[ClipPlan] = []
    for si, span in enumerate(spans):
        extra = extra_from is not None and span.source >= extra_from
        hosts = [h for h in spans if h.source != span.source and h.seconds >= 2.0
                 and (extra or extra_from is None or h.source < extra_from)]
        variants, splices = (recipe.footage_variants, recipe.footage_splices) if extra else (recipe.variants, recipe.splices)
        for v in range(variants):
            rng = np.random.default_rng([recipe.seed, TRAIN_TAG, si, v])
            if rng.random() < recipe.chain_prob:
                chain = random_chain(rng, families=CHAIN_FAMILIES)
            else:
                pool = [f for f in SINGLE_FAMILIES if f != "pip" or hosts]
                chain = (pool[int(rng.integers(len(pool)))],)
            strength = STRENGTHS[int(rng.integers(2))]
            fps = int(rng.integers(recipe.clip_fps[0], recipe.clip_fps[1] + 1))
            phase = float(rng.uniform(0.0, min(1.0, span.seconds / 4)))
            host, host_start = None, 0.0
            if "pip" in chain:
                host = hosts[int(rng.integers(len(hosts)))]
                host_start = host.start
            plans.append(ClipPlan(f"s{si:03d}-v{v:03d}", "chain", span, chain, strength, round(span.start + phase, 3),
                                  span.end, fps, int(rng.integers(2**62)), host, host_start,
                                  max_size=(recipe.max_size[0], recipe.max_size[1])))
        for k in range(splices if hosts else 0):
            rng = np.random.default_rng([recipe.seed, TRAIN_TAG, si, 10_000 + k])
            length = float(min(rng.uniform(3.0, 8.0), span.seconds))
            start = float(rng.uniform(span.start, max(span.start, span.end - length)))
            host = hosts[int(rng.integers(len(hosts)))]
            before, after = float(rng.uniform(1.0, 5.0)), float(rng.uniform(1.0, 5.0))
            scale = min(1.0, (host.seconds - 0.2) / (before + after))
            host_start = float(rng.uniform(host.start, host.end - (before + after) * scale))
            strength = STRENGTHS[int(rng.integers(2))]
            chain = () if strength == "weak" else (SPLICE_FAMILIES[int(rng.integers(len(SPLICE_FAMILIES)))],)
            fps = int(rng.integers(recipe.clip_fps[0], recipe.clip_fps[1] + 1))
            plans.append(ClipPlan(f"s{si:03d}-p{k:03d}", "splice", span, chain, strength, round(start, 3),
                                  round(start + length, 3), fps, int(rng.integers(2**62)), host,
                                  round(host_start, 3), round(before * scale, 3), round(after * scale, 3),
                                  max_size=(recipe.max_size[0], recipe.max_size[1])))
    return plans


def _frames_for(seconds: float, fps: float) -> int:
    return max(1, math.ceil(seconds * fps - 1e-6))


def make_clip(plan: ClipPlan, out_dir: str | Path) -> ClipRecord:
    """Write the clip of `plan` into `out_dir` and return what it shows."""
    dst = Path(out_dir) / plan.filename
    rng = np.random.default_rng(plan.seed)
    span = plan.span
    if plan.kind == "chain":
        ctx: dict[str, Any] = {"fps": plan.fps, "max_size": plan.max_size}
        if plan.host is not None:
            ctx.update(host=plan.host.path, host_start=plan.host_start, host_end=plan.host.end)
        rec = apply_chain(plan.chain, span.path, dst, plan.start, plan.end, plan.strength, rng, **ctx)
        segments = [[0.0, float(rec.duration), span.source, plan.start, float(rec.speed)]]
        excluded = [plan.host.source] if plan.host is not None else []
    elif plan.kind == "splice":
        assert plan.host is not None
        rec = splice(span.path, dst, plan.start, plan.end, host=plan.host.path, host_start=plan.host_start,
                     before=plan.before, after=plan.after, strength=plan.strength, rng=rng, chain=plan.chain,
                     fps=plan.fps, max_size=plan.max_size)
        f = float(plan.fps)
        k0 = _frames_for(plan.before, f) if plan.before > 0 else 0
        k1 = k0 + _frames_for(plan.end - plan.start, f)
        segments = [[0.0, k0 / f, plan.host.source, plan.host_start, 1.0],
                    [k0 / f, k1 / f, span.source, plan.start, 1.0],
                    [k1 / f, float(rec.duration), plan.host.source, plan.host_start + k0 / f, 1.0]]
        segments = [s for s in segments if s[1] > s[0]]
        excluded = []
    else:
        raise ValueError(f"unknown clip kind {plan.kind!r}")
    return ClipRecord(plan.clip_id, str(dst), rec.family, list(rec.chain), rec.strength, segments, excluded,
                      {"fps": plan.fps, "speed": rec.speed})


def label_frames(segments: Sequence[Sequence[float]], timestamps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(source id [F] int, source time [F] s) of frames at `timestamps` (clip time); -1/nan where
    no segment covers a frame."""
    sources = np.full(len(timestamps), -1, dtype=np.int64)
    times = np.full(len(timestamps), np.nan)
    for q0, q1, source, src0, speed in segments:
        inside = (timestamps >= q0 - 1e-6) & (timestamps < q1 - 1e-6)
        sources[inside] = int(source)
        times[inside] = src0 + (timestamps[inside] - q0) * speed
    return sources, times
