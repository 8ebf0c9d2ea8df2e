"""FastAPI app speaking GitHub's REST API (JSON, Link pagination, ETag/304, rate limits, faults).

Where things live: the per-request context and JSON answers in `sandbox.context`, the GitHub layer
around every route (auth, rate limits, faults, headers, request log) in `sandbox.middleware`, error
answers in `sandbox.errors`, the routes in `sandbox.routes` (one router per resource), the JSON
shapes in `sandbox.shapes`.
"""

from __future__ import annotations

from fastapi import FastAPI

from sandbox.context import JSONResponse, dump_json
from sandbox.errors import install_error_handlers
from sandbox.middleware import install_middleware
from sandbox.routes import ROUTERS
from sandbox.state import SandboxState

__all__ = ["JSONResponse", "create_app", "dump_json"]


def create_app(state: SandboxState) -> FastAPI:
    """The sandbox as an ASGI app over the given state."""
    app = FastAPI(title="GitHub sandbox", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.sandbox = state  # what the `context` dependency hands every route
    install_middleware(app, state)
    install_error_handlers(app)
    for router in ROUTERS:
        app.include_router(router)
    return app
