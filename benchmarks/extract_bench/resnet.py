"""Section "resnet": vidsim's resnet50 paths against the official recipe (fp32, NCHW, batch 128) on the
same pre-decoded frames, and their agreement with it: region-vector cosine and score drift after whitening."""
from __future__ import annotations

import sys
import time

from .common import RESNET_RATIO_TARGET, num, others_cpu, paired_ratio, rate_stats, ratio_detail, speed, verdict
from .extractors import build_extractor, describe
from .rows import REFERENCE, RESNET_BASE, Row, check_row, row_spec
from .runner import run_group

WHITEN_FIT_CLIPS = ("minions", "vtest", "world", "wolfgang", "bikes")  # never among the scored clips
SCORED_CLIPS = ("franck", "cap12", "cap13")
METRICS = ("chamfer", "chamfer_whitened", "visil_seeded_head", "visil_seeded_head_whitened")
NO_WEIGHTS = ("No ImageNet ResNet-50 weights can be installed here (vidsim never downloads weights, and no installable "
              "package ships them), so resnet50 runs the deterministic weights `seed:0` and its accuracy rule (mAP and "
              "µAP on the benchmark's test split within 0.005 of fp32) cannot be measured; the region-vector cosine "
              "and the score drift after whitening are what can be.")


class ExtractTask:
    """Region vectors of pre-decoded frames (a .npy) by one extractor; one untimed run at setup."""

    def __init__(self, spec):
        import numpy as np
        import torch

        self.frames = torch.from_numpy(np.load(spec["frames_path"]))
        self.extract = build_extractor(spec)

    def setup(self):
        out = self.extract(self.frames)
        return {**describe(self.extract), "frames": int(out.shape[0])}

    def run(self):
        out = self.extract(self.frames)
        return {"frames": int(out.shape[0])}


class AgreementTask:
    """Each model's region vectors of real clips: cosine to the reference's, and video scores of real
    pairs, raw and after a PCA whitening fitted on fp32 vectors of other corpus clips (as the official
    pipeline whitens ResNet-50 features; with seeded weights the raw vectors are nearly parallel and every
    raw score is close to 1, so the whitened scores are the stronger test)."""

    def __init__(self, spec):
        self.spec = spec

    def setup(self):
        return {}

    @staticmethod
    def _load(paths: dict, cap: int):
        import numpy as np
        import torch

        from vidsim.config import DecodeConfig
        from vidsim.decode import iter_frames

        out = {}
        for name, path in paths.items():  # the first `cap` sampled frames (all with cap 0)
            batches, n = [], 0
            for batch in iter_frames(path, DecodeConfig()):
                batches.append(batch.frames)
                n += len(batch.frames)
                if cap and n >= cap:
                    break
            frames = np.concatenate(batches)
            out[name] = torch.from_numpy(np.ascontiguousarray(frames[:cap] if cap else frames))
        return out

    def run(self):
        import torch
        import torch.nn.functional as F

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
            with torch.no_grad():
                return [float(head(head.prepare(feats[qa][qs[0]:qs[1]]), head.prepare(feats[ta][ts[0]:ts[1]])))
                        for (qa, qs), (ta, ts) in pairs]

        t0 = time.perf_counter()
        fit_clips = self._load(spec["whiten_clips"], spec["max_frames"])
        fit_feats, _ = features(spec["whiten_fit_model"], fit_clips)
        vectors = torch.cat([f.reshape(-1, f.shape[-1]) for f in fit_feats.values()])
        whitening = PCAWhitening.fit(vectors.numpy(), dims=spec["whiten_dims"])
        whiten_info = {"clips": {k: len(v) for k, v in fit_clips.items()}, "vectors": int(len(vectors)),
                       "dims": spec["whiten_dims"], "seconds": time.perf_counter() - t0}
        del fit_clips, fit_feats, vectors
        print(f"   agreement: whitening fitted in {whiten_info['seconds']:.1f} s", file=sys.stderr, flush=True)

        models, reference = {}, None
        for label, extractor_spec in spec["models"].items():  # the reference first
            feats, seconds = features(extractor_spec, clips)
            if reference is None:
                reference = feats
            cos = torch.cat([F.cosine_similarity(feats[k], reference[k], dim=-1).flatten() for k in feats])
            with torch.no_grad():
                white = {k: whitening(v) for k, v in feats.items()}
            models[label] = {"seconds": seconds, "dims": int(next(iter(feats.values())).shape[-1]),
                             "cosine_min": float(cos.min()), "cosine_mean": float(cos.mean()),
                             "chamfer": scores(feats, False), "visil_seeded_head": scores(feats, True),
                             "chamfer_whitened": scores(white, False), "visil_seeded_head_whitened": scores(white, True)}
            del feats, white
            print(f"   agreement: {label} in {seconds:.1f} s", file=sys.stderr, flush=True)
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


