"""The sandbox's HTTP seams: routers per resource, the request context as a dependency,
the GitHub middleware and the shape families (the endpoints themselves: test_sandbox.py)."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import httpx
import pytest
from fastapi.routing import APIRoute
from starlette.requests import Request

from sandbox.app import create_app
from sandbox.context import context, current_state
from sandbox.middleware import token_from
from sandbox.routes import ROUTERS, admin, git, issues
from sandbox.routes.git import _combined_state, _compare_status
from sandbox.seed import reset_demo
from sandbox.server import SandboxServer
from sandbox.shapes import Shapes
from sandbox.shapes.accounts import AccountShapes
from sandbox.shapes.git import GitShapes
from sandbox.shapes.issues import IssueShapes
from sandbox.shapes.pulls import PullShapes
from sandbox.shapes.repos import REPO_URL_TEMPLATES, RepoShapes
from sandbox.state import DEFAULT_TOKEN, SandboxState, Status

NOW = datetime(2026, 2, 4, 12, tzinfo=UTC)
AUTH = {"Authorization": f"token {DEFAULT_TOKEN}"}


@pytest.fixture(scope="module")
def state() -> SandboxState:
    state = SandboxState()
    reset_demo(state, seed=7, now=NOW)
    return state


@pytest.fixture(scope="module")
def client(state: SandboxState):
    with SandboxServer(state=state) as server, httpx.Client(base_url=server.url) as http:
        yield http


def _paths(router) -> list[str]:
    return [route.path for route in router.routes if isinstance(route, APIRoute)]


def _dependency_calls(route: APIRoute) -> set:
    return {dependency.call for dependency in route.dependant.dependencies}


def test_every_github_route_takes_its_context_from_the_dependency():
    github_routers = [router for router in ROUTERS if router is not admin.router]
    routes = [route for router in github_routers for route in router.routes if isinstance(route, APIRoute)]
    assert len(routes) > 50
    assert [route.path for route in routes if context not in _dependency_calls(route)] == []
    assert all(current_state in _dependency_calls(route) for route in admin.router.routes)


def test_literal_paths_come_before_the_parameters_they_would_match():
    issue_paths, git_paths = _paths(issues.router), _paths(git.router)
    assert issue_paths.index("/repos/{owner}/{name}/issues/comments") < issue_paths.index(
        "/repos/{owner}/{name}/issues/{number}"
    )
    assert git_paths.index("/repos/{owner}/{name}/commits/{ref:path}/check-runs") < git_paths.index(
        "/repos/{owner}/{name}/commits/{ref:path}"
    )


def test_the_app_serves_every_router(state: SandboxState):
    app = create_app(state)
    served = {(route.path, method) for route in _all_routes(app.routes) for method in route.methods}
    for router in ROUTERS:
        for route in router.routes:
            assert {(route.path, method) for method in route.methods} <= served


def _all_routes(routes):
    for route in routes:
        inner = getattr(route, "original_router", None)  # FastAPI >= 0.150 wraps an included router
        yield from _all_routes(inner.routes) if inner is not None else [route]


def test_context_follows_the_accept_media_type_and_the_token(client: httpx.Client):
    full = client.get("/repos/dappcore/core/issues/1", headers={**AUTH, "Accept": "application/vnd.github.full+json"})
    raw = client.get("/repos/dappcore/core/issues/1", headers=AUTH)
    assert {"body", "body_text", "body_html"} <= full.json().keys()
    assert "body_text" not in raw.json()
    assert client.get("/user", headers=AUTH).json()["login"] == "Snider"
    assert client.get("/user").status_code == 401


def test_a_matching_etag_answers_304_and_does_not_count(client: httpx.Client):
    first = client.get("/repos/dappcore/core", headers=AUTH)
    again = client.get("/repos/dappcore/core", headers={**AUTH, "If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304 and again.content == b""
    assert again.headers["X-RateLimit-Used"] == first.headers["X-RateLimit-Used"]
    assert again.headers["ETag"] == first.headers["ETag"]


def test_admin_paths_skip_the_github_layer_but_carry_the_sandbox_date(client: httpx.Client):
    answer = client.get("/_sandbox/faults")
    assert answer.status_code == 200
    assert "X-RateLimit-Limit" not in answer.headers
    assert answer.headers["Date"].endswith("GMT")


def _request_with(authorization: str | None) -> Request:
    headers = [(b"authorization", authorization.encode())] if authorization else []
    return Request({"type": "http", "method": "GET", "path": "/", "headers": headers, "query_string": b""})


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, (None, False)),
        (f"token {DEFAULT_TOKEN}", (DEFAULT_TOKEN, False)),
        (f"Bearer {DEFAULT_TOKEN}", (DEFAULT_TOKEN, False)),
        ("Basic " + base64.b64encode(f"x:{DEFAULT_TOKEN}".encode()).decode(), (DEFAULT_TOKEN, False)),
        ("token wrong", (None, True)),
        (f"Digest {DEFAULT_TOKEN}", (None, True)),
        ("Basic !!!", (None, True)),
    ],
)
def test_token_from_reads_githubs_authorization_schemes(state: SandboxState, header, expected):
    assert token_from(_request_with(header), state) == expected


def test_shapes_are_one_class_over_the_resource_families(state: SandboxState):
    assert issubclass(Shapes, (AccountShapes, RepoShapes, IssueShapes, PullShapes, GitShapes))
    shapes = Shapes(state, "http://sandbox")
    keys = list(shapes.repo(state.repo("dappcore/core")))
    url_at = keys.index("url")
    assert keys[:3] == ["id", "node_id", "name"]
    assert keys[url_at + 1 : url_at + 1 + len(REPO_URL_TEMPLATES)] == [key for key, _ in REPO_URL_TEMPLATES]
    assert list(shapes.repo(state.repo("dappcore/core"), full=True))[-1] == "organization"


def _status(state: str) -> Status:
    return Status(
        id=1,
        repo_id=1,
        sha="0" * 40,
        state=state,
        context="ci",
        description=None,
        target_url=None,
        creator="Snider",
        created_at=NOW,
        updated_at=NOW,
    )


def test_combined_status_and_compare_status_follow_github():
    assert _combined_state([]) == "pending"
    assert _combined_state([_status("success"), _status("pending")]) == "pending"
    assert _combined_state([_status("success"), _status("error")]) == "failure"
    assert _combined_state([_status("success")]) == "success"
    assert [_compare_status(a, b) for a, b in [(0, 0), (2, 0), (0, 1), (1, 1)]] == [
        "identical",
        "ahead",
        "behind",
        "diverged",
    ]
