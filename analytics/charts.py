"""Forecast charts (matplotlib, Agg backend): a burn-up with a forecast fan per epic and for the org.

Pure: DataFrames in, PNG files out (no database). The history part is the number of children done
over time (and the scope line: children listed); from the snapshot date the fan shows when the
remaining children are done at P50 / P85 / P95 (the darker the band, the likelier).
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from pathlib import Path

import pandas as pd

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
        fig.autofmt_xdate()
        fig.tight_layout()
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path)
    finally:
        plt.close(fig)
    return path


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
    # a fan that never ends is drawn to a readable horizon, not two years out
    finite = [
        pd.Timestamp(v)
        for v in list(epic_forecast.get("p95", [])) + [org.get("p95")]
        if v is not None and not pd.isna(v)
    ]
    view_end = max(finite + [as_of_ts + pd.Timedelta(days=14)]) + pd.Timedelta(days=7)
    paths: list[Path] = []
    hist = history.copy()
    if len(hist):
        hist["date"] = pd.to_datetime(hist["date"])
    # organisation: all children of the forecast epics
    keys = set(zip(epic_forecast["repo"], epic_forecast["epic"], strict=False)) if len(epic_forecast) else set()
    mine = hist[[k in keys for k in zip(hist["repo"], hist["epic"], strict=False)]] if len(hist) else hist
    if len(mine):
        days = sorted(mine["date"].unique())
        parts = []
        for _, g in mine.groupby(["repo", "epic"]):
            s = g.set_index("date")[["done", "total"]].sort_index()
            s = s[~s.index.duplicated(keep="last")].reindex(days).ffill().fillna(0)
            parts.append(s)
        org_hist = sum(parts).reset_index().rename(columns={"index": "date"})
        org_hist.columns = ["date", "done", "total"]
    else:
        org_hist = pd.DataFrame(columns=["date", "done", "total"])
    note = None
    if org.get("beyond_horizon"):
        note = "not every epic completes within the horizon at this rate"
    elif org.get("thin_history"):
        note = "thin history: wide interval"
    paths.append(
        _draw(
            out / "org.png",
            f"All open epics ({len(keys)}): done by",
            org_hist,
            as_of_ts,
            org.get("p50"),
            org.get("p85"),
            org.get("p95"),
            min(horizon, view_end),
            note,
        )
    )
    if len(epic_forecast):
        order = (
            epic_forecast.assign(_k=pd.to_datetime(epic_forecast["p85"]).fillna(horizon))
            .sort_values("_k", ascending=False)
            .head(max_epics)
        )
        for row in order.itertuples(index=False):
            h = hist[(hist["repo"] == row.repo) & (hist["epic"] == row.epic)] if len(hist) else hist
            note = (
                "beyond horizon at this rate"
                if bool(row.beyond_horizon)
                else ("thin history: wide interval" if bool(row.thin_history) else None)
            )
            name = f"{_slug(str(row.repo))}-{int(row.epic)}.png"
            paths.append(
                _draw(
                    out / name,
                    f"{row.repo}#{int(row.epic)}",
                    h,
                    as_of_ts,
                    row.p50,
                    row.p85,
                    row.p95,
                    min(horizon, view_end),
                    note,
                )
            )
    return paths


def horizon_date(as_of: date, horizon_days: int) -> date:
    """The last day the simulation looks at."""
    return as_of + timedelta(days=horizon_days)
