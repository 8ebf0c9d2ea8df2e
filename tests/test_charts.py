"""The report's charts tell something: burn-ups of the epics with history, dates on every time axis."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from types import SimpleNamespace

import pandas as pd

from tasks.charts import burnup_epics, burnup_figure, forecast_figure

START = datetime(2026, 1, 5, 9, 0)
TIME_TICK = re.compile(r"\d\d:\d\d[.:]\d{3,}|\.\d{6}")  # `15:48.000000`, the axis the issue saw


def child_rows(repo: str, epic: int, opened: list[datetime], closed: list[datetime | None]) -> list[dict]:
    return [
        {"repo": repo, "epic": epic, "child": epic + i + 1, "created_at": o, "closed_at": c,
         "state": "closed" if c else "open"}
        for i, (o, c) in enumerate(zip(opened, closed, strict=True))
    ]  # fmt: skip


def report_data() -> SimpleNamespace:
    """Two epics with weeks of history (one finished), and four created seconds ago with more children."""
    rows = child_rows("acme/a", 10, [START] * 4, [START + timedelta(days=d) for d in (3, 9, 20, 41)])
    rows += child_rows("acme/b", 20, [START + timedelta(days=7)] * 3, [START + timedelta(days=30), None, None])
    fresh = START + timedelta(days=55)
    for n in range(4):
        rows += child_rows("acme/c", 100 + 10 * n, [fresh + timedelta(seconds=s) for s in range(6)], [None] * 6)
    epics = pd.DataFrame(
        [{"repo": "acme/a", "epic": 10, "is_open": False}, {"repo": "acme/b", "epic": 20, "is_open": True}]
        + [{"repo": "acme/c", "epic": 100 + 10 * n, "is_open": True} for n in range(4)]
    )
    forecast = pd.DataFrame(
        [{"repo": "acme/b", "epic": 20, "p50": "2026-03-10", "p85": "2026-03-24", "p95": "2026-04-07"}]
    )
    return SimpleNamespace(burnup=pd.DataFrame(rows), epics=epics, forecast=forecast, timezone="UTC",
                           generated_at=START + timedelta(days=56))  # fmt: skip


def tick_texts(fig) -> list[str]:
    fig.canvas.draw()
    return [t.get_text() for ax in fig.axes if ax.get_visible() for t in ax.get_xticklabels() if t.get_text()]


def test_burnup_chooses_the_epics_with_history_finished_and_in_progress_first():
    chosen = burnup_epics(report_data().burnup, report_data().epics, count=2)
    assert chosen == [("acme/b", 20), ("acme/a", 10)]  # not the 6-child epics opened seconds ago
    assert burnup_epics(report_data().burnup, report_data().epics, count=4) == [("acme/b", 20), ("acme/a", 10)]
    fresh = report_data().burnup[lambda f: f["repo"] == "acme/c"]
    assert len(burnup_epics(fresh, report_data().epics, count=4)) == 4  # nothing older: the newest still show


def test_burnup_draws_scope_and_closed_over_dates():
    import matplotlib.dates as mdates

    fig = burnup_figure(report_data())
    ax = fig.axes[0]
    assert [line.get_label() for line in ax.get_lines()] == ["scope", "closed"]
    closed = ax.get_lines()[1]
    assert max(closed.get_ydata()) == 1  # acme/b: one child of three closed
    assert isinstance(ax.xaxis.get_major_formatter(), mdates.ConciseDateFormatter)
    texts = tick_texts(fig)
    assert texts and not [t for t in texts if TIME_TICK.search(t)], texts
    assert any(re.fullmatch(r"Jan|Feb|Mar|\d\d|2026", t) for t in texts), texts


def test_forecast_fan_has_dates_on_its_axis():
    import matplotlib.dates as mdates

    fig = forecast_figure(report_data())
    ax = fig.axes[0]
    assert isinstance(ax.xaxis.get_major_formatter(), mdates.ConciseDateFormatter)
    low, high = (mdates.num2date(x).date() for x in ax.get_xlim())
    assert low <= datetime(2026, 3, 2).date() and high >= datetime(2026, 4, 7).date()
    texts = tick_texts(fig)
    assert texts and not [t for t in texts if TIME_TICK.search(t)], texts
