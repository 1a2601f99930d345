"""Aligners by name: `make_aligner`, `available_aligners` and the one-call `localise`."""
from __future__ import annotations

from dataclasses import fields
from typing import Any

from vidsim.similarity.align.base import Aligner
from vidsim.similarity.align.dp import DynamicProgramming
from vidsim.similarity.align.hv import HoughVoting
from vidsim.similarity.align.paths import AlignmentError
from vidsim.similarity.align.tn import TemporalNetwork
from vidsim.similarity.segments import Segment

_ALIGNERS: dict[str, type[Aligner]] = {"tn": TemporalNetwork, "dp": DynamicProgramming, "hv": HoughVoting}
DEFAULT_METHOD = "tn"


def available_aligners() -> list[str]:
    """Names accepted by :func:`make_aligner` and :func:`localise`."""
    return sorted(_ALIGNERS)


def make_aligner(method: str = DEFAULT_METHOD, **params: Any) -> Aligner:
    """Build an aligner by name with its parameters (validated: unknown names raise AlignmentError);
    call it as `aligner(f2f, query_times, target_times)`."""
    cls = _ALIGNERS.get(str(method).lower())
    if cls is None:
        raise AlignmentError(f"unknown alignment method {method!r}; available: {', '.join(available_aligners())}")
    allowed = {f.name for f in fields(cls)}
    unknown = sorted(set(params) - allowed)
    if unknown:
        raise AlignmentError(f"alignment method {cls.name!r} has no parameter(s) {unknown}; "
                             f"it takes {sorted(allowed)}")
    return cls(**params)


def localise(f2f: Any, query_times: Any, target_times: Any, method: str = DEFAULT_METHOD,
             **params: Any) -> list[Segment]:
    """Copied segments between a query and a target from their f2f map [P, Q] (numpy or torch).

    ``query_times`` [P] and ``target_times`` [Q] are the frames' timestamps in seconds. Returns
    Segments in seconds, best (highest mean similarity) first; empty when nothing is copied.
    ``method``: "tn" (temporal network, default), "dp" (dynamic programming), "hv" (Hough voting);
    ``params`` are that method's parameters (see the classes).
    """
    return make_aligner(method, **params)(f2f, query_times, target_times)
