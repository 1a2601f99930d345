"""The report in a real browser: headless Chromium (the system's, driven by playwright) loads the
page, decodes every image, fetches nothing, and a screenshot is taken."""
from __future__ import annotations

import io
import os
import shutil

import numpy as np
import pytest

from vidsim.report import render_html


def _chromium() -> str | None:
    return os.environ.get("VIDSIM_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")


def test_report_renders_in_chromium(partial_report, tmp_path):
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("playwright is not installed (pip install 'vidsim[browser]')")
    browser_path = _chromium()
    if browser_path is None:
        pytest.skip("no Chromium installed (Debian: apt-get install chromium; or set VIDSIM_CHROMIUM)")
    from PIL import Image

    page_file = tmp_path / "report.html"
    page_file.write_text(render_html([partial_report]), encoding="utf-8")
    expected = sum(1 + sum((t.query_image is not None) + (t.ref_image is not None) for s in view.strips for t in s.thumbs)
                   for view in partial_report.details)
    requests: list[str] = []
    problems: list[str] = []
    with sync_playwright() as driver:
        # --no-sandbox: CI runs as root, where Chromium's sandbox refuses to start
        browser = driver.chromium.launch(executable_path=browser_path, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1150, "height": 900})
            page.on("request", lambda request: requests.append(request.url))
            page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
            page.on("pageerror", lambda error: problems.append(str(error)))
            page.goto(page_file.as_uri(), wait_until="load")
            images = page.evaluate("Array.from(document.images).map(i => [i.complete, i.naturalWidth, i.naturalHeight])")
            timelines = page.evaluate("Array.from(document.querySelectorAll('svg.timeline'))"
                                      ".map(s => s.getBoundingClientRect().width)")
            title = page.title()
            screenshot = page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
        finally:
            browser.close()
    assert len(images) == expected and expected >= 10
    assert all(complete and width > 0 and height > 0 for complete, width, height in images), images
    assert len(timelines) == len(partial_report.details) and min(timelines) > 300
    assert title == "vidsim match report"
    assert not problems, problems
    assert [url for url in requests if not url.startswith("data:")] == [page_file.as_uri()]  # nothing else loaded
    shot = np.asarray(Image.open(io.BytesIO(screenshot)).convert("RGB"))
    assert shot.shape[1] == 1150 and shot.shape[0] > 900 and shot.std() > 20
