"""Each endpoint of `vidsim serve` and each of its errors, through FastAPI's test client, on a real
index of real encoded clips."""
from __future__ import annotations

import json
import os
import threading
import time

import pytest

pytest.importorskip("fastapi", reason="vidsim serve needs the vidsim[serve] extra (FastAPI)")
pytest.importorskip("python_multipart", reason="vidsim serve needs the vidsim[serve] extra (python-multipart)")

from fastapi.testclient import TestClient  # noqa: E402

from vidsim.cli.main import main  # noqa: E402
from vidsim.index.lock import WriteLock  # noqa: E402

SECONDS_FRAMES = 6  # frames of a 6-s clip at 1 fps


def _upload(path, name=None):
    return {"file": (name or path.name, path.read_bytes(), "video/mp4")}


def _spool_files(app):
    return app.state.service.spool.files()


def test_search_by_upload_finds_the_copy_and_answers_as_the_cli(make_app, base_index, serve_clips, capsys, tmp_path):
    app = make_app(base_index)
    with TestClient(app) as client:
        by_upload = client.post("/v1/search", files=_upload(serve_clips["copy"]))
        assert by_upload.status_code == 200, by_upload.text
        by_path = client.post("/v1/search", json={"path": str(serve_clips["copy"])})
        assert by_path.status_code == 200, by_path.text
        assert _spool_files(app) == []
    answer = by_upload.json()
    assert answer["query"] == "copy_of_a.mp4"  # the upload's name, never the spooled file's
    best = answer["results"][0]
    assert best["path"] == str(serve_clips["a"]) and best["is_copy"] is True
    assert best["similarity"] > answer["results"][1]["similarity"]
    assert best["segments"] and best["segments"][0]["ref_end"] > best["segments"][0]["ref_start"]
    # the same JSON object as `vidsim search --json`, for the query named by path
    code = main(["search", str(serve_clips["copy"]), "--index", str(base_index), "--json", "-q", "--no-cache"])
    assert code == 0
    cli = json.loads(capsys.readouterr().out)
    served = by_path.json()
    assert set(served) == set(cli) and served["query"] == cli["query"] == str(serve_clips["copy"])
    assert [r["id"] for r in served["results"]] == [r["id"] for r in cli["results"]]
    for mine, theirs in zip(served["results"], cli["results"]):
        assert mine["similarity"] == pytest.approx(theirs["similarity"], abs=1e-5)
        assert mine["is_copy"] == theirs["is_copy"] and mine["path"] == theirs["path"]
    assert served["threshold"] == cli["threshold"]
    assert by_upload.json()["results"][0]["similarity"] == pytest.approx(best["similarity"], abs=1e-6)


def test_search_parameters(make_app, base_index, serve_clips):
    with TestClient(make_app(base_index)) as client:
        one = client.post("/v1/search", json={"path": str(serve_clips["copy"])}, params={"top_k": 1, "candidates": 5})
        assert one.status_code == 200 and len(one.json()["results"]) == 1
        assert one.json()["results"][0]["path"] == str(serve_clips["a"])
        for bad in ({"top_k": 0}, {"top_k": "many"}, {"candidates": 0}, {"top_k": 10**6}):
            assert client.post("/v1/search", json={"path": str(serve_clips["copy"])}, params=bad).status_code == 422


def test_an_upload_that_is_not_a_video_gets_vidsims_message(make_app, base_index, serve_clips):
    app = make_app(base_index)
    with TestClient(app) as client:
        for route in ("/v1/search", "/v1/videos"):
            answer = client.post(route, files=_upload(serve_clips["text"], "notes.mp4"))
            assert answer.status_code == 422
            detail = answer.json()["detail"]
            assert detail.startswith("notes.mp4: ") and "media file" in detail  # vidsim's probe message
            assert str(app.state.service.spool.directory) not in detail
        assert _spool_files(app) == []
        assert len(client.get("/v1/videos").json()["videos"]) == 2


def test_bodies_that_name_no_video(make_app, base_index, serve_clips):
    app = make_app(base_index)
    with TestClient(app) as client:
        assert client.post("/v1/search", content=b"hello", headers={"content-type": "text/plain"}).status_code == 415
        assert client.post("/v1/search", content=b"{not json", headers={"content-type": "application/json"}
                           ).status_code == 422
        assert client.post("/v1/search", json={"paths": "x"}).status_code == 422
        assert client.post("/v1/search", json=["/a"]).status_code == 422
        no_file = client.post("/v1/search", files={"other": ("a.txt", b"abc")})
        assert no_file.status_code == 422 and "`file`" in no_file.json()["detail"]
        two = client.post("/v1/search", files=[("file", ("a.mp4", b"1")), ("file", ("b.mp4", b"2"))])
        assert two.status_code == 422
        cut = client.post("/v1/search", content=b"--XyZ\r\nContent-Disposition: form-data; name=\"file\"; "
                          b"filename=\"a.mp4\"\r\n\r\nabc", headers={"content-type": "multipart/form-data; boundary=XyZ"})
        assert cut.status_code == 422
        assert _spool_files(app) == []


