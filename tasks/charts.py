"""Every chart the project draws (matplotlib, Agg backend), in one place.

Forecast charts (`render_charts`, `forecast_charts`): a burn-up with a forecast fan per epic and for
the org, written as PNG files. The history part is the number of children done over time (and the
scope line: children listed); from the snapshot date the fan shows when the remaining children are
done at P50 / P85 / P95 (the darker the band, the likelier).

Report charts (`report_charts`): the budget by day, the epics' burn-up and the forecast fan of the
HTML report, as PNG bytes embedded in it.

This is a `tasks/` module, not `analytics/`: it writes files and drives matplotlib's global
pyplot state; its inputs are frames that `analytics/` and the report's read computed.
"""

from __future__ import annotations

import io
import re
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

if TYPE_CHECKING:
    from tasks.report_html import ReportData

DEFAULT_DIR = Path("reports/forecast")


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-")


def _fan(ax, as_of: pd.Timestamp, done: float, total: float, p50, p85, p95, horizon: pd.Timestamp) -> None:
    """Shaded fan from (as_of, done) to (Pxx, total); a missing date is drawn to the horizon."""
    ends = []
    for label, value, alpha in (("P95", p95, 0.15), ("P85", p85, 0.25), ("P50", p50, 0.4)):
        end = horizon if value is None or pd.isna(value) else pd.Timestamp(value)
        end = max(end, as_of + pd.Timedelta(hours=12))
        ends.append((label, end, alpha, value is None or pd.isna(value)))
    for label, end, alpha, beyond in ends:
        xs = [as_of, end]
        ax.fill_between(xs, [done, done], [done, total], color="tab:blue", alpha=alpha, linewidth=0)
        ax.plot(xs, [done, total], color="tab:blue", linewidth=1, linestyle="--", alpha=min(1.0, alpha * 2.5))
        text = f"{label} beyond horizon" if beyond else f"{label} {end.date().isoformat()}"
        lift = 4 + 10 * ["P50", "P85", "P95"].index(label)
        ax.annotate(text, (end, total), textcoords="offset points", xytext=(2, lift), fontsize=7, color="tab:blue")


def _draw(
    path: Path,
    title: str,
    hist: pd.DataFrame,
    as_of: pd.Timestamp,
    p50,
    p85,
    p95,
    horizon: pd.Timestamp,
    note: str | None = None,
) -> Path:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 3.6), dpi=90)
    try:
        if len(hist):
            h = hist.sort_values("date")
            ax.step(h["date"], h["total"], where="post", color="grey", linewidth=1, label="children listed")
            ax.step(h["date"], h["done"], where="post", color="tab:green", linewidth=2, label="done")
            done, total = float(h["done"].iloc[-1]), float(h["total"].iloc[-1])
        else:
            done = total = 0.0
        _fan(ax, as_of, done, total, p50, p85, p95, horizon)
        ax.axvline(as_of, color="black", linewidth=0.8, linestyle=":")
        ax.set_title(title, fontsize=10)
        ax.set_ylabel("children")
        ax.set_ylim(bottom=0, top=max(1.0, total) * 1.25)
        if note:
            ax.text(0.01, 0.97, note, transform=ax.transAxes, fontsize=7, va="top", color="tab:red")
        ax.legend(loc="upper left", fontsize=7, bbox_to_anchor=(0.0, 0.9))
        date_axis(ax)
        fig.tight_layout()
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path)
    finally:
        plt.close(fig)
    return path


def _view_end(epic_forecast: pd.DataFrame, org: dict, as_of: pd.Timestamp) -> pd.Timestamp:
    """A fan that never ends is drawn to a readable horizon, not two years out."""
    finite = [
        pd.Timestamp(v)
        for v in list(epic_forecast.get("p95", [])) + [org.get("p95")]
        if v is not None and not pd.isna(v)
    ]
    return max(finite + [as_of + pd.Timedelta(days=14)]) + pd.Timedelta(days=7)


def _org_history(hist: pd.DataFrame, keys: set) -> pd.DataFrame:
    """``date, done, total`` summed over the forecast epics (each carried forward between its changes)."""
    mine = hist[[k in keys for k in zip(hist["repo"], hist["epic"], strict=False)]] if len(hist) else hist
    if not len(mine):
        return pd.DataFrame(columns=["date", "done", "total"])
    days = sorted(mine["date"].unique())
    parts = []
    for _, g in mine.groupby(["repo", "epic"]):
        s = g.set_index("date")[["done", "total"]].sort_index()
        s = s[~s.index.duplicated(keep="last")].reindex(days).ffill().fillna(0)
        parts.append(s)
    org_hist = sum(parts).reset_index().rename(columns={"index": "date"})
    org_hist.columns = ["date", "done", "total"]
    return org_hist


def _org_note(org: dict) -> str | None:
    if org.get("beyond_horizon"):
        return "not every epic completes within the horizon at this rate"
    if org.get("thin_history"):
        return "thin history: wide interval"
    return None


