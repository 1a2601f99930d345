"""Section "agreement": video scores from fp32 and bf16 features of real clips (and the reference recipe)."""
from __future__ import annotations

import sys
import time

from .common import SCORE_TOLERANCE
from .extractors import build_extractor
from .runner import run_group

WHITEN_FIT_CLIPS = ("minions", "vtest", "world", "wolfgang", "bikes")  # never among the scored clips
METRICS = ("chamfer", "chamfer_whitened", "visil_seeded_head", "visil_seeded_head_whitened")


class AgreementTask:
    """Video similarities from fp32 and bf16 features of real clips (and the reference recipe).

    Models marked `"whiten": true` are also scored after a PCA whitening (`whiten_dims`) fitted
    on the fp32 region vectors of other corpus clips (`whiten_clips`, never the scored ones), as
    the official pipeline whitens ResNet-50 features: with seeded weights the raw vectors are
    nearly parallel and every score is close to 1, so the whitened scores are the stronger test.
    """

    def __init__(self, spec):
        self.spec = spec

    def setup(self):
        return {}

    @staticmethod
    def _load(paths: dict, cap: int):
        import numpy as np
        import torch

        from vidsim.config import DecodeConfig
        from vidsim.decode import load_video

        out = {}
        for name, path in paths.items():
            frames = load_video(path, DecodeConfig())
            out[name] = torch.from_numpy(np.ascontiguousarray(frames[:cap] if cap else frames))
        return out

    def run(self):
        import torch

        from vidsim.features import PCAWhitening
        from vidsim.features.seeded import seeded_head
        from vidsim.similarity import ViSiLHead

        spec = self.spec
        clips = self._load(spec["clips"], spec["max_frames"])
        pairs = agreement_pairs({k: len(v) for k, v in clips.items()})

        def features(extractor_spec, videos):
            ex = build_extractor(extractor_spec)
            t0 = time.perf_counter()
            out = {name: ex(frames).float() for name, frames in videos.items()}
            return out, time.perf_counter() - t0

        def scores(feats, learned):
            dims = next(iter(feats.values())).shape[-1]
            head = ViSiLHead(dims, kind="visil" if learned else "chamfer").eval()
            if learned:
                head.load_state_dict({k: torch.from_numpy(v) for k, v in seeded_head(dims).items()})
            res = []
            with torch.no_grad():
                for (qa, qs), (ta, ts) in pairs:
                    q = head.prepare(feats[qa][qs[0] : qs[1]])
                    t = head.prepare(feats[ta][ts[0] : ts[1]])
                    res.append(float(head(q, t)))
            return res

        whitening, whiten_info = None, None
        if spec.get("whiten_clips"):
            t0 = time.perf_counter()
            fit_clips = self._load(spec["whiten_clips"], spec["max_frames"])
            fit_feats, _ = features(spec["whiten_fit_model"], fit_clips)
            vectors = torch.cat([f.reshape(-1, f.shape[-1]) for f in fit_feats.values()])
            whitening = PCAWhitening.fit(vectors.numpy(), dims=spec["whiten_dims"])
            whiten_info = {"clips": {k: len(v) for k, v in fit_clips.items()}, "vectors": int(len(vectors)),
                           "dims": spec["whiten_dims"], "seconds": time.perf_counter() - t0}
            del fit_clips, fit_feats, vectors
            print(f"   agreement: whitening fitted in {whiten_info['seconds']:.1f} s", file=sys.stderr, flush=True)

        models = {}
        for label, extractor_spec in spec["models"].items():
            feats, seconds = features(extractor_spec, clips)
            models[label] = {
                "spec": extractor_spec,
                "dims": int(next(iter(feats.values())).shape[-1]),
                "seconds": seconds,
                "chamfer": scores(feats, learned=False),
                "visil_seeded_head": scores(feats, learned=True),
            }
            if whitening is not None and extractor_spec.get("whiten"):
                with torch.no_grad():
                    white = {k: whitening(v) for k, v in feats.items()}
                models[label]["chamfer_whitened"] = scores(white, learned=False)
                models[label]["visil_seeded_head_whitened"] = scores(white, learned=True)
            del feats
            print(f"   agreement: {label} features in {seconds:.1f} s", file=sys.stderr, flush=True)
        return {"pairs": [pair_label(p) for p in pairs], "clip_frames": {k: len(v) for k, v in clips.items()},
                "whitening": whiten_info, "models": models}


def agreement_pairs(lengths: dict[str, int]):
    """((query clip, (start, end)), (target clip, (start, end))) pairs over the loaded clips."""
    n = lengths["franck"]

    def seg(a, b, m=n):
        return (int(round(a * m)), max(int(round(b * m)), int(round(a * m)) + 1))

    pairs = [
        (("franck", seg(0, 0.5)), ("franck", seg(0.5, 1))),
        (("franck", seg(0, 0.25)), ("franck", seg(0.75, 1))),
        (("franck", seg(0.2, 0.4)), ("franck", (0, n))),
    ]
    for other in ("cap12", "cap13"):
        if other in lengths:
            pairs.append((("franck", (0, n)), (other, (0, lengths[other]))))
    if "cap12" in lengths and "cap13" in lengths:
        pairs.append((("cap12", (0, lengths["cap12"])), ("cap13", (0, lengths["cap13"]))))
        m = lengths["cap12"]
        pairs.append((("cap12", seg(0.2, 0.8, m)), ("cap12", (0, m))))
    return pairs


