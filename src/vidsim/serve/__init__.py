"""`vidsim serve`: the index over HTTP (FastAPI + uvicorn, the `vidsim[serve]` extra).

`settings` (what it was started with), `auth` (API keys, loopback without them), `roots` (paths
under allowed roots), `uploads` (streamed, size-limited, spooled privately), `limits` (searches at
once), `workers` (threads that own an Index each), `jobs` (the single writer's adds and removes),
`service` (the work), `errors` (vidsim's errors as HTTP answers), `routes` and `pages` (HTTP),
`app` (`create_app`), `run` (uvicorn). Nothing below the CLI imports this package."""

from vidsim.serve.app import create_app
from vidsim.serve.settings import ServeSettings

__all__ = ["ServeSettings", "create_app"]
