"""Back-dated writes: how the demo seed writes weeks of past history through public methods.

The HTTP layer's writes happen now, on the sandbox clock; these happen at a given past moment.
Each records its events at `when` and moves the issue's `updated_at` forward to `when`, never back.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from datetime import datetime

from sandbox.models import Event, User


class HistoryMixin:
    """Back-dated label, close and date changes (part of SandboxState; every method takes the lock)."""

    lock: threading.RLock
    events: list[Event]
    users: dict[str, User]

    def label_at(self, full_name: str, number: int, names: Iterable[str], actor: str, when: datetime) -> None:
        """Add labels as if `actor` had added them at `when` (a dispatch in the past)."""
        with self.lock:
            repo, issue = self.repo(full_name), self.issue(full_name, number)
            self._add_labels(repo, issue, list(names), actor, when)
            issue.updated_at = max(issue.updated_at, when)

    def unlabel_at(self, full_name: str, number: int, name: str, actor: str, when: datetime) -> None:
        """Remove a label as if `actor` had removed it at `when`."""
        with self.lock:
            repo, issue = self.repo(full_name), self.issue(full_name, number)
            self._remove_label(repo, issue, name, actor, when)
            issue.updated_at = max(issue.updated_at, when)

    def close_at(self, full_name: str, number: int, actor: str, when: datetime, reason: str = "completed") -> None:
        """Close an open issue as if `actor` had closed it at `when`."""
        with self.lock:
            issue = self.issue(full_name, number)
            self._close(issue, actor, when, reason)
            issue.updated_at = max(issue.updated_at, when)

    def redate_close(self, full_name: str, number: int, when: datetime, commit_id: str | None = None) -> None:
        """Move a closed issue's close to `when` (e.g. to the merge of the PR that fixed it).

        Sets closed_at and updated_at to `when` (earlier or later) and re-dates its closed events,
        which then name `commit_id` as the commit that closed it.
        """
        with self.lock:
            issue = self.issue(full_name, number)
            issue.closed_at = issue.updated_at = when
            for event in self.events:
                if event.repo_id == issue.repo_id and event.issue_number == number and event.event == "closed":
                    event.created_at, event.commit_id = when, commit_id

    def bump_updated_at(self, full_name: str, number: int, when: datetime) -> None:
        """Something happened to the issue at `when`: its updated_at is at least that."""
        with self.lock:
            issue = self.issue(full_name, number)
            issue.updated_at = max(issue.updated_at, when)

    def rewrite_body(self, full_name: str, number: int, body: str | None) -> None:
        """Replace an issue's body without an event or a new updated_at (an epic's final checklist)."""
        with self.lock:
            self.issue(full_name, number).body = body

    def set_repo_updated_at(self, full_name: str, when: datetime) -> None:
        """Set when the repo last changed (the seed's last word on it)."""
        with self.lock:
            self.repo(full_name).updated_at = when

    def backdate_account(self, login: str, created_at: datetime) -> None:
        """Set when a user or organisation account was created (the demo's people predate the sandbox)."""
        with self.lock:
            self.users[login.lower()].created_at = created_at
