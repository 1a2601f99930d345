"""Section "similarity" (not run unless asked for): ViSiLHead pairs/s on 60-frame videos, chamfer and learned."""
from __future__ import annotations

import math
import time

from .common import num, others_cpu, rate_stats
from .runner import run_group


class SimilarityTask:
    """Pairs of 60-frame videos (9 regions each) scored by ViSiLHead; features prepared once."""

    def __init__(self, spec):
        import torch
        import torch.nn.functional as F

        from vidsim.similarity import ViSiLHead

        g = torch.Generator().manual_seed(0)
        dims, frames = spec["dims"], spec["frames"]
        self.head = ViSiLHead(dims, kind="visil" if spec["learned"] else "chamfer").eval()
        with torch.no_grad():
            pool = [F.normalize(torch.randn(frames, 9, dims, generator=g), dim=-1) for _ in range(8)]
            self.videos = [self.head.prepare(v) for v in pool]
        self.target_s = spec["target_s"]
        self.pairs = 1

    def _pairs(self, n):
        import torch

        with torch.no_grad():
            for i in range(n):
                self.head(self.videos[i % 8], self.videos[(i + 3) % 8]).item()

    def setup(self):
        self._pairs(2)
        t0 = time.perf_counter()
        n = 2
        self._pairs(n)
        per = (time.perf_counter() - t0) / n
        self.pairs = max(4, int(math.ceil(self.target_s / max(per, 1e-6))))
        return {"pairs_per_run": self.pairs}

    def run(self):
        self._pairs(self.pairs)
        return {"pairs": self.pairs}


def section_similarity(args) -> dict:
    specs = {}
    for dims, label in ((256, "lite0, default whitening"), (496, "lite0 unwhitened"), (3840, "resnet50")):
        for learned in (False, True):
            name = f"{'learned' if learned else 'chamfer'} D={dims} ({label})"
            specs[name] = {"kind": "similarity", "dims": dims, "frames": 60, "learned": learned,
                           "target_s": 0.5 if args.quick else 2.0, "threads": args.threads}
    group = run_group("similarity", specs, args.rounds, args.wait_quiet)
    for res in group["results"].values():
        res["pairs_per_s"] = rate_stats(res["runs"], "pairs")
    return group


def render(r: dict) -> list[str]:
    """This section's part of the Markdown report."""
    L = []
    L += ["## Similarity", "",
          "`ViSiLHead` on pairs of 60-frame videos (9 regions each), features prepared once per video "
          "(attention applied beforehand in the learned mode; its comparator is randomly initialised).", "",
          "| head | pairs/s (best / median) | pairs/s, best quiet run | ms/pair (best) | peak RSS MiB | others' CPU |",
          "|---|---:|---:|---:|---:|---:|"]
    for name, res in r["similarity"]["results"].items():
        p = res["pairs_per_s"]
        L.append(f"| {name} | {p['best']:.1f} / {p['median']:.1f} | {num(p.get('best_quiet'))} | {1000 / p['best']:.1f} | "
                 f"{res['maxrss_mb']:.0f} | {others_cpu(res)} |")
    L.append("")
    return L
