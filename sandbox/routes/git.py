"""Git and CI: branches, refs, compare, merges, commits, combined status, statuses and check runs."""

from __future__ import annotations

import json
import re
from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response

from sandbox.context import Context, Ctx
from sandbox.state import CheckRun, Repo, SandboxError, Status

router = APIRouter()
REPO = "/repos/{owner}/{name}"
SHA = re.compile(r"[0-9a-f]{40}")


# ---------------------------------------------------------------------- branches and refs
@router.get(REPO + "/branches")
async def branches(owner: str, name: str, ctx: Context) -> Response:
    with ctx.state.lock:
        repo = ctx.repo(owner, name)
        names = sorted(repo.branches)
        if ctx.q("protected") in ("true", "1"):
            names = [n for n in names if n == repo.default_branch]
        return ctx.page(names, lambda n: ctx.shapes.short_branch(repo, n))


@router.get(REPO + "/branches/{branch:path}")
async def branch(owner: str, name: str, branch: str, ctx: Context) -> Response:
    with ctx.state.lock:
        repo = ctx.repo(owner, name)
        if branch not in repo.branches:
            raise SandboxError(404, "Branch not found")
        return ctx.json(ctx.shapes.branch(repo, branch))


@router.get(REPO + "/git/ref/{ref:path}")
async def git_ref(owner: str, name: str, ref: str, ctx: Context) -> Response:
    with ctx.state.lock:
        repo = ctx.repo(owner, name)
        branch_name = ref.removeprefix("heads/")
        if not ref.startswith("heads/") or branch_name not in repo.branches:
            raise SandboxError(404, "Not Found")
        return ctx.json(ctx.shapes.git_ref(repo, branch_name))


@router.get(REPO + "/git/refs/{ref:path}")
async def git_refs_legacy(owner: str, name: str, ref: str, ctx: Context) -> Response:
    # The legacy endpoint: an exact ref answers an object, a prefix a list.
    with ctx.state.lock:
        repo = ctx.repo(owner, name)
        branch_name = ref.removeprefix("heads/")
        if ref.startswith("heads/") and branch_name in repo.branches:
            return ctx.json(ctx.shapes.git_ref(repo, branch_name))
        hits = _matching(repo, ref)
        if not hits:
            raise SandboxError(404, "Not Found")
        return ctx.json([ctx.shapes.git_ref(repo, b) for b in hits])


@router.get(REPO + "/git/refs")
async def all_refs(owner: str, name: str, ctx: Context) -> Response:
    with ctx.state.lock:
        repo = ctx.repo(owner, name)
        return ctx.page(sorted(repo.branches), lambda b: ctx.shapes.git_ref(repo, b))


@router.get(REPO + "/git/matching-refs/{ref:path}")
async def matching_refs(owner: str, name: str, ref: str, ctx: Context) -> Response:
    with ctx.state.lock:
        repo = ctx.repo(owner, name)
        return ctx.page(_matching(repo, ref), lambda b: ctx.shapes.git_ref(repo, b))


@router.post(REPO + "/git/refs")
async def create_ref(owner: str, name: str, ctx: Context) -> Response:
    body = await ctx.body()
    ctx.actor()
    with ctx.state.lock:
        repo = ctx.repo(owner, name)
        if not isinstance(body, dict) or "ref" not in body or "sha" not in body:
            missing = "ref" if not isinstance(body, dict) or "ref" not in body else "sha"
            raise SandboxError(422, f'Invalid request.\n\n"{missing}" wasn\'t supplied.')
        branch_name = ctx.state.create_ref(repo.full_name, str(body["ref"]), str(body["sha"]))
        return ctx.json(
            ctx.shapes.git_ref(repo, branch_name),
            status=201,
            headers={"Location": f"{ctx.base}/repos/{repo.full_name}/git/refs/heads/{branch_name}"},
        )


@router.delete(REPO + "/git/refs/{ref:path}")
async def delete_ref(owner: str, name: str, ref: str, ctx: Context) -> Response:
    ctx.actor()
    with ctx.state.lock:
        repo = ctx.repo(owner, name)
        ctx.state.delete_ref(repo.full_name, ref.removeprefix("heads/"))
    return Response(status_code=204)


# ---------------------------------------------------------------------- compare and merge
@router.get(REPO + "/compare/{basehead:path}")
async def compare(owner: str, name: str, basehead: str, ctx: Context) -> Response:
    with ctx.state.lock:
        repo = ctx.repo(owner, name)
        if "..." not in basehead:
            raise SandboxError(404, "Not Found")
        base_ref, head_ref = (part.split(":", 1)[-1] for part in basehead.split("...", 1))
        base_sha, head_sha = _resolve(ctx, repo, base_ref), _resolve(ctx, repo, head_ref)
        return ctx.json(_comparison(ctx, repo, basehead, base_sha, head_sha))


@router.post(REPO + "/merges")
async def merges(owner: str, name: str, ctx: Context) -> Response:
    body = await ctx.body()
    actor = ctx.actor()
    with ctx.state.lock:
        repo = ctx.repo(owner, name)
        if not isinstance(body, dict) or not body.get("base") or not body.get("head"):
            raise SandboxError(
                422, "Validation Failed", [{"resource": "Merge", "code": "missing_field", "field": "base/head"}]
            )
        sha = ctx.state.merge_branches(
            repo.full_name, str(body["base"]), str(body["head"]), body.get("commit_message"), actor
        )
        if sha is None:
            return Response(status_code=204)
        return ctx.json(ctx.shapes.commit(repo, repo.commits[sha]), status=201)


