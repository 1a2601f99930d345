"""The pages people look at (issue 14 item 2): the HTML match report of a search, and `/`, a page
to upload a query and see that report.

- `POST /v1/report` takes exactly the body of `POST /v1/search` (a multipart upload, field `file`,
  or JSON `{"path": ...}`) and the same `top_k` / `candidates`, and answers the page `vidsim report`
  writes (text/html). It is a POST because an upload is a body; it goes through the search's own
  code (`routes.answer_query`), so keys, limits, 403/413/415/422/503 and the spool are the same.
- `GET /v1/report?path=...` is the same report for a file under an allowed root: a URL to open or
  link (no key needed where the service has none). A path is not a secret; keys never go in URLs.
- `/` needs no key (it holds no data): a form whose small inline script (allowed by its hash in the
  Content-Security-Policy, nothing else may load) sends the file to `POST /v1/report` with the key
  typed into the page as `Authorization: Bearer KEY`, the header every /v1 route reads, so there is
  one way to authenticate and the key never lands in a URL, a form body or a log. It is kept in no
  storage. The report answered is shown as the page (a blob: URL); an error shows its `detail`.
  Without JavaScript the form still posts the file (the default top_k), which works without keys.

Both answers carry a Content-Security-Policy header, the report's own as well as its <meta>."""
from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from html import escape
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse

from vidsim.serve.deps import require_key, service_of
from vidsim.serve.routes import ERRORS, QUERY_ERRORS, Candidates, TopK, answer_query
from vidsim.serve.service import Service
from vidsim.serve.uploads import VIDEO_BODY, Received

REPORT_TOP_K = 5  # as `vidsim report --top`
PATH_LIMIT = 4096  # characters of a ?path=

router = APIRouter()
PATH_ERRORS: dict[int | str, dict[str, Any]] = {**ERRORS, **{k: QUERY_ERRORS[k] for k in (403, 503)}}

SCRIPT = """
const form = document.getElementById("query"), status = document.getElementById("status");
form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const file = form.elements.file.files[0];
  if (!file) { status.textContent = "choose a video first"; return; }
  const body = new FormData();
  body.append("file", file, file.name);
  const headers = {}, key = document.getElementById("key");
  if (key) headers["Authorization"] = "Bearer " + key.value.trim();
  const button = form.querySelector("button");
  button.disabled = true;
  status.textContent = "uploading " + file.name + " and searching (a long video takes a while)...";
  try {
    const answer = await fetch("/v1/report?top_k=" + encodeURIComponent(form.elements.top_k.value),
                               {method: "POST", headers: headers, body: body});
    if (!answer.ok) {
      let detail = answer.statusText;
      try { detail = (await answer.json()).detail; } catch (error) {}
      status.textContent = "error " + answer.status + ": " + (typeof detail === "string" ? detail : JSON.stringify(detail));
      return;
    }
    location.assign(URL.createObjectURL(await answer.blob()));
  } catch (error) {
    status.textContent = "the service could not be reached: " + error;
  } finally {
    button.disabled = false;
  }
});
"""
SCRIPT_HASH = base64.b64encode(hashlib.sha256(SCRIPT.encode()).digest()).decode("ascii")
# the report (shown from a blob: URL made here) inherits this policy: its inline images and style are allowed
PAGE_CSP = (f"default-src 'none'; script-src 'sha256-{SCRIPT_HASH}'; connect-src 'self'; img-src data:; "
            "style-src 'unsafe-inline'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
STYLE = """
body { font: 15px/1.5 system-ui, sans-serif; margin: 40px auto; max-width: 640px; padding: 0 20px; color: #222; }
h1 { font-size: 22px; } form { display: grid; gap: 12px; margin: 20px 0; } label { display: grid; gap: 4px; }
input { font: inherit; } button { font: inherit; padding: 6px 16px; justify-self: start; }
#status { color: #8a5a00; min-height: 1.5em; } .muted { color: #666; font-size: 13px; }
"""


def _headers(csp: str) -> dict[str, str]:
    return {"Content-Security-Policy": csp, "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
            "Cache-Control": "no-store"}


def upload_page(keys: bool, max_upload_mb: float) -> str:
    """The page of `/`: a key field only when the service has keys."""
    key = ('<label>API key <input type="password" id="key" autocomplete="off" required '
           'placeholder="one of the service\'s keys (sent as Authorization: Bearer, never stored)"></label>'
           if keys else "")
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>vidsim</title><style>{STYLE}</style></head>\n<body>\n"
            "<h1>vidsim: find copies of a video</h1>\n"
            "<p>Upload a query video: the service searches its index and shows the match report (the copied "
            "segments side by side, timelines, frame-to-frame heatmaps, scores and decisions).</p>\n"
            '<form id="query" method="post" action="/v1/report" enctype="multipart/form-data">'
            f"{key}"
            f'<label>Query video (up to {escape(f"{max_upload_mb:g}")} MB) '
            '<input type="file" name="file" accept="video/*" required></label>'
            f'<label>Matches listed <input type="number" name="top_k" value="{REPORT_TOP_K}" min="1" max="1000">'
            "</label><button type=\"submit\">Find copies</button></form>\n"
            '<p id="status" role="status"></p>\n'
            '<p class="muted">API: <a href="/docs">/docs</a>. <code>POST /v1/report</code> answers this report for '
            "an upload, <code>POST /v1/search</code> the JSON.</p>\n"
            f"<script>{SCRIPT}</script>\n</body></html>\n")


@router.get("/", include_in_schema=False)
def index_page(request: Request) -> HTMLResponse:
    settings = service_of(request).settings
    return HTMLResponse(upload_page(service_of(request).keys is not None, settings.max_upload_mb),
                        headers=_headers(PAGE_CSP))


def _report(top_k: int, candidates: int | None) -> Callable[[Service, Received], str]:
    """The report of a query video, made on a reader within a search slot (`Service.query`)."""

    def work(service: Service, received: Received) -> str:
        from vidsim.report import report_html

        return service.query(received, lambda index: report_html(index, received.path, name=received.label,
                                                                 top_k=top_k, candidates=candidates))

    return work


def _answer(page: str) -> HTMLResponse:
    from vidsim.report.html import CSP

    return HTMLResponse(page, headers=_headers(CSP + "; frame-ancestors 'none'"))


@router.post("/v1/report", summary="the HTML match report of a search (as `vidsim report`) for a query video",
             response_class=HTMLResponse, dependencies=[Depends(require_key)], openapi_extra=VIDEO_BODY,
             responses=QUERY_ERRORS)
async def report(request: Request, top_k: TopK = REPORT_TOP_K, candidates: Candidates = None) -> HTMLResponse:
    """The query as for /v1/search: a multipart upload (field `file`) or JSON `{"path": ...}`. The
    answer is one self-contained page (images inline, nothing fetched); errors are JSON `{"detail"}`."""
    return _answer(await answer_query(request, _report(top_k, candidates)))


@router.get("/v1/report", summary="the HTML match report of a search for a file under an allowed root",
            response_class=HTMLResponse, dependencies=[Depends(require_key)], responses=PATH_ERRORS)
async def report_of_path(request: Request,
                         path: Annotated[str, Query(min_length=1, max_length=PATH_LIMIT, description=(
                             "absolute path of a video under an allowed root (--allow-root)"))],
                         top_k: TopK = REPORT_TOP_K, candidates: Candidates = None) -> HTMLResponse:
    return _answer(await answer_query(request, _report(top_k, candidates), path=path))
