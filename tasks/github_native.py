"""Execute's reads and writes of what only GitHub's newer APIs know: review threads (GraphQL
`reviewThreads`, `resolveReviewThread`) and native sub-issues (REST `/issues/{n}/sub_issues`).

`do_resolve_threads` and the native half of `link_child` are idempotent like every write in
`tasks.github_write`: each re-reads GitHub first (the PR's threads, the parent's sub-issues)
and writes only what is still missing. GraphQL goes through the same PyGithub requester as REST
(`tasks.github_graphql.post`: same token, retries, pacing, counting; `/api/graphql` on GHES).
"""

from __future__ import annotations

from typing import Any

from common.config import Settings
from tasks.github_client import GitHubError
from tasks.github_graphql import GraphQLUnavailable, Points, post
from tasks.live import ActionFailed, Live, PreconditionFailed, guarded

THREADS_QUERY = """
query($owner: String!, $name: String!, $number: Int!, $after: String) {
  repository(owner: $owner, name: $name) {
    pullRequest(number: $number) {
      reviewThreads(first: 100, after: $after) {
        nodes { id isResolved isOutdated }
        pageInfo { hasNextPage endCursor }
      }
    }
  }
}
"""

RESOLVE_MUTATION = """
mutation($threadId: ID!) {
  resolveReviewThread(input: {threadId: $threadId}) { thread { id isResolved } }
}
"""

MAX_THREAD_PAGES = 50  # 5,000 threads on one PR: anything beyond is not a PR we should touch


def graphql(live: Live, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    """`data` of one GraphQL request, sent as the snapshot sends its own (`tasks.github_graphql.post`:
    counted, PyGithub's retries); a server without a usable GraphQL API fails the action."""
    try:
        return post(live.client, query, variables, Points())
    except GraphQLUnavailable as exc:
        raise ActionFailed(f"GraphQL unavailable: {exc}") from None


def review_threads(live: Live, repo: str, number: int) -> dict[str, dict[str, Any]]:
    """The PR's review threads now, by id (`isResolved`, `isOutdated`), every page."""
    owner, name = repo.split("/", 1)
    threads: dict[str, dict[str, Any]] = {}
    after = None
    for _ in range(MAX_THREAD_PAGES):
        variables = {"owner": owner, "name": name, "number": int(number), "after": after}
        pull = ((graphql(live, THREADS_QUERY, variables).get("repository") or {}).get("pullRequest")) or None
        if pull is None:
            raise ActionFailed(f"PR #{number} not found")
        connection = pull.get("reviewThreads") or {}
        threads.update({t["id"]: t for t in connection.get("nodes") or [] if t and t.get("id")})
        info = connection.get("pageInfo") or {}
        if not info.get("hasNextPage"):
            return threads
        after = info.get("endCursor")
    raise ActionFailed(f"PR #{number} has more than {MAX_THREAD_PAGES * 100} review threads")


def has_unresolved_threads(live: Live, repo: str, number: int) -> bool:
    """Live re-check of stuck code `unresolved_threads`."""
    return any(not t.get("isResolved") for t in review_threads(live, repo, number).values())


def do_resolve_threads(live: Live, action: dict[str, Any], settings: Settings) -> tuple[str, str]:
    """Resolve the planned threads of an agent's PR that are, right now, unresolved and outdated:
    one `resolveReviewThread` each. A thread already resolved, no longer outdated or gone is left."""
    repo, number, payload = action["repo"], int(action["target"]), action["payload"]
    if not settings.dispatch.resolve_outdated_threads:
        raise PreconditionFailed("dispatch.resolve_outdated_threads is off: threads are left to people")
    wanted = [str(t) for t in payload.get("threads") or []]
    now = review_threads(live, repo, number)
    due = [t for t in wanted if t in now and not now[t].get("isResolved") and now[t].get("isOutdated")]
    for thread in due:  # resolving is idempotent on GitHub: a lost answer is safe to repeat next run
        _resolve(live, thread)
    left = len(wanted) - len(due)
    note = f"resolved {len(due)} of {len(wanted)} outdated threads"
    if left:
        note += f" ({left} already resolved, no longer outdated or gone)"
    return _pull_url(live, repo, number), note


def _resolve(live: Live, thread: str) -> dict[str, Any]:
    data = graphql(live, RESOLVE_MUTATION, {"threadId": thread})
    result = ((data.get("resolveReviewThread") or {}).get("thread")) or {}
    if not result.get("isResolved"):
        raise ActionFailed(f"review thread {thread} was not resolved")
    return result


def _pull_url(live: Live, repo: str, number: int) -> str:
    api = live.client.gh.requester.base_url.rstrip("/")
    host = "https://github.com" if api == "https://api.github.com" else api
    return f"{host}/{repo}/pull/{number}"


# ── native sub-issues ────────────────────────────────────────────────────────


def add_sub_issue(live: Live, repo: str, parent: int, child: int) -> str:
    """Make #child a native sub-issue of #parent (same repository). Returns what happened, for the
    ledger's reason: `sub-issue added`, `already a sub-issue`, or `sub-issues not supported here`
    (a 404 on the endpoint: the `Parent:` comment stands alone). A child that already has another
    parent (422) is left where a person put it."""
    url = f"/repos/{repo}/issues/{int(parent)}/sub_issues"
    try:
        listed = live.all_pages(url)
    except GitHubError as exc:
        if exc.status in (404, 410):
            return "sub-issues not supported here"
        raise
    if any(int(i.get("number") or 0) == int(child) and _same_repo(i, repo) for i in listed):
        return "already a sub-issue"
    child_id = live.issue(repo, child).get("id")
    if child_id is None:
        raise ActionFailed(f"#{child} has no id")

    def find() -> bool:
        return any(int(i.get("number") or 0) == int(child) and _same_repo(i, repo) for i in live.all_pages(url))

    try:
        guarded(find, lambda: live.client.request("POST", url, body={"sub_issue_id": int(child_id)}))
    except GitHubError as exc:
        if exc.status == 404:
            return "sub-issues not supported here"
        if exc.status == 422:
            return f"not a sub-issue: {str(exc)[:120]}"
        raise
    return "sub-issue added"


def _same_repo(item: dict[str, Any], repo: str) -> bool:
    """A listed sub-issue is in `repo` (by its `repository_url`; a server that omits it: assume so)."""
    url = str(item.get("repository_url") or "")
    return not url or url.lower().rstrip("/").endswith("/" + repo.lower())
