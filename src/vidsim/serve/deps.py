"""FastAPI dependencies: the service of a request, and the API key every /v1 route (and the report
pages) asks for."""
from __future__ import annotations

from typing import Annotated

from fastapi import HTTPException, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from vidsim.serve.service import Service

bearer = HTTPBearer(auto_error=False, description="one of the keys of the service's --api-keys file")


def service_of(request: Request) -> Service:
    service: Service = request.app.state.service
    return service


def require_key(request: Request,
                credentials: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)] = None) -> None:
    """401 unless the request carries a valid key (nothing asked when the service runs without keys)."""
    keys = service_of(request).keys
    if keys is None:
        return
    if not keys.accepts(request.headers.get("authorization")):
        raise HTTPException(401, "a valid API key is needed: Authorization: Bearer KEY",
                            headers={"WWW-Authenticate": "Bearer"})
