"""Issues and their comments, events, labels and assignees: /repos/{o}/{r}/issues/*."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response

from sandbox.context import Context, Ctx, invalid, parse_time
from sandbox.errors import Moved
from sandbox.shapes import DOCS
from sandbox.state import Issue, Repo, SandboxError

router = APIRouter()
ISSUE = "/repos/{owner}/{name}/issues/{number}"


# ---------------------------------------------------------------------- the repo's issues
@router.get("/repos/{owner}/{name}/issues")
async def list_issues(owner: str, name: str, ctx: Context) -> Response:
    with ctx.state.lock:
        repo = ctx.repo(owner, name)
        return ctx.page(_filter_issues(ctx, repo), ctx.shapes.issue)


@router.post("/repos/{owner}/{name}/issues")
async def create_issue(owner: str, name: str, ctx: Context) -> Response:
    body = await ctx.body()
    actor = ctx.actor()
    with ctx.state.lock:
        repo = ctx.repo(owner, name)
        _validate_new_issue(body)
        assignees = _assignees(body)
        unknown = [a for a in assignees if a.lower() not in ctx.state.users]
        if unknown:
            raise invalid("Issue", "assignees", value=unknown[0])
        issue = ctx.state.create_issue(
            repo.full_name, actor, str(body["title"]), body.get("body"), labels=_label_names(body), assignees=assignees
        )
        return ctx.json(
            ctx.shapes.issue(issue),
            status=201,
            headers={"Location": f"{ctx.base}/repos/{repo.full_name}/issues/{issue.number}"},
        )


# ---------------------------------------------------------------------- repo-wide comments and events
@router.get("/repos/{owner}/{name}/issues/comments")
async def repo_comments(owner: str, name: str, ctx: Context) -> Response:
    with ctx.state.lock:
        repo = ctx.repo(owner, name)
        items = _since(ctx, [c for c in ctx.state.comments if c.repo_id == repo.id])
        sort = ctx.q("sort", "created")
        if sort not in ("created", "updated"):
            raise invalid("IssueComment", "sort")
        key = (lambda c: (c.created_at, c.id)) if sort == "created" else (lambda c: (c.updated_at, c.id))
        items.sort(key=key, reverse=ctx.descending("asc"))
        return ctx.page(items, ctx.shapes.comment)


@router.get("/repos/{owner}/{name}/issues/comments/{comment_id}")
async def get_comment(owner: str, name: str, comment_id: int, ctx: Context) -> Response:
    with ctx.state.lock:
        return ctx.json(ctx.shapes.comment(ctx.state.find_comment(ctx.repo(owner, name).full_name, comment_id)))


@router.patch("/repos/{owner}/{name}/issues/comments/{comment_id}")
async def edit_comment(owner: str, name: str, comment_id: int, ctx: Context) -> Response:
    body = await ctx.body()
    ctx.actor()
    with ctx.state.lock:
        if not isinstance(body, dict) or not body.get("body"):
            raise _missing_comment_body()
        comment = ctx.state.edit_comment(ctx.repo(owner, name).full_name, comment_id, str(body["body"]))
        return ctx.json(ctx.shapes.comment(comment))


@router.delete("/repos/{owner}/{name}/issues/comments/{comment_id}")
async def delete_comment(owner: str, name: str, comment_id: int, ctx: Context) -> Response:
    ctx.actor()
    with ctx.state.lock:
        ctx.state.delete_comment(ctx.repo(owner, name).full_name, comment_id)
    return Response(status_code=204)


@router.get("/repos/{owner}/{name}/issues/events")
async def repo_events(owner: str, name: str, ctx: Context) -> Response:
    state = ctx.state
    with state.lock:
        repo = ctx.repo(owner, name)
        items = [
            e for e in state.events if e.repo_id == repo.id and not state.issues[(repo.id, e.issue_number)].deleted
        ]
        items.sort(key=lambda e: (e.created_at, e.id), reverse=True)
        return ctx.page(items, lambda e: ctx.shapes.event(e, with_issue=True))


@router.get("/repos/{owner}/{name}/issues/events/{event_id}")
async def get_event(owner: str, name: str, event_id: int, ctx: Context) -> Response:
    with ctx.state.lock:
        repo = ctx.repo(owner, name)
        for e in ctx.state.events:
            if e.id == event_id and e.repo_id == repo.id:
                return ctx.json(ctx.shapes.event(e, with_issue=True))
        raise SandboxError(404, "Not Found")


# ---------------------------------------------------------------------- one issue
@router.get(ISSUE)
async def get_issue(owner: str, name: str, number: int, ctx: Context) -> Response:
    with ctx.state.lock:
        issue = _visible_issue(ctx, owner, name, number)
        return ctx.json(ctx.shapes.issue(issue), last_modified=issue.updated_at)


@router.patch(ISSUE)
async def edit_issue(owner: str, name: str, number: int, ctx: Context) -> Response:
    body = await ctx.body()
    actor = ctx.actor()
    with ctx.state.lock:
        issue = _visible_issue(ctx, owner, name, number)
        if not isinstance(body, dict):
            raise SandboxError(400, "Problems parsing JSON")
        validate_issue_patch(body)
        changes: dict[str, Any] = {k: body[k] for k in ("title", "body", "state", "state_reason") if k in body}
        if "labels" in body:
            changes["labels"] = _label_names(body)
        if "assignees" in body or "assignee" in body:
            changes["assignees"] = _assignees(body)
        ctx.state.update_issue(ctx.repo(owner, name).full_name, issue.number, actor, **changes)
        return ctx.json(ctx.shapes.issue(issue))


@router.get(ISSUE + "/comments")
async def issue_comments(owner: str, name: str, number: int, ctx: Context) -> Response:
    with ctx.state.lock:
        issue = _visible_issue(ctx, owner, name, number)
        items = [c for c in ctx.state.comments if c.repo_id == issue.repo_id and c.issue_number == number]
        return ctx.page(_since(ctx, items), ctx.shapes.comment)


@router.post(ISSUE + "/comments")
async def create_comment(owner: str, name: str, number: int, ctx: Context) -> Response:
    body = await ctx.body()
    actor = ctx.actor()
    with ctx.state.lock:
        issue = _visible_issue(ctx, owner, name, number)
        if not isinstance(body, dict) or "body" not in body:
            raise SandboxError(422, 'Invalid request.\n\n"body" wasn\'t supplied.')
        if not str(body["body"]).strip():
            raise _missing_comment_body()
        comment = ctx.state.add_comment(ctx.repo(owner, name).full_name, issue.number, str(body["body"]), actor)
        url = f"{ctx.base}/repos/{ctx.repo(owner, name).full_name}/issues/comments/{comment.id}"
        return ctx.json(ctx.shapes.comment(comment), status=201, headers={"Location": url})


@router.get(ISSUE + "/events")
async def issue_events(owner: str, name: str, number: int, ctx: Context) -> Response:
    with ctx.state.lock:
        issue = _visible_issue(ctx, owner, name, number)
        items = [e for e in ctx.state.events if e.repo_id == issue.repo_id and e.issue_number == number]
        items.sort(key=lambda e: (e.created_at, e.id))
        return ctx.page(items, lambda e: ctx.shapes.event(e, with_issue=False))


@router.get(ISSUE + "/labels")
async def issue_labels(owner: str, name: str, number: int, ctx: Context) -> Response:
    with ctx.state.lock:
        issue = _visible_issue(ctx, owner, name, number)
        repo = ctx.repo(owner, name)
        return ctx.page(list(issue.labels), lambda n: ctx.shapes.label(repo, n))


@router.post(ISSUE + "/labels")
async def add_labels(owner: str, name: str, number: int, ctx: Context) -> Response:
    return await _change_labels(ctx, owner, name, number, replace=False)


@router.put(ISSUE + "/labels")
async def set_labels(owner: str, name: str, number: int, ctx: Context) -> Response:
    return await _change_labels(ctx, owner, name, number, replace=True)


@router.delete(ISSUE + "/labels/{label:path}")
async def remove_label(owner: str, name: str, number: int, label: str, ctx: Context) -> Response:
    actor = ctx.actor()
    with ctx.state.lock:
        issue = _visible_issue(ctx, owner, name, number)
        repo = ctx.repo(owner, name)
        ctx.state.remove_label(repo.full_name, issue.number, label, actor)
        return ctx.json([ctx.shapes.label(repo, n) for n in issue.labels])


@router.post(ISSUE + "/assignees")
async def add_assignees(owner: str, name: str, number: int, ctx: Context) -> Response:
    body = await ctx.body()
    actor = ctx.actor()
    with ctx.state.lock:
        issue = _visible_issue(ctx, owner, name, number)
        ctx.state.add_assignees(ctx.repo(owner, name).full_name, issue.number, _logins(body), actor)
        return ctx.json(ctx.shapes.issue(issue), status=201)


@router.delete(ISSUE + "/assignees")
async def remove_assignees(owner: str, name: str, number: int, ctx: Context) -> Response:
    body = await ctx.body()
    actor = ctx.actor()
    with ctx.state.lock:
        issue = _visible_issue(ctx, owner, name, number)
        ctx.state.remove_assignees(ctx.repo(owner, name).full_name, issue.number, _logins(body), actor)
        return ctx.json(ctx.shapes.issue(issue))


# ---------------------------------------------------------------------- helpers
def _visible_issue(ctx: Ctx, owner: str, name: str, number: int) -> Issue:
    """The issue, or GitHub's 410 (deleted) / 301 (transferred) answers as errors."""
    repo = ctx.repo(owner, name)
    issue = ctx.state.issues.get((repo.id, number))
    if issue is None:
        raise SandboxError(404, "Not Found")
    if issue.deleted:
        raise SandboxError(410, "This issue was deleted", documentation_url=f"{DOCS}/issues/issues#get-an-issue")
    if issue.moved_to is not None:
        raise Moved(f"{ctx.base}/repositories/{issue.moved_to[0]}/issues/{issue.moved_to[1]}")
    return issue


