"""Meta, users, orgs and repos: /rate_limit, /user, /users/*, /orgs/*, /repos/{o}/{r} and its labels."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response

from sandbox.context import Context, Ctx, invalid
from sandbox.middleware import rate_bucket_for, token_from
from sandbox.state import Repo, SandboxError

router = APIRouter()


@router.get("/rate_limit")
async def rate_limit(ctx: Context) -> Response:
    token, _ = token_from(ctx.request, ctx.state)
    bucket = rate_bucket_for(ctx.request, ctx.state, token)
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


@router.get("/user")
async def me(ctx: Context) -> Response:
    with ctx.state.lock:
        if ctx.state.user(ctx.actor()).type == "Bot":  # an App's installation token: GitHub says 403
            raise SandboxError(
                403, "Resource not accessible by integration",
                documentation_url="https://docs.github.com/rest/users/users#get-the-authenticated-user",
            )  # fmt: skip
        return ctx.json(ctx.shapes.full_user(ctx.actor(), private=True))


@router.get("/users/{login}")
async def user(login: str, ctx: Context) -> Response:
    with ctx.state.lock:
        _known_user(ctx, login)
        return ctx.json(ctx.shapes.full_user(login))


@router.get("/orgs/{org}")
async def org(org: str, ctx: Context) -> Response:
    with ctx.state.lock:
        _known_org(ctx, org)
        return ctx.json(ctx.shapes.org(org))


@router.get("/orgs/{org}/repos")
async def org_repos(org: str, ctx: Context) -> Response:
    with ctx.state.lock:
        _known_org(ctx, org)
        return _owner_repos(ctx, org, default_sort="created")


@router.get("/users/{login}/repos")
async def user_repos(login: str, ctx: Context) -> Response:
    with ctx.state.lock:
        _known_user(ctx, login)
        return _owner_repos(ctx, login, default_sort="full_name")


@router.get("/repos/{owner}/{name}")
async def get_repo(owner: str, name: str, ctx: Context) -> Response:
    with ctx.state.lock:
        repo = ctx.repo(owner, name)
        return ctx.json(ctx.shapes.repo(repo, full=True), last_modified=repo.updated_at)


@router.get("/repos/{owner}/{name}/labels")
async def labels(owner: str, name: str, ctx: Context) -> Response:
    with ctx.state.lock:
        repo = ctx.repo(owner, name)
        items = sorted(repo.labels.values(), key=lambda lab: lab.name.lower())
        return ctx.page(items, lambda lab: ctx.shapes.label(repo, lab.name))


@router.get("/repos/{owner}/{name}/labels/{label}")
async def label(owner: str, name: str, label: str, ctx: Context) -> Response:
    with ctx.state.lock:
        repo = ctx.repo(owner, name)
        if label.lower() not in repo.labels:
            raise SandboxError(404, "Not Found")
        return ctx.json(ctx.shapes.label(repo, label))


@router.post("/repos/{owner}/{name}/labels")
async def create_label(owner: str, name: str, ctx: Context) -> Response:
    body = await ctx.body()
    ctx.actor()
    with ctx.state.lock:
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
            raise SandboxError(422, "Validation Failed", [{"resource": "Label", "code": "invalid", "field": "color"}])
        ctx.state.add_label(repo.full_name, label_name, color, body.get("description"))
        return ctx.json(ctx.shapes.label(repo, label_name), status=201)


def _known_user(ctx: Ctx, login: str) -> None:
    if login.lower() not in ctx.state.users:
        raise SandboxError(404, "Not Found")


def _known_org(ctx: Ctx, org: str) -> None:
    if org.lower() not in ctx.state.orgs:
        raise SandboxError(404, "Not Found")


REPO_SORT_KEYS: dict[str, Callable[[Repo], Any]] = {
    "created": lambda r: (r.created_at, r.id),
    "updated": lambda r: (r.updated_at, r.id),
    "pushed": lambda r: (r.pushed_at, r.id),
    "full_name": lambda r: r.full_name.lower(),
}


def _owner_repos(ctx: Ctx, owner: str, default_sort: str) -> Response:
    """Repos of an org or user with type, sort and direction."""
    repos = [r for r in ctx.state.repos.values() if r.owner.lower() == owner.lower()]
    kind = ctx.q("type", "all")
    if ctx.login is None or kind == "public":
        repos = [r for r in repos if not r.private]  # anonymous callers never see private repos
    elif kind == "private":
        repos = [r for r in repos if r.private]
    sort = ctx.q("sort", default_sort)
    if sort not in REPO_SORT_KEYS:
        raise invalid("Repository", "sort")
    desc = ctx.descending("asc" if sort == "full_name" else "desc")
    repos.sort(key=REPO_SORT_KEYS[sort], reverse=desc)
    return ctx.page(repos, ctx.shapes.repo)
