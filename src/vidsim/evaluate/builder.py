"""Deterministic real-footage copy-detection benchmark built from the corpus clips.

    from vidsim.evaluate.corpus import fetch_corpus
    from vidsim.evaluate.builder import build_benchmark, needed_clips
    build = build_benchmark(fetch_corpus(only=needed_clips()), "bench", seed=0)

Layout of ``out_dir`` (ids are file stems; dev ids start with 1, test ids with 2)::

    build.json                          seed, parameters, fingerprint, counts
    gt_{dev,test}.csv                   VSC22 ground truth (query_id,ref_id,query_start,query_end,ref_start,ref_end)
    manifest_{dev,test}.csv             one row per query: split, kind, family, strength, chain, source, params...
    refs_{dev,test}.csv                 one row per reference: source and source interval
    {dev,test}/refs/R1xxxx.mp4          references: 8-15 s source segments, re-encoded (<= 640x360)
    {dev,test}/queries/Q1xxxx.{mp4,webm}

How it is made, split by split (references and queries of a split come from its own sources):

* Each reference source is cut into 8-15 s references with gaps of >= 6 s between them
  (as many as fit at 11.5 s each, at most 6 per source); what lies between and around them
  is never a reference.
* Copies: every family at both strengths (``copies_per_combo`` times each, spread round-robin
  over the references), plus random 2-3 family chains at both strengths. A copy shows the whole
  reference or a random part of it (>= 5 s); its ground truth maps the query interval (stretched
  by speed changes) onto the reference interval.
* Partial copies: 3-6 s of a reference spliced into a held-out clip (1-5 s of it before, 1-5 s
  after); weak = plain copy, strong = the copy part goes through a pixel/geometry/overlay family.
* Hard negatives (no copy): stretches of the reference sources outside every reference
  (>= 1 s away from them), and the "negative takes" (cap13: the same man in the same room as
  cap12) in the same split; each goes through a random family.
* Unrelated (no copy): clips of the held-out sources, through a random family.

The default split (by source, fixed; see ``SOURCES_DEV``/``SOURCES_TEST``/``HELD_OUT``):
dev references from cap12, megamind, bikes, world, with cap13 as hard negative and tree,
carphone held out; test references from franck, minions, vtest, wolfgang, with city,
bigbuckbunny, single_face held out.

Everything random is drawn from ``numpy.random.default_rng`` seeded with ``seed`` and the split,
during planning; encoders run single-threaded, so the same seed, clips and PyAV build give the
same manifests, ground truth and files. A build whose ``build.json`` fingerprint matches (seed,
parameters, clip names and sizes) and whose files all exist is skipped.
"""
from __future__ import annotations

import csv
import hashlib
import json
import multiprocessing
import os
import re
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .groundtruth import GroundTruth, Segment, write_vsc_csv
from .transforms import (
    CHAINABLE,
    FAMILIES,
    STRENGTHS,
    apply_chain,
    cut_segment,
    output_suffix,
    random_chain,
    source_info,
    splice,
)

__all__ = [
    "SPLITS",
    "SOURCES_DEV",
    "SOURCES_TEST",
    "HELD_OUT",
    "NEGATIVE_TAKES",
    "SMALL_SOURCES_DEV",
    "SMALL_SOURCES_TEST",
    "SMALL_HELD_OUT",
    "BuildConfig",
    "FULL",
    "SMALL",
    "BenchmarkBuild",
    "build_benchmark",
    "plan_benchmark",
    "needed_clips",
    "MANIFEST_COLUMNS",
]

BUILDER_VERSION = 1
SPLITS: tuple[str, ...] = ("dev", "test")
_SPLIT_CODE = {"dev": 1, "test": 2}

