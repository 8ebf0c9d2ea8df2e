"""Open PRs' detail, by either path: GraphQL in bulk (`apply_graphql_pulls`) or REST per PR
(`fetch_open_pull_details`, today's path and the fallback). Both fill the same detail columns.

On REST the PRs of a repository are asked for concurrently (bounded by `github.concurrency`), and
PRs whose `mergeable` GitHub is still computing are asked again together after one short wait.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

from tasks.github_client import GitHubClient, GitHubError
from tasks.github_graphql_pulls import apply_graphql_detail, thread_rows
from tasks.github_read import RepoFetch, RepoSyncState, apply_pull_detail, cached_get

MERGEABILITY_WAIT = 2.0  # seconds, once per repository: GitHub computes `mergeable` in the background


def open_rows(state: RepoSyncState, out: RepoFetch) -> tuple[dict[int, dict], set[int]]:
    """Rows of PRs open now (listed this refresh, or open in the database and not listed), and
    which of them were listed (the others are appended to `out.pulls` once they get detail)."""
    fresh = {row["number"]: row for row in out.pulls}
    rows = {n: row for n, row in fresh.items() if row["state"] == "open"}
    for number, current in state.open_pulls.items():
        if number not in fresh and number not in out.gone:  # unchanged: still open, detail may have moved
            rows[number] = dict(current)
    return rows, set(fresh)


def apply_graphql_pulls(state: RepoSyncState, out: RepoFetch, pulls: list[dict], fetched_at: datetime) -> None:
    """Detail and review threads of every open PR from the GraphQL answer."""
    rows, fresh = open_rows(state, out)
    by_number = {int(p["number"]): p for p in pulls if isinstance(p, dict) and isinstance(p.get("number"), int)}
    out.review_threads = []
    for number, row in sorted(rows.items()):
        pull = by_number.get(number)
        if pull is None:  # closed since it was listed: the next refresh lists it closed
            continue
        apply_graphql_detail(row, pull, state.open_pulls.get(number), fetched_at)
        out.review_threads.extend(thread_rows(state.repo, pull))
        if number not in fresh:
            out.pulls.append(row)
    out.detail_path = "graphql"


def fetch_open_pull_details(
    client: GitHubClient, state: RepoSyncState, out: RepoFetch, fetched_at: datetime, concurrency: int = 4
) -> None:
    """Mergeability, CI and reviews for every PR that is open now, over REST (4 requests a PR)."""
    rows, fresh = open_rows(state, out)
    with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
        pulls = dict(zip(rows, pool.map(lambda n: _pull(client, state, out, n), rows), strict=True))
        unknown = [n for n, pull in pulls.items() if _computing(pull)]
        if unknown:
            time.sleep(MERGEABILITY_WAIT)
            pulls.update(zip(unknown, pool.map(lambda n: _pull(client, state, out, n), unknown), strict=True))
        ready = [n for n in sorted(rows) if pulls[n] is not None]
        details = list(pool.map(lambda n: _checks_and_reviews(client, state, out, n, pulls[n]), ready))
    for number, (checks, status, reviews) in zip(ready, details, strict=True):
        pull = pulls[number]
        if _computing(pull) and number in state.open_pulls:  # still computing: keep what we knew, no change
            pull = {**pull, "mergeable": state.open_pulls[number].get("mergeable")}
            pull["mergeable_state"] = state.open_pulls[number].get("mergeable_state")
        apply_pull_detail(rows[number], pull, checks, status, reviews, fetched_at)
        if number not in fresh:
            out.pulls.append(rows[number])


def _computing(pull: dict | None) -> bool:
    return bool(pull) and pull.get("mergeable") is None and pull.get("state") == "open" and not pull.get("merged")


def _pull(client: GitHubClient, state: RepoSyncState, out: RepoFetch, number: int) -> dict | None:
    try:
        return cached_get(client, state, out, f"/repos/{state.repo}/pulls/{number}")
    except GitHubError as exc:
        if exc.status in (404, 410):  # deleted meanwhile; the next full listing ends it
            return None
        raise


def _checks_and_reviews(client: GitHubClient, state: RepoSyncState, out: RepoFetch, number: int, pull: dict) -> Any:
    sha = (pull.get("head") or {}).get("sha")
    checks = status = None
    if sha:
        checks = cached_get(client, state, out, f"/repos/{state.repo}/commits/{sha}/check-runs", {"per_page": 100})
        status = cached_get(client, state, out, f"/repos/{state.repo}/commits/{sha}/status")
    reviews = cached_get(client, state, out, f"/repos/{state.repo}/pulls/{number}/reviews", {"per_page": 100})
    return checks, status, reviews
