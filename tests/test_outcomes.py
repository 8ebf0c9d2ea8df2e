"""The `outcomes` mart and `orchestrator export outcomes`.

First hand-made snapshots (repeated labels, a second attempt, a PR from an agent's own interface),
then a simulated organisation: two label-dispatched agents (`jules`, `codex`) with known success
rates by language and 90 days of history written into the sandbox, snapshotted over real HTTP, and
every true dispatch compared with the view's rows.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import duckdb
import pytest
from typer.testing import CliRunner

from common.config import parse_settings, view_settings
from tests.test_views import add_event, add_pr, add_snapshot, rows

REPO = "org/core"
T0 = datetime(2026, 2, 1, 9, 0)
TWO_AGENTS = [{"name": "jules", "kind": "label"}, {"name": "codex", "kind": "label"}]


# ── the view over hand-made snapshots ─────────────────────────────────────────


def _settings_rows(con, **extra) -> None:
    settings = parse_settings({"github": {"org": "org"}, "agents": TWO_AGENTS, **extra})
    for key, value in view_settings(settings).items():
        con.execute("INSERT OR REPLACE INTO run_settings VALUES (?, ?)", [key, str(value)])


def _issue(con, number: int, labels=(), state="open") -> None:
    from tests.test_views import add_issue

    add_issue(con, number, labels=list(labels), state=state, created_at=T0 - timedelta(days=1))


def _event(con, number: int, event: str, label: str, at: datetime) -> None:
    add_event(con, number, event, label)
    con.execute("UPDATE issue_events SET created_at = ? WHERE id = (SELECT max(id) FROM issue_events)", [at])


@pytest.fixture
def con():
    from tests.conftest import schema_database

    con = schema_database()
    _settings_rows(con)
    con.execute("INSERT INTO repositories (repo, name, language) VALUES (?, 'core', 'Go')", [REPO])
    yield con
    con.close()


def test_repeated_labels_are_one_attempt_and_a_relabel_after_a_closed_pr_is_a_second(con):
    _issue(con, 1, labels=["severity:high", "type:security", "codex"])
    _event(con, 1, "labeled", "jules", T0)
    _event(con, 1, "unlabeled", "jules", T0 + timedelta(minutes=2))
    _event(con, 1, "labeled", "jules", T0 + timedelta(minutes=5))  # noise: the same attempt
    add_pr(con, 10, body="Fixes #1", author="google-labs-jules[bot]", head_ref="jules-1-ab", state="closed",
           merged=False, created_at=T0 + timedelta(hours=3), closed_at=T0 + timedelta(days=1))  # fmt: skip
    _event(con, 1, "labeled", "codex", T0 + timedelta(days=2))  # a second attempt, another agent
    add_pr(con, 11, body="Closes #1", author="someone", head_ref="codex/fix-1", state="closed", merged=True,
           created_at=T0 + timedelta(days=2, hours=5), closed_at=T0 + timedelta(days=3),
           merged_at=T0 + timedelta(days=3))  # fmt: skip
    add_snapshot(con, started_at=T0 + timedelta(days=30))
    got = rows(con, "SELECT number, attempt, agent, pr_number, outcome, severity, type, language, hours_to_pr "
                    "FROM outcomes ORDER BY attempt")  # fmt: skip
    assert got == [
        {"number": 1, "attempt": 1, "agent": "jules", "pr_number": 10, "outcome": "closed_unmerged",
         "severity": "high", "type": "security", "language": "Go", "hours_to_pr": 3.0},
        {"number": 1, "attempt": 2, "agent": "codex", "pr_number": 11, "outcome": "merged",
         "severity": "high", "type": "security", "language": "Go", "hours_to_pr": 5.0},
    ]  # fmt: skip


def test_no_pr_is_in_flight_then_abandoned_after_the_configured_days(con):
    _issue(con, 2)
    _event(con, 2, "labeled", "codex", T0)
    add_snapshot(con, started_at=T0 + timedelta(days=5))
    assert rows(con, "SELECT outcome FROM outcomes") == [{"outcome": "in_flight"}]
    _settings_rows(con, outcomes={"abandoned_after_days": 4})
    assert rows(con, "SELECT outcome, pr_number FROM outcomes") == [{"outcome": "abandoned", "pr_number": None}]


def test_a_pr_from_the_agents_own_interface_is_a_dispatch_and_other_labels_are_not(con):
    _issue(con, 3)
    _event(con, 3, "labeled", "bug", T0)  # not an agent's label
    add_pr(con, 12, body="Fixes #3", author="google-labs-jules[bot]", head_ref="feature", state="open",
           created_at=T0 + timedelta(hours=1))  # fmt: skip
    add_snapshot(con, started_at=T0 + timedelta(days=1))
    assert rows(con, "SELECT agent, dispatched_at, pr_number, outcome, dispatched_by FROM outcomes") == [
        {"agent": "jules", "dispatched_at": T0 + timedelta(hours=1), "pr_number": 12, "outcome": "in_flight",
         "dispatched_by": "person"}
    ]  # fmt: skip


# ── a simulated organisation over real HTTP ───────────────────────────────────

SIM_ORG = "simorg"
SIM_REPOS = {f"{SIM_ORG}/api": "Python", f"{SIM_ORG}/gateway": "Go", f"{SIM_ORG}/web": "TypeScript"}


@pytest.fixture(scope="module")
def simulated(sandbox_server, prefect_harness, tmp_path_factory):
    """The sandbox with a fresh organisation and 90 days of two agents' history, snapshotted once."""
    from flows.snapshot import snapshot
    from sandbox.models import DEFAULT_LOGIN
    from sandbox.seed import reset_demo
    from sandbox.seed.agent_history import seed_agent_history
    from tests.conftest import SANDBOX_NOW

    state = sandbox_server.state
    state.set_faults()
    reset_demo(state, seed=7, demo=False, now=SANDBOX_NOW)
    now = state.clock()  # the sandbox's clock: what the snapshot's "now" will be
    state.add_org(SIM_ORG, members=[DEFAULT_LOGIN, "mira-k"])
    for repo, language in SIM_REPOS.items():
        state.add_repo(SIM_ORG, repo.split("/")[1], language=language, created_at=now - timedelta(days=400))
    truth = seed_agent_history(state, SIM_REPOS, now=now, days=90, per_repo=40, seed=11,
                               people=(DEFAULT_LOGIN, "mira-k"))  # fmt: skip
    db = tmp_path_factory.mktemp("outcomes") / "orchestrator.duckdb"
    settings = parse_settings({
        "github": {"api_url": sandbox_server.url, "org": SIM_ORG, "seconds_between_writes": 0},
        "database": {"path": str(db)}, "agents": TWO_AGENTS,
        "team": {"members": [{"login": DEFAULT_LOGIN, "quota": 300}]},
    })  # fmt: skip
    snapshot(settings)
    yield settings, truth
    reset_demo(state, seed=7, now=SANDBOX_NOW)


