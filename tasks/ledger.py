"""The budget ledger: `action_log` rows, "used today" per member, and reserving a task.

Every function takes an open connection; callers that change anything hold the
database's file lock (`locked`), so two executes reserving at once never exceed the pool.
"Used" is the `usage_events` view (read through `tasks.usage`), so the budget, the plan,
the report, `orchestrator budget` and any DuckDB client count the same way.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb

from common.config import Settings, TeamMember
from tasks import store
from tasks.usage import used_by_member
from tasks.usage import window as window  # the ledger's "today", re-exported for its callers

# A row in one of these states is final: a re-run never redoes it.
FINAL = ("done", "skipped", "failed")


class NoPlan(Exception):
    """There is no plan to execute (or not the one asked for)."""
# Pending rows count as spent: the label may already be on GitHub when a run dies.
SPENT = ("pending", "done")


def used_today(
    con: duckdb.DuckDBPyConnection, settings: Settings, now: datetime, login: str | None = None
) -> dict[str, int]:
    """Tasks spent in the current window, per member (every member present, 0 when idle).

    `login` is the orchestrator's own login (its labels are dispatches, never a person's);
    without it, the one the last execute or snapshot recorded."""
    return used_by_member(con, settings, now, login)


def remaining_today(con: duckdb.DuckDBPyConnection, settings: Settings, now: datetime) -> dict[str, int]:
    """Tasks left per member (never below 0)."""
    used = used_today(con, settings, now)
    return {m.login: max(m.quota - used.get(m.login, 0), 0) for m in settings.team.members}


def choose_member(settings: Settings, repo: str, wanted: str | None) -> TeamMember | None:
    """The member whose quota a dispatch in `repo` spends: the planned one if it covers the repo."""
    covering = [m for m in settings.team.members if m.covers(repo)]
    if wanted:
        return next((m for m in covering if m.login.lower() == wanted.lower()), None)
    return covering[0] if covering else None


def reserve(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    action: dict[str, Any],
    now: datetime,
) -> str | None:
    """Write the dispatch's `pending` row if its member has a task left; else the reason it has not.

    Call inside `locked(...)`: the count and the insert must not interleave with another run.
    """
    member = choose_member(settings, action["repo"], action.get("member"))
    if member is None:
        who = action.get("member") or "any team member"
        return f"budget: {who} does not cover {action['repo']}"
    used = used_today(con, settings, now).get(member.login, 0)
    cost = int(action.get("cost") or 0)
    if used + cost > member.quota:
        return f"budget: {member.login} has used {used} of {member.quota} tasks today"
    save_row(con, action, "pending", now, member=member.login)
    return None


# ── action_log rows ───────────────────────────────────────────────────────────


@contextmanager
def locked(path: str | Path, timeout: float = 600) -> Iterator[duckdb.DuckDBPyConnection]:
    """The writers' file lock and a connection, without re-creating the schema (about 20 ms, not 300)."""
    from filelock import FileLock

    with FileLock(f"{path}.lock", timeout=timeout):
        con = store.connect(path)
        try:
            yield con
        finally:
            con.close()


def save_row(
    con: duckdb.DuckDBPyConnection,
    action: dict[str, Any],
    status: str,
    at: datetime,
    reason: str | None = None,
    github_url: str | None = None,
    member: str | None = None,
) -> None:
    """Insert or replace the action's ledger row (its own transaction when none is open)."""
    cost = int(action.get("cost") or 0) if status in SPENT else 0
    con.execute(
        "INSERT OR REPLACE INTO action_log (plan_id, seq, action, repo, target, status, reason, github_url, "
        "cost, member, executed_at, actor) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            action["plan_id"], action["seq"], action["action"], action["repo"], action.get("target"),
            status, reason, github_url, cost, member or action.get("member"), at, action.get("actor"),
        ],
    )  # fmt: skip


def logged(con: duckdb.DuckDBPyConnection, plan_id: str) -> dict[int, dict[str, Any]]:
    """The plan's ledger rows by seq."""
    frame = con.execute("SELECT * FROM action_log WHERE plan_id = ? ORDER BY seq", [plan_id]).fetchdf()
    return {int(row["seq"]): row for row in frame.to_dict("records")}


def pending_elsewhere(
    con: duckdb.DuckDBPyConnection, action: dict[str, Any], done_since: datetime | None = None
) -> list[dict[str, Any]]:
    """Pending rows of other plans (or other steps) on the same repo: another run may be writing them.
    With `done_since`, also the rows another run finished since then (while we checked GitHub)."""
    frame = con.execute(
        """
        SELECT l.plan_id, l.seq, l.action, l.repo, l.target, l.status, p.payload
        FROM action_log l LEFT JOIN plan_actions p ON p.plan_id = l.plan_id AND p.seq = l.seq
        WHERE (l.status = 'pending' OR (l.status = 'done' AND ?::timestamp IS NOT NULL AND l.executed_at >= ?))
          AND l.repo = ? AND NOT (l.plan_id = ? AND l.seq = ?)
        """,
        [done_since, done_since, action["repo"], action["plan_id"], action["seq"]],
    ).fetchdf()
    return frame.to_dict("records")


def forget_pending(con: duckdb.DuckDBPyConnection, plan_id: str, seq: int) -> None:
    """Drop the step's `pending` row (and with it a dispatch's reservation): GitHub's write limit
    refused the step before any of its writes landed, so the next run checks it afresh."""
    con.execute("DELETE FROM action_log WHERE plan_id = ? AND seq = ? AND status = 'pending'", [plan_id, seq])
