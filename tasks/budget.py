"""`orchestrator budget`'s figures: today, the past days and the suggested plan, read-only.

Usage is the `usage_events` / `daily_usage` views (through `tasks.usage`): the same count the
ledger reserves against, the plan spends and the report shows.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from common.config import Settings
from tasks import store
from tasks.usage import daily_usage, used_by_member, window


def budget_today(cfg: Settings, now: datetime) -> dict[str, Any]:
    """Pool, used and remaining today, overall and per member, counted from the ledger."""
    with store.reader(cfg.database.path) as con:
        used = used_by_member(con, cfg, now)
    start, end = window(cfg, now)
    members = [
        {"login": m.login, "quota": m.quota, "used": used.get(m.login, 0),
         "remaining": max(m.quota - used.get(m.login, 0), 0), "repos": m.repos}
        for m in cfg.team.members
    ]  # fmt: skip
    pool = sum(m["quota"] for m in members)
    spent = sum(m["used"] for m in members)
    low, high = cfg.dispatch.daily_range
    return {
        "pool": pool,
        "used": spent,
        "remaining": max(pool - spent, 0),
        "window_start": start.isoformat(),
        "window_end": end.isoformat(),
        "timezone": cfg.team.timezone,
        "window": cfg.team.window,
        "strategy": cfg.dispatch.strategy,
        "strategy_range": [low, high],
        "members": members,
    }


def budget_history(cfg: Settings, now: datetime, days: int) -> list[dict[str, Any]]:
    """Tasks used per calendar day (team timezone), oldest first; unused tasks never roll over."""
    today = now.replace(tzinfo=UTC).astimezone(ZoneInfo(cfg.team.timezone)).date()
    first = today - timedelta(days=days - 1)
    with store.reader(cfg.database.path) as con:
        rows = daily_usage(con, cfg, first, today)
    out = []
    for back in range(days - 1, -1, -1):
        day = today - timedelta(days=back)
        used = {m.login: 0 for m in cfg.team.members}
        for row in rows:
            if row["usage_date"] == day:
                used[row["member"]] = used.get(row["member"], 0) + int(row["count_tasks"])
        spent = sum(used.values())
        per_member = {f"used_{login}": count for login, count in used.items()}
        pool = cfg.team.pool
        out.append({"date": day.isoformat(), "used": spent, "pool": pool, "unused": max(pool - spent, 0), **per_member})
    return out


def suggested_plan(cfg: Settings, now: datetime) -> dict[str, Any]:
    """Today's plan computed read-only (not stored): what `plan` would dispatch now."""
    from analytics.plan_rules import plan_rules
    from analytics.planning import build_plan
    from tasks.plan_inputs import configured_repos, read_plan_inputs

    with store.reader(cfg.database.path) as con:
        inputs = read_plan_inputs(con, cfg, now)
        made = build_plan(inputs, plan_rules(cfg), configured_repos(con, cfg))
    dispatches = [
        {"repo": a.repo, "issue": int(a.target), "member": a.member, "reason": a.reason}
        for a in made.actions if a.action == "dispatch"
    ]  # fmt: skip
    return {"dispatches": dispatches, "not_dispatched": made.summary["not_dispatched"],
            "notes": made.summary["notes"], "refill": made.summary["refill"],
            "other_actions": {k: v for k, v in made.summary["by_action"].items() if k != "dispatch"}}  # fmt: skip
