"""Plan flow: read the latest complete snapshot, the views and the ledger; emit an ordered plan."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import duckdb
import pandas as pd
from prefect import flow, task
from prefect.artifacts import create_table_artifact
from prefect.cache_policies import NO_CACHE

from analytics.plan_bounds import Bounds
from analytics.planning import Member, Plan, PlanInputs, PlanRules, build_plan
from orchestrator.config import Settings, load_settings, view_settings
from tasks import store

# One query per frame the planner reads; every view is current for the latest complete snapshot.
PLAN_QUERIES = {
    "repositories": "SELECT repo, default_branch FROM repositories",
    "findings": """SELECT repo, audit_number, finding_index, fingerprint, title, text, severity, type, scope,
                          complexity, labels, implemented_by FROM audit_findings""",
    # An untrusted "audit" is data: never closed, its findings never filed (README "Trust model").
    "audits": "SELECT repo, number, count_findings, count_parse_warnings FROM audit_issues WHERE is_trusted",
    "frameworks": """SELECT c.candidate_id, c.repo, c.audit_number, c.finding_index, c.type, c.title,
                            f.title AS finding_title, c.implemented_by
                     FROM framework_candidates c
                     LEFT JOIN audit_findings f USING (repo, audit_number, finding_index)""",
    "proposals": """SELECT repo, proposal_id, number, theme, proposed_title, phase FROM epic_proposals
                    WHERE proposal_id IS NOT NULL""",
    "epics": """SELECT e.repo, e.epic, e.title, e.branch, e.is_open, e.is_complete, e.is_branch_present, b.behind_by
                FROM epics e LEFT JOIN branches b ON b.repo = e.repo AND b.name = e.branch""",
    "children": """SELECT repo, epic, child, child_state, has_parent_comment, is_closed_not_ticked
                   FROM epic_children""",
    "ready": "SELECT repo, number, epic, phase, severity, queue_position FROM ready_queue",
    "stuck": """SELECT s.repo, s.number, s.intervention, s.is_stuck, s.count_nudges, s.last_nudged_at, s.base_ref,
                       coalesce(h.is_escalated, false) AS is_escalated
                FROM stuck_prs s JOIN pull_requests p USING (repo, number)
                LEFT JOIN int_escalations h USING (repo, number)
                WHERE s.intervention IS NOT NULL""",
    "tiers": "SELECT repo, rank FROM repo_tiers",
    "open_pr_heads": "SELECT repo, number, head_ref, state, merged FROM pull_requests WHERE head_ref LIKE 'epic/%'",
}

# Dispatches planned but not seen in the snapshot yet: a second plan must not hand them out
# again. A plan not carried out holds its issues only until the next snapshot (so a dry run
# cannot keep the best issues from tomorrow's plan); one carried out, for a day.
RECENTLY_PLANNED_SQL = """
SELECT a.repo, CAST(a.target AS INTEGER) AS number
FROM plan_actions a JOIN dispatch_plans p USING (plan_id)
LEFT JOIN action_log l ON l.plan_id = a.plan_id AND l.seq = a.seq
WHERE a.action = 'dispatch' AND p.created_at >= ?
  AND (l.status IN ('pending', 'done') OR (l.status IS NULL AND p.created_at >= ?))
"""

# Tasks already spent today per repo: our dispatches and agent labels people added.
USED_BY_REPO_SQL = """
SELECT repo, count(*) FROM (
    SELECT repo, target FROM action_log
    WHERE action = 'dispatch' AND status IN ('pending', 'done') AND executed_at >= ? AND executed_at < ?
    UNION
    SELECT repo, CAST(number AS VARCHAR) FROM issue_events
    WHERE event = 'labeled' AND lower(label) = lower(?) AND created_at >= ? AND created_at < ?
) GROUP BY repo
"""

IN_FLIGHT_SQL = """
SELECT count(*) FROM int_issue_state WHERE is_open AND (has_agent_label OR is_assigned_to_agent)
"""


def plan_rules(settings: Settings) -> PlanRules:
    d, a = settings.dispatch, settings.agent
    return PlanRules(
        daily_range=d.daily_range,
        max_repo_share=d.max_repo_share,
        agent_mode=a.mode,
        agent_label=a.label,
        agent_assignee=a.assignee,
        max_in_flight=a.max_in_flight,
        escalate_after_nudges=d.escalate_after_nudges,
        morning_ends_hour=d.morning_ends_hour,
        raise_below_share=d.raise_below_share,
        throttle_above_share=d.throttle_above_share,
        refill_low=d.refill_low,
        refill_high=d.refill_high,
        epic_branch_max_behind=d.epic_branch_max_behind,
        nudge_cooldown_hours=d.nudge_cooldown_hours,
        bounds=Bounds(d.max_new_issues_per_plan, d.max_new_issues_per_audit, d.max_write_actions_per_plan),
    )


def configured_repos(con: duckdb.DuckDBPyConnection, settings: Settings) -> set[str]:
    """The repositories this plan may write to: the configured ones, as the snapshot resolved them."""
    known = {repo for (repo,) in con.execute("SELECT repo FROM repositories").fetchall()}
    if "*" in settings.github.repos:
        return {repo for repo in known if repo.split("/")[0].lower() == settings.github.org.lower()}
    names = {name.lower() for name in settings.github.repos}
    return {repo for repo in known if repo.split("/")[-1].lower() in names}


def read_plan_inputs(con: duckdb.DuckDBPyConnection, settings: Settings, now: datetime) -> PlanInputs:
    """Frames from the views, usage from the ledger."""
    from tasks.ledger import used_today, window

    frames = {name: con.execute(sql).fetchdf() for name, sql in PLAN_QUERIES.items()}
    used = used_today(con, settings, now)
    members = [Member(m.login, m.quota, list(m.repos), int(used.get(m.login, 0))) for m in settings.team.members]
    latest = store.last_complete_run(con)
    snapshot_at = latest["started_at"] if latest else now
    recent = con.execute(RECENTLY_PLANNED_SQL, [now - timedelta(hours=24), snapshot_at]).fetchall()
    in_flight = con.execute(IN_FLIGHT_SQL).fetchone()[0]
    start, end = window(settings, now)
    by_repo = con.execute(USED_BY_REPO_SQL, [start, end, settings.agent.label, start, end]).fetchall()
    local = now.replace(tzinfo=UTC).astimezone(ZoneInfo(settings.team.timezone)).replace(tzinfo=None)
    return PlanInputs(
        now_local=local,
        now_utc=store.github_clock(latest, now),  # compared with GitHub's times (nudge cooldown)
        members=members,
        in_flight=int(in_flight),
        recently_planned={(repo, int(number)) for repo, number in recent},
        used_by_repo={repo: int(count) for repo, count in by_repo},
        **frames,
    )


def plan_id_for(plan: Plan, now: datetime) -> str:
    """UTC time + a short hash of the plan's content: the same inputs give the same id."""
    content = json.dumps([a.as_row(i) for i, a in enumerate(plan.actions, 1)], sort_keys=True, default=str)
    return f"{now:%Y%m%dT%H%M%SZ}-{hashlib.sha1(content.encode()).hexdigest()[:6]}"


