"""The real-footage copy-detection benchmark: corpus clips, transform families, deterministic builds.

Used by the benchmark scripts (build it, evaluate on it) and by training's augmentation (the same
families make its clips). Planning and writing are apart: what a clip or a build holds is decided
from the seed and the sources' metadata first (`families`, `clips`, `plan`), then the frames are
rendered and encoded (`render`, `transforms.write_clip`, `build`). Files:

    corpus, packages     the clip table and its fetcher (registry clients, archive members)
    sources, config      which clips a build uses, and the numbers that shape it (FULL, SMALL)
    families, clips      transform families and their parameters; the plan of one clip
    frames, render       the frame shown at time t; pixel operations of the families
    transforms           write a planned clip; apply_chain / cut_segment / splice
    plan, manifest, build  the plan of a build with its ground truth; its CSV files; the build

Frames are read through `vidsim.decode` and clips written with `vidsim.decode.VideoWriter`.
"""
from __future__ import annotations

from .build import BenchmarkBuild, build_benchmark
from .clips import TransformPlan, TransformRecord, plan_chain, plan_cut, plan_splice
from .config import FULL, SMALL, BuildConfig
from .corpus import (
    CLIPS,
    CORPUS,
    ChecksumMismatchError,
    CorpusClip,
    CorpusError,
    corpus_status,
    default_corpus_dir,
    fetch_corpus,
)
from .encoders import DEFAULT_ENCODER, REFERENCE_ENCODER, Encoder
from .families import CHAINABLE, FAMILIES, SPLICE_FAMILIES, STRENGTHS, TIME_FAMILIES, output_suffix, random_chain
from .frames import FrameCursor, read_frames
from .manifest import MANIFEST_COLUMNS
from .plan import BenchmarkPlan, plan_benchmark
from .sources import (
    HELD_OUT,
    NEGATIVE_TAKES,
    SMALL_HELD_OUT,
    SMALL_SOURCES_DEV,
    SMALL_SOURCES_TEST,
    SOURCES_DEV,
    SOURCES_TEST,
    SPLITS,
    needed_clips,
    split_clips,
)
from .transforms import TRANSFORMS, apply_chain, cut_segment, splice, write_clip

__all__ = [
    "BenchmarkBuild", "build_benchmark", "BenchmarkPlan", "plan_benchmark", "MANIFEST_COLUMNS",
    "BuildConfig", "FULL", "SMALL",
    "CLIPS", "CORPUS", "CorpusClip", "CorpusError", "ChecksumMismatchError", "corpus_status",
    "default_corpus_dir", "fetch_corpus",
    "SPLITS", "SOURCES_DEV", "SOURCES_TEST", "HELD_OUT", "NEGATIVE_TAKES", "SMALL_SOURCES_DEV",
    "SMALL_SOURCES_TEST", "SMALL_HELD_OUT", "needed_clips", "split_clips",
    "STRENGTHS", "FAMILIES", "TIME_FAMILIES", "CHAINABLE", "SPLICE_FAMILIES", "random_chain", "output_suffix",
    "Encoder", "DEFAULT_ENCODER", "REFERENCE_ENCODER",
    "TransformPlan", "TransformRecord", "plan_chain", "plan_cut", "plan_splice",
    "TRANSFORMS", "apply_chain", "cut_segment", "splice", "write_clip",
    "FrameCursor", "read_frames",
]
