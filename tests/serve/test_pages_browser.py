"""`/` in a real browser: headless Chromium (the system's, driven by playwright) loads the page
from a real `vidsim serve` with API keys, a real clip is uploaded through its form with a key,
and the match report it answers shows up with every image decoded and nothing fetched elsewhere."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys

import pytest

pytest.importorskip("fastapi", reason="vidsim serve needs the vidsim[serve] extra (FastAPI)")
pytest.importorskip("uvicorn", reason="vidsim serve needs the vidsim[serve] extra (uvicorn)")
pytest.importorskip("httpx", reason="the end-to-end test talks HTTP with httpx (the test extra)")

from test_e2e import SRC, free_port, wait_until_up  # noqa: E402


def _chromium() -> str | None:
    return os.environ.get("VIDSIM_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")


def test_upload_through_the_page_shows_the_report(tmp_path, base_index, serve_clips, api_keys):
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("playwright is not installed (pip install 'vidsim[browser]')")
    browser_path = _chromium()
    if browser_path is None:
        pytest.skip("no Chromium installed (Debian: apt-get install chromium; or set VIDSIM_CHROMIUM)")
    keys_file, keys = api_keys
    directory = tmp_path / "idx"
    shutil.copytree(base_index, directory)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")])}
    process = subprocess.Popen(
        [sys.executable, "-m", "vidsim", "serve", "--index", str(directory), "--port", str(port), "--api-keys",
         str(keys_file), "--max-searches", "1", "--spool-dir", str(tmp_path)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    requests: list[str] = []
    problems: list[str] = []
    try:
        wait_until_up(process, url)
        with sync_playwright() as driver:
            # --no-sandbox: CI runs as root, where Chromium's sandbox refuses to start
            browser = driver.chromium.launch(executable_path=browser_path, args=["--no-sandbox"])
            try:
                page = browser.new_page(viewport={"width": 1150, "height": 900})
                page.on("request", lambda request: requests.append(request.url))
                page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
                page.on("pageerror", lambda error: problems.append(str(error)))
                page.goto(url + "/", wait_until="load")
                page.set_input_files("input[name=file]", str(serve_clips["copy"]))
                page.fill("#key", "not-a-key")
                page.click("button[type=submit]")
                page.wait_for_selector("#status:has-text('error 401')", timeout=60_000)  # a wrong key: the detail shown
                page.fill("#key", keys[0])
                page.fill("input[name=top_k]", "2")
                with page.expect_navigation(url=lambda u: u.startswith("blob:"), wait_until="load", timeout=120_000):
                    page.click("button[type=submit]")
                images = page.evaluate("Array.from(document.images).map(i => [i.complete, i.naturalWidth, i.naturalHeight])")
                title = page.title()
                text = page.inner_text("body")
                page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
            finally:
                browser.close()
    finally:
        process.send_signal(signal.SIGINT)
        try:
            _, err = process.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            _, err = process.communicate()
    assert process.returncode == 0, err
    assert keys[0] not in err and "not-a-key" not in err  # keys stay out of the server's log
    assert title == "vidsim match report"
    assert "copy_of_a.mp4" in text and "2 matches" in text
    assert len(images) >= 5 and all(complete and width > 0 and height > 0 for complete, width, height in images), images
    assert not [p for p in problems if "401" not in p], problems  # the refused fetch logs its 401, nothing else
    assert {u.split("?")[0] for u in requests if not u.startswith(("data:", "blob:"))} == {url + "/", url + "/v1/report"}
