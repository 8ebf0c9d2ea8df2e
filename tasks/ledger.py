"""The budget ledger: `action_log` rows, "used today" per member, and reserving a task.

Every function takes an open connection; callers that change anything hold the
database's file lock (`locked`), so two executes reserving at once never exceed the pool.
`used_today` is plain SQL over `action_log` and `issue_events`, so `orchestrator budget`
and any DuckDB client count the same way.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import duckdb

from orchestrator.config import Settings, TeamMember
from tasks import store

# A row in one of these states is final: a re-run never redoes it.
FINAL = ("done", "skipped", "failed")
# Pending rows count as spent: the label may already be on GitHub when a run dies.
SPENT = ("pending", "done")
# A label added by a person within this long of our own dispatch of the same issue is ours.
MATCH_WINDOW_HOURS = 6

USED_SQL = """
with

members as (

    select * from (values {member_rows}) as m(login, position, repos)

),

window_bounds as (

    select ?::timestamp as starts_at, ?::timestamp as ends_at

),

ledger as (

    select action_log.member, action_log.cost
    from action_log, window_bounds
    where lower(action_log.action) = 'dispatch'
      and lower(action_log.status) in ('pending', 'done')
      and action_log.cost > 0
      and action_log.executed_at >= window_bounds.starts_at
      and action_log.executed_at < window_bounds.ends_at

),

manual_labels as (

    select issue_events.repo, issue_events.number
    from issue_events, window_bounds
    where lower(issue_events.event) = 'labeled'
      and lower(issue_events.label) = lower(?)
      and (?::varchar is null or lower(issue_events.actor) <> lower(?))
      and issue_events.created_at >= window_bounds.starts_at
      and issue_events.created_at < window_bounds.ends_at
      and not exists (
          select 1 from action_log
          where lower(action_log.action) = 'dispatch'
            and action_log.repo = issue_events.repo
            and try_cast(regexp_extract(action_log.target, '(\\d+)\\s*$', 1) as integer) = issue_events.number
            and abs(epoch(action_log.executed_at) - epoch(issue_events.created_at)) <= {match_seconds}
      )

),

manual_members as (

    -- a person's dispatch counts against the first member (config order) whose repos cover it
    select arg_min(members.login, members.position) as member
    from manual_labels
    inner join members
        on list_contains(members.repos, '*')
        or list_contains(members.repos, regexp_extract(manual_labels.repo, '([^/]+)$', 1))
    group by manual_labels.repo, manual_labels.number

),

spent as (

    select member, cost from ledger
    union all
    select member, 1 as cost from manual_members

)

select member, sum(cost)::integer as used from spent where member is not null group by member
"""


def window(settings: Settings, now: datetime) -> tuple[datetime, datetime]:
    """[start, end) of "today" in UTC (naive): the calendar day in the team's zone, or the last 24 h."""
    now = now.replace(tzinfo=UTC) if now.tzinfo is None else now.astimezone(UTC)
    if settings.team.window == "rolling_24h":
        start, end = now - timedelta(hours=24), now + timedelta(seconds=1)
    else:
        local = now.astimezone(ZoneInfo(settings.team.timezone))
        midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
        start = midnight.astimezone(UTC)
        end = (midnight + timedelta(days=1)).astimezone(UTC)  # zone arithmetic: DST days are 23 or 25 h
    return start.replace(tzinfo=None), end.replace(tzinfo=None)


def _member_rows(members: list[TeamMember]) -> str:
    """A VALUES list of the team (logins and repo names are data, quoted as SQL literals)."""
    if not members:
        return "(NULL::varchar, 0, []::varchar[])"

    def quote(text: str) -> str:
        return "'" + text.replace("'", "''") + "'"

    return ", ".join(
        f"({quote(m.login)}, {i}, [{', '.join(quote(r.split('/')[-1]) for r in m.repos)}]::varchar[])"
        for i, m in enumerate(members)
    )


def token_login(con: duckdb.DuckDBPyConnection) -> str | None:
    """The token's login as the last execute saw it (labels it adds are never 'manual')."""
    try:
        row = con.execute("SELECT value FROM run_settings WHERE key = 'token_login'").fetchone()
    except duckdb.CatalogException:
        return None
    return row[0] if row and row[0] else None


def used_today(
    con: duckdb.DuckDBPyConnection, settings: Settings, now: datetime, login: str | None = None
) -> dict[str, int]:
    """Tasks spent in the current window, per member (every member present, 0 when idle)."""
    start, end = window(settings, now)
    login = login or token_login(con)
    sql = USED_SQL.format(member_rows=_member_rows(settings.team.members), match_seconds=MATCH_WINDOW_HOURS * 3600)
    rows = con.execute(sql, [start, end, settings.agent.label, login, login]).fetchall()
    used = {m.login: 0 for m in settings.team.members}
    for member, count in rows:
        used[member] = used.get(member, 0) + int(count)
    return used


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
        "cost, member, executed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            action["plan_id"], action["seq"], action["action"], action["repo"], action.get("target"),
            status, reason, github_url, cost, member or action.get("member"), at,
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
