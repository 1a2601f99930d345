"""The report page as HTML: segments and decisions shown, text escaped, nothing loaded from outside."""
from __future__ import annotations

import base64
import re
from html.parser import HTMLParser

import numpy as np
import pytest

from vidsim.decision import CopyDecision
from vidsim.index import Match
from vidsim.report import MatchView, QueryReport, SegmentStrip, Thumb, render_html
from vidsim.report.frames import jpeg_thumbnail
from vidsim.report.timeline import timeline_svg
from vidsim.similarity.segments import Segment
from vidsim.viz import heatmap_png

EVIL = "<script>alert('x')</script>&\"quoted\" é.mp4"


class Tags(HTMLParser):
    """Every start tag with its attributes, and the text of <style> elements."""

    def __init__(self):
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.styles: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        self._in_style = tag == "style"

    def handle_endtag(self, tag):
        self._in_style = False

    def handle_data(self, data):
        if self._in_style:
            self.styles.append(data)


def _thumb(seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    return jpeg_thumbnail(rng.integers(0, 255, (120, 160, 3), dtype=np.uint8), height=48)


def _report(path: str = "/videos/ref.mp4", query: str = "query.mp4") -> QueryReport:
    segment = Segment(62.0, 75.0, 130.0, 143.0, 0.812)
    copy = Match(1, path, 0.734, (segment,), True)
    other = Match(2, "/videos/other.mp4", 0.12, (), False)
    unknown = Match(3, "/videos/third.mp4", 0.05, (), None)
    strip = SegmentStrip(segment, (Thumb(63.0, 131.0, _thumb(1), _thumb(2)), Thumb(70.0, 138.0, _thumb(3), None)))
    f2f = np.random.default_rng(0).uniform(-0.2, 0.9, (80, 150)).astype(np.float32)
    heatmap = heatmap_png(f2f, np.arange(80.0), np.arange(150.0), [(62.0, 75.0, 130.0, 143.0)])
    view = MatchView(1, copy, "ref", 150.0, heatmap, (strip,), ("a note & more",))
    return QueryReport(query, 80.0, (copy, other, unknown), (view,), CopyDecision(0.5, "given"),
                       "chamfer-symmetric-partial", {"head": "chamfer", "path": path}, ("a warning",))


def test_segments_scores_and_decisions_are_shown():
    page = render_html([_report()])
    assert "query 01:02–01:15 → reference 02:10–02:23" in page
    assert "0.7340" in page and "0.812" in page and "0.1200" in page
    assert page.count('class="badge copy"') == 2  # the table row and the detail heading
    assert 'class="badge not-copy"' in page and 'class="badge undecided"' in page
    assert "copy threshold 0.5000 (given)" in page
    assert "01:03 / 02:11" in page  # a thumbnail pair's query and reference times
    assert "a warning" in page and "a note &amp; more" in page
    assert "chamfer-symmetric-partial" in page and "Configuration" in page


def test_text_is_escaped():
    page = render_html([_report(path=f"/videos/{EVIL}", query=EVIL)], title=EVIL)
    assert "<script" not in page.lower()
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;&amp;&quot;quoted&quot; é.mp4" in page
    parser = Tags()
    parser.feed(page)
    assert not [t for t, _ in parser.tags if t == "script"]


def test_page_is_self_contained():
    page = render_html([_report(), _report(query="second.mp4")])
    parser = Tags()
    parser.feed(page)
    tags = [t for t, _ in parser.tags]
    for forbidden in ("script", "link", "iframe", "object", "embed", "base", "form", "video", "audio", "source"):
        assert forbidden not in tags
    images = [a for t, a in parser.tags if t == "img"]
    assert len(images) == 2 * 4  # per query: the heatmap, three thumbnails (one frame missing)
    for attrs in images:
        src = attrs["src"] or ""
        mime, payload = re.fullmatch(r"data:(image/(?:png|jpeg));base64,([A-Za-z0-9+/=]+)", src).groups()
        data = base64.b64decode(payload)
        assert data.startswith(b"\x89PNG" if mime == "image/png" else b"\xff\xd8")
    for _, attrs in parser.tags:
        for name, value in attrs.items():
            if name in ("href", "action", "poster", "background"):
                assert (value or "").startswith("#"), (name, value)
            assert name != "srcset" and not name.startswith("on")
    assert not any("url(" in style or "@import" in style for style in parser.styles)
    csp = [a for t, a in parser.tags if t == "meta" and a.get("http-equiv") == "Content-Security-Policy"]
    assert csp and "default-src 'none'" in (csp[0]["content"] or "")
    assert page.count('<section class="query"') == 2 and 'href="#query-2"' in page  # the overview links


def test_no_matches_and_no_details():
    report = QueryReport("q.mp4", 5.0, (), (), CopyDecision(None, note="no threshold ships for this"), "chamfer", {})
    page = render_html([report])
    assert "No indexed video shares content with this query." in page
    assert 'class="badge' not in page and "no threshold ships for this" in page


@pytest.mark.parametrize("query_duration, ref_duration", [(80.0, 150.0), (300.0, 20.0)])
def test_timeline_marks_segments_on_one_scale(query_duration, ref_duration):
    from vidsim.report.timeline import LEFT, RIGHT, WIDTH

    svg = timeline_svg(query_duration, ref_duration, [Segment(10.0, 20.0, 5.0, 15.0)], "q <1>", "r")
    scale = (WIDTH - LEFT - RIGHT) / max(query_duration, ref_duration)
    rects = [(float(x), float(w)) for x, w in re.findall(r'<rect x="([\d.]+)" y="\d+" width="([\d.]+)" height="18" fill', svg)]
    assert rects == [pytest.approx((LEFT + 10 * scale, 10 * scale), abs=0.1),
                     pytest.approx((LEFT + 5 * scale, 10 * scale), abs=0.1)]
    assert "q &lt;1&gt;" in svg and "00:00" in svg
