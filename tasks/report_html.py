# ruff: noqa: E501  (the HTML template and CSS below are kept one element per line)
"""The static HTML report: one self-contained file (inline CSS, charts as base64 PNG, no script).

`collect()` reads everything the report shows through one short read-only connection,
`render_charts()` draws the PNGs (matplotlib, Agg), `render_html()` fills the template, and
`write_report()` does all three. Every text that comes from GitHub (titles, logins, branch
names) is untrusted: the template escapes everything (Jinja2 autoescape, the same escaping as
`html.escape`) and nothing is marked safe except our own base64 PNG data.
"""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from orchestrator.config import Settings
from tasks import store

DEFAULT_REPORT = Path("reports/report.html")
BY_DAY_ROWS = 14  # the last active days shown in "budget by day"
BURNUP_EPICS = 6  # small multiples in the burn-up chart
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
    chart_files: list[Path] = field(default_factory=list)  # PNGs of analytics/charts.py, embedded as they are


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
    with FileLock(f"{path}.lock", timeout=timeout):
        with store.reader(path) as con:
            yield con


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
    """Tasks spent today per member, counted as the budget counts them (the ledger)."""
    from tasks.ledger import used_today as ledger_used_today

    return ledger_used_today(con, settings, now)


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
        "SELECT created_at FROM issue_events WHERE event = 'labeled' AND label = ? AND NOT coalesce(is_pull_request, false)",
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


def _by_day(con: duckdb.DuckDBPyConnection, settings: Settings) -> pd.DataFrame:
    """Tasks by day: the ledger's cost, the agent labels seen on GitHub, PRs merged; last active days."""
    tz = settings.team.timezone
    parts = []
    log = _frame(con, "SELECT executed_at AS at, cost FROM action_log WHERE lower(status) = 'done'")
    if not log.empty:
        parts.append(pd.DataFrame({"day": _local_day(log["at"], tz), "ledger_tasks": log["cost"]}))
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
    columns = ["day", "ledger_tasks", "agent_labels", "merged"]
    if not parts:
        return pd.DataFrame(columns=columns)
    frame = pd.concat(parts, ignore_index=True).dropna(subset=["day"])
    for column in columns[1:]:
        if column not in frame:
            frame[column] = 0
    daily = frame.groupby("day", as_index=False)[columns[1:]].sum().sort_values("day")
    return daily.tail(BY_DAY_ROWS).astype({c: int for c in columns[1:]}).reset_index(drop=True)


def _members(con: duckdb.DuckDBPyConnection, settings: Settings, now: datetime) -> pd.DataFrame:
    used = used_by_member(con, settings, now)
    rows = [
        {"login": m.login, "quota": m.quota, "used_today": used.get(m.login, 0), "repos": ", ".join(m.repos)}
        for m in settings.team.members
    ]
    return pd.DataFrame(rows, columns=["login", "quota", "used_today", "repos"])


EPICS_SQL = """
SELECT e.repo, e.epic, e.title, e.html_url, e.is_open, e.branch,
       e.count_children, e.count_closed, e.count_open, e.count_phases,
       r.current_phase, r.count_dispatchable, r.count_in_flight
FROM epics e LEFT JOIN phase_readiness r USING (repo, epic)
ORDER BY e.is_open DESC, e.count_open DESC, e.repo, e.epic
"""

BURNUP_SQL = """
SELECT c.repo, c.epic, c.child, i.created_at, i.closed_at, i.state
FROM epic_children c
LEFT JOIN (
    SELECT repo, number, created_at, closed_at, state FROM issues
    UNION ALL
    SELECT repo, number, created_at, closed_at, state FROM pull_requests
) i ON i.repo = c.repo AND i.number = c.child
"""


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
            by_day=_by_day(con, settings),
            members=_members(con, settings, now),
            epics=_frame(con, EPICS_SQL),
            burnup=_frame(con, BURNUP_SQL),
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
        )
    data.chart_files = _chart_files(chart_dirs or [])
    return data


MAX_CHART_FILES = 9


def default_chart_dirs(out: Path) -> list[Path]:
    """Where the forecast flow's PNGs are (analytics/charts.py), next to the report or its default."""
    from analytics.charts import DEFAULT_DIR

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


# ── charts ────────────────────────────────────────────────────────────────────


