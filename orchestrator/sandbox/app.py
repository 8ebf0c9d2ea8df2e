"""FastAPI app speaking GitHub's REST API (JSON, Link pagination, ETag/304, rate limits, faults)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import random
import re
import uuid
from collections.abc import Callable, Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse as _PlainJSONResponse
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from orchestrator.sandbox.shapes import DOCS, Shapes
from orchestrator.sandbox.state import Issue, Repo, SandboxError, SandboxState

ADMIN_PREFIX = "/_sandbox/"
FREE_PATHS = ("/rate_limit",)  # GitHub does not count these against the limit
REPO_PATH = re.compile(r"^/repos/([^/]+)/([^/]+)(/.*)?$")
REPOSITORIES_PATH = re.compile(r"^/repositories/(\d+)(/.*)?$")
MEDIA = re.compile(r"application/vnd\.github(?:\.v3)?\.(raw|text|html|full)\+json")


def dump_json(data: Any) -> bytes:
    """JSON as GitHub sends it: UTF-8, with a lone surrogate (text GitHub holds, e.g. a title
    cut inside an emoji) written as the escape `\\ud800`, which UTF-8 cannot encode raw."""
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8", "backslashreplace")


class JSONResponse(_PlainJSONResponse):
    """Every JSON answer of the sandbox (errors and admin ones too) is written by `dump_json`."""

    def render(self, content: Any) -> bytes:
        return dump_json(content)


def _error(status: int, message: str, headers: dict | None = None, **extra: Any) -> JSONResponse:
    body = {"message": message, **extra}
    body.setdefault("documentation_url", DOCS)
    body["status"] = str(status)
    return JSONResponse(body, status_code=status, headers=headers, media_type="application/json; charset=utf-8")


def _parse_time(value: str, name: str) -> datetime:
    """ISO 8601 query value (422 if malformed)."""
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        errors = [{"resource": "Search", "field": name, "code": "invalid"}]
        raise SandboxError(422, "Validation Failed", errors) from exc
    if parsed.tzinfo is None:
        from datetime import UTC

        parsed = parsed.replace(tzinfo=UTC)
    return parsed


def _etag(body: bytes) -> str:
    return f'W/"{hashlib.sha256(body).hexdigest()}"'


def _etag_matches(header: str | None, etag: str) -> bool:
    """Weak comparison of If-None-Match against our ETag."""
    if not header:
        return False
    bare = etag.removeprefix("W/")
    return any(tag.strip() == "*" or tag.strip().removeprefix("W/") == bare for tag in header.split(","))


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
            if _etag_matches(self.request.headers.get("if-none-match"), etag) or (
                last_modified
                and not self.request.headers.get("if-none-match")
                and self._not_modified_since(last_modified)
            ):
                return Response(status_code=304, headers=headers)
        return Response(raw, status_code=status, headers=headers, media_type="application/json; charset=utf-8")

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


def _int(value: str | None, default: int) -> int:
    try:
        return int(value) if value is not None else default
    except ValueError:
        return default


def _direction(ctx: Ctx, default: str = "desc") -> bool:
    """True when results go newest/largest first."""
    direction = ctx.q("direction", default)
    if direction not in ("asc", "desc"):
        raise SandboxError(422, "Validation Failed", [{"resource": "Issue", "field": "direction", "code": "invalid"}])
    return direction == "desc"


def create_app(state: SandboxState) -> FastAPI:
    """The sandbox as an ASGI app over the given state."""
    app = FastAPI(title="GitHub sandbox", docs_url=None, redoc_url=None, openapi_url=None)
    _install_middleware(app, state)
    _install_errors(app)
    _admin_routes(app, state)
    _meta_routes(app, state)
    _issue_routes(app, state)
    _pull_routes(app, state)
    _git_routes(app, state)
    return app


# ---------------------------------------------------------------------- middleware
def _install_middleware(app: FastAPI, state: SandboxState) -> None:
    @app.middleware("http")
    async def github_layer(request: Request, call_next: Callable) -> Response:
        path = request.url.path
        if path.startswith(ADMIN_PREFIX):
            return _dated(await call_next(request), state)
        with state.lock:
            state.fault_counter += 1
            count, faults = state.fault_counter, state.faults
            stop_now = state.stopped or (faults.stop_after is not None and count > faults.stop_after)
            if stop_now:
                state.stopped = True
        if stop_now:
            return _drop_connection(state)
        if faults.latency_ms:
            await asyncio.sleep(faults.latency_ms / 1000)

        body_for_log = None
        if request.method not in ("GET", "HEAD"):
            raw = await request.body()
            try:
                body_for_log = json.loads(raw) if raw else None
            except ValueError:
                body_for_log = raw.decode(errors="replace")

        token, auth_error = _token(request, state)
        login = state.login_for_token(token) if token else None
        request.state.login = login
        bucket_key = token or f"anonymous:{request.client.host if request.client else '-'}"
        bucket = state.rate_bucket(bucket_key, state.rate_limit if token else state.anonymous_rate_limit)
        free = path in FREE_PATHS

        response: Response
        if auth_error:
            response = _error(401, "Bad credentials")
        elif bucket.used >= bucket.limit and not free:
            who = f"user ID {state.user(login).id}" if login else (request.client.host if request.client else "you")
            response = _error(
                403,
                f"API rate limit exceeded for {who}. (But here's the good news: Authenticated "
                "requests get a higher rate limit. Check out the documentation for more details.)"
                if not login
                else f"API rate limit exceeded for {who}.",
                documentation_url=f"{DOCS}/overview/rate-limits-for-the-rest-api",
            )
        else:
            response = await _faulty_or_real(request, call_next, state, faults, count)
            if response.status_code != 304 and not free:
                with state.lock:
                    bucket.used += 1
        _rate_headers(response, bucket, free=False)
        response.headers.setdefault("X-GitHub-Media-Type", "github.v3; format=json")
        response.headers["X-GitHub-Request-Id"] = uuid.UUID(int=random.Random(count).getrandbits(128)).hex[:20].upper()
        response.headers.setdefault("Vary", "Accept, Authorization, Cookie, X-GitHub-OTP")
        if request.method == "GET" and response.status_code in (200, 304):
            response.headers.setdefault("Cache-Control", f"{'private' if login else 'public'}, max-age=60, s-maxage=60")
        state.log_request(
            request.method,
            request.scope.get("sandbox.original_path", path),
            request.url.query,
            response.status_code,
            login,
            body_for_log,
        )
        return _dated(response, state)


def _dated(response: Response, state: SandboxState) -> Response:
    """GitHub's `Date` header, from the sandbox's clock (uvicorn's own, from the host, is off)."""
    response.headers["Date"] = format_datetime(state.clock().astimezone(UTC), usegmt=True)
    return response


async def _faulty_or_real(
    request: Request, call_next: Callable, state: SandboxState, faults: Any, count: int
) -> Response:
    """An injected fault (deterministic in seed and request number) or the real answer."""
    roll = random.Random(f"{faults.seed}:{count}")
    error_roll, secondary_roll = roll.random(), roll.random()
    if error_roll < faults.error_rate:
        return _error(502, "Server Error")
    if secondary_roll < faults.secondary_rate_limit_rate:
        return _error(
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
    base = str(request.base_url).rstrip("/")
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
            location = f"{base}/repositories/{moved.id}{match.group(3) or ''}"
            if request.url.query:
                location += f"?{request.url.query}"
            status = 301 if request.method in ("GET", "HEAD") else 307
            message = "Moved Permanently" if status == 301 else "Temporary Redirect"
            return JSONResponse(
                {
                    "message": message,
                    "url": location,
                    "documentation_url": "https://docs.github.com/v3/#http-redirects",
                },
                status_code=status,
                headers={"Location": location},
            )
    return None


def _drop_connection(state: SandboxState) -> Response:
    """stop_after reached: stop the server and drop this connection without an answer."""
    if state.on_stop is not None:
        state.on_stop()
    # Without a server hook we can only fail loudly; with it the transport is already gone.
    return Response(status_code=503)


def _token(request: Request, state: SandboxState) -> tuple[str | None, bool]:
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
    return None, True


def _rate_headers(response: Response, bucket: Any, free: bool) -> None:
    remaining = max(bucket.limit - bucket.used, 0)
    response.headers["X-RateLimit-Limit"] = str(bucket.limit)
    response.headers["X-RateLimit-Remaining"] = str(remaining)
    response.headers["X-RateLimit-Reset"] = str(bucket.reset)
    response.headers["X-RateLimit-Used"] = str(bucket.used)
    response.headers["X-RateLimit-Resource"] = "core"


def _install_errors(app: FastAPI) -> None:
    @app.exception_handler(SandboxError)
    async def sandbox_error(request: Request, exc: SandboxError) -> JSONResponse:
        body = dict(exc.body)
        body.setdefault("documentation_url", DOCS)
        body["status"] = str(exc.status)
        return JSONResponse(body, status_code=exc.status, media_type="application/json; charset=utf-8")

    @app.exception_handler(RequestValidationError)
    async def bad_path(request: Request, exc: RequestValidationError) -> JSONResponse:
        # e.g. /issues/abc: GitHub has no such resource.
        return _error(404, "Not Found")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        # GitHub answers 404 for unknown paths and for methods a path does not support.
        return _error(404, "Not Found")


# ---------------------------------------------------------------------- admin
def _admin_routes(app: FastAPI, state: SandboxState) -> None:
    @app.get("/_sandbox/requests")
    async def requests_log(request: Request) -> Response:
        method = request.query_params.get("method")
        with state.lock:
            log = [r for r in state.request_log if not method or r["method"] == method.upper()]
        if request.query_params.get("writes") in ("1", "true"):
            log = [r for r in log if r["method"] not in ("GET", "HEAD", "OPTIONS")]
        return JSONResponse(log)

    @app.delete("/_sandbox/requests")
    async def clear_log() -> Response:
        with state.lock:
            state.request_log.clear()
        return Response(status_code=204)

    @app.get("/_sandbox/faults")
    async def get_faults() -> Response:
        return JSONResponse(asdict(state.faults))

    @app.post("/_sandbox/faults")
    async def set_faults(request: Request) -> Response:
        body = json.loads(await request.body() or b"{}")
        try:
            faults = state.set_faults(**body)
        except (ValueError, TypeError) as exc:
            return _error(422, str(exc))
        return JSONResponse(asdict(faults))

    @app.post("/_sandbox/reset")
    async def reset(request: Request) -> Response:
        body = json.loads(await request.body() or b"{}")
        now = datetime.fromisoformat(body["now"].replace("Z", "+00:00")) if body.get("now") else None
        state.reset(seed=int(body.get("seed", 7)), demo=bool(body.get("demo", True)), now=now)
        return JSONResponse({"ok": True, "repos": len(state.repos)})


# ---------------------------------------------------------------------- meta, users, repos
def _meta_routes(app: FastAPI, state: SandboxState) -> None:
    @app.get("/rate_limit")
    async def rate_limit(request: Request) -> Response:
        ctx = Ctx(state, request)
        token, _ = _token(request, state)
        key = token or f"anonymous:{request.client.host if request.client else '-'}"
        bucket = state.rate_bucket(key, state.rate_limit if token else state.anonymous_rate_limit)
        core = {
            "limit": bucket.limit,
            "used": bucket.used,
            "remaining": max(bucket.limit - bucket.used, 0),
            "reset": bucket.reset,
        }
        other = {"limit": 30, "used": 0, "remaining": 30, "reset": bucket.reset}
        return ctx.json(
            {
                "resources": {
                    "core": core,
                    "search": other,
                    "graphql": {**core},
                    "integration_manifest": {**other, "limit": 5000, "remaining": 5000},
                },
                "rate": core,
            }
        )

    @app.get("/user")
    async def me(request: Request) -> Response:
        ctx = Ctx(state, request)
        with state.lock:
            return ctx.json(ctx.shapes.full_user(ctx.actor(), private=True))

    @app.get("/users/{login}")
    async def user(login: str, request: Request) -> Response:
        ctx = Ctx(state, request)
        with state.lock:
            if login.lower() not in state.users:
                raise SandboxError(404, "Not Found")
            return ctx.json(ctx.shapes.full_user(login))

    @app.get("/orgs/{org}")
    async def org(org: str, request: Request) -> Response:
        ctx = Ctx(state, request)
        with state.lock:
            if org.lower() not in state.orgs:
                raise SandboxError(404, "Not Found")
            return ctx.json(ctx.shapes.org(org))

    @app.get("/orgs/{org}/repos")
    async def org_repos(org: str, request: Request) -> Response:
        ctx = Ctx(state, request)
        with state.lock:
            if org.lower() not in state.orgs:
                raise SandboxError(404, "Not Found")
            return _owner_repos(ctx, org, default_sort="created")

    @app.get("/users/{login}/repos")
    async def user_repos(login: str, request: Request) -> Response:
        ctx = Ctx(state, request)
        with state.lock:
            if login.lower() not in state.users:
                raise SandboxError(404, "Not Found")
            return _owner_repos(ctx, login, default_sort="full_name")

    @app.get("/repos/{owner}/{name}")
    async def get_repo(owner: str, name: str, request: Request) -> Response:
        ctx = Ctx(state, request)
        with state.lock:
            repo = ctx.repo(owner, name)
            return ctx.json(ctx.shapes.repo(repo, full=True), last_modified=repo.updated_at)

    @app.get("/repos/{owner}/{name}/labels")
    async def labels(owner: str, name: str, request: Request) -> Response:
        ctx = Ctx(state, request)
        with state.lock:
            repo = ctx.repo(owner, name)
            items = sorted(repo.labels.values(), key=lambda lab: lab.name.lower())
            return ctx.page(items, lambda lab: ctx.shapes.label(repo, lab.name))

    @app.get("/repos/{owner}/{name}/labels/{label}")
    async def label(owner: str, name: str, label: str, request: Request) -> Response:
        ctx = Ctx(state, request)
        with state.lock:
            repo = ctx.repo(owner, name)
            if label.lower() not in repo.labels:
                raise SandboxError(404, "Not Found")
            return ctx.json(ctx.shapes.label(repo, label))

    @app.post("/repos/{owner}/{name}/labels")
    async def create_label(owner: str, name: str, request: Request) -> Response:
        ctx = Ctx(state, request)
        body = await ctx.body()
        ctx.actor()
        with state.lock:
            repo = ctx.repo(owner, name)
            label_name = body.get("name") if isinstance(body, dict) else None
            if not label_name:
                raise SandboxError(
                    422, "Validation Failed", [{"resource": "Label", "code": "missing_field", "field": "name"}]
                )
            if label_name.lower() in repo.labels:
                raise SandboxError(
                    422, "Validation Failed", [{"resource": "Label", "code": "already_exists", "field": "name"}]
                )
            color = str(body.get("color") or "ededed").lstrip("#")
            if not re.fullmatch(r"[0-9a-fA-F]{6}", color):
                raise SandboxError(
                    422, "Validation Failed", [{"resource": "Label", "code": "invalid", "field": "color"}]
                )
            state.add_label(repo.full_name, label_name, color, body.get("description"))
            return ctx.json(ctx.shapes.label(repo, label_name), status=201)


def _owner_repos(ctx: Ctx, owner: str, default_sort: str) -> Response:
    """Repos of an org or user with type, sort and direction."""
    state = ctx.state
    repos = [r for r in state.repos.values() if r.owner.lower() == owner.lower()]
    kind = ctx.q("type", "all")
    if ctx.login is None or kind == "public":
        repos = [r for r in repos if not r.private]  # anonymous callers never see private repos
    elif kind == "private":
        repos = [r for r in repos if r.private]
    sort = ctx.q("sort", default_sort)
    keys: dict[str, Callable[[Repo], Any]] = {
        "created": lambda r: (r.created_at, r.id),
        "updated": lambda r: (r.updated_at, r.id),
        "pushed": lambda r: (r.pushed_at, r.id),
        "full_name": lambda r: r.full_name.lower(),
    }
    if sort not in keys:
        raise SandboxError(422, "Validation Failed", [{"resource": "Repository", "field": "sort", "code": "invalid"}])
    desc = _direction(ctx, "asc" if sort == "full_name" else "desc")
    repos.sort(key=keys[sort], reverse=desc)
    return ctx.page(repos, ctx.shapes.repo)


# ---------------------------------------------------------------------- issues
def _visible_issue(ctx: Ctx, owner: str, name: str, number: int) -> Issue:
    """The issue, or GitHub's 410 (deleted) / 301 (transferred) answers as errors."""
    repo = ctx.repo(owner, name)
    issue = ctx.state.issues.get((repo.id, number))
    if issue is None:
        raise SandboxError(404, "Not Found")
    if issue.deleted:
        raise SandboxError(410, "This issue was deleted", documentation_url=f"{DOCS}/issues/issues#get-an-issue")
    if issue.moved_to is not None:
        raise _Moved(f"{ctx.base}/repositories/{issue.moved_to[0]}/issues/{issue.moved_to[1]}")
    return issue


class _Moved(SandboxError):
    """A 301 answer for a transferred issue."""

    def __init__(self, location: str) -> None:
        super().__init__(
            301, "Moved Permanently", url=location, documentation_url="https://docs.github.com/v3/#http-redirects"
        )
        self.location = location


def _filter_issues(ctx: Ctx, repo: Repo) -> list[Issue]:
    """GET /issues filters: state, labels, assignee, creator, since; then sort and direction."""
    state = ctx.q("state", "open")
    if state not in ("open", "closed", "all"):
        raise SandboxError(422, "Validation Failed", [{"resource": "Issue", "field": "state", "code": "invalid"}])
    items = [i for (rid, _), i in ctx.state.issues.items() if rid == repo.id and not i.deleted and i.moved_to is None]
    if state != "all":
        items = [i for i in items if i.state == state]
    if ctx.q("labels"):
        wanted = {w.strip().lower() for w in ctx.q("labels", "").split(",") if w.strip()}
        items = [i for i in items if wanted <= {n.lower() for n in i.labels}]
    assignee = ctx.q("assignee")
    if assignee == "none":
        items = [i for i in items if not i.assignees]
    elif assignee == "*":
        items = [i for i in items if i.assignees]
    elif assignee:
        items = [i for i in items if assignee.lower() in (a.lower() for a in i.assignees)]
    if ctx.q("creator"):
        items = [i for i in items if i.user.lower() == ctx.q("creator", "").lower()]
    if ctx.q("milestone") not in (None, "*", "none"):
        items = []  # the sandbox has no milestones
    if ctx.q("since"):
        since = _parse_time(ctx.q("since", ""), "since")
        items = [i for i in items if i.updated_at >= since]
    sort = ctx.q("sort", "created")
    keys: dict[str, Callable[[Issue], Any]] = {
        "created": lambda i: (i.created_at, i.number),
        "updated": lambda i: (i.updated_at, i.number),
        "comments": lambda i: (ctx.state.comment_count(i), i.number),
    }
    if sort not in keys:
        raise SandboxError(422, "Validation Failed", [{"resource": "Issue", "field": "sort", "code": "invalid"}])
    items.sort(key=keys[sort], reverse=_direction(ctx))
    return items


def _label_names(body: Any) -> list[str]:
    """Label names from `{"labels": [...]}`, a bare list, or label objects."""
    raw = body.get("labels", []) if isinstance(body, dict) else body
    if isinstance(raw, str):
        raw = [raw]
    names = []
    for item in raw or []:
        names.append(item.get("name") if isinstance(item, dict) else str(item))
    return [n for n in names if n]


def _issue_routes(app: FastAPI, state: SandboxState) -> None:
    @app.exception_handler(_Moved)
    async def moved(request: Request, exc: _Moved) -> JSONResponse:
        return JSONResponse(exc.body, status_code=301, headers={"Location": exc.location})

    @app.get("/repos/{owner}/{name}/issues")
    async def list_issues(owner: str, name: str, request: Request) -> Response:
        ctx = Ctx(state, request)
        with state.lock:
            repo = ctx.repo(owner, name)
            return ctx.page(_filter_issues(ctx, repo), ctx.shapes.issue)

    @app.post("/repos/{owner}/{name}/issues")
    async def create_issue(owner: str, name: str, request: Request) -> Response:
        ctx = Ctx(state, request)
        body = await ctx.body()
        actor = ctx.actor()
        with state.lock:
            repo = ctx.repo(owner, name)
            if not isinstance(body, dict) or "title" not in body:
                raise SandboxError(
                    422,
                    'Invalid request.\n\n"title" wasn\'t supplied.',
                    documentation_url=f"{DOCS}/issues/issues#create-an-issue",
                )
            if not str(body.get("title") or "").strip():
                raise SandboxError(
                    422, "Validation Failed", [{"resource": "Issue", "code": "missing_field", "field": "title"}]
                )
            assignees = list(body.get("assignees") or ([body["assignee"]] if body.get("assignee") else []))
            unknown = [a for a in assignees if a.lower() not in state.users]
            if unknown:
                raise SandboxError(
                    422,
                    "Validation Failed",
                    [{"resource": "Issue", "field": "assignees", "code": "invalid", "value": unknown[0]}],
                )
            issue = state.create_issue(
                repo.full_name,
                actor,
                str(body["title"]),
                body.get("body"),
                labels=_label_names(body),
                assignees=assignees,
            )
            return ctx.json(
                ctx.shapes.issue(issue),
                status=201,
                headers={"Location": f"{ctx.base}/repos/{repo.full_name}/issues/{issue.number}"},
            )

    @app.get("/repos/{owner}/{name}/issues/comments")
    async def repo_comments(owner: str, name: str, request: Request) -> Response:
        ctx = Ctx(state, request)
        with state.lock:
            repo = ctx.repo(owner, name)
            items = [c for c in state.comments if c.repo_id == repo.id]
            if ctx.q("since"):
                since = _parse_time(ctx.q("since", ""), "since")
                items = [c for c in items if c.updated_at >= since]
            sort = ctx.q("sort", "created")
            if sort not in ("created", "updated"):
                raise SandboxError(
                    422, "Validation Failed", [{"resource": "IssueComment", "field": "sort", "code": "invalid"}]
                )
            key = (lambda c: (c.created_at, c.id)) if sort == "created" else (lambda c: (c.updated_at, c.id))
            items.sort(key=key, reverse=_direction(ctx, "asc"))
            return ctx.page(items, ctx.shapes.comment)

    @app.get("/repos/{owner}/{name}/issues/comments/{comment_id}")
    async def get_comment(owner: str, name: str, comment_id: int, request: Request) -> Response:
        ctx = Ctx(state, request)
        with state.lock:
            return ctx.json(ctx.shapes.comment(state.find_comment(ctx.repo(owner, name).full_name, comment_id)))

    @app.patch("/repos/{owner}/{name}/issues/comments/{comment_id}")
    async def edit_comment(owner: str, name: str, comment_id: int, request: Request) -> Response:
        ctx = Ctx(state, request)
        body = await ctx.body()
        ctx.actor()
        with state.lock:
            if not isinstance(body, dict) or not body.get("body"):
                raise SandboxError(
                    422, "Validation Failed", [{"resource": "IssueComment", "code": "missing_field", "field": "body"}]
                )
            comment = state.edit_comment(ctx.repo(owner, name).full_name, comment_id, str(body["body"]))
            return ctx.json(ctx.shapes.comment(comment))

    @app.delete("/repos/{owner}/{name}/issues/comments/{comment_id}")
    async def delete_comment(owner: str, name: str, comment_id: int, request: Request) -> Response:
        ctx = Ctx(state, request)
        ctx.actor()
        with state.lock:
            state.delete_comment(ctx.repo(owner, name).full_name, comment_id)
        return Response(status_code=204)

    @app.get("/repos/{owner}/{name}/issues/events")
    async def repo_events(owner: str, name: str, request: Request) -> Response:
        ctx = Ctx(state, request)
        with state.lock:
            repo = ctx.repo(owner, name)
            items = [
                e for e in state.events if e.repo_id == repo.id and not state.issues[(repo.id, e.issue_number)].deleted
            ]
            items.sort(key=lambda e: (e.created_at, e.id), reverse=True)
            return ctx.page(items, lambda e: ctx.shapes.event(e, with_issue=True))

    @app.get("/repos/{owner}/{name}/issues/events/{event_id}")
    async def get_event(owner: str, name: str, event_id: int, request: Request) -> Response:
        ctx = Ctx(state, request)
        with state.lock:
            repo = ctx.repo(owner, name)
            for e in state.events:
                if e.id == event_id and e.repo_id == repo.id:
                    return ctx.json(ctx.shapes.event(e, with_issue=True))
            raise SandboxError(404, "Not Found")

    @app.get("/repos/{owner}/{name}/issues/{number}")
    async def get_issue(owner: str, name: str, number: int, request: Request) -> Response:
        ctx = Ctx(state, request)
        with state.lock:
            issue = _visible_issue(ctx, owner, name, number)
            return ctx.json(ctx.shapes.issue(issue), last_modified=issue.updated_at)

    @app.patch("/repos/{owner}/{name}/issues/{number}")
    async def edit_issue(owner: str, name: str, number: int, request: Request) -> Response:
        ctx = Ctx(state, request)
        body = await ctx.body()
        actor = ctx.actor()
        with state.lock:
            issue = _visible_issue(ctx, owner, name, number)
            if not isinstance(body, dict):
                raise SandboxError(400, "Problems parsing JSON")
            _validate_issue_patch(body)
            changes: dict[str, Any] = {k: body[k] for k in ("title", "body", "state", "state_reason") if k in body}
            if "labels" in body:
                changes["labels"] = _label_names(body)
            if "assignees" in body or "assignee" in body:
                changes["assignees"] = list(
                    body.get("assignees") or ([body["assignee"]] if body.get("assignee") else [])
                )
            state.update_issue(ctx.repo(owner, name).full_name, issue.number, actor, **changes)
            return ctx.json(ctx.shapes.issue(issue))

    @app.get("/repos/{owner}/{name}/issues/{number}/comments")
    async def issue_comments(owner: str, name: str, number: int, request: Request) -> Response:
        ctx = Ctx(state, request)
        with state.lock:
            issue = _visible_issue(ctx, owner, name, number)
            items = [c for c in state.comments if c.repo_id == issue.repo_id and c.issue_number == number]
            if ctx.q("since"):
                since = _parse_time(ctx.q("since", ""), "since")
                items = [c for c in items if c.updated_at >= since]
            return ctx.page(items, ctx.shapes.comment)

    @app.post("/repos/{owner}/{name}/issues/{number}/comments")
    async def create_comment(owner: str, name: str, number: int, request: Request) -> Response:
        ctx = Ctx(state, request)
        body = await ctx.body()
        actor = ctx.actor()
        with state.lock:
            issue = _visible_issue(ctx, owner, name, number)
            if not isinstance(body, dict) or "body" not in body:
                raise SandboxError(422, 'Invalid request.\n\n"body" wasn\'t supplied.')
            if not str(body["body"]).strip():
                raise SandboxError(
                    422, "Validation Failed", [{"resource": "IssueComment", "code": "missing_field", "field": "body"}]
                )
            comment = state.add_comment(ctx.repo(owner, name).full_name, issue.number, str(body["body"]), actor)
            url = f"{ctx.base}/repos/{ctx.repo(owner, name).full_name}/issues/comments/{comment.id}"
            return ctx.json(ctx.shapes.comment(comment), status=201, headers={"Location": url})

    @app.get("/repos/{owner}/{name}/issues/{number}/events")
    async def issue_events(owner: str, name: str, number: int, request: Request) -> Response:
        ctx = Ctx(state, request)
        with state.lock:
            issue = _visible_issue(ctx, owner, name, number)
            items = [e for e in state.events if e.repo_id == issue.repo_id and e.issue_number == number]
            items.sort(key=lambda e: (e.created_at, e.id))
            return ctx.page(items, lambda e: ctx.shapes.event(e, with_issue=False))

    @app.get("/repos/{owner}/{name}/issues/{number}/labels")
    async def issue_labels(owner: str, name: str, number: int, request: Request) -> Response:
        ctx = Ctx(state, request)
        with state.lock:
            issue = _visible_issue(ctx, owner, name, number)
            repo = ctx.repo(owner, name)
            return ctx.page(list(issue.labels), lambda n: ctx.shapes.label(repo, n))

    @app.post("/repos/{owner}/{name}/issues/{number}/labels")
    async def add_labels(owner: str, name: str, number: int, request: Request) -> Response:
        return await _change_labels(state, request, owner, name, number, replace=False)

    @app.put("/repos/{owner}/{name}/issues/{number}/labels")
    async def set_labels(owner: str, name: str, number: int, request: Request) -> Response:
        return await _change_labels(state, request, owner, name, number, replace=True)

    @app.delete("/repos/{owner}/{name}/issues/{number}/labels/{label:path}")
    async def remove_label(owner: str, name: str, number: int, label: str, request: Request) -> Response:
        ctx = Ctx(state, request)
        actor = ctx.actor()
        with state.lock:
            issue = _visible_issue(ctx, owner, name, number)
            repo = ctx.repo(owner, name)
            state.remove_label(repo.full_name, issue.number, label, actor)
            return ctx.json([ctx.shapes.label(repo, n) for n in issue.labels])

    @app.post("/repos/{owner}/{name}/issues/{number}/assignees")
    async def add_assignees(owner: str, name: str, number: int, request: Request) -> Response:
        ctx = Ctx(state, request)
        body = await ctx.body()
        actor = ctx.actor()
        with state.lock:
            issue = _visible_issue(ctx, owner, name, number)
            state.add_assignees(ctx.repo(owner, name).full_name, issue.number, _logins(body), actor)
            return ctx.json(ctx.shapes.issue(issue), status=201)

    @app.delete("/repos/{owner}/{name}/issues/{number}/assignees")
    async def remove_assignees(owner: str, name: str, number: int, request: Request) -> Response:
        ctx = Ctx(state, request)
        body = await ctx.body()
        actor = ctx.actor()
        with state.lock:
            issue = _visible_issue(ctx, owner, name, number)
            state.remove_assignees(ctx.repo(owner, name).full_name, issue.number, _logins(body), actor)
            return ctx.json(ctx.shapes.issue(issue))


def _logins(body: Any) -> list[str]:
    raw = body.get("assignees", []) if isinstance(body, dict) else body
    return [raw] if isinstance(raw, str) else [str(x) for x in raw or []]


def _validate_issue_patch(body: dict) -> None:
    """422 for values GitHub rejects."""
    if "state" in body and body["state"] not in ("open", "closed"):
        raise SandboxError(422, "Validation Failed", [{"resource": "Issue", "field": "state", "code": "invalid"}])
    if body.get("state_reason") not in (None, "completed", "not_planned", "reopened", "duplicate"):
        raise SandboxError(
            422, "Validation Failed", [{"resource": "Issue", "field": "state_reason", "code": "invalid"}]
        )
    if "title" in body and (body["title"] is None or not str(body["title"]).strip()):
        raise SandboxError(422, "Validation Failed", [{"resource": "Issue", "field": "title", "code": "missing_field"}])


async def _change_labels(
    state: SandboxState, request: Request, owner: str, name: str, number: int, replace: bool
) -> Response:
    """POST (add) or PUT (replace) an issue's labels; answers the issue's labels."""
    ctx = Ctx(state, request)
    body = await ctx.body()
    actor = ctx.actor()
    with state.lock:
        issue = _visible_issue(ctx, owner, name, number)
        repo = ctx.repo(owner, name)
        names = _label_names(body)
        if replace:
            state.set_labels(repo.full_name, issue.number, names, actor)
        else:
            if not names:
                raise SandboxError(
                    422, "Validation Failed", [{"resource": "Label", "field": "labels", "code": "missing_field"}]
                )
            state.add_labels(repo.full_name, issue.number, names, actor)
        return ctx.json([ctx.shapes.label(repo, n) for n in issue.labels])


# ---------------------------------------------------------------------- pulls
def _pull_or_404(ctx: Ctx, owner: str, name: str, number: int) -> Issue:
    repo = ctx.repo(owner, name)
    issue = ctx.state.issues.get((repo.id, number))
    if issue is None or not issue.is_pull or issue.deleted:
        raise SandboxError(404, "Not Found")
    return issue


def _pull_routes(app: FastAPI, state: SandboxState) -> None:
    @app.get("/repos/{owner}/{name}/pulls")
    async def list_pulls(owner: str, name: str, request: Request) -> Response:
        ctx = Ctx(state, request)
        with state.lock:
            repo = ctx.repo(owner, name)
            wanted = ctx.q("state", "open")
            if wanted not in ("open", "closed", "all"):
                raise SandboxError(
                    422, "Validation Failed", [{"resource": "PullRequest", "field": "state", "code": "invalid"}]
                )
            items = [i for (rid, _), i in state.issues.items() if rid == repo.id and i.is_pull and not i.deleted]
            if wanted != "all":
                items = [i for i in items if i.state == wanted]
            if ctx.q("head"):
                head = ctx.q("head", "")
                owner_part, _, ref = head.partition(":") if ":" in head else ("", "", head)
                items = [
                    i
                    for i in items
                    if i.pull
                    and i.pull.head_ref == ref
                    and (not owner_part or owner_part.lower() == repo.owner.lower())
                ]
            if ctx.q("base"):
                items = [i for i in items if i.pull and i.pull.base_ref == ctx.q("base")]
            sort = ctx.q("sort", "created")
            keys: dict[str, Callable[[Issue], Any]] = {
                "created": lambda i: (i.created_at, i.number),
                "updated": lambda i: (i.updated_at, i.number),
                "popularity": lambda i: (state.comment_count(i), i.number),
                "long-running": lambda i: ((i.updated_at - i.created_at), i.number),
            }
            if sort not in keys:
                raise SandboxError(
                    422, "Validation Failed", [{"resource": "PullRequest", "field": "sort", "code": "invalid"}]
                )
            items.sort(key=keys[sort], reverse=_direction(ctx, "desc"))
            return ctx.page(items, lambda i: ctx.shapes.pull(i, full=False))

    @app.post("/repos/{owner}/{name}/pulls")
    async def create_pull(owner: str, name: str, request: Request) -> Response:
        ctx = Ctx(state, request)
        body = await ctx.body()
        actor = ctx.actor()
        with state.lock:
            repo = ctx.repo(owner, name)
            if not isinstance(body, dict):
                raise SandboxError(400, "Problems parsing JSON")
            for key in ("head", "base"):
                if key not in body:
                    raise SandboxError(422, f'Invalid request.\n\n"{key}" wasn\'t supplied.')
            if not body.get("title") and not body.get("issue"):
                raise SandboxError(
                    422, "Validation Failed", [{"resource": "PullRequest", "code": "missing_field", "field": "title"}]
                )
            issue = state.create_pull(
                repo.full_name,
                actor,
                str(body.get("title")),
                str(body["head"]),
                str(body["base"]),
                body.get("body"),
                bool(body.get("draft", False)),
            )
            return ctx.json(
                ctx.shapes.pull(issue, full=True),
                status=201,
                headers={"Location": f"{ctx.base}/repos/{repo.full_name}/pulls/{issue.number}"},
            )

    @app.get("/repos/{owner}/{name}/pulls/{number}")
    async def get_pull(owner: str, name: str, number: int, request: Request) -> Response:
        ctx = Ctx(state, request)
        with state.lock:
            issue = _pull_or_404(ctx, owner, name, number)
            return ctx.json(ctx.shapes.pull(issue, full=True), last_modified=issue.updated_at)

    @app.patch("/repos/{owner}/{name}/pulls/{number}")
    async def edit_pull(owner: str, name: str, number: int, request: Request) -> Response:
        ctx = Ctx(state, request)
        body = await ctx.body()
        actor = ctx.actor()
        with state.lock:
            issue = _pull_or_404(ctx, owner, name, number)
            if not isinstance(body, dict):
                raise SandboxError(400, "Problems parsing JSON")
            _validate_issue_patch({k: v for k, v in body.items() if k in ("state", "title")})
            changes = {k: body[k] for k in ("title", "body", "state", "base", "maintainer_can_modify") if k in body}
            state.update_pull(ctx.repo(owner, name).full_name, issue.number, actor, **changes)
            return ctx.json(ctx.shapes.pull(issue, full=True))

    @app.put("/repos/{owner}/{name}/pulls/{number}/update-branch")
    async def update_branch(owner: str, name: str, number: int, request: Request) -> Response:
        ctx = Ctx(state, request)
        body = await ctx.body()
        actor = ctx.actor()
        with state.lock:
            issue = _pull_or_404(ctx, owner, name, number)
            expected = body.get("expected_head_sha") if isinstance(body, dict) else None
            if expected and expected != state.pull_shas(issue)[0]:
                raise SandboxError(422, "expected_head_sha does not match the head of the pull request")
            state.update_pull_branch(ctx.repo(owner, name).full_name, issue.number, actor)
            return ctx.json(
                {
                    "message": "Updating pull request branch.",
                    "url": f"{ctx.base}/{ctx.repo(owner, name).full_name}/pull/{number}",
                },
                status=202,
            )

    @app.get("/repos/{owner}/{name}/pulls/{number}/merge")
    async def is_merged(owner: str, name: str, number: int, request: Request) -> Response:
        ctx = Ctx(state, request)
        with state.lock:
            issue = _pull_or_404(ctx, owner, name, number)
            if issue.pull and issue.pull.merged:
                return Response(status_code=204)
            raise SandboxError(404, "Not Found")

    @app.put("/repos/{owner}/{name}/pulls/{number}/merge")
    async def merge_pull(owner: str, name: str, number: int, request: Request) -> Response:
        ctx = Ctx(state, request)
        body = await ctx.body()
        actor = ctx.actor()
        with state.lock:
            issue = _pull_or_404(ctx, owner, name, number)
            body = body if isinstance(body, dict) else {}
            sha = state.merge_pull(
                ctx.repo(owner, name).full_name, issue.number, actor, body.get("sha"), body.get("commit_title")
            )
            return ctx.json({"sha": sha, "merged": True, "message": "Pull Request successfully merged"})

    @app.get("/repos/{owner}/{name}/pulls/{number}/reviews")
    async def reviews(owner: str, name: str, number: int, request: Request) -> Response:
        ctx = Ctx(state, request)
        with state.lock:
            issue = _pull_or_404(ctx, owner, name, number)
            items = [v for v in state.reviews if v.repo_id == issue.repo_id and v.number == number]
            items.sort(key=lambda v: (v.submitted_at, v.id))
            return ctx.page(items, ctx.shapes.review)

    @app.post("/repos/{owner}/{name}/pulls/{number}/reviews")
    async def create_review(owner: str, name: str, number: int, request: Request) -> Response:
        ctx = Ctx(state, request)
        body = await ctx.body()
        actor = ctx.actor()
        with state.lock:
            issue = _pull_or_404(ctx, owner, name, number)
            event = (body.get("event") if isinstance(body, dict) else None) or "COMMENT"
            mapping = {"APPROVE": "APPROVED", "REQUEST_CHANGES": "CHANGES_REQUESTED", "COMMENT": "COMMENTED"}
            if event not in mapping:
                raise SandboxError(
                    422, "Validation Failed", [{"resource": "PullRequestReview", "field": "event", "code": "invalid"}]
                )
            review = state.add_review(
                ctx.repo(owner, name).full_name, issue.number, actor, mapping[event], str(body.get("body") or "")
            )
            return ctx.json(ctx.shapes.review(review))

    @app.get("/repos/{owner}/{name}/pulls/{number}/commits")
    async def pull_commits(owner: str, name: str, number: int, request: Request) -> Response:
        ctx = Ctx(state, request)
        with state.lock:
            issue = _pull_or_404(ctx, owner, name, number)
            repo = ctx.repo(owner, name)
            head_sha, base_sha = state.pull_shas(issue)
            _, _, commits = state.compare(repo, base_sha, head_sha)
            return ctx.page(commits, lambda c: ctx.shapes.commit(repo, c))


# ---------------------------------------------------------------------- git, branches, CI
def _resolve(ctx: Ctx, repo: Repo, ref: str) -> str:
    sha = ctx.state.resolve_ref(repo, ref)
    if sha is None:
        raise SandboxError(
            422 if re.fullmatch(r"[0-9a-f]{40}", ref) else 404,
            f"No commit found for SHA: {ref}" if re.fullmatch(r"[0-9a-f]{40}", ref) else "Not Found",
        )
    return sha


def _git_routes(app: FastAPI, state: SandboxState) -> None:
    @app.get("/repos/{owner}/{name}/branches")
    async def branches(owner: str, name: str, request: Request) -> Response:
        ctx = Ctx(state, request)
        with state.lock:
            repo = ctx.repo(owner, name)
            names = sorted(repo.branches)
            if ctx.q("protected") in ("true", "1"):
                names = [n for n in names if n == repo.default_branch]
            return ctx.page(names, lambda n: ctx.shapes.short_branch(repo, n))

    @app.get("/repos/{owner}/{name}/branches/{branch:path}")
    async def branch(owner: str, name: str, branch: str, request: Request) -> Response:
        ctx = Ctx(state, request)
        with state.lock:
            repo = ctx.repo(owner, name)
            if branch not in repo.branches:
                raise SandboxError(404, "Branch not found")
            return ctx.json(ctx.shapes.branch(repo, branch))

    @app.get("/repos/{owner}/{name}/git/ref/{ref:path}")
    async def git_ref(owner: str, name: str, ref: str, request: Request) -> Response:
        ctx = Ctx(state, request)
        with state.lock:
            repo = ctx.repo(owner, name)
            branch_name = ref.removeprefix("heads/")
            if not ref.startswith("heads/") or branch_name not in repo.branches:
                raise SandboxError(404, "Not Found")
            return ctx.json(ctx.shapes.git_ref(repo, branch_name))

    @app.get("/repos/{owner}/{name}/git/refs/{ref:path}")
    async def git_refs_legacy(owner: str, name: str, ref: str, request: Request) -> Response:
        # The legacy endpoint: an exact ref answers an object, a prefix a list.
        ctx = Ctx(state, request)
        with state.lock:
            repo = ctx.repo(owner, name)
            branch_name = ref.removeprefix("heads/")
            if ref.startswith("heads/") and branch_name in repo.branches:
                return ctx.json(ctx.shapes.git_ref(repo, branch_name))
            hits = _matching(repo, ref)
            if not hits:
                raise SandboxError(404, "Not Found")
            return ctx.json([ctx.shapes.git_ref(repo, b) for b in hits])

    @app.get("/repos/{owner}/{name}/git/refs")
    async def all_refs(owner: str, name: str, request: Request) -> Response:
        ctx = Ctx(state, request)
        with state.lock:
            repo = ctx.repo(owner, name)
            return ctx.page(sorted(repo.branches), lambda b: ctx.shapes.git_ref(repo, b))

    @app.get("/repos/{owner}/{name}/git/matching-refs/{ref:path}")
    async def matching_refs(owner: str, name: str, ref: str, request: Request) -> Response:
        ctx = Ctx(state, request)
        with state.lock:
            repo = ctx.repo(owner, name)
            return ctx.page(_matching(repo, ref), lambda b: ctx.shapes.git_ref(repo, b))

    @app.post("/repos/{owner}/{name}/git/refs")
    async def create_ref(owner: str, name: str, request: Request) -> Response:
        ctx = Ctx(state, request)
        body = await ctx.body()
        ctx.actor()
        with state.lock:
            repo = ctx.repo(owner, name)
            if not isinstance(body, dict) or "ref" not in body or "sha" not in body:
                missing = "ref" if not isinstance(body, dict) or "ref" not in body else "sha"
                raise SandboxError(422, f'Invalid request.\n\n"{missing}" wasn\'t supplied.')
            branch_name = state.create_ref(repo.full_name, str(body["ref"]), str(body["sha"]))
            return ctx.json(
                ctx.shapes.git_ref(repo, branch_name),
                status=201,
                headers={"Location": f"{ctx.base}/repos/{repo.full_name}/git/refs/heads/{branch_name}"},
            )

    @app.delete("/repos/{owner}/{name}/git/refs/{ref:path}")
    async def delete_ref(owner: str, name: str, ref: str, request: Request) -> Response:
        ctx = Ctx(state, request)
        ctx.actor()
        with state.lock:
            repo = ctx.repo(owner, name)
            state.delete_ref(repo.full_name, ref.removeprefix("heads/"))
        return Response(status_code=204)

    @app.get("/repos/{owner}/{name}/compare/{basehead:path}")
    async def compare(owner: str, name: str, basehead: str, request: Request) -> Response:
        ctx = Ctx(state, request)
        with state.lock:
            repo = ctx.repo(owner, name)
            if "..." not in basehead:
                raise SandboxError(404, "Not Found")
            base_ref, head_ref = (part.split(":", 1)[-1] for part in basehead.split("...", 1))
            base_sha, head_sha = _resolve(ctx, repo, base_ref), _resolve(ctx, repo, head_ref)
            return ctx.json(_comparison(ctx, repo, basehead, base_sha, head_sha))

    @app.post("/repos/{owner}/{name}/merges")
    async def merges(owner: str, name: str, request: Request) -> Response:
        ctx = Ctx(state, request)
        body = await ctx.body()
        actor = ctx.actor()
        with state.lock:
            repo = ctx.repo(owner, name)
            if not isinstance(body, dict) or not body.get("base") or not body.get("head"):
                raise SandboxError(
                    422, "Validation Failed", [{"resource": "Merge", "code": "missing_field", "field": "base/head"}]
                )
            sha = state.merge_branches(
                repo.full_name, str(body["base"]), str(body["head"]), body.get("commit_message"), actor
            )
            if sha is None:
                return Response(status_code=204)
            return ctx.json(ctx.shapes.commit(repo, repo.commits[sha]), status=201)

    @app.get("/repos/{owner}/{name}/commits/{ref:path}/check-runs")
    async def check_runs(owner: str, name: str, ref: str, request: Request) -> Response:
        ctx = Ctx(state, request)
        with state.lock:
            repo = ctx.repo(owner, name)
            sha = _resolve(ctx, repo, ref)
            runs = [c for c in state.check_runs if c.repo_id == repo.id and c.head_sha == sha]
            if ctx.q("check_name"):
                runs = [c for c in runs if c.name == ctx.q("check_name")]
            if ctx.q("status"):
                runs = [c for c in runs if c.status == ctx.q("status")]
            if ctx.q("filter", "latest") == "latest":
                latest: dict[str, Any] = {}
                for run in sorted(runs, key=lambda c: (c.started_at, c.id)):
                    latest[run.name] = run
                runs = list(latest.values())
            runs.sort(key=lambda c: (c.started_at, c.id), reverse=True)
            page = ctx.page(runs, ctx.shapes.check_run)
            # check-runs wraps its page in {total_count, check_runs}; rebuild the body, keep Link.
            items = json.loads(page.body) if page.status_code == 200 else None
            if items is None:
                return page
            headers = {"Link": page.headers["link"]} if "link" in page.headers else {}
            return ctx.json({"total_count": len(runs), "check_runs": items}, headers=headers)

    @app.get("/repos/{owner}/{name}/commits/{ref:path}/status")
    async def combined_status(owner: str, name: str, ref: str, request: Request) -> Response:
        ctx = Ctx(state, request)
        with state.lock:
            repo = ctx.repo(owner, name)
            sha = _resolve(ctx, repo, ref)
            latest: dict[str, Any] = {}
            for s in sorted(
                (s for s in state.statuses if s.repo_id == repo.id and s.sha == sha), key=lambda s: (s.created_at, s.id)
            ):
                latest[s.context] = s
            statuses = list(latest.values())
            states = {s.state for s in statuses}
            combined = (
                "failure"
                if states & {"failure", "error"}
                else "pending"
                if not statuses or "pending" in states
                else "success"
            )
            url = f"{ctx.base}/repos/{repo.full_name}/commits/{sha}"
            return ctx.json(
                {
                    "state": combined,
                    "statuses": [ctx.shapes.status(s) for s in statuses],
                    "sha": sha,
                    "total_count": len(statuses),
                    "repository": ctx.shapes.minimal_repo(repo),
                    "commit_url": url,
                    "url": f"{url}/status",
                }
            )

    @app.get("/repos/{owner}/{name}/commits/{ref:path}/statuses")
    async def statuses(owner: str, name: str, ref: str, request: Request) -> Response:
        ctx = Ctx(state, request)
        with state.lock:
            repo = ctx.repo(owner, name)
            sha = _resolve(ctx, repo, ref)
            items = sorted(
                (s for s in state.statuses if s.repo_id == repo.id and s.sha == sha),
                key=lambda s: (s.created_at, s.id),
                reverse=True,
            )
            return ctx.page(items, ctx.shapes.status)

    @app.post("/repos/{owner}/{name}/statuses/{sha}")
    async def create_status(owner: str, name: str, sha: str, request: Request) -> Response:
        ctx = Ctx(state, request)
        body = await ctx.body()
        actor = ctx.actor()
        with state.lock:
            repo = ctx.repo(owner, name)
            if sha not in repo.commits:
                raise SandboxError(422, f"No commit found for SHA: {sha}")
            body = body if isinstance(body, dict) else {}
            status = state.add_status(
                repo.full_name,
                sha,
                str(body.get("state")),
                body.get("context") or "default",
                body.get("description"),
                body.get("target_url"),
                actor,
            )
            return ctx.json(ctx.shapes.status(status), status=201)

    @app.get("/repos/{owner}/{name}/commits/{ref:path}")
    async def get_commit(owner: str, name: str, ref: str, request: Request) -> Response:
        ctx = Ctx(state, request)
        with state.lock:
            repo = ctx.repo(owner, name)
            sha = _resolve(ctx, repo, ref)
            return ctx.json(ctx.shapes.commit(repo, repo.commits[sha]))


def _matching(repo: Repo, ref: str) -> list[str]:
    """Branch names whose refs/heads/<name> starts with refs/<ref>."""
    if not ref.startswith("heads/"):
        return []
    prefix = ref.removeprefix("heads/")
    return sorted(b for b in repo.branches if b.startswith(prefix))


def _comparison(ctx: Ctx, repo: Repo, basehead: str, base_sha: str, head_sha: str) -> dict:
    """commit-comparison for base...head."""
    state = ctx.state
    ahead, behind, commits = state.compare(repo, base_sha, head_sha)
    common = state.ancestors(repo, base_sha) & state.ancestors(repo, head_sha)
    merge_base = max((repo.commits[s] for s in common), key=lambda c: (c.date, c.sha), default=repo.commits[base_sha])
    status = (
        "identical"
        if ahead == 0 and behind == 0
        else "ahead"
        if behind == 0
        else "behind"
        if ahead == 0
        else "diverged"
    )
    url = f"{ctx.base}/repos/{repo.full_name}/compare/{basehead}"
    html = f"{ctx.base}/{repo.full_name}/compare/{basehead}"
    return {
        "url": url,
        "html_url": html,
        "permalink_url": f"{ctx.base}/{repo.full_name}/compare/{base_sha}...{head_sha}",
        "diff_url": f"{html}.diff",
        "patch_url": f"{html}.patch",
        "base_commit": ctx.shapes.commit(repo, repo.commits[base_sha]),
        "merge_base_commit": ctx.shapes.commit(repo, merge_base),
        "status": status,
        "ahead_by": ahead,
        "behind_by": behind,
        "total_commits": ahead,
        "commits": [ctx.shapes.commit(repo, c) for c in commits[:250]],
        "files": [],
    }
