"""Sections "e2e" (the 200-s 360p clip) and "hires" (720p, 1080p): decode + features + whitening
as `FeatureExtractor.extract_video` does it, per row, with the time spent decoding measured apart."""
from __future__ import annotations

import statistics
import sys

from .common import (
    E2E_RATE_TARGET,
    E2E_RATIO_TARGET,
    HIRES_RATE_TARGET,
    num,
    others_cpu,
    paired_ratio,
    rate_stats,
    ratio_detail,
    speed,
    verdict,
)
from .rows import DEFAULT, OLD_DEFAULT, Row, check_row, row_spec
from .runner import run_group


class EndToEndTask:
    """One row on one clip: each run decodes the clip alone (`iter_frames`, timed), then extracts it
    end to end (`extract_video`, timed); the model is loaded once, the setup does one untimed run."""

    def __init__(self, spec):
        from vidsim.decode import probe

        from .extractors import build_vidsim, describe

        self.clip = spec["clip"]
        self.decode, self.fe = build_vidsim(spec["overrides"])
        self.info = {**describe(self.fe), "feature_key": self.fe.feature_key(self.decode),
                     "decode_threads": self.decode.threads, "decode_strategy": self.decode.strategy}
        self.video_s = probe(self.clip).duration

    def setup(self):
        self.run()
        return self.info

    def run(self):
        import time

        from vidsim.decode import iter_frames

        t0 = time.perf_counter()
        decoded = sum(len(batch.timestamps) for batch in iter_frames(self.clip, self.decode))
        t1 = time.perf_counter()
        feats = self.fe.extract_video(self.clip, self.decode)
        t2 = time.perf_counter()
        return {"decode_s": t1 - t0, "e2e_s": t2 - t1, "video_s": self.video_s,
                "frames": int(feats.regions.shape[0]), "decoded_frames": decoded}


def _specs(clip: str, rows: dict[str, Row], args, prefix: str = "") -> tuple[dict, dict]:
    specs, skipped = {}, {}
    for name, row in rows.items():
        spec = row_spec(name, row)
        why = check_row(spec["overrides"])
        if why:
            skipped[f"{prefix}{name}"] = why
            print(f"   skip {prefix}{name}: {why}", file=sys.stderr, flush=True)
            continue
        specs[f"{prefix}{name}"] = {**spec, "kind": "e2e", "clip": clip, "threads": row.threads or args.threads}
    return specs, skipped


def derive_rows(results: dict, ref_name: str | None) -> None:
    """Rates, decode share and the ratio to `ref_name`, in place."""
    for res in results.values():
        runs = res["runs"]
        res["video_s_per_s"] = rate_stats(runs, "video_s", "e2e_s")
        res["decode_video_s_per_s"] = rate_stats(runs, "video_s", "decode_s")
        res["decode_share"] = statistics.median(r["decode_s"] / r["e2e_s"] for r in runs)
        if ref_name in results:
            res["x_old_default"] = paired_ratio(results[ref_name], res, "e2e_s")


def section_e2e(clip: str, rows: dict[str, Row], args) -> dict:
    specs, skipped = _specs(clip, rows, args)
    group = run_group("end to end, 360p (decode + features + whitening)", specs, args.rounds, args.wait_quiet,
                      until_quiet=[n for n in (OLD_DEFAULT, DEFAULT) if n in specs] if args.wait_quiet > 0 else None,
                      max_extra=args.extra_rounds)
    group["skipped"] = skipped
    return derive_e2e(group)


def derive_e2e(group: dict) -> dict:
    res = group["results"]
    derive_rows(res, OLD_DEFAULT)
    h: dict = {"ratio_target": E2E_RATIO_TARGET, "rate_target": E2E_RATE_TARGET}
    if DEFAULT in res:
        h["default_rate"] = speed(res[DEFAULT]["video_s_per_s"])
        h["rate_met"] = h["default_rate"] >= E2E_RATE_TARGET
        h["default_runtime"] = f"{res[DEFAULT]['ready']['runtime']} {res[DEFAULT]['ready']['precision']}"
        if "x_old_default" in res[DEFAULT]:
            r = res[DEFAULT]["x_old_default"]
            h.update(ratio=r["ratio"], ratio_detail=ratio_detail(r), ratio_met=r["ratio"] >= E2E_RATIO_TARGET)
    group["headline"] = h
    return group


def section_hires(clips: dict[str, str], rows: dict[str, Row], args) -> dict:
    specs, skipped = {}, {}
    for label, path in clips.items():
        s, k = _specs(path, rows, args, prefix=f"{label} ")
        specs.update(s)
        skipped.update(k)
    until = [n for n in specs if n.endswith(f" {DEFAULT}") or n.endswith(f" {OLD_DEFAULT}")]
    group = run_group("end to end, 720p and 1080p", specs, args.rounds, args.wait_quiet,
                      until_quiet=until if args.wait_quiet > 0 else None, max_extra=args.extra_rounds)
    group["skipped"] = skipped
    group["clips"] = list(clips)
    return derive_hires(group)


