"""Section "rss": peak RSS of `extract_video` on long videos (a corpus clip looped to 30 min and 2 h)."""
from __future__ import annotations

import sys

from .common import RSS_LIMIT_MB, verdict
from .rows import Row, check_row, row_spec
from .runner import run_group

FLAT_SLACK_MB = 64.0  # growth allowed beyond the features themselves


class RssTask:
    """Model loaded and warmed up on a short clip, then one timed `extract_video` of a long one; the
    worker's peak RSS (ru_maxrss) is the measurement."""

    def __init__(self, spec):
        from vidsim.decode import probe

        from .extractors import build_vidsim, describe

        self.clip, self.warmup_clip = spec["clip"], spec["warmup_clip"]
        self.decode, self.fe = build_vidsim(spec["overrides"])
        self.info = describe(self.fe)
        self.video_s = probe(self.clip).duration

    def setup(self):
        self.fe.extract_video(self.warmup_clip, self.decode)
        return self.info

    def run(self):
        feats = self.fe.extract_video(self.clip, self.decode)
        return {"frames": int(feats.regions.shape[0]), "video_s": self.video_s,
                "features_mb": feats.regions.nbytes / 2**20}


def section_rss(clips: dict[str, str], warmup_clip: str, rows: dict[str, Row], args) -> dict:
    specs, skipped = {}, {}
    for name, row in rows.items():
        spec = row_spec(name, row)
        why = check_row(spec["overrides"])
        if why:
            skipped[name] = why
            print(f"   skip rss {name}: {why}", file=sys.stderr, flush=True)
            continue
        for label, path in clips.items():
            specs[f"{name}, {label}"] = {**spec, "kind": "rss", "clip": path, "warmup_clip": warmup_clip,
                                         "threads": row.threads or args.threads, "duration": label}
    group = run_group("peak RSS on long videos", specs, 1)
    group["skipped"] = skipped
    group["rows"] = [n for n in rows if n not in skipped]
    group["durations"] = list(clips)
    return derive_rss(group)


def derive_rss(group: dict) -> dict:
    res = group["results"]
    verdicts = {}
    for row in group["rows"]:
        mine = [res[f"{row}, {d}"] for d in group["durations"] if f"{row}, {d}" in res]
        if not mine:
            continue
        short, long = mine[0], mine[-1]
        growth = long["maxrss_mb"] - short["maxrss_mb"]
        feats = long["runs"][0]["features_mb"]
        verdicts[row] = {"longest": group["durations"][-1], "peak_mb": max(r["maxrss_mb"] for r in mine),
                         "growth_mb": growth, "features_mb": feats,
                         "under_limit": max(r["maxrss_mb"] for r in mine) < RSS_LIMIT_MB,
                         "flat": growth <= 2 * feats + FLAT_SLACK_MB}
    group["headline"] = {"limit_mb": RSS_LIMIT_MB, "rows": verdicts}
    return group


def headline_lines(r: dict) -> list[str]:
    h = r["rss"]["headline"]
    return [f"- Peak RSS, `{row}`, up to a {v['longest']} video: **{v['peak_mb']:.0f} MiB**, under 1 GiB "
            f"({h['limit_mb']:.0f} MiB): {verdict(v['under_limit'])}; growth from the 200-s clip {v['growth_mb']:+.0f} MiB "
            f"for {v['features_mb']:.0f} MiB of features kept: flat {verdict(v['flat'])}." for row, v in h["rows"].items()]


def render(r: dict) -> list[str]:
    g = r["rss"]
    L = ["## Peak RSS on long videos", "",
         "Each row is its own worker process: model loaded, one warm-up `extract_video` of the 200-s clip, then one "
         "timed `extract_video` of the video; peak RSS = the process's ru_maxrss. The long videos are the 200-s clip "
         "looped with `ffmpeg -stream_loop N -c copy` into the benchmark's cache directory (not committed). "
         f"Flat: the growth from the 200-s clip is at most the features kept (held twice while they are concatenated) "
         f"plus {FLAT_SLACK_MB:.0f} MiB (1 MiB = 2^20 bytes).", "",
         "| row, video | sampled frames | features MiB | peak RSS after model + warm-up MiB | peak RSS MiB | video-s/s |",
         "|---|---:|---:|---:|---:|---:|"]
    for name, res in g["results"].items():
        run = res["runs"][0]
        L.append(f"| {name} | {run['frames']} | {run['features_mb']:.0f} | {res.get('setup_maxrss_mb', 0):.0f} | "
                 f"{res['maxrss_mb']:.0f} | {run['video_s'] / run['seconds']:.1f} |")
    made = r.get("made_clips", {})
    L += [""] + [f"- {label}: `{m['file']}`, {m['duration_s']:.0f} s, {m['bytes']:,} bytes, SHA-256 `{m['sha256']}`; "
                 f"`{' '.join(m['command'])}`" for label, m in made.items() if label in g["durations"]]
    L += [f"- skipped `{n}`: {why}" for n, why in g.get("skipped", {}).items()]
    L.append("")
    return L
