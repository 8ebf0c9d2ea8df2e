"""The static HTML report: one self-contained file (inline CSS, charts as base64 PNG, no script).

`collect()` reads everything the report shows through one short read-only connection,
`tasks.charts.report_charts()` draws the PNGs (matplotlib, Agg), `render_html()` fills the template, and
`write_report()` does all three (template: `tasks/templates/report.html.j2`). Every text that
comes from GitHub (titles, logins, branch names) is untrusted: the template escapes everything
(Jinja2 autoescape, the same escaping as `html.escape`) and nothing is marked safe except our own base64 PNG data.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from common.config import Settings
from tasks import store
from tasks.charts import report_charts
from tasks.report_outcomes import outcome_tables

DEFAULT_REPORT = Path("reports/report.html")
BY_DAY_ROWS = 14  # the last active days shown in "budget by day"
TABLE_ROWS = 50


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None, microsecond=0)


@dataclass
class ReportData:
    org: str
    generated_at: datetime
    timezone: str
    agent_label: str
    pool: int
    used_today: int
    daily_apply_cap: int
    auto_apply: bool
    strategy: str
    daily_range: tuple[int, int]
    by_day: pd.DataFrame  # day, ledger_tasks, agent_labels, merged
    members: pd.DataFrame  # login, quota, used_today
    epics: pd.DataFrame  # phase_readiness joined to epics
    burnup: pd.DataFrame  # repo, epic, day, closed, scope
    forecast: pd.DataFrame  # epic_forecast, when the forecast flow wrote it
    stuck: pd.DataFrame
    ready: pd.DataFrame
    tiers: pd.DataFrame
    plan: dict[str, Any] | None
    plan_actions: pd.DataFrame
    last_run: dict[str, Any] | None
    last_complete: dict[str, Any] | None
    org_forecast: dict[str, Any] | None = None
    today: dict[str, int] = field(default_factory=dict)  # dispatched / merged / stuck today
    chart_files: list[Path] = field(default_factory=list)  # PNGs of tasks/charts.py, embedded as they are
    outcomes: dict[str, Any] = field(default_factory=dict)  # tasks/report_outcomes.py: rates, trend


@contextmanager
def locked_reader(path: str | Path, timeout: float = 600) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-only connection taken under the writers' file lock.

    DuckDB refuses a read-write open while another process holds the file read-only, so a
    plain reader that overlaps a flow run's `store.writer` can make that run fail. Readers
    that run unattended (the report, the cadence flows) wait for the writer instead, and the
    writer waits for them: each holds the file for a moment only.
    """
    from filelock import FileLock

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no database at {path} (run `orchestrator snapshot` first)")
    from tasks.schema_upgrade import ensure_current

    ensure_current(path, timeout)  # before the lock: an upgrade takes the writers' lock itself
    with FileLock(f"{path}.lock", timeout=timeout):
        with store.reader(path) as con:
            yield con


def recorded_settings(db: str | Path) -> Settings:
    """The settings a report needs, as the database recorded them (`run_settings`): for `--db` alone."""
    from common.config import ConfigError

    with locked_reader(db) as con:
        recorded = dict(con.execute("SELECT key, value FROM run_settings").fetchall())
    if not recorded.get("org"):
        raise ConfigError(f"{db}: no configuration given and the database does not record its organisation")
    return Settings.model_validate(
        {
            "github": {"org": recorded["org"]},
            "database": {"path": str(db)},
            "agent": {"label": recorded.get("agent_label", "jules")},
            "team": {"timezone": recorded.get("timezone", "UTC")},
            "dispatch": {"strategy": recorded.get("strategy", "conservative")},
        }
    )


def _frame(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None) -> pd.DataFrame:
    """A query's rows, or an empty frame when an optional table/view does not exist yet."""
    try:
        return con.execute(sql, params or []).fetchdf()
    except duckdb.CatalogException:
        return pd.DataFrame()


def _row(frame: pd.DataFrame) -> dict[str, Any] | None:
    if frame.empty:
        return None
    return {key: (None if _isna(value) else value) for key, value in frame.iloc[0].to_dict().items()}


