"""Section "extract": frames/s of each backbone, precision and batch size against the official recipe."""
from __future__ import annotations

import statistics

from .common import PASSIVE_ENV, PASSIVE_TAG, QUIET_SHARE, REQUIRED_RATIO, num, others_cpu, rate_stats
from .extractors import build_extractor
from .runner import run_group


class ExtractTask:
    def __init__(self, spec):
        import numpy as np
        import torch

        self.frames = torch.from_numpy(np.load(spec["frames_path"]))
        self.extract = build_extractor(spec)

    def setup(self):
        out = self.run()
        white = getattr(self.extract, "whitening", None)
        return {"dims": int(out["dims"]), "frames": out["frames"],
                "whitening": "none" if white is None else f"PCA {white.in_dims}->{white.out_dims}"}

    def run(self):
        out = self.extract(self.frames)
        return {"frames": int(out.shape[0]), "dims": int(out.shape[-1])}


def extract_specs(frames_path: str, args) -> tuple[dict, dict]:
    base = {"kind": "extract", "frames_path": frames_path, "threads": args.threads}
    resnet = {
        "reference (official recipe) fp32 NCHW b128": {**base, "impl": "reference", "batch_size": 128,
                                                       "backbone": "resnet50", "precision": "fp32"},
        "vidsim resnet50 fp32 b32": {**base, "impl": "vidsim", "backbone": "resnet50", "weights": "seed:0",
                                     "precision": "fp32", "batch_size": 32},
        "vidsim resnet50 fp32 b32 +BN fold (suggested)": {
            **base, "impl": "vidsim", "backbone": "resnet50", "weights": "seed:0", "precision": "fp32",
            "batch_size": 32, "fold_fp32": True},
    }
    for b in args.bf16_batches:
        resnet[f"vidsim resnet50 bf16 b{b}"] = {**base, "impl": "vidsim", "backbone": "resnet50",
                                               "weights": "seed:0", "precision": "bf16", "batch_size": b}
    runtimes = runtime_rows(args)
    for runtime, prec in runtimes:
        resnet[f"vidsim resnet50 {runtime} {prec} b32"] = {**base, "impl": "vidsim", "backbone": "resnet50",
                                                         "weights": "seed:0", "precision": prec, "batch_size": 32,
                                                         "runtime": runtime}
    lite = {}
    for variant in args.lite:
        for prec in ("fp32", "bf16"):
            lite[f"vidsim efficientnet-{variant} {prec} b32"] = {
                **base, "impl": "vidsim", "backbone": f"efficientnet-{variant}", "precision": prec, "batch_size": 32}
        for runtime, prec in runtimes:
            lite[f"vidsim efficientnet-{variant} {runtime} {prec} b32"] = {
                **base, "impl": "vidsim", "backbone": f"efficientnet-{variant}", "precision": prec, "batch_size": 32,
                "runtime": runtime}
    if args.passive:  # the same work with OpenMP threads that sleep instead of spinning when idle
        ref_name = next(iter(resnet))
        resnet[f"{ref_name} {PASSIVE_TAG}"] = {**resnet[ref_name], "env": PASSIVE_ENV}
        b = 16 if 16 in args.bf16_batches else args.bf16_batches[0]
        resnet[f"vidsim resnet50 bf16 b{b} {PASSIVE_TAG}"] = {**resnet[f"vidsim resnet50 bf16 b{b}"], "env": PASSIVE_ENV}
        if "lite0" in args.lite:
            lite[f"vidsim efficientnet-lite0 fp32 b32 {PASSIVE_TAG}"] = {
                **lite["vidsim efficientnet-lite0 fp32 b32"], "env": PASSIVE_ENV}
    return resnet, lite


def runtime_rows(args) -> list[tuple[str, str]]:
    """(runtime, precision) of the rows beside torch's: every installed exported runtime and precision."""
    from vidsim.features.runtimes import RUNTIMES, installed

    wanted = getattr(args, "runtimes", None)
    return [(name, prec) for name, spec in RUNTIMES.items() if name != "torch" and installed(name)
            and (wanted is None or name in wanted) for prec in spec.precisions]


def section_extract(frames_path: str, n_frames: int, args) -> dict:
    resnet_specs, lite_specs = extract_specs(frames_path, args)
    out = {"frames": n_frames, "groups": {}}
    headline_rows = [k for k in resnet_specs if PASSIVE_TAG not in k and (k.startswith("reference") or " bf16 " in k)]
    out["groups"]["resnet50"] = run_group("extraction, ResNet-50", resnet_specs, args.rounds, args.wait_quiet,
                                          until_quiet=headline_rows if args.wait_quiet > 0 else None,
                                          max_extra=args.extra_rounds)
    if lite_specs:
        out["groups"]["efficientnet-lite"] = run_group("extraction, EfficientNet-Lite", lite_specs, args.rounds,
                                                       args.wait_quiet)
    return derive_extract(out)


