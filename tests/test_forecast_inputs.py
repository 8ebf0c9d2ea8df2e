"""Pure tests of analytics.forecast_inputs and tasks.charts with hand-made frames (no Prefect)."""

from __future__ import annotations

from datetime import date

import pandas as pd

from analytics.forecast import estimate_parameters, forecast
from analytics.forecast_inputs import (
    build_inputs,
    capacity_per_day,
    dispatches_from,
    done_over_time,
    epic_priorities,
)
from tasks.charts import render_charts

T = pd.Timestamp
AS_OF = T("2026-03-02 09:00")


def frames():
    children = pd.DataFrame(
        [
            # epic 10: phase 1 done, phase 2 has one open (dispatched) child and one added later
            ("o/a", 10, 1, 1, "closed", "high", T("2026-02-01"), T("2026-02-05")),
            ("o/a", 10, 2, 1, "closed", "medium", T("2026-02-01"), T("2026-02-06")),
            ("o/a", 10, 3, 2, "open", "medium", T("2026-02-01"), pd.NaT),
            ("o/a", 10, 4, 2, "open", "medium", T("2026-02-20"), pd.NaT),
            ("o/a", 10, 5, 3, "missing", None, pd.NaT, pd.NaT),
            # epic 20: every child closed but the epic issue still open
            ("o/b", 20, 7, 1, "closed", "low", T("2026-02-10"), T("2026-02-12")),
            # epic 30: closed epic, not forecast
            ("o/b", 30, 8, 1, "closed", "low", T("2026-01-10"), T("2026-01-12")),
        ],
        columns=["repo", "epic", "child", "phase", "child_state", "severity", "created_at", "closed_at"],
    )
    epics = pd.DataFrame(
        [
            ("o/a", 10, "A", "open", T("2026-02-01"), pd.NaT),
            ("o/b", 20, "B", "open", T("2026-02-10"), pd.NaT),
            ("o/b", 30, "C", "closed", T("2026-01-10"), T("2026-01-13")),
        ],
        columns=["repo", "epic", "title", "state", "created_at", "closed_at"],
    )
    events = pd.DataFrame(
        [
            ("o/a", 1, T("2026-02-02")),
            ("o/a", 2, T("2026-02-02")),
            ("o/a", 3, T("2026-02-25")),
            ("o/b", 7, T("2026-02-10")),
        ],
        columns=["repo", "number", "at"],
    )
    ledger = pd.DataFrame([("o/a", 2, T("2026-02-01 12:00"))], columns=["repo", "number", "at"])
    issues = pd.DataFrame(
        [
            ("o/a", 1, "closed", "completed", T("2026-02-05")),
            ("o/a", 2, "closed", "completed", T("2026-02-06")),
            ("o/a", 3, "open", None, pd.NaT),
            ("o/b", 7, "closed", "not_planned", T("2026-02-12")),
        ],
        columns=["repo", "number", "state", "state_reason", "closed_at"],
    )
    prs = pd.DataFrame(
        [
            ("o/a", 1, 100, T("2026-02-02"), pd.NaT, T("2026-02-03"), False),  # failed attempt first
            ("o/a", 1, 101, T("2026-02-03"), T("2026-02-04"), T("2026-02-04"), True),
        ],
        columns=["repo", "issue", "pr_number", "created_at", "merged_at", "closed_at", "merged"],
    )
    return children, epics, events, ledger, issues, prs


def test_dispatches_attempts_merges_and_failures():
    _, _, events, ledger, issues, prs = frames()
    d = dispatches_from(events, ledger, issues, prs)
    one = d[d["issue"] == 1].sort_values("dispatched_at")
    assert list(one["failed"]) == [True, False]  # the unmerged PR was a failed attempt
    assert one["resolved_at"].iloc[0] == T("2026-02-03") and one["dispatched_at"].iloc[1] == T("2026-02-03")
    assert one["merged_at"].iloc[1] == T("2026-02-04")  # the merge, before the issue closed
    two = d[d["issue"] == 2].iloc[0]
    assert two["dispatched_at"] == T("2026-02-01 12:00") and two["merged_at"] == T("2026-02-06")  # ledger first
    assert pd.isna(d[d["issue"] == 3].iloc[0]["merged_at"]) and not d[d["issue"] == 3].iloc[0]["failed"]
    assert d[d["issue"] == 7].iloc[0]["failed"]  # closed as not planned
    empty = dispatches_from(events.iloc[:0], ledger.iloc[:0], issues, prs)
    assert empty.empty
    assert list(empty.columns) == ["repo", "issue", "dispatched_at", "merged_at", "failed", "resolved_at"]


