"""Pull requests: /repos/{o}/{r}/pulls/* (listing, create, edit, update-branch, merge, reviews, commits)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response

from sandbox.context import Context, Ctx, invalid
from sandbox.routes.issues import validate_issue_patch
from sandbox.state import Issue, Repo, SandboxError

router = APIRouter()
PULL = "/repos/{owner}/{name}/pulls/{number}"
REVIEW_STATES = {"APPROVE": "APPROVED", "REQUEST_CHANGES": "CHANGES_REQUESTED", "COMMENT": "COMMENTED"}


@router.get("/repos/{owner}/{name}/pulls")
async def list_pulls(owner: str, name: str, ctx: Context) -> Response:
    with ctx.state.lock:
        repo = ctx.repo(owner, name)
        wanted = ctx.q("state", "open")
        if wanted not in ("open", "closed", "all"):
            raise invalid("PullRequest", "state")
        items = [i for (rid, _), i in ctx.state.issues.items() if rid == repo.id and i.is_pull and not i.deleted]
        if wanted != "all":
            items = [i for i in items if i.state == wanted]
        if ctx.q("head"):
            items = _by_head(items, repo, ctx.q("head", ""))
        if ctx.q("base"):
            items = [i for i in items if i.pull and i.pull.base_ref == ctx.q("base")]
        return ctx.page(_sorted_pulls(ctx, items), lambda i: ctx.shapes.pull(i, full=False))


@router.post("/repos/{owner}/{name}/pulls")
async def create_pull(owner: str, name: str, ctx: Context) -> Response:
    body = await ctx.body()
    actor = ctx.actor()
    with ctx.state.lock:
        repo = ctx.repo(owner, name)
        _validate_new_pull(body)
        issue = ctx.state.create_pull(
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


@router.get(PULL)
async def get_pull(owner: str, name: str, number: int, ctx: Context) -> Response:
    with ctx.state.lock:
        issue = _pull_or_404(ctx, owner, name, number)
        return ctx.json(ctx.shapes.pull(issue, full=True), last_modified=issue.updated_at)


@router.patch(PULL)
async def edit_pull(owner: str, name: str, number: int, ctx: Context) -> Response:
    body = await ctx.body()
    actor = ctx.actor()
    with ctx.state.lock:
        issue = _pull_or_404(ctx, owner, name, number)
        if not isinstance(body, dict):
            raise SandboxError(400, "Problems parsing JSON")
        validate_issue_patch({k: v for k, v in body.items() if k in ("state", "title")})
        changes = {k: body[k] for k in ("title", "body", "state", "base", "maintainer_can_modify") if k in body}
        ctx.state.update_pull(ctx.repo(owner, name).full_name, issue.number, actor, **changes)
        return ctx.json(ctx.shapes.pull(issue, full=True))


@router.put(PULL + "/update-branch")
async def update_branch(owner: str, name: str, number: int, ctx: Context) -> Response:
    body = await ctx.body()
    actor = ctx.actor()
    with ctx.state.lock:
        issue = _pull_or_404(ctx, owner, name, number)
        expected = body.get("expected_head_sha") if isinstance(body, dict) else None
        if expected and expected != ctx.state.pull_shas(issue)[0]:
            raise SandboxError(422, "expected_head_sha does not match the head of the pull request")
        ctx.state.update_pull_branch(ctx.repo(owner, name).full_name, issue.number, actor)
        return ctx.json(
            {
                "message": "Updating pull request branch.",
                "url": f"{ctx.base}/{ctx.repo(owner, name).full_name}/pull/{number}",
            },
            status=202,
        )


@router.get(PULL + "/merge")
async def is_merged(owner: str, name: str, number: int, ctx: Context) -> Response:
    with ctx.state.lock:
        issue = _pull_or_404(ctx, owner, name, number)
        if issue.pull and issue.pull.merged:
            return Response(status_code=204)
        raise SandboxError(404, "Not Found")


@router.put(PULL + "/merge")
async def merge_pull(owner: str, name: str, number: int, ctx: Context) -> Response:
    body = await ctx.body()
    actor = ctx.actor()
    with ctx.state.lock:
        issue = _pull_or_404(ctx, owner, name, number)
        body = body if isinstance(body, dict) else {}
        sha = ctx.state.merge_pull(
            ctx.repo(owner, name).full_name, issue.number, actor, body.get("sha"), body.get("commit_title")
        )
        return ctx.json({"sha": sha, "merged": True, "message": "Pull Request successfully merged"})


@router.get(PULL + "/reviews")
async def reviews(owner: str, name: str, number: int, ctx: Context) -> Response:
    with ctx.state.lock:
        issue = _pull_or_404(ctx, owner, name, number)
        items = [v for v in ctx.state.reviews if v.repo_id == issue.repo_id and v.number == number]
        items.sort(key=lambda v: (v.submitted_at, v.id))
        return ctx.page(items, ctx.shapes.review)


@router.post(PULL + "/reviews")
async def create_review(owner: str, name: str, number: int, ctx: Context) -> Response:
    body = await ctx.body()
    actor = ctx.actor()
    with ctx.state.lock:
        issue = _pull_or_404(ctx, owner, name, number)
        event = (body.get("event") if isinstance(body, dict) else None) or "COMMENT"
        if event not in REVIEW_STATES:
            raise invalid("PullRequestReview", "event")
        review = ctx.state.add_review(
            ctx.repo(owner, name).full_name, issue.number, actor, REVIEW_STATES[event], str(body.get("body") or "")
        )
        return ctx.json(ctx.shapes.review(review))


@router.get(PULL + "/commits")
async def pull_commits(owner: str, name: str, number: int, ctx: Context) -> Response:
    with ctx.state.lock:
        issue = _pull_or_404(ctx, owner, name, number)
        repo = ctx.repo(owner, name)
        head_sha, base_sha = ctx.state.pull_shas(issue)
        _, _, commits = ctx.state.compare(repo, base_sha, head_sha)
        return ctx.page(commits, lambda c: ctx.shapes.commit(repo, c))


def _pull_or_404(ctx: Ctx, owner: str, name: str, number: int) -> Issue:
    repo = ctx.repo(owner, name)
    issue = ctx.state.issues.get((repo.id, number))
    if issue is None or not issue.is_pull or issue.deleted:
        raise SandboxError(404, "Not Found")
    return issue


def _by_head(items: list[Issue], repo: Repo, head: str) -> list[Issue]:
    """`head`: a branch, or `owner:branch` (the owner must be the repo's: the sandbox has no forks)."""
    owner_part, _, ref = head.partition(":") if ":" in head else ("", "", head)
    return [
        i
        for i in items
        if i.pull and i.pull.head_ref == ref and (not owner_part or owner_part.lower() == repo.owner.lower())
    ]


def _sorted_pulls(ctx: Ctx, items: list[Issue]) -> list[Issue]:
    """`sort` (created, updated, popularity, long-running) and `direction`."""
    sort = ctx.q("sort", "created")
    keys: dict[str, Callable[[Issue], Any]] = {
        "created": lambda i: (i.created_at, i.number),
        "updated": lambda i: (i.updated_at, i.number),
        "popularity": lambda i: (ctx.state.comment_count(i), i.number),
        "long-running": lambda i: ((i.updated_at - i.created_at), i.number),
    }
    if sort not in keys:
        raise invalid("PullRequest", "sort")
    items.sort(key=keys[sort], reverse=ctx.descending("desc"))
    return items


def _validate_new_pull(body: Any) -> None:
    """400 for a non-object body, 422 without head/base, or without a title (or issue to convert)."""
    if not isinstance(body, dict):
        raise SandboxError(400, "Problems parsing JSON")
    for key in ("head", "base"):
        if key not in body:
            raise SandboxError(422, f'Invalid request.\n\n"{key}" wasn\'t supplied.')
    if not body.get("title") and not body.get("issue"):
        raise SandboxError(
            422, "Validation Failed", [{"resource": "PullRequest", "code": "missing_field", "field": "title"}]
        )
