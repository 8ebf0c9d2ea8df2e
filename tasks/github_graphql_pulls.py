"""Open PRs' detail over GraphQL, many PRs (and repositories) per query.

For each open PR: mergeability, latest reviews, review threads, the head commit's CI rollup,
head/base refs and oids. Threads or CI contexts beyond the first page are paged per PR; PRs whose
mergeability GitHub is still computing are asked again together, once, after one short wait.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

from common.text import clean_text
from tasks.github_client import GitHubClient
from tasks.github_graphql import (
    CONTEXTS_PAGE,
    NESTED_PAGE,
    REVIEWS_PAGE,
    THREADS_PAGE,
    Points,
    RepoRequest,
    page_size,
    send_sized,
)
from tasks.github_read import review_summary

MERGEABILITY_WAIT = 2.0  # seconds, once per snapshot, for every PR still UNKNOWN together

THREAD_FIELDS = "id isResolved isOutdated path comments(first: 1) { totalCount nodes { author { login } } }"
CONTEXT_FIELDS = (
    "__typename ... on CheckRun { name status conclusion } ... on StatusContext { context state }"
)
PAGE_INFO = "pageInfo { hasNextPage endCursor }"

PULL_FRAGMENT = f"""
fragment OpenPull on PullRequest {{
  id number isDraft mergeable mergeStateStatus reviewDecision
  headRefName headRefOid baseRefName baseRefOid additions deletions changedFiles
  author {{ login }}
  latestReviews(first: {REVIEWS_PAGE}) {{ nodes {{ state submittedAt author {{ login }} }} }}
  reviewThreads(first: {THREADS_PAGE}) {{ totalCount {PAGE_INFO} nodes {{ {THREAD_FIELDS} }} }}
  commits(last: 1) {{
    totalCount
    nodes {{ commit {{ oid statusCheckRollup {{ id state
      contexts(first: {CONTEXTS_PAGE}) {{ totalCount {PAGE_INFO} nodes {{ {CONTEXT_FIELDS} }} }}
    }} }} }}
  }}
}}
"""


def pulls_part(index: int, request: RepoRequest) -> tuple[str, str, dict]:
    """The aliased selection asking for one page of a repository's open PRs."""
    owner, name = request.repo.split("/", 1)
    selection = (
        f"repository(owner: $o{index}, name: $n{index}) {{ nameWithOwner "
        f"pullRequests(states: OPEN, first: {page_size(request.expected)}, after: $a{index}, "
        f"orderBy: {{field: CREATED_AT, direction: ASC}}) {{ totalCount {PAGE_INFO} nodes {{ ...OpenPull }} }} }}"
    )
    variables = {f"$o{index}: String!": owner, f"$n{index}: String!": name, f"$a{index}: String": request.after}
    return f"r{index}", selection, variables


def threads_part(index: int, pull_id: str, cursor: str | None) -> tuple[str, str, dict]:
    """The next page of one PR's review threads."""
    selection = (
        f"node(id: $id{index}) {{ ... on PullRequest {{ reviewThreads(first: {NESTED_PAGE}, "
        f"after: $c{index}) {{ totalCount {PAGE_INFO} nodes {{ {THREAD_FIELDS} }} }} }} }}"
    )
    return f"t{index}", selection, {f"$id{index}: ID!": pull_id, f"$c{index}: String": cursor}


def contexts_part(index: int, rollup_id: str, cursor: str | None) -> tuple[str, str, dict]:
    """The next page of one head commit's CI contexts."""
    selection = (
        f"node(id: $id{index}) {{ ... on StatusCheckRollup {{ contexts(first: {NESTED_PAGE}, "
        f"after: $c{index}) {{ totalCount {PAGE_INFO} nodes {{ {CONTEXT_FIELDS} }} }} }} }}"
    )
    return f"t{index}", selection, {f"$id{index}: ID!": rollup_id, f"$c{index}: String": cursor}


def mergeable_part(index: int, pull_id: str) -> tuple[str, str, dict]:
    """One PR's mergeability again (asked after GitHub has had time to compute it)."""
    selection = f"node(id: $id{index}) {{ ... on PullRequest {{ mergeable mergeStateStatus }} }}"
    return f"m{index}", selection, {f"$id{index}: ID!": pull_id}


