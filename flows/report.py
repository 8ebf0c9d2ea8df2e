"""Report flow: the static HTML report and the Prefect artifacts every cadence run leaves behind.

Artifacts (keys): `budget-summary` (markdown), `stuck-prs` (table), `latest-plan` (table),
`forecast-chart` (image of the forecast fan, or the burn-up when there is no forecast yet),
`report` (a link to the HTML file). The HTML itself is `tasks.report_html`.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE

from common.config import Settings, load_settings
from tasks.charts import report_charts
from tasks.report_html import (
    DEFAULT_REPORT,
    ReportData,
    collect,
    default_chart_dirs,
    render_html,
    to_jsonable,
)


def budget_markdown(data: ReportData) -> str:
    """The budget summary as markdown (also the body of the evening artifact's first part)."""
    remaining = max(data.pool - data.used_today, 0)
    t = data.today
    lines = [
        f"## Budget: {data.org}",
        "",
        "| pool | used today | remaining | strategy | unattended cap | auto-apply |",
        "| ---: | ---: | ---: | --- | ---: | --- |",
        f"| {data.pool} | {data.used_today} | {remaining} | {data.strategy} "
        f"({data.daily_range[0]}-{data.daily_range[1]}/day) | {data.daily_apply_cap} "
        f"| {'on' if data.auto_apply else 'off'} |",
        "",
        f"Today ({data.timezone}): **{t.get('dispatched', 0)}** dispatched, **{t.get('merged', 0)}** merged, "
        f"**{t.get('stuck', 0)}** PRs stuck.",
    ]
    if not data.by_day.empty:
        lines += ["", "| day | tasks (ledger) | agent labels seen | PRs merged |", "| --- | ---: | ---: | ---: |"]
        lines += [f"| {r.day} | {r.ledger_tasks} | {r.agent_labels} | {r.merged} |" for r in data.by_day.itertuples()]
    return "\n".join(lines)


@task(name="write-report", cache_policy=NO_CACHE)
def build_report(settings: Settings, out: str) -> tuple[str, ReportData, dict[str, bytes]]:
    """Collect (one short read-only connection), draw, write the HTML file atomically."""
    path = Path(out)
    data = collect(settings, chart_dirs=default_chart_dirs(path))
    charts = report_charts(data)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(render_html(data, charts), encoding="utf-8")
    tmp.replace(path)
    return str(path.resolve()), data, charts


@task(name="publish-artifacts", cache_policy=NO_CACHE)
def publish_artifacts(path: str, data: ReportData, charts: dict[str, bytes]) -> list[str]:
    """Budget summary, stuck PRs, the latest plan and the forecast chart, as Prefect artifacts."""
    from prefect.artifacts import (
        create_image_artifact,
        create_link_artifact,
        create_markdown_artifact,
        create_table_artifact,
    )

    made = ["budget-summary"]
    create_markdown_artifact(
        key="budget-summary", markdown=budget_markdown(data), description="Budget and today's throughput"
    )
    stuck = data.stuck.drop(columns=["html_url"], errors="ignore")
    create_table_artifact(
        key="stuck-prs",
        table=to_jsonable(stuck) or [{"repo": "", "number": None, "intervention": "no stuck pull requests"}],
        description=f"{len(stuck)} stuck pull requests and what to do about each",
    )
    made.append("stuck-prs")
    if data.plan:
        create_table_artifact(
            key="latest-plan",
            table=to_jsonable(data.plan_actions) or [{"action": "(empty plan)"}],
            description=f"Plan {data.plan['plan_id']}: planned cost {data.plan.get('planned_cost')}",
        )
        made.append("latest-plan")
    chart = charts.get("forecast") or charts.get("burnup")
    if chart:
        kind = "forecast fan" if "forecast" in charts else "epic burn-up (no forecast yet)"
        create_image_artifact(
            image_url="data:image/png;base64," + base64.b64encode(chart).decode("ascii"),
            key="forecast-chart",
            description=kind,
        )
        made.append("forecast-chart")
    create_link_artifact(key="report", link=Path(path).as_uri(), link_text="HTML report", description=path)
    made.append("report")
    return made


@flow(name="report", log_prints=True)
def report_flow(
    config_path: str | None = None, out: str | None = None, settings: Settings | None = None
) -> dict[str, Any]:
    """Write the HTML report and publish the run's artifacts."""
    settings = settings or load_settings(config_path)
    path, data, charts = build_report(settings, out or str(DEFAULT_REPORT))
    artifacts = publish_artifacts(path, data, charts)
    get_run_logger().info("report written to %s", path)
    return {
        "path": path,
        "artifacts": artifacts,
        "used_today": data.used_today,
        "pool": data.pool,
        "today": data.today,
        "count_stuck": len(data.stuck),
        "count_ready": len(data.ready),
    }
