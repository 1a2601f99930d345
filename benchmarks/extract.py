"""Benchmark decoding, feature extraction per backbone, similarity and peak memory on a real clip.

    python benchmarks/extract.py             # full run (30-60 min on 2 cores); writes
                                             # benchmarks/results/extract.{md,json}
    python benchmarks/extract.py --quick     # smoke run (a couple of minutes); prints only
    python benchmarks/extract.py --clip other.mp4 --sections decode extract --no-write

The clip is the corpus clip `franck` (200 s, 360x288, fetched and checked by
`vidsim.evaluate.corpus`) unless --clip names another.

Every measurement runs in its own worker process (this script with --worker), so the peak
RSS reported for it (ru_maxrss) is its own. Workers of one group are started one after the
other; each builds its model and does one untimed warm-up run, then the group runs in
interleaved rounds (worker 1, worker 2, ..., then again), one timed run per worker per round.
Ratios are taken between runs of the same round, so a change in the load from other
processes affects both sides alike. Each worker uses torch.set_num_threads(--threads),
default: the cores this process may run on.

Extraction compares, on the same pre-decoded frames:
  reference  the official ViSiL recipe (MKLab-ITI/visil, `evaluation.py` + `model/visil.py`),
             re-implemented below: frames `.float()`, /255, ImageNet mean/std, NHWC -> NCHW,
             torchvision-style ResNet-50 run module by module with `.contiguous()` after each,
             max-pool kernels 28/14/6/3 with stride ceil(k/2), L2 per layer, concatenation, L2;
             fp32, NCHW, batch 128. It runs vidsim's ResNet-50 module (same key names and
             layers as torchvision's) with the deterministic weights `seed:0`.
  vidsim     `FeatureExtractor` with each backbone, precision and batch size.
Neither side applies PCA whitening (no whitening file; it would cost both the same).
"""
from __future__ import annotations

import argparse
import datetime as _dt
import json
import math
import os
import platform
import queue
import resource
import shlex
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
try:
    import vidsim  # noqa: F401
except ImportError:  # run from a checkout without installing
    sys.path.insert(0, str(HERE.parent / "src"))

PASSIVE_ENV = {"OMP_WAIT_POLICY": "PASSIVE"}
PASSIVE_TAG = "[OMP_WAIT_POLICY=PASSIVE]"
REQUIRED_RATIO = 3.0  # vidsim resnet50 bf16 vs the official-recipe reference
SCORE_TOLERANCE = 1e-3  # max |score(bf16) - score(fp32)|


# =========================================================================== worker side

def _maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # kB on Linux


