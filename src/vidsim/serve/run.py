"""Run the service under uvicorn until interrupted."""
from __future__ import annotations

import sys

from vidsim.serve.app import create_app
from vidsim.serve.settings import ServeSettings


def serve(settings: ServeSettings, log_level: str = "info") -> None:
    import uvicorn

    app = create_app(settings)
    service = app.state.service
    keys = f"API keys from {settings.api_keys}" if settings.api_keys else "no API keys (this machine only)"
    roots = ", ".join(str(r) for r in service.roots.roots) or "none (uploads only)"
    print(f"vidsim serve: index {settings.index}; {keys}; paths under: {roots}; uploads up to "
          f"{settings.max_upload_mb:g} MB; {settings.max_searches} searches at once; API docs at /docs",
          file=sys.stderr, flush=True)
    config = uvicorn.Config(app, host=settings.host, port=settings.port, log_level=log_level,
                            timeout_graceful_shutdown=10)
    uvicorn.Server(config).run()
