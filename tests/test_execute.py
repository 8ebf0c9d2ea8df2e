"""The execute flow against the sandbox over real HTTP: exact writes, idempotence, crashes, budget, faults."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from common.config import Settings
from flows.execute import execute
from sandbox.state import SandboxError
from tasks import ledger, store
from tests.conftest import make_settings, write_config

pytestmark = pytest.mark.usefixtures("prefect_harness")

ORG = "dappcore"
ROOT = Path(__file__).resolve().parents[1]


# ── helpers ───────────────────────────────────────────────────────────────────


def insert_plan(settings: Settings, plan_id: str, actions: list[dict], created_at: datetime | None = None) -> None:
    """A dispatch_plans row and its plan_actions, as the plan flow writes them."""
    with store.writer(settings.database.path) as con:
        con.execute(
            "INSERT INTO dispatch_plans (plan_id, created_at, strategy, planned_cost) VALUES (?, ?, 'conservative', ?)",
            [plan_id, created_at or datetime.now(UTC).replace(tzinfo=None), sum(a.get("cost", 0) for a in actions)],
        )
        for seq, a in enumerate(actions, start=1):
            con.execute(
                "INSERT INTO plan_actions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [plan_id, seq, a["action"], a["repo"], a.get("target"), json.dumps(a.get("payload", {})),
                 a.get("reason", "test"), seq, a.get("cost", 0), json.dumps(a.get("precondition", [])),
                 a.get("member")],
            )  # fmt: skip


def writes(state) -> list[tuple[str, str]]:
    """(method, path) of every mutating request that succeeded."""
    return [(r["method"], r["path"]) for r in state.writes() if r["status"] < 400]


def ledger_rows(settings: Settings, plan_id: str) -> dict[int, tuple]:
    with store.reader(settings.database.path) as con:
        rows = con.execute(
            "SELECT seq, action, status, reason, cost, github_url FROM action_log WHERE plan_id = ? ORDER BY seq",
            [plan_id],
        ).fetchall()
    return {r[0]: r[1:] for r in rows}


def open_plain_issues(state, repo: str) -> list[int]:
    """Open issues (not PRs, audits or epics) without comments or the agent label."""
    r = state.repo(f"{ORG}/{repo}")
    return sorted(
        i.number
        for (rid, _), i in state.issues.items()
        if rid == r.id and i.state == "open" and not i.is_pull and "audit" not in i.title.lower()
        and not any(x in i.labels for x in ("jules", "epic")) and not state.comment_count(i)
    )  # fmt: skip


def every_type_plan(state) -> list[dict]:
    """One action of every type against the demo org (numbers looked up in the seeded state)."""
    plain = open_plain_issues(state, "core-php")
    core = f"{ORG}/core"
    php = f"{ORG}/core-php"
    return [
        {"action": "create_issue", "repo": php, "target": "23",
         "payload": {"title": "Fix SQL injection (thanks @mira-k), fixes #12", "labels": ["audit", "type:brand-new"],
                     "body": "Found in #23 <!-- orchestrator:finding forged -->", "fingerprint": "fp-1",
                     "audit_number": 23, "finding_index": 1, "marker": "<!-- orchestrator:finding fp-1 -->"},
         "precondition": [{"check": "no_marker", "marker": "<!-- orchestrator:finding fp-1 -->"}]},
        {"action": "create_framework_issue", "repo": php, "target": "fw-1",
         "payload": {"title": "Framework: input validation", "body": "Seen in 3 repos", "labels": ["audit"],
                     "members": [], "marker": "<!-- orchestrator:framework fw-1 -->"}},
        {"action": "close_audit", "repo": php, "target": "23",
         "payload": {"comment": "Split into child issues.", "state_reason": "completed", "children": []},
         "precondition": [{"check": "issue_open", "number": 23}]},
        {"action": "create_epic", "repo": php, "target": "prop-1",
         "payload": {"title": "Epic: Security", "body": "## Phase 1\n- [ ] #39", "labels": ["epic"],
                     "children": [{"number": 39, "phase": 1}], "slug": "security", "marker": "epic prop-1"}},
        {"action": "link_child", "repo": php, "target": str(plain[0]),
         "payload": {"epic": 81, "comment": "Parent: #81"}},
        {"action": "create_branch", "repo": core, "target": "epic/133-documentation",
         "payload": {"epic": 133, "branch": "epic/133-documentation", "from_branch": "dev"},
         "precondition": [{"check": "branch_absent", "branch": "epic/133-documentation"}]},
        {"action": "dispatch", "repo": core, "target": "88", "cost": 1, "member": "Snider",
         "payload": {"epic": 101, "branch": "epic/101-security-hardening", "mode": "label", "label": "jules",
                     "comment": "Target branch: `epic/101-security-hardening` (epic #101)"},
         "precondition": [{"check": "lacks_label", "number": 88, "label": "jules"},
                          {"check": "budget", "member": "Snider"}]},
        {"action": "tick_checklist", "repo": core, "target": "101", "payload": {"epic": 101, "child": 67},
         "precondition": [{"check": "checkbox_unticked", "number": 101, "child": 67},
                          {"check": "issue_closed", "number": 67}]},
        {"action": "nudge_pr", "repo": php, "target": "94", "payload": {"comment": "fix the merge conflict"},
         "precondition": [{"check": "pr_still_stuck", "number": 94, "reason": "conflicting"}]},
        {"action": "escalate_pr", "repo": core, "target": "305",
         "payload": {"comment": "Two nudges had no effect; a person should take over.", "assignee": "bodane"},
         "precondition": [{"check": "pr_still_stuck", "number": 305, "reason": "conflicting"}]},
        {"action": "update_branch", "repo": f"{ORG}/core-api", "target": "69", "payload": {},
         "precondition": [{"check": "pr_still_stuck", "number": 69, "reason": "behind"}]},
        {"action": "sync_epic_branch", "repo": core, "target": "epic/101-security-hardening",
         "payload": {"epic": 101, "branch": "epic/101-security-hardening", "from_branch": "dev"},
         "precondition": [{"check": "branch_present", "branch": "epic/101-security-hardening"}]},
        {"action": "tick_checklist", "repo": core, "target": "127", "payload": {"epic": 127, "child": 125}},
        {"action": "open_epic_pr", "repo": core, "target": "127",
         "payload": {"epic": 127, "head": "epic/127-test-coverage", "base": "dev",
                     "title": "Epic #127: Test coverage", "body": "Closes the epic's work. fixes #127"},
         "precondition": [{"check": "no_open_pr_from", "head": "epic/127-test-coverage"}]},
        {"action": "close_epic", "repo": core, "target": "127", "payload": {"comment": "All children done."},
         "precondition": [{"check": "issue_open", "number": 127}]},
        {"action": "link_child", "repo": "someone-else/core", "target": "1", "payload": {"epic": 2}},
    ]  # fmt: skip


def expected_writes(state) -> list[tuple[str, str]]:
    plain = open_plain_issues(state, "core-php")[0]
    php, core = f"/repos/{ORG}/core-php", f"/repos/{ORG}/core"
    return [
        ("POST", f"{php}/issues"),  # GitHub creates missing labels itself: no label write
        ("POST", f"{php}/issues"),
        ("POST", f"{php}/issues/23/comments"), ("PATCH", f"{php}/issues/23"),
        ("POST", f"{php}/issues"),
        ("POST", f"{php}/issues/{plain}/comments"), ("POST", f"{php}/issues/81/sub_issues"),  # native link too
        ("POST", f"{core}/git/refs"),
        ("POST", f"{core}/issues/88/labels"), ("POST", f"{core}/issues/88/comments"),
        ("PATCH", f"{core}/issues/101"),
        ("POST", f"{php}/issues/94/comments"),
        ("POST", f"{core}/issues/305/comments"), ("POST", f"{core}/issues/305/labels"),
        ("POST", f"{core}/issues/305/assignees"),
        ("PUT", f"/repos/{ORG}/core-api/pulls/69/update-branch"),
        ("POST", f"{core}/merges"),
        ("PATCH", f"{core}/issues/127"),
        ("POST", f"{core}/pulls"),
        ("POST", f"{core}/issues/127/comments"), ("PATCH", f"{core}/issues/127"),
    ]  # fmt: skip


def github_state(state) -> tuple:
    """Everything the executor can change, without ids or times: equal states mean equal GitHub."""
    issues = sorted(
        (state.repos[rid].full_name, n, i.title, i.body, i.state, tuple(sorted(i.labels)), tuple(sorted(i.assignees)))
        for (rid, n), i in state.issues.items()
    )
    comments = sorted((state.repos[c.repo_id].full_name, c.issue_number, c.body) for c in state.comments)
    branches = sorted((r.full_name, b) for r in state.repos.values() for b in r.branches)
    labels = sorted((r.full_name, name) for r in state.repos.values() for name in r.labels)
    return issues, comments, branches, labels


def agent_labels_added(state, since: datetime, label: str = "jules") -> int:
    return sum(
        1 for e in state.events
        if e.event == "labeled" and e.extra.get("label", {}).get("name") == label and e.created_at >= since
    )  # fmt: skip


def dispatches_done(settings: Settings) -> int:
    with store.reader(settings.database.path) as con:
        return con.execute(
            "SELECT coalesce(sum(cost), 0) FROM action_log WHERE action = 'dispatch' AND status = 'done'"
        ).fetchone()[0]


# ── one of every type, exactly once ───────────────────────────────────────────


def test_applying_a_plan_makes_exactly_the_planned_writes_and_a_second_apply_makes_none(sandbox, settings):
    state = sandbox.state
    plan = every_type_plan(state)
    insert_plan(settings, "p-all", plan)
    expected = expected_writes(state)
    state.request_log.clear()

    summary = execute(settings, apply=True)

    assert writes(state) == expected
    assert [r for r in state.writes() if r["status"] >= 400] == []
    rows = ledger_rows(settings, "p-all")
    assert [rows[s][1] for s in sorted(rows)] == ["done"] * 15 + ["failed"]
    assert rows[16][2] == "repository not in configuration"
    assert summary["by_status"] == {"done": 15, "failed": 1} and summary["tasks_spent"] == 1
    assert summary["by_action"]["tick_checklist"] == {"done": 2}
    assert rows[7][3] == 1 and all(rows[s][3] == 0 for s in rows if s != 7)
    assert not any(r["path"].startswith("/repos/someone-else") for r in state.request_log)

    # what was written: sanitised text, our markers, the state changes
    new = state.issue(f"{ORG}/core-php", 97)
    assert "@\u200dmira-k" in new.title and "f\u200bixes #12" in new.title
    assert (
        new.body.endswith("<!-- orchestrator:finding fp-1 -->") and "<!-- orchestrator:finding forged" not in new.body
    )
    assert sorted(new.labels) == ["audit", "type:brand-new"]
    assert state.issue(f"{ORG}/core-php", 23).state == "closed"
    assert "- [x] #67" in state.issue(f"{ORG}/core", 101).body
    assert "- [x] #125" in state.issue(f"{ORG}/core", 127).body
    assert state.issue(f"{ORG}/core", 127).state == "closed"
    assert "epic/133-documentation" in state.repo(f"{ORG}/core").branches
    assert "needs-human" in state.issue(f"{ORG}/core", 305).labels
    assert "bodane" in state.issue(f"{ORG}/core", 305).assignees
    epic_pr = max(n for (rid, n) in state.issues if rid == state.repo(f"{ORG}/core").id)
    assert "<!-- orchestrator:epic-pr 127 -->" in state.issue(f"{ORG}/core", epic_pr).body

    state.request_log.clear()
    again = execute(settings, apply=True)
    assert state.writes() == []
    assert again["by_status"] == {"done": 15, "failed": 1} and again["tasks_spent"] == 1

    # a new plan asking for the same things finds them instead of writing twice
    insert_plan(settings, "p-all-2", plan[:8])
    state.request_log.clear()
    third = execute(settings, plan_id="p-all-2", apply=True)
    assert writes(state) == []
    assert third["by_status"].get("skipped", 0) >= 2  # no_marker / branch_absent / lacks_label now fail


def test_a_dry_run_writes_nothing_and_says_what_would_be_done(sandbox, settings):
    state = sandbox.state
    insert_plan(settings, "p-dry", every_type_plan(state))
    state.request_log.clear()
    summary = execute(settings, plan_id="p-dry", apply=False)
    assert state.writes() == []
    assert summary["by_status"] == {"would run": 15, "refuse": 1} and not summary["applied"]
    assert ledger_rows(settings, "p-dry") == {}


def test_the_latest_plan_is_the_default_and_no_plan_is_an_error(sandbox, settings):
    from tasks.ledger import NoPlan

    with pytest.raises(NoPlan):
        execute(settings)
    old, new = datetime(2026, 3, 1), datetime(2026, 3, 2)
    insert_plan(settings, "z-old", [{"action": "update_branch", "repo": f"{ORG}/core-api", "target": "69"}], old)
    insert_plan(settings, "a-new", [{"action": "nudge_pr", "repo": f"{ORG}/core-php", "target": "94",
                                     "payload": {"comment": "fix the merge conflict"}}], new)  # fmt: skip
    assert execute(settings)["plan_id"] == "a-new"
    with pytest.raises(NoPlan):
        execute(settings, plan_id="nope")


# ── failures ──────────────────────────────────────────────────────────────────


def test_permission_errors_fail_the_action_with_a_reason_and_the_run_goes_on(sandbox, settings, monkeypatch):
    state = sandbox.state

    def forbidden(*args, **kwargs):
        raise SandboxError(403, "Resource not accessible by integration")

    monkeypatch.setattr(state, "add_comment", forbidden)
    insert_plan(settings, "p-perm", [
        {"action": "nudge_pr", "repo": f"{ORG}/core-php", "target": "94", "payload": {"comment": "fix it"}},
        {"action": "sync_epic_branch", "repo": f"{ORG}/core", "target": "epic/101-security-hardening",
         "payload": {"branch": "epic/101-security-hardening", "from_branch": "no-such-branch"}},
        {"action": "tick_checklist", "repo": f"{ORG}/core", "target": "9999", "payload": {"epic": 9999, "child": 1},
         "precondition": [{"check": "checkbox_unticked", "number": 9999, "child": 1}]},
        {"action": "update_branch", "repo": f"{ORG}/core-api", "target": "69"},
    ])  # fmt: skip
    summary = execute(settings, apply=True)
    rows = ledger_rows(settings, "p-perm")
    assert [rows[s][1] for s in (1, 2, 3, 4)] == ["failed", "failed", "failed", "done"]
    assert "403" in rows[1][2] and "Resource not accessible" in rows[1][2]
    assert "404" in rows[2][2] and "404" in rows[3][2]
    assert summary["by_status"] == {"failed": 3, "done": 1}
    with store.reader(settings.database.path) as con:
        assert con.execute("SELECT count(*) FROM action_log WHERE status = 'pending'").fetchone()[0] == 0


def test_server_errors_and_secondary_limits_are_retried_without_duplicates(sandbox, settings):
    state = sandbox.state
    plan = [a for a in every_type_plan(state) if a["action"] in ("create_issue", "close_audit", "dispatch", "nudge_pr")]
    insert_plan(settings, "p-faults", plan)
    clean_writes = 6  # issue, comment + close, label + comment, comment
    state.set_faults(error_rate=0.25, secondary_rate_limit_rate=0.1, retry_after=1, seed=3)
    summary = execute(settings, apply=True)
    state.set_faults()
    assert summary["by_status"] == {"done": 4}
    assert len(writes(state)) == clean_writes  # retried failures, never a second success
    assert any(r["status"] == 502 for r in state.request_log) and any(r["status"] == 403 for r in state.request_log)
    php = state.repo(f"{ORG}/core-php")
    assert sum(1 for (rid, _), i in state.issues.items() if rid == php.id and "fp-1" in (i.body or "")) == 1


# ── budget ────────────────────────────────────────────────────────────────────


def budget_settings(url: str, db: Path, quotas: dict[str, tuple[int, list[str]]], **team) -> Settings:
    base = make_settings(url, db)
    data = base.model_dump()
    data["team"] = {"members": [{"login": k, "quota": q, "repos": r} for k, (q, r) in quotas.items()], **team}
    return Settings.model_validate(data)


def dispatch_plan(repo: str, numbers: list[int], member: str) -> list[dict]:
    return [
        {"action": "dispatch", "repo": f"{ORG}/{repo}", "target": str(n), "cost": 1, "member": member,
         "payload": {"mode": "label", "label": "jules", "comment": "Target branch: `dev`"},
         "precondition": [{"check": "lacks_label", "number": n, "label": "jules"},
                          {"check": "budget", "member": member}]}
        for n in numbers
    ]  # fmt: skip


def test_used_today_counts_the_ledger_and_labels_added_by_a_person(tmp_path):
    s = budget_settings("http://127.0.0.1:1", tmp_path / "b.duckdb", {"Snider": (5, ["core"]), "bodane": (3, ["*"])})
    now = datetime(2026, 3, 2, 12)
    with store.writer(s.database.path) as con:
        action = {"plan_id": "p", "action": "dispatch", "repo": f"{ORG}/core", "cost": 1}
        ledger.save_row(con, action | {"seq": 1, "target": "5"}, "done", now - timedelta(hours=1), member="Snider")
        ledger.save_row(con, action | {"seq": 2, "target": "6"}, "pending", now, member="Snider")
        ledger.save_row(con, action | {"seq": 3, "target": "7"}, "done", now - timedelta(days=1), member="Snider")
        ledger.save_row(con, action | {"seq": 4, "target": "8"}, "skipped", now, member="Snider")
        events = [  # a person's label counts; ours (matched by the ledger) and the token user's do not
            (1, f"{ORG}/core-php", 9, "labeled", "mira-k", "jules", now - timedelta(hours=2)),
            (2, f"{ORG}/core", 5, "labeled", "mira-k", "jules", now - timedelta(hours=1)),
            (3, f"{ORG}/core", 10, "labeled", "Snider", "jules", now - timedelta(hours=1)),
            (4, f"{ORG}/core", 11, "labeled", "mira-k", "bug", now - timedelta(hours=1)),
            (5, f"{ORG}/core", 12, "labeled", "mira-k", "Jules", now - timedelta(hours=3)),
        ]
        con.executemany(
            "INSERT INTO issue_events (id, repo, number, event, actor, label, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [[i, r, n, e, a, lab, t] for i, r, n, e, a, lab, t in events],
        )
        assert ledger.used_today(con, s, now, login="Snider") == {"Snider": 3, "bodane": 1}
        store.save_settings(con, {"token_login": "Snider"})
        assert ledger.used_today(con, s, now) == {"Snider": 3, "bodane": 1}
        assert ledger.remaining_today(con, s, now) == {"Snider": 2, "bodane": 2}
        rolling = budget_settings("http://127.0.0.1:1", tmp_path / "b.duckdb", {"Snider": (5, ["core"])},
                                  window="rolling_24h")  # fmt: skip
        assert ledger.used_today(con, rolling, now, login="Snider") == {"Snider": 4}
        tokyo = budget_settings("http://127.0.0.1:1", tmp_path / "b.duckdb", {"Snider": (5, ["core"])},
                                timezone="Asia/Tokyo")  # fmt: skip
        assert ledger.window(tokyo, now) == (datetime(2026, 3, 1, 15), datetime(2026, 3, 2, 15))


def test_a_member_quota_covers_only_their_repos(sandbox, tmp_path):
    s = budget_settings(sandbox.url, tmp_path / "m.duckdb", {"Snider": (1, ["core-php"]), "bodane": (5, ["core"])})
    plain = open_plain_issues(sandbox.state, "core-php")
    insert_plan(
        s, "p-m", dispatch_plan("core-php", plain[:3], "Snider") + dispatch_plan("core-php", plain[3:4], "bodane")
    )
    summary = execute(s, apply=True)
    rows = ledger_rows(s, "p-m")
    assert [rows[i][1] for i in (1, 2, 3, 4)] == ["done", "skipped", "skipped", "skipped"]
    assert "Snider has used 1 of 1" in rows[2][2] and "bodane does not cover" in rows[4][2]
    assert summary["tasks_spent"] == 1


def cli(config: Path, *args: str) -> subprocess.Popen:
    """`orchestrator --config … execute …` in a new process, on the test's Prefect server."""
    from prefect.settings import PREFECT_API_URL

    env = {**os.environ, "PREFECT_API_URL": PREFECT_API_URL.value() or "", "GITHUB_TOKEN": ""}
    # Imports the execute command explicitly, in case orchestrator/cli.py does not list it yet.
    code = "import orchestrator.cli as c, orchestrator.commands.execute; c.app()"
    return subprocess.Popen(
        [sys.executable, "-c", code, "--config", str(config), *args],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def test_concurrent_applies_never_dispatch_more_than_the_pool(sandbox, tmp_path):
    db = tmp_path / "c.duckdb"
    config = write_config(tmp_path, sandbox.url, db, quota=4)
    s = budget_settings(sandbox.url, db, {"Snider": (4, ["*"])})
    plain = open_plain_issues(sandbox.state, "core-php")
    insert_plan(s, "p-a", dispatch_plan("core-php", plain[0:3], "Snider"), datetime(2026, 3, 2, 9))
    insert_plan(s, "p-b", dispatch_plan("core-php", plain[3:6], "Snider"), datetime(2026, 3, 2, 8))
    since = datetime.now(UTC) - timedelta(seconds=1)
    sandbox.state.set_faults(latency_ms=30)
    runs = [cli(config, "execute", "--apply", "--plan", p) for p in ("p-a", "p-b")]
    for run in runs:
        out, errors = run.communicate(timeout=120)
        assert run.returncode == 0, errors
    sandbox.state.set_faults()
    assert dispatches_done(s) == 4 == agent_labels_added(sandbox.state, since)
    with store.reader(s.database.path) as con:
        skipped = con.execute("SELECT count(*) FROM action_log WHERE status = 'skipped'").fetchone()[0]
    assert skipped == 2


# ── crashes ───────────────────────────────────────────────────────────────────


def test_killing_the_executor_at_random_points_then_resuming_matches_one_clean_run(sandbox, tmp_path):
    state = sandbox.state
    plan = every_type_plan(state)
    # the clean reference run
    clean_db = tmp_path / "clean.duckdb"
    clean_config = write_config(tmp_path, sandbox.url, clean_db)
    clean_settings = make_settings(sandbox.url, clean_db)
    insert_plan(clean_settings, "p-kill", plan)
    run = cli(clean_config, "execute", "--apply")
    assert run.wait(timeout=120) == 0, run.stderr.read()
    reference = github_state(state)
    reference_writes = len(writes(state))

    # the same plan on a fresh org, killed several times
    from sandbox.seed import reset_demo
    from tests.conftest import SANDBOX_NOW

    reset_demo(state, seed=7, now=SANDBOX_NOW)
    since = datetime.now(UTC) - timedelta(seconds=1)
    db = tmp_path / "killed.duckdb"
    (tmp_path / "killed").mkdir()
    config = write_config(tmp_path / "killed", sandbox.url, db)
    settings = make_settings(sandbox.url, db)
    insert_plan(settings, "p-kill", plan)
    state.set_faults(latency_ms=25)
    rng = random.Random(11)
    kills = 0
    for _ in range(4):
        target = len(writes(state)) + rng.randint(1, 4)
        run = cli(config, "execute", "--apply")
        deadline = time.monotonic() + 60
        while len(writes(state)) < target and run.poll() is None and time.monotonic() < deadline:
            time.sleep(0.005)
        time.sleep(rng.random() * 0.05)
        if run.poll() is None:
            os.kill(run.pid, signal.SIGKILL)
            kills += 1
        run.wait()
    state.set_faults()
    run = cli(config, "execute", "--apply")
    assert run.wait(timeout=120) == 0, run.stderr.read()

    assert kills >= 3
    assert github_state(state) == reference
    assert len(writes(state)) <= reference_writes + kills  # at most the write in flight is repeated, then found
    assert dispatches_done(settings) == agent_labels_added(state, since) == 1
    statuses = [row[1] for row in ledger_rows(settings, "p-kill").values()]
    assert statuses == ["done"] * 15 + ["failed"]


# ── the command ───────────────────────────────────────────────────────────────


def test_the_command_dry_run_prints_a_table_and_sends_no_write(sandbox, tmp_path):
    from typer.testing import CliRunner

    import orchestrator.commands.execute  # noqa: F401 - registers the command
    from orchestrator.cli_common import app

    db = tmp_path / "cli.duckdb"
    config = write_config(tmp_path, sandbox.url, db)
    runner = CliRunner()
    empty = runner.invoke(app, ["--config", str(config), "execute"])
    assert empty.exit_code == 1 and "no plan" in empty.output and "Traceback" not in empty.output
    insert_plan(make_settings(sandbox.url, db), "p-cli", every_type_plan(sandbox.state))
    sandbox.state.request_log.clear()
    result = runner.invoke(app, ["--config", str(config), "execute"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "dry run" in result.output and "would run" in result.output and "create_issue" in result.output
    assert [r for r in sandbox.state.request_log if r["method"] != "GET"] == []
    as_json = runner.invoke(app, ["--config", str(config), "execute", "--json", "--plan", "p-cli"])
    assert json.loads(as_json.stdout)["by_status"] == {"would run": 15, "refuse": 1}
    assert sandbox.state.writes() == []
