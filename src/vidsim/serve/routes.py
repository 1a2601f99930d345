"""The HTTP routes: /healthz (open) and the /v1 API (an API key when the service has keys)."""
from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from vidsim import __version__
from vidsim.errors import VidsimError
from vidsim.serve.deps import require_key, service_of
from vidsim.serve.errors import error_response
from vidsim.serve.jobs import FAILED, Job
from vidsim.serve.service import Service
from vidsim.serve.uploads import VIDEO_BODY, Received, receive_video, received_path

T = TypeVar("T")
MAX_ID = (1 << 63) - 1  # SQLite's largest integer

# the parameters of a search, shared by /v1/search and the report pages
TopK = Annotated[int, Query(ge=1, le=1000, description="matches answered")]
Candidates = Annotated[int | None, Query(ge=1, le=1000, description=(
    "videos re-ranked with the fine similarity (default: the index's, 20; at least top_k)"))]

ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "no valid API key (Authorization: Bearer KEY)"},
    404: {"description": "no such video, job or file"},
    422: {"description": "not a video, or a malformed request; `detail` says which"},
}
BODY_ERRORS: dict[int | str, dict[str, Any]] = {
    **ERRORS,
    403: {"description": "a path outside every allowed root (--allow-root), through `..` or a symlink too"},
    413: {"description": "an upload over --max-upload-mb"},
    415: {"description": "a body neither multipart/form-data nor JSON"},
}
QUERY_ERRORS: dict[int | str, dict[str, Any]] = {
    **BODY_ERRORS, 503: {"description": "too many searches at once; retry after Retry-After seconds"}}
WRITE_ERRORS: dict[int | str, dict[str, Any]] = {
    202: {"description": "not finished yet: poll the job at its `url` (also the Location header)"},
    409: {"description": "another process is writing the index; retry after Retry-After seconds"},
}

health = APIRouter()
api = APIRouter(prefix="/v1", dependencies=[Depends(require_key)])


@health.get("/healthz", summary="liveness (no key needed)")
def healthz() -> dict[str, str]:
    return {"status": "ok", "version": __version__}


async def received_video(request: Request, service: Service) -> Received:
    settings = service.settings
    return await receive_video(request, service.spool, service.roots, settings.max_upload_bytes)


async def answer_query(request: Request, work: Callable[[Service, Received], T], path: str | None = None) -> T:
    """`work(service, query)` in a worker thread, for the query video of a search or a report: the
    request's body, or `path` (a file under an allowed root) when given. Refused (503) before an
    upload is read when the search queue is full; a spooled upload is removed however it ends."""
    service = service_of(request)
    service.limiter.check()
    received = received_path(service.roots, path) if path is not None else await received_video(request, service)
    try:
        return await run_in_threadpool(work, service, received)
    finally:
        received.discard()


@api.post("/search", summary="find indexed videos that share content with a query video",
          openapi_extra=VIDEO_BODY, responses=QUERY_ERRORS)
async def search(request: Request, top_k: TopK = 10, candidates: Candidates = None) -> dict[str, Any]:
    """The query: a multipart upload (field `file`) or JSON `{"path": ...}`. The answer is the
    JSON object `vidsim search --json` prints."""
    return await answer_query(request, lambda service, received: service.search(received, top_k, candidates))


@api.post("/videos", summary="add a video (an upload, or a file or directory under an allowed root)",
          openapi_extra=VIDEO_BODY, responses={**BODY_ERRORS, **WRITE_ERRORS})
async def add_video(request: Request) -> JSONResponse:
    """Answers the finished job (200) when the add ends within --add-wait seconds, else 202 with
    the job to poll at GET /v1/jobs/{id}. Content already indexed is skipped, not added twice."""
    service = service_of(request)
    received = await received_video(request, service)
    job = await run_in_threadpool(service.add, received)
    return await job_answer(service, job)


@api.get("/videos", summary="the indexed videos (as `vidsim index list --json`)", responses=ERRORS)
def list_videos(request: Request, offset: int = Query(0, ge=0, le=MAX_ID),
                limit: int | None = Query(None, ge=1, le=100_000)) -> dict[str, Any]:
    return service_of(request).videos(offset, limit)


@api.get("/videos/{video_id}", summary="one indexed video", responses=ERRORS)
def get_video(request: Request, video_id: int = Path(ge=1, le=MAX_ID)) -> dict[str, Any]:
    return service_of(request).video(video_id)


@api.delete("/videos/{video_id}", summary="remove an indexed video", responses={**ERRORS, **WRITE_ERRORS})
async def remove_video(request: Request, video_id: int = Path(ge=1, le=MAX_ID)) -> JSONResponse:
    service = service_of(request)
    await run_in_threadpool(service.video, video_id)  # 404 before a job is made
    return await job_answer(service, service.remove(video_id))


@api.get("/jobs/{job_id}", summary="an add or remove job", responses=ERRORS)
def get_job(request: Request, job_id: str = Path(max_length=64)) -> dict[str, Any]:
    return service_of(request).job(job_id).to_json()


@api.get("/stats", summary="videos, hours, frames, bytes on disk (as `vidsim index stats --json`), and load",
         responses=ERRORS)
def stats(request: Request) -> dict[str, Any]:
    return service_of(request).stats()


async def job_answer(service: Service, job: Job) -> JSONResponse:
    """The job when it ends within --add-wait (its error as vidsim's answer when it failed), else 202."""
    if not await run_in_threadpool(job.wait, service.settings.add_wait_s):
        return JSONResponse(job.to_json(), status_code=202, headers={"Location": f"/v1/jobs/{job.id}"})
    if job.status == FAILED:
        if isinstance(job.exception, VidsimError):
            return error_response(job.exception, service.settings.retry_after_s)
        return JSONResponse({"detail": job.error, "job": job.to_json()}, status_code=500)
    result = job.result or {}
    if result.get("failed") and not any(result.get(k) for k in ("added", "repaired", "skipped")):
        first = result["failed"][0]
        return JSONResponse({"detail": f"{first['path']}: {first['reason']}", "job": job.to_json()}, status_code=422)
    return JSONResponse(job.to_json())
