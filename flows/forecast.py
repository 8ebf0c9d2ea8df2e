"""Forecast flow: read the latest complete snapshot, simulate, write `epic_forecast` / `org_forecast`, chart.

The Monte Carlo model is `analytics.forecast`; the frames -> inputs step is `analytics.forecast_inputs`.
The same steps run without Prefect (`compute_forecast`, `load_frames`) for the command line, so
`orchestrator forecast` answers in seconds and prints exactly what the flow writes.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE

from analytics import forecast as model
from analytics.charts import DEFAULT_DIR, render_charts
from analytics.forecast_inputs import build_inputs, capacity_per_day, dispatches_from, done_over_time
from orchestrator.config import Settings, load_settings
from tasks import store

HORIZON_DAYS = 730
DEFAULT_BY_DAYS = 30  # prob_done_by looks this far ahead when no --by date is given
BACKTEST_TRIALS = 2_000

# ── SQL: small, one frame each ──────────────────────────────────────────────────

SNAPSHOT_SQL = """
SELECT run_id, started_at, coalesce(finished_at, started_at) AS finished_at
FROM snapshot_runs WHERE status = 'complete' ORDER BY run_id DESC LIMIT 1
"""

CHILDREN_SQL = """
SELECT c.repo, c.epic, c.child, c.phase, c.child_state, c.severity, c.is_dispatched,
       coalesce(i.created_at, p.created_at) AS created_at,
       coalesce(i.closed_at, p.closed_at) AS closed_at
FROM epic_children c
LEFT JOIN issues i ON i.repo = c.repo AND i.number = c.child
LEFT JOIN pull_requests p ON p.repo = c.repo AND p.number = c.child
ORDER BY c.repo, c.epic, c.phase, c.child
"""

EPICS_SQL = "SELECT repo, epic, title, state, created_at, closed_at FROM epics ORDER BY repo, epic"

# first time each issue was handed to the agent: the agent label added, or the agent assigned
AGENT_EVENTS_SQL = """
SELECT repo, number, min(created_at) AS at
FROM stg_issue_events
WHERE NOT is_pull_request
  AND ((event = 'labeled' AND lower(label) = lower(?)) OR (event = 'assigned' AND lower(assignee) = lower(?)))
GROUP BY ALL
"""

LEDGER_SQL = """
SELECT repo, target_number AS number, min(executed_at) AS at
FROM stg_action_log
WHERE action = 'dispatch' AND is_done AND target_number IS NOT NULL
GROUP BY ALL
"""

ISSUES_SQL = "SELECT repo, number, state, state_reason, closed_at FROM issues"

PR_LINKS_SQL = """
SELECT DISTINCT l.repo, l.issue_number AS issue, l.pr_number, p.created_at, p.merged_at, p.closed_at,
       coalesce(p.merged, false) AS merged
