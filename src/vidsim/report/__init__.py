"""Match reports people can look at: per match, the copied segments as aligned thumbnail strips,
a timeline of both videos, the f2f heatmap (mm:ss axes), the scores and the copy decision, and the
configuration; one self-contained HTML page (`vidsim report`, the service's report).

    from vidsim.report import report_html
    with Index.open("my-index") as index:
        page = report_html(index, "upload.mp4", top_k=5)      # a str: the whole page

`collect_report` gathers one query's `QueryReport` (searching, or from a search's results);
`render_html` writes the page of one or more of them.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .collect import collect_report, report_config, segment_times
from .html import render_html
from .types import MatchView, QueryReport, SegmentStrip, Thumb

if TYPE_CHECKING:
    from vidsim.index import Index

__all__ = ["collect_report", "render_html", "report_html", "write_report", "report_config", "segment_times",
           "QueryReport", "MatchView", "SegmentStrip", "Thumb"]


def report_html(index: Index, query: str | os.PathLike[str], title: str = "vidsim match report", **options: Any) -> str:
    """The whole page for one query; `options` as for `collect_report` (results, features, top_k,
    details, threshold, candidates, name, thumbs, progress)."""
    return render_html([collect_report(index, query, **options)], title=title)


def write_report(path: str | os.PathLike[str], reports: list[QueryReport], title: str = "vidsim match report") -> Path:
    """Write the page of `reports` to `path` atomically; the path written."""
    from vidsim.fsutil import atomic_open

    path = Path(path)
    with atomic_open(path, "w", encoding="utf-8") as fh:
        fh.write(render_html(reports, title=title))
    return path
