"""Scale-out benchmarks (issue 13, item 4): results in benchmarks/results/scale.{md,json}, one
section per part, so that each part can be rerun alone and merged into the same files.

    python benchmarks/scale.py [--only engines] [--files F ...] [--workers 1 2] [--repeats 1]

(a) `engines`: indexing throughput of `Index.add` on the same real corpus clips, in process
    against `--engine ray` (`RayEngine`, a local Ray started by the engine) with 1 and 2 workers,
    no feature cache. Ray's start (cluster and workers building their extractors) is timed apart
    from the add. Ray's overhead per video compares one Ray worker holding every CPU with the
    in-process add (the same threads: what is left is Ray's scheduling, the transfer of the
    features and the driver's waiting); 2 workers of 1 CPU each split the same CPUs by video.

Other parts add their own section through `write_section(name, data, markdown)`. Speeds taken
while other jobs run are marked "measured under load" with the load averages.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from environment import versions  # noqa: E402  (benchmarks/ is the script's directory)

RESULTS = ROOT / "benchmarks" / "results"
CORPUS = Path.home() / ".cache" / "vidsim" / "corpus"
# real clips of several lengths and sizes (benchmarks/corpus.py fetches them)
DEFAULT_FILES = ("franck.mp4", "minions.mp4", "cap12.mp4", "cap13.mp4", "world.mp4", "wolfgang.mp4", "bikes.mp4",
                 "megamind.avi")
PACKAGES = ("vidsim", "numpy", "torch", "openvino", "onnxruntime", "av", "ray")
QUIET_LOAD = 0.5  # 1-min load average per CPU above which speeds are marked as measured under load


# --- the results files, shared by every part ------------------------------------------------------
def write_section(name: str, data: dict[str, Any], markdown: str) -> None:
    """Put one part's results into scale.json (under "sections") and rewrite scale.md from every
    section there, in name order; other parts' sections are kept as they were."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / "scale.json"
    report = json.loads(path.read_text()) if path.is_file() else {}
    sections = report.setdefault("sections", {})
    sections[name] = {**data, "markdown": markdown}
    path.write_text(json.dumps(report, indent=2) + "\n")
    lines = ["# Scale-out benchmarks (`benchmarks/scale.py`)", "",
             "One section per part; each is rerun alone with `--only NAME` and keeps the others. The vector "
             "stores (FAISS against Milvus, part (b)) are measured by `benchmarks/scale_vectors.py`: "
             "[scale_vectors.md](scale_vectors.md).", ""]
    for key in sorted(sections):
        lines += [sections[key]["markdown"].rstrip(), ""]
    (RESULTS / "scale.md").write_text("\n".join(lines))


def machine() -> dict[str, Any]:
    cpus = len(os.sched_getaffinity(0))
    return {"cpus": cpus, "load_average": list(os.getloadavg())}


def load_note(start: list[float], end: list[float], cpus: int) -> tuple[bool, str]:
    """Whether the machine was busy with other work, and the line that says so."""
    loaded = start[0] > QUIET_LOAD * cpus  # the run itself loads the CPUs: only the load before it tells of other jobs
    text = f"load averages (1, 5, 15 min) at start {', '.join(f'{v:.2f}' for v in start)}, at end " \
           f"{', '.join(f'{v:.2f}' for v in end)} on {cpus} CPUs"
    if loaded:
        return True, f"**Measured under load ({text}): other jobs shared the CPUs; speeds are indicative only.**"
    return False, f"Quiet machine ({text})."


