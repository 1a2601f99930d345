"""One atheris session on one target (started by engines.run_atheris): vidsim's modules are
instrumented for coverage; Python exceptions are recorded and fuzzing goes on; counts go to a JSON file."""
from __future__ import annotations

import argparse
import faulthandler
import json
import os
import random
import sys
import time
from pathlib import Path

import atheris

with atheris.instrument_imports(include=["vidsim"]):
    import vidsim.config  # noqa: F401
    import vidsim.decode  # noqa: F401
    import vidsim.evaluate.groundtruth  # noqa: F401
    import vidsim.index.catalog  # noqa: F401
    import vidsim.index.codes  # noqa: F401
    import vidsim.index.config  # noqa: F401

from tools.fuzz.harness import Findings  # noqa: E402
from tools.fuzz.jsonmutate import mutate_json  # noqa: E402
from tools.fuzz.targets import TARGETS, remove_scratch  # noqa: E402

SLOW_SECONDS = 10.0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("target", choices=sorted(TARGETS))
    parser.add_argument("stats", type=Path)
    parser.add_argument("crash_dir", type=Path)
    parser.add_argument("--seconds", type=float)
    parser.add_argument("--runs", type=int)
    args, libfuzzer = parser.parse_known_args()
    libfuzzer = [a for a in libfuzzer if a != "--"]
    spec = TARGETS[args.target]
    findings = Findings(spec.name, args.crash_dir)
    deadline = None if args.seconds is None else time.monotonic() + args.seconds
    last_write = [time.monotonic()]

    def flush() -> None:
        tmp = args.stats.with_suffix(".tmp")
        tmp.write_text(json.dumps(findings.to_dict()))
        os.replace(tmp, args.stats)

    def one_input(data: bytes) -> None:
        known = len(findings.crashes)
        faulthandler.dump_traceback_later(SLOW_SECONDS)  # where a slow input spends its time, in the log
        findings.run(spec.fn, data)
        faulthandler.cancel_dump_traceback_later()
        now = time.monotonic()
        if len(findings.crashes) != known:
            flush()
        if (deadline is not None and now >= deadline) or (args.runs is not None and findings.executions >= args.runs):
            flush()
            remove_scratch()
            sys.stdout.flush()
            os._exit(0)  # libFuzzer never returns: end here with the counts written
        if now - last_write[0] > 1.0:
            flush()
            last_write[0] = now

    def json_aware(data: bytes, max_size: int, seed: int) -> bytes:
        rng = random.Random(seed)
        if rng.random() < 0.5:
            out = mutate_json(data, rng, spec.json_keys)
            if out is not None and len(out) <= max_size:
                return out
        return atheris.Mutate(data, max_size)

    flush()
    extra = {"custom_mutator": json_aware} if spec.json_keys else {}
    atheris.Setup([sys.argv[0], *libfuzzer], one_input, **extra)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
