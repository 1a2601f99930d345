"""`python -m tools.fuzz --seconds N [--target X]`: run each fuzz target in turn for a bounded time,
count executions and crashes, save crashing inputs, and add the results to benchmarks/results/fuzz.md.

Exit status 1 when any target crashed, else 0.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import shlex
import sys
import time
from pathlib import Path

from tools.fuzz.engines import REPO, have_atheris, run_atheris, run_random
from tools.fuzz.harness import Findings
from tools.fuzz.targets import TARGETS


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tools.fuzz", description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="per target (default 60)")
    parser.add_argument("--runs", type=int, help="stop each target after this many executions instead")
    parser.add_argument("--target", action="append", choices=sorted(TARGETS), help="repeatable; default all")
    parser.add_argument("--engine", choices=("auto", "atheris", "random"), default="auto",
                        help="auto: atheris when installed, else the built-in random mutator")
    parser.add_argument("--workdir", type=Path, default=REPO / "build" / "fuzz",
                        help="seeds, corpora, logs and crashes/<target>/ (default build/fuzz)")
    parser.add_argument("--results", type=Path, default=REPO / "benchmarks" / "results" / "fuzz.md")
    parser.add_argument("--no-results", action="store_true", help="do not touch the results file")
    parser.add_argument("--seed", type=int, default=0, help="random engine's seed")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    engine = args.engine
    if engine == "auto":
        engine = "atheris" if have_atheris() else "random"
    elif engine == "atheris" and not have_atheris():
        print("atheris is not installed: pip install -e '.[fuzz]' (or use --engine random)", file=sys.stderr)
        return 2
    seconds = None if args.runs is not None else args.seconds
    workdir = args.workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    results = []
    for name in args.target or list(TARGETS):
        spec = TARGETS[name]
        seeds = spec.make_seeds(workdir / "seeds" / name)
        findings = Findings(name, workdir / "crashes" / name)
        start = time.monotonic()
        if engine == "atheris":
            with open(workdir / f"{name}.log", "w") as log:
                corpus = run_atheris(spec, seeds, findings, workdir, seconds=seconds, runs=args.runs, log=log)
        else:
            corpus = run_random(spec, seeds, findings, seconds=seconds, runs=args.runs, seed=args.seed)
        elapsed = time.monotonic() - start
        result = dict(findings.to_dict(), engine=engine, seconds=elapsed, corpus=corpus, seeds=len(seeds))
        results.append(result)
        print(f"{name}: {findings.executions} executions in {elapsed:.0f} s, {len(findings.crashes)} unique "
              f"crash(es), {findings.crashing_inputs} crashing inputs", flush=True)
        for crash in findings.crashes.values():
            print(f"  {crash['signature']} x{crash['count']}: {crash['input']}", flush=True)
    meta = {"date": datetime.date.today().isoformat(), "engine": engine, "cpus": os.cpu_count(),
            "command": "python -m tools.fuzz " + shlex.join(argv if argv is not None else sys.argv[1:])}
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "summary.json").write_text(json.dumps({"meta": meta, "results": results}, indent=2))
    if not args.no_results:
        from tools.fuzz import report

        report.update(args.results, meta, results)
    return 1 if any(r["crashes"] for r in results) else 0
