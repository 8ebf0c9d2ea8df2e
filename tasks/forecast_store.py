"""The forecast's I/O: read its frames from the analytics views, write `epic_forecast` / `org_forecast`.

The reads are the views `forecast_children`, `epics`, `int_agent_handoffs`, `int_first_dispatches`,
`forecast_pr_attempts` and the current `issues`, as of the latest complete snapshot; the model and
the shaping of its output are `analytics.forecast_report`. `run_forecast`, `run_backtest` and
`budget_forecast` are the whole forecast as the command line (and `orchestrator budget --forecast`)
asks for it, without Prefect, so an answer takes seconds.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from analytics.backtest import BACKTEST_TRIALS, backtest_report
from analytics.forecast_report import DEFAULT_TRIALS, compute_forecast, epics_done_within, only_epic
from common.config import Settings
from tasks import store

LATEST_SNAPSHOT = (
    "SELECT run_id, started_at, coalesce(finished_at, started_at) AS finished_at "
    "FROM stg_snapshot_runs WHERE is_complete ORDER BY run_id DESC LIMIT 1"
)
# the agent's handoffs: its label added, or its account assigned (both compared lower-cased)
AGENT_HANDOFFS = (
    "SELECT repo, number, min(first_at) AS at FROM int_agent_handoffs "
    "WHERE (handoff = 'labeled' AND handed_to = lower(?)) OR (handoff = 'assigned' AND handed_to = lower(?)) "
    "GROUP BY ALL"
)
FRAME_QUERIES = {
    "children": "SELECT * FROM forecast_children ORDER BY repo, epic, phase, child",
    "epics": "SELECT repo, epic, title, state, created_at, closed_at FROM epics ORDER BY repo, epic",
    "ledger": "SELECT repo, number, first_at AS at FROM int_first_dispatches",
    "issues": "SELECT repo, number, state, state_reason, closed_at FROM issues",
    "pr_links": "SELECT * FROM forecast_pr_attempts",
}

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


class NoSnapshotError(FileNotFoundError):
    """No complete snapshot yet: nothing to forecast from (the CLI prints it in one line)."""


class NotAnOpenEpic(LookupError):
    """The epic asked for is not open in the latest snapshot."""


def load_frames(con: duckdb.DuckDBPyConnection, settings: Settings) -> dict[str, Any]:
    """Everything the forecast reads, from the latest complete snapshot (views give its current picture)."""
    snap = con.execute(LATEST_SNAPSHOT).fetchone()
    if snap is None:
        raise NoSnapshotError("no complete snapshot in the database (run `orchestrator snapshot` first)")
    frames: dict[str, Any] = {"run_id": int(snap[0]), "as_of": pd.Timestamp(snap[2])}
    frames.update({name: con.execute(sql).fetchdf() for name, sql in FRAME_QUERIES.items()})
    who = settings.agent.assignee or ""
    frames["agent_events"] = con.execute(AGENT_HANDOFFS, [settings.agent.label, who]).fetchdf()
    return frames


def read_frames(settings: Settings) -> dict[str, Any]:
    with store.reader(settings.database.path) as con:
        return load_frames(con, settings)


def save_forecast(con: duckdb.DuckDBPyConnection, frames: dict[str, pd.DataFrame]) -> None:
    """Replace the contents of `epic_forecast` and `org_forecast` (created if missing), in one transaction."""
    for name, columns in FORECAST_TABLES.items():
        con.execute(f"CREATE TABLE IF NOT EXISTS {name} ({columns})")
    with store.transaction(con):
        store.replace_tables(con, {name: frames.get(name) for name in FORECAST_TABLES})


def write_forecast(settings: Settings, result: dict[str, Any]) -> None:
    with store.writer(settings.database.path) as con:
        save_forecast(con, {k: result[k] for k in FORECAST_TABLES})


def is_canonical(rate: float | None, by_date: date | None, trials: int, seed: int) -> bool:
    """The forecast the tables hold: the planner's rate, default horizon, trials and seed (no what-if)."""
    return rate is None and by_date is None and trials == DEFAULT_TRIALS and seed == 0


def run_forecast(
    settings: Settings,
    rate: float | None = None,
    by_date: date | None = None,
    trials: int = DEFAULT_TRIALS,
    seed: int = 0,
    charts_dir: str | Path | None = None,
    epic: tuple[str, int] | None = None,
) -> dict[str, Any]:
    """Read, simulate, refresh the tables when canonical (what-ifs leave them alone), draw charts if asked.

    The `compute_forecast` result plus ``shown`` (its `epic_forecast` rows, only ``epic``'s when
    given: `NotAnOpenEpic` when it has none) and ``charts`` (the PNG paths written, if any).
    """
    result = compute_forecast(read_frames(settings), settings, rate=rate, by_date=by_date, trials=trials, seed=seed)
    if is_canonical(rate, by_date, trials, seed):
        write_forecast(settings, result)
    shown = result["epic_forecast"]
    if epic:
        shown = only_epic(shown, *epic)
        if shown.empty:
            raise NotAnOpenEpic(f"{epic[0]}#{epic[1]}")
    paths: list[Path] = []
    if charts_dir:
        from tasks.charts import forecast_charts

        paths = forecast_charts(result, charts_dir)
    return {**result, "shown": shown, "charts": paths}


def budget_forecast(
    settings: Settings, days: int, rate: float | None = None, trials: int = DEFAULT_TRIALS, seed: int = 0
) -> dict[str, Any]:
    """Which epics complete within ``days`` at the planner's rate (or the what-if ``rate``), at P85.

    See `analytics.forecast_report.epics_done_within` for the answer's shape.
    """
    frames = read_frames(settings)
    until = frames["as_of"].date() + timedelta(days=int(days))
    result = compute_forecast(frames, settings, rate=rate, by_date=until, trials=trials, seed=seed)
    return epics_done_within(result, days, until)


def run_backtest(
    settings: Settings,
    rate: float | None = None,
    trials: int = BACKTEST_TRIALS,
    seed: int = 0,
    frames: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """`analytics.backtest.backtest_report` on the latest complete snapshot's frames."""
    frames = frames or read_frames(settings)
    return backtest_report(frames, settings.dispatch.max_repo_share, rate=rate, trials=trials, seed=seed)
