"""The worker side: one measurement per process, driven over stdin/stdout by the orchestrator."""
from __future__ import annotations

import json
import os
import resource
import sys
import time

from .end_to_end import EndToEndTask
from .memory import RssTask
from .resnet import AgreementTask, ExtractTask
from .similarity import SimilarityTask


def _maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # kB on Linux


def _cpu_s() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


TASKS = {"e2e": EndToEndTask, "extract": ExtractTask, "agreement": AgreementTask, "rss": RssTask,
         "similarity": SimilarityTask}


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
