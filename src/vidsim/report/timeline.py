"""The timeline of a match as inline SVG: the query and the reference as two bars in mm:ss, the
copied segments marked on both and joined."""
from __future__ import annotations

from collections.abc import Sequence
from html import escape

from vidsim.similarity.segments import Segment
from vidsim.units import format_mmss

WIDTH, LEFT, RIGHT = 760, 24, 24
BAR = 18
COLOURS = ("#e8590c", "#1c7ed6", "#2f9e44", "#ae3ec9", "#f59f00", "#0ca678")


def timeline_svg(query_duration: float, ref_duration: float, segments: Sequence[Segment],
                 query_label: str = "query", ref_label: str = "reference") -> str:
    """An SVG element (a string; its text escaped) of both videos on one time scale."""
    span = max(query_duration, ref_duration, max((s.query_end for s in segments), default=0.0),
               max((s.ref_end for s in segments), default=0.0), 1e-6)
    scale = (WIDTH - LEFT - RIGHT) / span
    top, bottom = 20, 96
    height = bottom + BAR + 30

    def x(t: float) -> float:
        return LEFT + max(0.0, t) * scale

    parts = [f'<svg class="timeline" xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
             f'viewBox="0 0 {WIDTH} {height}" role="img" aria-label="timeline of the query and the reference">']
    for y, label, length in ((top, query_label, query_duration), (bottom, ref_label, ref_duration)):
        parts.append(f'<text x="{LEFT}" y="{y - 5}" class="tl-label">{escape(label)} ({format_mmss(length)})</text>')
        parts.append(f'<rect x="{LEFT}" y="{y}" width="{max(length * scale, 1):.1f}" height="{BAR}" class="tl-video"/>')
    for i, s in enumerate(segments):
        colour = COLOURS[i % len(COLOURS)]
        qa, qb, ra, rb = x(s.query_start), x(s.query_end), x(s.ref_start), x(s.ref_end)
        parts.append(f'<polygon points="{qa:.1f},{top + BAR} {qb:.1f},{top + BAR} {rb:.1f},{bottom} {ra:.1f},{bottom}" '
                     f'fill="{colour}" fill-opacity="0.18"/>')
        for y, a, b in ((top, qa, qb), (bottom, ra, rb)):
            parts.append(f'<rect x="{a:.1f}" y="{y}" width="{max(b - a, 2):.1f}" height="{BAR}" fill="{colour}">'
                         f'<title>segment {i + 1}: query {format_mmss(s.query_start)}-{format_mmss(s.query_end)}, '
                         f'reference {format_mmss(s.ref_start)}-{format_mmss(s.ref_end)}</title></rect>')
    for t in _ticks(span):
        parts.append(f'<line x1="{x(t):.1f}" y1="{bottom + BAR}" x2="{x(t):.1f}" y2="{bottom + BAR + 5}" class="tl-tick"/>')
        parts.append(f'<text x="{x(t):.1f}" y="{bottom + BAR + 18}" text-anchor="middle" class="tl-time">'
                     f'{format_mmss(t)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _ticks(span: float, count: int = 8) -> list[float]:
    """Round tick times (whole seconds, a "nice" step) from 0 to `span`."""
    for step in (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600):
        if span / step <= count:
            break
    return [float(k * step) for k in range(int(span // step) + 1)]

