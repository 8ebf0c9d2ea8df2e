"""Agent tasks used: the reads over the `usage_events` and `daily_usage` views (one definition).

The views count with the settings stored in `run_settings` (the last plan's). A caller holds
its own settings (a team edited since, another window), so every read here first shadows
`run_settings` for this connection with a temporary copy carrying the caller's team, agent
label, time zone and own login, reads, and drops the copy: the SQL stays the only definition,
and it always counts with the configuration the caller was given.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import duckdb

from common.agents import recognition_settings
from common.config import Settings

# What a window spent: the ledger's cost, plus each issue a person labelled once (however often).
WINDOW_SQL = (
    "SELECT {key}, coalesce(sum(cost) FILTER (source = 'ledger'), 0)"
    " + count(DISTINCT task_key) FILTER (source = 'person_label') AS used"
    " FROM usage_events WHERE counted_at >= ? AND counted_at < ? GROUP BY {key}"
)


def usage_settings(settings: Settings, login: str | None = None) -> dict[str, str]:
    """The `run_settings` values the usage views read, from these settings."""
    team = [{"login": m.login, "repos": list(m.repos)} for m in settings.team.members]
    # every configured agent (stg_agents), so a hand-added label of any of them counts
    agents = recognition_settings(settings.agent_backends())
    values = {**agents, "timezone": settings.team.timezone, "team_members": json.dumps(team)}
    return values | ({"token_login": login} if login else {})


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


@contextmanager
def counting_with(
    con: duckdb.DuckDBPyConnection, settings: Settings, login: str | None = None
) -> Iterator[duckdb.DuckDBPyConnection]:
    """The usage views on `con`, reading these settings (works on read-only connections too)."""
    database = con.execute("SELECT current_database()").fetchone()[0]
    con.execute(f'CREATE OR REPLACE TEMP TABLE run_settings AS SELECT * FROM "{database}".main.run_settings')
    try:
        for key, value in usage_settings(settings, login).items():
            con.execute("DELETE FROM temp.run_settings WHERE key = ?", [key])
            con.execute("INSERT INTO temp.run_settings VALUES (?, ?)", [key, value])
        yield con
    finally:
        con.execute("DROP TABLE IF EXISTS temp.run_settings")


def used_in_window(
    con: duckdb.DuckDBPyConnection, settings: Settings, now: datetime, login: str | None = None, by: str = "member"
) -> dict[str, int]:
    """Tasks spent in the current window (`window`), per member, repo or agent."""
    if by not in ("member", "repo", "agent"):
        raise ValueError(f"usage is counted by member, repo or agent, not {by!r}")
    start, end = window(settings, now)
    with counting_with(con, settings, login):
        rows = con.execute(WINDOW_SQL.format(key=by), [start, end]).fetchall()
    return {key: int(used) for key, used in rows if key is not None}


def used_by_member(
    con: duckdb.DuckDBPyConnection, settings: Settings, now: datetime, login: str | None = None
) -> dict[str, int]:
    """Tasks spent in the current window per member (every member present, 0 when idle)."""
    used = used_in_window(con, settings, now, login)
    return {m.login: 0 for m in settings.team.members} | used


def used_by_repo(con: duckdb.DuckDBPyConnection, settings: Settings, now: datetime) -> dict[str, int]:
    """Tasks spent in the current window per repository (the plan's per-repo share)."""
    return used_in_window(con, settings, now, by="repo")


def daily_usage(con: duckdb.DuckDBPyConnection, settings: Settings, first: date, last: date) -> list[dict[str, Any]]:
    """`daily_usage` rows from `first` to `last` (team-local days), oldest first."""
    with counting_with(con, settings):
        rows = con.execute(
            "SELECT * FROM daily_usage WHERE usage_date BETWEEN ? AND ? ORDER BY usage_date, member, agent",
            [first, last],
        ).fetchall()
        names = [column[0] for column in con.description]
    return [dict(zip(names, row, strict=True)) for row in rows]
