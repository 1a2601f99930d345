"""Section "decode": `iter_frames` over the whole clip with each strategy."""
from __future__ import annotations

from .common import num, others_cpu, rate_stats
from .runner import run_group


class DecodeTask:
    def __init__(self, spec):
        from vidsim.config import DecodeConfig
        from vidsim.decode import probe
        from vidsim.decode.strategy import choose_strategy

        self.clip = spec["clip"]
        self.config = DecodeConfig(strategy=spec["strategy"])
        self.info = probe(self.clip)
        self.used = choose_strategy(self.info, self.config.fps, self.config.strategy)

    def setup(self):
        self.run()
        return {"strategy_used": self.used, "duration_s": self.info.duration}

    def run(self):
        from vidsim.decode import iter_frames

        frames = 0
        last = 0.0
        for batch in iter_frames(self.clip, self.config):
            frames += len(batch.timestamps)
            last = float(batch.timestamps[-1])
        return {"frames": frames, "video_s": self.info.duration, "last_t": last}


def section_decode(clip: str, args) -> dict:
    strategies = ["auto"] if args.quick else ["auto", "decode", "seek"]
    specs = {f"decode/{s}": {"kind": "decode", "clip": clip, "strategy": s, "threads": args.threads}
             for s in strategies}
    group = run_group("decoding", specs, args.rounds, args.wait_quiet)
    for _name, res in group["results"].items():
        res["frames_per_s"] = rate_stats(res["runs"], "frames")
        res["video_s_per_s"] = rate_stats(res["runs"], "video_s")
    return group


def render(r: dict) -> list[str]:
    """This section's part of the Markdown report."""
    L = []
    L += ["## Decoding", "",
          "`iter_frames` (1 sampled frame/s, shorter side 256, centre crop 224), whole clip.", "",
          "| strategy | used | sampled frames | sampled frames/s (best / median) | sampled frames/s, best quiet run | video s/s (best / median) | peak RSS MB | others' CPU |",
          "|---|---|---:|---:|---:|---:|---:|---:|"]
    for _name, res in r["decode"]["results"].items():
        fr, vs = res["frames_per_s"], res["video_s_per_s"]
        L.append(f"| {res['spec']['strategy']} | {res['ready']['strategy_used']} | {res['runs'][0]['frames']} | "
                 f"{fr['best']:.0f} / {fr['median']:.0f} | {num(fr.get('best_quiet'), 0)} | {vs['best']:.0f} / {vs['median']:.0f} | "
                 f"{res['maxrss_mb']:.0f} | {others_cpu(res)} |")
    L.append("")
    return L