def section_resnet(frames_path: str, n_frames: int, corpus: dict[str, str], rows: dict[str, Row], args) -> dict:
    base = {"kind": "extract", "frames_path": frames_path, "threads": args.threads}
    specs = {REFERENCE: {**base, "impl": "reference", "batch_size": 128, "row": REFERENCE}}
    skipped = {}
    for name, row in rows.items():
        spec = row_spec(name, row, RESNET_BASE)
        why = check_row(spec["overrides"])
        if why:
            skipped[name] = why
            print(f"   skip resnet50 {name}: {why}", file=sys.stderr, flush=True)
            continue
        specs[name] = {**base, **spec, "impl": "vidsim", "threads": row.threads or args.threads}
    timing = run_group("resnet50: vidsim paths vs the official recipe", specs, args.rounds, args.wait_quiet,
                       until_quiet=list(specs) if args.wait_quiet > 0 else None, max_extra=args.extra_rounds)
    agree_spec = {
        "kind": "agreement", "threads": args.threads, "clips": {k: corpus[k] for k in SCORED_CLIPS},
        "max_frames": 24 if args.quick else 0, "whiten_clips": {k: corpus[k] for k in WHITEN_FIT_CLIPS},
        "whiten_dims": 256,
        "whiten_fit_model": {"impl": "vidsim", "overrides": {**RESNET_BASE, "features.runtime": "torch",
                                                             "features.precision": "fp32"}},
        "models": {name: {k: s[k] for k in ("impl", "batch_size", "overrides") if k in s} for name, s in specs.items()},
    }
    agreement = run_group("resnet50: agreement with the official recipe", {"agreement": agree_spec}, 1)
    out = {"frames": n_frames, "timing": timing, "skipped": skipped,
           "agreement": agreement["results"]["agreement"]["runs"][0], "agreement_cpu": agreement["cpu"]}
    return derive_resnet(out)


def derive_resnet(out: dict) -> dict:
    res = out["timing"]["results"]
    for r in res.values():
        r["frames_per_s"] = rate_stats(r["runs"], "frames")
    models = out["agreement"]["models"]
    ref_scores = models[REFERENCE]
    for m in models.values():
        m["drift"] = {metric: max(abs(a - b) for a, b in zip(m[metric], ref_scores[metric])) for metric in METRICS}
    vidsim_rows = [n for n in res if n != REFERENCE]
    for name in vidsim_rows:
        res[name]["x_reference"] = paired_ratio(res[REFERENCE], res[name])
    h: dict = {"target": RESNET_RATIO_TARGET, "no_weights": NO_WEIGHTS}
    if vidsim_rows:
        fastest = max(vidsim_rows, key=lambda n: speed(res[n]["frames_per_s"]))
        r = res[fastest]["x_reference"]
        h.update(fastest=fastest, runtime=f"{res[fastest]['ready']['runtime']} {res[fastest]['ready']['precision']}",
                 ratio=r["ratio"], detail=ratio_detail(r), met=r["ratio"] >= RESNET_RATIO_TARGET,
                 cosine_min=models[fastest]["cosine_min"], cosine_mean=models[fastest]["cosine_mean"],
                 drift_whitened=models[fastest]["drift"]["chamfer_whitened"], drift_raw=models[fastest]["drift"]["chamfer"])
    out["headline"] = h
    return out


