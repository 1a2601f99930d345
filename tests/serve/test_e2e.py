"""`vidsim serve` end to end: the command line starts a real uvicorn on 127.0.0.1 in a subprocess,
a client searches, adds, polls, lists and removes over HTTP, and Ctrl-C stops it cleanly."""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("fastapi", reason="vidsim serve needs the vidsim[serve] extra (FastAPI)")
pytest.importorskip("uvicorn", reason="vidsim serve needs the vidsim[serve] extra (uvicorn)")
httpx = pytest.importorskip("httpx", reason="the end-to-end test talks HTTP with httpx (the test extra)")

SRC = Path(__file__).resolve().parents[2] / "src"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_up(process: subprocess.Popen, url: str, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"vidsim serve exited with {process.returncode}: {process.stderr.read()}")
        try:
            if httpx.get(url + "/healthz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    raise AssertionError("vidsim serve did not answer /healthz in time")


def test_a_real_server_on_loopback(tmp_path, base_index, serve_clips, api_keys):
    directory = tmp_path / "idx"
    shutil.copytree(base_index, directory)
    keys_file, keys = api_keys
    spool = tmp_path / "spool"
    spool.mkdir()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")])}
    process = subprocess.Popen(
        [sys.executable, "-m", "vidsim", "serve", "--index", str(directory), "--port", str(port), "--api-keys",
         str(keys_file), "--allow-root", str(serve_clips["videos"]), "--max-searches", "1", "--add-wait", "0",
         "--spool-dir", str(spool)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        wait_until_up(process, url)
        assert httpx.get(url + "/v1/videos").status_code == 401
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {keys[0]}"}, timeout=120) as client:
            with serve_clips["copy"].open("rb") as fh:
                found = client.post("/v1/search", files={"file": ("copy_of_a.mp4", fh, "video/mp4")},
                                    params={"top_k": 2})
            assert found.status_code == 200, found.text
            assert found.json()["results"][0]["path"] == str(serve_clips["a"])
            assert found.json()["results"][0]["is_copy"] is True
            added = client.post("/v1/videos", json={"path": str(serve_clips["c"])})
            assert added.status_code == 202  # --add-wait 0: always a job
            job = added.json()
            deadline = time.monotonic() + 120
            while job["status"] in ("queued", "running") and time.monotonic() < deadline:
                time.sleep(0.3)
                job = client.get(added.headers["location"]).json()
            assert job["status"] == "done", job
            new_id = job["result"]["added"][0]["id"]
            assert client.get("/v1/videos").json()["total"] == 3
            assert client.get(f"/v1/videos/{new_id}").json()["path"] == str(serve_clips["c"])
            assert client.get("/v1/stats").json()["videos"] == 3
            assert client.delete(f"/v1/videos/{new_id}").status_code in (200, 202)
            assert client.post("/v1/search", json={"path": str(serve_clips["secret"])}).status_code == 403
    finally:
        process.send_signal(signal.SIGINT)
        try:
            _, err = process.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            _, err = process.communicate()
    assert process.returncode == 0, err
    assert "Uvicorn running on" in err and "vidsim serve: index" in err
    assert list(spool.iterdir()) == []  # the private upload directory went with the server
