"""Plan flow: read the latest complete snapshot, the views and the ledger; emit an ordered plan.

What it reads is `tasks.plan_inputs`; the rules are `analytics.plan_rules`; the planner is
`analytics.planning`. This module composes them and stores and publishes the plan.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
from prefect import flow, task
from prefect.artifacts import create_table_artifact
from prefect.cache_policies import NO_CACHE

from analytics.plan_rules import plan_rules
from analytics.planning import Plan, build_plan
from common.config import Settings, load_settings, view_settings
from tasks import store
from tasks.plan_inputs import configured_repos, read_plan_inputs
from tasks.usage import usage_settings


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
        # the views (usage_events, daily_usage) count with the team and zone this plan used
        store.save_settings(con, view_settings(settings) | usage_settings(settings))


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
