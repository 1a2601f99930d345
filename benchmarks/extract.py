"""Benchmark decoding, feature extraction per backbone, similarity and peak memory on a real clip.

    python benchmarks/extract.py             # full run (30-60 min on 2 cores); writes
                                             # benchmarks/results/extract.{md,json}
    python benchmarks/extract.py --quick     # smoke run (a couple of minutes); prints only
    python benchmarks/extract.py --clip other.mp4 --sections decode extract --no-write

The parts live in benchmarks/extract_bench/ (its docstring says how the measurements are taken).
"""
from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
try:
    import vidsim  # noqa: F401
except ImportError:  # run from a checkout without installing
    sys.path.insert(0, str(HERE.parent / "src"))

from extract_bench.cli import main  # noqa: E402  (benchmarks/ is on sys.path as the script's directory)

if __name__ == "__main__":
    sys.exit(main())
