"""The CSV files of a build, per split, and the counts `build.json` records.

    gt_{split}.csv        VSC22 ground truth (query_id,ref_id,query_start,query_end,ref_start,ref_end),
                          the layout `vidsim.evaluate.groundtruth.read_vsc_csv` reads
    manifest_{split}.csv  one row per query: split, kind, family, strength, chain, source, params...
    refs_{split}.csv      one row per reference: source and source interval

Floats are written as Python's shortest repr, so they read back exactly; files are replaced atomically.
"""
from __future__ import annotations

import csv
import json
import os
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .plan import BenchmarkPlan

__all__ = ["GT_COLUMNS", "MANIFEST_COLUMNS", "REF_COLUMNS", "write_split"]

GT_COLUMNS = ("query_id", "ref_id", "query_start", "query_end", "ref_start", "ref_end")
MANIFEST_COLUMNS = (
    "query_id", "split", "kind", "family", "strength", "chain", "source", "ref_id",
    "src_start", "src_end", "query_start", "query_end", "ref_start", "ref_end",
    "duration", "fps", "width", "height", "file", "params",
)
REF_COLUMNS = ("ref_id", "split", "source", "src_start", "src_end", "duration", "fps", "width", "height", "file")


def _fmt(x: Any) -> str:
    return "" if x is None or x == "" else repr(float(x)) if isinstance(x, float) else str(x)


def _write_csv(path: Path, columns: Sequence[str], rows: Sequence[Mapping[str, Any]]) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    with open(tmp, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(columns)
        for row in rows:
            w.writerow([_fmt(row.get(c)) for c in columns])
    os.replace(tmp, path)


def _clip_fields(plan: BenchmarkPlan, clip_id: str, file: str) -> dict[str, Any]:
    rec = plan.clips[clip_id].record(file)
    return {"duration": rec.duration, "fps": rec.fps, "width": rec.width, "height": rec.height, "file": file}


def write_split(out: Path, plan: BenchmarkPlan, split: str) -> dict[str, Any]:
    """Write the ground truth, manifest and reference list of `split` into `out`; return its counts."""
    refs, queries = plan.refs[split], plan.queries[split]
    ref_rows = [{"ref_id": r.ref_id, "split": split, "source": r.source, "src_start": r.start, "src_end": r.end,
                 **_clip_fields(plan, r.ref_id, r.file)} for r in refs]
    rows, gt_rows = [], []
    for q in queries:
        row = {"query_id": q.query_id, "split": split, "kind": q.kind, "family": q.family, "strength": q.strength,
               "chain": "+".join(q.chain), "source": q.source, "src_start": q.src_start, "src_end": q.src_end,
               **_clip_fields(plan, q.query_id, q.file),
               "params": json.dumps(plan.clips[q.query_id].params, sort_keys=True, separators=(",", ":"))}
        match = plan.match(q)
        if match is not None:
            seg = {"ref_id": match.ref_id, "query_start": match.query_start, "query_end": match.query_end,
                   "ref_start": match.ref_start, "ref_end": match.ref_end}
            row.update(seg)
            gt_rows.append({"query_id": q.query_id, **seg})
        rows.append(row)
    _write_csv(out / f"gt_{split}.csv", GT_COLUMNS, sorted(gt_rows, key=lambda r: (r["query_id"], r["ref_id"])))
    _write_csv(out / f"manifest_{split}.csv", MANIFEST_COLUMNS, rows)
    _write_csv(out / f"refs_{split}.csv", REF_COLUMNS, ref_rows)
    return {
        "refs": len(refs),
        "queries": len(rows),
        "positives": len(gt_rows),
        "ref_sources": dict(Counter(r.source for r in refs)),
        "kinds": dict(sorted(Counter(r["kind"] for r in rows).items())),
        "families": dict(sorted(Counter(f"{r['family']}/{r['strength']}" for r in rows
                                        if r["kind"] == "copy").items())),
        "sources": dict(sorted(Counter(r["source"] for r in rows).items())),
        "ref_seconds": round(sum(r.end - r.start for r in refs), 1),
        "query_seconds": round(sum(x["duration"] for x in rows), 1),
    }