def _isna(value: Any) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _local_day(series: pd.Series, tz: str) -> pd.Series:
    """Naive UTC timestamps -> the calendar day in the team's time zone."""
    stamps = pd.to_datetime(series, errors="coerce")
    return stamps.dt.tz_localize("UTC").dt.tz_convert(tz).dt.date


def today_in(tz: str, now: datetime) -> date:
    return pd.Timestamp(now).tz_localize("UTC").tz_convert(tz).date()


def used_by_member(con: duckdb.DuckDBPyConnection, settings: Settings, now: datetime) -> dict[str, int]:
    """Tasks spent today per member, counted as the budget counts them (`usage_events`)."""
    from tasks.usage import used_by_member as usage_by_member

    return usage_by_member(con, settings, now)


def used_today(con: duckdb.DuckDBPyConnection, settings: Settings, now: datetime) -> int:
    """Tasks spent today by the whole team."""
    return sum(used_by_member(con, settings, now).values())


def day_summary(con: duckdb.DuckDBPyConnection, settings: Settings, now: datetime) -> dict[str, int]:
    """The runbook's evening review: dispatched vs merged vs stuck, for today in the team's zone."""
    tz = settings.team.timezone
    today = today_in(tz, now)
    log = _frame(con, "SELECT action, executed_at FROM action_log WHERE lower(status) = 'done'")
    ledger_dispatches = 0
    if not log.empty:
        ledger_dispatches = int(((_local_day(log["executed_at"], tz) == today) & (log["action"] == "dispatch")).sum())
    labels = _frame(
        con,
        "SELECT created_at FROM issue_events WHERE event = 'labeled' AND label = ? "
        "AND NOT coalesce(is_pull_request, false)",
        [settings.agent.label],
    )
    labelled = int((_local_day(labels["created_at"], tz) == today).sum()) if not labels.empty else 0
    merged = _frame(con, "SELECT merged_at FROM pull_requests WHERE merged")
    merged_today = int((_local_day(merged["merged_at"], tz) == today).sum()) if not merged.empty else 0
    stuck = _frame(con, "SELECT count(*) AS n FROM stuck_prs WHERE is_stuck")
    return {
        "dispatched": max(ledger_dispatches, labelled),
        "dispatched_by_ledger": ledger_dispatches,
        "agent_labels_seen": labelled,
        "merged": merged_today,
        "stuck": int(stuck["n"].iloc[0]) if not stuck.empty else 0,
        "used_today": used_today(con, settings, now),
        "pool": settings.team.pool,
    }


def _by_day(con: duckdb.DuckDBPyConnection, settings: Settings, now: datetime) -> pd.DataFrame:
    """Tasks by day: the ledger's dispatches (`daily_usage`), the agent labels seen on GitHub, PRs
    merged; the last active days."""
    from tasks.usage import daily_usage

    tz = settings.team.timezone
    parts = []
    usage = pd.DataFrame(daily_usage(con, settings, date(1970, 1, 1), today_in(tz, now)))
    if not usage.empty:
        parts.append(pd.DataFrame({"day": usage["usage_date"], "ledger_tasks": usage["count_dispatched"]}))
    labels = _frame(
        con,
        "SELECT created_at AS at FROM issue_events WHERE event = 'labeled' AND label = ? "
        "AND NOT coalesce(is_pull_request, false)",
        [settings.agent.label],
    )
    if not labels.empty:
        parts.append(pd.DataFrame({"day": _local_day(labels["at"], tz), "agent_labels": 1}))
    merged = _frame(con, "SELECT merged_at AS at FROM pull_requests WHERE merged AND merged_at IS NOT NULL")
    if not merged.empty:
        parts.append(pd.DataFrame({"day": _local_day(merged["at"], tz), "merged": 1}))
    return _daily_totals(parts)


