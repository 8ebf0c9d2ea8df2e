"""What the planner reads: frames from the analytics views, usage, and recently planned dispatches."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import duckdb
import pandas as pd

from analytics.planning import Member, PlanInputs
from common.config import Settings
from tasks import store
from tasks.usage import used_by_member, used_by_repo, used_in_window

# The view, columns and filter of each frame the planner reads (current for the latest complete snapshot).
PLAN_FRAMES: dict[str, tuple[str, str, str]] = {
    "repositories": ("repositories", "repo, default_branch, language", ""),
    "findings": (
        "audit_findings",
        "repo, audit_number, finding_index, fingerprint, title, text, severity, type, "
        "scope, complexity, labels, implemented_by",
        "",
    ),  # fmt: skip
    # An untrusted "audit" is data: never closed, its findings never filed (README "Trust model").
    "audits": ("audit_issues", "repo, number, count_findings, count_parse_warnings", "is_trusted"),
    "frameworks": ("plan_framework_candidates", "*", ""),
    "proposals": (
        "epic_proposals",
        "repo, proposal_id, number, theme, proposed_title, phase",
        "proposal_id IS NOT NULL",
    ),  # fmt: skip
    "epics": ("plan_epics", "*", ""),
    "children": (
        "epic_children",
        "repo, epic, child, phase, child_state, has_parent_comment, needs_link, is_closed_not_ticked, is_dispatched, "
        "has_open_pr",
        "",
    ),  # fmt: skip
    "ready": ("ready_queue", "repo, number, epic, phase, severity, queue_position, has_open_dependencies", ""),
    "stuck": ("plan_stuck_prs", "*", ""),
    "threads": ("plan_review_threads", "repo, number, thread_id, author", ""),
    "tiers": ("repo_tiers", "repo, rank", ""),
    "open_pr_heads": ("pull_requests", "repo, number, head_ref, state, merged", "head_ref LIKE 'epic/%'"),
}


def read_frames(con: duckdb.DuckDBPyConnection) -> dict[str, pd.DataFrame]:
    """One frame per planner input, by name."""
    frames = {}
    for name, (view, columns, condition) in PLAN_FRAMES.items():
        where = f" WHERE {condition}" if condition else ""
        frames[name] = con.execute(f"SELECT {columns} FROM {view}{where}").fetchdf()
    return frames


def configured_repos(con: duckdb.DuckDBPyConnection, settings: Settings) -> set[str]:
    """The repositories this plan may write to: the configured ones, as the snapshot resolved them."""
    known = {repo for (repo,) in con.execute("SELECT repo FROM repositories").fetchall()}
    if "*" in settings.github.repos:
        return {repo for repo in known if repo.split("/")[0].lower() == settings.github.org.lower()}
    names = {name.lower() for name in settings.github.repos}
    return {repo for repo in known if repo.split("/")[-1].lower() in names}


def recently_planned(con: duckdb.DuckDBPyConnection, now: datetime, snapshot_at: datetime) -> set[tuple[str, int]]:
    """Dispatches planned but not seen in the snapshot yet: a second plan must not hand them out again.

    A plan not carried out holds its issues only until the next snapshot (so a dry run cannot keep
    the best issues from tomorrow's plan); one carried out, for a day."""
    rows = con.execute(
        "SELECT repo, number FROM planned_dispatches WHERE planned_at >= ? AND (ledger_status IN ('pending', 'done')"
        " OR (ledger_status IS NULL AND planned_at >= ?))",
        [now - timedelta(hours=24), snapshot_at],
    ).fetchall()
    return {(repo, int(number)) for repo, number in rows}


def in_flight(con: duckdb.DuckDBPyConnection) -> int:
    """Open issues with the agent now (its label or its assignee)."""
    sql = "SELECT count(*) FROM int_issue_state WHERE is_open AND (has_agent_label OR is_assigned_to_agent)"
    return int(con.execute(sql).fetchone()[0])


# Several agents (routing): what each has spent today and has in flight, and every attempt's outcome.
AGENT_IN_FLIGHT_SQL = (
    "SELECT count(*) FROM issues WHERE state = 'open' AND (list_contains([lower(x) FOR x IN labels], ?)"
    " OR list_contains([lower(x) FOR x IN assignees], ?))"
)
ROUTING_FRAMES: dict[str, str] = {
    "outcomes": "SELECT * FROM outcomes",
    "issue_facts": "SELECT repo, number, type, labels, is_open FROM int_issue_state",
}


def routing_inputs(con: duckdb.DuckDBPyConnection, settings: Settings, now: datetime) -> dict[str, object]:
    """What routing reads: outcomes, issue facts, and per agent the tasks spent today and those in flight."""
    if not settings.agents:
        return {}
    used = used_in_window(con, settings, now, by="agent")  # ledger dispatches + labels added by hand
    flying = {}
    for agent in settings.agent_backends():
        label, login = agent.label.lower(), (agent.assignee or "").lower()
        flying[agent.name.lower()] = int(con.execute(AGENT_IN_FLIGHT_SQL, [label, login]).fetchone()[0])
    frames = {name: con.execute(sql).fetchdf() for name, sql in ROUTING_FRAMES.items()}
    return {**frames, "used_by_agent": used, "in_flight_by_agent": flying}


def read_plan_inputs(con: duckdb.DuckDBPyConnection, settings: Settings, now: datetime) -> PlanInputs:
    """Frames from the views, usage from `usage_events` (as the ledger counts it)."""
    used = used_by_member(con, settings, now)
    members = [Member(m.login, m.quota, list(m.repos), int(used.get(m.login, 0))) for m in settings.team.members]
    latest = store.last_complete_run(con)
    snapshot_at = latest["started_at"] if latest else now
    local = now.replace(tzinfo=UTC).astimezone(ZoneInfo(settings.team.timezone)).replace(tzinfo=None)
    return PlanInputs(
        now_local=local,
        now_utc=store.github_clock(latest, now),  # compared with GitHub's times (nudge cooldown)
        members=members,
        in_flight=in_flight(con),
        recently_planned=recently_planned(con, now, snapshot_at),
        used_by_repo=used_by_repo(con, settings, now),
        **read_frames(con),
        **routing_inputs(con, settings, now),
    )
