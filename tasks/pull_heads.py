"""The head branch of PRs the issues list returned closed: how `outcomes` recognises an agent's PR.

The issues list (one request per 100 items) has no head branch; open PRs get theirs from their
detail. For closed ones, the pulls list (`state=closed`, most recently updated first, 100 a page)
has it: read pages until every closed PR of this refresh is found (or the list ends).
"""

from __future__ import annotations

from typing import Any

from tasks.github_client import GitHubClient


def fill_closed_pull_heads(client: GitHubClient, repo: str, pulls: list[dict[str, Any]]) -> None:
    """Set `head_ref` of the closed PR rows that lack it, from the pulls list."""
    wanted = {row["number"]: row for row in pulls if row.get("state") == "closed" and not row.get("head_ref")}
    if not wanted:
        return
    params = {"state": "closed", "per_page": 100, "sort": "updated", "direction": "desc"}
    for page in client.pages(f"/repos/{repo}/pulls", params):
        for raw in page.data or []:
            row = wanted.pop(int(raw.get("number") or 0), None)
            head = raw.get("head") if isinstance(raw.get("head"), dict) else {}
            if row is not None:
                row["head_ref"] = head.get("ref")
        if not wanted:
            break
