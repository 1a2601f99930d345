"""The report: machine description and the Markdown page assembled from the sections' tables."""
from __future__ import annotations

import os
import platform
from pathlib import Path

from . import agreement, decoding, end_to_end, extraction, similarity
from .common import num

SECTION_RENDERERS = (("decode", decoding.render), ("extract", extraction.render), ("agreement", agreement.render),
                     ("similarity", similarity.render), ("e2e", end_to_end.render))


def machine_info(threads: int) -> dict:
    import av
    import numpy
    import torch

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
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torch_cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "mkldnn": bool(torch.backends.mkldnn.is_available()),
        "av": av.__version__,
        "numpy": numpy.__version__,
        "platform": platform.platform(),
    }


def render_markdown(r: dict) -> str:
    m, clip = r["machine"], r["clip"]
    L = ["# vidsim extraction benchmark", ""]
    L += [f"- date: {r['date']}",
          f"- command: `{r['command']}`",
          f"- machine: {m['cpu_model']}, {m['cores']} cores ({', '.join(m['cpu_flags'])}), {m['memory_gib']} GiB; "
          f"torch threads {m['torch_threads']}",
          f"- versions: python {m['python']}, torch {m['torch']} (CPU capability {m['torch_cpu_capability']}), "
          f"av {m['av']}, numpy {m['numpy']}",
          f"- clip: `{clip['name']}` {clip['width']}x{clip['height']}, {clip['duration_s']:.1f} s, "
          f"{clip['fps']:.2f} fps, {clip['codec']}, keyframe every {num(clip['keyframe_interval_s'], 2)} s",
          f"- timing: each row is its own worker process (peak RSS is its own), one untimed warm-up run, "
          f"then {r['rounds']} interleaved round(s); rates are best / median over rounds; "
          "a run is quiet when other processes used at most 10% of the CPU meanwhile; the column \"others' CPU\" is the mean share of all cores "
          f"that other processes used during the row's timed runs (each timed run first waits up to {r['wait_quiet_s']:.0f} s "
          "for them to drop under 15%)"]
    loads = list(r["cpu_by_group"].items())
    if loads:
        L.append("- load from other processes during each group (share of all cores used by processes other "
                 "than this benchmark; 1-min load average at start/end): "
                 + "; ".join(f"{n} {c['others_cpu_share'] * 100:.0f}% ({c['loadavg_1min_start']}/{c['loadavg_1min_end']})"
                             for n, c in loads))
    L.append("")

    if "extract" in r:
        h = r["extract"]["headline"]
        L += ["## Headline", ""]
        ok = "**meets**" if h["meets_required"] else "**does NOT meet**"
        L += [f"vidsim `resnet50` bf16 (batch {h['best_bf16_batch_size']}) extracts **{h['ratio']:.2f}x** the frames/s "
              f"of the official-recipe reference (fp32, NCHW, batch 128) measured side by side in this run "
              f"({h['ratio_method']}; a run is quiet when other processes used at most "
              f"{h['quiet_share'] * 100:.0f}% of the CPU meanwhile): {ok} the required {h['required']:.0f}x. "
              f"Other measures of the same runs: median of per-round ratios {h['ratio_median_paired']:.2f}x "
              f"(lowest round {h['ratio_min_paired']:.2f}x), best vs best {h['ratio_best_over_best']:.2f}x."]
        if "passive" in h:
            p = h["passive"]
            L += ["", f"With `OMP_WAIT_POLICY=PASSIVE` on both sides ({p['name']} against the reference run the "
                      f"same way): median of per-round ratios {p['ratio_median_paired']:.2f}x"
                      + (f", best quiet runs {p['ratio_quiet']:.2f}x." if p.get("ratio_quiet") else ".")]
        if "agreement" in r:
            a = r["agreement"]
            d0 = a["deltas"][0]
            lite = [d for d in a["deltas"] if d["a"].startswith("lite0 bf16")]

            def verdict(x):
                return f"{x:.2e} ({'within' if x <= a['tolerance'] else '**NOT within**'})"

            L += ["", f"Scores (chamfer, max |Δscore| over {len(a['pairs'])} real video pairs, tolerance "
                      f"{a['tolerance']:g}): resnet50 bf16 vs the fp32 reference: raw features {verdict(d0['chamfer'])}, "
                      f"PCA-whitened features {verdict(d0['chamfer_whitened'])}. "
                      "efficientnet-lite0 bf16 vs fp32: "
                      + ", ".join(f"{d['a'].replace('lite0 bf16', '').strip() or 'default whitening'} "
                                  f"{verdict(d['worst_chamfer'])}" for d in lite) + "."]
        L.append("")

    for key, render in SECTION_RENDERERS:
        if key in r:
            L += render(r)

    if r.get("notes"):
        L += ["## Notes", ""] + [f"- {n}" for n in r["notes"]] + [""]
    return "\n".join(L)


def write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
