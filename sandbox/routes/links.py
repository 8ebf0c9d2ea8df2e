"""Native sub-issues, issue dependencies and PR review comments: /repos/{o}/{r}/issues/{n}/sub_issues,
/parent, /dependencies/blocked_by, /dependencies/blocking and /repos/{o}/{r}/pulls/{n}/comments."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response

from sandbox.context import Context, Ctx, invalid
from sandbox.routes.issues import _visible_issue
from sandbox.state import Issue, SandboxError

router = APIRouter()
ISSUE = "/repos/{owner}/{name}/issues/{number}"


def _issue_id(body: Any, field: str) -> int:
    """The integer id named `field` in a JSON body (422 otherwise)."""
    value = body.get(field) if isinstance(body, dict) else None
    if not isinstance(value, int) or isinstance(value, bool):
        raise invalid("Issue", field, "missing_field" if value is None else "invalid")
    return value


def _other(ctx: Ctx, issue_id: int) -> Issue:
    """The issue a body names by id (404 when there is none)."""
    found = ctx.state.issue_by_id(issue_id)
    if found is None:
        raise SandboxError(404, "Not Found")
    return found


def _created(ctx: Ctx, issue: Issue) -> Response:
    return ctx.json(ctx.shapes.issue(issue), status=201)


@router.get(ISSUE + "/sub_issues")
async def list_sub_issues(owner: str, name: str, number: int, ctx: Context) -> Response:
    with ctx.state.lock:
        issue = _visible_issue(ctx, owner, name, number)
        return ctx.page(ctx.state.sub_issues_of(issue), ctx.shapes.issue)


@router.post(ISSUE + "/sub_issues")
async def add_sub_issue(owner: str, name: str, number: int, ctx: Context) -> Response:
    body = await ctx.body()
    ctx.actor()
    with ctx.state.lock:
        parent = _visible_issue(ctx, owner, name, number)
        child = _other(ctx, _issue_id(body, "sub_issue_id"))
        ctx.state.add_sub_issue(parent, child, replace_parent=bool(body.get("replace_parent")))
        return _created(ctx, parent)


@router.delete(ISSUE + "/sub_issue")
async def remove_sub_issue(owner: str, name: str, number: int, ctx: Context) -> Response:
    body = await ctx.body()
    ctx.actor()
    with ctx.state.lock:
        parent = _visible_issue(ctx, owner, name, number)
        child = _other(ctx, _issue_id(body, "sub_issue_id"))
        return ctx.json(ctx.shapes.issue(ctx.state.remove_sub_issue(parent, child)))


@router.get(ISSUE + "/parent")
async def get_parent(owner: str, name: str, number: int, ctx: Context) -> Response:
    with ctx.state.lock:
        parent = ctx.state.parent_of(_visible_issue(ctx, owner, name, number))
        if parent is None:
            raise SandboxError(404, "Not Found")
        return ctx.json(ctx.shapes.issue(parent))


@router.get(ISSUE + "/dependencies/blocked_by")
async def list_blocked_by(owner: str, name: str, number: int, ctx: Context) -> Response:
    with ctx.state.lock:
        issue = _visible_issue(ctx, owner, name, number)
        return ctx.page(ctx.state.blocked_by_of(issue), ctx.shapes.issue)


@router.post(ISSUE + "/dependencies/blocked_by")
async def add_blocked_by(owner: str, name: str, number: int, ctx: Context) -> Response:
    body = await ctx.body()
    ctx.actor()
    with ctx.state.lock:
        issue = _visible_issue(ctx, owner, name, number)
        blocker = _other(ctx, _issue_id(body, "issue_id"))
        return _created(ctx, ctx.state.add_blocked_by(issue, blocker))


@router.delete(ISSUE + "/dependencies/blocked_by/{issue_id}")
async def remove_blocked_by(owner: str, name: str, number: int, issue_id: int, ctx: Context) -> Response:
    ctx.actor()
    with ctx.state.lock:
        issue = _visible_issue(ctx, owner, name, number)
        return ctx.json(ctx.shapes.issue(ctx.state.remove_blocked_by(issue, _other(ctx, issue_id))))


@router.get(ISSUE + "/dependencies/blocking")
async def list_blocking(owner: str, name: str, number: int, ctx: Context) -> Response:
    with ctx.state.lock:
        issue = _visible_issue(ctx, owner, name, number)
        return ctx.page(ctx.state.blocking_of(issue), ctx.shapes.issue)


@router.get("/repos/{owner}/{name}/pulls/{number}/comments")
async def review_comments(owner: str, name: str, number: int, ctx: Context) -> Response:
    with ctx.state.lock:
        repo = ctx.repo(owner, name)
        issue = ctx.state.issues.get((repo.id, number))
        if issue is None or not issue.is_pull or issue.deleted:
            raise SandboxError(404, "Not Found")
        items = [c for c in ctx.state.review_comments if c.repo_id == repo.id and c.number == number]
        items.sort(key=lambda c: (c.created_at, c.id))
        return ctx.page(items, ctx.shapes.review_comment)


@router.get("/repos/{owner}/{name}/pulls/comments/{comment_id}")
async def review_comment(owner: str, name: str, comment_id: int, ctx: Context) -> Response:
    with ctx.state.lock:
        repo = ctx.repo(owner, name)
        found = next((c for c in ctx.state.review_comments if c.id == comment_id and c.repo_id == repo.id), None)
        if found is None:
            raise SandboxError(404, "Not Found")
        return ctx.json(ctx.shapes.review_comment(found))
