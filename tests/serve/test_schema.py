"""schemathesis (property-based requests generated from the OpenAPI schema) finds no 500 in any
route of `vidsim serve`, with and without a valid key; a few examples per route keep it short."""
from __future__ import annotations

import shutil

import pytest

pytest.importorskip("fastapi", reason="vidsim serve needs the vidsim[serve] extra (FastAPI)")
pytest.importorskip("python_multipart", reason="vidsim serve needs the vidsim[serve] extra (python-multipart)")
schemathesis = pytest.importorskip("schemathesis", reason="the schema test needs schemathesis (the test extra)")

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402

KEY = "schemathesis-key-0123456789"


@pytest.fixture(scope="module")
def served(tmp_path_factory, base_index, serve_clips, serve_model, serve_cache):
    """The schema of a service over a throwaway copy of the index (generated requests may remove videos)."""
    from vidsim.index import Index
    from vidsim.serve.app import create_app
    from vidsim.serve.settings import ServeSettings

    root = tmp_path_factory.mktemp("schema")
    directory = root / "idx"
    shutil.copytree(base_index, directory)
    keys = root / "keys.txt"
    keys.write_text(KEY + "\n")
    (root / "spool").mkdir()
    app = create_app(ServeSettings(directory, api_keys=keys, allow_roots=(serve_clips["queries"],), max_searches=1,
                                   add_wait_s=30, spool_dir=root / "spool", max_upload_mb=1),
                     open_index=lambda: Index.open(directory, model=serve_model, cache=serve_cache))
    return {"schema": schemathesis.openapi.from_asgi("/openapi.json", app), "app": app}


ROUTES = [("POST", "/v1/search"), ("POST", "/v1/videos"), ("GET", "/v1/videos"), ("GET", "/v1/videos/{video_id}"),
          ("DELETE", "/v1/videos/{video_id}"), ("GET", "/v1/jobs/{job_id}"), ("GET", "/v1/stats"), ("GET", "/healthz"),
          ("POST", "/v1/report"), ("GET", "/v1/report")]


def test_the_routes_tested_are_all_the_schema_has(served):
    found = {(op.ok().method.upper(), op.ok().path) for op in served["schema"].get_all_operations()}
    assert found == set(ROUTES)


@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_no_request_makes_a_server_error(served, method, path):
    from schemathesis import GenerationMode

    operation = served["schema"][path][method]
    cases = st.one_of(operation.as_strategy(GenerationMode.POSITIVE), operation.as_strategy(GenerationMode.NEGATIVE))

    @given(cases)
    @settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True, database=None)
    def check(case):
        case.call_and_validate(headers={"Authorization": f"Bearer {KEY}"}, checks=[not_a_server_error])
        case.call_and_validate(checks=[not_a_server_error])  # without a key: 401, never a 500

    check()
    assert served["app"].state.service.spool.files() == []
