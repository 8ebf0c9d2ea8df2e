"""What every sandbox route shares: the per-request context (`Ctx`), JSON answers and query helpers.

Routes take the context as a FastAPI dependency (`ctx: Context`) instead of building it themselves;
the state it wraps is the one `create_app` stored on `app.state.sandbox`.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from typing import Annotated, Any
from urllib.parse import parse_qsl, urlencode

from fastapi import Depends, Request
from fastapi.responses import JSONResponse as _PlainJSONResponse
from fastapi.responses import Response

from sandbox.shapes import DOCS, Shapes
from sandbox.state import Repo, SandboxError, SandboxState

MEDIA = re.compile(r"application/vnd\.github(?:\.v3)?\.(raw|text|html|full)\+json")
JSON_MEDIA_TYPE = "application/json; charset=utf-8"


def dump_json(data: Any) -> bytes:
    """JSON as GitHub sends it: UTF-8, with a lone surrogate (text GitHub holds, e.g. a title
    cut inside an emoji) written as the escape `\\ud800`, which UTF-8 cannot encode raw."""
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8", "backslashreplace")


class JSONResponse(_PlainJSONResponse):
    """Every JSON answer of the sandbox (errors and admin ones too) is written by `dump_json`."""

    def render(self, content: Any) -> bytes:
        return dump_json(content)


def error_response(status: int, message: str, headers: dict | None = None, **extra: Any) -> JSONResponse:
    """GitHub's error body: message, extra fields, documentation_url, status (as a string)."""
    body = {"message": message, **extra}
    body.setdefault("documentation_url", DOCS)
    body["status"] = str(status)
    return JSONResponse(body, status_code=status, headers=headers, media_type=JSON_MEDIA_TYPE)


def parse_time(value: str, name: str) -> datetime:
    """ISO 8601 query value (422 if malformed)."""
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        errors = [{"resource": "Search", "field": name, "code": "invalid"}]
        raise SandboxError(422, "Validation Failed", errors) from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


def invalid(resource: str, field: str, code: str = "invalid", **extra: Any) -> SandboxError:
    """GitHub's 422 "Validation Failed" with one error entry (raise it)."""
    return SandboxError(422, "Validation Failed", [{"resource": resource, "field": field, "code": code, **extra}])


def _etag(body: bytes) -> str:
    return f'W/"{hashlib.sha256(body).hexdigest()}"'


def _etag_matches(header: str | None, etag: str) -> bool:
    """Weak comparison of If-None-Match against our ETag."""
    if not header:
        return False
    bare = etag.removeprefix("W/")
    return any(tag.strip() == "*" or tag.strip().removeprefix("W/") == bare for tag in header.split(","))


def _int(value: str | None, default: int) -> int:
    try:
        return int(value) if value is not None else default
    except ValueError:
        return default


class Ctx:
    """Per-request helpers: the state, shapes, the acting user, JSON answers and pagination."""

    def __init__(self, state: SandboxState, request: Request) -> None:
        self.state = state
        self.request = request
        self.base = str(request.base_url).rstrip("/")
        accept = request.headers.get("accept", "")
        match = MEDIA.search(accept)
        self.shapes = Shapes(state, self.base, match.group(1) if match else "raw")
        self.login: str | None = getattr(request.state, "login", None)

    def q(self, name: str, default: str | None = None) -> str | None:
        """A query parameter."""
        return self.request.query_params.get(name, default)

    def actor(self) -> str:
        """The authenticated login (401 for anonymous writes)."""
        if self.login is None:
            raise SandboxError(401, "Requires authentication")
        return self.login

    def repo(self, owner: str, name: str) -> Repo:
        """The repo in the path; private repos are invisible to anonymous callers."""
        repo = self.state.repo(f"{owner}/{name}")
        if repo.private and self.login is None:
            raise SandboxError(404, "Not Found")
        return repo

    def descending(self, default: str = "desc") -> bool:
        """The `direction` query parameter: True when results go newest/largest first."""
        direction = self.q("direction", default)
        if direction not in ("asc", "desc"):
            raise invalid("Issue", "direction")
        return direction == "desc"

    async def body(self) -> Any:
        """The JSON body (400 when it does not parse)."""
        raw = await self.request.body()
        if not raw:
            return {}
        try:
            return json.loads(raw)
        except ValueError as exc:
            raise SandboxError(400, "Problems parsing JSON") from exc

    def json(
        self, data: Any, status: int = 200, headers: dict | None = None, last_modified: datetime | None = None
    ) -> Response:
        """A JSON answer with ETag (and 304 for a matching If-None-Match / If-Modified-Since)."""
        raw = dump_json(data)
        headers = dict(headers or {})
        if self.request.method == "GET" and status == 200:
            etag = _etag(raw)
            headers["ETag"] = etag
            if last_modified:
                headers["Last-Modified"] = format_datetime(last_modified, usegmt=True)
            if self._not_modified(etag, last_modified):
                return Response(status_code=304, headers=headers)
        return Response(raw, status_code=status, headers=headers, media_type=JSON_MEDIA_TYPE)

    def _not_modified(self, etag: str, last_modified: datetime | None) -> bool:
        """If-None-Match wins; If-Modified-Since counts only without it."""
        if_none_match = self.request.headers.get("if-none-match")
        if _etag_matches(if_none_match, etag):
            return True
        return bool(last_modified and not if_none_match and self._not_modified_since(last_modified))

    def _not_modified_since(self, last_modified: datetime) -> bool:
        header = self.request.headers.get("if-modified-since")
        if not header:
            return False
        try:
            return last_modified <= parsedate_to_datetime(header)
        except (TypeError, ValueError):
            return False

    def page(self, items: Sequence[Any], render: Callable[[Any], Any], default_per_page: int = 30) -> Response:
        """One page of items with GitHub's Link header (next, last, first, prev)."""
        per_page = _int(self.q("per_page"), default_per_page)
        per_page = default_per_page if per_page < 1 else min(per_page, 100)
        page = max(_int(self.q("page"), 1), 1)
        last = max((len(items) + per_page - 1) // per_page, 1)
        chunk = items[(page - 1) * per_page : page * per_page]
        links = []
        if page < last:
            links += [(page + 1, "next"), (last, "last")]
        if page > 1:
            links = [(min(page - 1, last), "prev"), *links, (1, "first")]
        headers = {"Link": ", ".join(f'<{self._page_url(n)}>; rel="{rel}"' for n, rel in links)} if links else {}
        return self.json([render(x) for x in chunk], headers=headers)

    def _page_url(self, number: int) -> str:
        path = self.request.scope.get("sandbox.original_path", self.request.url.path)
        params = [(k, v) for k, v in parse_qsl(self.request.url.query, keep_blank_values=True) if k != "page"]
        params.append(("page", str(number)))
        return f"{self.base}{path}?{urlencode(params)}"


def sandbox_state(request: Request) -> SandboxState:
    """The state this app serves (set by `create_app`)."""
    return request.app.state.sandbox


# FastAPI dependencies. Both are async so they run on the event loop, not in a worker thread.
async def context(request: Request) -> Ctx:
    """The request's `Ctx`."""
    return Ctx(sandbox_state(request), request)


async def current_state(request: Request) -> SandboxState:
    """The state, for routes that need no more (the admin ones)."""
    return sandbox_state(request)


Context = Annotated[Ctx, Depends(context)]
State = Annotated[SandboxState, Depends(current_state)]
