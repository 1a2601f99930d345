"""Build the deterministic real-footage copy-detection benchmark from the corpus clips.

    from vidsim.bench import build_benchmark, fetch_corpus, needed_clips
    build = build_benchmark(fetch_corpus(only=needed_clips()), "bench", seed=0)

Layout of ``out_dir`` (ids are file stems; dev ids start with 1, test ids with 2)::

    build.json                          seed, parameters, fingerprint, counts
    gt_{dev,test}.csv                   VSC22 ground truth
    manifest_{dev,test}.csv             one row per query (see vidsim.bench.manifest)
    refs_{dev,test}.csv                 one row per reference
    {dev,test}/refs/R1xxxx.mp4          references: 8-15 s source segments, re-encoded (<= 640x360)
    {dev,test}/queries/Q1xxxx.{mp4,webm}

What goes in it is planned first (`vidsim.bench.plan`, from the seed and the clips' metadata),
then the clips are written in worker processes; encoders run single-threaded, so the same seed,
clips and PyAV build give the same manifests, ground truth and files. A build whose ``build.json``
fingerprint matches (seed, parameters, clip names and sizes) and whose files all exist is skipped.
"""
from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import re
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vidsim.errors import ConfigError

from .clips import TransformPlan
from .config import FULL, SMALL, BuildConfig
from .families import FAMILIES
from .manifest import write_split
from .plan import plan_benchmark
from .sources import NEGATIVE_TAKES, SPLITS, Assignment, assign_sources, split_sources
from .transforms import write_clip

__all__ = ["BenchmarkBuild", "build_benchmark", "ProgressCallback"]

BUILDER_VERSION = 1
ProgressCallback = Callable[[int, int, str], None]  # (done, total, what)
_ID_FILE = re.compile(r"^[RQ]\d+\.(mp4|webm)$")


@dataclass(frozen=True)
class BenchmarkBuild:
    """Where a build is and what it holds."""

    out_dir: Path
    seed: int
    small: bool
    skipped: bool  # True when an identical build was already there
    seconds: float
    counts: dict[str, Any]
    total_bytes: int

    def gt_path(self, split: str) -> Path:
        return self.out_dir / f"gt_{split}.csv"

    def refs_dir(self, split: str) -> Path:
        return self.out_dir / split / "refs"

    def queries_dir(self, split: str) -> Path:
        return self.out_dir / split / "queries"


def _fingerprint(seed: int, small: bool, cfg: BuildConfig, assignment: Assignment, corpus: Mapping[str, Path]) -> str:
    clips = sorted({n for v in assignment.values() for names in v.values() for n in names})
    blob = json.dumps({
        "version": BUILDER_VERSION, "seed": int(seed), "small": bool(small), "config": cfg.to_json(),
        "assignment": {s: {k: list(v) for k, v in a.items()} for s, a in assignment.items()},
        "clips": {n: [Path(corpus[n]).name, Path(corpus[n]).stat().st_size] for n in clips},
    }, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()


def _write_all(jobs: list[tuple[str, TransformPlan, Path]], workers: int, progress: ProgressCallback | None) -> None:
    total = len(jobs)
    if workers <= 1:
        for i, (key, plan, dst) in enumerate(jobs):
            write_clip(plan, dst)
            if progress:
                progress(i + 1, total, key)
        return
    # spawn, not fork: forking a process that already runs torch/FFmpeg threads can crash the child.
    with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = {pool.submit(write_clip, plan, dst): key for key, plan, dst in jobs}
        for i, fut in enumerate(as_completed(futures)):
            fut.result()
            if progress:
                progress(i + 1, total, futures[fut])


def _found(out: Path, fingerprint: str) -> dict[str, Any] | None:
    """build.json of an identical finished build in `out`, if there is one."""
    try:
        meta = json.loads((out / "build.json").read_text())
    except (OSError, ValueError):
        return None
    if meta.get("fingerprint") == fingerprint and all((out / f).exists() for f in meta.get("files", ())):
        return meta
    return None


def build_benchmark(
    corpus: Mapping[str, Path],
    out_dir: str | os.PathLike,
    seed: int = 0,
    sources_dev: Sequence[str] | None = None,
    sources_test: Sequence[str] | None = None,
    held_out: Mapping[str, Sequence[str]] | None = None,
    small: bool = False,
    progress: ProgressCallback | None = None,
    *,
    negative_takes: Mapping[str, str] = NEGATIVE_TAKES,
    config: BuildConfig | None = None,
    workers: int | None = None,
    force: bool = False,
) -> BenchmarkBuild:
    """Build (or find already built) the benchmark in `out_dir` from the clips in `corpus` {name: path}.

    sources_dev/sources_test: reference sources per split (defaults SOURCES_DEV/SOURCES_TEST, or
    the SMALL_* ones when small); held_out: {split: held-out sources}; negative_takes: {take: source}
    (a take becomes hard negatives in its source's split). small=True uses the `SMALL` config
    (a few seconds per clip, 8 families). workers: processes (default: CPU count).
    progress(done, total, id) is called as each file is written.
    """
    t0 = time.perf_counter()
    out = Path(out_dir)
    cfg = config or (SMALL if small else FULL)
    unknown = [f for f in cfg.families if f not in FAMILIES]
    if unknown:
        raise ConfigError(f"unknown families {unknown}")
    dev, test, held = split_sources(small, sources_dev, sources_test, held_out)
    corpus = {k: Path(v) for k, v in corpus.items()}
    assignment = assign_sources(dev, test, held, negative_takes, corpus)
    fingerprint = _fingerprint(seed, small, cfg, assignment, corpus)

    meta_path = out / "build.json"
    found = None if force else _found(out, fingerprint)
    if found is not None:
        return BenchmarkBuild(out, seed, small, True, time.perf_counter() - t0, found["counts"], found["total_bytes"])

    plan = plan_benchmark(corpus, seed, assignment, cfg)
    if meta_path.exists():
        meta_path.unlink()  # an interrupted rebuild must not look finished
    files = plan.files()
    for split in SPLITS:
        for sub in ("refs", "queries"):
            (out / split / sub).mkdir(parents=True, exist_ok=True)
    # stale files of an earlier build with other parameters
    keep = {out / rel for rel in files.values()}
    for split in SPLITS:
        for sub in ("refs", "queries"):
            for p in (out / split / sub).iterdir():
                if _ID_FILE.match(p.name) and p not in keep:
                    p.unlink()
    jobs = [(key, plan.clips[key], out / rel) for key, rel in files.items()]
    jobs.sort(key=lambda j: -(j[1].end - j[1].start))  # longest first, for load balance
    _write_all(jobs, workers if workers is not None else (os.cpu_count() or 1), progress)

    counts = {split: write_split(out, plan, split) for split in SPLITS}
    listed = sorted(files.values()) + [f"{p}_{s}.csv" for p in ("gt", "manifest", "refs") for s in SPLITS]
    total = sum((out / f).stat().st_size for f in listed)
    seconds = time.perf_counter() - t0
    meta = {"version": BUILDER_VERSION, "seed": int(seed), "small": bool(small), "fingerprint": fingerprint,
            "config": cfg.to_json(),
            "assignment": {s: {k: list(v) for k, v in a.items()} for s, a in assignment.items()},
            "counts": counts, "total_bytes": total, "build_seconds": round(seconds, 1), "files": listed}
    tmp = meta_path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(meta, indent=1, sort_keys=True))
    os.replace(tmp, meta_path)
    return BenchmarkBuild(out, seed, small, False, seconds, counts, total)