def test_paths_outside_the_allowed_roots_are_forbidden(make_app, base_index, serve_clips, tmp_path):
    videos = serve_clips["videos"]
    link_out = videos / "link_out.mp4"
    link_in = serve_clips["queries"] / "link_in.mp4"
    link_dir = videos / "more" / "linked_dir"
    try:
        link_out.symlink_to(serve_clips["secret"])
        link_in.symlink_to(serve_clips["copy"])
        link_dir.symlink_to(serve_clips["outside"], target_is_directory=True)
        with TestClient(make_app(base_index)) as client:
            def search(path):
                return client.post("/v1/search", json={"path": str(path)})

            assert search(serve_clips["secret"]).status_code == 403
            assert search(f"{videos}/../outside/secret.mp4").status_code == 403  # through ..
            assert search(link_out).status_code == 403  # through a symlink
            assert search(link_dir / "secret.mp4").status_code == 403  # through a symlinked directory
            assert search("/etc/passwd").status_code == 403
            assert search(serve_clips["outside"] / "absent.mp4").status_code == 403  # existence not told
            assert search(f"{videos}/more/../a.mp4").status_code == 200  # .. that stays inside is fine
            assert search(link_in).status_code == 200  # a symlink to a file inside a root
            assert search("videos/a.mp4").status_code == 422  # relative
            assert search(videos / "absent.mp4").status_code == 404
            assert search(videos).status_code == 422  # a directory
            add = client.post("/v1/videos", json={"path": str(link_out)})
            assert add.status_code == 403
            assert len(client.get("/v1/videos").json()["videos"]) == 2
        with TestClient(make_app(base_index, allow_roots=())) as client:
            refused = client.post("/v1/search", json={"path": str(serve_clips["copy"])})
            assert refused.status_code == 403 and "--allow-root" in refused.json()["detail"]
    finally:
        for link in (link_out, link_in, link_dir):
            link.unlink(missing_ok=True)


def test_uploads_over_the_limit_get_413_while_they_stream(make_app, base_index, serve_clips):
    app = make_app(base_index, max_upload_mb=0.02)  # 20 KB: the clips are larger
    data = serve_clips["copy"].read_bytes()
    assert len(data) > 0.02 * (1 << 20)
    with TestClient(app) as client:
        declared = client.post("/v1/search", files=_upload(serve_clips["copy"]))
        assert declared.status_code == 413 and "--max-upload-mb" in declared.json()["detail"]
        boundary = "vidsimtest"
        head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.mp4\"\r\n"
                "Content-Type: video/mp4\r\n\r\n").encode()
        def chunks():  # no Content-Length: only counting the bytes as they come can stop it
            yield head
            for start in range(0, len(data), 4096):
                yield data[start:start + 4096]
            yield f"\r\n--{boundary}--\r\n".encode()

        streamed = client.post("/v1/videos", content=chunks(),
                               headers={"content-type": f"multipart/form-data; boundary={boundary}"})
        assert streamed.status_code == 413 and "--max-upload-mb" in streamed.json()["detail"]
        assert _spool_files(app) == []
        assert client.get("/v1/videos").json()["total"] == 2


def test_add_by_upload_path_and_directory_then_list_get_and_remove(make_app, index_dir, serve_clips):
    app = make_app(index_dir, add_wait_s=60)
    with TestClient(app) as client:
        added = client.post("/v1/videos", files=_upload(serve_clips["c"], "clip c.mp4"))
        assert added.status_code == 200, added.text
        job = added.json()
        assert job["status"] == "done" and job["kind"] == "add"
        record = job["result"]["added"][0]
        assert record["path"] == "upload:clip c.mp4" and record["name"] == "clip c" and record["frames"] == SECONDS_FRAMES
        assert _spool_files(app) == []
        again = client.post("/v1/videos", json={"path": str(serve_clips["c"])})  # the same content: skipped
        assert again.status_code == 200 and again.json()["result"]["skipped"]
        folder = client.post("/v1/videos", json={"path": str(serve_clips["videos"])})
        assert folder.status_code == 200 and len(folder.json()["result"]["skipped"]) == 3
        listed = client.get("/v1/videos").json()
        assert listed["total"] == 3 and [v["id"] for v in listed["videos"]] == [1, 2, 3]
        assert client.get("/v1/videos", params={"offset": 1, "limit": 1}).json()["videos"][0]["id"] == 2
        assert client.get(f"/v1/videos/{record['id']}").json() == record
        assert client.get("/v1/jobs/" + job["id"]).json()["status"] == "done"
        found = client.post("/v1/search", files=_upload(serve_clips["c"], "query.mp4")).json()["results"][0]
        assert found["id"] == record["id"] and found["path"] == "upload:clip c.mp4"
        removed = client.delete(f"/v1/videos/{record['id']}")
        assert removed.status_code == 200 and removed.json()["result"]["removed"][0]["id"] == record["id"]
        assert client.get(f"/v1/videos/{record['id']}").status_code == 404
        assert client.delete(f"/v1/videos/{record['id']}").status_code == 404
        after = client.post("/v1/search", json={"path": str(serve_clips["c"])}).json()["results"]
        assert record["id"] not in [r["id"] for r in after]
        stats = client.get("/v1/stats").json()
        assert stats["videos"] == 2 and stats["frames"] == 2 * SECONDS_FRAMES and stats["codes"].startswith("int8")
        assert stats["service"]["jobs_pending"] == 0



