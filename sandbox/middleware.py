"""The GitHub layer around every route: auth, rate limits, injected faults, repo redirects,
GitHub's response headers, the sandbox's `Date` and the request log."""

from __future__ import annotations

import asyncio
import base64
import json
import random
import re
import uuid
from collections.abc import Callable
from datetime import UTC
from email.utils import format_datetime
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import Response

from sandbox import write_limits
from sandbox.context import JSONResponse, error_response
from sandbox.shapes import DOCS
from sandbox.state import Faults, RateBucket, SandboxState

ADMIN_PREFIX = "/_sandbox/"
FREE_PATHS = ("/rate_limit",)  # GitHub does not count these against the limit
GRAPHQL_PATH = "/graphql"  # its own points bucket and headers (`sandbox.gql.execute`)
REPO_PATH = re.compile(r"^/repos/([^/]+)/([^/]+)(/.*)?$")
REPOSITORIES_PATH = re.compile(r"^/repositories/(\d+)(/.*)?$")


def install_middleware(app: FastAPI, state: SandboxState) -> None:
    """Put the GitHub layer in front of every route of `app`."""

    @app.middleware("http")
    async def github_layer(request: Request, call_next: Callable) -> Response:
        return await answer_as_github(request, call_next, state)


async def answer_as_github(request: Request, call_next: Callable, state: SandboxState) -> Response:
    """Admin paths pass straight through; every other request is counted, may hit a fault,
    is authenticated and rate limited, then answered with GitHub's headers and logged."""
    path = request.url.path
    if path.startswith(ADMIN_PREFIX):
        return _dated(await call_next(request), state)
    count, faults, stop_now = _count_request(state)
    if stop_now:
        return _drop_connection(state)
    if faults.latency_ms:
        await asyncio.sleep(faults.latency_ms / 1000)
    body_for_log = await _body_for_log(request)

    token, auth_error = token_from(request, state)
    login = state.login_for_token(token) if token else None
    request.state.login = login
    request.state.app_id = app_id_of(token, state)  # a GitHub App's JWT (sandbox/apps.py)
    bucket = rate_bucket_for(request, state, token)
    free = path in FREE_PATHS
    graphql = path == GRAPHQL_PATH and not auth_error

    response: Response
    if auth_error:
        response = error_response(401, refusal_message(request, state))
    elif bucket.used >= bucket.limit and not free and not graphql:
        response = _rate_limited(request, state, login)
    elif (wait := _content_wait(request, state, login or token, body_for_log)) is not None:
        response = write_limits.refusal(wait, count)  # GitHub's content-creation limit (secondary)
    else:
        response = await _faulty_or_real(request, call_next, state, faults, count)
        if response.status_code != 304 and not free and not graphql:
            with state.lock:
                bucket.used += 1
    if not graphql or "X-RateLimit-Resource" not in response.headers:
        _rate_headers(response, bucket)
    _github_headers(request, response, count, login)
    state.log_request(
        request.method,
        request.scope.get("sandbox.original_path", path),
        request.url.query,
        response.status_code,
        login,
        body_for_log,
    )
    return _dated(response, state)


def _count_request(state: SandboxState) -> tuple[int, Faults, bool]:
    """(request number, faults in force, stop now?) — stop_after counts every non-admin request."""
    with state.lock:
        state.fault_counter += 1
        count, faults = state.fault_counter, state.faults
        stop_now = state.stopped or (faults.stop_after is not None and count > faults.stop_after)
        if stop_now:
            state.stopped = True
    return count, faults, stop_now


async def _body_for_log(request: Request) -> Any:
    """A write's body for the request log: parsed JSON, else the text; None for reads."""
    if request.method in ("GET", "HEAD"):
        return None
    raw = await request.body()
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return raw.decode(errors="replace")


def token_from(request: Request, state: SandboxState) -> tuple[str | None, bool]:
    """(token, bad credentials?) from the Authorization header."""
    header = request.headers.get("authorization")
    if not header:
        return None, False
    scheme, _, value = header.strip().partition(" ")
    value = value.strip()
    if scheme.lower() == "basic":
        try:
            value = base64.b64decode(value).decode().partition(":")[2]
        except (ValueError, UnicodeDecodeError):
            return None, True
    elif scheme.lower() not in ("token", "bearer"):
        return None, True
    if value in state.accepted_tokens:
        return value, False
    caller = state.app_caller(value)  # an App's installation token or JWT
    if caller is not None and caller.error is None:
        return value, False
    return None, True


def app_id_of(token: str | None, state: SandboxState) -> int | None:
    """The App a JWT authenticates (None for any other credentials)."""
    caller = state.app_caller(token) if token else None
    return caller.app_id if caller is not None else None


def refusal_message(request: Request, state: SandboxState) -> str:
    """401's message: GitHub's own words for a refused App JWT, else "Bad credentials"."""
    _, _, value = (request.headers.get("authorization") or "").strip().partition(" ")
    caller = state.app_caller(value.strip()) if value.strip() else None
    return caller.error if caller is not None and caller.error else "Bad credentials"