def save_plan(con: duckdb.DuckDBPyConnection, plan_id: str, plan: Plan, now: datetime, snapshot_run_id: int | None,
              settings: Settings, pool: int, used: int) -> None:  # fmt: skip
    frame = pd.DataFrame(
        [
            {
                **{k: v for k, v in a.as_row(seq).items() if k not in ("payload", "precondition")},
                "plan_id": plan_id,
                "payload": json.dumps(a.payload, default=str),
                "precondition": json.dumps(a.precondition, default=str),
            }
            for seq, a in enumerate(plan.actions, 1)
        ],
        columns=["plan_id", "seq", "action", "repo", "target", "payload", "reason", "priority", "cost",
                 "precondition", "member"],
    )  # fmt: skip
    with store.transaction(con):
        con.execute(
            "INSERT INTO dispatch_plans VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [plan_id, now, snapshot_run_id, settings.dispatch.strategy, pool, used, pool - used,
             plan.summary["cost"], json.dumps(plan.summary, default=str)],
        )  # fmt: skip
        store.insert_frame(con, "plan_actions", frame)
        store.save_settings(con, view_settings(settings))


@task(name="make-plan", cache_policy=NO_CACHE)
def make_plan(settings: Settings, now: datetime) -> dict[str, Any]:
    """Read the snapshot's views and the ledger, build the plan, store it."""
    with store.writer(settings.database.path) as con:
        latest = store.last_complete_run(con)
        if latest is None:
            raise FileNotFoundError("no complete snapshot yet: run `orchestrator snapshot` first")
        inputs = read_plan_inputs(con, settings, now)
        plan = build_plan(inputs, plan_rules(settings), configured_repos(con, settings))
        plan_id = plan_id_for(plan, now)
        pool = sum(m.quota for m in inputs.members)
        used = sum(m.used for m in inputs.members)
        save_plan(con, plan_id, plan, now, latest["run_id"], settings, pool, used)
    return {"plan_id": plan_id, "plan": plan, "pool": pool, "used": used, "snapshot_run_id": latest["run_id"]}


@task(name="publish-plan", cache_policy=NO_CACHE)
def publish_plan(settings: Settings, made: dict[str, Any]) -> str:
    """The plan as a JSON file and a Prefect table artifact."""
    plan: Plan = made["plan"]
    folder = Path(settings.dispatch.plans_dir)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{made['plan_id']}.json"
    document = {
        "plan_id": made["plan_id"],
        "snapshot_run_id": made["snapshot_run_id"],
        "pool": made["pool"],
        "used": made["used"],
        "summary": plan.summary,
        "actions": [a.as_row(seq) for seq, a in enumerate(plan.actions, 1)],
    }
    path.write_text(json.dumps(document, indent=2, default=str, ensure_ascii=False))
    create_table_artifact(
        key="dispatch-plan",
        table=[
            {k: a.as_row(seq)[k] for k in ("seq", "action", "repo", "target", "cost", "reason")}
            for seq, a in enumerate(plan.actions, 1)
        ],  # fmt: skip
        description=f"Plan {made['plan_id']}: {len(plan.actions)} actions, {plan.summary['cost']} tasks. "
        + plan.summary["refill"],
    )
    return str(path)


@flow(name="plan", log_prints=True)
def plan_flow(
    config_path: str | None = None, settings: Settings | None = None, now: datetime | None = None
) -> dict[str, Any]:
    """Emit today's dispatch plan from the latest complete snapshot."""
    settings = settings or load_settings(config_path)
    now = now or datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    made = make_plan(settings, now)
    path = publish_plan(settings, made)
    plan: Plan = made["plan"]
    return {
        "plan_id": made["plan_id"],
        "count_actions": len(plan.actions),
        "cost": plan.summary["cost"],
        "pool": made["pool"],
        "used": made["used"],
        "summary": plan.summary,
        "path": path,
    }
