"""The orchestrator side: worker processes, interleaved timed rounds, and the CPU used by others."""
from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time

from .common import ENTRY, is_quiet


def machine_busy_s() -> float:
    """CPU seconds spent by all processes on the machine since boot (/proc/stat, non-idle)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return (sum(v[:8]) - v[3] - v[4]) / os.sysconf("SC_CLK_TCK")  # minus idle and iowait


class Worker:
    def __init__(self, name: str, spec: dict):
        self.name, self.spec = name, spec
        cmd = [sys.executable, str(ENTRY), "--worker", json.dumps(spec)]
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
                             "setup_s": workers[name].ready["setup_s"],
                             "setup_maxrss_mb": workers[name].ready.get("maxrss_mb"), "runs": []}
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
