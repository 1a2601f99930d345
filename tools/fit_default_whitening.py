"""Fit the packaged default PCA whitening of a backbone on the benchmark's DEV sources only.

    python tools/fit_default_whitening.py [--backbone efficientnet-lite0] [--dims 256] [--fps 4] [--out FILE]

Writes src/vidsim/data/whitening/<backbone>.npz (mean, V, d: the official layout, the top
`dims` components) with its provenance. Test sources are never read, so the benchmark's test
split stays unseen by everything vidsim ships.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from vidsim.bench import fetch_corpus, split_clips  # noqa: E402
from vidsim.config import DecodeConfig, FeatureConfig  # noqa: E402
from vidsim.features import FeatureExtractor, PCAWhitening  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backbone", default="efficientnet-lite0")
    parser.add_argument("--dims", type=int, default=256)
    parser.add_argument("--fps", type=float, default=4.0)
    parser.add_argument("--out", type=Path, help="write here instead of the packaged file (to compare fits)")
    args = parser.parse_args()
    sources = list(split_clips("dev"))
    clips = fetch_corpus(only=sources)
    extractor = FeatureExtractor(FeatureConfig(backbone=args.backbone, whitening="none"))
    decode = DecodeConfig(fps=args.fps)
    start = time.time()
    vectors = np.concatenate([
        extractor.extract_video(clips[name], decode).regions.reshape(-1, extractor.dims) for name in sources
    ])
    white = PCAWhitening.fit(vectors, dims=args.dims)
    out = args.out or ROOT / "src" / "vidsim" / "data" / "whitening" / f"{args.backbone}.npz"
    provenance = {
        "backbone": args.backbone, "weights_version": extractor.weights_version, "sources": sources,
        "fps": args.fps, "vectors": int(len(vectors)), "dims": args.dims,
        "fitted": time.strftime("%Y-%m-%d"), "command": " ".join(sys.argv),
    }
    np.savez(out, mean=white.mean.numpy(), V=white.V.numpy(), d=white.d.numpy(), provenance=json.dumps(provenance))
    print(f"{out}: {len(vectors)} vectors from {', '.join(sources)} in {time.time() - start:.0f} s")


if __name__ == "__main__":
    main()