def _png(fig: Any) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=96, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    return buffer.getvalue()


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def burnup_chart(data: ReportData) -> bytes | None:
    """Small multiples: per open epic, children closed over time against its scope."""
    frame = data.burnup
    if frame.empty:
        return None
    open_epics = data.epics[data.epics["is_open"].fillna(False).astype(bool)] if not data.epics.empty else data.epics
    keys = [(r.repo, int(r.epic)) for r in open_epics.head(BURNUP_EPICS).itertuples()] or [
        (r.repo, int(r.epic)) for r in data.epics.head(BURNUP_EPICS).itertuples()
    ]
    if not keys:
        return None
    plt = _pyplot()
    cols = min(3, len(keys))
    rows = (len(keys) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 2.8 * rows), squeeze=False)
    for ax in axes.flat[len(keys) :]:
        ax.set_visible(False)
    for ax, (repo, epic) in zip(axes.flat, keys, strict=False):
        children = frame[(frame["repo"] == repo) & (frame["epic"] == epic)]
        created = pd.to_datetime(children["created_at"], errors="coerce").dropna().sort_values()
        closed = (
            pd.to_datetime(children.loc[children["state"] == "closed", "closed_at"], errors="coerce")
            .dropna()
            .sort_values()
        )
        if not created.empty:
            ax.step(created, range(1, len(created) + 1), where="post", color="#888", label="scope")
        if not closed.empty:
            ax.step(closed, range(1, len(closed) + 1), where="post", color="#2a7", label="closed", lw=2)
        ax.set_title(f"{repo}#{epic}", fontsize=9)
        ax.set_ylim(0, max(len(children), 1) + 0.5)
        ax.tick_params(labelsize=7)
        for label in ax.get_xticklabels():
            label.set_rotation(30)
    axes.flat[0].legend(fontsize=7, loc="upper left")
    fig.suptitle("Epic burn-up: children closed vs scope", fontsize=11)
    fig.tight_layout()
    return _png(fig)


def forecast_fan(data: ReportData) -> bytes | None:
    """Per epic, the span from today to its P50 / P85 / P95 completion date (from `epic_forecast`)."""
    frame = data.forecast
    if frame.empty or not {"p50", "p85", "p95"} <= set(frame.columns):
        return None
    frame = frame.copy()
    for q in ("p50", "p85", "p95"):
        frame[q] = pd.to_datetime(frame[q], errors="coerce")
    frame = frame.dropna(subset=["p50"]).sort_values("p50").head(20)
    if frame.empty:
        return None
    plt = _pyplot()
    start = pd.Timestamp(today_in(data.timezone, data.generated_at))
    fig, ax = plt.subplots(figsize=(9, 0.35 * len(frame) + 1.2))
    labels = [f"{r.repo}#{int(r.epic)}" for r in frame.itertuples()]
    y = range(len(frame))
    end95 = frame["p95"].fillna(frame["p85"]).fillna(frame["p50"])
    end85 = frame["p85"].fillna(frame["p50"])
    ax.barh(y, (end95 - start).dt.days, left=start, color="#cfe3f7", label="P95")
    ax.barh(y, (end85 - start).dt.days, left=start, color="#8dbbe8", label="P85")
    ax.barh(y, (frame["p50"] - start).dt.days, left=start, color="#3a7dc9", label="P50")
    ax.set_yticks(list(y), labels, fontsize=8)
    ax.invert_yaxis()
    ax.legend(fontsize=8, loc="lower right")
    ax.set_title("Forecast fan: completion dates (P50 / P85 / P95)", fontsize=11)
    fig.autofmt_xdate()
    fig.tight_layout()
    return _png(fig)


def budget_chart(data: ReportData) -> bytes | None:
    frame = data.by_day
    if frame.empty:
        return None
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(9, 2.6))
    x = range(len(frame))
    ax.bar([i - 0.2 for i in x], frame["ledger_tasks"], width=0.4, label="tasks (ledger)", color="#3a7dc9")
    ax.bar([i + 0.2 for i in x], frame["agent_labels"], width=0.4, label="agent labels seen", color="#e0a030")
    ax.plot(list(x), frame["merged"], "o-", color="#2a7", label="PRs merged")
    ax.set_xticks(list(x), [d.strftime("%m-%d") for d in frame["day"]], fontsize=7)
    ax.legend(fontsize=7)
    ax.set_title("By day", fontsize=10)
    fig.tight_layout()
    return _png(fig)


def render_charts(data: ReportData) -> dict[str, bytes]:
    charts = {"budget": budget_chart(data), "burnup": burnup_chart(data), "forecast": forecast_fan(data)}
    return {name: png for name, png in charts.items() if png}


