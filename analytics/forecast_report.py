"""The forecast as the tables and answers people read: `epic_forecast`, `org_forecast`, budget, JSON.

`compute_forecast` runs the model on the frames the forecast reads (see `analytics.forecast_inputs`)
and shapes its output into the rows of `epic_forecast` / `org_forecast`, with notes and the
burn-up history. `epics_done_within` answers `orchestrator budget --forecast`. Pure: frames in,
frames and dicts out (the store is `tasks.forecast_store`).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pandas as pd

from analytics import forecast as model
from analytics.forecast_inputs import build_inputs, capacity_per_day, dispatches_from, done_over_time
from common.config import Settings

HORIZON_DAYS = 730
DEFAULT_TRIALS = 10_000
DEFAULT_BY_DAYS = 30  # prob_done_by looks this far ahead when no --by date is given

EPIC_FORECAST_COLUMNS = [
    "repo",
    "epic",
    "title",
    "remaining_children",
    "p50",
    "p85",
    "p95",
    "prob_done_by",
    "by_date",
    "expected_tasks",
    "thin_history",
    "beyond_horizon",
    "prob_beyond_horizon",
    "rate",
    "trials",
    "as_of",
    "computed_at",
    "snapshot_run_id",
]
ORG_SUMMARY_KEYS = ("p50", "p85", "p95", "prob_done_by", "by_date", "beyond_horizon", "expected_tasks", "thin_history")


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None, microsecond=0)


def planner_rate(settings: Settings, rate: float | None = None) -> float:
    """Tasks per day: min(team pool, strategy upper bound), or the what-if ``rate``."""
    pool = settings.team.pool if settings.team.members else None
    return capacity_per_day(pool, settings.dispatch.daily_range[1], rate)


def _epic_rows(per_epic: pd.DataFrame, frames: dict[str, Any], run: dict[str, Any]) -> pd.DataFrame:
    """The model's per-epic frame as `epic_forecast` rows: titles and the run's figures attached."""
    epics = frames["epics"]
    titles = {(r, int(e)): t for r, e, t in zip(epics["repo"], epics["epic"], epics["title"], strict=False)}
    per_epic = per_epic.assign(
        title=[titles.get((r, int(e))) for r, e in zip(per_epic["repo"], per_epic["epic"], strict=False)],
        by_date=run["by_date"],
        rate=run["rate"],
        trials=run["trials"],
        as_of=run["as_of"],
        computed_at=run["computed_at"],
        snapshot_run_id=frames["run_id"],
    )
    per_epic = per_epic[EPIC_FORECAST_COLUMNS]
    if len(per_epic):
        per_epic["prob_done_by"] = per_epic["prob_done_by"].astype(float)
    return per_epic


def _org_row(
    org: dict[str, Any], per_epic: pd.DataFrame, params: model.Params, run: dict[str, Any], notes: list[str]
) -> dict[str, Any]:
    """The `org_forecast` row."""
    return {
        "as_of": run["as_of"],
        "computed_at": run["computed_at"],
        "snapshot_run_id": run["snapshot_run_id"],
        "open_epics": len(per_epic),
        "remaining_children": int(per_epic["remaining_children"].sum()),
        "p50": org["p50"],
        "p85": org["p85"],
        "p95": org["p95"],
        "prob_done_by": org["prob_done_by"],
        "by_date": run["by_date"],
        "beyond_horizon": bool(org["beyond_horizon"]),
        "expected_tasks": float(org["expected_tasks"]),
        "thin_history": bool(org["thin_history"]),
        "rate": run["rate"],
        "trials": run["trials"],
        "horizon_days": run["horizon_days"],
        "merged_dispatches": int(params.org_alpha - model.PRIOR_SUCCESS[0]),
        "failed_dispatches": int(params.org_beta - model.PRIOR_SUCCESS[1]),
        "notes": "; ".join(notes),
    }


def compute_forecast(
    frames: dict[str, Any],
    settings: Settings,
    rate: float | None = None,
    by_date: date | None = None,
    trials: int = DEFAULT_TRIALS,
    seed: int = 0,
    horizon_days: int = HORIZON_DAYS,
) -> dict[str, Any]:
    """Run the model on the frames: ``epic_forecast`` / ``org_forecast`` frames, notes and burn-up history."""
    as_of_ts: pd.Timestamp = frames["as_of"]
    as_of = as_of_ts.date()
    by = by_date or as_of + timedelta(days=DEFAULT_BY_DAYS)
    cap = planner_rate(settings, rate)
    dispatches = dispatches_from(frames["agent_events"], frames["ledger"], frames["issues"], frames["pr_links"])
    epics, history = build_inputs(frames["children"], frames["epics"], dispatches, as_of_ts)
    params = model.estimate_parameters(history, as_of_ts)
    share = settings.dispatch.max_repo_share
    per_epic, org = model.forecast(
        epics, params, cap, as_of, trials=trials, seed=seed, max_repo_share=share, horizon_days=horizon_days, by_date=by
    )
    run = {"as_of": as_of, "by_date": by, "rate": cap, "trials": int(trials), "horizon_days": int(horizon_days)}
    run.update(computed_at=utcnow(), snapshot_run_id=frames["run_id"])
    notes = list(params.notes)
    if cap <= 0:
        notes.insert(0, "rate is 0 tasks/day: no epic with work left can complete")
    per_epic = _epic_rows(per_epic, frames, run)
    org_row = _org_row(org, per_epic, params, run, notes)
    return {
        "epic_forecast": per_epic,
        "org_forecast": pd.DataFrame([org_row]),
        "org": org_row,
        "notes": notes,
        "history": done_over_time(frames["children"], as_of_ts),
        "params": params,
    }


def rows_for_json(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """`epic_forecast` rows as plain JSON values (dates ISO, NaN/NaT -> null)."""
    out = []
    for rec in frame.to_dict("records"):
        row = {}
        for key, value in rec.items():
            if value is None or (not isinstance(value, str | list) and pd.isna(value)):
                value = None
            elif isinstance(value, pd.Timestamp | datetime | date):
                value = value.isoformat()
            elif hasattr(value, "item"):
                value = value.item()
            row[key] = value
        out.append(row)
    return out


def only_epic(frame: pd.DataFrame, repo: str, number: int) -> pd.DataFrame:
    """The rows of one epic (repo compared case-insensitively)."""
    return frame[(frame["repo"].str.lower() == repo.lower()) & (frame["epic"] == number)]


def org_summary(org: dict[str, Any]) -> dict[str, Any]:
    """The organisation's dates and figures the flow returns."""
    return {k: org[k] for k in ORG_SUMMARY_KEYS}


