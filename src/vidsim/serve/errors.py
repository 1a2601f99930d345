"""vidsim's errors as HTTP answers: one status per kind of failure, the body `{"detail": message}`
with vidsim's one-line message (never a traceback)."""
from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from vidsim.errors import (
    ConfigMismatchError,
    IndexBusyError,
    IndexDamagedError,
    IndexWriteError,
    VideoError,
    VideoNotFoundError,
    VidsimError,
)
from vidsim.serve.limits import Busy
from vidsim.serve.roots import PathForbidden, PathInvalid
from vidsim.serve.service import UnknownJob, UnknownVideo
from vidsim.serve.uploads import BadBody, TooLarge, UnsupportedMedia

log = logging.getLogger("vidsim.serve")

# most specific first: the first class an error is an instance of gives its status
STATUS: tuple[tuple[type[BaseException], int], ...] = (
    (Busy, 503),
    (IndexBusyError, 409),
    (PathForbidden, 403),
    (TooLarge, 413),
    (UnsupportedMedia, 415),
    (UnknownVideo, 404),
    (UnknownJob, 404),
    (VideoNotFoundError, 404),
    (PathInvalid, 422),
    (BadBody, 422),
    (VideoError, 422),
    (ConfigMismatchError, 422),
    (IndexWriteError, 507),
    (IndexDamagedError, 503),
    (VidsimError, 422),
)


def status_of(exc: BaseException) -> int:
    return next(status for kind, status in STATUS if isinstance(exc, kind))


def error_response(exc: VidsimError, retry_after: int) -> JSONResponse:
    status = status_of(exc)
    headers = {}
    if isinstance(exc, Busy):
        headers["Retry-After"] = str(exc.retry_after)
    elif status in (409, 503):
        headers["Retry-After"] = str(retry_after)
    if status >= 500 and not isinstance(exc, Busy):
        log.warning("%s: %s", type(exc).__name__, exc)
    return JSONResponse({"detail": str(exc)}, status_code=status, headers=headers)


def install(app: FastAPI, retry_after: int) -> None:
    async def handle(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, VidsimError)
        return error_response(exc, retry_after)

    app.add_exception_handler(VidsimError, handle)
