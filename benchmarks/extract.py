"""Benchmark extraction end to end (360p, 720p, 1080p), resnet50 against the official recipe, and peak RSS.

    python benchmarks/extract.py                   # full run; writes benchmarks/results/extract.{md,json}
    python benchmarks/extract.py --quick           # smoke run (5-10 min on 2 quiet cores); prints only
    python benchmarks/extract.py --only e2e,hires --no-write

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
