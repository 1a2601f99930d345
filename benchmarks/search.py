"""Index search at scale: latency, RAM, storage and accuracy of `vidsim search`.

    python benchmarks/search.py [--sizes 1000 10000 100000 1000000 3600000] [--quick]
                                [--skip-accuracy] [--bench DIR]

1. Scale (synthetic, seeded): frame-vector stores of 1k .. 3.6M 256-d unit vectors built with
   vidsim's own `FaissStore` (flat / ivf, `auto` as `choose_kind` decides), then the candidate
   stage of a 60-frame query (`vidsim.index.search.candidates`: k-NN + votes) timed, with its
   candidate recall. The re-rank stage (`vidsim.index.search.rerank`, the ViSiL head over the
   candidates' decoded float16 codes) does not depend on the index size: it is timed once, on
   codes generated in memory, for a few candidate counts and lengths.
2. Storage: bytes on disk per hour of video, per component, of a real index (`Index.open().add()`
   of the benchmark's test references), against ViSiL's layout (9 x 3840 float32 per second).
3. Accuracy: `Index.search` (top_k = all refs) on the benchmark's test split against exhaustive
   pairwise comparison (`run_evaluation(methods=["vidsim"])`), both scored by `evaluate_method`.

Writes benchmarks/results/search.{md,json} with the date, versions and the exact command.
"""
from __future__ import annotations

import argparse
import dataclasses
import gc
import json
import os
import platform
import resource
import shutil
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from vidsim.index.catalog import VectorRanges  # noqa: E402
from vidsim.index.config import IndexConfig, SearchConfig  # noqa: E402
from vidsim.index.search import candidates, rerank  # noqa: E402
from vidsim.index.vectors import FaissStore, choose_kind, ivf_lists  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
DIMS = 256
QUERY_FRAMES = 60
VISIL_BYTES_PER_SECOND = 9 * 3840 * 4  # ViSiL's layout: 9 regions x 3840-d float32 per frame, 1 fps


def versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for package in ("vidsim", "numpy", "torch", "faiss-cpu"):
        try:
            out[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            out[package] = "not installed"
    return out


def rss_bytes() -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def load_average() -> str:
    try:
        return open("/proc/loadavg").read().split(" ", 3)[:3].__str__()
    except OSError:
        return "?"


# --- synthetic frame vectors ---------------------------------------------------------------
class Synthetic:
    """Videos of `length` frames: a per-video centre (near one of 64 topic clusters), scenes of
    30-120 frames each adding an offset, and per-frame noise; unit norm. Each video is generated
    from its own seed, so a query can be regenerated without keeping the collection."""

    def __init__(self, total: int, seed: int = 0):
        self.total = total
        self.length = int(min(3600, max(100, total // 10)))
        self.videos = (total + self.length - 1) // self.length
        self.seed = seed
        rng = np.random.default_rng([seed, 1 << 30])
        self.clusters = _unit(rng.standard_normal((64, DIMS)).astype(np.float32))

    def frames_of(self, video: int) -> int:
        return min(self.length, self.total - video * self.length)

    def video(self, video: int) -> np.ndarray:
        n = self.frames_of(video)
        rng = np.random.default_rng([self.seed, video])
        centre = 0.6 * self.clusters[rng.integers(64)] + 0.8 * _unit(rng.standard_normal(DIMS).astype(np.float32))
        cuts = np.cumsum(rng.integers(30, 121, size=n // 30 + 2))
        scene = np.searchsorted(cuts, np.arange(n), side="right")
        offsets = 0.7 * _unit(rng.standard_normal((scene.max() + 1, DIMS)).astype(np.float32))
        noise = rng.standard_normal((n, DIMS), dtype=np.float32) * np.float32(0.3 / np.sqrt(DIMS))
        return _unit(centre[None] + offsets[scene] + noise)

    def chunks(self, videos_per_chunk: int = 64):
        """(ids, vectors) in chunks of whole videos; vector ids are 0..total-1 in video order."""
        for first in range(0, self.videos, videos_per_chunk):
            block = [self.video(v) for v in range(first, min(self.videos, first + videos_per_chunk))]
            start = first * self.length
            vectors = np.concatenate(block)
            yield np.arange(start, start + len(vectors), dtype=np.int64), vectors

    def ranges(self) -> VectorRanges:
        ids = np.arange(self.videos, dtype=np.int64)
        return VectorRanges(ids * self.length, np.array([self.frames_of(int(v)) for v in ids], np.int64), ids + 1)

    def query(self, i: int) -> tuple[np.ndarray, int]:
        """A noisy copy of a 60-frame stretch of a stored video; returns (vectors, video id)."""
        rng = np.random.default_rng([self.seed, 1 << 31, i])
        video = int(rng.integers(self.videos))
        frames = self.video(video)
        start = int(rng.integers(0, max(1, len(frames) - QUERY_FRAMES)))
        stretch = frames[start:start + QUERY_FRAMES]
        noise = rng.standard_normal(stretch.shape, dtype=np.float32) * np.float32(0.5 / np.sqrt(DIMS))
        return _unit(stretch + noise), video + 1


def _unit(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


def build_store(kind: str, data: Synthetic, train_per_list: int | None, train_iters: int | None) -> tuple[FaissStore, dict]:
    """`kind` store of the whole synthetic collection, added in chunks. flat: FaissStore.empty +
    add; ivf: the layout FaissStore.build makes (IVF + SQ8, `ivf_lists` cells), trained on a
    sample and filled chunk by chunk (FaissStore.build needs every vector in one array)."""
    import faiss

    info: dict = {}
    if kind == "ivf":
        nlist = min(ivf_lists(data.total), max(1, data.total // 39))
        info["lists"] = nlist
        default_sample = min(data.total, 256 * nlist)  # what FaissStore.build trains on
        sample_n = min(default_sample, nlist * (train_per_list or 256))
        info["train_vectors"] = sample_n
        info["train_vectors_default"] = default_sample
        rng = np.random.default_rng(1)
        per_video = max(1, sample_n // data.videos + 1)
        parts = []
        for v in range(data.videos):
            frames = data.video(v)
            parts.append(frames[rng.choice(len(frames), min(per_video, len(frames)), replace=False)])
        sample = np.ascontiguousarray(np.concatenate(parts)[:sample_n])
        del parts
        quantizer = faiss.IndexFlatIP(DIMS)
        index = faiss.IndexIVFScalarQuantizer(quantizer, DIMS, nlist, faiss.ScalarQuantizer.QT_8bit,
                                              faiss.METRIC_INNER_PRODUCT)
        if train_iters:
            index.cp.niter = train_iters
        info["train_iters"] = int(index.cp.niter)
        t = time.perf_counter()
        index.train(sample)
        info["train_s"] = round(time.perf_counter() - t, 2)
        del sample
        index.referenced_objects = [quantizer]
        store = FaissStore(index, "ivf", DIMS, trained_on=data.total)
    else:
        store = FaissStore.empty(kind, DIMS)
    t = time.perf_counter()
    for ids, vectors in data.chunks():
        store.add(ids, vectors)
    info["add_s"] = round(time.perf_counter() - t, 2)
    return store, info


def run_scale(size: int, kinds: list[str], queries: int, train_per_list: int | None, train_iters: int | None,
              config: SearchConfig) -> list[dict]:
    rows = []
    data = Synthetic(size)
    ranges = data.ranges()
    qs = [data.query(i) for i in range(queries)]
    for kind in kinds:
        gc.collect()
        before = rss_bytes()
        t = time.perf_counter()
        store, info = build_store(kind, data, train_per_list, train_iters)
        build_s = time.perf_counter() - t
        gc.collect()
        ram = rss_bytes() - before
        candidates(store, ranges, qs[0][0], config, fps=1.0)  # warm-up
        times, found, top1 = [], 0, 0
        for vectors, truth in qs:
            t = time.perf_counter()
            cands = candidates(store, ranges, vectors, config, fps=1.0)
            times.append(time.perf_counter() - t)
            ids = [c.video_id for c in cands]
            found += truth in ids
            top1 += bool(ids) and ids[0] == truth
        row = {
            "frames": size, "videos": data.videos, "video_frames": data.length, "kind": kind,
            "auto": choose_kind("auto", size, IndexConfig().flat_max_vectors) == kind,
            "build_s": round(build_s, 2), "ram_mb": round(ram / 2**20, 1),
            "ram_bytes_per_frame": round(ram / size, 1),
            "candidates_ms_median": round(1000 * float(np.median(times)), 2),
            "candidates_ms_p90": round(1000 * float(np.percentile(times, 90)), 2),
            "recall": round(found / len(qs), 4), "top1": round(top1 / len(qs), 4), "queries": len(qs),
            "load_average": load_average(), **info,
        }
        rows.append(row)
        print(_scale_line(row), flush=True)
        del store
        gc.collect()
    return rows


def _scale_line(r: dict) -> str:
    return (f"| {r['frames']:,} | {r['kind']}{' (auto)' if r['auto'] else ''} | {r['build_s']:.1f} | {r['ram_mb']:.0f} | "
            f"{r['candidates_ms_median']:.1f} | {r['candidates_ms_p90']:.1f} | {r['recall']:.3f} | {r['top1']:.3f} |")


# --- re-rank -------------------------------------------------------------------------------
def run_rerank(counts: list[int], lengths: list[int], threads: list[int], repeats: int = 3) -> list[dict]:
    """Time `rerank` of a 60-frame query against `count` candidates of `length` frames whose float16
    codes are held in memory (decoded per candidate, as Index.load_codes does after reading the file)."""
    import torch

    from vidsim.config import VidsimConfig
    from vidsim.index.codes import make_codec
    from vidsim.similarity import ViSiLHead

    head = ViSiLHead.from_config(VidsimConfig().similarity, DIMS)
    codec = make_codec("float16")
    rng = np.random.default_rng(2)
    query = _unit(rng.standard_normal((QUERY_FRAMES, 9, DIMS)).astype(np.float32))
    rows = []
    default_threads = torch.get_num_threads()
    for length, n_threads in [(n, t) for n in lengths for t in threads]:
        torch.set_num_threads(n_threads or default_threads)
        distinct = [codec.encode(_unit(rng.standard_normal((length, 9, DIMS)).astype(np.float32))) for _ in range(4)]
        times = np.arange(length, dtype=np.float64)

        def load(video_id: int):
            return codec.decode(distinct[video_id % len(distinct)]), times

        for count in counts:
            ids = list(range(count))
            rerank(head, query, ids[:2], load)  # warm-up
            runs = []
            for _ in range(repeats):
                t = time.perf_counter()
                rerank(head, query, ids, load)
                runs.append(time.perf_counter() - t)
            row = {"candidates": count, "candidate_frames": length, "rerank_ms_median": round(1000 * float(np.median(runs)), 1),
                   "ms_per_candidate": round(1000 * float(np.median(runs)) / count, 2), "torch_threads": torch.get_num_threads()}
            rows.append(row)
            print(_rerank_line(row), flush=True)
        del distinct
    torch.set_num_threads(default_threads)
    return rows


def _rerank_line(r: dict) -> str:
    return f"| {r['candidates']} | {r['candidate_frames']} | {r['torch_threads']} | {r['rerank_ms_median']:.0f} | {r['ms_per_candidate']:.1f} |"


# --- storage and accuracy on the real benchmark ----------------------------------------------
def run_real(bench: Path, work: Path, codes: str = "float16", exhaustive: bool = True) -> dict:
    from vidsim.config import VidsimConfig
    from vidsim.evaluate.report import evaluate_method
    from vidsim.evaluate.runner import load_ground_truth, run_evaluation, videos_by_id
    from vidsim.evaluate.groundtruth import read_query_attributes
    from vidsim.index import Index
    from vidsim.model import ViSiL
    from vidsim.similarity.align import suppress_cross_reference
    from vidsim.store import FeatureCache

    split = bench / "test"
    cache = FeatureCache()
    model = ViSiL(VidsimConfig())
    directory = work / f"index-{codes}"
    t = time.perf_counter()
    index = Index.open(directory, IndexConfig(codes=codes), model=model, cache=cache)
    report = index.add([split / "refs"])
    add_s = time.perf_counter() - t
    stats = index.stats()
    hours = stats.hours
    per_hour = {k: v / hours for k, v in stats.bytes.items()}
    total_per_hour = sum(per_hour.values())
    visil_per_hour = VISIL_BYTES_PER_SECOND * 3600 * stats.frames / max(stats.seconds, 1e-9)  # at the index's frame rate
    storage = {
        "videos": stats.videos, "seconds": round(stats.seconds, 1), "frames": stats.frames,
        "fps": round(stats.frames / stats.seconds, 3), "codes": stats.codes, "vector_kind": stats.vector_kind,
        "bytes": stats.bytes, "bytes_per_hour": {k: round(v) for k, v in per_hour.items()},
        "total_bytes_per_hour": round(total_per_hour),
        "visil_bytes_per_hour_1fps": VISIL_BYTES_PER_SECOND * 3600,
        "visil_bytes_per_hour_same_fps": round(visil_per_hour),
        "ratio_to_visil_same_fps": round(total_per_hour / visil_per_hour, 5),
        "add_s": round(add_s, 1), "added": len(report.added),
        "note": "per-video catalog rows and config.json are fixed costs; codes and vectors scale with frames",
    }
    # only the frame-proportional parts (codes + vectors), the cost at scale
    scaled = (stats.bytes["codes"] + stats.bytes["vectors"]) / hours
    storage["codes_vectors_bytes_per_hour"] = round(scaled)
    storage["ratio_codes_vectors_to_visil_same_fps"] = round(scaled / visil_per_hour, 5)
    print(f"storage: {total_per_hour / 2**20:.1f} MiB/hour ({stats.bytes}), ratio to ViSiL "
          f"{total_per_hour / visil_per_hour:.4f}", flush=True)

    queries, refs = videos_by_id(split / "queries"), videos_by_id(split / "refs")
    gt = load_ground_truth(bench / "gt_test.csv", "vsc", queries, refs)
    attrs = read_query_attributes(bench / "manifest_test.csv")
    gt = gt.with_attributes(attrs)
    present = {k for a in attrs.values() for k in a}
    groupings = [g for g in ("family", "source", "kind") if g in present]
    stem_of = {r.id: Path(r.path).stem for r in index.list()}
    scores: dict[str, dict[str, float]] = {}
    segments: dict = {}
    search_times, recall_hits, recall_total = [], 0, 0
    positives = {}
    for q, r in gt.positive_pairs():
        positives.setdefault(q, set()).add(r)
    for qid, qpath in queries.items():
        features = model.extract_video(qpath, cache=cache)
        t = time.perf_counter()
        matches = index.search(features, top_k=len(refs))
        search_times.append(time.perf_counter() - t)
        scores[qid] = {stem_of[m.video_id]: m.similarity for m in matches}
        found = {stem_of[m.video_id]: list(m.segments) for m in matches if m.segments}
        found = suppress_cross_reference(found, 0.5)
        segments.update({(qid, rid): segs for rid, segs in found.items()})
        cands = candidates(index._store, index._ranges, _frame_vectors_of(index, features), index.search_config,
                           index.stored.vidsim.decode.fps)
        ids = {stem_of[c.video_id] for c in cands}
        for rid in positives.get(qid, ()):
            recall_total += 1
            recall_hits += rid in ids
    indexed = evaluate_method("vidsim search (index)", gt, scores=scores, segments=segments, groupings=groupings)
    index.close()
    keys = ("mAP", "uAP", "R@P90", "seg_P", "seg_R", "seg_F")
    accuracy = {
        "queries": len(queries), "refs": len(refs), "codes": codes,
        "index": {k: indexed.metrics.get(k) for k in keys},
        "candidate_recall": round(recall_hits / max(1, recall_total), 4), "positive_pairs": recall_total,
        "search_ms_median": round(1000 * float(np.median(search_times)), 1),
        "search_ms_total": round(1000 * float(np.sum(search_times))),
    }
    if exhaustive:
        t = time.perf_counter()
        run = run_evaluation(split / "queries", split / "refs", bench / "gt_test.csv", ["vidsim"], work / "exhaustive",
                             attributes=bench / "manifest_test.csv", title="exhaustive", method_options={"cache": cache})
        accuracy["exhaustive_s"] = round(time.perf_counter() - t, 1)
        accuracy["exhaustive"] = {k: run.results[0].metrics.get(k) for k in keys}
    print(json.dumps(accuracy, indent=1), flush=True)
    return {"storage": storage, "accuracy": accuracy}


def _frame_vectors_of(index, features) -> np.ndarray:
    from vidsim.index.codes import frame_vectors

    return frame_vectors(index.codec.prepare_query(features.regions))


# --- report --------------------------------------------------------------------------------
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000, 100_000, 1_000_000, 3_600_000])
    parser.add_argument("--quick", action="store_true", help="sizes 1k and 10k, few queries (smoke run)")
    parser.add_argument("--queries", type=int, default=20, help="synthetic queries per size")
    parser.add_argument("--all-kinds-max", type=int, default=1_000_000,
                        help="also measure the kind `auto` does not choose up to this size")
    parser.add_argument("--train-per-list", type=int, default=20,
                        help="IVF training vectors per list (FaissStore.build uses 256)")
    parser.add_argument("--train-iters", type=int, default=10, help="k-means iterations (FAISS default 25)")
    parser.add_argument("--rerank-threads", type=int, nargs="+", default=[0, 1],
                        help="torch threads for the re-rank timings (0: torch's default)")
    parser.add_argument("--only", choices=("all", "scale", "rerank", "real"), default="all",
                        help="run one part and merge it into an existing report (scale: synthetic + re-rank; "
                             "real: storage + accuracy)")
    parser.add_argument("--bench", type=Path, default=Path.home() / ".cache" / "vidsim" / "bench")
    parser.add_argument("--report", default="search")
    args = parser.parse_args()
    if args.quick:
        args.sizes, args.queries = [1_000, 10_000], 5

    config = SearchConfig()
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    command = " ".join(["python", *sys.argv])
    out_json = RESULTS / f"{args.report}.json"
    report: dict = {}
    if args.only != "all" and out_json.is_file():
        report = json.loads(out_json.read_text())
    report.update({"date": started, "versions": versions(), "search_config": dataclasses.asdict(config)})
    report.setdefault("commands", {})[args.only] = command
    report.setdefault("dates", {})[args.only] = started
    report.setdefault("machine", {"cpus": os.cpu_count()})[f"load_average_start_{args.only}"] = load_average()

    print("| frames | store | build s | RAM MiB | candidates ms (median) | p90 | recall@100 | top-1 |")
    print("|---:|---|---:|---:|---:|---:|---:|---:|")
    for size in args.sizes if args.only in ("all", "scale") else []:
        auto = choose_kind("auto", size, IndexConfig().flat_max_vectors)
        kinds = [auto] + ([k for k in ("flat", "ivf") if k != auto] if size <= args.all_kinds_max else [])
        if size < 1000:
            kinds = ["flat"]
        if size == args.sizes[0]:
            report["scale"], report["rerank"] = [], []
        report["scale"] += run_scale(size, kinds, args.queries, args.train_per_list, args.train_iters, config)
        out_json.write_text(json.dumps(report, indent=1) + "\n")  # partial results survive an interruption

    if args.only in ("all", "scale", "rerank"):
        print("\n| candidates | frames each | torch threads | re-rank ms | ms per candidate |\n|---:|---:|---:|---:|---:|")
        report["rerank"] = run_rerank([10, 100] if not args.quick else [10], [60, 600, 3600] if not args.quick else [60, 600],
                                      args.rerank_threads)
        out_json.write_text(json.dumps(report, indent=1) + "\n")

    if args.only in ("all", "real"):
        work = Path(tempfile.mkdtemp(prefix="vidsim-search-bench-"))
        try:
            report.update(run_real(args.bench, work))
            report["variants"] = {}
            for codes in ("int8", "binary"):  # other storage layouts: size and accuracy of the index
                report["variants"][codes] = run_real(args.bench, work, codes, exhaustive=False)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    report["machine"][f"load_average_end_{args.only}"] = load_average()
    out_json.write_text(json.dumps(report, indent=1) + "\n")
    write_markdown(report, RESULTS / f"{args.report}.md")
    print(f"wrote {RESULTS / (args.report + '.md')}")


def write_markdown(report: dict, path: Path) -> None:
    lines = ["# Index search at scale\n",
             f"Date: {report['date']} (" + ", ".join(f"{k} {v}" for k, v in report.get("dates", {}).items()) + "). Commands: " + "; ".join(f"{k}: `{v}`" for k, v in report["commands"].items()) + ".  ",
             "Versions: " + ", ".join(f"{k} {v}" for k, v in report["versions"].items()) + ".  ",
             f"Machine: {report['machine']['cpus']} CPUs; load averages (1, 5, 15 min): "
             + ", ".join(f"{k.replace('load_average_', '')} {v}" for k, v in report["machine"].items() if k != "cpus")
             + " (other jobs were running on the machine: timings are pessimistic).\n",
             "## Candidate generation against index size (synthetic)\n",
             "256-d unit frame vectors, videos of up to 3,600 frames (1 h at 1 fps) near 64 topic clusters, "
             "scenes of 30-120 frames; the query is a 60-frame stretch of a stored video with noise. "
             "Candidates = `vidsim.index.search.candidates` (k-NN of each query frame, k = "
             f"{report['search_config']['frame_neighbours']}, then votes; nprobe = {report['search_config']['nprobe']}), "
             "default SearchConfig. RAM = RSS growth while building. Recall = the source video is among the "
             f"{report['search_config']['candidates']} candidates; top-1 = it is ranked first by the votes.\n",
             "| frames | store | build s | RAM MiB | candidates ms (median) | p90 | recall@100 | top-1 |",
             "|---:|---|---:|---:|---:|---:|---:|---:|"]
    lines += [_scale_line(r) for r in report["scale"]]
    ivf = [r for r in report["scale"] if r["kind"] == "ivf"]
    if ivf:
        r = ivf[-1]
        lines.append(f"\nIVF stores: IVF + SQ8 with `ivf_lists` cells (e.g. {r['lists']} at {r['frames']:,} frames), "
                     f"trained here on {r['train_vectors']:,} sampled vectors with {r['train_iters']} k-means "
                     f"iterations (FaissStore.build would train on {r['train_vectors_default']:,} with 25) so the run "
                     "fits the time available; the build time column includes training and adding in chunks.\n")
    lines += ["## Re-rank stage (independent of index size)\n",
              "`vidsim.index.search.rerank`: chamfer ViSiL head, 60-frame query, candidates' float16 codes "
              "(9 x 256) decoded in memory (file reads excluded; from the page cache they add little).\n",
              "| candidates | frames each | torch threads | re-rank ms | ms per candidate |", "|---:|---:|---:|---:|---:|"]
    lines += [_rerank_line(r) for r in report["rerank"]]
    if "storage" in report:
        s = report["storage"]
        lines += ["\n## Storage on disk\n",
                  f"A real index (`Index.open(dir).add([refs])`, default IndexConfig: codes {s['codes']}, vectors "
                  f"{s['vector_kind']}) of the benchmark's {s['videos']} test references ({s['seconds']:.0f} s, "
                  f"{s['frames']} frames, {s['fps']} frames/s), normalised per hour of video:\n",
                  "| component | bytes | per hour of video |", "|---|---:|---:|"]
        lines += [f"| {k} | {s['bytes'][k]:,} | {v / 2**20:.2f} MiB |" for k, v in s["bytes_per_hour"].items()]
        lines += [f"| **total** | {sum(s['bytes'].values()):,} | {s['total_bytes_per_hour'] / 2**20:.2f} MiB |",
                  f"\nViSiL's layout at the same frame rate: {s['visil_bytes_per_hour_same_fps'] / 2**20:.0f} MiB per hour "
                  f"({s['visil_bytes_per_hour_1fps'] / 2**20:.0f} MiB at 1 fps). Ratio: {s['ratio_to_visil_same_fps']:.4f} "
                  f"(1/{1 / s['ratio_to_visil_same_fps']:.0f}) in all; codes + vectors only (what grows with the "
                  f"collection; the catalog and config are per-video / fixed costs, large here for short clips): "
                  f"{s['ratio_codes_vectors_to_visil_same_fps']:.4f} (1/{1 / s['ratio_codes_vectors_to_visil_same_fps']:.0f}).\n"]
        if report.get("variants"):
            lines += ["Other code layouts (same references; `IndexConfig(codes=...)`):\n",
                      "| codes | codes per hour | vectors per hour | total per hour | ratio to ViSiL | ratio at scale (codes + IVF vectors) |",
                      "|---|---:|---:|---:|---:|---:|"]
            for codes, v in [("float16", report), *report["variants"].items()]:
                t = v["storage"]
                lines.append(f"| {codes} | {t['bytes_per_hour']['codes'] / 2**20:.2f} MiB | {t['bytes_per_hour']['vectors'] / 2**20:.2f} MiB "
                             f"| {t['total_bytes_per_hour'] / 2**20:.2f} MiB | 1/{1 / t['ratio_to_visil_same_fps']:.0f} "
                             f"| 1/{1 / _at_scale(t):.0f} |")
            lines.append("\nThe vectors snapshot here is flat (4 x 256 bytes + id per frame); past 100,000 frames `auto` makes "
                         "it IVF + SQ8 (about 264 bytes per frame, ~0.9 MiB per hour at 1 fps).\n")
    if "accuracy" in report:
        a = report["accuracy"]
        lines += ["## Accuracy: `vidsim search` against exhaustive comparison (test split)\n",
                  f"{a['queries']} queries, {a['refs']} references. Index: `Index.search(features, top_k={a['refs']})`, "
                  "similarity = re-ranked ViSiL score against float16 codes, segments from the search, suppressed across "
                  "references as `run_evaluation` does. Exhaustive: `run_evaluation(methods=['vidsim'])` (float32 "
                  "features, every pair). With only 14 references every reference is a candidate, so this measures "
                  "the re-ranking on stored codes, not candidate generation (whose recall is measured at scale above).\n",
                  "| | mAP | µAP | R@P90 | seg P | seg R | seg F |", "|---|---:|---:|---:|---:|---:|---:|"]
        for name in ("index", "exhaustive"):
            m = a[name]
            lines.append(f"| {name} | " + " | ".join("–" if m.get(k) is None else f"{m[k]:.3f}" for k in
                                                     ("mAP", "uAP", "R@P90", "seg_P", "seg_R", "seg_F")) + " |")
        for codes, v in report.get("variants", {}).items():
            m = v["accuracy"]["index"]
            lines.append(f"| index, codes {codes} | " + " | ".join("–" if m.get(k) is None else f"{m[k]:.3f}" for k in
                                                     ("mAP", "uAP", "R@P90", "seg_P", "seg_R", "seg_F")) + " |")
        lines.append(f"\nCandidate recall (copied pairs whose reference is among the candidates): {a['candidate_recall']:.3f} "
                     f"of {a['positive_pairs']}. Search time per query (features given): median {a['search_ms_median']:.0f} ms.\n")
    lines += targets(report)
    lines += ["## Notes and limits\n",
              "- The synthetic collection is easy: candidate recall and top-1 are 1.0 at every size, for flat and IVF "
              "alike. It shows that the IVF store and the votes find a noisy 60-frame copy among 3.6M frames, not what "
              "recall real near-duplicates of different footage would get at that scale.",
              "- IVF training was shortened (sample and k-means iterations, see above) to fit the time; with "
              "`FaissStore.build` as it stands (256 vectors per list, 25 iterations, every vector in one float32 "
              "array) a 3.6M-frame build trains on ~1.9M vectors against 7,589 lists: about 25 x 7.5 TFLOP, some 35 min at the "
              "~90 GFLOPS this 2-core machine reaches in a float32 matrix product, and needs the whole 3.7 GB float32 collection in memory at once.",
              "- RAM is the RSS growth while building, noisy below 100k frames (allocator reuse, even negative).",
              "- Re-rank time is dominated by the candidates' length; with the default `candidates = 100` and hour-long "
              "references it is tens of seconds, far above the 1-s target, while candidate generation itself takes "
              "~20 ms at 3.6M frames. Meeting the target needs fewer re-ranked candidates (e.g. 10), re-ranking only "
              "a window of each candidate around its voted offset, or a cheaper head; timings varied up to ~2x "
              "between runs because other jobs were loading the 2 CPUs.",
              "- Threads: with torch's default (2 threads here) a small comparison paid ~30 ms of thread overhead per "
              "candidate on this loaded machine; one thread was ~10x faster for 60-frame candidates (a separate check: "
              "one 60 x 60-frame pair 31 ms with 2 threads, 2.8 ms with 1). The table gives both settings.",
              "- Accuracy: with 14 references candidate generation is trivial (every reference is a candidate); "
              "the index's scores differ from exhaustive comparison only by the stored codes (float16/int8/binary).",
              ""]
    path.write_text("\n".join(lines) + "\n")


IVF_BYTES_PER_FRAME = 256 + 8  # SQ8 code + 64-bit id in an IVF list


def _at_scale(storage: dict) -> float:
    """Ratio to ViSiL of codes per frame + an IVF (SQ8) vector per frame: the per-frame cost past
    100,000 frames, where `auto` switches the vectors to IVF and per-video costs are amortised."""
    per_frame = storage["bytes"]["codes"] / storage["frames"] + IVF_BYTES_PER_FRAME
    return per_frame / (VISIL_BYTES_PER_SECOND)


def targets(report: dict) -> list[str]:
    """'How cost grows' and the issue's targets, from the measurements."""
    out = ["## How cost grows with size\n"]
    scale = report.get("scale", [])
    by = {(r["frames"], r["kind"]): r for r in scale}
    flat = sorted((r for r in scale if r["kind"] == "flat"), key=lambda r: r["frames"])
    ivf = sorted((r for r in scale if r["kind"] == "ivf"), key=lambda r: r["frames"])
    text = []
    if len(flat) >= 2:
        a, b = flat[0], flat[-1]
        text.append(f"Exact (flat) search grows linearly with the index: {a['candidates_ms_median']:.0f} ms at "
                    f"{a['frames']:,} frames, {b['candidates_ms_median']:.0f} ms at {b['frames']:,} "
                    f"({b['candidates_ms_median'] / a['candidates_ms_median']:.0f}x for {b['frames'] / a['frames']:.0f}x "
                    "the frames, once the fixed cost of voting is amortised), with 4 bytes x 256 dims per frame in RAM.")
    if len(ivf) >= 2:
        a, b = ivf[0], ivf[-1]
        text.append(f"The IVF store (what `auto` picks past {IndexConfig().flat_max_vectors:,} frames) visits nprobe = "
                    f"{report['search_config']['nprobe']} of ~4 sqrt(N) lists, so a query scans ~sqrt(N) vectors: "
                    f"{a['candidates_ms_median']:.0f} ms at {a['frames']:,} frames, {b['candidates_ms_median']:.0f} ms "
                    f"at {b['frames']:,} (sub-linear; the voting and the coarse quantiser dominate), RAM ~264 bytes per "
                    "frame (SQ8 codes + id), build time linear in N x lists (k-means training and assignment).")
    rr: dict = {}  # (candidates, frames) -> the fastest thread setting measured
    for r in report.get("rerank", []):
        key = (r["candidates"], r["candidate_frames"])
        if key not in rr or r["rerank_ms_median"] < rr[key]["rerank_ms_median"]:
            rr[key] = r
    if rr:
        text.append("Re-ranking does not depend on the index size but on the number of candidates times their "
                    "length (the head compares every query region with every candidate region): "
                    + ", ".join(f"{r['ms_per_candidate']:.0f} ms per candidate of {r['candidate_frames']} frames"
                                for (count, _), r in sorted(rr.items()) if count == max(c for c, _ in rr))
                    + " (fastest thread setting).")
    out.append(" ".join(text) + "\n")
    out += ["## Targets\n", "| target | measured | met |", "|---|---|---|"]
    acc = report.get("accuracy")
    if acc and acc["index"].get("mAP") is not None:
        d = 100 * (acc["index"]["mAP"] - acc["exhaustive"]["mAP"])
        out.append(f"| mAP within 1 point of exhaustive | {100 * acc['index']['mAP']:.1f} vs {100 * acc['exhaustive']['mAP']:.1f} "
                   f"({d:+.1f}) | {'yes' if abs(d) <= 1 else 'no'} |")
    big = [r for r in scale if r["frames"] >= 3_600_000 and r["auto"]]
    if big and rr:
        c = big[0]["candidates_ms_median"]
        for (count, frames), r in sorted(rr.items()):
            if True:
                total = c + r["rerank_ms_median"]
                out.append(f"| 60-s query at 3.6M frames < 1 s ({big[0]['kind']} candidates + re-rank of {count} "
                           f"candidates of {frames} frames, {r['torch_threads']} torch thread(s)) | {c:.0f} + {r['rerank_ms_median']:.0f} = {total:.0f} ms | "
                           f"{'yes' if total < 1000 else 'no'} |")
    for codes, v in [("float16", report), *report.get("variants", {}).items()]:
        st = v.get("storage")
        if not st:
            continue
        ratio = st["ratio_codes_vectors_to_visil_same_fps"]
        acc_v = v.get("accuracy", {}).get("index", {}).get("mAP")
        out.append(f"| storage <= 1/100 of ViSiL's layout (codes {codes}{', default' if codes == 'float16' else ''}) | "
                   f"small index: codes + flat vectors 1/{1 / ratio:.0f}, all files 1/{1 / st['ratio_to_visil_same_fps']:.0f}; "
                   f"at scale (IVF vectors) 1/{1 / _at_scale(st):.0f}"
                   + (f" (test mAP {100 * acc_v:.1f})" if acc_v is not None else "") + f" | {'yes' if _at_scale(st) <= 0.01 else 'no'} |")
    return out + [""]


if __name__ == "__main__":
    main()
