"""Frame-vector stores at scale (issue 13, item 4 b-c): FAISS in-process against Milvus (milvus-lite,
embedded, and milvus-lite's gRPC server as a Milvus server), on synthetic 256-d frames.

    python benchmarks/scale_vectors.py [--sizes 100000 1000000] [--stores faiss-flat ... milvus-server-hnsw]

Frames are made like a video index's: videos of 300 frames, each frame its video's random centre plus
slowly drifting noise (an AR(1) walk), L2-normalised; queries are 20 one-minute stretches (60 frames)
of indexed videos with fresh noise added, as a copy's frames are near, not equal to, the original's.
Every store is filled through vidsim's own `VectorStore` (`FaissStore.build`, `MilvusStore.add`) and
searched as `vidsim search` generates candidates: 64 neighbours per query frame (`frame_neighbours`),
nprobe 32, ef 128. Build time: adding every vector until the store is searchable (Milvus: flushed, its
index built). Latency: one query (60 frames) per call, median and 90th percentile over the 20.
Recall@k: the share of the exact top k (float32 inner product, numpy) found among the k returned.
Writes benchmarks/results/scale_vectors.json and .md (the text from "## Reading" on is kept). Timings
taken while other jobs load the machine are marked with the load average.
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from environment import kept_text, versions  # noqa: E402  (benchmarks/ is the script's directory)
from vidsim.index.vectors import FaissStore, ivf_lists  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
PACKAGES = ("vidsim", "numpy", "faiss-cpu", "pymilvus", "milvus-lite")
DIMS, VIDEO_FRAMES, QUERIES, QUERY_FRAMES, K = 256, 300, 20, 60, 64
STORES = ("faiss-flat", "faiss-ivf", "faiss-hnsw", "milvus-lite-hnsw", "milvus-lite-ivf_sq8", "milvus-server-hnsw")
READING = "## Reading"


def frames(n: int, seed: int = 0) -> np.ndarray:
    """n synthetic frame vectors [n, 256] float32, unit length (see the module docstring)."""
    rng = np.random.default_rng(seed)
    out = np.empty((n, DIMS), np.float32)
    for start in range(0, n, VIDEO_FRAMES):
        count = min(VIDEO_FRAMES, n - start)
        walk = np.empty((count, DIMS), np.float32)
        walk[0] = rng.standard_normal(DIMS)
        steps = rng.standard_normal((count, DIMS)).astype(np.float32) * np.float32(np.sqrt(1 - 0.9**2))
        for t in range(1, count):
            walk[t] = 0.9 * walk[t - 1] + steps[t]
        out[start:start + count] = rng.standard_normal(DIMS).astype(np.float32) + 0.6 * walk
    out /= np.linalg.norm(out, axis=1, keepdims=True)
    return out


def queries(base: np.ndarray, seed: int = 1) -> np.ndarray:
    """[QUERIES, QUERY_FRAMES, 256]: stretches of indexed videos with noise added."""
    rng = np.random.default_rng(seed)
    videos = rng.choice(len(base) // VIDEO_FRAMES, QUERIES, replace=False)
    out = np.stack([base[v * VIDEO_FRAMES:v * VIDEO_FRAMES + QUERY_FRAMES] for v in videos])
    out = out + rng.standard_normal(out.shape).astype(np.float32) * np.float32(0.5 / np.sqrt(DIMS))
    return (out / np.linalg.norm(out, axis=-1, keepdims=True)).astype(np.float32)


def exact(base: np.ndarray, flat_queries: np.ndarray, k: int) -> np.ndarray:
    """The exact top-k ids [q, k] by inner product, in blocks of the base."""
    best_s = np.full((len(flat_queries), 0), -np.inf, np.float32)
    best_i = np.zeros((len(flat_queries), 0), np.int64)
    for start in range(0, len(base), 200_000):
        s = flat_queries @ base[start:start + 200_000].T
        top = np.argpartition(-s, k - 1, axis=1)[:, :k]
        best_s = np.concatenate([best_s, np.take_along_axis(s, top, 1)], 1)
        best_i = np.concatenate([best_i, top + start], 1)
        keep = np.argpartition(-best_s, k - 1, axis=1)[:, :k]
        best_s, best_i = np.take_along_axis(best_s, keep, 1), np.take_along_axis(best_i, keep, 1)
    return best_i


def recall(found: np.ndarray, truth: np.ndarray, k: int) -> float:
    order = np.argsort(found[:, :k] < 0, axis=1, kind="stable")  # searches return best first; -1 pads
    hits = [len(np.intersect1d(f[o], t[:k])) for f, o, t in zip(found[:, :k], order, truth, strict=True)]
    return float(np.sum(hits) / (len(truth) * k))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_indexed(store, timeout: float = 3600.0) -> None:
    """Until every row of the collection is indexed: milvus-lite builds a flushed segment's index in
    the background and reports it done early, so the collection is released and loaded again (a load
    builds every missing segment index before it returns)."""
    store.client.release_collection(store.collection)
    store.client.load_collection(store.collection)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        info = store.client.describe_index(store.collection, "vector")
        if int(info.get("pending_index_rows", 0)) == 0 and int(info.get("indexed_rows", 0)) >= int(info.get("total_rows", 0)):
            return
        time.sleep(0.5)
    raise TimeoutError("the Milvus index was not built in time")


def run_store(name: str, base: np.ndarray, qs: np.ndarray, work: Path, lists: int) -> dict:
    """Build one store of `base`, time its candidate generation for `qs`, return the measurements."""
    ids = np.arange(len(base), dtype=np.int64)
    server = None
    started = time.perf_counter()
    if name.startswith("faiss-"):
        store = FaissStore.build(name.split("-")[1], DIMS, ids, base, lists=lists)
    else:
        from vidsim.index.milvus import MilvusStore

        index = name.rsplit("-", 1)[1]
        if name.startswith("milvus-server"):
            port = _free_port()
            server = subprocess.Popen([sys.executable, "-m", "milvus_lite", "server", "--data-dir", str(work / "server"),
                                       "--host", "127.0.0.1", "--port", str(port)],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            uri = f"http://127.0.0.1:{port}"
            for _ in range(120):  # until it answers
                try:
                    store = MilvusStore.connect(uri, "vidsim_bench", DIMS, index, ivf_lists=lists)
                    break
                except Exception:
                    time.sleep(0.5)
            else:
                raise RuntimeError("the milvus-lite server did not start")
            started = time.perf_counter()  # the server's start is not the store's build
        else:
            store = MilvusStore.connect(str(work / "lite.db"), "vidsim_bench", DIMS, index, ivf_lists=lists)
        store.reset()
        videos = ids // VIDEO_FRAMES
        store.add(ids, base, videos=videos, frames=ids - videos * VIDEO_FRAMES)
        add = time.perf_counter() - started
        store.save(work / "header.json", {})  # flushes
        _wait_indexed(store)
    build = time.perf_counter() - started
    add = build if name.startswith("faiss-") else add
    flat_q = qs.reshape(-1, DIMS)
    store.search(qs[0], K)  # warm-up
    latencies, found = [], []
    for q in qs:
        t = time.perf_counter()
        _, hit = store.search(q, K, nprobe=32, ef_search=128)
        latencies.append(time.perf_counter() - t)
        found.append(hit)
    store.close()
    if server is not None:
        server.terminate()
        server.wait(30)
    return {"build_s": round(build, 2), "add_s": round(add, 2), "query_ms_median": round(1000 * float(np.median(latencies)), 2),
            "query_ms_p90": round(1000 * float(np.percentile(latencies, 90)), 2),
            "found": np.concatenate(found), "flat_queries": flat_q}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", type=int, default=[100_000, 1_000_000])
    parser.add_argument("--stores", nargs="+", choices=STORES, default=list(STORES))
    parser.add_argument("--work", type=Path, help="scratch directory (default: a temporary one, deleted)")
    parser.add_argument("--ivf-lists", type=int, help="IVF cells, FAISS and Milvus alike (default: vidsim's, 4 sqrt(n))")
    args = parser.parse_args()
    out_json = RESULTS / "scale_vectors.json"
    report = json.loads(out_json.read_text()) if out_json.is_file() else {"runs": {}}
    report["versions"] = versions(PACKAGES)
    for size in args.sizes:
        base = frames(size)
        qs = queries(base)
        truth = exact(base, qs.reshape(-1, DIMS), K)
        for name in args.stores:
            work = Path(tempfile.mkdtemp(prefix="vidsim-scale-", dir=args.work))
            load = os.getloadavg()[0]
            try:
                lists = args.ivf_lists or ivf_lists(size)
                m = run_store(name, base, qs, work, lists)
            finally:
                shutil.rmtree(work, ignore_errors=True)
            found = m.pop("found")
            m.pop("flat_queries")
            m.update({"ivf_lists": lists if "ivf" in name else None, "recall@10": round(recall(found, truth, 10), 4), "recall@64": round(recall(found, truth, K), 4),
                      "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                      "load_average": round(max(load, os.getloadavg()[0]), 1)})
            report["runs"].setdefault(str(size), {})[name] = m
            print(f"{size:>8} {name:22s} build {m['build_s']:8.1f} s  query {m['query_ms_median']:7.1f} ms "
                  f"(p90 {m['query_ms_p90']:.1f})  recall@10 {m['recall@10']:.3f}  @64 {m['recall@64']:.3f}  "
                  f"load {m['load_average']}", flush=True)
            out_json.write_text(json.dumps(report, indent=1) + "\n")
            gc.collect()
    write_markdown(report, RESULTS / "scale_vectors.md")


def write_markdown(report: dict, path: Path) -> None:
    kept = kept_text(path, READING)
    lines = ["# Frame-vector stores at scale: FAISS against Milvus (issue 13, item 4 b-c)\n",
             "Command: `python benchmarks/scale_vectors.py` (see its docstring for the data and what is timed).  ",
             "Versions: " + ", ".join(f"{k} {v}" for k, v in report.get("versions", {}).items()) + ".\n",
             f"Synthetic {DIMS}-d frames in videos of {VIDEO_FRAMES}; {QUERIES} queries of {QUERY_FRAMES} frames, "
             f"{K} neighbours per frame (vidsim's `frame_neighbours`). faiss-*: `FaissStore` (flat = SQfp16 scan, "
             "ivf = IVF(4 sqrt n),SQ8 nprobe 32, hnsw = HNSW32 ef 128); milvus-lite-*: `MilvusStore` on an embedded "
             "milvus-lite file; milvus-server-*: `MilvusStore` over gRPC to a separate `python -m milvus_lite server` "
             "process on 127.0.0.1.\n"]
    for size, runs in report.get("runs", {}).items():
        lines += [f"## {int(size):,} frames\n",
                  "| store | build, s | of which adding, s | query (60 frames), median ms | p90 ms | recall@10 | recall@64 | "
                  "load average | date |",
                  "|---|---:|---:|---:|---:|---:|---:|---:|---|"]
        for name, m in runs.items():
            label = f"{name} ({m['ivf_lists']} lists)" if m.get("ivf_lists") else name
            add = f"{m['add_s']:.1f}" if "add_s" in m else "–"
            lines.append(f"| {label} | {m['build_s']:.1f} | {add} | {m['query_ms_median']:.1f} | {m['query_ms_p90']:.1f} | "
                         f"{m['recall@10']:.3f} | {m['recall@64']:.3f} | {m['load_average']} | {m['date']} |")
        lines.append("")
    lines.append("Timings with a load average above 2 were measured under load (2 cores shared with other jobs): "
                 "they are not final; rerun on a quiet machine. Recall does not depend on load.\n")
    path.write_text("\n".join(lines) + "\n" + (kept or f"{READING}\n\n(to be written)\n"))


if __name__ == "__main__":
    main()