def _same_dispatch(row: dict, true) -> bool:
    """The view's row stands for this true dispatch: same issue and agent, dispatched within a minute."""
    near = abs(row["dispatched_at"] - true.dispatched_at.replace(tzinfo=None)) <= timedelta(minutes=1)
    return (row["repo"], row["number"], row["agent"]) == (true.repo, true.number, true.agent) and near


def _view(settings) -> list[dict]:
    with duckdb.connect(settings.database.path, read_only=True) as con:
        return rows(con, "SELECT * FROM outcomes ORDER BY repo, number, attempt")


@pytest.mark.integration
def test_every_past_dispatch_has_a_row_with_the_right_agent_and_outcome(simulated):
    settings, truth = simulated
    view = _view(settings)
    unmatched, right = list(view), 0
    for true in truth:
        match = next((row for row in unmatched if _same_dispatch(row, true)), None)
        if match is not None:
            unmatched.remove(match)
            right += match["outcome"] == true.outcome
    outcomes = {o: sum(t.outcome == o for t in truth) for o in ("merged", "closed_unmerged", "abandoned", "in_flight")}
    assert len(truth) >= 120 and all(outcomes.values()), outcomes  # every outcome is exercised
    print(f"outcomes: {right}/{len(truth)} right, {len(unmatched)} extra rows")
    assert right / len(truth) >= 0.98, (right, len(truth))
    assert len(unmatched) / len(truth) <= 0.02, unmatched[:3]


@pytest.mark.integration
def test_the_measured_rates_show_each_agents_strength(simulated):
    settings, _ = simulated
    with duckdb.connect(settings.database.path, read_only=True) as con:
        rates = rows(con, "SELECT agent, language, avg((outcome = 'merged')::int) AS rate FROM outcomes "
                          "WHERE outcome <> 'in_flight' GROUP BY ALL")  # fmt: skip
    rate = {(r["agent"], r["language"]): r["rate"] for r in rates}
    assert rate[("jules", "Python")] > rate[("codex", "Python")]
    assert rate[("codex", "Go")] > rate[("jules", "Go")]