def _daily_totals(parts: list[pd.DataFrame]) -> pd.DataFrame:
    """Per-day sums of the parts' counts, the last BY_DAY_ROWS active days, oldest first."""
    columns = ["day", "ledger_tasks", "agent_labels", "merged"]
    if not parts:
        return pd.DataFrame(columns=columns)
    frame = pd.concat(parts, ignore_index=True).dropna(subset=["day"])
    for column in columns[1:]:
        if column not in frame:
            frame[column] = 0
    frame[columns[1:]] = frame[columns[1:]].fillna(0)
    daily = frame.groupby("day", as_index=False)[columns[1:]].sum().sort_values("day")
    return daily.tail(BY_DAY_ROWS).astype({c: int for c in columns[1:]}).reset_index(drop=True)


def _members(con: duckdb.DuckDBPyConnection, settings: Settings, now: datetime) -> pd.DataFrame:
    used = used_by_member(con, settings, now)
    rows = [
        {"login": m.login, "quota": m.quota, "used_today": used.get(m.login, 0), "repos": ", ".join(m.repos)}
        for m in settings.team.members
    ]
    return pd.DataFrame(rows, columns=["login", "quota", "used_today", "repos"])


def collect(settings: Settings, now: datetime | None = None, chart_dirs: list[Path] | None = None) -> ReportData:
    """Everything the report shows, read through one read-only connection (held only while reading)."""
    now = now or utcnow()
    with locked_reader(settings.database.path) as con:
        last_run = _row(_frame(con, "SELECT * FROM snapshot_runs ORDER BY run_id DESC LIMIT 1"))
        last_complete = _row(
            _frame(con, "SELECT * FROM snapshot_runs WHERE status = 'complete' ORDER BY run_id DESC LIMIT 1")
        )
        plan = _row(_frame(con, "SELECT * FROM dispatch_plans ORDER BY created_at DESC, plan_id DESC LIMIT 1"))
        plan_actions = (
            _frame(
                con,
                "SELECT seq, action, repo, target, cost, member, reason FROM plan_actions WHERE plan_id = ? "
                f"ORDER BY seq LIMIT {TABLE_ROWS}",
                [plan["plan_id"]],
            )
            if plan
            else pd.DataFrame()
        )
        data = ReportData(
            org=settings.github.org,
            generated_at=now,
            timezone=settings.team.timezone,
            agent_label=settings.agent.label,
            pool=settings.team.pool,
            used_today=used_today(con, settings, now),
            daily_apply_cap=settings.dispatch.daily_apply_cap,
            auto_apply=settings.dispatch.auto_apply,
            strategy=settings.dispatch.strategy,
            daily_range=settings.dispatch.daily_range,
            by_day=_by_day(con, settings, now),
            members=_members(con, settings, now),
            epics=_frame(con, "SELECT * FROM epic_progress ORDER BY is_open DESC, count_open DESC, repo, epic"),
            burnup=_frame(con, "SELECT * FROM epic_burnup"),
            forecast=_frame(con, "SELECT * FROM epic_forecast"),
            org_forecast=_row(_frame(con, "SELECT * FROM org_forecast")),
            stuck=_frame(
                con,
                "SELECT repo, number, title, html_url, intervention, idle_days, count_nudges, mergeable_state, "
                "ci_state, review_decision FROM stuck_prs WHERE is_stuck ORDER BY intervention = 'escalate' DESC, "
                f"idle_days DESC, repo, number LIMIT {TABLE_ROWS}",
            ),
            ready=_frame(
                con,
                "SELECT queue_position, repo, number, title, severity, epic, phase, is_direct_dispatch "
                f"FROM ready_queue ORDER BY queue_position LIMIT {TABLE_ROWS}",
            ),
            tiers=_frame(con, "SELECT * FROM repo_tiers WHERE tier IS NOT NULL ORDER BY rank"),
            plan=plan,
            plan_actions=plan_actions,
            last_run=last_run,
            last_complete=last_complete,
            today=day_summary(con, settings, now),
            outcomes=outcome_tables(con),
        )
    data.chart_files = _chart_files(chart_dirs or [])
    return data


MAX_CHART_FILES = 9


def default_chart_dirs(out: Path) -> list[Path]:
    """Where the forecast flow's PNGs are (tasks/charts.py), next to the report or its default."""
    from tasks.charts import DEFAULT_DIR

    dirs = [out.parent / "forecast", Path(DEFAULT_DIR)]
    unique: list[Path] = []
    for folder in dirs:
        if folder.resolve() not in [u.resolve() for u in unique]:
            unique.append(folder)
    return unique