# ── HTML ──────────────────────────────────────────────────────────────────────

CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#1d2330;background:#f5f6f8}
header{background:#1d2330;color:#fff;padding:16px 28px}header h1{margin:0;font-size:20px}
header p{margin:4px 0 0;color:#b9c0cc}main{padding:8px 28px 40px;max-width:1240px}
section{background:#fff;border:1px solid #dfe3ea;border-radius:8px;padding:14px 18px;margin:16px 0}
h2{font-size:16px;margin:0 0 10px}table{border-collapse:collapse;width:100%;font-size:13px}
th,td{text-align:left;padding:4px 8px;border-bottom:1px solid #eceff3;vertical-align:top}
th{background:#f0f2f5;font-weight:600}td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
.cards{display:flex;flex-wrap:wrap;gap:12px}.card{flex:1 1 150px;border:1px solid #dfe3ea;border-radius:6px;padding:8px 12px}
.card b{display:block;font-size:22px}.card span{color:#5b6472;font-size:12px}
.bar{background:#e6e9ee;border-radius:3px;height:10px;min-width:120px}.bar i{display:block;height:10px;border-radius:3px;background:#2a7}
.ok{color:#1b7f3b}.warn{color:#a86400}.bad{color:#b3261e}.muted{color:#6b7380}img{max-width:100%}
nav a{color:#b9c0cc;margin-right:12px;font-size:13px}
.charts{display:flex;flex-wrap:wrap;gap:10px}.charts figure{flex:1 1 46%;margin:0;min-width:360px}
"""

TEMPLATE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Issue Orchestrator report: {{ d.org }}</title>
<style>{{ css }}</style></head>
<body>
<header><h1>Issue Orchestrator: {{ d.org }}</h1>
<p>Generated {{ d.generated_at }} UTC &middot; day boundary {{ d.timezone }} &middot; agent label <code>{{ d.agent_label }}</code></p>
<nav><a href="#health">Snapshot health</a><a href="#budget">Budget</a><a href="#epics">Epics</a><a href="#forecast">Forecast</a><a href="#stuck">Stuck PRs</a><a href="#ready">Ready queue</a><a href="#plan">Latest plan</a></nav>
</header>
<main>
<section id="health" data-section="health"><h2>Last snapshot</h2>
{% if d.last_run %}
<div class="cards">
<div class="card"><span>status</span><b class="{{ health_class }}">{{ d.last_run.status }}</b></div>
<div class="card"><span>run</span><b>#{{ d.last_run.run_id }}</b></div>
<div class="card"><span>age</span><b>{{ age }}</b></div>
<div class="card"><span>API requests</span><b>{{ d.last_run.requests if d.last_run.requests is not none else "-" }}</b>{% if d.last_run.requests_not_modified %}<span>{{ d.last_run.requests_not_modified }} not modified</span>{% endif %}</div>
<div class="card"><span>rate limit left</span><b>{{ d.last_run.rate_limit_remaining if d.last_run.rate_limit_remaining is not none else "-" }}</b>{% if d.last_run.rate_limit_limit %}<span>of {{ d.last_run.rate_limit_limit }}</span>{% endif %}</div>
<div class="card"><span>repositories</span><b>{{ repo_count }}</b></div>
</div>
{% if d.last_run.error %}<p class="bad">Error: {{ d.last_run.error }}</p>{% endif %}
{% if d.last_complete and d.last_complete.run_id != d.last_run.run_id %}<p class="warn">The current picture is snapshot #{{ d.last_complete.run_id }} ({{ d.last_complete.finished_at }} UTC).</p>{% endif %}
{% else %}<p class="muted">No snapshot yet: run <code>orchestrator snapshot</code>.</p>{% endif %}
</section>

<section id="budget" data-section="budget"><h2>Budget</h2>
<div class="cards">
<div class="card"><span>pool (tasks/day)</span><b>{{ d.pool }}</b></div>
<div class="card"><span>used today</span><b>{{ d.used_today }}</b></div>
<div class="card"><span>remaining today</span><b>{{ [d.pool - d.used_today, 0]|max }}</b></div>
<div class="card"><span>strategy</span><b>{{ d.strategy }}</b><span>{{ d.daily_range[0] }}-{{ d.daily_range[1] }} a day</span></div>
<div class="card"><span>unattended cap</span><b>{{ d.daily_apply_cap }}</b><span>auto-apply {{ "on" if d.auto_apply else "off" }}</span></div>
<div class="card"><span>today: dispatched / merged / stuck</span><b>{{ d.today.dispatched }} / {{ d.today.merged }} / {{ d.today.stuck }}</b></div>
</div>
{% if not d.members.empty %}<h3>Members</h3><table><tr><th>login</th><th class="n">quota</th><th class="n">used today</th><th>repos</th></tr>
{% for m in d.members.itertuples() %}<tr><td>{{ m.login }}</td><td class="n">{{ m.quota }}</td><td class="n">{{ m.used_today }}</td><td>{{ m.repos }}</td></tr>{% endfor %}</table>{% endif %}
<h3>By day</h3>
{% if charts.budget %}<img alt="tasks by day" src="data:image/png;base64,{{ charts.budget }}">{% endif %}
{% if d.by_day.empty %}<p class="muted">No dispatches recorded yet.</p>{% else %}
<table><tr><th>day</th><th class="n">tasks (ledger)</th><th class="n">agent labels seen</th><th class="n">PRs merged</th></tr>
{% for r in d.by_day.itertuples() %}<tr><td>{{ r.day }}</td><td class="n">{{ r.ledger_tasks }}</td><td class="n">{{ r.agent_labels }}</td><td class="n">{{ r.merged }}</td></tr>{% endfor %}</table>{% endif %}
</section>

<section id="epics" data-section="epics"><h2>Epic progress</h2>
{% if charts.burnup %}<img alt="epic burn-up" src="data:image/png;base64,{{ charts.burnup }}">{% endif %}
{% if d.epics.empty %}<p class="muted">No epics found.</p>{% else %}
<table><tr><th>epic</th><th>title</th><th>state</th><th class="n">phase</th><th>progress</th><th class="n">closed / children</th><th class="n">ready now</th><th class="n">in flight</th></tr>
{% for e in d.epics.itertuples() %}<tr><td>{% if e.html_url %}<a href="{{ e.html_url }}">{{ e.repo }}#{{ e.epic }}</a>{% else %}{{ e.repo }}#{{ e.epic }}{% endif %}</td>
<td>{{ e.title }}</td><td>{{ "open" if e.is_open else "closed" }}</td>
<td class="n">{{ num(e.current_phase) }}{% if e.count_phases %} / {{ e.count_phases }}{% endif %}</td>
<td><div class="bar"><i style="width:{{ pct(e.count_closed, e.count_children) }}%"></i></div></td>
<td class="n">{{ e.count_closed }} / {{ e.count_children }}</td><td class="n">{{ num(e.count_dispatchable) }}</td><td class="n">{{ num(e.count_in_flight) }}</td></tr>{% endfor %}
</table>{% endif %}
</section>

<section id="forecast" data-section="forecast"><h2>Forecast</h2>
{% if d.org_forecast %}<div class="cards">
{% for q in ("p50", "p85", "p95") %}<div class="card"><span>all open epics done by ({{ q|upper }})</span><b>{{ txt(d.org_forecast.get(q)) or "beyond horizon" }}</b></div>{% endfor %}
{% if d.org_forecast.get("rate") is not none %}<div class="card"><span>at tasks/day</span><b>{{ d.org_forecast.get("rate") }}</b></div>{% endif %}
</div>{% endif %}
{% if charts.forecast %}<img alt="forecast fan" src="data:image/png;base64,{{ charts.forecast }}">{% endif %}
{% if extra_charts %}<div class="charts">{% for name, png in extra_charts %}<figure><img alt="{{ name }}" src="data:image/png;base64,{{ png }}"><figcaption class="muted">{{ name }}</figcaption></figure>{% endfor %}</div>{% endif %}
{% if d.forecast.empty %}<p class="muted">No forecast yet: run <code>orchestrator forecast</code> (the evening cadence does).</p>{% else %}
<table><tr>{% for c in forecast_cols %}<th>{{ c }}</th>{% endfor %}</tr>
{% for r in forecast_rows %}<tr>{% for v in r %}<td>{{ v }}</td>{% endfor %}</tr>{% endfor %}</table>{% endif %}
</section>

<section id="stuck" data-section="stuck"><h2>Stuck pull requests ({{ d.stuck|length }})</h2>
{% if d.stuck.empty %}<p class="ok">No stuck pull requests.</p>{% else %}
<table><tr><th>PR</th><th>title</th><th>intervention</th><th class="n">idle days</th><th class="n">nudges</th><th>merge</th><th>CI</th><th>review</th></tr>
{% for p in d.stuck.itertuples() %}<tr><td>{% if p.html_url %}<a href="{{ p.html_url }}">{{ p.repo }}#{{ p.number }}</a>{% else %}{{ p.repo }}#{{ p.number }}{% endif %}</td>
<td>{{ p.title }}</td><td class="{{ 'bad' if p.intervention == 'escalate' else 'warn' }}">{{ p.intervention }}</td><td class="n">{{ num(p.idle_days) }}</td><td class="n">{{ num(p.count_nudges) }}</td><td>{{ txt(p.mergeable_state) }}</td><td>{{ txt(p.ci_state) }}</td><td>{{ txt(p.review_decision) }}</td></tr>{% endfor %}
</table>{% endif %}
</section>

<section id="ready" data-section="ready"><h2>Ready queue ({{ d.ready|length }}{% if d.ready|length >= table_rows %}+{% endif %})</h2>
{% if d.ready.empty %}<p class="warn">The ready queue is empty: the evening cadence refills it (Stage 1/2 on the next repo by tier).</p>{% else %}
<table><tr><th class="n">#</th><th>issue</th><th>title</th><th>severity</th><th>epic</th><th class="n">phase</th></tr>
{% for r in d.ready.itertuples() %}<tr><td class="n">{{ r.queue_position }}</td><td>{{ r.repo }}#{{ r.number }}</td><td>{{ r.title }}</td><td>{{ txt(r.severity) }}</td><td>{{ "direct" if r.is_direct_dispatch else "#" ~ num(r.epic) }}</td><td class="n">{{ num(r.phase) }}</td></tr>{% endfor %}
</table>{% endif %}
{% if not d.tiers.empty %}<h3>Repositories by tier</h3><table><tr><th class="n">rank</th><th>repo</th><th>stage</th><th class="n">tier</th><th class="n">open</th><th class="n">audits</th><th class="n">epics</th></tr>
{% for t in d.tiers.itertuples() %}<tr><td class="n">{{ num(t.rank) }}</td><td>{{ t.repo }}</td><td>{{ t.stage }}</td><td class="n">{{ num(t.tier) }}</td><td class="n">{{ t.count_open }}</td><td class="n">{{ t.count_audits }}</td><td class="n">{{ t.count_epics }}</td></tr>{% endfor %}</table>{% endif %}
</section>

<section id="plan" data-section="plan"><h2>Latest plan</h2>
{% if not d.plan %}<p class="muted">No plan yet: run <code>orchestrator plan</code>.</p>{% else %}
<p>Plan <code>{{ d.plan.plan_id }}</code> of {{ d.plan.created_at }} UTC: {{ d.plan_actions|length }} actions shown, planned cost {{ num(d.plan.planned_cost) }} of {{ num(d.plan.remaining) }} remaining.</p>
{% if not d.plan_actions.empty %}<table><tr><th class="n">seq</th><th>action</th><th>repo</th><th>target</th><th class="n">cost</th><th>member</th><th>reason</th></tr>
{% for a in d.plan_actions.itertuples() %}<tr><td class="n">{{ a.seq }}</td><td>{{ a.action }}</td><td>{{ a.repo }}</td><td>{{ txt(a.target) }}</td><td class="n">{{ a.cost }}</td><td>{{ txt(a.member) }}</td><td>{{ txt(a.reason) }}</td></tr>{% endfor %}</table>{% endif %}
{% endif %}
</section>
</main></body></html>
"""


def _num(value: Any) -> str:
    if value is None or _isna(value):
        return "-"
    try:
        return f"{int(value)}"
    except (TypeError, ValueError):
        return str(value)


def _txt(value: Any) -> str:
    return "" if value is None or _isna(value) else str(value)


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
    from jinja2 import Environment

    env = Environment(autoescape=True)
    env.globals.update(num=_num, txt=_txt, pct=_pct)
    charts = charts if charts is not None else render_charts(data)
    encoded = {name: base64.b64encode(png).decode("ascii") for name, png in charts.items()}
    forecast_cols = [c for c in data.forecast.columns if c not in ("notes",)][:10]
    forecast_rows = [
        [_txt(v) for v in row] for row in data.forecast[forecast_cols].head(TABLE_ROWS).itertuples(index=False)
    ]
    extra = [(p.name, base64.b64encode(p.read_bytes()).decode("ascii")) for p in data.chart_files]
    status = (data.last_run or {}).get("status")
    run = data.last_run or {}
    repos = run.get("repos")
    return env.from_string(TEMPLATE).render(
        d=data,
        css=CSS,
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
