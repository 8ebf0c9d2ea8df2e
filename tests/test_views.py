"""Analytics views over small hand-made snapshots: whole rows as literal dicts, plus dbt-like
grain (unique + not null key) checks for every view."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import duckdb
import pytest

from analytics.views import SETTINGS_DEFAULTS, render, view_definitions
from tests.conftest import schema_database

AT = datetime(2026, 2, 4, 6, 0)  # the snapshot's start: "now" for every view
DAY = datetime(2026, 2, 1, 12, 0)
REPO = "org/core"

# Written by the orchestrator's own identity (`OWN`), so every instruction and marker counts; the
# trust tests change the author.
OWN = "orchestrator"
ISSUE_DEFAULTS: dict[str, Any] = {
    "author": OWN, "author_association": "MEMBER",
    "body": "", "state": "open", "labels": [], "assignees": [], "comments": 0, "locked": False,
    "created_at": DAY, "updated_at": DAY, "closed_at": None, "html_url": None,
}  # fmt: skip
PR_DEFAULTS: dict[str, Any] = {
    **ISSUE_DEFAULTS, "merged": False, "merged_at": None, "draft": False, "head_ref": "feature",
    "base_ref": "dev", "mergeable": True, "mergeable_state": "clean", "ci_state": "success",
    "review_decision": None, "unresolved_threads": None,
}  # fmt: skip

# The key of every view (dbt `unique` + `not_null`); stg_settings has exactly one row.
VIEW_KEYS: dict[str, tuple[str, ...]] = {
    "stg_issues": ("repo", "number"),
    "stg_pull_requests": ("repo", "number"),
    "stg_comments": ("comment_id",),
    "stg_issue_events": ("event_id",),
    "stg_branches": ("repo", "branch"),
    "stg_repositories": ("repo",),
    "stg_snapshot_runs": ("run_id",),
    "stg_action_log": ("plan_id", "seq"),
    "stg_findings": ("repo", "audit_number", "finding_index"),
    "stg_framework_candidates": ("candidate_id", "repo", "audit_number", "finding_index"),
    "stg_parse_warnings": ("repo", "number", "warning"),
    "stg_settings": ("agent_label",),
    "stg_agents": ("agent",),
    "int_dispatch_signals": ("repo", "number", "signal_id"),
    "int_dispatch_attempts": ("repo", "number", "attempt"),
    "outcomes": ("repo", "number", "attempt"),
    "outcome_rates": ("agent", "language"),
    "outcome_trend": ("agent", "language", "week"),
    "int_checklist_items": ("repo", "epic", "child"),
    "int_issue_markers": ("repo", "number", "marker_kind", "marker_key"),
    "int_pr_issue_links": ("repo", "pr_number", "issue_number", "link_kind"),
    "int_issue_state": ("repo", "number"),
    "int_escalations": ("repo", "number"),
    "audit_issues": ("repo", "number"),
    "audit_findings": ("repo", "audit_number", "finding_index"),
    "parse_warnings": ("repo", "number", "warning_index"),
    "framework_candidates": ("candidate_id", "repo", "audit_number", "finding_index"),
    "epics": ("repo", "epic"),
    "epic_children": ("repo", "epic", "child"),
    "phase_readiness": ("repo", "epic"),
    "stuck_prs": ("repo", "number"),
    "repo_tiers": ("repo",),
    "ready_queue": ("repo", "number"),
    "epic_proposals": ("repo", "number"),
    "failure_modes": ("failure", "repo", "target"),
    "int_agent_handoffs": ("repo", "number", "handoff", "handed_to"),
    "int_first_dispatches": ("repo", "number"),
    "forecast_children": ("repo", "epic", "child"),
    "forecast_pr_attempts": ("repo", "issue", "pr_number"),
    "stg_team_members": ("login",),
    "usage_events": ("usage_id",),
    "daily_usage": ("usage_date", "member", "agent"),
    "planned_dispatches": ("plan_id", "seq"),
    "plan_framework_candidates": ("candidate_id", "repo", "audit_number", "finding_index"),
    "plan_epics": ("repo", "epic"),
    "plan_stuck_prs": ("repo", "number"),
    "org_progress": ("org",),
    "repo_progress": ("repo",),
    "epic_progress": ("repo", "epic"),
    "epic_burnup": ("repo", "epic", "child"),
    "sub_issues": ("repo", "parent", "child_repo", "child"),
    "issue_dependencies": ("repo", "number", "blocked_by_repo", "blocked_by"),
    "plan_review_threads": ("repo", "number", "thread_id"),
}


# ── building snapshots ────────────────────────────────────────────────────────


def _insert(con: duckdb.DuckDBPyConnection, table: str, row: dict[str, Any]) -> None:
    columns = ", ".join(row)
    marks = ", ".join("?" for _ in row)
    con.execute(f"INSERT INTO {table} ({columns}) VALUES ({marks})", list(row.values()))


def add_issue(con, number: int, title: str = "", repo: str = REPO, **fields: Any) -> None:
    row = {"repo": repo, "number": number, "title": title or f"Issue {number}", **ISSUE_DEFAULTS, **fields}
    _insert(con, "issue_history", {**row, "content_hash": "h", "run_id": 1, "valid_from": DAY})


def add_pr(con, number: int, title: str = "", repo: str = REPO, **fields: Any) -> None:
    row = {"repo": repo, "number": number, "title": title or f"PR {number}", **PR_DEFAULTS, **fields}
    _insert(con, "pull_request_history", {**row, "content_hash": "h", "run_id": 1, "valid_from": DAY})


_ids = iter(range(1, 1_000_000))


def add_comment(con, number: int, body: str, repo: str = REPO, **fields: Any) -> None:
    row = {"repo": repo, "number": number, "id": next(_ids), "author": "orchestrator", "body": body,
           "created_at": DAY, "updated_at": DAY, "html_url": None, "run_id": 1, **fields}  # fmt: skip
    _insert(con, "comments", row)


def add_event(con, number: int, event: str, label: str | None = None, repo: str = REPO) -> None:
    row = {"repo": repo, "number": number, "id": next(_ids), "event": event, "actor": "someone",
           "label": label, "created_at": DAY, "is_pull_request": False, "run_id": 1}  # fmt: skip
    _insert(con, "issue_events", row)


def add_action(con, action: str, target: str, repo: str = REPO, status: str = "done", **fields: Any) -> None:
    row = {"plan_id": "p1", "seq": next(_ids), "action": action, "repo": repo, "target": target,
           "status": status, "cost": 1, "executed_at": DAY, **fields}  # fmt: skip
    _insert(con, "action_log", row)


def add_snapshot(con, started_at: datetime = AT, status: str = "complete", run_id: int = 1) -> None:
    _insert(con, "snapshot_runs", {"run_id": run_id, "started_at": started_at, "status": status})


def checklist(*lines: str) -> str:
    return "\n".join(lines)


def rows(con, sql: str) -> list[dict[str, Any]]:
    cursor = con.execute(sql)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, values, strict=True)) for values in cursor.fetchall()]


@pytest.fixture
def con():
    con = schema_database()
    con.execute("INSERT INTO run_settings VALUES ('token_login', ?)", [OWN])
    yield con
    con.close()


# ── every view, empty and populated ───────────────────────────────────────────


@pytest.mark.parametrize("name", [name for name, _ in view_definitions()])
def test_every_view_selects_on_an_empty_database(con, name):
    count = con.execute(f"SELECT count(*) FROM {name}").fetchone()[0]
    assert count == (1 if name in ("stg_settings", "stg_agents") else 0)  # the default agent


def test_every_view_has_a_grain_check():
    assert {name for name, _ in view_definitions()} == set(VIEW_KEYS)


def test_views_come_after_the_views_they_read():
    names = [name for name, _ in view_definitions()]
    for position, (name, sql) in enumerate(view_definitions()):
        code = re.sub(r"--[^\n]*", "", sql)
        later = [other for other in names[position + 1 :] if re.search(rf"\b{other}\b", code)]
        assert later == [], f"{name} reads {later}, defined after it"


def test_settings_default_when_run_settings_is_empty_and_fall_back_on_bad_values(con):
    assert rows(con, "SELECT agent_label, stale_pr_days, escalate_after_nudges FROM stg_settings") == [
        {"agent_label": "jules", "stale_pr_days": 3, "escalate_after_nudges": 2}
    ]
    con.execute("INSERT INTO run_settings VALUES ('agent_label', 'Copilot'), ('stale_pr_days', 'soon')")
    assert rows(con, "SELECT agent_label, stale_pr_days FROM stg_settings") == [
        {"agent_label": "copilot", "stale_pr_days": 3}
    ]


def test_stg_settings_reads_every_default_and_nothing_else():
    sql = dict(view_definitions())["stg_settings"]
    assert "{{" not in sql
    assert all(f"'{key}'" in sql for key in SETTINGS_DEFAULTS)
    with pytest.raises(KeyError, match="nosuch"):
        render("{{ default:nosuch }}")


def populate_org(con) -> None:
    """A little of everything, so every view has rows for the grain checks."""
    add_snapshot(con)
    con.execute("INSERT INTO repositories (repo, default_branch) VALUES ('org/core', 'dev'), ('org/idle', 'main')")
    add_issue(
        con, 1, "Epic", body=checklist("## Phase 1", "- [ ] #2", "- [ ] #3", "## Phase 2", "- [ ] #4", "- [ ] #2")
    )
    add_issue(con, 2, labels=["audit", "severity:high", "type:security"])
    add_issue(con, 3, labels=["jules"])
    add_issue(con, 4, body="Depends on #3")
    add_issue(con, 5, "[Audit] Security review", body="- one\n- two")
    add_issue(con, 6, body="<!-- orchestrator:finding fp1 -->\n<!-- orchestrator:framework fw1 -->")
    for number in (7, 8, 9):
        add_issue(con, number, labels=["audit", "type:docs"], repo="org/api")
    add_pr(con, 20, body="Fixes #3", mergeable_state="dirty")
    add_pr(con, 21, body="Closes #2", state="closed", merged=True)
    add_pr(con, 22, mergeable_state="behind", labels=["needs-human"])  # a failure mode: behind its base
    add_comment(con, 20, "fix the merge conflict")
    add_comment(con, 2, "Parent: #1")
    add_event(con, 3, "labeled", "jules")
    add_event(con, 3, "labeled", "jules")
    con.execute("INSERT INTO branches (repo, name, sha, run_id) VALUES ('org/core', 'epic/1-audit', 's', 1)")
    con.execute(
        "INSERT INTO finding_rows VALUES ('org/core', 5, 1, 'A', 'a', 'High', 'security', 'file', 'small', 'fp1',"
        " true, true, ['audit']), ('org/core', 5, 2, 'B', 'b', 'low', 'docs', 'file', 'small', 'fp2', true, true, [])"
    )
    con.execute("INSERT INTO parse_warning_rows VALUES ('org/core', 5, 'w1'), ('org/core', 5, 'w2')")
    con.execute("INSERT INTO framework_candidate_rows VALUES ('fw1', 'security', 'P', 'org/core', 5, 1, 'fp1', 3, 2)")
    add_action(con, "dispatch", "org/core#4")
    add_action(con, "nudge_pr", "#20")
    # native links and review threads (GraphQL): a sub-issue also on the checklist, one in another
    # repository, a "blocked by" link, an outdated unresolved thread
    for parent, child_repo, number in ((1, "org/core", 4), (1, "org/api", 7)):
        _insert(con, "sub_issue_history", {"repo": REPO, "parent": parent, "child_repo": child_repo,
                                           "child": number, "run_id": 1, "valid_from": DAY})  # fmt: skip
    _insert(con, "issue_dependency_history", {"repo": REPO, "number": 4, "blocked_by_repo": REPO,
                                              "blocked_by": 3, "run_id": 1, "valid_from": DAY})  # fmt: skip
    _insert(con, "review_thread_history", {"repo": REPO, "number": 20, "thread_id": "T1", "is_resolved": False,
                                           "is_outdated": True, "path": "a.py", "first_author": "mira",
                                           "content_hash": "h", "run_id": 1, "valid_from": DAY})  # fmt: skip
    # usage: a member covering org/core, a dispatch of theirs, and the plan that planned it
    con.execute("""INSERT INTO run_settings VALUES ('team_members', '[{"login": "mira", "repos": ["core"]}]')""")
    add_action(con, "dispatch", "org/core#6", member="mira")
    con.execute("INSERT INTO dispatch_plans (plan_id, created_at) VALUES ('p1', ?)", [DAY])
    con.execute(
        "INSERT INTO plan_actions (plan_id, seq, action, repo, target, cost)"
        " VALUES ('p1', 1, 'dispatch', 'org/core', '6', 1)"
    )


@pytest.mark.parametrize("name", list(VIEW_KEYS))
def test_view_key_is_unique_and_not_null(con, name):
    populate_org(con)
    key = ", ".join(VIEW_KEYS[name])
    total, distinct, nulls = con.execute(
        f"SELECT count(*), count(DISTINCT ({key})), count(*) FILTER (WHERE "
        + " OR ".join(f"{column} IS NULL" for column in VIEW_KEYS[name])
        + f") FROM {name}"
    ).fetchone()
    assert total > 0, f"{name} has no rows in the populated org"
    assert (distinct, nulls) == (total, 0)


# ── epics ─────────────────────────────────────────────────────────────────────


def epic_with_every_reference_form(con) -> None:
    add_snapshot(con)
    body = checklist(
        "Items before any heading are phase 1.",
        "- [x] #2",
        "## Phase 1: Blockers",
        "- [x] org/core#3",
        "- [ ] https://github.com/org/core/issues/4",
        "- [ ] other/repo#5",
        "- [ ] https://github.com/other/repo/issues/6",
        "### Phase 2 - parallel ##",
        "* [ ] #7",
        "- [X] #3",
        "## Notes",
        "no checklist here",
    )
    add_issue(con, 1, "Epic: audit", body=body)
    add_issue(con, 2, state="closed")
    add_issue(con, 3, state="closed")
    add_issue(con, 4, state="closed")
    add_issue(con, 7, labels=["Jules", "severity:high"])
    add_comment(con, 7, "Parent: #1")
    add_comment(con, 4, "Parent: #9")
    con.execute(
        "INSERT INTO branches (repo, name, sha, run_id) "
        "VALUES ('org/core', 'epic/1-audit', 's', 1), ('org/core', 'epic/10-x', 's', 1)"
    )


def child(child: int, phase: int, phase_title: str | None, line: int, state: str, **flags: Any) -> dict[str, Any]:
    return {
        "repo": REPO, "epic": 1, "child": child, "phase": phase, "phase_title": phase_title, "line_number": line,
        "child_title": f"Issue {child}", "child_state": state, "severity": "medium", "type": None,
        "is_checked": False, "child_is_pr": False, "is_merged": False, "is_closed_not_ticked": False,
        "is_ticked_but_open": False, "has_parent_comment": False, "is_dispatched": False, "has_open_pr": False,
        "is_listed": True, "is_sub_issue": False, "needs_link": True,  # link_child makes it a sub-issue
        **flags,
    }  # fmt: skip


def test_epic_children_read_url_and_owner_repo_references_of_the_same_repo_only(con):
    epic_with_every_reference_form(con)
    assert rows(con, "SELECT * FROM epic_children ORDER BY child") == [
        child(2, 1, None, 2, "closed", is_checked=True),
        child(3, 2, "Phase 1: Blockers", 4, "closed", is_checked=True),
        child(4, 2, "Phase 1: Blockers", 5, "closed", is_closed_not_ticked=True),
        child(7, 3, "Phase 2 - parallel", 9, "open", severity="high", has_parent_comment=True, is_dispatched=True),
    ]


def test_epic_counts_closed_but_not_ticked_children_and_finds_its_branch(con):
    epic_with_every_reference_form(con)
    assert rows(con, "SELECT * FROM epics") == [
        {
            "repo": REPO, "epic": 1, "title": "Epic: audit", "state": "open", "branch": "epic/1-audit",
            "html_url": None, "count_children": 4, "count_checked": 2, "count_closed": 3, "count_open": 1,
            "count_missing": 0, "count_closed_not_ticked": 1, "count_phases": 3, "is_open": True,
            "is_branch_present": True, "is_complete": False, "created_at": DAY, "updated_at": DAY, "closed_at": None,
        }
    ]  # fmt: skip


def test_audit_issues_with_checklists_are_not_epics_and_missing_children_do_not_block(con):
    add_issue(con, 1, "[Audit] review", body="- [ ] #2")
    add_issue(con, 3, "Done epic", body="- [x] #4\n- [ ] #99")
    add_issue(con, 4, state="closed")
    assert rows(con, "SELECT epic, count_missing, is_complete, is_branch_present FROM epics") == [
        {"epic": 3, "count_missing": 1, "is_complete": True, "is_branch_present": False}
    ]


def test_phase_two_is_current_once_phase_one_children_are_closed(con):
    add_snapshot(con)
    add_issue(con, 1, "Epic", body=checklist("## Phase 1", "- [x] #2", "- [ ] #3", "## Phase 2", "- [ ] #4", "- [ ] #5",
                                            "- [ ] #6", "## Phase 3", "- [ ] #7"))  # fmt: skip
    add_issue(con, 2, state="closed")
    add_issue(con, 3, state="closed")  # closed, box not ticked yet: phase 1 is still done
    add_issue(con, 4)
    add_issue(con, 5)
    add_event(con, 5, "labeled", "jules")  # dispatched earlier: in flight, not dispatchable
    add_issue(con, 6)
    add_pr(con, 30, body="Resolves #6")  # an open PR works on it
    add_issue(con, 7)
    assert rows(con, "SELECT * FROM phase_readiness") == [
        {
            "repo": REPO, "epic": 1, "title": "Epic", "state": "open", "branch": None, "current_phase": 2,
            "count_phases": 3, "count_done_current_phase": 0, "count_total_current_phase": 3,
            "done_by_phase": [2, 0, 0], "total_by_phase": [2, 3, 1], "dispatchable_children": [4],
            "count_dispatchable": 1, "count_in_flight": 2, "count_children": 6, "count_open": 4,
            "complete": False, "is_epic_open": True,
        }
    ]  # fmt: skip
    con.execute("UPDATE issue_history SET state = 'closed' WHERE number BETWEEN 4 AND 7")
    assert rows(con, "SELECT current_phase, complete, dispatchable_children FROM phase_readiness") == [
        {"current_phase": None, "complete": True, "dispatchable_children": []}
    ]


def test_ledger_dispatch_counts_as_dispatched(con):
    add_issue(con, 1, "Epic", body="- [ ] #2\n- [ ] #3")
    add_issue(con, 2)
    add_issue(con, 3)
    add_action(con, "dispatch", "org/core#3")
    add_action(con, "dispatch", "#2", status="failed")
    assert rows(con, "SELECT child, is_dispatched FROM epic_children ORDER BY child") == [
        {"child": 2, "is_dispatched": False},
        {"child": 3, "is_dispatched": True},
    ]


# ── audits ────────────────────────────────────────────────────────────────────


def test_audit_findings_know_which_issue_implements_them(con):
    add_issue(con, 5, "[AUDIT] Security review")
    add_issue(con, 6, "audit: nothing found")
    add_issue(con, 7, "Old [Audit]", state="closed")
    add_issue(con, 8, "Fix A", body="Fixes the thing.\n<!-- orchestrator:finding fp1 -->", state="closed")
    add_issue(con, 9, "Fix A in other repo", body="<!-- orchestrator:finding fp2 -->", repo="org/api")
    con.execute(
        "INSERT INTO finding_rows VALUES"
        " ('org/core', 5, 1, 'A', 'a', 'High', 'Security', 'file', 'small', 'fp1', true, true, ['audit']),"
        " ('org/core', 5, 2, 'B', 'b', 'low', 'docs', 'repo', 'large', 'fp2', false, true, []),"
        " ('org/core', 7, 1, 'C', 'c', 'low', 'docs', 'repo', 'large', 'fp3', false, true, [])"
    )
    assert rows(con, "SELECT * FROM audit_issues ORDER BY number") == [
        {"repo": REPO, "number": 5, "title": "[AUDIT] Security review", "html_url": None, "count_findings": 2,
         "count_parse_warnings": 0, "is_trusted": True, "is_actionable": True, "created_at": DAY,
         "updated_at": DAY},
        {"repo": REPO, "number": 6, "title": "audit: nothing found", "html_url": None, "count_findings": 0,
         "count_parse_warnings": 0, "is_trusted": True, "is_actionable": False, "created_at": DAY,
         "updated_at": DAY},
    ]  # fmt: skip
    assert rows(con, "SELECT * FROM audit_findings ORDER BY finding_index") == [
        {"repo": REPO, "audit_number": 5, "finding_index": 1, "fingerprint": "fp1",
         "audit_title": "[AUDIT] Security review", "title": "A", "text": "a", "severity": "high",
         "type": "security", "scope": "file", "complexity": "small", "labels": ["audit"], "implemented_by": 8,
         "is_severity_explicit": True, "is_type_explicit": True, "is_implemented": True},
        {"repo": REPO, "audit_number": 5, "finding_index": 2, "fingerprint": "fp2",
         "audit_title": "[AUDIT] Security review", "title": "B", "text": "b", "severity": "low",
         "type": "docs", "scope": "repo", "complexity": "large", "labels": [], "implemented_by": None,
         "is_severity_explicit": False, "is_type_explicit": True, "is_implemented": False},
    ]  # fmt: skip


def test_framework_candidates_and_parse_warnings(con):
    add_issue(con, 5, "[Audit] review")
    add_issue(con, 40, "Framework: input validation", body="<!-- orchestrator:framework fw-1 -->", repo="org/api")
    con.execute("INSERT INTO framework_candidate_rows VALUES ('fw-1', 'Security', 'Validate', 'org/core', 5, 1, "
                "'fp1', 3, 2), ('fw-2', 'docs', 'Docs', 'org/core', 5, 2, 'fp2', 3, 3)")  # fmt: skip
    con.execute("INSERT INTO parse_warning_rows VALUES ('org/core', 5, 'table without header')")
    assert rows(con, "SELECT * FROM framework_candidates ORDER BY candidate_id") == [
        {"candidate_id": "fw-1", "repo": REPO, "audit_number": 5, "finding_index": 1, "fingerprint": "fp1",
         "type": "security", "title": "Validate", "implemented_by_repo": "org/api", "count_members": 3,
         "count_repos": 2, "implemented_by": 40, "is_implemented": True},
        {"candidate_id": "fw-2", "repo": REPO, "audit_number": 5, "finding_index": 2, "fingerprint": "fp2",
         "type": "docs", "title": "Docs", "implemented_by_repo": None, "count_members": 3,
         "count_repos": 3, "implemented_by": None, "is_implemented": False},
    ]  # fmt: skip
    assert rows(con, "SELECT * FROM parse_warnings") == [
        {"repo": REPO, "number": 5, "warning_index": 1, "warning": "table without header",
         "title": "[Audit] review", "state": "open", "html_url": None}
    ]  # fmt: skip


# ── pull requests ─────────────────────────────────────────────────────────────


def stuck_pr(number: int, **fields: Any) -> dict[str, Any]:
    return {
        "repo": REPO, "number": number, "title": f"PR {number}", "author": OWN, "html_url": None,
        "head_ref": "feature", "base_ref": "dev", "mergeable_state": "clean", "ci_state": "success",
        "review_decision": None, "intervention": None, "intervention_code": None, "unresolved_threads": None,
        "idle_days": 0,
        "count_nudges": 0, "conflicting": False, "ci_failing": False, "changes_requested": False,
        "has_unresolved_threads": False, "is_behind": False, "is_stale": False, "is_draft": False, "is_stuck": False,
        "updated_at": datetime(2026, 2, 4), "last_nudged_at": None, "as_of_at": AT, **fields,
    }  # fmt: skip


def test_stuck_pr_escalates_after_two_nudges(con):
    add_snapshot(con)
    add_snapshot(con, datetime(2026, 3, 1), status="failed", run_id=2)  # never "now": the last complete run
    add_pr(con, 10, mergeable_state="dirty", updated_at=datetime(2026, 2, 3, 12))
    add_comment(con, 10, "Fix the merge conflict")
    add_comment(con, 10, "<!-- orchestrator:nudge conflict -->\nPlease rebase", html_url="c2")
    add_action(con, "nudge_pr", "#10", github_url="c2")  # the same nudge as the comment: counted once
    add_pr(con, 11, mergeable_state="dirty", updated_at=datetime(2026, 2, 3, 12))
    add_action(con, "nudge_pr", "#11")
    assert rows(con, "SELECT * FROM stuck_prs ORDER BY number") == [
        stuck_pr(10, mergeable_state="dirty", intervention="escalate", intervention_code="escalate", count_nudges=2,
                 conflicting=True, is_stuck=True, updated_at=datetime(2026, 2, 3, 12), last_nudged_at=DAY),
        stuck_pr(11, mergeable_state="dirty", intervention="fix the merge conflict", intervention_code="conflicting",
                 count_nudges=1, conflicting=True, is_stuck=True, updated_at=datetime(2026, 2, 3, 12),
                 last_nudged_at=DAY),
    ]  # fmt: skip


def test_draft_pr_is_stuck_only_when_conflicting(con):
    add_snapshot(con)
    add_pr(con, 11, draft=True, ci_state="failure", updated_at=datetime(2026, 1, 1))
    add_pr(con, 12, draft=True, mergeable=False, updated_at=datetime(2026, 2, 4))
    assert rows(con, "SELECT * FROM stuck_prs ORDER BY number") == [
        stuck_pr(11, ci_state="failure", idle_days=34, ci_failing=True, is_stale=True, is_draft=True,
                 updated_at=datetime(2026, 1, 1)),
        stuck_pr(12, intervention="fix the merge conflict", intervention_code="conflicting", conflicting=True,
                 is_draft=True, is_stuck=True),
    ]  # fmt: skip


def test_intervention_follows_the_runbook_order(con):
    add_snapshot(con)
    add_pr(con, 13, review_decision="changes_requested", ci_state="failure", updated_at=datetime(2026, 2, 4))
    add_pr(con, 14, ci_state="failure", mergeable_state="behind", updated_at=datetime(2026, 2, 4))
    add_pr(con, 15, mergeable_state="behind", updated_at=datetime(2026, 2, 4))
    add_pr(con, 16, updated_at=datetime(2026, 1, 31, 5))
    add_pr(con, 17, updated_at=datetime(2026, 2, 1, 7))
    add_pr(con, 18, state="closed", mergeable_state="dirty")
    assert rows(con, "SELECT number, idle_days, intervention FROM stuck_prs ORDER BY number") == [
        {"number": 13, "idle_days": 0, "intervention": "fix the code reviews"},
        {"number": 14, "idle_days": 0, "intervention": "re-run CI"},
        {"number": 15, "idle_days": 0, "intervention": "update branch"},
        {"number": 16, "idle_days": 4, "intervention": "ping"},
        {"number": 17, "idle_days": 2, "intervention": None},
    ]
    assert rows(con, "SELECT number, intervention_code FROM stuck_prs ORDER BY number") == [
        {"number": 13, "intervention_code": "changes_requested"},
        {"number": 14, "intervention_code": "ci_failing"},
        {"number": 15, "intervention_code": "behind"},
        {"number": 16, "intervention_code": "stale"},
        {"number": 17, "intervention_code": None},
    ]


# ── planning ──────────────────────────────────────────────────────────────────


def planning_org(con) -> None:
    add_snapshot(con)
    # org/core: an epic whose phase 1 holds #2 (high), #3 (dispatched) and #4 (blocked by #2)
    add_issue(
        con, 1, "Epic", body=checklist("## Phase 1", "- [ ] #2", "- [ ] #3", "- [ ] #4", "## Phase 2", "- [ ] #5")
    )
    add_issue(con, 2, labels=["audit", "severity:high"])
    add_issue(con, 3, labels=["audit", "jules"])
    add_issue(con, 4, labels=["audit"], body="Blocked by #2")
    add_issue(con, 5, labels=["audit"])
    add_issue(con, 6, labels=["question"])
    # org/api: two implementation issues, dispatched directly; #2 already has an open PR
    add_issue(con, 1, labels=["audit", "severity:critical", "type:security"], repo="org/api")
    add_issue(con, 2, labels=["type:docs"], repo="org/api")
    add_pr(con, 9, repo="org/api", head_ref="jules/issue-2-docs")
    add_pr(con, 8, repo="org/api", state="closed", merged=True)
    add_pr(con, 7, repo="org/api", state="closed")
    # org/web: one low-severity issue
    add_issue(con, 1, labels=["severity:low"], repo="org/web")


def queued(repo: str, number: int, epic: int | None, severity: str, work: int, position: int, **f: Any) -> dict:
    rank = {"critical": 1, "high": 2, "medium": 3, "low": 4}[severity]
    return {
        "repo": repo, "number": number, "epic": epic, "title": f"Issue {number}", "severity": severity,
        "phase": 1 if epic else None, "severity_rank": rank, "repo_open_work": work, "ci_pass_rate": None,
        "queue_position": position, "is_direct_dispatch": epic is None, "has_open_dependencies": False, **f,
    }  # fmt: skip


def test_ready_queue_puts_critical_and_high_first_then_repos_with_most_work(con):
    planning_org(con)
    assert rows(con, "SELECT * FROM ready_queue") == [
        queued("org/api", 1, None, "critical", 2, 1, ci_pass_rate=0.5),
        queued(REPO, 2, 1, "high", 5, 2),
        queued(REPO, 4, 1, "medium", 5, 3, has_open_dependencies=True),
        queued("org/web", 1, None, "low", 1, 4),
    ]


def test_epic_proposals_dispatch_small_repos_directly_and_group_the_rest(con):
    planning_org(con)
    for number in range(10, 14):
        add_issue(con, number, labels=["audit", "type:testing"], repo="org/web")
    assert rows(con, "SELECT * FROM epic_proposals WHERE repo = 'org/api' ORDER BY number") == [
        {"repo": "org/api", "proposal_id": None, "number": 1, "theme": "dispatch directly", "proposed_title": None,
         "title": "Issue 1", "severity": "critical", "type": "security", "subsystem": None, "phase": 1,
         "severity_rank": 1, "count_proposal_children": 2, "count_repo_issues": 2, "is_direct_dispatch": True},
        {"repo": "org/api", "proposal_id": None, "number": 2, "theme": "dispatch directly", "proposed_title": None,
         "title": "Issue 2", "severity": "medium", "type": "docs", "subsystem": None, "phase": 3,
         "severity_rank": 3, "count_proposal_children": 2, "count_repo_issues": 2, "is_direct_dispatch": True},
    ]  # fmt: skip
    others = "SELECT DISTINCT repo, proposal_id, proposed_title FROM epic_proposals WHERE repo <> 'org/api'"
    assert rows(con, others) == [
        {"repo": "org/web", "proposal_id": "org/web:audit:1",
         "proposed_title": "epic(audit): Audit findings implementation"}
    ]  # fmt: skip


def test_large_repos_get_themed_epics_of_at_most_ten_children(con):
    for number in range(1, 13):
        add_issue(con, number, labels=["audit", "type:security", "severity:high"])
    for number in range(20, 24):
        add_issue(con, number, labels=["audit", "type:docs"])
    add_issue(con, 30, labels=["audit", "type:testing"])  # a theme of one folds into 'other' ...
    add_issue(con, 31, labels=["audit", "type:performance"])  # ... 'other' of two folds into the largest
    for number in range(40, 43):
        add_issue(con, number, labels=["type:feature", "area:cli"])  # features sharing a subsystem
    assert rows(
        con,
        "SELECT proposal_id, proposed_title, list(number ORDER BY number) AS numbers, min(phase) AS phase "
        "FROM epic_proposals GROUP BY ALL ORDER BY proposal_id",
    ) == [
        {"proposal_id": "org/core:docs:1", "proposed_title": "epic(docs): Documentation",
         "numbers": [20, 21, 22, 23], "phase": 3},
        {"proposal_id": "org/core:feature:cli:1", "proposed_title": "epic(cli): cli features",
         "numbers": [40, 41, 42], "phase": 2},
        {"proposal_id": "org/core:security:1", "proposed_title": "epic(security): Security fixes (part 1 of 2)",
         "numbers": [1, 2, 3, 4, 5, 6, 7], "phase": 1},
        {"proposal_id": "org/core:security:2", "proposed_title": "epic(security): Security fixes (part 2 of 2)",
         "numbers": [8, 9, 10, 11, 12, 30, 31], "phase": 1},
    ]  # fmt: skip


def test_repo_tiers_follow_the_priority_order(con):
    def repo_with(repo: str, open_issues: int, audits: int) -> None:
        for number in range(1, open_issues + 1):
            add_issue(con, number, "[Audit] x" if number <= audits else "", repo=repo)

    repo_with("org/core-php", 28, 15)
    repo_with("org/core-admin", 14, 2)
    repo_with("org/core-claude", 30, 0)
    repo_with("org/build", 8, 1)
    add_issue(con, 99, "Epic", body="- [ ] #1", repo="org/build")
    con.execute("INSERT INTO repositories (repo) VALUES ('org/idle')")
    assert rows(con, "SELECT * FROM repo_tiers ORDER BY rank NULLS LAST") == [
        {"repo": "org/core-php", "stage": "stage 1 ready", "tier": 1, "rank": 1, "count_open": 28,
         "count_audits": 15, "count_epics": 0},
        {"repo": "org/core-admin", "stage": "stage 1 ready", "tier": 2, "rank": 2, "count_open": 14,
         "count_audits": 2, "count_epics": 0},
        {"repo": "org/core-claude", "stage": "stage 2", "tier": 3, "rank": 3, "count_open": 30,
         "count_audits": 0, "count_epics": 0},
        {"repo": "org/build", "stage": "stage 1 ready", "tier": 4, "rank": 4, "count_open": 9,
         "count_audits": 1, "count_epics": 1},
        {"repo": "org/idle", "stage": "idle", "tier": None, "rank": None, "count_open": 0,
         "count_audits": 0, "count_epics": 0},
    ]  # fmt: skip


# ── failure modes ─────────────────────────────────────────────────────────────


def test_failure_modes_name_each_detection_and_its_recovery(con):
    add_snapshot(con)
    add_issue(con, 1, "[Audit] Licences", body="No issues found.")
    add_pr(con, 10, base_ref="epic/5-x", mergeable_state="dirty", mergeable=False, ci_state="success",
           detail_at=DAY, checks_total=1)  # fmt: skip
    add_pr(con, 11, base_ref="epic/5-x", mergeable_state="dirty", mergeable=False, ci_state="success",
           detail_at=DAY, checks_total=1)  # fmt: skip
    add_pr(con, 12, base_ref="dev", mergeable_state="behind", ci_state="none", detail_at=DAY, checks_total=0)
    _insert(con, "branches", {"repo": REPO, "name": "epic/5-x", "sha": "a", "ahead_by": 1, "behind_by": 25})
    got = rows(con, "SELECT failure, target, recovery FROM failure_modes ORDER BY failure, target")
    assert got == [
        {"failure": "PR behind its base", "target": "12", "recovery": "update the branch"},
        {"failure": "cascade conflicts", "target": "epic/5-x", "recovery": "serialise merges: nudge one PR at a time"},
        {"failure": "epic branch diverged", "target": "epic/5-x",
         "recovery": "merge the default branch into the epic branch"},
        {"failure": "no actionable findings", "target": "1", "recovery": "close as not applicable"},
    ]  # fmt: skip
