"""The deterministic plan of a benchmark build: references, queries, their clips and ground truth.

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

Everything random is drawn from ``numpy.random.default_rng`` seeded with ``seed`` and the split
(each query's transform parameters from its own seed), and only sources' metadata is read, so
the same seed and clips give the same plan.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from vidsim.decode import VideoInfo, probe
from vidsim.errors import ConfigError

from .clips import TransformPlan, plan_chain, plan_cut, plan_splice
from .config import BuildConfig
from .families import CHAINABLE, SPLICE_FAMILIES, STRENGTHS, output_suffix, random_chain
from .sources import SPLITS, Assignment

__all__ = ["Ref", "Query", "Match", "BenchmarkPlan", "plan_benchmark", "SPLIT_CODE"]

#: first digit of the ids of a split's references (R1...) and queries (Q1...)
SPLIT_CODE: Mapping[str, int] = {"dev": 1, "test": 2}


@dataclass(frozen=True)
class Ref:
    """A reference: source interval [start, end) of corpus clip `source`."""

    ref_id: str
    split: str
    source: str
    start: float
    end: float

    @property
    def file(self) -> str:
        return f"{self.split}/refs/{self.ref_id}.mp4"


@dataclass
class Query:
    """A query: [src_start, src_end) of `source` through `chain`; a copy of `ref` when it has one."""

    split: str
    kind: str  # copy, partial, hard-negative, unrelated
    family: str
    strength: str
    chain: tuple[str, ...]
    source: str
    src_start: float
    src_end: float
    seed: int
    ref: Ref | None = None
    host: str | None = None
    host_start: float = 0.0
    host_end: float | None = None
    before: float = 0.0
    after: float = 0.0
    query_id: str = ""

    @property
    def file(self) -> str:
        return f"{self.split}/queries/{self.query_id}{output_suffix(self.chain)}"


@dataclass(frozen=True)
class Match:
    """Ground truth of a copy: query interval [query_start, query_end] shows [ref_start, ref_end] of ref_id."""

    ref_id: str
    query_start: float
    query_end: float
    ref_start: float
    ref_end: float


@dataclass(frozen=True)
class BenchmarkPlan:
    """Every file of a build: `clips` holds the plan of each reference and query, by id."""

    refs: dict[str, list[Ref]]
    queries: dict[str, list[Query]]
    clips: dict[str, TransformPlan]

    def files(self) -> dict[str, str]:
        """{id: file path relative to the build directory}."""
        out: dict[str, str] = {}
        for split in SPLITS:
            out.update({r.ref_id: r.file for r in self.refs[split]})
            out.update({q.query_id: q.file for q in self.queries[split]})
        return out

    def match(self, query: Query) -> Match | None:
        """The copied segment a query shows (None for negatives)."""
        if query.ref is None:
            return None
        rec = self.clips[query.query_id].record(query.file)
        return Match(query.ref.ref_id, rec.query_start, rec.query_end, _r(query.src_start - query.ref.start),
                     _r(query.src_end - query.ref.start))


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


def _plan_split(split: str, sources: Sequence[str], held: Sequence[str], takes: Sequence[str],
                infos: Mapping[str, VideoInfo], seed: int, cfg: BuildConfig) -> tuple[list[Ref], list[Query]]:
    rng = np.random.default_rng([int(seed), SPLIT_CODE[split]])
    code = SPLIT_CODE[split]
    hosts = [h for h in held if infos[h].duration > 0.5]

    # references, interleaved across sources
    per_source: dict[str, list[tuple[float, float]]] = {s: _layout(infos[s].duration, cfg, rng) for s in sources}
    order: list[tuple[str, tuple[float, float]]] = []
    for i in range(max((len(v) for v in per_source.values()), default=0)):
        order += [(s, per_source[s][i]) for s in sources if i < len(per_source[s])]
    refs = [Ref(f"R{code}{i + 1:04d}", split, s, a, b) for i, (s, (a, b)) in enumerate(order)]
    if not refs:
        raise ConfigError(f"{split}: no source is long enough for a {cfg.ref_length[0]} s reference")

    queries: list[Query] = []

    def host_for(need: float) -> tuple[str, float, float]:
        name = hosts[int(rng.integers(0, len(hosts)))]
        d = infos[name].duration - 2 * 0.05
        if d <= need:
            return name, 0.05, _r(0.05 + d)
        s = _r(rng.uniform(0.05, 0.05 + d - need))
        return name, s, _r(s + need)

    # copies
    combos: list[tuple[str | tuple[str, ...], str]] = [
        (fam, st) for fam in cfg.families for st in STRENGTHS for _ in range(cfg.copies_per_combo.get(split, 1))]
    chainable = [f for f in cfg.families if f in CHAINABLE]
    for st in STRENGTHS:
        for _ in range(cfg.chains_per_strength.get(split, 0)):
            combos.append((random_chain(rng, families=chainable), st))
    rng.shuffle(combos)
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
        q = Query(split, "copy", "chain" if isinstance(fam, tuple) else fam, st, chain, ref.source, a, b,
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
            chain = () if st == "weak" else (SPLICE_FAMILIES[int(rng.integers(0, len(SPLICE_FAMILIES)))],)
            queries.append(Query(split, "partial", "splice", st, chain, ref.source, a, b, _seed(rng), ref=ref,
                                 host=host, host_start=hs, before=_r(before * scale), after=_r(after * scale)))

    # hard negatives: outside every reference of the same sources, and other takes
    neg_families = list(cfg.families)
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
            queries.append(Query(split, "hard-negative", fam, st, (fam,), s, a, b, _seed(rng)))
    for take in takes:
        d = infos[take].duration
        n = cfg.takes_per_negative_source
        width = (d - 2 * cfg.margin) / n
        for j in range(n):
            lo = cfg.margin + j * width
            a, b = _interval(rng, lo, lo + width, cfg.negative_length)
            fam, st = _random_family(rng, neg_families)
            queries.append(Query(split, "hard-negative", fam, st, (fam,), take, a, b, _seed(rng)))

    # unrelated: held-out sources
    for j in range(cfg.unrelated.get(split, 0) if held else 0):
        name = held[j % len(held)]
        d = infos[name].duration
        a, b = _interval(rng, cfg.margin, d - cfg.margin, cfg.unrelated_length)
        fam, st = _random_family(rng, neg_families)
        queries.append(Query(split, "unrelated", fam, st, (fam,), name, a, b, _seed(rng)))

    for i, j in enumerate(rng.permutation(len(queries))):
        queries[int(j)].query_id = f"Q{code}{i + 1:04d}"
    queries.sort(key=lambda q: q.query_id)
    return refs, queries


def _plan_query(q: Query, corpus: Mapping[str, Path], infos: Mapping[str, VideoInfo],
                max_size: tuple[int, int]) -> TransformPlan:
    """The clip of a query, its transform parameters drawn from the query's own seed."""
    rng = np.random.default_rng(q.seed)
    src = str(corpus[q.source])
    host = str(corpus[q.host]) if q.host else None
    ctx: dict[str, Any] = {"max_size": max_size, "info": infos[q.source]}
    if q.host:
        ctx["host_info"] = infos[q.host]
    if q.kind == "partial":
        assert host is not None
        return plan_splice(src, q.src_start, q.src_end, host=host, host_start=q.host_start, before=q.before,
                           after=q.after, strength=q.strength, rng=rng, chain=q.chain, **ctx)
    if host is not None:
        ctx.update(host=host, host_start=q.host_start, host_end=q.host_end)
    return plan_chain(q.chain, src, q.src_start, q.src_end, q.strength, rng, family=q.family, **ctx)


def plan_benchmark(corpus: Mapping[str, Path], seed: int, assignment: Assignment, cfg: BuildConfig) -> BenchmarkPlan:
    """The whole build for the clips in `corpus` {name: path}, split as `assignment` says."""
    names = sorted({n for v in assignment.values() for names in v.values() for n in names})
    infos = {n: probe(corpus[n]) for n in names}
    refs, queries, clips = {}, {}, {}
    for split in SPLITS:
        a = assignment[split]
        refs[split], queries[split] = _plan_split(split, a["sources"], a["held_out"], a["takes"], infos, seed, cfg)
        for r in refs[split]:
            clips[r.ref_id] = plan_cut(str(corpus[r.source]), r.start, r.end, max_size=cfg.max_size,
                                       info=infos[r.source])
        for q in queries[split]:
            clips[q.query_id] = _plan_query(q, corpus, infos, cfg.max_size)
    return BenchmarkPlan(refs, queries, clips)