def test_a_long_add_answers_202_with_a_job_to_poll(make_app, index_dir, serve_clips):
    app = make_app(index_dir, add_wait_s=0)
    with TestClient(app) as client:
        answer = client.post("/v1/videos", files=_upload(serve_clips["c"]))
        assert answer.status_code == 202
        job = answer.json()
        assert answer.headers["location"] == f"/v1/jobs/{job['id']}" == job["url"]
        assert job["status"] in ("queued", "running")
        deadline = time.monotonic() + 60
        while job["status"] in ("queued", "running") and time.monotonic() < deadline:
            time.sleep(0.2)
            job = client.get(job["url"]).json()
        assert job["status"] == "done" and job["result"]["added"][0]["name"] == "c"
        assert job["progress"]["videos_done"] == job["progress"]["videos_total"] == 1
        assert _spool_files(app) == []
        assert client.get("/v1/jobs/" + "0" * 32).status_code == 404
        assert client.get("/v1/videos").json()["total"] == 3


def test_unknown_ids(make_app, base_index):
    with TestClient(make_app(base_index)) as client:
        assert client.get("/v1/videos/999").status_code == 404
        assert client.get("/v1/videos/0").status_code == 422
        assert client.get(f"/v1/videos/{1 << 70}").status_code == 422
        assert client.delete("/v1/videos/999").status_code == 404


def test_searches_beyond_the_bound_get_503_with_retry_after(make_app, base_index, serve_clips, serve_model,
                                                           serve_cache):
    from vidsim.index import Index

    release, entered = threading.Event(), threading.Event()

    def open_held():
        index = Index.open(base_index, model=serve_model, cache=serve_cache)
        search = index.search

        def held(*args, **kwargs):
            entered.set()
            assert release.wait(30)
            return search(*args, **kwargs)

        index.search = held  # type: ignore[method-assign]
        return index

    app = make_app(base_index, open_index=open_held, max_searches=1, search_queue=0, retry_after_s=7)
    with TestClient(app) as client:
        first: dict = {}
        worker = threading.Thread(target=lambda: first.update(answer=client.post(
            "/v1/search", json={"path": str(serve_clips["copy"])})))
        worker.start()
        try:
            assert entered.wait(30)
            busy = client.post("/v1/search", files=_upload(serve_clips["copy"]))
            assert busy.status_code == 503 and busy.headers["retry-after"] == "7"
            assert "searches running" in busy.json()["detail"]
            assert client.get("/v1/stats").json()["service"]["searches_admitted"] == 1
        finally:
            release.set()
            worker.join(60)
        assert first["answer"].status_code == 200
        assert client.post("/v1/search", json={"path": str(serve_clips["copy"])}).status_code == 200
        assert _spool_files(app) == []


def test_writes_go_through_the_index_write_lock(make_app, index_dir, serve_clips):
    with TestClient(make_app(index_dir, retry_after_s=3)) as client:
        with WriteLock(index_dir):  # another writer (`vidsim index add` in another process) holds the index
            busy = client.delete("/v1/videos/1")
            assert busy.status_code == 409 and busy.headers["retry-after"] == "3"
            assert "another process" in busy.json()["detail"]
            add = client.post("/v1/videos", json={"path": str(serve_clips["c"])})
            assert add.status_code == 409
        assert client.delete("/v1/videos/1").status_code == 200
        assert client.get("/v1/videos").json()["total"] == 1


def test_healthz_and_the_schema(make_app, base_index):
    app = make_app(base_index)
    with TestClient(app) as client:
        spool = app.state.service.spool.directory
        assert spool.is_dir() and (os.stat(spool).st_mode & 0o777) == 0o700  # private
        assert client.get("/healthz").json()["status"] == "ok"
        schema = client.get("/openapi.json").json()
        assert {"/v1/search", "/v1/videos", "/v1/videos/{video_id}", "/v1/jobs/{job_id}", "/v1/stats",
                "/healthz"} <= set(schema["paths"])
        body = schema["paths"]["/v1/search"]["post"]["requestBody"]["content"]
        assert set(body) == {"multipart/form-data", "application/json"}
        assert client.get("/docs").status_code == 200
    assert not spool.exists()  # removed when the service stops


def test_create_starts_with_an_empty_index(tmp_path):
    from vidsim.serve import ServeSettings, create_app

    directory = tmp_path / "new-index"
    with TestClient(create_app(ServeSettings(directory, create=True, spool_dir=tmp_path))) as client:
        assert client.get("/v1/videos").json()["total"] == 0
        assert client.get("/v1/stats").json()["videos"] == 0
    assert (directory / "config.json").is_file()
