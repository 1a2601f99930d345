"""A match report as one self-contained HTML page: images inline (base64), the style inline, no
script, nothing fetched (a Content-Security-Policy forbids it), all text escaped."""
from __future__ import annotations

import base64
import json
import time
from collections.abc import Sequence
from html import escape

from vidsim.index.search import Match
from vidsim.similarity.segments import Segment
from vidsim.units import format_mmss

from .timeline import timeline_svg
from .types import MatchView, QueryReport, SegmentStrip

# nothing but inline images and the inline style may load, whatever a file name or path holds
CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"

STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 0 auto; max-width: 1100px; padding: 16px 24px; color: #222; }
h1 { font-size: 22px; margin: 0 0 4px; } h2 { font-size: 18px; margin: 28px 0 6px; border-bottom: 2px solid #ddd; }
h3 { font-size: 16px; margin: 18px 0 6px; } h4 { font-size: 14px; margin: 12px 0 4px; font-weight: 600; }
.muted { color: #666; } .path { color: #777; font-size: 12px; word-break: break-all; }
.note { color: #8a5a00; } .warning { color: #b00020; }
table.matches { border-collapse: collapse; margin: 8px 0; } table.matches td, table.matches th
  { border-bottom: 1px solid #e5e5e5; padding: 3px 10px; text-align: left; vertical-align: top; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 12px; font-weight: 600; }
.copy { background: #ffe3e3; color: #a61e1e; } .not-copy { background: #e6fcf5; color: #087f5b; }
.undecided { background: #f1f3f5; color: #495057; }
article.match { border: 1px solid #e5e5e5; border-radius: 6px; padding: 4px 16px 12px; margin: 14px 0; }
.strip { display: flex; gap: 6px; overflow-x: auto; padding-bottom: 4px; }
.strip figure { margin: 0; text-align: center; font-size: 11px; color: #555; }
.strip img, .strip .missing { display: block; height: 80px; margin: 0 auto 3px; border-radius: 2px; }
.strip .missing { width: 80px; background: #f1f3f5; line-height: 80px; color: #999; }
.row-label { writing-mode: vertical-rl; transform: rotate(180deg); height: 80px; margin-bottom: 3px; font-size: 11px;
  color: #777; text-align: center; }
.heatmap { max-width: 100%; height: auto; }
svg.timeline { max-width: 100%; height: auto; } .tl-video { fill: #dee2e6; } .tl-label { font-size: 12px; fill: #333; }
.tl-time { font-size: 11px; fill: #666; } .tl-tick { stroke: #999; }
pre { background: #f8f9fa; padding: 10px; overflow-x: auto; font-size: 12px; }
"""


def render_html(reports: Sequence[QueryReport], title: str = "vidsim match report") -> str:
    """The page of one or more queries' reports."""
    created = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
    version = reports[0].config.get("vidsim_version", "") if reports else ""
    body = [f"<h1>{escape(title)}</h1>",
            f'<p class="muted">made by vidsim {escape(str(version))} on {created}; '
            f"{len(reports)} quer{'y' if len(reports) == 1 else 'ies'}</p>"]
    if len(reports) > 1:
        body.append(_overview(reports))
    body += [_query(report, i) for i, report in enumerate(reports, 1)]
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{escape(title)}</title><style>{STYLE}</style></head>\n<body>\n"
            + "\n".join(body) + "\n</body></html>\n")


def decision_badge(is_copy: bool | None) -> str:
    """The copy decision as a coloured label: copy, not a copy, or undecided (no threshold)."""
    if is_copy is None:
        return '<span class="badge undecided">undecided</span>'
    return '<span class="badge copy">copy</span>' if is_copy else '<span class="badge not-copy">not a copy</span>'


def segment_text(s: Segment) -> str:
    return (f"query {format_mmss(s.query_start)}–{format_mmss(s.query_end)} → "
            f"reference {format_mmss(s.ref_start)}–{format_mmss(s.ref_end)}")


def _query(report: QueryReport, number: int) -> str:
    out = [f'<section class="query" id="query-{number}">',
           f"<h2>Query {number}: {escape(report.query)} <span class=\"muted\">({format_mmss(report.duration)})</span></h2>",
           f"<p>{len(report.matches)} match{'' if len(report.matches) == 1 else 'es'}; head <code>{escape(report.mode)}</code>; "
           f"{escape(report.decision.describe())}</p>"]
    out += [f'<p class="warning">warning: {escape(w)}</p>' for w in report.warnings]
    out += [f'<p class="note">{escape(n)}</p>' for n in report.notes]
    if report.matches:
        out.append(_table(report.matches))
    else:
        out.append("<p>No indexed video shares content with this query.</p>")
    out += [_detail(view, report, number) for view in report.details]
    config = json.dumps(report.config, indent=2, sort_keys=True, default=str)
    out.append(f"<details><summary>Configuration</summary><pre>{escape(config)}</pre></details>")
    out.append("</section>")
    return "\n".join(out)


def _overview(reports: Sequence[QueryReport]) -> str:
    """One line per query: its best match and decision, linked to the query's section."""
    rows = ["<table class=\"matches overview\"><tr><th>query</th><th>best match</th><th>similarity</th><th>decision</th></tr>"]
    for number, report in enumerate(reports, 1):
        link = f'<a href="#query-{number}">{escape(report.query)}</a>'
        if report.matches:
            best = report.matches[0]
            rows.append(f"<tr><td>{link}</td><td>{escape(_name(best.path))}</td><td class=\"num\">{best.similarity:.4f}</td>"
                        f"<td>{decision_badge(best.is_copy)}</td></tr>")
        else:
            rows.append(f"<tr><td>{link}</td><td>—</td><td></td><td></td></tr>")
    rows.append("</table>")
    return "\n".join(rows)


def _name(path: str) -> str:
    return path.replace("\\", "/").rsplit("/", 1)[-1]


def _table(matches: Sequence[Match]) -> str:
    rows = ["<table class=\"matches\"><tr><th>rank</th><th>reference</th><th>similarity</th><th>decision</th>"
            "<th>copied segments</th></tr>"]
    for rank, m in enumerate(matches, 1):
        segments = "<br>".join(f"{escape(segment_text(s))} ({s.score:.3f})" for s in m.segments) or "—"
        reference = f'<b>{escape(_name(m.path))}</b><br><span class="path">{escape(m.path)}</span>'
        rows.append(f'<tr><td class="num">{rank}</td><td>{reference}</td><td class="num">{m.similarity:.4f}</td>'
                    f"<td>{decision_badge(m.is_copy)}</td><td>{segments}</td></tr>")
    rows.append("</table>")
    return "\n".join(rows)


def _detail(view: MatchView, report: QueryReport, number: int) -> str:
    m = view.match
    out = [f'<article class="match" id="query-{number}-match-{view.rank}">',
           f"<h3>#{view.rank} {escape(view.name)}: similarity {m.similarity:.4f} {decision_badge(m.is_copy)}</h3>",
           f'<p class="muted">{escape(m.path)} ({format_mmss(view.duration)})</p>']
    out += [f'<p class="note">{escape(n)}</p>' for n in view.notes]
    out.append(timeline_svg(report.duration, view.duration, m.segments, query_label=report.query, ref_label=view.name))
    if not view.strips:
        out.append("<p>No copied segment was located.</p>")
    for i, strip in enumerate(view.strips, 1):
        out.append(_strip(strip, i))
    if view.heatmap is not None:
        out.append("<h4>Frame-to-frame similarity (segments outlined)</h4>")
        out.append(f'<img class="heatmap" alt="frame-to-frame similarity of the query and {escape(view.name)}" '
                   f'src="{data_uri(view.heatmap, "image/png")}">')
    out.append("</article>")
    return "\n".join(out)


def _strip(strip: SegmentStrip, number: int) -> str:
    s = strip.segment
    out = [f"<h4>Segment {number}: {escape(segment_text(s))}, score {s.score:.3f}</h4>", '<div class="strip">',
           '<figure><div class="row-label">query</div><div class="row-label">reference</div></figure>']
    for thumb in strip.thumbs:
        out.append("<figure>" + _image(thumb.query_image, f"query at {format_mmss(thumb.query_time)}")
                   + _image(thumb.ref_image, f"reference at {format_mmss(thumb.ref_time)}")
                   + f"<figcaption>{format_mmss(thumb.query_time)} / {format_mmss(thumb.ref_time)}</figcaption></figure>")
    out.append("</div>")
    return "\n".join(out)


def _image(data: bytes | None, alt: str) -> str:
    if data is None:
        return f'<div class="missing" title="{escape(alt)}">n/a</div>'
    return f'<img alt="{escape(alt)}" src="{data_uri(data, "image/jpeg")}">'


def data_uri(data: bytes, mime: str) -> str:
    """Bytes as a data: URI (base64), for images inside the page."""
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"