# Fixed split by source. Faces, animation, surveillance/static and scenery appear in both.
SOURCES_DEV: tuple[str, ...] = ("cap12", "megamind", "bikes", "world")
SOURCES_TEST: tuple[str, ...] = ("franck", "minions", "vtest", "wolfgang")
#: Held-out sources: never references; unrelated queries and hosts (partial copies, pip).
HELD_OUT: Mapping[str, tuple[str, ...]] = {"dev": ("tree", "carphone"), "test": ("city", "bigbuckbunny", "single_face")}
#: Another take of a reference source (hard negatives in that source's split): take -> source.
NEGATIVE_TAKES: Mapping[str, str] = {"cap13": "cap12"}

SMALL_SOURCES_DEV: tuple[str, ...] = ("bikes",)
SMALL_SOURCES_TEST: tuple[str, ...] = ("megamind",)
SMALL_HELD_OUT: Mapping[str, tuple[str, ...]] = {"dev": ("carphone",), "test": ("carphone",)}

ProgressCallback = Callable[[int, int, str], None]  # (done, total, what)

MANIFEST_COLUMNS = (
    "query_id", "split", "kind", "family", "strength", "chain", "source", "ref_id",
    "src_start", "src_end", "query_start", "query_end", "ref_start", "ref_end",
    "duration", "fps", "width", "height", "file", "params",
)
REF_COLUMNS = ("ref_id", "split", "source", "src_start", "src_end", "duration", "fps", "width", "height", "file")


@dataclass(frozen=True)
class BuildConfig:
    """The numbers that shape a build (part of the fingerprint)."""

    ref_length: tuple[float, float] = (8.0, 15.0)
    min_gap: float = 6.0  # between references of a source (room for a hard negative)
    max_refs_per_source: int = 6
    margin: float = 0.25  # kept clear at both ends of a source
    families: tuple[str, ...] = tuple(FAMILIES)
    copies_per_combo: Mapping[str, int] = field(default_factory=lambda: {"dev": 1, "test": 2})
    chains_per_strength: Mapping[str, int] = field(default_factory=lambda: {"dev": 4, "test": 8})
    min_copy: float = 5.0
    full_copy_prob: float = 0.35
    partials_per_ref: int = 1
    partial_length: tuple[float, float] = (3.0, 6.0)
    partial_host: tuple[float, float] = (1.0, 5.0)  # host seconds before and after, each
    negative_length: tuple[float, float] = (4.0, 10.0)
    negative_guard: float = 1.0
    max_negatives_per_source: int = 4
    takes_per_negative_source: int = 3
    unrelated: Mapping[str, int] = field(default_factory=lambda: {"dev": 8, "test": 10})
    unrelated_length: tuple[float, float] = (4.0, 12.0)
    max_size: tuple[int, int] = (640, 360)

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        return {k: (dict(v) if isinstance(v, Mapping) else list(v) if isinstance(v, tuple) else v)
                for k, v in d.items()}


FULL = BuildConfig()
SMALL = BuildConfig(
    ref_length=(3.0, 3.5), min_gap=2.2, max_refs_per_source=2, margin=0.1,
    families=("crop", "hflip", "grayscale", "text", "pip", "speed-fast", "fps", "encode-h264"),
    copies_per_combo={"dev": 1, "test": 1}, chains_per_strength={"dev": 1, "test": 1},
    min_copy=2.0, full_copy_prob=0.5, partials_per_ref=1, partial_length=(1.5, 2.0), partial_host=(0.5, 1.0),
    negative_length=(1.5, 2.5), negative_guard=0.3, max_negatives_per_source=1, takes_per_negative_source=1,
    unrelated={"dev": 1, "test": 1}, unrelated_length=(1.5, 2.5), max_size=(320, 240),
)


# --------------------------------------------------------------------------- planning
@dataclass(frozen=True)
class _Ref:
    ref_id: str
    split: str
    source: str
    start: float
    end: float


@dataclass
class _Query:
    split: str
    kind: str  # copy, partial, hard-negative, unrelated
    family: str
    strength: str
    chain: tuple[str, ...]
    source: str
    src_start: float
    src_end: float
    seed: int
    ref: _Ref | None = None
    host: str | None = None
    host_start: float = 0.0
    host_end: float | None = None
    before: float = 0.0
    after: float = 0.0
    query_id: str = ""