def _epic_note(row) -> str | None:
    if bool(row.beyond_horizon):
        return "beyond horizon at this rate"
    return "thin history: wide interval" if bool(row.thin_history) else None


def _epic_charts(
    hist: pd.DataFrame, epic_forecast: pd.DataFrame, out: Path, as_of: pd.Timestamp, horizon, end, max_epics: int
) -> list[Path]:
    """One chart per epic, latest P85 first, at most ``max_epics``."""
    if not len(epic_forecast):
        return []
    order = (
        epic_forecast.assign(_k=pd.to_datetime(epic_forecast["p85"]).fillna(horizon))
        .sort_values("_k", ascending=False)
        .head(max_epics)
    )
    paths = []
    for row in order.itertuples(index=False):
        h = hist[(hist["repo"] == row.repo) & (hist["epic"] == row.epic)] if len(hist) else hist
        name = f"{_slug(str(row.repo))}-{int(row.epic)}.png"
        title = f"{row.repo}#{int(row.epic)}"
        paths.append(_draw(out / name, title, h, as_of, row.p50, row.p85, row.p95, end, _epic_note(row)))
    return paths


def render_charts(
    history: pd.DataFrame,
    epic_forecast: pd.DataFrame,
    org: dict,
    as_of: date,
    out_dir: str | Path = DEFAULT_DIR,
    horizon_days: int = 730,
    max_epics: int = 60,
) -> list[Path]:
    """Write ``org.png`` and one ``<repo>-<epic>.png`` per forecast epic; return the paths.

    history: ``repo, epic, date, done, total`` (see ``forecast_inputs.done_over_time``).
    epic_forecast: the ``epic_forecast`` rows (``repo, epic, p50, p85, p95, thin_history``).
    org: the ``org_forecast`` row as a dict. Epics beyond ``max_epics`` (latest P85 first) are skipped.
    """
    out = Path(out_dir)
    as_of_ts = pd.Timestamp(as_of)
    horizon = as_of_ts + pd.Timedelta(days=horizon_days)
    end = min(horizon, _view_end(epic_forecast, org, as_of_ts))
    hist = history.copy()
    if len(hist):
        hist["date"] = pd.to_datetime(hist["date"])
    keys = set(zip(epic_forecast["repo"], epic_forecast["epic"], strict=False)) if len(epic_forecast) else set()
    title = f"All open epics ({len(keys)}): done by"
    org_hist = _org_history(hist, keys)
    p50, p85, p95 = org.get("p50"), org.get("p85"), org.get("p95")
    org_path = _draw(out / "org.png", title, org_hist, as_of_ts, p50, p85, p95, end, _org_note(org))
    return [org_path, *_epic_charts(hist, epic_forecast, out, as_of_ts, horizon, end, max_epics)]


def forecast_charts(result: dict[str, Any], out_dir: str | Path = DEFAULT_DIR) -> list[Path]:
    """The org chart and one chart per epic of a `compute_forecast` result, as PNG files in ``out_dir``."""
    return render_charts(
        result["history"],
        result["epic_forecast"],
        result["org"],
        result["org"]["as_of"],
        out_dir,
        int(result["org"]["horizon_days"]),
    )


def horizon_date(as_of: date, horizon_days: int) -> date:
    """The last day the simulation looks at."""
    return as_of + timedelta(days=horizon_days)


# ── the report's charts (PNG bytes) ─────────────────────────────────────────────

BURNUP_EPICS = 6  # small multiples in the burn-up chart


def _png(fig: Any) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=96, bbox_inches="tight")
    _pyplot().close(fig)
    return buffer.getvalue()


def date_axis(ax: Any) -> None:
    """Dates on the x axis that read as dates at any span (`Mar`, `08`, `2026-03`), never `15:48.000000`."""
    import matplotlib.dates as mdates

    locator = mdates.AutoDateLocator(minticks=3, maxticks=7)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator, show_offset=True))


def burnup_epics(burnup: pd.DataFrame, epics: pd.DataFrame, count: int = BURNUP_EPICS) -> list[tuple[str, int]]:
    """The epics whose burn-up tells something: the longest history (first child opened to the last
    child opened or closed; under a day only when no epic has more), then the most children; in progress
    and finished half each when both exist."""
    if burnup.empty:
        return []
    frame = burnup.assign(
        opened=pd.to_datetime(burnup["created_at"], errors="coerce"),
        closed=pd.to_datetime(burnup["closed_at"], errors="coerce"),
    )
    spans = frame.groupby(["repo", "epic"]).agg(
        first=("opened", "min"),
        last_opened=("opened", "max"),
        last_closed=("closed", "max"),
        children=("child", "size"),
    )
    spans["days"] = (spans[["last_opened", "last_closed"]].max(axis=1) - spans["first"]).dt.total_seconds() / 86400
    spans = spans.dropna(subset=["days"]).reset_index()
    if (spans["days"] >= 1).any():  # an epic opened seconds ago has no line to draw yet
        spans = spans[spans["days"] >= 1]
    state = {(r.repo, int(r.epic)): bool(r.is_open) for r in epics.itertuples()} if not epics.empty else {}
    spans["is_open"] = [state.get((r, int(e)), True) for r, e in zip(spans["repo"], spans["epic"], strict=True)]
    ranked = spans.sort_values(["days", "children", "repo", "epic"], ascending=[False, False, True, True])
    keys = [(r.repo, int(r.epic), r.is_open) for r in ranked.itertuples()]
    going, done = [k for k in keys if k[2]], [k for k in keys if not k[2]]
    half = count // 2
    chosen = going[: max(half, count - len(done))] + done[: max(half, count - len(going))]
    return [(repo, epic) for repo, epic, _ in chosen[:count]]


