"""The report's content, gathered from a real index and real decoded video."""
from __future__ import annotations

import dataclasses
import io
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

import clips
from vidsim.index import Index, SearchResults
from vidsim.report import collect_report, render_html, segment_times
from vidsim.report.frames import THUMB_HEIGHT, frames_at, jpeg_thumbnail
from vidsim.similarity.segments import Segment


def test_frames_at_gives_the_frame_shown_at_each_time(indexed_mp4):
    # 100 frames at 25 fps, keyframes every 25: times out of order, across keyframes, before and past the end
    times = [3.03, 0.0, 0.5, 1.99, 2.0, 0.041, 9.0]
    images = frames_at(indexed_mp4, times)
    assert [clips.read_index(image) for image in images] == [75, 0, 12, 49, 50, 1, 99]


def test_segment_times_spread_over_the_segment():
    pairs = segment_times(Segment(10.0, 20.0, 100.0, 105.0), 5)
    assert [q for q, _ in pairs] == pytest.approx([11, 13, 15, 17, 19])
    assert [r for _, r in pairs] == pytest.approx([100.5, 101.5, 102.5, 103.5, 104.5])
    assert segment_times(Segment(3.0, 3.0, 7.0, 7.0), 4) == [(3.0, 7.0)]


def _image(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"), dtype=np.float32)


def test_report_of_a_partial_copy(partial_report, report_clips):
    report = partial_report
    assert report.query == "partial.mp4" and report.duration == pytest.approx(8.0)
    assert [m.path for m in report.matches] == [str(report_clips["a"]), str(report_clips["b"])]
    best, other = report.details
    assert best.match.is_copy is True and best.match.similarity > other.match.similarity
    assert other.match.is_copy is (other.match.similarity >= report.decision.threshold)  # generated scenes look alike
    assert report.decision.threshold is not None and report.config["head"] == report.mode
    assert report.config["model"]["decode"]["fps"] == 1.0 and "index_config" in report.config
    # the copied segment (query 00:02-00:06 shows a's 00:02-00:06, found by the aligner) overlaps the truth
    (strip,) = best.strips
    s = strip.segment
    assert s.query_start < 5.0 and s.query_end > 3.0 and s.ref_start < 5.0 and s.ref_end > 3.0
    assert len(strip.thumbs) == 4
    rate = (s.ref_end - s.ref_start) / (s.query_end - s.query_start)
    for thumb in strip.thumbs:
        assert s.query_start < thumb.query_time < s.query_end
        assert thumb.ref_time == pytest.approx(s.ref_start + (thumb.query_time - s.query_start) * rate)
        # each row shows its own video at its time, THUMB_HEIGHT pixels high
        assert thumb.query_image == jpeg_thumbnail(frames_at(report_clips["partial"], [thumb.query_time])[0])
        assert thumb.ref_image == jpeg_thumbnail(frames_at(report_clips["a"], [thumb.ref_time])[0])
        assert _image(thumb.query_image).shape[0] == _image(thumb.ref_image).shape[0] == THUMB_HEIGHT
        if 2.2 < thumb.query_time < 5.8:  # inside the true copy: a's picture at the same time
            truth = jpeg_thumbnail(frames_at(report_clips["a"], [thumb.query_time])[0])
            assert np.abs(_image(thumb.query_image) - _image(truth)).mean() < 20
    heatmap = Image.open(io.BytesIO(best.heatmap))
    assert heatmap.format == "PNG" and heatmap.width > 200
    assert other.heatmap is not None and not other.notes


def test_a_reference_that_cannot_be_read_is_noted(report_index, report_clips, tmp_path):
    with Index.open(report_index) as index:
        found = index.search(report_clips["partial"], top_k=1)
        moved = SearchResults([dataclasses.replace(found[0], path=str(tmp_path / "gone.mp4"))], (), found.decision)
        report = collect_report(index, report_clips["partial"], results=moved, details=1, thumbs=2)
    (view,) = report.details
    assert view.heatmap is not None  # from the stored codes
    assert all(t.ref_image is None and t.query_image is not None for strip in view.strips for t in strip.thumbs)
    assert any("no reference thumbnails" in note and "gone.mp4" in note for note in view.notes)
    page = render_html([report])
    assert "no reference thumbnails" in page and 'class="missing"' in page


def test_cli_writes_the_report(report_index, report_clips, tmp_path):
    out = tmp_path / "report.html"
    run = subprocess.run([sys.executable, "-m", "vidsim", "report", str(report_clips["partial"]), str(report_clips["host"]),
                          "--index", str(report_index), "--out", str(out), "--top", "2", "--details", "1", "-q"],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert f"wrote the report of 2 queries to {out}" in run.stdout
    assert "partial.mp4: 2 matches, best a.mp4" in run.stdout and "(copy: yes)" in run.stdout
    page = out.read_text(encoding="utf-8")
    assert page.count('<section class="query"') == 2 and "host.mp4" in page and "a.mp4" in page
    missing = subprocess.run([sys.executable, "-m", "vidsim", "report", str(tmp_path / "nope.mp4"),
                              "--index", str(report_index), "--out", str(out), "-q"],
                             capture_output=True, text=True, timeout=300)
    assert missing.returncode == 1 and missing.stderr.strip().startswith("error:") and "nope.mp4" in missing.stderr
    assert "Traceback" not in missing.stderr and len(missing.stderr.strip().splitlines()) == 1