def _r(x: float) -> float:
    return round(float(x), 3)


def _layout(duration: float, cfg: BuildConfig, rng: np.random.Generator) -> list[tuple[float, float]]:
    """Reference intervals of one source: up to max_refs of ref_length, >= min_gap apart, spread out.

    As many as fit at the mean length (one when only the shortest fits), so that about a third
    of a long source or more stays free for hard negatives."""
    lo, hi = cfg.ref_length
    usable = duration - 2 * cfg.margin
    mid = (lo + hi) / 2
    n = 0
    while n < cfg.max_refs_per_source and (n + 1) * mid + n * cfg.min_gap <= usable + 1e-9:
        n += 1
    if n == 0 and lo <= usable + 1e-9:
        n = 1
    if n == 0:
        return []
    lengths = rng.uniform(lo, hi, size=n)
    room = usable - (n - 1) * cfg.min_gap
    if lengths.sum() > room:  # shrink towards lo to fit
        excess = lengths - lo
        lengths = lo + excess * max(0.0, (room - n * lo) / excess.sum()) if excess.sum() > 0 else lengths
    free = max(0.0, usable - lengths.sum() - (n - 1) * cfg.min_gap)
    weights = rng.dirichlet(np.ones(n + 1))
    out, pos = [], cfg.margin + free * weights[0]
    for i in range(n):
        start = _r(pos)
        end = _r(min(start + lengths[i], duration - cfg.margin))
        out.append((start, end))
        pos = end + cfg.min_gap + free * weights[i + 1]
    return out


def _free(duration: float, taken: Sequence[tuple[float, float]], cfg: BuildConfig) -> list[tuple[float, float]]:
    """Stretches of a source at least negative_guard away from every reference."""
    edges, pos = [], cfg.margin
    for s, e in sorted(taken):
        if s - cfg.negative_guard > pos:
            edges.append((pos, s - cfg.negative_guard))
        pos = max(pos, e + cfg.negative_guard)
    if duration - cfg.margin > pos:
        edges.append((pos, duration - cfg.margin))
    return [(a, b) for a, b in edges if b - a >= cfg.negative_length[0]]


def _interval(rng: np.random.Generator, a: float, b: float, length: tuple[float, float]) -> tuple[float, float]:
    n = min(float(rng.uniform(*length)), b - a)
    s = float(rng.uniform(a, b - n))
    return _r(s), _r(min(s + n, b))


def _seed(rng: np.random.Generator) -> int:
    return int(rng.integers(0, 2**62))


def _random_family(rng: np.random.Generator, families: Sequence[str]) -> tuple[str, str]:
    pool = [f for f in families if f != "pip"]
    return pool[int(rng.integers(0, len(pool)))], STRENGTHS[int(rng.integers(0, 2))]


_SPLICE_FAMILIES = tuple(n for n, f in FAMILIES.items() if f.kind in ("geometry", "pixel", "overlay"))