FROM int_pr_issue_links l
JOIN pull_requests p ON p.repo = l.repo AND p.number = l.pr_number
"""


class NoSnapshotError(FileNotFoundError):
    """No complete snapshot yet: nothing to forecast from (the CLI prints it in one line)."""


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None, microsecond=0)


def load_frames(con: duckdb.DuckDBPyConnection, settings: Settings) -> dict[str, Any]:
    """Everything the forecast reads, from the latest complete snapshot (views give its current picture)."""
    snap = con.execute(SNAPSHOT_SQL).fetchone()
    if snap is None:
        raise NoSnapshotError("no complete snapshot in the database (run `orchestrator snapshot` first)")
    who = settings.agent.assignee or ""
    return {
        "run_id": int(snap[0]),
        "as_of": pd.Timestamp(snap[2]),
        "children": con.execute(CHILDREN_SQL).fetchdf(),
        "epics": con.execute(EPICS_SQL).fetchdf(),
        "agent_events": con.execute(AGENT_EVENTS_SQL, [settings.agent.label, who]).fetchdf(),
        "ledger": con.execute(LEDGER_SQL).fetchdf(),
        "issues": con.execute(ISSUES_SQL).fetchdf(),
        "pr_links": con.execute(PR_LINKS_SQL).fetchdf(),
    }


def read_frames(settings: Settings) -> dict[str, Any]:
    with store.reader(settings.database.path) as con:
        return load_frames(con, settings)


def planner_rate(settings: Settings, rate: float | None = None) -> float:
    """Tasks per day: min(team pool, strategy upper bound), or the what-if ``rate``."""
    pool = settings.team.pool if settings.team.members else None
    return capacity_per_day(pool, settings.dispatch.daily_range[1], rate)


def compute_forecast(
    frames: dict[str, Any],
    settings: Settings,
    rate: float | None = None,
    by_date: date | None = None,
    trials: int = 10_000,
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
    per_epic, org = model.forecast(
        epics,
        params,
        cap,
        as_of,
        trials=trials,
        seed=seed,
        max_repo_share=settings.dispatch.max_repo_share,
        horizon_days=horizon_days,
        by_date=by,
    )
    computed_at = utcnow()
    titles = {
        (r, int(e)): t
        for r, e, t in zip(frames["epics"]["repo"], frames["epics"]["epic"], frames["epics"]["title"], strict=False)
    }
    notes = list(params.notes)
    if cap <= 0:
        notes.insert(0, "rate is 0 tasks/day: no epic with work left can complete")
    per_epic = per_epic.assign(
        title=[titles.get((r, int(e))) for r, e in zip(per_epic["repo"], per_epic["epic"], strict=False)],
        by_date=by,
        rate=cap,
        trials=int(trials),
        as_of=as_of,
        computed_at=computed_at,
        snapshot_run_id=frames["run_id"],
    )
    cols = [
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
    per_epic = per_epic[cols]
    if len(per_epic):
        per_epic["prob_done_by"] = per_epic["prob_done_by"].astype(float)
    org_row = {
        "as_of": as_of,
        "computed_at": computed_at,
        "snapshot_run_id": frames["run_id"],
        "open_epics": len(per_epic),
        "remaining_children": int(per_epic["remaining_children"].sum()),
        "p50": org["p50"],
        "p85": org["p85"],
        "p95": org["p95"],
        "prob_done_by": org["prob_done_by"],
        "by_date": by,
        "beyond_horizon": bool(org["beyond_horizon"]),
        "expected_tasks": float(org["expected_tasks"]),
        "thin_history": bool(org["thin_history"]),
        "rate": cap,
        "trials": int(trials),
        "horizon_days": int(horizon_days),
        "merged_dispatches": int(params.org_alpha - model.PRIOR_SUCCESS[0]),
        "failed_dispatches": int(params.org_beta - model.PRIOR_SUCCESS[1]),
        "notes": "; ".join(notes),
    }
    return {
        "epic_forecast": per_epic,
        "org_forecast": pd.DataFrame([org_row]),
        "org": org_row,
        "notes": notes,
        "history": done_over_time(frames["children"], as_of_ts),
        "params": params,
    }


# ── writing ───────────────────────────────────────────────────────────────────

FORECAST_TABLES = {
    "epic_forecast": """
        repo VARCHAR NOT NULL, epic INTEGER NOT NULL, title VARCHAR, remaining_children INTEGER,
        p50 DATE, p85 DATE, p95 DATE, prob_done_by DOUBLE, by_date DATE, expected_tasks DOUBLE,
        thin_history BOOLEAN, beyond_horizon BOOLEAN, prob_beyond_horizon DOUBLE, rate DOUBLE, trials INTEGER,
        as_of DATE, computed_at TIMESTAMP, snapshot_run_id INTEGER, PRIMARY KEY (repo, epic)
    """,
    "org_forecast": """
        as_of DATE, computed_at TIMESTAMP, snapshot_run_id INTEGER, open_epics INTEGER, remaining_children INTEGER,
        p50 DATE, p85 DATE, p95 DATE, prob_done_by DOUBLE, by_date DATE, beyond_horizon BOOLEAN,
        expected_tasks DOUBLE, thin_history BOOLEAN, rate DOUBLE, trials INTEGER, horizon_days INTEGER,
        merged_dispatches INTEGER, failed_dispatches INTEGER, notes VARCHAR
    """,
}


def save_forecast(con: duckdb.DuckDBPyConnection, frames: dict[str, pd.DataFrame]) -> None:
    """Replace the contents of `epic_forecast` and `org_forecast` (created if missing), in one transaction."""
    for name, columns in FORECAST_TABLES.items():
        con.execute(f"CREATE TABLE IF NOT EXISTS {name} ({columns})")
    with store.transaction(con):
        store.replace_tables(con, {name: frames.get(name) for name in FORECAST_TABLES})


def write_forecast(settings: Settings, result: dict[str, Any]) -> None:
    with store.writer(settings.database.path) as con:
        save_forecast(con, {k: result[k] for k in FORECAST_TABLES})


def charts(result: dict[str, Any], out_dir: str | Path = DEFAULT_DIR) -> list[Path]:
    """The org chart and one chart per epic, as PNG files in ``out_dir``."""
    return render_charts(
        result["history"],
        result["epic_forecast"],
        result["org"],
        result["org"]["as_of"],
        out_dir,
        int(result["org"]["horizon_days"]),
    )


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


# ── Prefect ───────────────────────────────────────────────────────────────────


@task(name="read-forecast-inputs", cache_policy=NO_CACHE)
def read_forecast_inputs(settings: Settings) -> dict[str, Any]:
    """Open epics, children, dispatches and PRs of the latest complete snapshot."""
    return read_frames(settings)


@task(name="simulate-forecast", cache_policy=NO_CACHE)
def simulate_forecast(
    frames: dict[str, Any], settings: Settings, rate: float | None, by_date: date | None, trials: int, seed: int
) -> dict[str, Any]:
    """The Monte Carlo simulation (analytics.forecast)."""
    return compute_forecast(frames, settings, rate, by_date, trials, seed)


@task(name="write-forecast", cache_policy=NO_CACHE)
def write_forecast_task(settings: Settings, result: dict[str, Any]) -> None:
    """Replace `epic_forecast` and `org_forecast`."""
    write_forecast(settings, result)


@task(name="render-forecast-charts", cache_policy=NO_CACHE)
def render_forecast_charts(result: dict[str, Any], out_dir: str) -> list[str]:
    return [str(p) for p in charts(result, out_dir)]


def _artifacts(result: dict[str, Any], paths: list[str]) -> None:
    """A table artifact of epic_forecast and a markdown artifact with the org chart inline."""
    import base64

    from prefect.artifacts import create_markdown_artifact, create_table_artifact

    org = result["org"]
    shown = result["epic_forecast"].drop(columns=["computed_at", "snapshot_run_id", "trials"])
    create_table_artifact(
        key="epic-forecast",
        table=rows_for_json(shown),
        description=f"Epic completion forecast as of {org['as_of']} at {org['rate']:g} tasks/day",
    )
    lines = [
        f"# Forecast as of {org['as_of']}",
        f"All {org['open_epics']} open epics done by: P50 {org['p50'] or 'beyond horizon'}, "
        f"P85 {org['p85'] or 'beyond horizon'}, P95 {org['p95'] or 'beyond horizon'} "
        f"at {org['rate']:g} tasks/day.",
    ]
    if result["notes"]:
        lines.append("\n".join(f"- {n}" for n in result["notes"]))
    org_png = next((p for p in paths if p.endswith("org.png")), None)
    if org_png and Path(org_png).exists():
        data = base64.b64encode(Path(org_png).read_bytes()).decode()
        lines.append(f"![organisation burn-up](data:image/png;base64,{data})")
    lines.append("Charts: " + ", ".join(f"`{p}`" for p in paths))
    create_markdown_artifact(
        key="epic-forecast-charts", markdown="\n\n".join(lines), description="Burn-up and forecast fan"
    )


@flow(name="forecast", log_prints=True)
def forecast_flow(
    config_path: str | None = None,
    settings: Settings | None = None,
    rate: float | None = None,
    by_date: date | None = None,
    trials: int = 10_000,
    seed: int = 0,
    charts_dir: str | None = None,
) -> dict[str, Any]:
    """Forecast every open epic from the latest complete snapshot; write the tables, charts and artifacts."""
    logger = get_run_logger()
    settings = settings or load_settings(config_path)
    frames = read_forecast_inputs(settings)
    result = simulate_forecast(frames, settings, rate, by_date, trials, seed)
    write_forecast_task(settings, result)
    paths = render_forecast_charts(result, str(charts_dir or DEFAULT_DIR))
    _artifacts(result, paths)
    org = result["org"]
    logger.info(
        "forecast as of %s: %d open epics, all done by P85 %s (%s tasks/day)%s",
        org["as_of"],
        org["open_epics"],
        org["p85"] or "beyond horizon",
        org["rate"],
        " - thin history" if org["thin_history"] else "",
    )
    return {
        "as_of": org["as_of"],
        "rate": org["rate"],
        "open_epics": org["open_epics"],
        "org": {
            k: org[k]
            for k in (
                "p50",
                "p85",
                "p95",
                "prob_done_by",
                "by_date",
                "beyond_horizon",
                "expected_tasks",
                "thin_history",
            )
        },
        "epic_forecast": rows_for_json(result["epic_forecast"]),
        "charts": paths,
        "notes": result["notes"],
    }


# ── backtest ──────────────────────────────────────────────────────────────────


def backtest_cutoffs(
    children: pd.DataFrame, epics: pd.DataFrame, as_of: pd.Timestamp, step_days: int = 7, max_cutoffs: int = 8
) -> list[date]:
    """Weekly cutoffs over the recent past: from two weeks after the first epic to one week ago."""
    created = pd.to_datetime(epics["created_at"]).dropna()
    if created.empty:
        return []
    first = created.min().normalize() + pd.Timedelta(days=14)
    last = as_of.normalize() - pd.Timedelta(days=step_days)
    cuts = []
    day = last
    while day >= first and len(cuts) < max_cutoffs:
        cuts.append(day.date())
        day -= pd.Timedelta(days=step_days)
    return sorted(cuts)


def observed_rate(dispatches: pd.DataFrame, as_of: pd.Timestamp, window: int = 28) -> pd.DataFrame:
    """``date, capacity``: dispatches per day over the trailing ``window`` days (the rate actually used)."""
    start = pd.to_datetime(dispatches["dispatched_at"]).min() if len(dispatches) else as_of
    days = pd.date_range(start.normalize(), as_of.normalize(), freq="D")
    counts = pd.Series(dtype=float)
    if len(dispatches):
        counts = pd.to_datetime(dispatches["dispatched_at"]).dt.normalize().value_counts()
    daily = pd.Series(0.0, index=days).add(counts, fill_value=0).loc[days]
    rate = daily.rolling(window, min_periods=1).sum() / window
    # the rate known on a day is the one of the days before it
    return pd.DataFrame({"date": days + pd.Timedelta(days=1), "capacity": rate.to_numpy()})


def run_backtest(
    settings: Settings,
    rate: float | None = None,
    trials: int = BACKTEST_TRIALS,
    seed: int = 0,
    frames: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Forecast at weekly past cutoffs from data before each cutoff; compare with what happened.

    Capacity at a cutoff is the dispatch rate observed over the 28 days before it (what the team
    actually spent), unless ``rate`` is given. Children and their dates come from the current
    snapshot (``closed_at`` / ``created_at`` say when each was done or listed).
    """
    frames = frames or read_frames(settings)
    as_of = frames["as_of"]
    from analytics.forecast_inputs import history_frames

    children, epics = history_frames(frames["children"], frames["epics"])
    dispatches = dispatches_from(frames["agent_events"], frames["ledger"], frames["issues"], frames["pr_links"])
    cutoffs = backtest_cutoffs(children, epics, as_of)
    if rate is not None:
        capacity = pd.DataFrame({"date": [pd.Timestamp("1970-01-01")], "capacity": [max(0.0, float(rate))]})
    else:
        capacity = observed_rate(dispatches, as_of)
    bt = pd.DataFrame()
    if cutoffs and len(children) and len(dispatches):
        bt = model.backtest_epics(
            children,
            dispatches,
            epics,
            capacity,
            cutoffs,
            trials=trials,
            seed=seed,
            max_repo_share=settings.dispatch.max_repo_share,
        )
    notes = []
    known = int(bt["done_by_p50"].notna().sum()) if len(bt) else 0
    distinct = bt[["repo", "epic"]].drop_duplicates() if len(bt) else pd.DataFrame()
    finished = bt.loc[bt["actual"].notna(), ["repo", "epic"]].drop_duplicates() if len(bt) else pd.DataFrame()
    merged = int(dispatches["merged_at"].notna().sum()) if len(dispatches) else 0
    if not len(bt):
        notes.append("no epic was open at any past cutoff with dispatch history: nothing to check yet")
    else:
        if len(distinct) < 10:
            notes.append(
                f"thin history: only {len(distinct)} distinct epics (re-forecast at each of "
                f"{len(cutoffs)} cutoffs, so the rows are not independent) and {known} known outcomes; "
                "these shares are rough"
            )
        if len(finished) == 0:
            notes.append(
                "none of these epics has finished since: the P50 error in days cannot be measured, and "
                "every forecast date already passed counts as a miss (the epics stalled, or their "
                "children were not dispatched at the rate the model assumes)"
            )
    if merged < model.THIN_MERGES:
        notes.append(f"only {merged} merged dispatches in the whole history")
    table = model.calibration(bt) if len(bt) else pd.DataFrame()
    return {
        "as_of": as_of.date(),
        "cutoffs": cutoffs,
        "calibration": table,
        "detail": bt,
        "dispatches": len(dispatches),
        "merged": merged,
        "outcomes_known": known,
        "notes": notes,
        "capacity": "observed 28-day dispatch rate" if rate is None else f"{float(rate):g} tasks/day",
    }
