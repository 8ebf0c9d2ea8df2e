"""How the sandbox answers errors: GitHub's JSON error bodies, 404 for unknown paths, 301 for moved issues."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from sandbox.context import JSON_MEDIA_TYPE, JSONResponse, error_response
from sandbox.shapes import DOCS
from sandbox.state import SandboxError


class Moved(SandboxError):
    """A 301 answer for a transferred issue."""

    def __init__(self, location: str) -> None:
        super().__init__(
            301, "Moved Permanently", url=location, documentation_url="https://docs.github.com/v3/#http-redirects"
        )
        self.location = location


async def sandbox_error(request: Request, exc: SandboxError) -> JSONResponse:
    """A `SandboxError` raised anywhere below a route, as GitHub's error body."""
    body = dict(exc.body)
    body.setdefault("documentation_url", DOCS)
    body["status"] = str(exc.status)
    return JSONResponse(body, status_code=exc.status, media_type=JSON_MEDIA_TYPE)


async def moved(request: Request, exc: Moved) -> JSONResponse:
    """301 with a Location header (the body is GitHub's, without a status field)."""
    return JSONResponse(exc.body, status_code=301, headers={"Location": exc.location})


async def not_found(request: Request, exc: Exception) -> JSONResponse:
    """GitHub answers 404 for unknown paths, for methods a path does not support and for
    paths whose parameters do not parse (e.g. /issues/abc: GitHub has no such resource)."""
    return error_response(404, "Not Found")


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers above on the app."""
    app.add_exception_handler(SandboxError, sandbox_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, not_found)
    app.add_exception_handler(StarletteHTTPException, not_found)
    app.add_exception_handler(Moved, moved)  # type: ignore[arg-type]
