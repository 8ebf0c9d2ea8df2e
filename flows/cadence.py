"""The runbook's dispatch cadence: morning, midday and evening flows.

Each chains snapshot -> plan -> execute -> report. The plan flow decides the actions (ticking
checklists, nudges, dispatches, refill) from the snapshot and the time of day.

Applying is unattended, so it is guarded twice:
* only when `dispatch.auto_apply` is true (otherwise execute runs as a dry run);
* never more than `dispatch.daily_apply_cap` tasks a day: the cap left is the cap less every
  task already spent today (ledger, all sources: conservative); a plan whose cost exceeds it
  is not applied at all.

The sibling flows (plan, execute, forecast) are imported inside the functions.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE

from common.config import Settings, load_settings

Cadence = Literal["morning", "midday", "evening"]


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None, microsecond=0)


@task(name="tasks-used-today", cache_policy=NO_CACHE)
def tasks_used_today(settings: Settings, now: datetime) -> int:
    from tasks.report_html import locked_reader, used_today

    with locked_reader(settings.database.path) as con:
        return used_today(con, settings, now)


def apply_decision(settings: Settings, plan_cost: int, used: int) -> tuple[bool, int, str]:
    """(apply?, cap left today, why): auto-apply only, and never past the daily cap."""
    cap_left = max(settings.dispatch.daily_apply_cap - used, 0)
    if not settings.dispatch.auto_apply:
        return False, cap_left, "dispatch.auto_apply is off: dry run"
    if plan_cost > cap_left:
        return (
            False,
            cap_left,
            (
                f"plan costs {plan_cost} tasks but only {cap_left} of the daily cap "
                f"({settings.dispatch.daily_apply_cap}) are left: not applied"
            ),
        )
    return True, cap_left, f"applying: {plan_cost} of {cap_left} tasks left under the daily cap"


def run_cadence(cadence: Cadence, settings: Settings, now: datetime | None = None) -> dict[str, Any]:
    """snapshot -> plan -> execute (guarded) -> report; returns what each step did."""
    from flows.execute import execute_flow
    from flows.forecast import forecast_flow
    from flows.plan import plan_flow
    from flows.report import report_flow
    from flows.snapshot import snapshot

    logger = get_run_logger()
    now = now or utcnow()
    result: dict[str, Any] = {"cadence": cadence, "started_at": now.isoformat()}

    result["snapshot"] = snapshot(settings)

    plan = plan_flow(settings=settings)
    result["plan"] = {k: plan.get(k) for k in ("plan_id", "count_actions", "cost")}

    used = tasks_used_today(settings, now)
    # The cap is kept by refusing a plan that would pass it, not by cutting one short.
    apply, cap_left, why = apply_decision(settings, int(plan.get("cost") or 0), used)
    result["apply"] = {"applied": apply, "cap_left": cap_left, "used_today": used, "why": why}
    logger.info("%s: %s", cadence, why)
    result["execute"] = execute_flow(settings=settings, plan_id=plan["plan_id"], apply=apply)

    if cadence == "evening":
        try:
            forecast_flow(settings=settings)
            result["forecast"] = "updated"
        except Exception as exc:  # noqa: BLE001 - a forecast failure must not lose the day's summary
            logger.warning("forecast failed: %s", exc.__class__.__name__)
            result["forecast"] = f"failed: {exc.__class__.__name__}"

    report = report_flow(settings=settings)
    result["report"] = report["path"]
    if cadence == "evening":
        result["summary"] = evening_summary(settings, result, report)
    return result


def evening_summary(settings: Settings, result: dict[str, Any], report: dict[str, Any]) -> dict[str, Any]:
    """The day's dispatched vs merged vs stuck, tomorrow's plan and the ready queue, as a dict and an artifact."""
    from prefect.artifacts import create_markdown_artifact

    today = report.get("today") or {}
    plan = result.get("plan") or {}
    summary = {
        "dispatched": int(today.get("dispatched", 0)),
        "merged": int(today.get("merged", 0)),
        "stuck": int(today.get("stuck", 0)),
        "used_today": int(report.get("used_today", 0)),
        "pool": int(report.get("pool", 0)),
        "ready_queue": int(report.get("count_ready", 0)),
        "tomorrow_plan_id": plan.get("plan_id"),
        "tomorrow_actions": plan.get("count_actions"),
        "tomorrow_cost": plan.get("cost"),
    }
    rate_low, rate_high = settings.dispatch.daily_range
    refill = (
        "ready queue is low: the plan refills it (Stage 1/2 on the next repo by tier)"
        if (summary["ready_queue"] < 2 * rate_low)
        else "ready queue is healthy"
    )
    markdown = "\n".join(
        [
            f"## Evening review: {settings.github.org}",
            "",
            "| dispatched | merged | stuck | tasks used / pool | ready queue |",
            "| ---: | ---: | ---: | ---: | ---: |",
            f"| {summary['dispatched']} | {summary['merged']} | {summary['stuck']} | "
            f"{summary['used_today']} / {summary['pool']} | {summary['ready_queue']} |",
            "",
            f"Tomorrow's plan: `{summary['tomorrow_plan_id']}`, {summary['tomorrow_actions']} actions, "
            f"{summary['tomorrow_cost']} tasks (strategy {settings.dispatch.strategy}: {rate_low}-{rate_high} a day).",
            "",
            f"Refill: {refill}.",
        ]
    )
    create_markdown_artifact(key="evening-summary", markdown=markdown, description="dispatched vs merged vs stuck")
    summary["markdown"] = markdown
    return summary


@flow(name="morning", log_prints=True)
def morning_flow(config_path: str | None = None, settings: Settings | None = None) -> dict[str, Any]:
    """Start of day: tick checklists of merged work, unstick PRs, dispatch the current phases."""
    return run_cadence("morning", settings or load_settings(config_path))


@flow(name="midday", log_prints=True)
def midday_flow(config_path: str | None = None, settings: Settings | None = None) -> dict[str, Any]:
    """Check-in: new conflicts from cascade merges, nudges, more dispatch if budget is left."""
    return run_cadence("midday", settings or load_settings(config_path))


@flow(name="evening", log_prints=True)
def evening_flow(config_path: str | None = None, settings: Settings | None = None) -> dict[str, Any]:
    """Wind-down: the day's dispatched vs merged vs stuck, tomorrow's plan, ready-queue refill."""
    return run_cadence("evening", settings or load_settings(config_path))


CADENCE_FLOWS = {"morning": morning_flow, "midday": midday_flow, "evening": evening_flow}