def _filter_issues(ctx: Ctx, repo: Repo) -> list[Issue]:
    """GET /issues filters: state, labels, assignee, creator, since; then sort and direction."""
    state = ctx.q("state", "open")
    if state not in ("open", "closed", "all"):
        raise invalid("Issue", "state")
    items = [i for (rid, _), i in ctx.state.issues.items() if rid == repo.id and not i.deleted and i.moved_to is None]
    if state != "all":
        items = [i for i in items if i.state == state]
    if ctx.q("labels"):
        wanted = {w.strip().lower() for w in ctx.q("labels", "").split(",") if w.strip()}
        items = [i for i in items if wanted <= {n.lower() for n in i.labels}]
    items = _by_assignee(items, ctx.q("assignee"))
    if ctx.q("creator"):
        items = [i for i in items if i.user.lower() == ctx.q("creator", "").lower()]
    if ctx.q("milestone") not in (None, "*", "none"):
        items = []  # the sandbox has no milestones
    if ctx.q("since"):
        since = parse_time(ctx.q("since", ""), "since")
        items = [i for i in items if i.updated_at >= since]
    return _sorted_issues(ctx, items)


def _by_assignee(items: list[Issue], assignee: str | None) -> list[Issue]:
    """`assignee`: none, * (anyone) or a login."""
    if assignee == "none":
        return [i for i in items if not i.assignees]
    if assignee == "*":
        return [i for i in items if i.assignees]
    if assignee:
        return [i for i in items if assignee.lower() in (a.lower() for a in i.assignees)]
    return items