@pytest.mark.integration
@pytest.mark.parametrize("fmt", ["parquet", "csv", "jsonl"])
def test_export_writes_the_views_rows(simulated, tmp_path, fmt):
    from orchestrator.cli import app

    settings, _ = simulated
    out = tmp_path / f"outcomes.{fmt}"
    result = CliRunner().invoke(app, ["--db", settings.database.path, "export", "outcomes", "--format", fmt,
                                      "--out", str(out)])  # fmt: skip
    assert result.exit_code == 0, result.output
    view = _view(settings)
    reader = {"parquet": "read_parquet", "csv": "read_csv_auto", "jsonl": "read_json_auto"}[fmt]
    with duckdb.connect() as con:
        exported = rows(con, f"SELECT * FROM {reader}('{out}')")
    assert len(exported) == len(view) > 0
    if fmt == "parquet":
        assert exported == view  # the same rows, the same types
    else:
        key = [(r["repo"], r["number"], r["attempt"], r["agent"], r["outcome"]) for r in view]
        assert [(r["repo"], r["number"], r["attempt"], r["agent"], r["outcome"]) for r in exported] == key


@pytest.mark.integration
def test_export_since_keeps_later_dispatches(simulated, tmp_path):
    from orchestrator.cli import app

    settings, _ = simulated
    out = tmp_path / "recent.jsonl"
    view = _view(settings)
    since = sorted(row["dispatched_at"] for row in view)[len(view) // 2].date().isoformat()
    args = ["--db", settings.database.path, "export", "outcomes", "--format", "jsonl", "--out", str(out)]
    assert CliRunner().invoke(app, [*args, "--since", since]).exit_code == 0
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(lines) == sum(row["dispatched_at"].date().isoformat() >= since for row in view) < len(view)
    assert all(line["dispatched_at"] >= since for line in lines)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["outcomes", "--format", "xlsx"], "--format: 'xlsx' is not one of parquet, csv, jsonl"),
        (["outcomes", "--since", "yesterday"], "--since: 'yesterday' is not a date (YYYY-MM-DD)"),
        (["nothing"], "nothing called 'nothing' to export (one of outcomes)"),
    ],
)
def test_export_refuses_a_bad_format_date_or_view_in_one_line(tmp_path, args, message):
    from orchestrator.cli import app
    from tasks import store

    db = tmp_path / "o.duckdb"
    con = store.connect(db)
    store.ensure_schema(con)
    con.close()
    result = CliRunner().invoke(app, ["--db", str(db), "export", *args, "--out", str(tmp_path / "x")])
    assert result.exit_code == 2
    assert message in result.output and "Traceback" not in result.output
    assert not (tmp_path / "x").exists()


@pytest.mark.integration
def test_the_reports_outcomes_section_shows_each_agents_success_by_language_and_week(simulated):
    from tasks.report_html import collect, render_html

    settings, truth = simulated
    data = collect(settings)
    finished = [t for t in truth if t.outcome != "in_flight"]
    language = {repo: lang for repo, lang in SIM_REPOS.items()}
    expected = {}
    for t in finished:
        merged, total = expected.get((t.agent, language[t.repo]), (0, 0))
        expected[(t.agent, language[t.repo])] = (merged + (t.outcome == "merged"), total + 1)
    shown = {(r["agent"], r["language"]): r["success"] for r in data.outcomes["rates"]}
    assert shown == {key: f"{m / n:.0%} ({m}/{n})" for key, (m, n) in expected.items()}
    in_flight = sum(r["in_flight"] for r in data.outcomes["rates"])
    assert in_flight == len(truth) - len(finished)
    # the weekly trend: each (agent, language) by the Monday of the dispatch's week, the latest 8 weeks
    weeks = data.outcomes["trend_weeks"]
    assert len(weeks) == 8 and weeks == sorted(weeks)
    by_week: dict[tuple, tuple[int, int]] = {}
    for t in finished:
        monday = (t.dispatched_at - timedelta(days=t.dispatched_at.weekday())).date().isoformat()
        m, n = by_week.get((t.agent, language[t.repo], monday), (0, 0))
        by_week[(t.agent, language[t.repo], monday)] = (m + (t.outcome == "merged"), n + 1)
    for row in data.outcomes["trend"]:
        for week, cell in zip(weeks, row["weeks"], strict=True):
            m, n = by_week.get((row["agent"], row["language"], week), (0, 0))
            assert cell == (f"{m / n:.0%} ({m}/{n})" if n else cell), (row["agent"], row["language"], week)
            assert n or cell in ("", "-")
    html = render_html(data, charts={})
    section = html[html.index('data-section="outcomes"'):html.index('data-section="plan"')]
    for (agent, lang), (m, n) in expected.items():
        assert f"<td>{agent}</td><td>{lang}</td><td class=\"n\">{m / n:.0%} ({m}/{n})</td>" in section