def _cpu_s() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def machine_busy_s() -> float:
    """CPU seconds spent by all processes on the machine since boot (/proc/stat, non-idle)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return (sum(v[:8]) - v[3] - v[4]) / os.sysconf("SC_CLK_TCK")  # minus idle and iowait


class OfficialRecipe:
    """Region vectors the way the official ViSiL code computes them (see the module docstring)."""

    STAGE_KERNELS = {"layer1": 28, "layer2": 14, "layer3": 6, "layer4": 3}  # for 224-px input
    MODULES = ("conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4")

    def __init__(self, resnet, batch_size: int = 128):
        import torch

        self.net = resnet.eval()
        self.batch_size = batch_size
        self.mean = torch.tensor([0.485, 0.456, 0.406])
        self.std = torch.tensor([0.229, 0.224, 0.225])

    def region_vectors(self, x):
        import torch
        import torch.nn.functional as F

        x = ((x / 255.0) - self.mean) / self.std
        x = x.permute(0, 3, 1, 2)
        pooled = []
        for name in self.MODULES:
            x = getattr(self.net, name)(x).contiguous()
            if name in self.STAGE_KERNELS:
                k = self.STAGE_KERNELS[name]
                r = F.max_pool2d(x, [k, k], int(math.ceil(k / 2)))
                pooled.append(F.normalize(r, p=2, dim=1))
        x = torch.cat(pooled, 1)
        x = x.view(x.shape[0], x.shape[1], -1).permute(0, 2, 1)
        return F.normalize(x, p=2, dim=-1)

    def __call__(self, frames):
        import torch

        with torch.no_grad():
            out = []
            for start in range(0, frames.shape[0], self.batch_size):
                out.append(self.region_vectors(frames[start : start + self.batch_size].float()))
            return torch.cat(out, 0)


def build_extractor(spec: dict):
    """A callable uint8 frames [N, H, W, 3] (torch) -> region vectors [N, 9, D]."""
    from vidsim.config import FeatureConfig
    from vidsim.features.extractor import FeatureExtractor, fold_batchnorms

    if spec["impl"] == "reference":
        from vidsim.features.backbones import build_backbone

        return OfficialRecipe(build_backbone("resnet50", "seed:0"), spec.get("batch_size", 128))
    extra = {"whitening": spec["whitening"]} if "whitening" in spec else {}  # else the library default
    cfg = FeatureConfig(backbone=spec["backbone"], weights=spec.get("weights"),
                        precision=spec["precision"], batch_size=spec["batch_size"], **extra)
    fe = FeatureExtractor(cfg, device="cpu")
    if spec.get("fold_fp32"):  # suggested fp32 speed-up, not (yet) in the library
        fe.backbone = fold_batchnorms(fe.backbone)
    return fe


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


class SimilarityTask:
    """Pairs of 60-frame videos (9 regions each) scored by ViSiLHead; features prepared once."""

    def __init__(self, spec):
        import torch
        import torch.nn.functional as F

        from vidsim.similarity import ViSiLHead

        g = torch.Generator().manual_seed(0)
        dims, frames = spec["dims"], spec["frames"]
        self.head = ViSiLHead(dims, learned=spec["learned"]).eval()
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
            head = ViSiLHead(dims, learned=learned).eval()
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


TASKS = {"decode": DecodeTask, "extract": ExtractTask, "similarity": SimilarityTask,
         "e2e": EndToEndTask, "agreement": AgreementTask}


def worker_main(spec_json: str) -> int:
    """Protocol: one JSON line per message on the original stdout; commands on stdin."""
    proto = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # anything else printed goes to stderr
    spec = json.loads(spec_json)
    import torch

    torch.set_num_threads(spec["threads"])

    def send(obj):
        proto.write(json.dumps(obj) + "\n")

    try:
        t0 = time.perf_counter()
        task = TASKS[spec["kind"]](spec)
        info = task.setup()
        send({"ready": info, "setup_s": time.perf_counter() - t0, "maxrss_mb": _maxrss_mb()})
        for line in sys.stdin:
            cmd = line.strip()
            if cmd == "run":
                c0 = _cpu_s()
                t0 = time.perf_counter()
                out = task.run()
                send({"seconds": time.perf_counter() - t0, "cpu_s": _cpu_s() - c0, **out})
            elif cmd == "quit":
                send({"maxrss_mb": _maxrss_mb()})
                return 0
    except BaseException as exc:  # report, then fail
        send({"error": f"{type(exc).__name__}: {exc}"})
        raise
    return 0


# =========================================================================== orchestrator side

class Worker:
    def __init__(self, name: str, spec: dict):
        self.name, self.spec = name, spec
        cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", json.dumps(spec)]
        env = {**os.environ, **spec.get("env", {})}  # e.g. OMP_WAIT_POLICY: read when torch loads
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1,
                                     env=env)
        self.ready = self._read()

    def _read(self) -> dict:
        line = self.proc.stdout.readline()
        if not line:
            rc = self.proc.wait()
            raise RuntimeError(f"worker {self.name} exited with status {rc} (see stderr above)")
        msg = json.loads(line)
        if "error" in msg:
            self.proc.wait()
            raise RuntimeError(f"worker {self.name}: {msg['error']}")
        return msg

    def run(self) -> dict:
        """One timed run; adds `others_cpu_share`: the share of all cores that other processes
        used meanwhile (machine busy time less this worker's own CPU time)."""
        busy0 = machine_busy_s()
        self.proc.stdin.write("run\n")
        msg = self._read()
        others = machine_busy_s() - busy0 - msg.get("cpu_s", 0.0)
        msg["others_cpu_share"] = max(0.0, others) / (msg["seconds"] * (os.cpu_count() or 1))
        return msg

    def quit(self) -> float:
        self.proc.stdin.write("quit\n")
        msg = self._read()
        self.proc.stdin.close()
        self.proc.wait()
        return msg["maxrss_mb"]


class CpuMeter:
    """CPU time used on the machine by processes other than this benchmark, over an interval."""

    def __init__(self):
        self.t0, self.busy0, self.ours0 = time.perf_counter(), self._busy(), self._ours()
        self.load0 = os.getloadavg()[0]

    _busy = staticmethod(machine_busy_s)

    @staticmethod
    def _ours() -> float:
        s, c = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        return s.ru_utime + s.ru_stime + c.ru_utime + c.ru_stime

    def stop(self) -> dict:
        wall = time.perf_counter() - self.t0
        busy, ours = self._busy() - self.busy0, self._ours() - self.ours0
        cores = os.cpu_count() or 1
        return {"wall_s": round(wall, 1), "loadavg_1min_start": round(self.load0, 2),
                "loadavg_1min_end": round(os.getloadavg()[0], 2),
                "others_cpu_share": round(max(0.0, busy - ours) / (wall * cores), 3),
                "ours_cpu_share": round(ours / (wall * cores), 3)}


def wait_quiet(max_wait_s: float, threshold: float = 0.15) -> dict:
    """Wait (up to max_wait_s) until other processes use under `threshold` of all cores,
    sampled over 1-s windows while this benchmark is idle; returns what was seen."""
    cores = os.cpu_count() or 1
    t0 = time.perf_counter()
    while True:
        b0 = machine_busy_s()
        time.sleep(1.0)
        share = (machine_busy_s() - b0) / cores
        waited = time.perf_counter() - t0
        if share < threshold or waited >= max_wait_s:
            return {"waited_s": round(waited, 1), "others_cpu_share_before": round(share, 3)}


QUIET_SHARE = 0.10  # a timed run is "quiet" when other processes used at most this share of the CPU


def is_quiet(run: dict) -> bool:
    return run.get("others_cpu_share", 1.0) <= QUIET_SHARE


def run_group(title: str, specs: dict[str, dict], rounds: int, quiet_s: float = 0.0,
              until_quiet: list[str] | None = None, max_extra: int = 0) -> dict:
    """Start the workers one by one (setup + warm-up), then `rounds` interleaved timed runs;
    then up to `max_extra` more rounds of the `until_quiet` workers (each run after waiting up
    to max(quiet_s, 120) s for quiet) while one of them has no quiet run yet."""
    print(f"\n== {title}: {len(specs)} workers, {rounds} round(s)", file=sys.stderr, flush=True)
    meter = CpuMeter()
    workers, results = {}, {}
    try:
        for name, spec in specs.items():
            workers[name] = Worker(name, spec)
            print(f"   ready  {name:34s} setup+warm-up {workers[name].ready['setup_s']:6.1f} s",
                  file=sys.stderr, flush=True)
            results[name] = {"spec": spec, "ready": workers[name].ready["ready"],
                             "setup_s": workers[name].ready["setup_s"], "runs": []}
        for r in range(rounds):
            for name, w in workers.items():
                quiet = wait_quiet(quiet_s) if quiet_s > 0 else {}
                out = {**w.run(), **quiet}
                results[name]["runs"].append(out)
                print(f"   round {r + 1} {name:34s} {out['seconds']:7.2f} s  (others used "
                      f"{out['others_cpu_share'] * 100:3.0f}% of the CPU"
                      + (f"; waited {quiet['waited_s']:.0f} s for quiet" if quiet else "") + ")",
                      file=sys.stderr, flush=True)
        extra = 0
        while until_quiet and extra < max_extra and not all(
                any(is_quiet(run) for run in results[n]["runs"]) for n in until_quiet):
            extra += 1
            for name in until_quiet:
                quiet = wait_quiet(max(quiet_s, 120.0))
                out = {**workers[name].run(), **quiet, "extra_round": extra}
                results[name]["runs"].append(out)
                print(f"   extra {extra} {name:34s} {out['seconds']:7.2f} s  (others used "
                      f"{out['others_cpu_share'] * 100:3.0f}% of the CPU; waited {quiet['waited_s']:.0f} s for quiet)",
                      file=sys.stderr, flush=True)
        for name, w in list(workers.items()):
            results[name]["maxrss_mb"] = w.quit()
            del workers[name]
    finally:
        for w in workers.values():
            w.proc.kill()
            w.proc.wait()
    return {"results": results, "cpu": meter.stop()}


def rate_stats(runs: list[dict], count_key: str) -> dict:
    rates = [r[count_key] / r["seconds"] for r in runs]
    quiet = [rate for rate, r in zip(rates, runs) if is_quiet(r)]
    return {"best": max(rates), "median": statistics.median(rates), "all": rates,
            "best_quiet": max(quiet) if quiet else None, "quiet_runs": len(quiet),
            "seconds": [r["seconds"] for r in runs]}


# --------------------------------------------------------------------------- sections

def section_decode(clip: str, args) -> dict:
    strategies = ["auto"] if args.quick else ["auto", "decode", "seek"]
    specs = {f"decode/{s}": {"kind": "decode", "clip": clip, "strategy": s, "threads": args.threads}
             for s in strategies}
    group = run_group("decoding", specs, args.rounds, args.wait_quiet)
    for name, res in group["results"].items():
        res["frames_per_s"] = rate_stats(res["runs"], "frames")
        res["video_s_per_s"] = rate_stats(res["runs"], "video_s")
    return group


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
    lite = {}
    for variant in args.lite:
        for prec in ("fp32", "bf16"):
            lite[f"vidsim efficientnet-{variant} {prec} b32"] = {
                **base, "impl": "vidsim", "backbone": f"efficientnet-{variant}", "precision": prec, "batch_size": 32}
    if args.passive:  # the same work with OpenMP threads that sleep instead of spinning when idle
        ref_name = next(iter(resnet))
        resnet[f"{ref_name} {PASSIVE_TAG}"] = {**resnet[ref_name], "env": PASSIVE_ENV}
        b = 16 if 16 in args.bf16_batches else args.bf16_batches[0]
        resnet[f"vidsim resnet50 bf16 b{b} {PASSIVE_TAG}"] = {**resnet[f"vidsim resnet50 bf16 b{b}"], "env": PASSIVE_ENV}
        if "lite0" in args.lite:
            lite[f"vidsim efficientnet-lite0 fp32 b32 {PASSIVE_TAG}"] = {
                **lite["vidsim efficientnet-lite0 fp32 b32"], "env": PASSIVE_ENV}
    return resnet, lite


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


WHITEN_FIT_CLIPS = ("minions", "vtest", "world", "wolfgang", "bikes")  # never among the scored clips
METRICS = ("chamfer", "chamfer_whitened", "visil_seeded_head", "visil_seeded_head_whitened")


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


def section_similarity(args) -> dict:
    specs = {}
    for dims, label in ((256, "lite0, default whitening"), (496, "lite0 unwhitened"), (3840, "resnet50")):
        for learned in (False, True):
            name = f"{'learned' if learned else 'chamfer'} D={dims} ({label})"
            specs[name] = {"kind": "similarity", "dims": dims, "frames": 60, "learned": learned,
                           "target_s": 0.5 if args.quick else 2.0, "threads": args.threads}
            if args.passive:
                specs[f"{name} {PASSIVE_TAG}"] = {**specs[name], "env": PASSIVE_ENV}
    group = run_group("similarity", specs, args.rounds, args.wait_quiet)
    for res in group["results"].values():
        res["pairs_per_s"] = rate_stats(res["runs"], "pairs")
    return group


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


# --------------------------------------------------------------------------- report

def machine_info(threads: int) -> dict:
    import av
    import numpy
    import torch

    model, flags, mem = "unknown", [], None
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name") and model == "unknown":
                    model = line.split(":", 1)[1].strip()
                elif line.startswith("flags") and not flags:
                    flags = line.split(":", 1)[1].split()
        with open("/proc/meminfo") as f:
            mem = round(int(f.readline().split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    wanted = ("avx2", "avx512f", "avx512_bf16", "avx512_vnni", "amx_bf16", "amx_tile")
    return {
        "cpu_model": model,
        "cores": os.cpu_count(),
        "cores_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "cpu_flags": [f for f in wanted if f in flags],
        "memory_gib": mem,
        "torch_threads": threads,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torch_cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "mkldnn": bool(torch.backends.mkldnn.is_available()),
        "av": av.__version__,
        "numpy": numpy.__version__,
        "platform": platform.platform(),
    }


def _others(res: dict) -> str:
    """Mean share of the CPU other processes used during this row's timed runs."""
    shares = [r.get("others_cpu_share") for r in res["runs"] if r.get("others_cpu_share") is not None]
    return f"{100 * statistics.mean(shares):.0f}%" if shares else "-"


def _f(x, nd=1) -> str:
    return "-" if x is None else f"{x:.{nd}f}"


def render_markdown(r: dict) -> str:
    m, clip = r["machine"], r["clip"]
    L = ["# vidsim extraction benchmark", ""]
    L += [f"- date: {r['date']}",
          f"- command: `{r['command']}`",
          f"- machine: {m['cpu_model']}, {m['cores']} cores ({', '.join(m['cpu_flags'])}), {m['memory_gib']} GiB; "
          f"torch threads {m['torch_threads']}",
          f"- versions: python {m['python']}, torch {m['torch']} (CPU capability {m['torch_cpu_capability']}), "
          f"av {m['av']}, numpy {m['numpy']}",
          f"- clip: `{clip['name']}` {clip['width']}x{clip['height']}, {clip['duration_s']:.1f} s, "
          f"{clip['fps']:.2f} fps, {clip['codec']}, keyframe every {_f(clip['keyframe_interval_s'], 2)} s",
          f"- timing: each row is its own worker process (peak RSS is its own), one untimed warm-up run, "
          f"then {r['rounds']} interleaved round(s); rates are best / median over rounds; "
          "a run is quiet when other processes used at most 10% of the CPU meanwhile; the column \"others' CPU\" is the mean share of all cores "
          f"that other processes used during the row's timed runs (each timed run first waits up to {r['wait_quiet_s']:.0f} s "
          "for them to drop under 15%)"]
    loads = list(r["cpu_by_group"].items())
    if loads:
        L.append("- load from other processes during each group (share of all cores used by processes other "
                 "than this benchmark; 1-min load average at start/end): "
                 + "; ".join(f"{n} {c['others_cpu_share'] * 100:.0f}% ({c['loadavg_1min_start']}/{c['loadavg_1min_end']})"
                             for n, c in loads))
    L.append("")

    if "extract" in r:
        h = r["extract"]["headline"]
        L += ["## Headline", ""]
        ok = "**meets**" if h["meets_required"] else "**does NOT meet**"
        L += [f"vidsim `resnet50` bf16 (batch {h['best_bf16_batch_size']}) extracts **{h['ratio']:.2f}x** the frames/s "
              f"of the official-recipe reference (fp32, NCHW, batch 128) measured side by side in this run "
              f"({h['ratio_method']}; a run is quiet when other processes used at most "
              f"{h['quiet_share'] * 100:.0f}% of the CPU meanwhile): {ok} the required {h['required']:.0f}x. "
              f"Other measures of the same runs: median of per-round ratios {h['ratio_median_paired']:.2f}x "
              f"(lowest round {h['ratio_min_paired']:.2f}x), best vs best {h['ratio_best_over_best']:.2f}x."]
        if "passive" in h:
            p = h["passive"]
            L += ["", f"With `OMP_WAIT_POLICY=PASSIVE` on both sides ({p['name']} against the reference run the "
                      f"same way): median of per-round ratios {p['ratio_median_paired']:.2f}x"
                      + (f", best quiet runs {p['ratio_quiet']:.2f}x." if p.get("ratio_quiet") else ".")]
        if "agreement" in r:
            a = r["agreement"]
            d0 = a["deltas"][0]
            lite = [d for d in a["deltas"] if d["a"].startswith("lite0 bf16")]

            def verdict(x):
                return f"{x:.2e} ({'within' if x <= a['tolerance'] else '**NOT within**'})"

            L += ["", f"Scores (chamfer, max |Δscore| over {len(a['pairs'])} real video pairs, tolerance "
                      f"{a['tolerance']:g}): resnet50 bf16 vs the fp32 reference: raw features {verdict(d0['chamfer'])}, "
                      f"PCA-whitened features {verdict(d0['chamfer_whitened'])}. "
                      "efficientnet-lite0 bf16 vs fp32: "
                      + ", ".join(f"{d['a'].replace('lite0 bf16', '').strip() or 'default whitening'} "
                                  f"{verdict(d['worst_chamfer'])}" for d in lite) + "."]
        L.append("")

    if "decode" in r:
        L += ["## Decoding", "",
              "`iter_frames` (1 sampled frame/s, shorter side 256, centre crop 224), whole clip.", "",
              "| strategy | used | sampled frames | sampled frames/s (best / median) | sampled frames/s, best quiet run | video s/s (best / median) | peak RSS MB | others' CPU |",
              "|---|---|---:|---:|---:|---:|---:|---:|"]
        for name, res in r["decode"]["results"].items():
            fr, vs = res["frames_per_s"], res["video_s_per_s"]
            L.append(f"| {res['spec']['strategy']} | {res['ready']['strategy_used']} | {res['runs'][0]['frames']} | "
                     f"{fr['best']:.0f} / {fr['median']:.0f} | {_f(fr.get('best_quiet'), 0)} | {vs['best']:.0f} / {vs['median']:.0f} | "
                     f"{res['maxrss_mb']:.0f} | {_others(res)} |")
        L.append("")

    if "extract" in r:
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
                    ratio = f"{_f(rr.get('quiet'), 2)} / {rr['median']:.2f}"
                else:
                    ratio = "1.00" if gname == "resnet50" else "-"
                L.append(f"| {name} | {res['ready'].get('whitening', '-')} | {res['ready']['dims']} | "
                         f"{fr['best']:.1f} / {fr['median']:.1f} | {_f(fr.get('best_quiet'))} | "
                         f"{ratio} | {res['maxrss_mb']:.0f} | {_others(res)} |")
        L += ["", f"Best bf16 batch size for resnet50 here: **{e['headline']['best_bf16_batch_size']}** "
                  "(highest best-quiet-run rate, or median rate where a batch size had no quiet run).", ""]

    if "agreement" in r:
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

    if "similarity" in r:
        L += ["## Similarity", "",
              "`ViSiLHead` on pairs of 60-frame videos (9 regions each), features prepared once per video "
              "(attention applied beforehand in the learned mode; its comparator is randomly initialised).", "",
              "| head | pairs/s (best / median) | pairs/s, best quiet run | ms/pair (best) | peak RSS MB | others' CPU |",
              "|---|---:|---:|---:|---:|---:|"]
        for name, res in r["similarity"]["results"].items():
            p = res["pairs_per_s"]
            L.append(f"| {name} | {p['best']:.1f} / {p['median']:.1f} | {_f(p.get('best_quiet'))} | {1000 / p['best']:.1f} | "
                     f"{res['maxrss_mb']:.0f} | {_others(res)} |")
        L.append("")

    if "e2e" in r:
        L += ["## End to end", "",
              "`FeatureExtractor.extract_video` on the whole clip (decode + extract, streamed in batches of 32 "
              "frames); `+decode thread` runs `iter_frames` in a background thread two batches ahead "
              "(`embed_batches(prefetch(iter_frames(...)))`, in this script only).", "",
              "| variant | sampled frames | frames/s (best / median) | frames/s, best quiet run | video s/s (best / median) | peak RSS MB | others' CPU |",
              "|---|---:|---:|---:|---:|---:|---:|"]
        for name, res in r["e2e"]["results"].items():
            fr, vs = res["frames_per_s"], res["video_s_per_s"]
            L.append(f"| {name} | {res['runs'][0]['frames']} | {fr['best']:.1f} / {fr['median']:.1f} | {_f(fr.get('best_quiet'))} | "
                     f"{vs['best']:.1f} / {vs['median']:.1f} | {res['maxrss_mb']:.0f} | {_others(res)} |")
        L.append("")

    if r.get("notes"):
        L += ["## Notes", ""] + [f"- {n}" for n in r["notes"]] + [""]
    return "\n".join(L)


def write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


# --------------------------------------------------------------------------- main

SECTIONS = ("decode", "extract", "agreement", "similarity", "e2e")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--worker"]:
        return worker_main(argv[1])
    ap = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    ap.add_argument("--clip", type=Path, help="video to benchmark (default: the corpus clip 'franck', 200 s)")
    ap.add_argument("--quick", action="store_true", help="smoke run: 32 frames, one round, fewer variants")
    ap.add_argument("--rounds", type=int, help="timed rounds per measurement (default 3; 1 with --quick)")
    ap.add_argument("--frames", type=int, help="pre-decoded frames for extraction (default all; 32 with --quick)")
    ap.add_argument("--threads", type=int, default=None, help="torch threads per worker (default: usable cores)")
    ap.add_argument("--bf16-batches", type=int, nargs="+", default=None, metavar="B",
                    help="resnet50 bf16 batch sizes to try (default 8 16 32)")
    ap.add_argument("--lite", nargs="*", default=None, metavar="V",
                    help="efficientnet variants (default lite0 lite1 lite2; lite0 with --quick)")
    ap.add_argument("--sections", nargs="+", choices=SECTIONS, default=list(SECTIONS))
    ap.add_argument("--out", type=Path, help=f"where to write extract.md/.json (default {RESULTS} for a full run; "
                                             "a --quick run writes only where --out says)")
    ap.add_argument("--wait-quiet", type=float, default=None, metavar="S",
                    help="before each timed run, wait up to S seconds until other processes use under 15%% "
                         "of the CPU (default 30; 0 with --quick)")
    ap.add_argument("--no-passive", dest="passive", action="store_false",
                    help="skip the extra rows run with OMP_WAIT_POLICY=PASSIVE")
    ap.add_argument("--extra-rounds", type=int, default=4, metavar="N",
                    help="after the rounds, up to N more rounds of the reference and the resnet50 bf16 rows while "
                         "one of them has no quiet run (only with --wait-quiet > 0; default 4)")
    ap.add_argument("--render", type=Path, metavar="JSON",
                    help="re-derive and print (and with --out, write) the report of an earlier run's extract.json")
    ap.add_argument("--no-write", action="store_true", help="print only")
    ap.add_argument("--note", action="append", default=[], help="a line for the Notes section (repeatable)")
    args = ap.parse_args(argv)
    args.rounds = args.rounds or (1 if args.quick else 3)
    if args.wait_quiet is None:
        args.wait_quiet = 0.0 if args.quick else 30.0
    args.threads = args.threads or (len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count())
    args.bf16_batches = args.bf16_batches or ([16] if args.quick else [8, 16, 32])
    args.lite = args.lite if args.lite is not None else (["lite0"] if args.quick else ["lite0", "lite1", "lite2"])

    if args.render:
        report = json.loads(args.render.read_text())
        report["notes"] = list(report.get("notes", [])) + list(args.note)
        if "extract" in report:
            derive_extract(report["extract"])
        for key, counts in (("decode", ("frames", "video_s")), ("similarity", ("pairs",)), ("e2e", ("frames", "video_s"))):
            for res in report.get(key, {}).get("results", {}).values():
                for count in counts:
                    res[f"{count}_per_s"] = rate_stats(res["runs"], count)
        md = render_markdown(report)
        print(md)
        if args.out and not args.no_write:
            write_atomic(args.out / "extract.json", json.dumps(report, indent=1) + "\n")
            write_atomic(args.out / "extract.md", md + "\n")
        return 0

    import numpy as np

    from vidsim.config import DecodeConfig
    from vidsim.decode import load_video, probe
    from vidsim.bench import fetch_corpus

    corpus_names = ["franck"]
    if "agreement" in args.sections:
        corpus_names += ["cap12", "cap13", *WHITEN_FIT_CLIPS]
    corpus = {k: str(v) for k, v in fetch_corpus(only=corpus_names).items()}
    clip = str(args.clip) if args.clip else corpus["franck"]
    info = probe(clip)
    command = " ".join(["python", os.path.relpath(__file__, Path.cwd())] + [shlex.quote(a) for a in argv])
    report = {
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "command": command,
        "machine": machine_info(args.threads),
        "clip": {"name": Path(clip).name, "path": clip, "duration_s": info.duration, "width": info.width,
                 "height": info.height, "fps": info.fps, "codec": info.codec,
                 "keyframe_interval_s": info.keyframe_interval},
        "rounds": args.rounds,
        "wait_quiet_s": args.wait_quiet,
        "quick": args.quick,
        "cpu_by_group": {},
    }
    if info.duration < 200 and not args.quick:
        print(f"warning: {clip} lasts {info.duration:.1f} s; the benchmark asks for at least 200 s", file=sys.stderr)
    t_start = time.perf_counter()
    bf16_batch = 16
    with tempfile.TemporaryDirectory(prefix="vidsim-bench-") as tmp:
        if "decode" in args.sections:
            report["decode"] = section_decode(clip, args)
            report["cpu_by_group"]["decoding"] = report["decode"]["cpu"]
        if "extract" in args.sections:
            frames = load_video(clip, DecodeConfig())
            n = args.frames or (32 if args.quick else len(frames))
            frames_path = os.path.join(tmp, "frames.npy")
            np.save(frames_path, np.ascontiguousarray(frames[:n]))
            del frames
            report["extract"] = section_extract(frames_path, n, args)
            for gname, group in report["extract"]["groups"].items():
                report["cpu_by_group"][f"extraction {gname}"] = group["cpu"]
            bf16_batch = report["extract"]["headline"]["best_bf16_batch_size"]
        if "agreement" in args.sections:
            paths = {"franck": clip if not args.clip else corpus["franck"], "cap12": corpus["cap12"],
                     "cap13": corpus["cap13"]}
            fit_paths = {k: corpus[k] for k in WHITEN_FIT_CLIPS}
            report["agreement"] = section_agreement(paths, fit_paths, args, bf16_batch)
            report["cpu_by_group"]["agreement"] = report["agreement"]["cpu"]
        if "similarity" in args.sections:
            report["similarity"] = section_similarity(args)
            report["cpu_by_group"]["similarity"] = report["similarity"]["cpu"]
        if "e2e" in args.sections:
            report["e2e"] = section_e2e(clip, args, bf16_batch)
            report["cpu_by_group"]["end to end"] = report["e2e"]["cpu"]
    report["total_s"] = round(time.perf_counter() - t_start, 1)
    report["notes"] = list(args.note)

    md = render_markdown(report)
    print(md)
    out = args.out if args.out else (None if args.quick else RESULTS)
    if out and not args.no_write:
        out.mkdir(parents=True, exist_ok=True)
        write_atomic(out / "extract.json", json.dumps(report, indent=1, sort_keys=False, default=float) + "\n")
        write_atomic(out / "extract.md", md + "\n")
        print(f"\nwrote {out / 'extract.md'} and {out / 'extract.json'}", file=sys.stderr)
    if "extract" in report and not report["extract"]["headline"]["meets_required"]:
        print(f"note: ratio below {REQUIRED_RATIO:.0f}x", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
