"""Forecast flow: read the latest complete snapshot, simulate, write `epic_forecast` / `org_forecast`, chart.

A short sequence over the forecast's layers: the reads and writes are `tasks.forecast_store`, the
model and its tables `analytics.forecast_report` (on `analytics.forecast`), the charts
`tasks.charts`. The command line runs the same steps without Prefect (`tasks.forecast_store`).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE

from analytics.forecast_report import compute_forecast, org_summary, rows_for_json
from common.config import Settings, load_settings
from tasks.charts import DEFAULT_DIR, forecast_charts
from tasks.forecast_store import read_frames, write_forecast


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
    return [str(p) for p in forecast_charts(result, out_dir)]


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
        "org": org_summary(org),
        "epic_forecast": rows_for_json(result["epic_forecast"]),
        "charts": paths,
        "notes": result["notes"],
    }