def test_build_inputs_open_epics_phases_priority_and_scope():
    children, epics, events, ledger, issues, prs = frames()
    d = dispatches_from(events, ledger, issues, prs)
    open_epics, hist = build_inputs(children, epics, d, AS_OF)
    by = {(e.repo, e.epic): e for e in open_epics}
    assert set(by) == {("o/a", 10), ("o/b", 20)}  # closed epic 30 is not forecast
    a = by[("o/a", 10)]
    assert sum(a.remaining_by_phase) == 2 and a.remaining_by_phase[-1] == 2  # missing child ignored
    assert a.priority == 0  # a high-severity child
    assert a.in_flight_ages == [(AS_OF - T("2026-02-25")).days]  # child 3 dispatched, not merged
    assert by[("o/b", 20)].remaining_by_phase == [] and by[("o/b", 20)].priority == 1
    assert list(hist.scope_additions["epic"]) == [10]  # child 4 created after its epic
    pr = epic_priorities(children)
    assert dict(zip(pr["epic"], pr["priority"], strict=False)) == {10: 0, 20: 1, 30: 1}
    params = estimate_parameters(hist, AS_OF)
    assert params.thin_history  # three merges is thin
    df, org = forecast(open_epics, params, 5, AS_OF.date(), trials=500)
    assert df.loc[df["epic"] == 20, "p95"].iloc[0] == AS_OF.date()  # nothing left: done today
    assert df["remaining_children"].tolist() == [2, 0]


def test_closed_after_snapshot_start_still_counts_closed():
    children, epics, events, ledger, issues, prs = frames()
    children.loc[children["child"] == 2, "closed_at"] = AS_OF + pd.Timedelta(minutes=5)
    open_epics, _ = build_inputs(children, epics, dispatches_from(events, ledger, issues, prs), AS_OF)
    assert sum(next(e for e in open_epics if e.epic == 10).remaining_by_phase) == 2


def test_capacity_rate():
    assert capacity_per_day(600, 20) == 20
    assert capacity_per_day(5, 20) == 5
    assert capacity_per_day(None, 80) == 80
    assert capacity_per_day(600, 20, rate=3.5) == 3.5
    assert capacity_per_day(600, 20, rate=-1) == 0


def test_burn_up_history_and_charts(tmp_path):
    children, epics, events, ledger, issues, prs = frames()
    hist = done_over_time(children, AS_OF)
    a = hist[hist["epic"] == 10].sort_values("date")
    assert a["done"].iloc[-1] == 2 and a["total"].iloc[-1] == 4 and a["done"].is_monotonic_increasing
    fc = pd.DataFrame(
        {
            "repo": ["o/a", "o/b"],
            "epic": [10, 20],
            "p50": [date(2026, 3, 9), date(2026, 3, 2)],
            "p85": [date(2026, 3, 20), date(2026, 3, 2)],
            "p95": [None, date(2026, 3, 2)],
            "thin_history": [True, False],
            "beyond_horizon": [True, False],
        }
    )
    org = {"p50": date(2026, 3, 9), "p85": date(2026, 3, 20), "p95": None, "beyond_horizon": True, "thin_history": True}
    paths = render_charts(hist, fc, org, AS_OF.date(), tmp_path / "charts")
    assert [p.name for p in paths][0] == "org.png" and len(paths) == 3
    assert all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in paths)


def test_forecast_frames_come_from_the_views_of_the_latest_complete_snapshot():
    """tasks.forecast_store reads the forecast views on a tiny database (no Prefect, no server)."""
    from datetime import datetime

    import duckdb
    import pytest

    from common.config import Settings
    from tasks.forecast_store import NoSnapshotError, load_frames
    from tasks.store import ensure_schema
    from tests import test_views as tv

    settings = Settings.model_validate({"github": {"org": "org"}, "database": {"path": "unused.duckdb"}})
    con = duckdb.connect()
    ensure_schema(con)
    con.execute("INSERT INTO run_settings VALUES ('token_login', ?)", [tv.OWN])
    with pytest.raises(NoSnapshotError):
        load_frames(con, settings)
    tv.epic_with_every_reference_form(con)  # epic org/core#1, children 2, 3, 4 (closed) and 7 (open)
    tv.add_event(con, 7, "labeled", "JULES")  # the agent's label, any case
    tv.add_event(con, 7, "labeled", "bug")  # another label is no handoff
    tv.add_action(con, "dispatch", "org/core#3")
    tv.add_action(con, "dispatch", "#4", status="failed")  # only done dispatches count
    tv.add_pr(con, 30, body="Fixes #7", state="closed", merged=True, merged_at=datetime(2026, 2, 3))
    frames = load_frames(con, settings)
    assert frames["run_id"] == 1 and frames["as_of"] == pd.Timestamp(tv.AT)
    assert frames["children"][["child", "phase", "child_state"]].values.tolist() == [
        [2, 1, "closed"],
        [3, 2, "closed"],
        [4, 2, "closed"],
        [7, 3, "open"],
    ]
    assert frames["children"]["created_at"].notna().all()
    assert frames["agent_events"][["repo", "number"]].values.tolist() == [["org/core", 7]]
    assert frames["ledger"][["repo", "number"]].values.tolist() == [["org/core", 3]]
    links = frames["pr_links"]
    assert links[["issue", "pr_number", "merged"]].values.tolist() == [[7, 30, True]]
    assert set(frames["epics"]["epic"]) == {1}
