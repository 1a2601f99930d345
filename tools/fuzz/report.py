"""benchmarks/results/fuzz.md: a dated row per target and run, and the details of the latest run.

The runner rewrites only the parts between its markers; the hand-written sections (what each
crash was and how it was fixed) are kept.
"""
from __future__ import annotations

import platform
import re
from pathlib import Path

RUNS = ("<!-- runs: rows appended by python -m tools.fuzz -->", "<!-- /runs -->")
LATEST = ("<!-- latest: rewritten by python -m tools.fuzz -->", "<!-- /latest -->")
_HEADER = ("| date | target | engine | seconds | executions | exec/s | corpus | unique crashes |\n"
           "|---|---|---|---:|---:|---:|---:|---:|\n")

TEMPLATE = f"""# Fuzzing vidsim's input readers

`python -m tools.fuzz --seconds N [--target decode|groundtruth|config|catalog]` runs each harness of
`tools/fuzz/` for N seconds (atheris when installed: `pip install -e '.[fuzz]'`; else a built-in
random mutator) and adds its counts here. A crash is any exception other than a `VidsimError`
(declared warnings such as `TruncatedVideoWarning` and `DecodeErrorWarning` are fine); crashing
inputs are saved under `build/fuzz/crashes/<target>/`.

## Runs

{RUNS[0]}
{_HEADER}{RUNS[1]}

## Latest run

{LATEST[0]}
{LATEST[1]}

## Crashes found and fixed

Each is a regression test, with the crashing input embedded or generated.
"""


def _rows(meta: dict, results: list[dict]) -> str:
    out = []
    for r in results:
        rate = r["executions"] / r["seconds"] if r["seconds"] else 0.0
        out.append(f"| {meta['date']} | {r['target']} | {r['engine']} | {r['seconds']:.0f} | {r['executions']} "
                   f"| {rate:.0f} | {r['corpus']} | {len(r['crashes'])} |\n")
    return "".join(out)


def _latest(meta: dict, results: list[dict]) -> str:
    lines = [f"{meta['date']}, {meta['engine']}, {platform.python_version()} on {platform.machine()}, "
             f"{meta['cpus']} CPUs; `{meta['command']}`.", ""]
    for r in results:
        lines.append(f"- **{r['target']}**: {r['executions']} executions in {r['seconds']:.0f} s, "
                     f"{r['seeds']} seeds, corpus {r['corpus']}, {len(r['crashes'])} unique crash(es)"
                     f" ({r['crashing_inputs']} crashing inputs).")
        for c in r["crashes"]:
            lines.append(f"  - `{c['signature']}` x{c['count']}: {c['message'][:160]!r} ({c['bytes']} bytes, `{c['input']}`)")
        for warning, count in r.get("warnings", {}).items():
            lines.append(f"  - undeclared warning x{count}: `{warning}`")
    return "\n".join(lines) + "\n"


def update(path: Path, meta: dict, results: list[dict]) -> None:
    """Append this run's rows and replace the latest-run section of `path` (created if absent)."""
    text = path.read_text() if path.exists() else TEMPLATE
    start, end = RUNS
    text = text.replace(end, _rows(meta, results) + end, 1)
    pattern = re.compile(re.escape(LATEST[0]) + r".*?" + re.escape(LATEST[1]), re.S)
    text = pattern.sub(lambda _: f"{LATEST[0]}\n{_latest(meta, results)}{LATEST[1]}", text, count=1)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
