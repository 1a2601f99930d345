"""Section "e2e": decode + extract streamed over the whole clip, with and without a decode thread."""
from __future__ import annotations

import queue
import threading

from .common import PASSIVE_ENV, PASSIVE_TAG, num, others_cpu, rate_stats
from .extractors import build_extractor
from .runner import run_group


def prefetch(iterable, depth: int = 2):
    """Yield the items of `iterable`, produced by a background thread up to `depth` ahead."""
    q: queue.Queue = queue.Queue(maxsize=depth)
    done = object()

    def produce():
        try:
            for item in iterable:
                q.put(item)
        except BaseException as exc:  # re-raised in the consumer
            q.put(("__error__", exc))
        finally:
            q.put(done)

    threading.Thread(target=produce, daemon=True).start()
    while True:
        item = q.get()
        if item is done:
            return
        if isinstance(item, tuple) and len(item) == 2 and item[0] == "__error__":
            raise item[1]
        yield item


class EndToEndTask:
    def __init__(self, spec):
        from vidsim.config import DecodeConfig, VidsimConfig
        from vidsim.decode import probe

        self.clip = spec["clip"]
        self.decode = DecodeConfig(fps=spec["fps"])
        self.overlap = spec.get("overlap", False)
        self.fe = build_extractor(spec)
        if hasattr(self.fe, "feature_key"):
            self.key = self.fe.feature_key(self.decode)
        else:
            self.key = VidsimConfig(decode=self.decode, features=self.fe.config).feature_key()
        self.video_s = probe(self.clip).duration

    def setup(self):
        return self.run()

    def run(self):
        from vidsim.decode import iter_frames

        if self.overlap:
            feats = self.fe.embed_batches(prefetch(iter_frames(self.clip, self.decode)), str(self.clip), self.key)
        else:
            feats = self.fe.extract_video(self.clip, self.decode)
        return {"frames": int(feats.regions.shape[0]), "video_s": self.video_s}


def section_e2e(clip: str, args, bf16_batch: int) -> dict:
    fps = 0.2 if args.quick else 1.0
    base = {"kind": "e2e", "clip": clip, "fps": fps, "threads": args.threads, "impl": "vidsim"}
    specs = {}
    for overlap in (False, True):
        suffix = " +decode thread (suggested)" if overlap else ""
        specs[f"lite0 fp32 b32{suffix}"] = {**base, "backbone": "efficientnet-lite0", "precision": "fp32",
                                            "batch_size": 32, "overlap": overlap}
        specs[f"resnet50 bf16 b{bf16_batch}{suffix}"] = {**base, "backbone": "resnet50", "weights": "seed:0",
                                                         "precision": "bf16", "batch_size": bf16_batch,
                                                         "overlap": overlap}
    if args.passive:
        for name in [n for n in specs if "+decode" not in n]:
            specs[f"{name} {PASSIVE_TAG}"] = {**specs[name], "env": PASSIVE_ENV}
    group = run_group("end to end (decode + extract, streamed)", specs, args.rounds, args.wait_quiet)
    for res in group["results"].values():
        res["frames_per_s"] = rate_stats(res["runs"], "frames")
        res["video_s_per_s"] = rate_stats(res["runs"], "video_s")
    return group


def render(r: dict) -> list[str]:
    """This section's part of the Markdown report."""
    L = []
    L += ["## End to end", "",
          "`FeatureExtractor.extract_video` on the whole clip (decode + extract, streamed in batches of 32 "
          "frames); `+decode thread` runs `iter_frames` in a background thread two batches ahead "
          "(`embed_batches(prefetch(iter_frames(...)))`, in this script only).", "",
          "| variant | sampled frames | frames/s (best / median) | frames/s, best quiet run | video s/s (best / median) | peak RSS MB | others' CPU |",
          "|---|---:|---:|---:|---:|---:|---:|"]
    for name, res in r["e2e"]["results"].items():
        fr, vs = res["frames_per_s"], res["video_s_per_s"]
        L.append(f"| {name} | {res['runs'][0]['frames']} | {fr['best']:.1f} / {fr['median']:.1f} | {num(fr.get('best_quiet'))} | "
                 f"{vs['best']:.1f} / {vs['median']:.1f} | {res['maxrss_mb']:.0f} | {others_cpu(res)} |")
    L.append("")
    return L
