"""Named video transforms for the copy-detection benchmark, each at two strengths.

A transform plans its clip (`vidsim.bench.clips`), then `write_clip` decodes the source through
`vidsim.decode` on the clip's constant frame-rate grid, changes the frames (`vidsim.bench.render`)
and encodes them with `vidsim.decode.VideoWriter` (one encoder thread: the same inputs and seed
give the same bytes). Each returns a `TransformRecord` holding the true time mapping.

    rec = TRANSFORMS["crop"](src, "q.mp4", 12.0, 20.0, "strong", np.random.default_rng(0))
    rec = apply_chain(("crop", "text", "encode-h264"), src, "q.mp4", 12.0, 20.0, "weak", rng)
    rec = splice(src, "p.mp4", 12.0, 16.0, host=other, host_start=3.0, before=2.0, after=3.0,
                 strength="weak", rng=rng)

Outputs keep the shorter side <= 360 and the longer <= 640 pixels (``max_size`` changes that);
everything but ``encode-*`` is written as H.264 CRF 23 (`DEFAULT_ENCODER`); the families are
listed in `vidsim.bench.families`.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import numpy as np

from vidsim.decode import VideoWriter

from .clips import TransformPlan, TransformRecord, plan_chain, plan_cut, plan_splice
from .families import FAMILIES
from .frames import FrameCursor
from .render import Pipeline, contain

__all__ = ["TRANSFORMS", "TransformFn", "apply_chain", "cut_segment", "splice", "write_clip"]


def write_clip(plan: TransformPlan, dst: str | Path) -> TransformRecord:
    """Decode, transform and encode the clip `plan` describes into `dst`."""
    dst = Path(dst)
    f = float(plan.fps)
    with ExitStack() as stack:
        pipeline = stack.enter_context(Pipeline(plan.steps))
        reader = stack.enter_context(FrameCursor(plan.src, plan.work))
        host = stack.enter_context(FrameCursor(plan.host, plan.size)) if plan.host is not None else None
        writer = stack.enter_context(VideoWriter(dst, plan.size, plan.fps, plan.encoder.encoding(plan.fps, *plan.size)))
        if host is None or plan.copy is None:
            for k in range(plan.frames):
                writer.write(pipeline(reader.at(plan.start + k * plan.speed / f), k))
        else:
            k0, k1 = plan.copy
            for k in range(plan.frames):
                if k0 <= k < k1:
                    image = contain(pipeline(reader.at(plan.start + (k - k0) / f), k), plan.size)
                else:
                    t = k / f if k < k0 else k0 / f + (k - k1) / f
                    image = host.at(plan.host_start + t)
                writer.write(image)
    return plan.record(dst)


def apply_chain(chain: Sequence[str], src: str | Path, dst: str | Path, start: float, end: float,
                strength: str, rng: np.random.Generator, **ctx: Any) -> TransformRecord:
    """Write source interval [start, end) of `src` to `dst` through the families in `chain`, in order.

    ctx: ``host``/``host_start``/``host_end`` (pip), ``fps`` (output rate when no fps family;
    default the source's, at most 30), ``max_size`` ((longer, shorter) side limits),
    ``encoder`` (an `Encoder` when no encode family), ``family`` (label for the record).
    """
    return write_clip(plan_chain(chain, src, start, end, strength, rng, **ctx), dst)


def cut_segment(src: str | Path, dst: str | Path, start: float, end: float, **ctx: Any) -> TransformRecord:
    """Re-encode [start, end) of `src` unchanged but for the size limit (a benchmark reference)."""
    return write_clip(plan_cut(src, start, end, **ctx), dst)


def splice(src: str | Path, dst: str | Path, start: float, end: float, *, host: str | Path,
           host_start: float, before: float, after: float, strength: str, rng: np.random.Generator,
           chain: Sequence[str] = (), **ctx: Any) -> TransformRecord:
    """A partial copy: `before` s of `host` from host_start, then [start, end) of `src` (through the
    pixel/geometry/overlay families in `chain`, fitted into the host's frame), then `after` s more
    of the host. The copied part starts at a frame boundary; the record gives its true times."""
    plan = plan_splice(src, start, end, host=host, host_start=host_start, before=before, after=after,
                       strength=strength, rng=rng, chain=chain, **ctx)
    return write_clip(plan, dst)


TransformFn = Callable[..., TransformRecord]


def _single(name: str) -> TransformFn:
    def transform(src: str | Path, dst: str | Path, start: float, end: float, strength: str,
                  rng: np.random.Generator, **ctx: Any) -> TransformRecord:
        return apply_chain((name,), src, dst, start, end, strength, rng, **ctx)

    transform.__name__ = transform.__qualname__ = name.replace("-", "_")
    transform.__doc__ = f"{name}: {FAMILIES[name].description}. See apply_chain."
    return transform


#: name -> transform(src, dst, start, end, strength, rng, **ctx) -> TransformRecord
TRANSFORMS: Mapping[str, TransformFn] = {name: _single(name) for name in FAMILIES}
