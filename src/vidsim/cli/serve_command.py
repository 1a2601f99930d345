"""`vidsim serve`: the index over HTTP (registered by vidsim.cli.main; needs the `vidsim[serve]` extra)."""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from vidsim.errors import VidsimError

EXIT_OK = 0


def register(sub: Any) -> None:
    p = sub.add_parser("serve", help="serve an index over HTTP: search, add, remove, list (FastAPI; API docs at /docs)")
    p.add_argument("--index", required=True, metavar="DIR", help="index directory")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default: %(default)s); anything beyond loopback needs --api-keys")
    p.add_argument("--port", type=int, default=8000, metavar="PORT", help="port (default: %(default)s)")
    p.add_argument("--api-keys", metavar="FILE",
                   help="file of API keys, one per line (16 characters or more); every /v1 request must send "
                        "`Authorization: Bearer KEY` (default: no keys, and only 127.0.0.1 / ::1 may listen)")
    p.add_argument("--max-upload-mb", type=float, default=512.0, metavar="MB",
                   help="largest upload, refused (413) as soon as it streams past this (default: %(default)g)")
    p.add_argument("--allow-root", action="append", default=[], metavar="DIR",
                   help="a directory whose files requests may name by path (repeatable; default: none, uploads only)")
    p.add_argument("--max-searches", type=int, metavar="N", help="searches run at once (default: the CPUs available)")
    p.add_argument("--search-queue", type=int, metavar="M",
                   help="searches waiting for a slot before more are refused with 503 (default: 2 x --max-searches)")
    p.add_argument("--add-wait", type=float, default=5.0, metavar="SECONDS",
                   help="an add or remove finished within this answers at once, else 202 and a job to poll "
                        "(default: %(default)g)")
    p.add_argument("--create", action="store_true", help="create an empty index in DIR if it holds none")
    p.add_argument("--spool-dir", metavar="DIR",
                   help="where the private upload directory is made (default: the system's temporary directory)")
    p.set_defaults(func=cmd_serve)


def cmd_serve(args: argparse.Namespace) -> int:
    try:
        import fastapi  # noqa: F401
        import python_multipart  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as exc:
        raise VidsimError(f"vidsim serve needs FastAPI and uvicorn ({exc.name} is missing): "
                          "pip install 'vidsim[serve]'") from None
    from vidsim.serve.run import serve
    from vidsim.serve.settings import ServeSettings

    options: dict[str, Any] = {}
    if args.max_searches is not None:
        options["max_searches"] = args.max_searches
    settings = ServeSettings(
        Path(args.index), host=args.host, port=args.port, api_keys=Path(args.api_keys) if args.api_keys else None,
        max_upload_mb=args.max_upload_mb, allow_roots=tuple(Path(r) for r in args.allow_root),
        search_queue=args.search_queue, add_wait_s=args.add_wait, create=args.create,
        spool_dir=Path(args.spool_dir) if args.spool_dir else None, **options)
    try:
        serve(settings)
    except KeyboardInterrupt:  # Ctrl-C is how a server is stopped: uvicorn has shut down cleanly
        pass
    return EXIT_OK