def headline_lines(r: dict) -> list[str]:
    h = r["resnet"]["headline"]
    if "fastest" not in h:
        return []
    runs = f" ({h['runtime']})" if h["runtime"] != h["fastest"] else ""
    return [f"- resnet50: the fastest vidsim path, `{h['fastest']}`{runs}, extracts **{h['ratio']:.1f}x** the "
            f"frames/s of the official recipe (fp32, NCHW, batch 128) in the same run ({h['detail']}): "
            f"{verdict(h['met'])} (target {h['target']:.0f}x). "
            f"Region-vector cosine to fp32: min {h['cosine_min']:.5f}, mean {h['cosine_mean']:.6f}; chamfer score drift "
            f"after whitening {h['drift_whitened']:.2e} (raw {h['drift_raw']:.2e}). {h['no_weights']}"]


def render(r: dict) -> list[str]:
    e = r["resnet"]
    a = e["agreement"]
    w = a["whitening"]
    L = ["## resnet50 against the official recipe", "",
         f"Extraction only: {e['frames']} frames of the 360p clip decoded once beforehand (224x224), region vectors "
         "[N, 9, 3840], no whitening. The reference is the official ViSiL recipe (the package docstring says how it is "
         "re-implemented), fp32, NCHW, batch 128; every row runs vidsim's ResNet-50 module with the seeded weights "
         "`seed:0` (rows: `rows.py` over `RESNET_BASE`). Ratio: this row's rate over the reference's in the same round.", "",
         "| row | runs | frames/s (best / median) | frames/s, best quiet run | x reference (quiet / per-round median) | "
         "cosine to fp32 (min / mean) | max Δ chamfer, raw / whitened | peak RSS MiB | others' CPU |",
         "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for name, res in e["timing"]["results"].items():
        fr, rd, x = res["frames_per_s"], res["ready"], res.get("x_reference")
        m = a["models"].get(name, {})
        cos = f"{m['cosine_min']:.5f} / {m['cosine_mean']:.6f}" if m else "-"
        drift = f"{m['drift']['chamfer']:.1e} / {m['drift']['chamfer_whitened']:.1e}" if m else "-"
        ratio = f"{num(x['quiet'], 2)} / {x['median']:.2f}" if x else "1.00"
        L.append(f"| {name} | {rd['runtime']} {rd['precision']} b{rd['batch_size']} | {fr['best']:.1f} / {fr['median']:.1f} | "
                 f"{num(fr.get('best_quiet'))} | {ratio} | "
                 f"{cos} | {drift} | {res['maxrss_mb']:.0f} | {others_cpu(res)} |")
    skipped = [f"- skipped `{n}`: {why}" for n, why in e.get("skipped", {}).items()]
    L += ([""] + skipped if skipped else [])
    L += ["", f"Agreement: region vectors of {', '.join(f'{k} ({v} frames)' for k, v in a['clip_frames'].items())} at "
              f"1 frame/s; scores of {len(a['pairs'])} clip pairs by `ViSiLHead` chamfer (ViSiL_f) and by the learned head "
              f"with the deterministic weights `seeded_head(D)`, raw and after a PCA whitening to {w['dims']} dims fitted on "
              f"{w['vectors']} fp32 region vectors of other corpus clips ({', '.join(w['clips'])}); max |Δscore| against "
              "the reference.", "",
          "| row | chamfer | chamfer, whitened | learned head | learned head, whitened |", "|---|---:|---:|---:|---:|"]
    for name, m in a["models"].items():
        L.append(f"| {name} | " + " | ".join(f"{m['drift'][k]:.2e}" for k in METRICS) + " |")
    L += ["", "Whitened chamfer scores:", "", "| pair | " + " | ".join(a["models"]) + " |",
          "|---|" + "---:|" * len(a["models"])]
    for i, pair in enumerate(a["pairs"]):
        L.append(f"| {pair} | " + " | ".join(f"{m['chamfer_whitened'][i]:.5f}" for m in a["models"].values()) + " |")
    L += ["", NO_WEIGHTS, ""]
    return L