def epics_done_within(result: dict[str, Any], days: int, until: date) -> dict[str, Any]:
    """Which epics complete by ``until`` (``days`` ahead) at P85, from a `compute_forecast` result.

    Returns ``{as_of, days, until, rate, epics_done: [...], epics_not_done: [...], expected_tasks,
    expected_tasks_done_epics, org: {p50, p85, p95, prob_done_by, beyond_horizon}, thin_history, notes}``;
    each epic is ``{repo, epic, title, remaining_children, p85, prob_done_by, expected_tasks}``.
    """
    fc = result["epic_forecast"]
    within = fc["p85"].notna() & (fc["p85"].map(lambda d: d is not None and d == d and d <= until))
    keep = ["repo", "epic", "title", "remaining_children", "p85", "prob_done_by", "expected_tasks"]
    org = result["org"]
    return {
        "as_of": org["as_of"].isoformat(),
        "days": int(days),
        "until": until.isoformat(),
        "rate": org["rate"],
        "epics_done": rows_for_json(fc.loc[within, keep]),
        "epics_not_done": rows_for_json(fc.loc[~within, keep]),
        "expected_tasks": round(float(fc["expected_tasks"].sum()), 1),
        "expected_tasks_done_epics": round(float(fc.loc[within, "expected_tasks"].sum()), 1),
        "org": {
            k: (org[k].isoformat() if hasattr(org[k], "isoformat") else org[k])
            for k in ("p50", "p85", "p95", "prob_done_by", "beyond_horizon")
        },
        "thin_history": bool(org["thin_history"]),
        "notes": result["notes"],
    }