def rate_bucket_for(request: Request, state: SandboxState, token: str | None) -> RateBucket:
    """The caller's bucket: per token, or per client address for anonymous callers."""
    key = token or f"anonymous:{request.client.host if request.client else '-'}"
    return state.rate_bucket(key, state.rate_limit if token else state.anonymous_rate_limit)


def _rate_limited(request: Request, state: SandboxState, login: str | None) -> Response:
    """GitHub's 403 for a spent primary rate limit (anonymous callers get the longer message)."""
    who = f"user ID {state.user(login).id}" if login else (request.client.host if request.client else "you")
    return error_response(
        403,
        f"API rate limit exceeded for {who}. (But here's the good news: Authenticated "
        "requests get a higher rate limit. Check out the documentation for more details.)"
        if not login
        else f"API rate limit exceeded for {who}.",
        documentation_url=f"{DOCS}/overview/rate-limits-for-the-rest-api",
    )


def _content_wait(request: Request, state: SandboxState, who: str | None, body: Any) -> float | None:
    """Seconds the caller must wait before this content-creating request (None: it goes, counted)."""
    if not state.faults.write_limits or not write_limits.creates_content(request.method, request.url.path, body):
        return None
    return write_limits.admit(state, who or "anonymous")


def _rate_headers(response: Response, bucket: RateBucket) -> None:
    remaining = max(bucket.limit - bucket.used, 0)
    response.headers["X-RateLimit-Limit"] = str(bucket.limit)
    response.headers["X-RateLimit-Remaining"] = str(remaining)
    response.headers["X-RateLimit-Reset"] = str(bucket.reset)
    response.headers["X-RateLimit-Used"] = str(bucket.used)
    response.headers["X-RateLimit-Resource"] = "core"


def _github_headers(request: Request, response: Response, count: int, login: str | None) -> None:
    """Media type, a request id (deterministic in the request number), Vary and Cache-Control."""
    response.headers.setdefault("X-GitHub-Media-Type", "github.v3; format=json")
    response.headers["X-GitHub-Request-Id"] = uuid.UUID(int=random.Random(count).getrandbits(128)).hex[:20].upper()
    response.headers.setdefault("Vary", "Accept, Authorization, Cookie, X-GitHub-OTP")
    if request.method == "GET" and response.status_code in (200, 304):
        response.headers.setdefault("Cache-Control", f"{'private' if login else 'public'}, max-age=60, s-maxage=60")


def _dated(response: Response, state: SandboxState) -> Response:
    """GitHub's `Date` header, from the sandbox's clock (uvicorn's own, from the host, is off)."""
    response.headers["Date"] = format_datetime(state.clock().astimezone(UTC), usegmt=True)
    return response


async def _faulty_or_real(
    request: Request, call_next: Callable, state: SandboxState, faults: Faults, count: int
) -> Response:
    """An injected fault (deterministic in seed and request number) or the real answer."""
    roll = random.Random(f"{faults.seed}:{count}")
    error_roll, secondary_roll = roll.random(), roll.random()
    if error_roll < faults.error_rate:
        return error_response(502, "Server Error")
    if secondary_roll < faults.secondary_rate_limit_rate:
        return error_response(
            403,
            "You have exceeded a secondary rate limit. Please wait a few minutes before you try "
            "again. If you reach out to GitHub Support for help, please include the request ID.",
            headers={"Retry-After": str(faults.retry_after)},
            documentation_url=f"{DOCS}/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits",
        )
    redirect = _route_repo_path(request, state)
    if redirect is not None:
        return redirect
    return await call_next(request)


def _route_repo_path(request: Request, state: SandboxState) -> Response | None:
    """/repositories/{id}/... serves the repo's routes; a renamed repo's old path answers 301/307."""
    path = request.url.path
    match = REPOSITORIES_PATH.match(path)
    if match:
        repo = state.repos.get(int(match.group(1)))
        if repo is not None:
            request.scope["sandbox.original_path"] = path
            request.scope["path"] = f"/repos/{repo.full_name}{match.group(2) or ''}"
        return None
    match = REPO_PATH.match(path)
    if match and state.find_repo(f"{match.group(1)}/{match.group(2)}") is None:
        moved = state.renamed_repo(f"{match.group(1)}/{match.group(2)}")
        if moved is not None:
            return _moved_repo(request, f"/repositories/{moved.id}{match.group(3) or ''}")
    return None


def _moved_repo(request: Request, new_path: str) -> Response:
    """301 for reads, 307 for writes, to the repo's /repositories/{id} path."""
    location = f"{str(request.base_url).rstrip('/')}{new_path}"
    if request.url.query:
        location += f"?{request.url.query}"
    status = 301 if request.method in ("GET", "HEAD") else 307
    message = "Moved Permanently" if status == 301 else "Temporary Redirect"
    return JSONResponse(
        {"message": message, "url": location, "documentation_url": "https://docs.github.com/v3/#http-redirects"},
        status_code=status,
        headers={"Location": location},
    )


def _drop_connection(state: SandboxState) -> Response:
    """stop_after reached: stop the server and drop this connection without an answer."""
    if state.on_stop is not None:
        state.on_stop()
    # Without a server hook we can only fail loudly; with it the transport is already gone.
    return Response(status_code=503)
