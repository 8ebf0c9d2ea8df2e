"""One definition of usage: the `usage_events` / `daily_usage` views, and every reader agreeing on them.

A small hand-made ledger (ours, pending and done, yesterday's, a skipped row) and label events
(a person's, ours seen on GitHub, the token user's, another label, one issue labelled twice):
the ledger's budget, the plan's inputs, the report, `orchestrator budget` and the mart count alike.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

from common.config import Settings
from tasks import budget, ledger, store, usage
from tasks.plan_inputs import read_plan_inputs
from tasks.report_html import collect

ORG = "dappcore"
NOW = datetime(2026, 3, 2, 12)


def team_settings(db: Path, **team) -> Settings:
    return Settings.model_validate(
        {
            "github": {"api_url": "http://127.0.0.1:1", "org": ORG, "repos": ["*"]},
            "database": {"path": str(db)},
            "team": {
                "members": [
                    {"login": "Snider", "quota": 5, "repos": ["core"]},
                    {"login": "bodane", "quota": 3, "repos": ["*"]},
                ],
                **team,
            },  # fmt: skip
        }
    )


def hand_made_ledger(db: Path) -> Settings:
    settings = team_settings(db)
    with store.writer(db) as con:
        action = {"plan_id": "p", "action": "dispatch", "repo": f"{ORG}/core", "cost": 1}
        ledger.save_row(con, action | {"seq": 1, "target": "5"}, "done", NOW - timedelta(hours=1), member="Snider")
        ledger.save_row(con, action | {"seq": 2, "target": "6"}, "pending", NOW, member="Snider")
        ledger.save_row(con, action | {"seq": 3, "target": "7"}, "done", NOW - timedelta(days=1), member="Snider")
        ledger.save_row(con, action | {"seq": 4, "target": "8"}, "skipped", NOW, member="Snider")
        events = [
            (1, f"{ORG}/core-php", 9, "mira-k", "jules", NOW - timedelta(hours=2)),  # a person's: bodane (covers *)
            (2, f"{ORG}/core", 5, "mira-k", "jules", NOW - timedelta(hours=1)),  # our dispatch #5, seen on GitHub
            (3, f"{ORG}/core", 10, "Snider", "jules", NOW - timedelta(hours=1)),  # the token user's: ours
            (4, f"{ORG}/core", 11, "mira-k", "bug", NOW - timedelta(hours=1)),  # not the agent's label
            (5, f"{ORG}/core", 12, "mira-k", "Jules", NOW - timedelta(hours=3)),  # a person's: Snider (first)
            (6, f"{ORG}/core", 12, "ana-b", "jules", NOW - timedelta(hours=2)),  # the same issue again: one task
        ]
        con.executemany(
            "INSERT INTO issue_events (id, repo, number, event, actor, label, created_at)"
            " VALUES (?, ?, ?, 'labeled', ?, ?, ?)",
            [list(event) for event in events],
        )
        store.save_settings(con, {"token_login": "Snider"})
    return settings


def test_daily_usage_has_one_row_per_day_member_and_agent(tmp_path):
    settings = hand_made_ledger(tmp_path / "u.duckdb")
    with store.reader(settings.database.path) as con:
        rows = usage.daily_usage(con, settings, date(2026, 3, 1), date(2026, 3, 2))
    assert rows == [
        {"usage_date": date(2026, 3, 1), "member": "Snider", "agent": "jules", "count_tasks": 1,
         "count_dispatched": 1, "count_person_labels": 0},
        {"usage_date": date(2026, 3, 2), "member": "Snider", "agent": "jules", "count_tasks": 3,
         "count_dispatched": 2, "count_person_labels": 1},
        {"usage_date": date(2026, 3, 2), "member": "bodane", "agent": "jules", "count_tasks": 1,
         "count_dispatched": 0, "count_person_labels": 1},
    ]  # fmt: skip


def test_usage_days_follow_the_team_time_zone(tmp_path):
    settings = hand_made_ledger(tmp_path / "u.duckdb")
    tokyo = team_settings(settings.database.path, timezone="Asia/Tokyo")
    with store.reader(settings.database.path) as con:
        rows = usage.daily_usage(con, tokyo, date(2026, 3, 1), date(2026, 3, 3))
    # 12:00 UTC is 21:00 in Tokyo: the same day; 09:00 UTC (event 5) is 18:00, the same day too
    assert {(row["usage_date"], row["member"]): row["count_tasks"] for row in rows} == {
        (date(2026, 3, 1), "Snider"): 1, (date(2026, 3, 2), "Snider"): 3, (date(2026, 3, 2), "bodane"): 1,
    }  # fmt: skip


def test_ledger_plan_report_and_budget_count_the_same(tmp_path):
    settings = hand_made_ledger(tmp_path / "u.duckdb")
    expected = {"Snider": 3, "bodane": 1}
    with store.reader(settings.database.path) as con:
        assert ledger.used_today(con, settings, NOW) == expected
        inputs = read_plan_inputs(con, settings, NOW)
        assert usage.used_by_repo(con, settings, NOW) == {f"{ORG}/core": 3, f"{ORG}/core-php": 1}
    assert {m.login: m.used for m in inputs.members} == expected
    assert inputs.used_by_repo == {f"{ORG}/core": 3, f"{ORG}/core-php": 1}
    report = collect(settings, NOW)
    assert report.used_today == 4
    assert dict(zip(report.members["login"], report.members["used_today"], strict=True)) == expected
    today = budget.budget_today(settings, NOW)
    assert {m["login"]: m["used"] for m in today["members"]} == expected
    assert (today["used"], today["remaining"]) == (4, 4)
    history = budget.budget_history(settings, NOW, 2)
    assert [(day["date"], day["used"], day["used_Snider"], day["used_bodane"]) for day in history] == [
        ("2026-03-01", 1, 1, 0), ("2026-03-02", 4, 3, 1),
    ]  # fmt: skip


def test_rolling_24h_window_counts_yesterdays_dispatch_everywhere(tmp_path):
    settings = hand_made_ledger(tmp_path / "u.duckdb")
    rolling = team_settings(settings.database.path, window="rolling_24h")
    with store.reader(settings.database.path) as con:
        assert ledger.used_today(con, rolling, NOW) == {"Snider": 4, "bodane": 1}
        assert {m.login: m.used for m in read_plan_inputs(con, rolling, NOW).members} == {"Snider": 4, "bodane": 1}
    assert budget.budget_today(rolling, NOW)["used"] == 5
    assert collect(rolling, NOW).used_today == 5


def test_the_callers_settings_count_not_the_stored_ones_and_leave_no_trace(tmp_path):
    settings = hand_made_ledger(tmp_path / "u.duckdb")
    with store.writer(settings.database.path) as con:
        store.save_settings(con, usage.usage_settings(team_settings(settings.database.path)))
        # a team edited since the last plan: only bodane now, who covers everything
        alone = Settings.model_validate(settings.model_dump() | {"team": {"members": [{"login": "bodane"}]}})
        assert ledger.used_today(con, alone, NOW) == {"bodane": 2, "Snider": 2}  # #12 is now bodane's
        stored = dict(con.execute("SELECT key, value FROM run_settings").fetchall())
        assert "bodane" in stored["team_members"] and "Snider" in stored["team_members"]
        assert con.execute("SELECT count(*) FROM duckdb_tables() WHERE temporary").fetchone()[0] == 0


def test_reserve_counts_and_inserts_under_the_lock(tmp_path):
    settings = hand_made_ledger(tmp_path / "u.duckdb")
    dispatch = {"plan_id": "q", "action": "dispatch", "repo": f"{ORG}/core", "target": "30", "cost": 1}
    with ledger.locked(settings.database.path) as con:
        assert ledger.reserve(con, settings, dispatch | {"seq": 1, "member": "Snider"}, NOW) is None
        assert ledger.reserve(con, settings, dispatch | {"seq": 2, "member": "Snider"}, NOW) is None
        refused = ledger.reserve(con, settings, dispatch | {"seq": 3, "member": "Snider"}, NOW)
        assert refused == "budget: Snider has used 5 of 5 tasks today"
        assert ledger.used_today(con, settings, NOW)["Snider"] == 5
