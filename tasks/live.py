"""GitHub as it is now, for execute: the `Live` reader (one client, lists cached for one run)
and `guarded`, the find-before-write step every idempotent write goes through.

Every write is preceded by a read that finds what an earlier (possibly killed) run already
wrote, through our hidden markers, labels, branches and PR heads. Creating requests (POST/PATCH)
are not repeated blindly after a 5xx (GitHub may have done the work): `find` looks again first.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import requests

from common.sanitize import has_marker
from tasks.github_client import GitHubClient, GitHubError
from tasks.github_read import ci_state, review_summary

WRITE_ATTEMPTS = 4


class ActionFailed(Exception):
    """The action cannot be done: recorded `failed` with this reason."""


class PreconditionFailed(Exception):
    """A precondition no longer holds: recorded `skipped` with this reason."""


class Live:
    """GitHub as it is now, read through one client; lists are cached for one run and kept current."""

    def __init__(self, client: GitHubClient, login: str = "") -> None:
        self.client = client
        self.login = login
        self._ours: dict[str, list[dict[str, Any]]] = {}
        self._labels: dict[str, set[str]] = {}

    def me(self) -> str:
        """The token's login (issues we created are listed by creator)."""
        if not self.login:
            self.login = self.client.get("/user").data["login"]
        return self.login

    def all_pages(self, url: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        for page in self.client.pages(url, {"per_page": 100, **(params or {})}):
            items.extend(page.data or [])
        return items

    def issue(self, repo: str, number: int | str) -> dict[str, Any]:
        return self.client.get(f"/repos/{repo}/issues/{int(number)}").data

    def pull(self, repo: str, number: int | str) -> dict[str, Any]:
        return self.client.get(f"/repos/{repo}/pulls/{int(number)}").data

    def comments(self, repo: str, number: int | str) -> list[dict[str, Any]]:
        return self.all_pages(f"/repos/{repo}/issues/{int(number)}/comments")

    def is_mine(self, item: dict[str, Any]) -> bool:
        """Written by the orchestrator's own identity: only then does a marker in it count, since
        anyone who can comment can type one (README "Trust model")."""
        return ((item.get("user") or {}).get("login") or "").lower() == self.me().lower()

    def our_issues(self, repo: str) -> list[dict[str, Any]]:
        """Issues and PRs the token's user created (only those can carry our markers), any state.
        Checked again by author: a server that ignores `creator` must not let a forged marker in."""
        if repo not in self._ours:
            items = self.all_pages(f"/repos/{repo}/issues", {"state": "all", "creator": self.me()})
            self._ours[repo] = [item for item in items if self.is_mine(item)]
        return self._ours[repo]

    def remember(self, repo: str, item: dict[str, Any]) -> None:
        self._ours.setdefault(repo, []).append(item)

    def find_marked(self, repo: str, kind: str, key: str) -> dict[str, Any] | None:
        """Our issue or PR whose body carries the marker."""
        return next((i for i in self.our_issues(repo) if has_marker(i.get("body"), kind, key)), None)

    def find_comment(self, repo: str, number: int | str, kind: str, key: str) -> dict[str, Any] | None:
        """Our comment on #number carrying the marker (a forged one by anyone else is ignored)."""
        return next(
            (c for c in self.comments(repo, number) if self.is_mine(c) and has_marker(c.get("body"), kind, key)),
            None,
        )

    def pulls(self, repo: str, state: str = "open", head: str | None = None) -> list[dict[str, Any]]:
        params = {"state": state, **({"head": f"{repo.split('/')[0]}:{head}"} if head else {})}
        pulls = self.all_pages(f"/repos/{repo}/pulls", params)
        return [p for p in pulls if head is None or (p.get("head") or {}).get("ref") == head]

    def branch_sha(self, repo: str, branch: str) -> str | None:
        try:
            return self.client.get(f"/repos/{repo}/git/ref/heads/{quote(branch)}").data["object"]["sha"]
        except GitHubError as exc:
            if exc.status == 404:
                return None
            raise

    def labels(self, repo: str) -> set[str]:
        if repo not in self._labels:
            self._labels[repo] = {lab["name"].lower() for lab in self.all_pages(f"/repos/{repo}/labels")}
        return self._labels[repo]

    def ci_failing(self, repo: str, sha: str) -> bool:
        """The commit's CI as the snapshot judges it (check runs and commit statuses together)."""
        runs = self.client.get(f"/repos/{repo}/commits/{sha}/check-runs", {"per_page": 100}).data
        status = self.client.get(f"/repos/{repo}/commits/{sha}/status").data
        return ci_state(runs, status)[0] == "failure"

    def changes_requested(self, repo: str, number: int) -> bool:
        """The latest decisive review of some reviewer asks for changes (as the snapshot judges it)."""
        return review_summary(self.all_pages(f"/repos/{repo}/pulls/{number}/reviews"))[0] == "CHANGES_REQUESTED"


# ── writing, idempotently ─────────────────────────────────────────────────────


def guarded(find: Callable[[], Any], write: Callable[[], Any], attempts: int = WRITE_ATTEMPTS) -> tuple[Any, bool]:
    """(result, created): what `find` sees, else the result of `write`; a 5xx is retried only after
    `find` confirms the write did not land."""
    for attempt in range(attempts):
        found = find()
        if found:
            return found, False
        try:
            return write(), True
        except GitHubError as exc:
            if exc.status < 500 or attempt == attempts - 1:
                raise
        except requests.exceptions.RequestException:  # the answer was lost: look before writing again
            if attempt == attempts - 1:
                raise
        time.sleep(min(0.5 * 2**attempt, 8))
    raise AssertionError("unreachable")