def _plan_split(split: str, sources: Sequence[str], held: Sequence[str], takes: Sequence[str],
                infos: Mapping[str, Any], seed: int, cfg: BuildConfig) -> tuple[list[_Ref], list[_Query]]:
    rng = np.random.default_rng([int(seed), _SPLIT_CODE[split]])
    code = _SPLIT_CODE[split]
    hosts = [h for h in held if infos[h].duration > 0.5]

    # references, interleaved across sources
    per_source: dict[str, list[tuple[float, float]]] = {s: _layout(infos[s].duration, cfg, rng) for s in sources}
    order: list[tuple[str, tuple[float, float]]] = []
    for i in range(max((len(v) for v in per_source.values()), default=0)):
        order += [(s, per_source[s][i]) for s in sources if i < len(per_source[s])]
    refs = [_Ref(f"R{code}{i + 1:04d}", split, s, a, b) for i, (s, (a, b)) in enumerate(order)]
    if not refs:
        raise ValueError(f"{split}: no source is long enough for a {cfg.ref_length[0]} s reference")

    queries: list[_Query] = []

    def host_for(need: float) -> tuple[str, float, float]:
        name = hosts[int(rng.integers(0, len(hosts)))]
        d = infos[name].duration - 2 * 0.05
        if d <= need:
            return name, 0.05, _r(0.05 + d)
        s = _r(rng.uniform(0.05, 0.05 + d - need))
        return name, s, _r(s + need)

    # copies
    combos = [(fam, st) for fam in cfg.families for st in STRENGTHS
              for _ in range(cfg.copies_per_combo.get(split, 1))]
    chainable = [f for f in cfg.families if f in CHAINABLE]
    for st in STRENGTHS:
        for _ in range(cfg.chains_per_strength.get(split, 0)):
            combos.append((random_chain(rng, families=chainable), st))
    rng.shuffle(combos)  # type: ignore[arg-type]
    ref_cycle = [refs[int(i)] for i in rng.permutation(len(refs))]
    for i, (fam, st) in enumerate(combos):
        ref = ref_cycle[i % len(ref_cycle)]
        chain = fam if isinstance(fam, tuple) else (fam,)
        if "pip" in chain and not hosts:
            continue
        length = ref.end - ref.start
        if rng.random() < cfg.full_copy_prob or length <= cfg.min_copy:
            a, b = ref.start, ref.end
        else:
            a, b = _interval(rng, ref.start, ref.end, (max(cfg.min_copy, 0.5 * length), length))
        q = _Query(split, "copy", "chain" if isinstance(fam, tuple) else fam, st, chain, ref.source, a, b,
                   _seed(rng), ref=ref)
        if "pip" in chain:
            q.host, q.host_start, q.host_end = host_for(b - a)
        queries.append(q)

    # partial copies
    if hosts:
        strengths = [STRENGTHS[i % 2] for i in range(len(refs) * cfg.partials_per_ref)]
        rng.shuffle(strengths)
        for i, st in enumerate(strengths):
            ref = refs[i % len(refs)]
            a, b = _interval(rng, ref.start, ref.end, cfg.partial_length)
            before, after = (float(rng.uniform(*cfg.partial_host)) for _ in range(2))
            host, hs, he = host_for(before + after)
            scale = min(1.0, (he - hs) / (before + after))
            chain = () if st == "weak" else (_SPLICE_FAMILIES[int(rng.integers(0, len(_SPLICE_FAMILIES)))],)
            queries.append(_Query(split, "partial", "splice", st, chain, ref.source, a, b, _seed(rng), ref=ref,
                                  host=host, host_start=hs, before=_r(before * scale), after=_r(after * scale)))

    # hard negatives: outside every reference of the same sources, and other takes
    neg_families = [f for f in cfg.families]
    for s in sources:
        cands = []
        for ga, gb in _free(infos[s].duration, per_source[s], cfg):
            pos = ga
            while gb - pos >= cfg.negative_length[0]:  # several per long stretch, guard apart
                a, b = _interval(rng, pos, min(gb, pos + cfg.negative_length[1] + 2.0), cfg.negative_length)
                cands.append((a, b))
                pos = b + cfg.negative_guard
        picks = rng.permutation(len(cands))[: cfg.max_negatives_per_source]
        for ci in sorted(int(i) for i in picks):
            a, b = cands[ci]
            fam, st = _random_family(rng, neg_families)
            queries.append(_Query(split, "hard-negative", fam, st, (fam,), s, a, b, _seed(rng)))
    for take in takes:
        d = infos[take].duration
        n = cfg.takes_per_negative_source
        width = (d - 2 * cfg.margin) / n
        for j in range(n):
            lo = cfg.margin + j * width
            a, b = _interval(rng, lo, lo + width, cfg.negative_length)
            fam, st = _random_family(rng, neg_families)
            queries.append(_Query(split, "hard-negative", fam, st, (fam,), take, a, b, _seed(rng)))

    # unrelated: held-out sources
    for j in range(cfg.unrelated.get(split, 0) if held else 0):
        name = held[j % len(held)]
        d = infos[name].duration
        a, b = _interval(rng, cfg.margin, d - cfg.margin, cfg.unrelated_length)
        fam, st = _random_family(rng, neg_families)
        queries.append(_Query(split, "unrelated", fam, st, (fam,), name, a, b, _seed(rng)))

    for i, j in enumerate(rng.permutation(len(queries))):
        queries[int(j)].query_id = f"Q{code}{i + 1:04d}"
    queries.sort(key=lambda q: q.query_id)
    return refs, queries