def _sorted_issues(ctx: Ctx, items: list[Issue]) -> list[Issue]:
    """`sort` (created, updated, comments) and `direction`, number breaking ties."""
    sort = ctx.q("sort", "created")
    keys: dict[str, Callable[[Issue], Any]] = {
        "created": lambda i: (i.created_at, i.number),
        "updated": lambda i: (i.updated_at, i.number),
        "comments": lambda i: (ctx.state.comment_count(i), i.number),
    }
    if sort not in keys:
        raise invalid("Issue", "sort")
    items.sort(key=keys[sort], reverse=ctx.descending())
    return items


def _since(ctx: Ctx, comments: list) -> list:
    """Comments updated at or after the `since` query parameter (all without it)."""
    if ctx.q("since"):
        since = parse_time(ctx.q("since", ""), "since")
        return [c for c in comments if c.updated_at >= since]
    return comments


def _validate_new_issue(body: Any) -> None:
    """422 for a create-issue body without a title (GitHub's two different messages)."""
    if not isinstance(body, dict) or "title" not in body:
        raise SandboxError(
            422,
            'Invalid request.\n\n"title" wasn\'t supplied.',
            documentation_url=f"{DOCS}/issues/issues#create-an-issue",
        )
    if not str(body.get("title") or "").strip():
        raise SandboxError(422, "Validation Failed", [{"resource": "Issue", "code": "missing_field", "field": "title"}])


def validate_issue_patch(body: dict) -> None:
    """422 for values GitHub rejects (PR edits use it too)."""
    if "state" in body and body["state"] not in ("open", "closed"):
        raise invalid("Issue", "state")
    if body.get("state_reason") not in (None, "completed", "not_planned", "reopened", "duplicate"):
        raise invalid("Issue", "state_reason")
    if "title" in body and (body["title"] is None or not str(body["title"]).strip()):
        raise invalid("Issue", "title", "missing_field")


def _missing_comment_body() -> SandboxError:
    return SandboxError(
        422, "Validation Failed", [{"resource": "IssueComment", "code": "missing_field", "field": "body"}]
    )


def _label_names(body: Any) -> list[str]:
    """Label names from `{"labels": [...]}`, a bare list, or label objects."""
    raw = body.get("labels", []) if isinstance(body, dict) else body
    if isinstance(raw, str):
        raw = [raw]
    names = []
    for item in raw or []:
        names.append(item.get("name") if isinstance(item, dict) else str(item))
    return [n for n in names if n]


def _assignees(body: dict) -> list[str]:
    """`assignees`, or the older single `assignee`."""
    return list(body.get("assignees") or ([body["assignee"]] if body.get("assignee") else []))


def _logins(body: Any) -> list[str]:
    raw = body.get("assignees", []) if isinstance(body, dict) else body
    return [raw] if isinstance(raw, str) else [str(x) for x in raw or []]


async def _change_labels(ctx: Ctx, owner: str, name: str, number: int, replace: bool) -> Response:
    """POST (add) or PUT (replace) an issue's labels; answers the issue's labels."""
    body = await ctx.body()
    actor = ctx.actor()
    with ctx.state.lock:
        issue = _visible_issue(ctx, owner, name, number)
        repo = ctx.repo(owner, name)
        names = _label_names(body)
        if replace:
            ctx.state.set_labels(repo.full_name, issue.number, names, actor)
        else:
            if not names:
                raise invalid("Label", "labels", "missing_field")
            ctx.state.add_labels(repo.full_name, issue.number, names, actor)
        return ctx.json([ctx.shapes.label(repo, n) for n in issue.labels])