def _burnup_lines(ax: Any, children: pd.DataFrame) -> None:
    """Scope (children opened) and closed children over time, both carried to the epic's last event."""
    opened = pd.to_datetime(children["created_at"], errors="coerce").dropna().sort_values()
    closed = pd.to_datetime(children.loc[children["state"] == "closed", "closed_at"], errors="coerce")
    closed = closed.dropna().sort_values()
    last = max([*opened.tail(1), *closed.tail(1)])
    for times, label, style in ((opened, "scope", {"color": "#888"}), (closed, "closed", {"color": "#2a7", "lw": 2})):
        xs = [opened.iloc[0], *times, last]
        ys = [0, *range(1, len(times) + 1), len(times)]
        ax.step(xs, ys, where="post", label=label, **style)


def burnup_figure(data: ReportData) -> Any | None:
    """The burn-up's matplotlib figure (`burnup_epics`' choice, one panel each), not yet saved."""
    keys = burnup_epics(data.burnup, data.epics)
    if not keys:
        return None
    plt = _pyplot()
    cols = min(3, len(keys))
    rows = (len(keys) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 2.8 * rows), squeeze=False)
    for ax in axes.flat[len(keys) :]:
        ax.set_visible(False)
    state = {(r.repo, int(r.epic)): bool(r.is_open) for r in data.epics.itertuples()} if not data.epics.empty else {}
    for ax, (repo, epic) in zip(axes.flat, keys, strict=False):
        children = data.burnup[(data.burnup["repo"] == repo) & (data.burnup["epic"] == epic)]
        _burnup_lines(ax, children)
        ax.set_title(f"{repo}#{epic}" + ("" if state.get((repo, epic), True) else " (closed)"), fontsize=9)
        ax.set_ylim(0, max(len(children), 1) + 0.5)
        ax.tick_params(labelsize=7)
        date_axis(ax)
    axes.flat[0].legend(fontsize=7, loc="upper left")
    fig.suptitle("Epic burn-up: children closed vs scope", fontsize=11)
    fig.tight_layout()
    return fig


def burnup_chart(data: ReportData) -> bytes | None:
    """Small multiples: per epic with history, children closed over time against its scope."""
    fig = burnup_figure(data)
    return None if fig is None else _png(fig)


def forecast_figure(data: ReportData) -> Any | None:
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
    from tasks.report_html import today_in

    plt = _pyplot()
    start = pd.Timestamp(today_in(data.timezone, data.generated_at))
    fig, ax = plt.subplots(figsize=(9, 0.35 * len(frame) + 1.2))
    labels = [f"{r.repo}#{int(r.epic)}" for r in frame.itertuples()]
    y = list(range(len(frame)))
    end95 = frame["p95"].fillna(frame["p85"]).fillna(frame["p50"])
    end85 = frame["p85"].fillna(frame["p50"])
    for end, color, label in ((end95, "#cfe3f7", "P95"), (end85, "#8dbbe8", "P85"), (frame["p50"], "#3a7dc9", "P50")):
        ax.barh(y, (end - start).dt.total_seconds() / 86400, left=start, color=color, label=label)
    ax.set_yticks(y, labels, fontsize=8)
    ax.invert_yaxis()
    ax.xaxis_date()
    date_axis(ax)
    ax.legend(fontsize=8, loc="lower right")
    ax.set_title("Forecast fan: completion dates (P50 / P85 / P95)", fontsize=11)
    fig.tight_layout()
    return fig


def forecast_fan(data: ReportData) -> bytes | None:
    """The forecast fan as PNG bytes (`forecast_figure`)."""
    fig = forecast_figure(data)
    return None if fig is None else _png(fig)


def budget_chart(data: ReportData) -> bytes | None:
    """Tasks (ledger), agent labels seen and PRs merged, per day."""
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


def report_charts(data: ReportData) -> dict[str, bytes]:
    """The report's charts as PNG bytes, by name (a chart with nothing to show is left out)."""
    charts = {"budget": budget_chart(data), "burnup": burnup_chart(data), "forecast": forecast_fan(data)}
    return {name: png for name, png in charts.items() if png}