@dataclass(frozen=True)
class _Plan:
    refs: dict[str, list[_Ref]]
    queries: dict[str, list[_Query]]


def _assignment(sources_dev, sources_test, held_out, negative_takes, corpus) -> dict[str, dict[str, tuple[str, ...]]]:
    split_sources = {"dev": tuple(sources_dev), "test": tuple(sources_test)}
    overlap = set(split_sources["dev"]) & set(split_sources["test"])
    if overlap:
        raise ValueError(f"sources in both splits: {sorted(overlap)}")
    held = {s: tuple(held_out.get(s, ())) for s in SPLITS}
    refs_all = set(split_sources["dev"]) | set(split_sources["test"])
    bad = refs_all & (set(held["dev"]) | set(held["test"]))
    if bad:
        raise ValueError(f"held-out sources also give references: {sorted(bad)}")
    takes = {s: tuple(t for t, of in negative_takes.items() if of in split_sources[s] and t in corpus)
             for s in SPLITS}
    out = {s: {"sources": split_sources[s], "held_out": held[s], "takes": takes[s]} for s in SPLITS}
    missing = sorted({n for v in out.values() for names in v.values() for n in names} - set(corpus))
    if missing:
        raise ValueError(f"clips missing from the corpus: {missing}")
    return out


def plan_benchmark(corpus: Mapping[str, Path], seed: int, assignment: Mapping[str, Mapping[str, Sequence[str]]],
                   cfg: BuildConfig) -> _Plan:
    names = sorted({n for v in assignment.values() for names in v.values() for n in names})
    infos = {n: source_info(corpus[n]) for n in names}
    refs, queries = {}, {}
    for split in SPLITS:
        a = assignment[split]
        refs[split], queries[split] = _plan_split(split, a["sources"], a["held_out"], a["takes"], infos, seed, cfg)
    return _Plan(refs, queries)


# --------------------------------------------------------------------------- execution
def _job_ref(args: tuple) -> dict[str, Any]:
    src, dst, start, end, max_size = args
    rec = cut_segment(src, dst, start, end, max_size=max_size)
    return {"duration": rec.duration, "fps": rec.fps, "width": rec.width, "height": rec.height}


def _job_query(args: tuple) -> dict[str, Any]:
    q, src, dst, host, max_size = args
    rng = np.random.default_rng(q.seed)
    ctx: dict[str, Any] = {"max_size": max_size}
    if q.kind == "partial":
        rec = splice(src, dst, q.src_start, q.src_end, host=host, host_start=q.host_start, before=q.before,
                     after=q.after, strength=q.strength, rng=rng, chain=q.chain, **ctx)
    else:
        if host is not None:
            ctx.update(host=host, host_start=q.host_start, host_end=q.host_end)
        rec = apply_chain(q.chain, src, dst, q.src_start, q.src_end, q.strength, rng, family=q.family, **ctx)
    return {"query_start": rec.query_start, "query_end": rec.query_end, "speed": rec.speed,
            "duration": rec.duration, "fps": rec.fps, "width": rec.width, "height": rec.height,
            "params": rec.params}


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

    def manifest_path(self, split: str) -> Path:
        return self.out_dir / f"manifest_{split}.csv"

    def refs_dir(self, split: str) -> Path:
        return self.out_dir / split / "refs"

    def queries_dir(self, split: str) -> Path:
        return self.out_dir / split / "queries"


