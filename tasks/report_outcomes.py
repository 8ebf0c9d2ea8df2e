"""The report's outcomes section: measured success by agent × language (`outcome_rates`) and its
trend by week (`outcome_trend`), as small tables. Reads the views; no SQL of its own beyond a SELECT."""

from __future__ import annotations

from typing import Any

import duckdb
import pandas as pd

TREND_WEEKS = 8  # the latest weeks with a dispatch, oldest first


def _cell(merged: Any, finished: Any) -> str:
    """`67% (2/3)`: the success rate with its counts; `-` when nothing finished."""
    merged, finished = int(merged or 0), int(finished or 0)
    return f"{merged / finished:.0%} ({merged}/{finished})" if finished else "-"


def outcome_tables(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """`rates`: rows of agent, language, success (`rate (merged/finished)`), in flight; `trend_weeks`
    and `trend`: per (agent, language) the success of each of the latest weeks."""
    try:
        rates = con.execute(
            "SELECT agent, language, count_merged, count_finished, count_in_flight FROM outcome_rates "
            "ORDER BY agent, language"
        ).fetchdf()
        weekly = con.execute(
            "SELECT agent, language, week, count_merged, count_finished FROM outcome_trend ORDER BY week"
        ).fetchdf()
    except duckdb.CatalogException:  # a database from before the outcomes views
        rates, weekly = pd.DataFrame(), pd.DataFrame()
    rows = [
        {"agent": r.agent, "language": r.language, "success": _cell(r.count_merged, r.count_finished),
         "in_flight": int(r.count_in_flight)}
        for r in rates.itertuples(index=False)
    ]  # fmt: skip
    weeks = sorted({str(w)[:10] for w in weekly["week"]})[-TREND_WEEKS:] if not weekly.empty else []
    cells = {(r.agent, r.language, str(r.week)[:10]): _cell(r.count_merged, r.count_finished)
             for r in weekly.itertuples(index=False)}  # fmt: skip
    trend = [
        {"agent": r["agent"], "language": r["language"],
         "weeks": [cells.get((r["agent"], r["language"], w), "") for w in weeks]}
        for r in rows
    ]  # fmt: skip
    return {"rates": rows, "trend_weeks": weeks, "trend": trend}
