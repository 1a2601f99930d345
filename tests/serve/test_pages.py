"""The service's pages through FastAPI's test client: the HTML report of a search (POST with the
body of /v1/search, GET for a path) with the search's keys, limits and errors, and `/`."""
from __future__ import annotations

import base64
import hashlib
import re

import pytest

pytest.importorskip("fastapi", reason="vidsim serve needs the vidsim[serve] extra (FastAPI)")
pytest.importorskip("python_multipart", reason="vidsim serve needs the vidsim[serve] extra (python-multipart)")

from fastapi.testclient import TestClient  # noqa: E402


def _upload(path, name=None):
    return {"file": (name or path.name, path.read_bytes(), "video/mp4")}


def _images(page: str) -> list[bytes]:
    return [base64.b64decode(data) for data in re.findall(r'src="data:image/(?:jpeg|png);base64,([^"]+)"', page)]


def test_the_report_by_upload_by_path_and_by_json_with_keys(make_app, base_index, serve_clips, api_keys):
    keys_file, keys = api_keys
    app = make_app(base_index, api_keys=keys_file)
    auth = {"Authorization": f"Bearer {keys[1]}"}
    with TestClient(app) as client:
        assert client.post("/v1/report", files=_upload(serve_clips["copy"])).status_code == 401
        assert client.get("/v1/report", params={"path": str(serve_clips["copy"])}).status_code == 401
        assert client.post("/v1/report", files=_upload(serve_clips["copy"]),
                           headers={"Authorization": "Bearer not-a-key"}).status_code == 401
        answer = client.post("/v1/report", files=_upload(serve_clips["copy"], "their upload.mp4"), params={"top_k": 2},
                             headers=auth)
        assert answer.status_code == 200, answer.text
        assert answer.headers["content-type"].startswith("text/html")
        assert "default-src 'none'" in answer.headers["content-security-policy"]
        assert answer.headers["cache-control"] == "no-store"
        page = answer.text
        assert "their upload.mp4" in page and str(app.state.service.spool.directory) not in page
        assert page.count('<tr><td class="num">') == 2  # top_k rows
        assert 'badge copy' in page and str(serve_clips["a"]) in page  # the copy of a, decided a copy
        images = _images(page)
        assert len(images) >= 5 and all(i.startswith((b"\xff\xd8", b"\x89PNG")) for i in images)
        assert app.state.service.spool.files() == []
        by_path = client.get("/v1/report", params={"path": str(serve_clips["copy"]), "top_k": 1}, headers=auth)
        assert by_path.status_code == 200 and str(serve_clips["copy"]) in by_path.text
        assert by_path.text.count('<tr><td class="num">') == 1
        by_json = client.post("/v1/report", json={"path": str(serve_clips["copy"])}, headers=auth)
        assert by_json.status_code == 200 and 'badge copy' in by_json.text


def test_report_errors_are_the_searchs(make_app, base_index, serve_clips):
    app = make_app(base_index, search_queue=0)
    videos = serve_clips["videos"]
    with TestClient(app) as client:
        def get(path, **params):
            return client.get("/v1/report", params={"path": str(path), **params})

        assert get(serve_clips["secret"]).status_code == 403
        assert get(f"{videos}/../outside/secret.mp4").status_code == 403
        assert client.post("/v1/report", json={"path": str(serve_clips["secret"])}).status_code == 403
        assert get(videos / "absent.mp4").status_code == 404
        assert get("videos/a.mp4").status_code == 422  # relative
        assert get(videos).status_code == 422  # a directory
        assert get(videos / ("x" * 300 + ".mp4")).status_code == 422  # a name too long: not a 500
        assert client.post("/v1/search", json={"path": str(videos / ("x" * 300 + ".mp4"))}).status_code == 422
        assert client.get("/v1/report").status_code == 422  # no path
        assert get(serve_clips["copy"], top_k=0).status_code == 422
        not_video = client.post("/v1/report", files=_upload(serve_clips["text"], "notes.mp4"))
        assert not_video.status_code == 422 and not_video.json()["detail"].startswith("notes.mp4: ")
        assert client.post("/v1/report", content=b"hi", headers={"content-type": "text/plain"}).status_code == 415
        assert client.post("/v1/report", files={"other": ("a.txt", b"abc")}).status_code == 422
        service = app.state.service
        with service.limiter.slot():  # the one search slot taken (max_searches=1), no queue: refused at once
            busy = client.post("/v1/report", files=_upload(serve_clips["copy"]))
            assert busy.status_code == 503 and busy.headers["retry-after"] == str(service.settings.retry_after_s)
            assert get(serve_clips["copy"]).status_code == 503
        assert service.spool.files() == []
    small = make_app(base_index, max_upload_mb=0.02)
    with TestClient(small) as client:
        too_big = client.post("/v1/report", files=_upload(serve_clips["copy"]))
        assert too_big.status_code == 413 and "--max-upload-mb" in too_big.json()["detail"]
        assert small.state.service.spool.files() == []


def test_the_upload_page_needs_no_key_and_loads_nothing(make_app, base_index, api_keys):
    keys_file, _ = api_keys
    with TestClient(make_app(base_index, api_keys=keys_file, max_upload_mb=64)) as client:
        answer = client.get("/")
        assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/html")
        page = answer.text
        assert 'id="key"' in page and 'type="password"' in page and 'name="file"' in page and "64 MB" in page
        assert 'name="key"' not in page  # the key goes in a header, never in the form's body
        csp = answer.headers["content-security-policy"]
        assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp
        script = re.search(r"<script>(.*?)</script>", page, re.S)
        assert script is not None
        digest = base64.b64encode(hashlib.sha256(script.group(1).encode()).digest()).decode()
        assert f"script-src 'sha256-{digest}'" in csp  # the inline script, and no other, may run
        assert not re.search(r'(src|href)="(https?:)?//', page)  # nothing from elsewhere
        assert "/" not in client.get("/openapi.json").json()["paths"]
    with TestClient(make_app(base_index)) as client:
        assert 'id="key"' not in client.get("/").text  # no keys: no key field