def read_open_pulls(
    client: GitHubClient, requests: list[RepoRequest], points: Points, viewer: bool = False
) -> dict[str, list[dict]]:
    """Every open PR of every repository (raw GraphQL nodes, nested connections complete); with
    `viewer`, the first query also asks who the token is (`points.viewer`), saving a GET /user."""
    pending = [r for r in requests]
    while pending:
        parts = [pulls_part(i, r) for i, r in enumerate(pending)]
        if viewer and points.viewer is None:
            parts.insert(0, ("viewer", "viewer { login }", {}))
        data = send_sized(client, parts, points, PULL_FRAGMENT)
        login = (data.get("viewer") or {}).get("login") if isinstance(data.get("viewer"), dict) else None
        points.viewer = clean_text(login) if isinstance(login, str) and login else points.viewer
        still = []
        for index, request in enumerate(pending):
            connection = ((data.get(f"r{index}") or {}).get("pullRequests")) or {}
            nodes = [node for node in connection.get("nodes") or [] if isinstance(node, dict)]
            request.pulls.extend(nodes)
            info = connection.get("pageInfo") or {}
            if nodes and info.get("hasNextPage") and info.get("endCursor"):
                request.after = info["endCursor"]
                request.expected = max(1, int(connection.get("totalCount") or 0) - len(request.pulls))
                still.append(request)
        pending = still
    pulls = [pull for request in requests for pull in request.pulls]
    _complete_nested(client, pulls, points)
    _recheck_unknown(client, pulls, points)
    return {request.repo: request.pulls for request in requests}


def _rollup(pull: dict) -> dict | None:
    nodes = ((pull.get("commits") or {}).get("nodes")) or []
    commit = (nodes[-1] or {}).get("commit") if nodes else None
    return (commit or {}).get("statusCheckRollup")


def _complete_nested(client: GitHubClient, pulls: list[dict], points: Points) -> None:
    """Page review threads and CI contexts of PRs that have more than the bulk query's page."""
    while True:
        parts, targets = [], []
        for pull in pulls:
            threads = pull.get("reviewThreads") or {}
            if (threads.get("pageInfo") or {}).get("hasNextPage"):
                parts.append(threads_part(len(parts), pull["id"], threads["pageInfo"]["endCursor"]))
                targets.append((threads, "reviewThreads"))
            contexts = (_rollup(pull) or {}).get("contexts") or {}
            if (contexts.get("pageInfo") or {}).get("hasNextPage"):
                parts.append(contexts_part(len(parts), _rollup(pull)["id"], contexts["pageInfo"]["endCursor"]))
                targets.append((contexts, "contexts"))
        if not parts:
            return
        data = send_sized(client, parts, points)
        for index, (connection, key) in enumerate(targets):
            page = ((data.get(f"t{index}") or {}).get(key)) or {}
            connection.setdefault("nodes", []).extend(page.get("nodes") or [])
            # a page with nothing on it ends the paging (a server that never says it is done)
            connection["pageInfo"] = (page.get("pageInfo") if page.get("nodes") else None) or {"hasNextPage": False}


def _recheck_unknown(client: GitHubClient, pulls: list[dict], points: Points) -> None:
    """GitHub answers UNKNOWN while it computes mergeability: one short wait, then all such PRs in one query."""
    unknown = [pull for pull in pulls if pull.get("mergeable") == "UNKNOWN" and pull.get("id")]
    if not unknown:
        return
    time.sleep(MERGEABILITY_WAIT)
    parts = [mergeable_part(index, pull["id"]) for index, pull in enumerate(unknown)]
    data = send_sized(client, parts, points)
    for index, pull in enumerate(unknown):
        answer = data.get(f"m{index}") or {}
        pull["mergeable"] = answer.get("mergeable") or pull["mergeable"]
        pull["mergeStateStatus"] = answer.get("mergeStateStatus") or pull.get("mergeStateStatus")


# ── GraphQL nodes -> rows ─────────────────────────────────────────────────────

