"""What every part of the extraction benchmark shares: paths, targets, run statistics, cell formats."""
from __future__ import annotations

import statistics
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]  # benchmarks/
RESULTS = HERE / "results"
ENTRY = HERE / "extract.py"  # the script: workers are this script run with --worker

# The targets of issue 11, item 6
E2E_RATIO_TARGET = 3.0  # default end to end vs the old default (torch fp32), same run
E2E_RATE_TARGET = 100.0  # video-s/s, default end to end on the 200-s 360p clip
HIRES_RATE_TARGET = 25.0  # video-s/s, default end to end on the 1080p clip
RESNET_RATIO_TARGET = 10.0  # fastest vidsim resnet50 path vs the official recipe, same run
RSS_LIMIT_MB = 1024.0  # MiB (1 GiB): peak RSS for a 2-hour video

QUIET_SHARE = 0.10  # a timed run is "quiet" when other processes used at most this share of the CPU


def is_quiet(run: dict) -> bool:
    return run.get("others_cpu_share", 1.0) <= QUIET_SHARE


def rate_stats(runs: list[dict], count_key: str, seconds_key: str = "seconds") -> dict:
    """count/seconds per run: best, median, best of the quiet runs."""
    rates = [r[count_key] / r[seconds_key] for r in runs]
    quiet = [rate for rate, r in zip(rates, runs) if is_quiet(r)]
    return {"best": max(rates), "median": statistics.median(rates), "all": rates,
            "best_quiet": max(quiet) if quiet else None, "quiet_runs": len(quiet),
            "seconds": [r[seconds_key] for r in runs]}


def speed(stats: dict) -> float:
    """The rate a headline uses: the best quiet run's where there is one, else the median."""
    return stats["best_quiet"] if stats.get("best_quiet") else stats["median"]


def paired_ratio(ref: dict, row: dict, seconds_key: str = "seconds", count_key: str | None = None) -> dict:
    """How many times faster `row` is than `ref` (results of one run_group): per round (same round,
    same load), their median and minimum, and best quiet run over best quiet run (None without one).
    With `count_key`, rates are count/seconds (rows that do different amounts of work)."""
    def rate(run):
        return (run[count_key] if count_key else 1.0) / run[seconds_key]

    paired = [rate(b) / rate(a) for a, b in zip(ref["runs"], row["runs"])]
    rq = [rate(r) for r in ref["runs"] if is_quiet(r)]
    q = [rate(r) for r in row["runs"] if is_quiet(r)]
    quiet = max(q) / max(rq) if q and rq else None
    out = {"paired": paired, "median": statistics.median(paired), "min": min(paired), "quiet": quiet}
    out["ratio"] = quiet if quiet is not None else out["median"]
    out["method"] = ("best quiet run of each side" if quiet is not None
                     else "median of per-round ratios, as a side had no quiet run")
    return out


def others_cpu(res: dict) -> str:
    """Mean share of the CPU other processes used during this row's timed runs."""
    shares = [r.get("others_cpu_share") for r in res["runs"] if r.get("others_cpu_share") is not None]
    return f"{100 * statistics.mean(shares):.0f}%" if shares else "-"


def num(x, nd=1) -> str:
    return "-" if x is None else f"{x:.{nd}f}"


def verdict(ok: bool) -> str:
    return "**met**" if ok else "**not met**"


def ratio_detail(r: dict) -> str:
    """How a headline ratio was taken, and the other measures of the same runs."""
    if r["quiet"] is not None:
        return f"{r['method']}; per-round median {r['median']:.2f}x, lowest round {r['min']:.2f}x"
    return f"{r['method']}; lowest round {r['min']:.2f}x"