def _chart_files(dirs: list[Path]) -> list[Path]:
    """The forecast charts: the organisation's first, then the epics', at most MAX_CHART_FILES."""
    for folder in dirs:
        if folder.is_dir():
            found = sorted(
                (p for p in folder.glob("*.png") if p.is_file()), key=lambda p: (p.name != "org.png", p.name)
            )
            if found:
                return found[:MAX_CHART_FILES]
    return []


# ── HTML ──────────────────────────────────────────────────────────────────────

TEMPLATES = Path(__file__).parent / "templates"


def _num(value: Any) -> str:
    if value is None or _isna(value):
        return "-"
    try:
        return f"{int(value)}"
    except (TypeError, ValueError):
        return str(value)


def _txt(value: Any) -> str:
    if value is None or _isna(value):
        return ""
    if hasattr(value, "hour") and (value.hour, value.minute, value.second) == (0, 0, 0):
        return value.strftime("%Y-%m-%d")  # a forecast date read back as a midnight timestamp
    return str(value)


def _pct(done: Any, total: Any) -> int:
    try:
        return max(0, min(100, round(100 * float(done) / float(total)))) if total else 0
    except (TypeError, ValueError):
        return 0


def _age(last_run: dict[str, Any] | None, now: datetime) -> str:
    if not last_run:
        return "-"
    at = last_run.get("finished_at") or last_run.get("started_at")
    if at is None:
        return "-"
    seconds = max(0, int((pd.Timestamp(now) - pd.Timestamp(at)).total_seconds()))
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    if seconds < 172800:
        return f"{seconds // 3600} h"
    return f"{seconds // 86400} days"


def render_html(data: ReportData, charts: dict[str, bytes] | None = None) -> str:
    """The report as one HTML string (escaped throughout; images are our own base64 PNGs)."""
    from jinja2 import Environment, FileSystemLoader

    # autoescape=True, not select_autoescape: the file ends in .j2, and GitHub's text must stay escaped
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=True)
    env.globals.update(num=_num, txt=_txt, pct=_pct)
    charts = charts if charts is not None else report_charts(data)
    encoded = {name: base64.b64encode(png).decode("ascii") for name, png in charts.items()}
    forecast_cols = [c for c in data.forecast.columns if c not in ("notes",)][:10]
    forecast_rows = [
        [_txt(v) for v in row] for row in data.forecast[forecast_cols].head(TABLE_ROWS).itertuples(index=False)
    ]
    extra = [(p.name, base64.b64encode(p.read_bytes()).decode("ascii")) for p in data.chart_files]
    status = (data.last_run or {}).get("status")
    run = data.last_run or {}
    repos = run.get("repos")
    return env.get_template("report.html.j2").render(
        d=data,
        charts=encoded,
        extra_charts=extra,
        forecast_cols=forecast_cols,
        forecast_rows=forecast_rows,
        age=_age(data.last_run, data.generated_at),
        health_class={"complete": "ok", "running": "warn"}.get(status or "", "bad"),
        repo_count=len(repos) if repos is not None and not isinstance(repos, str) else "-",
        table_rows=TABLE_ROWS,
    )


def write_report(
    settings: Settings,
    out: str | Path = DEFAULT_REPORT,
    now: datetime | None = None,
    chart_dirs: list[Path] | None = None,
) -> tuple[Path, ReportData]:
    """Collect, draw and write the report; returns its path and the data shown."""
    out = Path(out)
    dirs = chart_dirs if chart_dirs is not None else default_chart_dirs(out)
    data = collect(settings, now, dirs)
    html = render_html(data)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(out.suffix + ".tmp")
    tmp.write_text(html, encoding="utf-8")
    tmp.replace(out)
    return out, data


def to_jsonable(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows for a Prefect table artifact (plain JSON types)."""
    return (
        json.loads(frame.to_json(orient="records", date_format="iso", default_handler=str)) if not frame.empty else []
    )


def seconds_ago(at: datetime | None, now: datetime) -> float | None:
    return None if at is None else (now - at) / timedelta(seconds=1)
