"""The report: machine description and the Markdown page assembled from the sections' tables."""
from __future__ import annotations

import os
import platform

from . import end_to_end, memory, resnet, search_summary, similarity
from .common import num

SECTION_RENDERERS = (("e2e", end_to_end.render_e2e), ("hires", end_to_end.render_hires), ("resnet", resnet.render),
                     ("rss", memory.render), ("similarity", similarity.render))
PACKAGES = ("torch", "av", "numpy", "onnxruntime", "openvino")


def machine_info(threads: int) -> dict:
    import torch

    from environment import versions  # benchmarks/environment.py (benchmarks/ is the script's directory)

    model, flags, mem = "unknown", [], None
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name") and model == "unknown":
                    model = line.split(":", 1)[1].strip()
                elif line.startswith("flags") and not flags:
                    flags = line.split(":", 1)[1].split()
        with open("/proc/meminfo") as f:
            mem = round(int(f.readline().split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    wanted = ("avx2", "avx512f", "avx512_bf16", "avx512_vnni", "amx_bf16", "amx_tile")
    return {
        "cpu_model": model,
        "cores": os.cpu_count(),
        "cores_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "cpu_flags": [f for f in wanted if f in flags],
        "memory_gib": mem,
        "torch_threads": threads,
        "versions": versions(PACKAGES),
        "torch_cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "platform": platform.platform(),
    }


def headline(r: dict) -> list[str]:
    L = []
    if "e2e" in r or "hires" in r:
        L += end_to_end.headline_lines(r)
    if "resnet" in r:
        L += resnet.headline_lines(r)
    if "rss" in r:
        L += memory.headline_lines(r)
    L += search_summary.headline_lines(r.get("search"))
    return L


def render_markdown(r: dict) -> str:
    m = r["machine"]
    v = m["versions"]
    L = ["# vidsim extraction benchmark", ""]
    if r.get("quick"):
        L += ["**Smoke run (--quick): one round, fewer frames, shorter long videos; not a result.**", ""]
    L += [f"- date: {r['date']}",
          f"- command: `{r['command']}`",
          f"- machine: {m['cpu_model']}, {m['cores']} cores ({', '.join(m['cpu_flags'])}), {m['memory_gib']} GiB; "
          f"torch threads {m['torch_threads']}",
          "- versions: " + ", ".join(f"{k} {val}" for k, val in v.items())
          + f" (torch CPU capability {m['torch_cpu_capability']})",
          f"- timing: each row is its own worker process (peak RSS is its own); it loads its model, does one untimed "
          f"warm-up run, then the rows of a table run in {r['rounds']} interleaved round(s) (row 1, row 2, ..., then "
          "again), so ratios are taken between runs of the same round; rates are best / median over rounds; a run is "
          "quiet when other processes used at most 10% of the CPU meanwhile, and a headline uses the best quiet runs "
          "where both sides have one, else the median of per-round ratios; \"others' CPU\" is the mean share of all cores "
          "other processes used during the row's timed runs (each timed run first waits up to "
          f"{r['wait_quiet_s']:.0f} s for them to drop under 15%)"]
    loads = list(r["cpu_by_group"].items())
    if loads:
        L.append("- load from other processes during each table (share of all cores used by processes other "
                 "than this benchmark; 1-min load average at start/end): "
                 + "; ".join(f"{n} {c['others_cpu_share'] * 100:.0f}% ({c['loadavg_1min_start']}/{c['loadavg_1min_end']})"
                             for n, c in loads))
    if "total_s" in r:
        L.append(f"- total time {num(r['total_s'] / 60, 1)} min")
    L += ["", "## Headline", ""] + headline(r) + [""]
    for key, render in SECTION_RENDERERS:
        if key in r:
            L += render(r)
    if r.get("notes"):
        L += ["## Notes", ""] + [f"- {n}" for n in r["notes"]] + [""]
    return "\n".join(L)


def write_atomic(path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
