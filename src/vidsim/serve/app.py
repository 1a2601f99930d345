"""`create_app`: the FastAPI application of `vidsim serve` (routes in `routes` and `pages`, the
work in `Service`); the OpenAPI schema at /openapi.json, browsable at /docs."""
from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from vidsim import __version__
from vidsim.serve import errors, pages, routes
from vidsim.serve.auth import ApiKeys, check_bind
from vidsim.serve.service import Service
from vidsim.serve.settings import ServeSettings
from vidsim.serve.workers import IndexOpener

DESCRIPTION = """Find copies of videos in a vidsim index over HTTP.

Every /v1 route needs `Authorization: Bearer KEY` when the service was started with `--api-keys`.
A video is sent as a multipart upload (field `file`) or named by JSON `{"path": ...}` under an
allowed root (`--allow-root`). Errors answer `{"detail": "..."}` with vidsim's message."""


def create_app(settings: ServeSettings, *, open_index: IndexOpener | None = None) -> FastAPI:
    """The application serving `settings.index` (ConfigError for settings.host beyond loopback
    without API keys); `open_index` opens the index for each of the service's threads (default:
    the index's own configuration)."""
    keys = ApiKeys.read(settings.api_keys) if settings.api_keys is not None else None
    check_bind(settings.host, keys)
    service = Service(settings, keys, open_index)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        service.start()
        try:
            yield
        finally:
            service.close()

    app = FastAPI(title="vidsim", version=__version__, description=DESCRIPTION, lifespan=lifespan)
    app.state.service = service
    errors.install(app, settings.retry_after_s)
    app.include_router(routes.health)
    app.include_router(routes.api)
    app.include_router(pages.router)
    return app
