"""Copied-segment localisation: temporal alignment on a frame-to-frame similarity map, as `Segment`s
in seconds, best first. Methods `tn` (default), `dp` and `hv` behind one factory; the methods,
their parameters and how the defaults were chosen are described in docs/alignment.md.

    localise(f2f, query_times, target_times, method="tn", **params) -> list[Segment]
    make_aligner(method, **params)   # a reusable, validated aligner (callable the same way)
    available_aligners()             # ["dp", "hv", "tn"]
"""
from vidsim.similarity.align.base import Aligner
from vidsim.similarity.align.dp import DynamicProgramming
from vidsim.similarity.align.factory import DEFAULT_METHOD, available_aligners, localise, make_aligner
from vidsim.similarity.align.hv import HoughVoting
from vidsim.similarity.align.paths import AlignmentError, MapPath, paths_to_segments, sample_period
from vidsim.similarity.align.suppress import suppress_cross_reference
from vidsim.similarity.align.tn import TemporalNetwork

__all__ = [
    "DEFAULT_METHOD",
    "Aligner",
    "AlignmentError",
    "DynamicProgramming",
    "HoughVoting",
    "MapPath",
    "TemporalNetwork",
    "available_aligners",
    "localise",
    "make_aligner",
    "paths_to_segments",
    "sample_period",
    "suppress_cross_reference",
]
