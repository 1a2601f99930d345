"""`vidsim demo`: its core on generated clips, and the whole demo on the real clips of vidsim[demo]."""
from __future__ import annotations

import re
import subprocess
import sys
from importlib import metadata

import pytest

import clips
from vidsim.demo import PACKAGED_CLIPS, DemoQuery, packaged_clips, search_demo
from vidsim.synth import make_clip, make_copy, write_video


def test_demo_core_on_generated_clips(tmp_path):
    from vidsim.model import ViSiL

    a = make_clip(tmp_path / "a.mp4", seconds=8, size=(160, 120), seed=41)
    bars = write_video(tmp_path / "bars.mp4", (clips.index_image(i, (160, 120)) for i in range(200)), fps=25, crf=12)
    copy = make_copy(a, tmp_path / "copy.mp4", crop=0.8, scale=0.7, crf=30)
    queries = [DemoQuery("copy", copy, "a, cropped", "a"), DemoQuery("other", bars, "bars (not a copy of a)", None)]
    result = search_demo(ViSiL(), {"a": a}, queries, tmp_path / "out", top_k=2)
    (copy_match,), (other_match,) = result.results
    assert copy_match.path == str(a) and copy_match.similarity > other_match.similarity + 0.1
    copies, others = result.copy_scores()
    assert copies == [copy_match.similarity] and others == [other_match.similarity]
    table = result.table().splitlines()
    assert table[0].split()[:5] == ["query", "copies", "match", "similarity", "copy"]
    assert re.match(rf"copy +a +a +{copy_match.similarity:.4f} +(yes|no) +00:00-00:0\d -> 00:00-00:0\d", table[1])
    assert re.match(r"other +\(nothing\) +a +\d\.\d{4}", table[2])
    summary = result.summary()
    assert "true copies rank far above the rest" in summary and f"report (open it in a browser): {result.report}" in summary
    page = result.report.read_text(encoding="utf-8")
    assert page.count('<section class="query"') == 2 and "copy: a, cropped" in page
    # a second run starts a fresh index in the same place
    again = search_demo(ViSiL(), {"a": a}, queries[:1], tmp_path / "out")
    assert [m.path for m in again.results[0]] == [str(a)]


def _installed(package: str) -> bool:
    try:
        metadata.distribution(package)
    except metadata.PackageNotFoundError:
        return False
    return True


def test_packaged_clips_or_a_clear_message():
    missing = sorted({package for package, _ in PACKAGED_CLIPS.values() if not _installed(package)})
    if missing:
        with pytest.raises(Exception, match=r"pip install 'vidsim\[demo\]'"):
            packaged_clips()
        pytest.skip(f"vidsim[demo] is not installed ({', '.join(missing)} missing)")
    clips = packaged_clips()
    assert sorted(clips) == sorted(PACKAGED_CLIPS) and all(path.is_file() for path in clips.values())


@pytest.mark.skipif(not all(_installed(p) for p, _ in PACKAGED_CLIPS.values()), reason="vidsim[demo] is not installed")
def test_demo_on_real_clips(tmp_path):
    out = tmp_path / "demo"
    run = subprocess.run([sys.executable, "-m", "vidsim", "demo", "--out", str(out), "--no-cache", "-q"],
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert "true copies rank far above the rest" in run.stdout
    assert f"report (open it in a browser): {out / 'report.html'}" in lines
    # each copy's best match is the clip it copies, decided a copy; the unindexed clip matches nothing
    for query, source in (("q1-city-crop", "city"), ("q2-bikes-reencode", "bikes"), ("q3-bunny-slow", "bigbuckbunny"),
                          ("q4-city-in-carphone", "city")):
        row = next(line for line in lines if line.startswith(query + " "))
        assert re.match(rf"{query} +{source} +{source} +0\.\d{{4}} +yes +\d\d:\d\d-\d\d:\d\d -> ", row), row
    rows = [(float(m.group(1)), m.group(2)) for m in map(re.compile(r" (\d\.\d{4})  (yes|no)\b").search, lines) if m]
    assert len(rows) == 5 * 3 and sorted(decision for _, decision in rows).count("yes") == 4
    copies = [score for score, decision in rows if decision == "yes"]
    assert min(copies) > max(score for score, decision in rows if decision == "no") + 0.2
    splice = next(line for line in lines if line.startswith("q4-city-in-carphone "))
    q0, q1, r0, r1 = (int(m) for m in re.search(r"00:(\d\d)-00:(\d\d) -> 00:(\d\d)-00:(\d\d)", splice).groups())
    assert abs(q0 - 2) <= 1 and abs(q1 - 6) <= 1 and abs(r0 - 2) <= 1 and abs(r1 - 6) <= 1
    page = (out / "report.html").read_text(encoding="utf-8")
    assert page.count('<section class="query"') == 5 and page.count('class="badge copy"') >= 8
