"""What every part of the extraction benchmark shares: paths, thresholds, run statistics, cell formats."""
from __future__ import annotations

import statistics
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]  # benchmarks/
RESULTS = HERE / "results"
ENTRY = HERE / "extract.py"  # the script: workers are this script run with --worker

PASSIVE_ENV = {"OMP_WAIT_POLICY": "PASSIVE"}
PASSIVE_TAG = "[OMP_WAIT_POLICY=PASSIVE]"
REQUIRED_RATIO = 3.0  # vidsim resnet50 bf16 vs the official-recipe reference
SCORE_TOLERANCE = 1e-3  # max |score(bf16) - score(fp32)|

QUIET_SHARE = 0.10  # a timed run is "quiet" when other processes used at most this share of the CPU


def is_quiet(run: dict) -> bool:
    return run.get("others_cpu_share", 1.0) <= QUIET_SHARE


def rate_stats(runs: list[dict], count_key: str) -> dict:
    rates = [r[count_key] / r["seconds"] for r in runs]
    quiet = [rate for rate, r in zip(rates, runs) if is_quiet(r)]
    return {"best": max(rates), "median": statistics.median(rates), "all": rates,
            "best_quiet": max(quiet) if quiet else None, "quiet_runs": len(quiet),
            "seconds": [r["seconds"] for r in runs]}


def others_cpu(res: dict) -> str:
    """Mean share of the CPU other processes used during this row's timed runs."""
    shares = [r.get("others_cpu_share") for r in res["runs"] if r.get("others_cpu_share") is not None]
    return f"{100 * statistics.mean(shares):.0f}%" if shares else "-"


def num(x, nd=1) -> str:
    return "-" if x is None else f"{x:.{nd}f}"