def needed_clips(small: bool = False, sources_dev: Sequence[str] | None = None,
                 sources_test: Sequence[str] | None = None,
                 held_out: Mapping[str, Sequence[str]] | None = None,
                 negative_takes: Mapping[str, str] = NEGATIVE_TAKES) -> list[str]:
    """Corpus clip names a build with these settings reads."""
    dev, test, held = _defaults(small, sources_dev, sources_test, held_out)
    names = list(dev) + list(test) + [n for s in SPLITS for n in held.get(s, ())]
    names += [t for t, of in negative_takes.items() if of in names]
    return list(dict.fromkeys(names))


def _defaults(small, sources_dev, sources_test, held_out):
    return (
        tuple(sources_dev) if sources_dev is not None else (SMALL_SOURCES_DEV if small else SOURCES_DEV),
        tuple(sources_test) if sources_test is not None else (SMALL_SOURCES_TEST if small else SOURCES_TEST),
        dict(held_out) if held_out is not None else dict(SMALL_HELD_OUT if small else HELD_OUT),
    )


def _fingerprint(seed: int, small: bool, cfg: BuildConfig, assignment, corpus: Mapping[str, Path]) -> str:
    clips = sorted({n for v in assignment.values() for names in v.values() for n in names})
    blob = json.dumps({
        "version": BUILDER_VERSION, "seed": int(seed), "small": bool(small), "config": cfg.to_json(),
        "assignment": {s: {k: list(v) for k, v in a.items()} for s, a in assignment.items()},
        "clips": {n: [Path(corpus[n]).name, Path(corpus[n]).stat().st_size] for n in clips},
    }, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()


_ID_FILE = re.compile(r"^[RQ]\d+\.(mp4|webm)$")


def _fmt(x: Any) -> str:
    return "" if x is None or x == "" else repr(float(x)) if isinstance(x, float) else str(x)


def _write_csv(path: Path, columns: Sequence[str], rows: Sequence[Mapping[str, Any]]) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    with open(tmp, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(columns)
        for row in rows:
            w.writerow([_fmt(row.get(c)) for c in columns])
    os.replace(tmp, path)


def _run_jobs(jobs: list[tuple[str, Callable, tuple]], workers: int, progress: ProgressCallback | None):
    results: dict[str, Any] = {}
    total = len(jobs)
    if workers <= 1:
        for i, (key, fn, args) in enumerate(jobs):
            results[key] = fn(args)
            if progress:
                progress(i + 1, total, key)
        return results
    # spawn, not fork: forking a process that already runs torch/FFmpeg threads can crash the child.
    with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = {pool.submit(fn, args): key for key, fn, args in jobs}
        for i, fut in enumerate(as_completed(futures)):
            results[futures[fut]] = fut.result()
            if progress:
                progress(i + 1, total, futures[fut])
    return results


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
        raise ValueError(f"unknown families {unknown}")
    dev, test, held = _defaults(small, sources_dev, sources_test, held_out)
    corpus = {k: Path(v) for k, v in corpus.items()}
    assignment = _assignment(dev, test, held, negative_takes, corpus)
    fingerprint = _fingerprint(seed, small, cfg, assignment, corpus)

    meta_path = out / "build.json"
    if not force and meta_path.exists():
        try:
            meta = json.loads(meta_path.read_text())
        except (OSError, ValueError):
            meta = {}
        if meta.get("fingerprint") == fingerprint and all((out / f).exists() for f in meta.get("files", ())):
            return BenchmarkBuild(out, seed, small, True, time.perf_counter() - t0, meta["counts"],
                                  meta["total_bytes"])

    plan = plan_benchmark(corpus, seed, assignment, cfg)
    if meta_path.exists():
        meta_path.unlink()  # an interrupted rebuild must not look finished
    jobs: list[tuple[str, Callable, tuple]] = []
    files: dict[str, str] = {}
    for split in SPLITS:
        for sub in ("refs", "queries"):
            d = out / split / sub
            d.mkdir(parents=True, exist_ok=True)
        for ref in plan.refs[split]:
            rel = f"{split}/refs/{ref.ref_id}.mp4"
            files[ref.ref_id] = rel
            jobs.append((ref.ref_id, _job_ref, (str(corpus[ref.source]), str(out / rel), ref.start, ref.end,
                                                cfg.max_size)))
        for q in plan.queries[split]:
            rel = f"{split}/queries/{q.query_id}{output_suffix(q.chain)}"
            files[q.query_id] = rel
            host = str(corpus[q.host]) if q.host else None
            jobs.append((q.query_id, _job_query, (q, str(corpus[q.source]), str(out / rel), host, cfg.max_size)))
    # stale files of an earlier build with other parameters
    keep = {out / rel for rel in files.values()}
    for split in SPLITS:
        for sub in ("refs", "queries"):
            for p in (out / split / sub).iterdir():
                if _ID_FILE.match(p.name) and p not in keep:
                    p.unlink()
    # longest first, for load balance
    jobs.sort(key=lambda j: -(j[2][3] - j[2][2] if j[1] is _job_ref else j[2][0].src_end - j[2][0].src_start))
    results = _run_jobs(jobs, workers if workers is not None else (os.cpu_count() or 1), progress)

    counts: dict[str, Any] = {}
    for split in SPLITS:
        ref_rows = []
        for ref in plan.refs[split]:
            r = results[ref.ref_id]
            ref_rows.append({"ref_id": ref.ref_id, "split": split, "source": ref.source, "src_start": ref.start,
                             "src_end": ref.end, "file": files[ref.ref_id], **r})
        rows, matches = [], {}
        for q in plan.queries[split]:
            r = results[q.query_id]
            row = {"query_id": q.query_id, "split": split, "kind": q.kind, "family": q.family,
                   "strength": q.strength, "chain": "+".join(q.chain), "source": q.source,
                   "src_start": q.src_start, "src_end": q.src_end, "duration": r["duration"], "fps": r["fps"],
                   "width": r["width"], "height": r["height"], "file": files[q.query_id],
                   "params": json.dumps(r["params"], sort_keys=True, separators=(",", ":"))}
            if q.ref is not None:
                seg = Segment(r["query_start"], r["query_end"], _r(q.src_start - q.ref.start),
                              _r(q.src_end - q.ref.start))
                matches[q.query_id] = {q.ref.ref_id: [seg]}
                row.update(ref_id=q.ref.ref_id, query_start=seg.query_start, query_end=seg.query_end,
                           ref_start=seg.ref_start, ref_end=seg.ref_end)
            rows.append(row)
        gt = GroundTruth(matches=matches, query_ids=frozenset(q.query_id for q in plan.queries[split]),
                         ref_ids=frozenset(r.ref_id for r in plan.refs[split]))
        write_vsc_csv(out / f"gt_{split}.csv", gt)
        _write_csv(out / f"manifest_{split}.csv", MANIFEST_COLUMNS, rows)
        _write_csv(out / f"refs_{split}.csv", REF_COLUMNS, ref_rows)
        counts[split] = {
            "refs": len(plan.refs[split]),
            "queries": len(rows),
            "positives": len(matches),
            "ref_sources": dict(Counter(r.source for r in plan.refs[split])),
            "kinds": dict(sorted(Counter(r["kind"] for r in rows).items())),
            "families": dict(sorted(Counter(f"{r['family']}/{r['strength']}" for r in rows
                                            if r["kind"] == "copy").items())),
            "sources": dict(sorted(Counter(r["source"] for r in rows).items())),
            "ref_seconds": round(sum(r.end - r.start for r in plan.refs[split]), 1),
            "query_seconds": round(sum(x["duration"] for x in rows), 1),
        }
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
