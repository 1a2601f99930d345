"""API keys (Bearer, every key accepted, anything else 401, /healthz open) and the refusal to listen
beyond loopback without them."""
from __future__ import annotations

import pytest

pytest.importorskip("fastapi", reason="vidsim serve needs the vidsim[serve] extra (FastAPI)")
pytest.importorskip("python_multipart", reason="vidsim serve needs the vidsim[serve] extra (python-multipart)")

from fastapi.testclient import TestClient  # noqa: E402

from vidsim.cli.main import main  # noqa: E402
from vidsim.errors import ConfigError  # noqa: E402
from vidsim.serve.auth import ApiKeys, check_bind, is_loopback  # noqa: E402


def test_every_v1_route_needs_a_valid_key(make_app, base_index, api_keys, serve_clips):
    keys_file, keys = api_keys
    app = make_app(base_index, api_keys=keys_file)
    routes = [("get", "/v1/videos"), ("get", "/v1/videos/1"), ("get", "/v1/stats"), ("get", "/v1/jobs/abc"),
              ("delete", "/v1/videos/1"), ("post", "/v1/search"), ("post", "/v1/videos")]
    with TestClient(app) as client:
        assert client.get("/healthz").status_code == 200  # open: for load balancers
        for method, route in routes:
            for headers in ({}, {"Authorization": "Bearer wrong-key-wrong-key"}, {"Authorization": keys[0]},
                            {"Authorization": f"Basic {keys[0]}"}, {"Authorization": f"Bearer {keys[0]}x"},
                            {"Authorization": "Bearer "}):
                answer = client.request(method, route, headers=headers, json={"path": str(serve_clips["copy"])})
                assert answer.status_code == 401, (method, route, headers)
                assert answer.headers["www-authenticate"] == "Bearer"
        assert app.state.service.spool.files() == []
        for key in keys:  # each key of the file works
            answer = client.post("/v1/search", headers={"Authorization": f"Bearer {key}"},
                                 json={"path": str(serve_clips["copy"])})
            assert answer.status_code == 200 and answer.json()["results"][0]["path"] == str(serve_clips["a"])
        assert client.get("/v1/videos", headers={"authorization": f"bearer {keys[1]}"}).json()["total"] == 2


def test_keys_files_are_checked(tmp_path):
    with pytest.raises(ConfigError, match="no such API keys file"):
        ApiKeys.read(tmp_path / "absent.txt")
    empty = tmp_path / "empty.txt"
    empty.write_text("# only a comment\n\n")
    with pytest.raises(ConfigError, match="no API key"):
        ApiKeys.read(empty)
    short = tmp_path / "short.txt"
    short.write_text("a-long-enough-key-0123\nshort\n")
    with pytest.raises(ConfigError, match="key 2 is shorter than 16"):
        ApiKeys.read(short)
    keys = tmp_path / "keys.txt"
    keys.write_text("first-key-0123456789\n")
    accepted = ApiKeys.read(keys)
    assert accepted.accepts("Bearer first-key-0123456789")
    assert not accepted.accepts("Bearer first-key-012345678")
    assert not accepted.accepts(None) and not accepted.accepts("")


def test_no_keys_means_loopback_only(tmp_path, base_index, capsys):
    for host in ("127.0.0.1", "::1", "localhost", "127.0.0.2"):
        assert is_loopback(host)
        check_bind(host, None)
    for host in ("0.0.0.0", "::", "192.168.1.10", "example.org"):
        assert not is_loopback(host)
        with pytest.raises(ConfigError, match="without API keys"):
            check_bind(host, None)
    keys = tmp_path / "keys.txt"
    keys.write_text("a-key-of-enough-length\n")
    check_bind("0.0.0.0", ApiKeys.read(keys))
    # the command line says so in one line, before anything listens
    code = main(["serve", "--index", str(base_index), "--host", "0.0.0.0", "--port", "0"])
    err = capsys.readouterr().err
    assert code == 1 and err.startswith("error: --host 0.0.0.0: refusing to listen") and "--api-keys" in err
    code = main(["serve", "--index", str(tmp_path / "nothing"), "--port", "0"])
    err = capsys.readouterr().err
    assert code == 1 and "no vidsim index here" in err and "--create" in err
