"""What makes execute stop early or leave an action alone, apart from its own preconditions.

* `StopRules`: after `github.stop_after_failures` actions in a row fail to reach GitHub, or once
  `github.execute_deadline_minutes` have passed, no new action starts; the rest wait for the next run.
* `nudge_cooldown_*`: one nudge per PR per `dispatch.nudge_cooldown_hours`, however many plans
  asked for one: the ledger (any plan) and GitHub's own comments decide, on GitHub's clock.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import duckdb
import requests
from urllib3.exceptions import HTTPError as Urllib3Error

from common.config import Settings
from common.sanitize import markers_in
from tasks.github_client import GitHubError

NUDGE = "nudge"


# ── stopping early ────────────────────────────────────────────────────────────


def is_network_failure(exc: BaseException) -> bool:
    """GitHub could not be reached or kept failing: connection refused or reset, a timeout, or a
    5xx that outlived PyGithub's retries. A 4xx (or a rate limit) is an answer, not an outage."""
    if isinstance(exc, GitHubError):
        return exc.status >= 500
    network = (
        requests.exceptions.ConnectionError,  # refused, reset, DNS, a connect timeout
        requests.exceptions.Timeout,
        requests.exceptions.RetryError,  # too many 5xx answers
        requests.exceptions.ChunkedEncodingError,  # the answer was cut off
        Urllib3Error,
        ConnectionError,
        TimeoutError,
    )
    return isinstance(exc, network)


class StopRules:
    """Counts actions that failed to reach GitHub in a row, and the time since the run began."""

    def __init__(self, settings: Settings, clock: Any = time.monotonic) -> None:
        self.limit = settings.github.stop_after_failures
        self.deadline_minutes = settings.github.execute_deadline_minutes
        self.clock = clock
        self.started = clock()
        self.in_a_row = 0

    def observe(self, unreachable: bool, talked_to_github: bool) -> None:
        """One action's outcome: a network failure counts, any answer from GitHub resets the count."""
        if unreachable:
            self.in_a_row += 1
        elif talked_to_github:
            self.in_a_row = 0

    def reason(self) -> str | None:
        """Why no further action may start (None: carry on)."""
        if self.in_a_row >= self.limit:
            return f"GitHub unreachable ({self.in_a_row} consecutive network failures)"
        if self.clock() - self.started >= self.deadline_minutes * 60:
            return f"deadline of {self.deadline_minutes:g} minutes reached (github.execute_deadline_minutes)"
        return None


# ── one nudge per PR per cooldown ─────────────────────────────────────────────


def _ago(age: timedelta, cooldown_hours: float) -> str:
    hours = max(age.total_seconds(), 0) / 3600
    when = f"{round(hours * 60)} min" if hours < 1 else f"{hours:.1f}".removesuffix(".0") + " h"
    return f"nudged {when} ago, cooldown {cooldown_hours:g} h"


def nudge_cooldown_in_ledger(
    con: duckdb.DuckDBPyConnection, settings: Settings, action: dict[str, Any], now: datetime
) -> str | None:
    """Why the PR must not be nudged now, from the ledger: a pending or done nudge of it by any
    plan (this step aside) within the cooldown. Call under the ledger's lock, before the pending row."""
    hours = settings.dispatch.nudge_cooldown_hours
    if action["action"] != "nudge_pr" or hours <= 0:
        return None
    row = con.execute(
        """
        SELECT max(executed_at) FROM action_log
        WHERE action = 'nudge_pr' AND status IN ('pending', 'done') AND repo = ? AND target = ?
          AND executed_at > ? AND NOT (plan_id = ? AND seq = ?)
        """,
        [action["repo"], str(action.get("target")), now - timedelta(hours=hours), action["plan_id"], action["seq"]],
    ).fetchone()
    return None if row is None or row[0] is None else _ago(now - row[0], hours)


def nudge_cooldown_on_github(live: Any, settings: Settings, action: dict[str, Any], own_key: str) -> str | None:
    """Why the PR must not be nudged now, from its comments: one of our nudges (marker written by
    our own login, another plan's key) newer than the cooldown, measured on GitHub's clock."""
    hours = settings.dispatch.nudge_cooldown_hours
    if action["action"] != "nudge_pr" or hours <= 0:
        return None
    me = live.me().lower()
    comments = live.comments(action["repo"], action["target"])
    now = live.client.github_now()  # the `Date` of the answer just read: the comments' own clock
    newest: datetime | None = None
    for comment in comments:
        if ((comment.get("user") or {}).get("login") or "").lower() != me:
            continue
        keys = {key for kind, key in markers_in(comment.get("body")) if kind == NUDGE}
        if not keys or keys == {own_key}:  # our own step's comment is finished, not refused
            continue
        created = _github_time(comment.get("created_at"))
        if created is not None and (newest is None or created > newest):
            newest = created
    if newest is None or now - newest >= timedelta(hours=hours):
        return None
    return _ago(now - newest, hours)


def _github_time(value: Any) -> datetime | None:
    """GitHub's `2026-03-02T09:00:00Z` as naive UTC (None when unreadable)."""
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed.replace(tzinfo=None) if parsed.tzinfo is None else parsed.astimezone(UTC).replace(tzinfo=None)
