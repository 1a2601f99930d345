"""The search numbers of issue 11 item 4, read from benchmarks/search.py's last committed results
(`results/search.json`; this script does not run it): re-rank ms per candidate and the 60-s query
at 3.6M indexed frames, against their targets."""
from __future__ import annotations

import json
from pathlib import Path

from .common import RESULTS, verdict

RERANK_TARGET_MS = 5.0  # per candidate window
QUERY_TARGET_MS = 200.0  # median, 60-s query at 3.6M indexed frames
QUERY_FRAMES = 3_600_000


def summarise(path: Path = RESULTS / "search.json") -> dict | None:
    """The two numbers from search.json (None when it is absent or holds neither), with the defaults'
    candidates and threads where recorded."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    config = data.get("search_config", {})
    candidates, threads = config.get("candidates", 20), (data.get("machine") or {}).get("cpus")
    out: dict = {"date": data.get("date"), "file": f"benchmarks/results/{path.name}", "candidates": candidates}
    rerank = [r for r in data.get("rerank", []) if r.get("window", "window") == "window" and "ms_per_candidate" in r]
    pick = [r for r in rerank if r.get("candidates") == candidates] or rerank
    if pick:
        best = min(pick, key=lambda r: r["ms_per_candidate"])
        out["rerank"] = {"ms_per_candidate": best["ms_per_candidate"], "candidates": best.get("candidates"),
                         "torch_threads": best.get("torch_threads", threads)}
    scale = [r for r in data.get("scale", []) if r.get("frames") == QUERY_FRAMES and "query_ms_median" in r]
    pick = [r for r in scale if r.get("candidates") == candidates] or scale
    if pick:
        best = min(pick, key=lambda r: r["query_ms_median"])
        out["query"] = {"ms_median": best["query_ms_median"], "candidates": best.get("candidates"),
                        "store": best.get("kind"), "torch_threads": best.get("torch_threads")}
    return out if ("rerank" in out or "query" in out) else None


def headline_lines(s: dict | None) -> list[str]:
    if not s:
        return ["- Search (item 4): no re-rank or 3.6M-frame query numbers in benchmarks/results/search.json "
                "(run `python benchmarks/search.py`)."]
    parts = []
    if "rerank" in s:
        r = s["rerank"]
        parts.append(f"re-rank **{r['ms_per_candidate']:.1f} ms per candidate** ({r['candidates']} candidates, "
                     f"{r['torch_threads']} torch threads): {verdict(r['ms_per_candidate'] < RERANK_TARGET_MS)} "
                     f"(target under {RERANK_TARGET_MS:.0f} ms)")
    if "query" in s:
        q = s["query"]
        parts.append(f"60-s query at 3.6M indexed frames **{q['ms_median']:.0f} ms median** ({q['store']}, "
                     f"{q['candidates']} candidates): {verdict(q['ms_median'] < QUERY_TARGET_MS)} "
                     f"(target under {QUERY_TARGET_MS:.0f} ms)")
    return [f"- Search (item 4; from `{s['file']}` of {s['date']}, not measured by this run): " + "; ".join(parts) + "."]