# --- (a) engines ------------------------------------------------------------------------------------
def run_engines(files: list[Path], workers: list[int], repeats: int) -> dict[str, Any]:
    """Index `files` in process and with Ray at each worker count; times, throughput and overhead."""
    from vidsim.decode import probe
    from vidsim.engine import RayEngine
    from vidsim.index import Index
    from vidsim.model import ViSiL

    cpus = len(os.sched_getaffinity(0))
    seconds = sum(float(probe(f).duration or 0.0) for f in files)
    model = ViSiL()  # the default configuration, its runtime resolved here once
    config = model.config
    work = Path(tempfile.mkdtemp(prefix="vidsim-scale-"))
    runs: list[dict[str, Any]] = []
    start_load = list(os.getloadavg())

    def index_with(label: str, engine: Any, repeat: int) -> dict[str, Any]:
        directory = work / f"{label}-{repeat}"
        started = time.perf_counter()
        with Index.open(directory, model=model) as index:
            report = index.add(files, engine=engine)
        took = time.perf_counter() - started
        shutil.rmtree(directory)
        if report.failed or len(report.added) != len(files):
            raise SystemExit(f"{label}: not every file was added: {report.failed}")
        return {"add_s": took, "frames": report.frames}

    try:
        # warm-up: exports and compiled models are cached on first use; not timed
        index_with("warmup", None, 0)
        for repeat in range(repeats):
            row = index_with("local", None, repeat)
            runs.append({"engine": "in-process", "workers": 1, "cpus_per_worker": cpus, "repeat": repeat, **row})
            for count in workers:  # the CPUs split between the workers (1 worker: all of them)
                per_worker = max(1, cpus // count)
                started = time.perf_counter()
                engine = RayEngine(config, workers=count, cpus_per_worker=per_worker)
                start_s = time.perf_counter() - started
                try:
                    row = index_with(f"ray{count}x{per_worker}", engine, repeat)
                finally:
                    closing = time.perf_counter()
                    engine.close()
                    stop_s = time.perf_counter() - closing
                runs.append({"engine": "ray", "workers": count, "cpus_per_worker": per_worker, "repeat": repeat,
                             "start_s": start_s, "stop_s": stop_s, **row})
    finally:
        shutil.rmtree(work, ignore_errors=True)
    frames = [run["frames"] for run in runs if run["engine"] == "in-process"][0]
    round_trip = ray_round_trip([frames // len(files)] * len(files), model.extractor.dims)
    end_load = list(os.getloadavg())
    for run in runs:
        run["video_s_per_s"] = seconds / run["add_s"]
        run["frames_per_s"] = run["frames"] / run["add_s"]
    best: dict[tuple[str, int, int], dict[str, Any]] = {}
    for run in runs:  # the fastest repeat of each configuration
        key = (run["engine"], run["workers"], run["cpus_per_worker"])
        if key not in best or run["add_s"] < best[key]["add_s"]:
            best[key] = run
    local = best[("in-process", 1, cpus)]
    same_cpus = best.get(("ray", 1, cpus))
    overhead = (same_cpus["add_s"] - local["add_s"]) / len(files) if same_cpus else None
    loaded, note = load_note(start_load, end_load, cpus)
    return {"files": [str(f) for f in files], "video_seconds": seconds, "cpus": cpus, "runs": runs,
            "best": list(best.values()), "ray_overhead_per_video_s": overhead, "ray_round_trip_s": round_trip,
            "frames_per_video": frames // len(files), "under_load": loaded, "load_note": note,
            "feature_key": model.feature_key, "runtime": config.features.runtime, "backbone": config.features.backbone}


def ray_round_trip(frames: list[int], dims: int, rounds: int = 3) -> float:
    """Seconds per video that Ray itself costs: a task on a started actor that makes features of a
    video's size (`frames` frames of 9 x `dims` float32) and sends them back, one at a time, with
    no decoding or network: scheduling, the result's transfer and its deserialisation."""
    import numpy as np
    import ray

    from vidsim.features.types import VideoFeatures

    class Echo:
        def embed(self, count: int) -> VideoFeatures:
            return VideoFeatures(np.ones((count, 9, dims), np.float32), np.arange(count, dtype=np.float64), "k", "w",
                                 frame_std=np.ones(count, np.float32))

    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    ray.init(address="local", num_cpus=1, include_dashboard=False, log_to_driver=False)
    try:
        actor = ray.remote(Echo).options(num_cpus=1).remote()
        ray.get(actor.embed.remote(1))
        started = time.perf_counter()
        for _ in range(rounds):
            for count in frames:
                ray.get(actor.embed.remote(count))
        return (time.perf_counter() - started) / (rounds * len(frames))
    finally:
        ray.shutdown()


def engines_markdown(result: dict[str, Any], command: str) -> str:
    lines = [f"## (a) Indexing engines: in process against Ray ({time.strftime('%Y-%m-%d')})", "",
             f"`{command}`", "", result["load_note"], "",
             f"{len(result['files'])} real corpus clips, {result['video_seconds']:.0f} s of video "
             f"({', '.join(Path(f).name for f in result['files'])}); {result['backbone']} on {result['runtime']}, "
             "default configuration, no feature cache; `Index.add` timed from the call to its return (the index "
             "written as usual: codes, catalog, vectors). Ray's start (a local cluster and its workers building "
             "their extractors) and stop are timed apart. Fastest of the repeats.", "",
             "| engine | workers x CPUs | add s | every repeat, add s | video-s/s | frames/s | Ray start s | Ray stop s |",
             "|---|---|---:|---:|---:|---:|---:|---:|"]
    for run in sorted(result["best"], key=lambda r: (r["engine"] != "in-process", r["workers"], -r["cpus_per_worker"])):
        start = f"{run['start_s']:.1f}" if "start_s" in run else "-"
        stop = f"{run['stop_s']:.1f}" if "stop_s" in run else "-"
        every = ", ".join(f"{r['add_s']:.1f}" for r in result["runs"] if
                          (r["engine"], r["workers"], r["cpus_per_worker"]) == (run["engine"], run["workers"], run["cpus_per_worker"]))
        lines.append(f"| {run['engine']} | {run['workers']} x {run['cpus_per_worker']} | {run['add_s']:.1f} | {every} | "
                     f"{run['video_s_per_s']:.1f} | {run['frames_per_s']:.1f} | {start} | {stop} |")
    lines += ["", f"Ray's own cost per video, measured alone (a started actor making a video's features of "
                  f"the mean length, {result['frames_per_video']} frames, without decoding or network, and sending "
                  f"them back, one at a time): {result['ray_round_trip_s'] * 1000:.1f} ms."]
    overhead = result["ray_overhead_per_video_s"]
    if overhead is not None:
        lines += ["", f"Add time per video of 1 Ray worker with all {result['cpus']} CPUs minus that in process: "
                      f"{overhead * 1000:.0f} ms" + (" (negative: the in-process add was the slower one in this run; "
                                                     "on a loaded machine this difference does not measure Ray's cost)"
                                                     if overhead < 0 else "") + "."]
    lines += ["", "On one machine both share the same CPUs, so Ray can gain only what splitting them by video "
                  "gains over threads; it pays where workers run on more machines or GPUs (`--ray-address`, "
                  "`--gpus-per-worker`), and its start is paid once per run."]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", choices=["engines"], default="engines", help="the part to run (default: %(default)s)")
    parser.add_argument("--files", nargs="+", help=f"videos to index (default: corpus clips in {CORPUS})")
    parser.add_argument("--workers", nargs="+", type=int, default=[1, 2], help="Ray worker counts (default: 1 2)")
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    command = "python benchmarks/scale.py " + " ".join(sys.argv[1:])
    if args.only == "engines":
        files = [Path(f) for f in args.files] if args.files else [CORPUS / name for name in DEFAULT_FILES]
        missing = [f for f in files if not f.is_file()]
        if missing:
            raise SystemExit(f"missing clips: {', '.join(map(str, missing))} (python benchmarks/corpus.py fetches them)")
        result = run_engines(files, args.workers, args.repeats)
        result["versions"] = versions(PACKAGES)
        result["command"] = command
        write_section("engines", result, engines_markdown(result, command.strip()))
        print(engines_markdown(result, command.strip()))


if __name__ == "__main__":
    main()