def derive_hires(group: dict) -> dict:
    by_clip: dict[str, dict] = {}
    for name, res in group["results"].items():
        label = next(c for c in group["clips"] if name.startswith(f"{c} "))
        by_clip.setdefault(label, {})[name] = res
    for label, results in by_clip.items():
        derive_rows(results, f"{label} {OLD_DEFAULT}")
    h: dict = {"rate_target": HIRES_RATE_TARGET}
    default_1080 = group["results"].get(f"1080p {DEFAULT}")
    if default_1080:
        h["rate"] = speed(default_1080["video_s_per_s"])
        h["decode_share"] = default_1080["decode_share"]
        h["met"] = h["rate"] >= HIRES_RATE_TARGET
    group["headline"] = h
    return group


def _table(results: dict, strip: str = "") -> list[str]:
    L = ["| row | runs | video-s/s (best / median) | video-s/s, best quiet run | x old default (quiet / per-round median) | "
         "decode share | decoding alone, video-s/s | sampled frames | peak RSS MiB | others' CPU |",
         "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for name, res in results.items():
        v, d, rd = res["video_s_per_s"], res["decode_video_s_per_s"], res["ready"]
        x = res.get("x_old_default")
        ratio = f"{num(x['quiet'], 2)} / {x['median']:.2f}" if x else "-"
        L.append(f"| {name[len(strip):] if strip and name.startswith(strip) else name} | {rd['runtime']} {rd['precision']} "
                 f"b{rd['batch_size']} | {v['best']:.1f} / {v['median']:.1f} | {num(v.get('best_quiet'))} | {ratio} | "
                 f"{100 * res['decode_share']:.0f}% | {d['median']:.0f} | {res['runs'][0]['frames']} | "
                 f"{res['maxrss_mb']:.0f} | {others_cpu(res)} |")
    return L


def _skipped(group: dict) -> list[str]:
    return [f"- skipped `{n}`: {why}" for n, why in group.get("skipped", {}).items()]


def headline_lines(r: dict) -> list[str]:
    L = []
    if "e2e" in r:
        h = r["e2e"]["headline"]
        if "default_rate" in h:
            ratio = (f"**{h['ratio']:.2f}x** the old default's rate in the same run ({h['ratio_detail']}): "
                     f"{verdict(h['ratio_met'])} (target {h['ratio_target']:.0f}x)" if "ratio" in h
                     else "no old-default row to compare with")
            L.append(f"- End to end, 200-s 360p clip: the default (`FeatureConfig()`, resolved to {h['default_runtime']}) "
                     f"embeds **{h['default_rate']:.1f} video-s/s**: {verdict(h['rate_met'])} (target "
                     f"{h['rate_target']:.0f}); {ratio}.")
    if "hires" in r:
        h = r["hires"]["headline"]
        if "rate" in h:
            L.append(f"- End to end, 1080p clip: the default embeds **{h['rate']:.1f} video-s/s** "
                     f"(decoding alone takes {100 * h['decode_share']:.0f}% of that time): {verdict(h['met'])} "
                     f"(target {h['rate_target']:.0f}).")
    return L


def render_e2e(r: dict) -> list[str]:
    g, clip = r["e2e"], r["clip"]
    L = ["## End to end, 360p", "",
         f"`FeatureExtractor.extract_video` on `{clip['name']}` ({clip['width']}x{clip['height']}, {clip['duration_s']:.0f} s, "
         f"{clip['fps']:.0f} fps): decode + features + whitening, model loaded beforehand, one untimed warm-up. "
         "Each run first decodes the clip alone with the row's `DecodeConfig` (`iter_frames`, timed apart): "
         "\"decode share\" is that time over the end-to-end time (median over rounds). Rows: `rows.py` "
         "(overrides of `FeatureConfig` / `DecodeConfig` fields); runs = runtime, precision and batch size that ran.", ""]
    L += _table(g["results"])
    L += [""] + _skipped(g) + ([""] if g.get("skipped") else [])
    return L


def render_hires(r: dict) -> list[str]:
    g = r["hires"]
    L = ["## End to end, 720p and 1080p", "",
         "Clips made once by upscaling a corpus clip with x264 into the benchmark's cache directory (not committed):", ""]
    for label, m in r.get("made_clips", {}).items():
        if label in g["clips"]:
            L.append(f"- {label}: `{m['file']}` {m['width']}x{m['height']}, {m['duration_s']:.1f} s, {m['fps']:.0f} fps, "
                     f"keyframe every {num(m.get('keyframe_interval_s'), 1)} s, {m['bytes']:,} bytes, SHA-256 `{m['sha256']}`; "
                     f"`{' '.join(m['command'])}` ({m['ffmpeg']})")
    for label in g["clips"]:
        results = {n: v for n, v in g["results"].items() if n.startswith(f"{label} ")}
        L += ["", f"{label}:", ""] + _table(results, strip=f"{label} ")
    L += [""] + _skipped(g) + ([""] if g.get("skipped") else [])
    return L
