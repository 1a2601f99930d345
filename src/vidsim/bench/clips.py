"""Plans of single benchmark clips: which source frames, through which steps, at what size and rate.

A `TransformPlan` is decided from the source's metadata and a seeded generator before any frame is
decoded; it already knows the true time mapping its output will have (`TransformPlan.record`), which
is the clip's ground truth. `vidsim.bench.transforms.write_clip` renders it.
Source time is measured from the start of the video stream, as in `vidsim.decode`.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from vidsim.decode import probe
from vidsim.errors import ConfigError

from .encoders import DEFAULT_ENCODER, REFERENCE_ENCODER, Encoder
from .families import FAMILIES, FPS_TARGET, SPLICE_FAMILIES, STRENGTHS, Step, plan_steps
from .sizing import MAX_SIZE, fit_size, output_rate

__all__ = ["TransformRecord", "TransformPlan", "plan_chain", "plan_cut", "plan_splice", "frames_for"]


@dataclass(frozen=True)
class TransformRecord:
    """What a transform wrote and the true time mapping between its output and its source.

    The output interval [query_start, query_end] shows the source interval [src_start, src_end]
    (played at `speed`). `duration` is the output length (frames / fps).
    """

    path: Path
    family: str  # the family, "chain" for several, "none" for a plain cut, "splice" for a partial copy
    strength: str
    chain: tuple[str, ...]
    params: dict[str, Any]
    src_start: float
    src_end: float
    query_start: float
    query_end: float
    speed: float
    duration: float
    fps: float
    width: int
    height: int
    frames: int
    codec: str = "libx264"


@dataclass(frozen=True)
class TransformPlan:
    """One clip, decided before any frame is decoded (picklable: it is sent to worker processes).

    Output frame k shows source time start + k * speed / fps, through `steps`; a partial copy
    (`host` set) shows the source only in frames [copy[0], copy[1]) and the host clip around them.
    """

    src: str
    start: float
    end: float
    strength: str
    chain: tuple[str, ...]
    family: str
    steps: tuple[Step, ...]
    work: tuple[int, int]  # size the source frames are read at
    size: tuple[int, int]  # output size
    fps: Fraction
    frames: int
    speed: float
    encoder: Encoder
    params: dict[str, Any]
    host: str | None = None
    host_start: float = 0.0
    copy: tuple[int, int] | None = None

    def record(self, path: str | Path) -> TransformRecord:
        """The record of this clip once written to `path` (its ground-truth time mapping)."""
        f = float(self.fps)
        if self.copy is None:
            q0, q1 = 0.0, round((self.end - self.start) / self.speed, 3)
        else:
            q = self.copy[0] / f
            q0, q1 = round(q, 3), round(q + (self.end - self.start), 3)
        return TransformRecord(
            path=Path(path), family=self.family, strength=self.strength, chain=self.chain, params=self.params,
            src_start=round(float(self.start), 3), src_end=round(float(self.end), 3), query_start=q0,
            query_end=q1, speed=float(self.speed), duration=round(self.frames / f, 3), fps=round(f, 3),
            width=self.size[0], height=self.size[1], frames=self.frames, codec=self.encoder.codec,
        )


def frames_for(length: float, fps: Fraction | float) -> int:
    """Frames needed to show `length` seconds at `fps` (at least one)."""
    return max(1, math.ceil(length * fps - 1e-6))


def _check(strength: str, start: float, end: float) -> None:
    if strength not in STRENGTHS:
        raise ConfigError(f"strength must be one of {STRENGTHS}, got {strength!r}")
    if not end > start >= 0:
        raise ConfigError(f"need 0 <= start < end, got [{start}, {end}]")


def _params(steps: Sequence[Step], fps: Fraction, encoder: Encoder) -> dict[str, Any]:
    out: dict[str, Any] = {s.family: s.params for s in steps}
    out["fps"] = round(float(fps), 3)
    out["encoder"] = encoder.describe()
    return out


def plan_chain(chain: Sequence[str], src: str | Path, start: float, end: float, strength: str,
               rng: np.random.Generator, **ctx: Any) -> TransformPlan:
    """Source interval [start, end) of `src` through the families in `chain`, in order.

    ctx: ``host``/``host_start``/``host_end`` (pip), ``fps`` (output rate when no fps family;
    default the source's, at most 30), ``max_size`` ((longer, shorter) side limits),
    ``encoder`` (an `Encoder` when no encode family), ``family`` (label for the record),
    ``info``/``host_info`` (the `probe` of src/host, when the caller has it).
    """
    chain = tuple(chain)
    unknown = [n for n in chain if n not in FAMILIES]
    if unknown:
        raise ConfigError(f"unknown transform(s) {unknown}; known: {sorted(FAMILIES)}")
    _check(strength, start, end)
    info = ctx.get("info") or probe(src)
    fps = Fraction(FPS_TARGET[strength]) if "fps" in chain else Fraction(ctx.get("fps") or output_rate(info.fps))
    work = fit_size(info.width, info.height, ctx.get("max_size", MAX_SIZE))
    ctx = dict(ctx, fps=fps)
    steps = tuple(plan_steps(chain, strength, rng, work, ctx))
    speed = math.prod(s.speed for s in steps)
    encoder = next((s.encoder for s in reversed(steps) if s.encoder), None) or ctx.get("encoder") or DEFAULT_ENCODER
    family = ctx.get("family") or (chain[0] if len(chain) == 1 else ("chain" if chain else "none"))
    return TransformPlan(
        src=str(src), start=start, end=end, strength=strength, chain=chain, family=family, steps=steps, work=work,
        size=steps[-1].size if steps else work, fps=fps, frames=frames_for((end - start) / speed, fps),
        speed=float(speed), encoder=encoder, params=_params(steps, fps, encoder),
    )


def plan_cut(src: str | Path, start: float, end: float, **ctx: Any) -> TransformPlan:
    """[start, end) of `src` unchanged but for the size limit, re-encoded (a benchmark reference)."""
    ctx.setdefault("encoder", REFERENCE_ENCODER)
    return plan_chain((), src, start, end, "weak", np.random.default_rng(0), **ctx)


def plan_splice(src: str | Path, start: float, end: float, *, host: str | Path, host_start: float, before: float,
                after: float, strength: str, rng: np.random.Generator, chain: Sequence[str] = (),
                **ctx: Any) -> TransformPlan:
    """A partial copy: `before` s of `host` from host_start, then [start, end) of `src` (through the
    pixel/geometry/overlay families in `chain`, fitted into the host's frame), then `after` s more
    of the host. The copied part starts at a frame boundary."""
    chain = tuple(chain)
    bad = [n for n in chain if n not in SPLICE_FAMILIES]
    if bad:
        raise ConfigError(f"splice chain may hold only pixel/geometry/overlay families, not {bad}")
    _check(strength, start, end)
    if before < 0 or after < 0:
        raise ConfigError("before and after must be >= 0")
    info, hinfo = ctx.get("info") or probe(src), ctx.get("host_info") or probe(host)
    fps = Fraction(ctx.get("fps") or output_rate(info.fps))
    work = fit_size(info.width, info.height, ctx.get("max_size", MAX_SIZE))
    canvas = fit_size(hinfo.width, hinfo.height, ctx.get("max_size", MAX_SIZE))
    steps = tuple(plan_steps(chain, strength, rng, work, dict(ctx, fps=fps)))
    encoder = ctx.get("encoder") or DEFAULT_ENCODER
    k0 = frames_for(before, fps) if before > 0 else 0
    k1 = k0 + frames_for(end - start, fps)
    n = k1 + (frames_for(after, fps) if after > 0 else 0)
    f = float(fps)
    params = _params(steps, fps, encoder)
    params["host"] = {"name": Path(host).stem, "start": round(float(host_start), 3),
                      "end": round(host_start + (k0 + n - k1) / f, 3)}
    return TransformPlan(
        src=str(src), start=start, end=end, strength=strength, chain=chain, family=ctx.get("family") or "splice",
        steps=steps, work=work, size=canvas, fps=fps, frames=n, speed=1.0, encoder=encoder, params=params,
        host=str(host), host_start=host_start, copy=(k0, k1),
    )