def pair_label(pair) -> str:
    (qa, (q0, q1)), (ta, (t0, t1)) = pair
    return f"{qa}[{q0}:{q1}] vs {ta}[{t0}:{t1}]"


def section_agreement(paths: dict[str, str], fit_paths: dict[str, str], args, bf16_batch: int) -> dict:
    r50 = {"impl": "vidsim", "backbone": "resnet50", "weights": "seed:0", "whitening": "none", "whiten": True}
    lite0 = {"impl": "vidsim", "backbone": "efficientnet-lite0", "batch_size": 32}
    spec = {
        "kind": "agreement", "threads": args.threads, "clips": paths,
        "max_frames": 24 if args.quick else 0,
        "whiten_clips": fit_paths, "whiten_dims": 256,
        "whiten_fit_model": {**r50, "precision": "fp32", "batch_size": 32},
        "models": {
            "resnet50 reference fp32": {"impl": "reference", "batch_size": 128, "whiten": True},
            "resnet50 fp32": {**r50, "precision": "fp32", "batch_size": 32},
            "resnet50 fp32 +BN fold": {**r50, "precision": "fp32", "batch_size": 32, "fold_fp32": True},
            "resnet50 bf16": {**r50, "precision": "bf16", "batch_size": bf16_batch},
            "lite0 fp32": {**lite0, "precision": "fp32"},  # library default whitening
            "lite0 bf16": {**lite0, "precision": "bf16"},
            "lite0 fp32 unwhitened": {**lite0, "precision": "fp32", "whitening": "none"},
            "lite0 bf16 unwhitened": {**lite0, "precision": "bf16", "whitening": "none"},
        },
    }
    group = run_group("score agreement (fp32 vs bf16)", {"agreement": spec}, 1)
    data = group["results"]["agreement"]["runs"][0]
    models = data["models"]
    comparisons = [
        ("resnet50 bf16", "resnet50 reference fp32"),
        ("resnet50 bf16", "resnet50 fp32"),
        ("resnet50 fp32", "resnet50 reference fp32"),
        ("resnet50 fp32 +BN fold", "resnet50 reference fp32"),
        ("lite0 bf16", "lite0 fp32"),
        ("lite0 bf16 unwhitened", "lite0 fp32 unwhitened"),
    ]
    deltas = []
    for a, b in comparisons:
        row = {"a": a, "b": b}
        for metric in METRICS:
            if metric in models[a] and metric in models[b]:
                row[metric] = max(abs(x - y) for x, y in zip(models[a][metric], models[b][metric]))
        row["worst_chamfer"] = max(row.get("chamfer", 0.0), row.get("chamfer_whitened", 0.0))
        row["within_tolerance"] = row["worst_chamfer"] <= SCORE_TOLERANCE
        deltas.append(row)
    r50_bf16 = deltas[0]
    lite_bf16 = [d for d in deltas if d["a"].startswith("lite0 bf16")]
    return {"pairs": data["pairs"], "clip_frames": data["clip_frames"], "whitening": data["whitening"],
            "models": models, "deltas": deltas, "tolerance": SCORE_TOLERANCE,
            "resnet50_bf16_within_tolerance": r50_bf16["within_tolerance"],
            "lite0_bf16_within_tolerance": all(d["within_tolerance"] for d in lite_bf16),
            "cpu": group["cpu"]}


def render(r: dict) -> list[str]:
    """This section's part of the Markdown report."""
    L = []
    a = r["agreement"]
    w = a.get("whitening") or {}
    L += ["## Score agreement", "",
          "Video similarity of real clip pairs from each model's features: `ViSiLHead` chamfer (ViSiL_f, the "
          "default mode) and the learned head with the deterministic weights `seeded_head(D)`; max |Δscore| "
          f"over the pairs. Frames per clip (1 frame/s): {', '.join(f'{k} {v}' for k, v in a['clip_frames'].items())}. "
          "resnet50 runs the seeded weights `seed:0`: its raw region vectors are nearly parallel (every raw "
          "score is close to 1), so it is also scored after a PCA whitening to "
          f"{w.get('dims', '-')} dims fitted on {w.get('vectors', '-')} fp32 region vectors of other corpus clips "
          f"({', '.join(w.get('clips', {}))}), as the official pipeline whitens; lite0 has real ImageNet weights "
          "and the library's default whitening (256 dims) unless marked unwhitened.", "",
          "| compared | chamfer | chamfer, whitened | learned head | learned head, whitened | within 1e-3 |",
          "|---|---:|---:|---:|---:|---|"]
    for d in a["deltas"]:
        cells = " | ".join(f"{d[m]:.2e}" if m in d else "-" for m in METRICS)
        L.append(f"| {d['a']} vs {d['b']} | {cells} | {'yes' if d['within_tolerance'] else '**no**'} |")
    for metric in ("chamfer", "chamfer_whitened"):
        names = [n for n, mm in a["models"].items() if metric in mm]
        L += ["", f"{metric.replace('_', ' ')} scores:", "",
              "| pair | " + " | ".join(names) + " |", "|---|" + "---:|" * len(names)]
        for i, pair in enumerate(a["pairs"]):
            L.append(f"| {pair} | " + " | ".join(f"{a['models'][n][metric][i]:.5f}" for n in names) + " |")
    L.append("")
    return L
