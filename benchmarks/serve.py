"""`vidsim serve` under load: concurrent clients searching a real uvicorn on 127.0.0.1 while videos are added.

    python benchmarks/serve.py [--duration 60] [--clients 8] [--adds 8] [--bench DIR] [--by-path]

The index holds the references of the benchmark's dev and test splits (real footage, built by
benchmarks/build_benchmark.py; their features come from the feature cache on reruns). The server
is `vidsim serve` itself, started as a subprocess with API keys, `--search-queue` = the clients
(so that waiting, not refusing, absorbs the load) and the default `--max-searches` (the CPUs).
`--clients` threads each loop over the dev queries (copies and non-copies), uploading each one
(`--by-path`: naming it by path) to POST /v1/search, for `--duration` seconds after a warm-up
search per search slot; meanwhile one more thread adds `--adds` test-split queries, spread over
the run, each by POST /v1/videos and polled at its job until done. Measured: requests/s, latency
p50/p99/mean/max of the searches, errors (any answer but 200, by status), and adds lost (an add
whose job reported success but whose video GET /v1/videos does not list afterwards, or a job that
failed). Writes benchmarks/results/serve.{md,json} with the date, versions, load average and command.
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from environment import versions  # noqa: E402  (benchmarks/ is the script's directory)

RESULTS = ROOT / "benchmarks" / "results"
PACKAGES = ("vidsim", "fastapi", "uvicorn", "starlette", "python-multipart", "httpx", "torch", "onnxruntime", "faiss-cpu")


def bench_files(bench: Path, split: str, table: str) -> list[Path]:
    with open(bench / f"{table}_{split}.csv", newline="") as fh:
        return [bench / row["file"] for row in csv.DictReader(fh)]


def build_index(directory: Path, refs: list[Path]) -> float:
    """The initial index (features through the user's feature cache, so reruns are quick)."""
    from vidsim.index import Index
    from vidsim.store import FeatureCache

    started = time.monotonic()
    with Index.open(directory, cache=FeatureCache()) as index:
        report = index.add(refs)
        if report.failed:
            raise SystemExit(f"could not index {report.failed}")
    return time.monotonic() - started


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(index: Path, bench: Path, keys: Path, spool: Path, clients: int, log: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")])}
    command = [sys.executable, "-m", "vidsim", "serve", "--index", str(index), "--port", str(port), "--api-keys",
               str(keys), "--allow-root", str(bench), "--search-queue", str(clients), "--add-wait", "0",
               "--spool-dir", str(spool)]
    process = subprocess.Popen(command, stdout=log.open("w"), stderr=subprocess.STDOUT, env=env)
    return process, f"http://127.0.0.1:{port}"


def wait_until_up(process: subprocess.Popen, url: str, seconds: float = 300) -> None:
    import httpx

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"vidsim serve exited with {process.returncode}")
        try:
            if httpx.get(url + "/healthz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    raise SystemExit("vidsim serve did not come up")


def search_once(client, query: Path, by_path: bool):
    if by_path:
        return client.post("/v1/search", json={"path": str(query)})
    with query.open("rb") as fh:
        return client.post("/v1/search", files={"file": (query.name, fh, "application/octet-stream")})


def run(args: argparse.Namespace) -> dict:
    import httpx

    bench = Path(args.bench).expanduser()
    if not (bench / "refs_dev.csv").is_file():
        raise SystemExit(f"{bench}: no benchmark here; build it with `python benchmarks/build_benchmark.py`")
    refs = bench_files(bench, "dev", "refs") + bench_files(bench, "test", "refs")
    queries = bench_files(bench, "dev", "manifest")
    to_add = bench_files(bench, "test", "manifest")[: args.adds]
    work = Path(tempfile.mkdtemp(prefix="vidsim-serve-bench-"))
    load_start = os.getloadavg()
    result: dict = {"server": {}}
    try:
        index = work / "idx"
        build_s = build_index(index, refs)
        key = secrets.token_urlsafe(32)
        keys = work / "keys.txt"
        keys.write_text(key + "\n")
        spool = work / "spool"
        spool.mkdir()
        process, url = start_server(index, bench, keys, spool, args.clients, work / "server.log")
        try:
            wait_until_up(process, url)
            headers = {"Authorization": f"Bearer {key}"}
            with httpx.Client(base_url=url, headers=headers, timeout=600) as client:
                stats = client.get("/v1/stats").json()
            slots = stats["service"]["max_searches"]
            warm = [threading.Thread(target=lambda: _warm(url, headers, queries[0], args.by_path)) for _ in range(slots)]
            for thread in warm:
                thread.start()
            for thread in warm:
                thread.join()
            result.update(load(url, headers, queries, to_add, args))
            result["index"] = {"videos_before": stats["videos"], "hours_before": stats["hours"], "build_s": build_s}
            result["server"] = {"max_searches": slots, "search_queue": stats["service"]["search_queue"]}
        finally:
            process.send_signal(signal.SIGINT)
            try:
                result_code = process.wait(120)
            except subprocess.TimeoutExpired:
                process.kill()
                result_code = process.wait()
        result["server"]["exit_code"] = result_code
        result["server"]["spool_left"] = len(list(spool.iterdir()))
    finally:
        load_end = os.getloadavg()
        shutil.rmtree(work, ignore_errors=True)
    result["load_average"] = {"start": [round(x, 2) for x in load_start], "end": [round(x, 2) for x in load_end]}
    return result


def _warm(url: str, headers: dict, query: Path, by_path: bool) -> None:
    import httpx

    with httpx.Client(base_url=url, headers=headers, timeout=600) as client:
        answer = search_once(client, query, by_path)
        if answer.status_code != 200:
            raise SystemExit(f"warm-up search failed: {answer.status_code} {answer.text}")


def load(url: str, headers: dict, queries: list[Path], to_add: list[Path], args: argparse.Namespace) -> dict:
    import httpx

    stop = threading.Event()
    latencies: list[float] = []
    errors: dict[str, int] = {}
    lock = threading.Lock()

    def client_loop(number: int) -> None:
        with httpx.Client(base_url=url, headers=headers, timeout=600) as client:
            position = number * len(queries) // args.clients
            while not stop.is_set():
                query = queries[position % len(queries)]
                position += 1
                started = time.perf_counter()
                try:
                    status = str(search_once(client, query, args.by_path).status_code)
                except httpx.HTTPError as exc:
                    status = type(exc).__name__
                elapsed = time.perf_counter() - started
                with lock:
                    if status == "200":
                        latencies.append(elapsed)
                    else:
                        errors[status] = errors.get(status, 0) + 1

    adds: list[dict] = []

    def adder() -> None:
        gap = args.duration / (len(to_add) + 1)
        with httpx.Client(base_url=url, headers=headers, timeout=600) as client:
            for number, path in enumerate(to_add, 1):
                if stop.wait(max(0.0, started + number * gap - time.monotonic())):
                    break
                begun = time.monotonic()
                answer = client.post("/v1/videos", json={"path": str(path)})
                entry = {"path": str(path), "status": answer.status_code, "job": answer.json(), "submitted": begun}
                adds.append(entry)

    started = time.monotonic()
    threads = [threading.Thread(target=client_loop, args=(n,)) for n in range(args.clients)]
    threads.append(threading.Thread(target=adder))
    for thread in threads:
        thread.start()
    time.sleep(args.duration)
    stop.set()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started  # the searches in flight at the end included
    # every add submitted must end, and its video be listed
    with httpx.Client(base_url=url, headers=headers, timeout=600) as client:
        for entry in adds:
            job = entry["job"]
            deadline = time.monotonic() + 600
            while job.get("status") in ("queued", "running") and time.monotonic() < deadline:
                time.sleep(0.5)
                job = client.get(job["url"]).json()
            entry["job"] = job
            entry["seconds"] = (job.get("finished") or time.time()) - (job.get("created") or time.time())
        listed = {v["path"] for v in client.get("/v1/videos").json()["videos"]}
    done = [e for e in adds if e["job"].get("status") == "done"]
    lost = [e["path"] for e in adds if e["job"].get("status") != "done" or e["path"] not in listed]
    lat = np.array(latencies) * 1000
    return {
        "duration_s": args.duration, "elapsed_s": elapsed, "clients": args.clients, "queries": len(queries), "by_path": args.by_path,
        "requests": len(latencies) + sum(errors.values()), "ok": len(latencies),
        "requests_per_s": len(latencies) / elapsed,
        "latency_ms": {"p50": float(np.percentile(lat, 50)), "p99": float(np.percentile(lat, 99)),
                       "mean": float(lat.mean()), "max": float(lat.max())} if len(lat) else None,
        "errors": errors, "errors_total": sum(errors.values()),
        "adds": {"submitted": len(adds), "done": len(done), "lost": len(lost), "lost_paths": lost,
                 "seconds_mean": float(np.mean([e["seconds"] for e in done])) if done else None,
                 "frames": int(sum(v["frames"] for e in done for v in e["job"]["result"]["added"]))},
    }


def write_report(result: dict, command: str) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "serve.json").write_text(json.dumps(result, indent=1) + "\n")
    cpus = os.cpu_count() or 1
    load = result["load_average"]
    # the run's own clients and server load the CPUs, so only the load before it says whether others shared them
    busy = load["start"][0] > 0.5 * cpus
    lat, adds = result["latency_ms"] or {}, result["adds"]
    lines = [
        "# `vidsim serve` under load",
        "",
        f"Date: {result['date']}. Command: `{command}`.  ",
        "Versions: " + ", ".join(f"{k} {v}" for k, v in result["versions"].items()) + ".  ",
        f"Machine: {cpus} CPUs; load average (1, 5, 15 min) at start {load['start']}, at end {load['end']}"
        + (" — **measured under load (load average "
           f"{load['start'][0]:.1f} at the start): other jobs shared the CPUs, timings are pessimistic; "
           "to be rerun on a quiet machine**." if busy else "."),
        "",
        f"A real uvicorn on 127.0.0.1 (`vidsim serve`, API keys, {result['server']['max_searches']} searches at once, "
        f"{result['server']['search_queue']} waiting); index: {result['index']['videos_before']} reference videos "
        f"({result['index']['hours_before'] * 60:.1f} min, the dev and test references of the benchmark). "
        f"{result['clients']} clients search for {result['duration_s']:.0f} s (then finish the searches in flight: "
        f"{result['elapsed_s']:.0f} s in all, the time requests/s is taken over), each "
        + ("naming" if result["by_path"] else "uploading")
        + f" the {result['queries']} dev queries in turn; meanwhile {adds['submitted']} test-split videos are added "
        "(POST /v1/videos, jobs polled).",
        "",
        "| measure | value |",
        "|---|---:|",
        f"| searches answered | {result['ok']} |",
        f"| **requests/s** | **{result['requests_per_s']:.2f}** |",
        f"| latency p50 (ms) | {lat.get('p50', float('nan')):.0f} |",
        f"| latency p99 (ms) | {lat.get('p99', float('nan')):.0f} |",
        f"| latency mean / max (ms) | {lat.get('mean', float('nan')):.0f} / {lat.get('max', float('nan')):.0f} |",
        f"| **errors** (answers other than 200) | **{result['errors_total']}** {result['errors'] or ''} |",
        f"| adds submitted / done | {adds['submitted']} / {adds['done']} |",
        f"| **adds lost** | **{adds['lost']}** |",
        f"| add job time, mean (s) | {adds['seconds_mean'] or float('nan'):.1f} |",
        f"| server exit code after Ctrl-C / files left in the spool | {result['server']['exit_code']} / "
        f"{result['server']['spool_left']} |",
        "",
        "Latency is the client's: upload, spooling, probe, waiting for a search slot, query feature extraction "
        "(the query's whole video at 1 fps) and the index search. With more clients than search slots, requests "
        "wait in the queue, so latency grows with the clients while requests/s is bounded by the CPUs.",
    ]
    (RESULTS / "serve.md").write_text("\n".join(lines) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of load (default: %(default)g)")
    parser.add_argument("--clients", type=int, default=8, help="concurrent searching clients (default: %(default)s)")
    parser.add_argument("--adds", type=int, default=8, help="videos added during the run (default: %(default)s)")
    parser.add_argument("--bench", default="~/.cache/vidsim/bench", help="benchmark directory (default: %(default)s)")
    parser.add_argument("--by-path", action="store_true", help="name queries by path instead of uploading them")
    args = parser.parse_args()
    result = run(args)
    result["date"] = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    result["versions"] = versions(PACKAGES)
    command = "python benchmarks/serve.py " + " ".join(sys.argv[1:])
    result["command"] = command.strip()
    write_report(result, command.strip())
    print(json.dumps({k: result[k] for k in ("requests_per_s", "latency_ms", "errors", "adds")}, indent=1))
    if result["errors_total"] or result["adds"]["lost"]:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