# ---------------------------------------------------------------------- CI on a commit
@router.get(REPO + "/commits/{ref:path}/check-runs")
async def check_runs(owner: str, name: str, ref: str, ctx: Context) -> Response:
    with ctx.state.lock:
        repo = ctx.repo(owner, name)
        runs = _filtered_check_runs(ctx, repo, _resolve(ctx, repo, ref))
        page = ctx.page(runs, ctx.shapes.check_run)
        # check-runs wraps its page in {total_count, check_runs}; rebuild the body, keep Link.
        items = json.loads(page.body) if page.status_code == 200 else None
        if items is None:
            return page
        headers = {"Link": page.headers["link"]} if "link" in page.headers else {}
        return ctx.json({"total_count": len(runs), "check_runs": items}, headers=headers)


@router.get(REPO + "/commits/{ref:path}/status")
async def combined_status(owner: str, name: str, ref: str, ctx: Context) -> Response:
    with ctx.state.lock:
        repo = ctx.repo(owner, name)
        sha = _resolve(ctx, repo, ref)
        latest: dict[str, Status] = {}
        for s in sorted(_statuses_of(ctx, repo, sha), key=lambda s: (s.created_at, s.id)):
            latest[s.context] = s
        statuses = list(latest.values())
        url = f"{ctx.base}/repos/{repo.full_name}/commits/{sha}"
        return ctx.json(
            {
                "state": _combined_state(statuses),
                "statuses": [ctx.shapes.status(s) for s in statuses],
                "sha": sha,
                "total_count": len(statuses),
                "repository": ctx.shapes.minimal_repo(repo),
                "commit_url": url,
                "url": f"{url}/status",
            }
        )


@router.get(REPO + "/commits/{ref:path}/statuses")
async def statuses(owner: str, name: str, ref: str, ctx: Context) -> Response:
    with ctx.state.lock:
        repo = ctx.repo(owner, name)
        sha = _resolve(ctx, repo, ref)
        items = sorted(_statuses_of(ctx, repo, sha), key=lambda s: (s.created_at, s.id), reverse=True)
        return ctx.page(items, ctx.shapes.status)


@router.post(REPO + "/statuses/{sha}")
async def create_status(owner: str, name: str, sha: str, ctx: Context) -> Response:
    body = await ctx.body()
    actor = ctx.actor()
    with ctx.state.lock:
        repo = ctx.repo(owner, name)
        if sha not in repo.commits:
            raise SandboxError(422, f"No commit found for SHA: {sha}")
        body = body if isinstance(body, dict) else {}
        status = ctx.state.add_status(
            repo.full_name,
            sha,
            str(body.get("state")),
            body.get("context") or "default",
            body.get("description"),
            body.get("target_url"),
            actor,
        )
        return ctx.json(ctx.shapes.status(status), status=201)


@router.get(REPO + "/commits/{ref:path}")
async def get_commit(owner: str, name: str, ref: str, ctx: Context) -> Response:
    with ctx.state.lock:
        repo = ctx.repo(owner, name)
        sha = _resolve(ctx, repo, ref)
        return ctx.json(ctx.shapes.commit(repo, repo.commits[sha]))


# ---------------------------------------------------------------------- helpers
def _resolve(ctx: Ctx, repo: Repo, ref: str) -> str:
    """A branch or sha as a sha: 422 for an unknown full sha, 404 for anything else unknown."""
    sha = ctx.state.resolve_ref(repo, ref)
    if sha is None:
        raise SandboxError(
            422 if SHA.fullmatch(ref) else 404,
            f"No commit found for SHA: {ref}" if SHA.fullmatch(ref) else "Not Found",
        )
    return sha


def _matching(repo: Repo, ref: str) -> list[str]:
    """Branch names whose refs/heads/<name> starts with refs/<ref>."""
    if not ref.startswith("heads/"):
        return []
    prefix = ref.removeprefix("heads/")
    return sorted(b for b in repo.branches if b.startswith(prefix))


def _filtered_check_runs(ctx: Ctx, repo: Repo, sha: str) -> list[CheckRun]:
    """The commit's runs by check_name, status and filter (latest per name unless `all`), newest first."""
    runs = [c for c in ctx.state.check_runs if c.repo_id == repo.id and c.head_sha == sha]
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
    return runs


def _statuses_of(ctx: Ctx, repo: Repo, sha: str) -> list[Status]:
    return [s for s in ctx.state.statuses if s.repo_id == repo.id and s.sha == sha]


def _combined_state(statuses: list[Status]) -> str:
    """failure if any failed or errored, pending if none or any pending, else success."""
    states = {s.state for s in statuses}
    if states & {"failure", "error"}:
        return "failure"
    if not statuses or "pending" in states:
        return "pending"
    return "success"


def _comparison(ctx: Ctx, repo: Repo, basehead: str, base_sha: str, head_sha: str) -> dict:
    """commit-comparison for base...head."""
    state = ctx.state
    ahead, behind, commits = state.compare(repo, base_sha, head_sha)
    common = state.ancestors(repo, base_sha) & state.ancestors(repo, head_sha)
    merge_base = max((repo.commits[s] for s in common), key=lambda c: (c.date, c.sha), default=repo.commits[base_sha])
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
        "status": _compare_status(ahead, behind),
        "ahead_by": ahead,
        "behind_by": behind,
        "total_commits": ahead,
        "commits": [ctx.shapes.commit(repo, c) for c in commits[:250]],
        "files": [],
    }


def _compare_status(ahead: int, behind: int) -> str:
    if ahead == 0 and behind == 0:
        return "identical"
    if behind == 0:
        return "ahead"
    if ahead == 0:
        return "behind"
    return "diverged"