def derive_extract(out: dict) -> dict:
    """Rates, ratios to the reference and the headline, from the raw runs."""
    for group in out["groups"].values():
        for res in group["results"].values():
            res["frames_per_s"] = rate_stats(res["runs"], "frames")
    res = out["groups"]["resnet50"]["results"]
    ref_name = next(k for k in res if k.startswith("reference") and PASSIVE_TAG not in k)
    bf16 = {k: v for k, v in res.items() if " bf16 " in k and PASSIVE_TAG not in k}

    def speed(k):  # best quiet rate when every candidate has one, else the median
        if all(v["frames_per_s"]["best_quiet"] for v in bf16.values()):
            return bf16[k]["frames_per_s"]["best_quiet"]
        return bf16[k]["frames_per_s"]["median"]

    best_name = max(bf16, key=speed)
    for name in res:
        if name.startswith("reference"):
            continue
        ref = ref_name if PASSIVE_TAG not in name else f"{ref_name} {PASSIVE_TAG}"
        ref_runs = res.get(ref, res[ref_name])["runs"]
        paired = [a["seconds"] / b["seconds"] for a, b in zip(ref_runs, res[name]["runs"])]
        ratio = {"paired": paired, "median": statistics.median(paired), "min": min(paired)}
        rq, q = res.get(ref, res[ref_name])["frames_per_s"]["best_quiet"], res[name]["frames_per_s"]["best_quiet"]
        ratio["quiet"] = q / rq if q and rq else None
        res[name]["ratio_to_reference"] = ratio
    r = res[best_name]["ratio_to_reference"]
    h = {
        "reference": ref_name,
        "best_bf16": best_name,
        "best_bf16_batch_size": res[best_name]["spec"]["batch_size"],
        "ratio_quiet": r["quiet"],
        "ratio_median_paired": r["median"],
        "ratio_min_paired": r["min"],
        "ratio_best_over_best": res[best_name]["frames_per_s"]["best"] / res[ref_name]["frames_per_s"]["best"],
        "quiet_share": QUIET_SHARE,
        "required": REQUIRED_RATIO,
    }
    h["ratio"] = h["ratio_quiet"] if h["ratio_quiet"] is not None else h["ratio_median_paired"]
    h["ratio_method"] = ("best quiet run of each side" if h["ratio_quiet"] is not None
                         else "median of per-round ratios, as one side had no quiet run")
    h["meets_required"] = h["ratio"] >= REQUIRED_RATIO
    passive = f"{best_name} {PASSIVE_TAG}" if f"{best_name} {PASSIVE_TAG}" in res else next(
        (f"{k} {PASSIVE_TAG}" for k in bf16 if f"{k} {PASSIVE_TAG}" in res), None)
    if passive:
        pr = res[passive]["ratio_to_reference"]
        h["passive"] = {"name": passive, "ratio_median_paired": pr["median"], "ratio_quiet": pr["quiet"]}
    out["headline"] = h
    return out


def render(r: dict) -> list[str]:
    """This section's part of the Markdown report."""
    L = []
    e = r["extract"]
    L += ["## Feature extraction", "",
          f"{e['frames']} frames of the clip, decoded once beforehand (224x224); region vectors [N, 9, D] "
          "(whitening: the library default for the backbone). Ratio: this row's rate over the reference's in "
          f"the same round (rows marked {PASSIVE_TAG} against the reference run that way too).", "",
          "| variant | whitening | D | frames/s (best / median) | frames/s, best quiet run | x reference (quiet / per-round median) | peak RSS MB | others' CPU |",
          "|---|---|---:|---:|---:|---:|---:|---:|"]
    for gname, group in e["groups"].items():
        for name, res in group["results"].items():
            fr = res["frames_per_s"]
            rr = res.get("ratio_to_reference", {})
            if rr:
                ratio = f"{num(rr.get('quiet'), 2)} / {rr['median']:.2f}"
            else:
                ratio = "1.00" if gname == "resnet50" else "-"
            L.append(f"| {name} | {res['ready'].get('whitening', '-')} | {res['ready']['dims']} | "
                     f"{fr['best']:.1f} / {fr['median']:.1f} | {num(fr.get('best_quiet'))} | "
                     f"{ratio} | {res['maxrss_mb']:.0f} | {others_cpu(res)} |")
    L += ["", f"Best bf16 batch size for resnet50 here: **{e['headline']['best_bf16_batch_size']}** "
              "(highest best-quiet-run rate, or median rate where a batch size had no quiet run).", ""]
    return L
