"""Build the real-footage copy-detection benchmark (fetches the corpus clips it needs first).

    python benchmarks/build_benchmark.py [--corpus DIR] [--out DIR] [--seed N] [--small] [--workers N] [--force]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

try:
    from vidsim import bench
    from vidsim.bench import corpus
except ImportError:  # run from a checkout without installing
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    from vidsim import bench
    from vidsim.bench import corpus


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    ap.add_argument("--corpus", type=Path, default=None,
                    help=f"corpus cache (default {corpus.default_corpus_dir()})")
    ap.add_argument("--out", type=Path, default=None,
                    help="output directory (default <cache>/vidsim/bench, or bench-small with --small)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--small", action="store_true", help="tiny variant for CI (a few seconds per clip)")
    ap.add_argument("--workers", type=int, default=None, help="processes (default: CPU count)")
    ap.add_argument("--force", action="store_true", help="rebuild even if an identical build is there")
    args = ap.parse_args(argv)

    out = args.out or corpus.default_corpus_dir().parent / ("bench-small" if args.small else "bench")
    clips = corpus.fetch_corpus(args.corpus, bench.needed_clips(args.small))

    def progress(done: int, total: int, what: str) -> None:
        print(f"\r[{done}/{total}] {what}   ", end="" if done < total else "\n", file=sys.stderr, flush=True)

    build = bench.build_benchmark(clips, out, seed=args.seed, small=args.small, progress=progress,
                                  workers=args.workers, force=args.force)
    print(f"{'found existing build' if build.skipped else 'built'} in {out} "
          f"({build.total_bytes / 1e6:.1f} MB, {build.seconds:.1f} s, seed {build.seed})")
    for split, c in build.counts.items():
        print(f"\n{split}: {c['refs']} refs ({c['ref_seconds']} s), {c['queries']} queries "
              f"({c['query_seconds']} s), {c['positives']} with a copy")
        print("  kinds:   " + ", ".join(f"{k} {v}" for k, v in c["kinds"].items()))
        print("  refs per source: " + ", ".join(f"{k} {v}" for k, v in c["ref_sources"].items()))
        print("  queries per source: " + ", ".join(f"{k} {v}" for k, v in c["sources"].items()))
        fams: dict[str, dict[str, int]] = {}
        for key, n in c["families"].items():
            fam, strength = key.rsplit("/", 1)
            fams.setdefault(fam, {})[strength] = n
        print("  copies (weak/strong): " + ", ".join(
            f"{f} {v.get('weak', 0)}/{v.get('strong', 0)}" for f, v in fams.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