FAILING_CONCLUSIONS = {"FAILURE", "TIMED_OUT", "CANCELLED", "ACTION_REQUIRED", "STARTUP_FAILURE"}


def rollup_ci(pull: dict) -> tuple[str, int, int]:
    """success / failure / pending / none, total and failing contexts, as the REST path computes them."""
    contexts = ((_rollup(pull) or {}).get("contexts") or {}).get("nodes") or []
    failing = pending = 0
    for context in contexts:
        if not isinstance(context, dict):
            continue
        if context.get("__typename") == "CheckRun":
            failing += (context.get("conclusion") or "") in FAILING_CONCLUSIONS
            pending += context.get("status") != "COMPLETED"
        else:
            failing += context.get("state") in ("FAILURE", "ERROR")
            pending += context.get("state") in ("PENDING", "EXPECTED")
    total = len(contexts)
    if total == 0:
        return "none", 0, 0
    if failing:
        return "failure", total, failing
    return ("pending" if pending else "success"), total, 0


def _login(actor: Any) -> str | None:
    login = (actor or {}).get("login") if isinstance(actor, dict) else None
    return clean_text(login) if isinstance(login, str) else None


def thread_rows(repo: str, pull: dict) -> list[dict[str, Any]]:
    """One row per review thread of a PR."""
    rows = []
    for thread in (pull.get("reviewThreads") or {}).get("nodes") or []:
        if not isinstance(thread, dict) or not thread.get("id"):
            continue
        first = ((thread.get("comments") or {}).get("nodes")) or [None]
        rows.append(
            {
                "repo": repo,
                "number": int(pull["number"]),
                "thread_id": clean_text(str(thread["id"])),
                "is_resolved": bool(thread.get("isResolved")),
                "is_outdated": bool(thread.get("isOutdated")),
                "path": clean_text(thread["path"]) if isinstance(thread.get("path"), str) else None,
                "first_author": _login((first[0] or {}).get("author")),
            }
        )
    return rows


MERGEABLE = {"MERGEABLE": True, "CONFLICTING": False}


def apply_graphql_detail(row: dict[str, Any], pull: dict, previous: dict | None, fetched_at: datetime) -> dict:
    """Fill a PR row's detail columns from its GraphQL node (the same columns the REST path fills).

    A mergeability still UNKNOWN after the re-check keeps the previous snapshot's value, so it is
    not counted as a change; the next snapshot asks again."""
    state, total, failing = rollup_ci(pull)
    reviews = [
        {"user": r.get("author"), "state": r.get("state"), "submitted_at": r.get("submittedAt")}
        for r in ((pull.get("latestReviews") or {}).get("nodes") or [])
        if isinstance(r, dict)
    ]
    decision, approvals, blocking = review_summary(reviews)
    threads = [t for t in (pull.get("reviewThreads") or {}).get("nodes") or [] if isinstance(t, dict)]
    mergeable = MERGEABLE.get(pull.get("mergeable") or "")
    merge_state = (pull.get("mergeStateStatus") or "").lower() or None
    if pull.get("mergeable") not in MERGEABLE and previous:
        mergeable, merge_state = previous.get("mergeable"), previous.get("mergeable_state")
    row.update(
        draft=bool(pull.get("isDraft")),
        head_ref=_text(pull.get("headRefName")),
        head_sha=_text(pull.get("headRefOid")),
        base_ref=_text(pull.get("baseRefName")),
        mergeable=mergeable,
        mergeable_state=merge_state,
        ci_state=state,
        checks_total=total,
        checks_failing=failing,
        review_decision=decision,
        approvals=approvals,
        changes_requested_by=blocking,
        unresolved_threads=sum(not t.get("isResolved") for t in threads),
        review_comments=sum(int(((t.get("comments") or {}).get("totalCount")) or 0) for t in threads),
        commits=(pull.get("commits") or {}).get("totalCount"),
        additions=pull.get("additions"),
        deletions=pull.get("deletions"),
        changed_files=pull.get("changedFiles"),
        detail_at=fetched_at,
    )
    return row


def _text(value: Any) -> str | None:
    return clean_text(value) if isinstance(value, str) else None
