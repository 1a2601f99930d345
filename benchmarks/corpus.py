"""Fetch (or check) the real-clip corpus and print where each clip is.

    python benchmarks/corpus.py [--dir DIR] [--only NAME ...]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

try:
    from vidsim.bench import corpus
    from vidsim.errors import VidsimError
except ImportError:  # run from a checkout without installing
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    from vidsim.bench import corpus
    from vidsim.errors import VidsimError


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    ap.add_argument("--dir", type=Path, default=None,
                    help=f"cache directory (default {corpus.default_corpus_dir()})")
    ap.add_argument("--only", nargs="+", metavar="NAME", choices=sorted(corpus.CLIPS),
                    help="fetch only these clips")
    args = ap.parse_args(argv)

    status: dict[str, str] = {}
    t0 = time.perf_counter()
    error: VidsimError | None = None
    try:
        paths = corpus.fetch_corpus(args.dir, args.only, lambda name, st: status.__setitem__(name, st))
    except VidsimError as e:
        error, paths = e, {}
    elapsed = time.perf_counter() - t0

    root = args.dir if args.dir is not None else corpus.default_corpus_dir()
    names = args.only or [c.name for c in corpus.CORPUS]
    rows = []
    for name in names:
        clip = corpus.CLIPS[name]
        st = status.get(name, "not fetched")
        if st == "fetching":
            st = "failed"
        rows.append((name, f"{clip.duration_s:.1f}", f"{clip.size / 1e6:.2f} MB",
                     str(paths.get(name, root / clip.filename)), st))
    head = ("name", "seconds", "size", "path", "status")
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    for r in [head, *rows]:
        cells = (v.rjust(w) if i in (1, 2) else v.ljust(w) for i, (v, w) in enumerate(zip(r, widths)))
        print("  ".join(cells).rstrip())
    total_s = sum(corpus.CLIPS[n].duration_s for n in names)
    total_b = sum(corpus.CLIPS[n].size for n in names)
    print(f"{len(rows)} clips, {total_s:.1f} s, {total_b / 1e6:.1f} MB; took {elapsed:.1f} s")
    if error is not None:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
