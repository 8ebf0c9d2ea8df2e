"""Native sub-issues and issue dependencies ("blocked by"), read only for the issues that have some.

Each listed issue carries `sub_issues_summary.total` and `issue_dependencies_summary.blocked_by`;
a server without them (older GitHub Enterprise) is taken to have no links. Sub-issues come over
GraphQL (`subIssues`, many issues per query) or, on the REST path, `GET .../sub_issues`; dependencies
over REST `GET .../dependencies/blocked_by` (GitHub's published GraphQL schema has no `blockedBy`).
A 404/410 from those REST endpoints means the server lacks them: no links.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from tasks.github_client import GitHubClient, GitHubError
from tasks.github_graphql import SUB_ISSUES_PAGE, GraphQLUnavailable, Points, send_sized
from tasks.github_read import RepoFetch

SUB_FIELDS = "totalCount pageInfo { hasNextPage endCursor } nodes { number repository { nameWithOwner } }"


def to_read(fetch: RepoFetch) -> tuple[list[int], list[int]]:
    """(parents with sub-issues, issues blocked by others) among this refresh's listed issues;
    every listed issue's links are settled by this refresh (`links_checked`)."""
    fetch.links_checked = sorted(fetch.link_counts)
    parents = sorted(n for n, (subs, _) in fetch.link_counts.items() if subs)
    blocked = sorted(n for n, (_, deps) in fetch.link_counts.items() if deps)
    return parents, blocked


def _issue_repo(raw: dict[str, Any], default: str) -> str:
    """`owner/name` of a REST issue (from its repository_url), or `default`."""
    url = raw.get("repository_url") if isinstance(raw, dict) else None
    if isinstance(url, str) and "/repos/" in url:
        return url.split("/repos/", 1)[1].strip("/")
    return default


def _rest_links(client: GitHubClient, repo: str, number: int, suffix: str) -> list[tuple[str, int]]:
    try:
        items = [raw for page in client.pages(f"/repos/{repo}/issues/{number}/{suffix}", {"per_page": 100})
                 for raw in page.data or []]  # fmt: skip
    except GitHubError as exc:
        if exc.status in (404, 410):
            return []
        raise
    return [(_issue_repo(raw, repo), int(raw["number"])) for raw in items if isinstance(raw.get("number"), int)]


def read_links(
    client: GitHubClient, fetches: list[RepoFetch], graphql: bool, points: Points, concurrency: int = 4
) -> None:
    """Fill every fetch's `sub_issues` and `dependencies` (requests overlap, bounded by `concurrency`)."""
    wanted = {fetch.repo: to_read(fetch) for fetch in fetches}
    jobs = [(repo, n, "dependencies/blocked_by") for repo, (_, blocked) in wanted.items() for n in blocked]
    if not graphql:
        jobs += [(repo, n, "sub_issues") for repo, (parents, _) in wanted.items() for n in parents]
    with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
        subs_future = pool.submit(read_sub_issues, client, wanted, points) if graphql else None
        answers = list(pool.map(lambda job: _rest_links(client, *job), jobs))
        try:
            subs = subs_future.result() if subs_future else {}
        except GraphQLUnavailable:  # GraphQL failed after the PR query worked: sub-issues as on the REST path
            parents = [(repo, n, "sub_issues") for repo, (numbers, _) in wanted.items() for n in numbers]
            found = list(pool.map(lambda job: _rest_links(client, *job), parents))
            subs = {(repo, n): links for (repo, n, _), links in zip(parents, found, strict=True)}
    for (repo, number, suffix), links in zip(jobs, answers, strict=True):
        if suffix == "sub_issues":
            subs[(repo, number)] = links
    deps = {(repo, n): links for (repo, n, suffix), links in zip(jobs, answers, strict=True) if suffix != "sub_issues"}
    for fetch in fetches:
        fetch.sub_issues = [
            {"repo": fetch.repo, "parent": parent, "child_repo": child_repo, "child": child}
            for (repo, parent), links in sorted(subs.items()) if repo == fetch.repo
            for child_repo, child in links
        ]  # fmt: skip
        fetch.dependencies = [
            {"repo": fetch.repo, "number": number, "blocked_by_repo": other_repo, "blocked_by": other}
            for (repo, number), links in sorted(deps.items()) if repo == fetch.repo
            for other_repo, other in links
        ]  # fmt: skip


def sub_issue_part(index: int, repo: str, number: int, after: str | None) -> tuple[str, str, dict]:
    owner, name = repo.split("/", 1)
    selection = (
        f"repository(owner: $o{index}, name: $n{index}) {{ issue(number: $i{index}) {{ "
        f"subIssues(first: {SUB_ISSUES_PAGE}, after: $a{index}) {{ {SUB_FIELDS} }} }} }}"
    )
    variables = {
        f"$o{index}: String!": owner, f"$n{index}: String!": name,
        f"$i{index}: Int!": number, f"$a{index}: String": after,
    }  # fmt: skip
    return f"s{index}", selection, variables


def read_sub_issues(
    client: GitHubClient, wanted: dict[str, tuple[list[int], list[int]]], points: Points
) -> dict[tuple[str, int], list[tuple[str, int]]]:
    """Children of every parent, many parents per query; parents with more than a page are paged."""
    found: dict[tuple[str, int], list[tuple[str, int]]] = {}
    pending = [(repo, n, None) for repo, (parents, _) in wanted.items() for n in parents]
    while pending:
        data = send_sized(client, [sub_issue_part(i, *p) for i, p in enumerate(pending)], points)
        more = []
        for index, (repo, number, _) in enumerate(pending):
            issue = ((data.get(f"s{index}") or {}).get("issue")) or {}
            connection = issue.get("subIssues") or {}
            for node in connection.get("nodes") or []:
                if isinstance(node, dict) and isinstance(node.get("number"), int):
                    child_repo = ((node.get("repository") or {}).get("nameWithOwner")) or repo
                    found.setdefault((repo, number), []).append((str(child_repo), node["number"]))
            found.setdefault((repo, number), [])
            info = connection.get("pageInfo") or {}
            if connection.get("nodes") and info.get("hasNextPage") and info.get("endCursor"):
                more.append((repo, number, info["endCursor"]))
        pending = more
    return found
