"""The pages people look at: `GET /` (a page to upload a query) and `GET /v1/report` (the HTML
match report of a search), issue 14 item 2, built on `vidsim report`. Their routes go on `router`,
which the app includes after the API; `deps.require_key` and `deps.service_of` give them the key
check and the `Service` (`Service.query` runs work on a reader index within a search slot;
`routes.received_video` reads the query video)."""
from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
