"""The views and the plan over GitHub's newer facts (review threads, native sub-issues, "blocked by"
links), through a real DuckDB: stuck PRs with unresolved threads, epics of sub-issues, dependencies,
and the `resolve_threads` / native `link_child` actions the planner draws from them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from analytics.planning import Member, PlanInputs, PlanRules, build_plan
from common.agents import LabelAgent
from common.stuck import BY_CODE
from tasks.plan_inputs import read_frames
from tests.conftest import schema_database
from tests.test_views import (
    AT,
    DAY,
    OWN,
    REPO,
    _insert,
    add_action,
    add_comment,
    add_issue,
    add_pr,
    add_snapshot,
    checklist,
    rows,
)

AGENT_BOT = "google-labs-jules[bot]"
AGENT = LabelAgent(label="jules", pr_authors=(AGENT_BOT,))


@pytest.fixture
def con():
    con = schema_database()
    con.execute("INSERT INTO run_settings VALUES ('token_login', ?)", [OWN])
    yield con
    con.close()


def add_sub_issue(con, parent: int, child: int, child_repo: str = REPO, repo: str = REPO) -> None:
    _insert(con, "sub_issue_history", {"repo": repo, "parent": parent, "child_repo": child_repo, "child": child,
                                       "run_id": 1, "valid_from": DAY})  # fmt: skip


def add_blocked_by(con, number: int, blocked_by: int, blocked_by_repo: str = REPO) -> None:
    _insert(con, "issue_dependency_history", {"repo": REPO, "number": number, "blocked_by_repo": blocked_by_repo,
                                              "blocked_by": blocked_by, "run_id": 1, "valid_from": DAY})  # fmt: skip


def add_thread(con, number: int, thread_id: str, resolved: bool = False, outdated: bool = True) -> None:
    _insert(con, "review_thread_history", {"repo": REPO, "number": number, "thread_id": thread_id,
                                           "is_resolved": resolved, "is_outdated": outdated, "path": "src/a.py",
                                           "first_author": "mira", "content_hash": thread_id, "run_id": 1,
                                           "valid_from": DAY})  # fmt: skip


def plan(con, rules: PlanRules | None = None) -> list:
    inputs = PlanInputs(now_local=AT, now_utc=AT, members=[Member("m", 0, ["*"])], **read_frames(con))
    return build_plan(inputs, rules or PlanRules(agent=AGENT), {REPO}).actions


# ── stuck PRs: unresolved review threads ──────────────────────────────────────


def test_a_pr_blocked_only_by_unresolved_threads_is_stuck_and_asked_to_fix_the_code_reviews(con):
    add_snapshot(con)
    add_pr(con, 10, unresolved_threads=2, updated_at=AT)  # clean, green, no review decision: only threads
    add_pr(con, 11, unresolved_threads=0, updated_at=AT)
    add_pr(con, 12, unresolved_threads=None, updated_at=AT)  # REST path: threads unknown, as before
    add_pr(con, 13, unresolved_threads=1, review_decision="CHANGES_REQUESTED", updated_at=AT)
    assert rows(con, "SELECT number, is_stuck, has_unresolved_threads, intervention_code, intervention"
                     " FROM stuck_prs ORDER BY number") == [
        {"number": 10, "is_stuck": True, "has_unresolved_threads": True, "intervention_code": "unresolved_threads",
         "intervention": "fix the code reviews (unresolved threads)"},
        {"number": 11, "is_stuck": False, "has_unresolved_threads": False, "intervention_code": None,
         "intervention": None},
        {"number": 12, "is_stuck": False, "has_unresolved_threads": False, "intervention_code": None,
         "intervention": None},
        {"number": 13, "is_stuck": True, "has_unresolved_threads": True, "intervention_code": "changes_requested",
         "intervention": "fix the code reviews"},
    ]  # fmt: skip
    nudges = [a for a in plan(con) if a.action == "nudge_pr"]
    assert [(a.target, a.payload["comment"], a.precondition[0]["reason"]) for a in nudges] == [
        ("10", "fix the code reviews", "unresolved_threads"),
        ("13", "fix the code reviews", "changes_requested"),
    ]
    assert BY_CODE["unresolved_threads"].comment == "fix the code reviews"


# ── resolve_threads ───────────────────────────────────────────────────────────


def threads_org(con) -> None:
    add_snapshot(con)
    add_pr(con, 20, author=AGENT_BOT, unresolved_threads=3, updated_at=AT)
    add_thread(con, 20, "T-out-1")
    add_thread(con, 20, "T-out-2")
    add_thread(con, 20, "T-current", outdated=False)  # the code is still there: the agent must answer it
    add_thread(con, 20, "T-done", resolved=True)
    add_pr(con, 21, author="mira", unresolved_threads=1, updated_at=AT)  # a person's PR
    add_thread(con, 21, "T-person")
    add_pr(con, 22, author=AGENT_BOT, state="closed", updated_at=AT)
    add_thread(con, 22, "T-closed")


def test_the_agents_outdated_unresolved_threads_are_planned_one_action_per_pr(con):
    threads_org(con)
    assert rows(con, "SELECT number, thread_id, author FROM plan_review_threads ORDER BY ALL") == [
        {"number": 20, "thread_id": "T-out-1", "author": AGENT_BOT},
        {"number": 20, "thread_id": "T-out-2", "author": AGENT_BOT},
        {"number": 21, "thread_id": "T-person", "author": "mira"},
    ]
    resolving = [a for a in plan(con) if a.action == "resolve_threads"]
    assert [(a.repo, a.target, a.payload, a.precondition, a.cost) for a in resolving] == [
        (REPO, "20", {"threads": ["T-out-1", "T-out-2"]}, [{"check": "issue_open", "number": 20}], 0)
    ]


def test_resolving_comes_before_the_nudge_whose_live_check_it_may_settle(con):
    threads_org(con)
    kinds = [(a.action, a.target) for a in plan(con) if a.target == "20"]
    assert kinds == [("resolve_threads", "20"), ("nudge_pr", "20")]


def test_resolve_outdated_threads_off_plans_nothing(con):
    threads_org(con)
    assert not [a for a in plan(con, PlanRules(agent=AGENT, resolve_outdated_threads=False))
                if a.action == "resolve_threads"]  # fmt: skip


def test_without_the_agents_accounts_no_pr_is_the_agents(con):
    threads_org(con)
    # an agent whose accounts are not the PR's author (the PR is google-labs-jules[bot]'s)
    robot = LabelAgent(label="robot", pr_authors=("robot-agent[bot]",))
    assert not [a for a in plan(con, PlanRules(agent=robot)) if a.action == "resolve_threads"]


def test_a_pr_a_person_took_over_keeps_its_threads(con):
    threads_org(con)
    add_pr(con, 23, author=AGENT_BOT, labels=["needs-human"], updated_at=AT)
    _insert(con, "issue_events", {"repo": REPO, "number": 23, "id": 99_001, "event": "labeled", "actor": OWN,
                                  "label": "needs-human", "created_at": DAY, "is_pull_request": True,
                                  "run_id": 1})  # fmt: skip
    add_thread(con, 23, "T-human")
    assert "T-human" not in {r["thread_id"] for r in rows(con, "SELECT thread_id FROM plan_review_threads")}


def test_a_done_resolve_threads_row_costs_no_task(con):
    threads_org(con)
    add_action(con, "resolve_threads", "20", cost=0, reason="resolved 2 of 2 outdated threads")
    assert rows(con, "SELECT count(*) AS n FROM usage_events") == [{"n": 0}]


# ── epics of native sub-issues ────────────────────────────────────────────────


def test_an_epic_made_only_of_native_sub_issues_is_an_epic_with_those_children(con):
    add_snapshot(con)
    add_issue(con, 30, "Search rework", author="outsider", author_association="NONE")  # no checklist at all
    add_issue(con, 31)
    add_issue(con, 32, state="closed")
    add_sub_issue(con, 30, 31)
    add_sub_issue(con, 30, 32)
    add_sub_issue(con, 30, 5, child_repo="org/other")  # another repository: listed in sub_issues only
    assert rows(con, "SELECT epic, child, phase, is_listed, is_sub_issue, is_checked, is_closed_not_ticked,"
                     " child_state FROM epic_children ORDER BY child") == [
        {"epic": 30, "child": 31, "phase": 1, "is_listed": False, "is_sub_issue": True, "is_checked": False,
         "is_closed_not_ticked": False, "child_state": "open"},
        {"epic": 30, "child": 32, "phase": 1, "is_listed": False, "is_sub_issue": True, "is_checked": True,
         "is_closed_not_ticked": False, "child_state": "closed"},
    ]  # fmt: skip
    assert rows(con, "SELECT epic, count_children, count_closed, count_open FROM epics") == [
        {"epic": 30, "count_children": 2, "count_closed": 1, "count_open": 1}
    ]
    assert rows(con, "SELECT repo, number, epic FROM ready_queue") == [{"repo": REPO, "number": 31, "epic": 30}]
    assert not [a for a in plan(con) if a.action == "tick_checklist"]  # nothing to tick: no checklist


def test_checklist_and_sub_issues_merge_once_each_and_unlisted_sub_issues_take_the_last_phase(con):
    add_snapshot(con)
    add_issue(con, 1, "Epic", body=checklist("## Blockers", "- [ ] #2", "## Then", "- [ ] #3"))
    for number in (2, 3, 4):
        add_issue(con, number)
    add_sub_issue(con, 1, 2)  # on the checklist too
    add_sub_issue(con, 1, 4)  # only a sub-issue
    assert rows(con, "SELECT child, phase, is_listed, is_sub_issue FROM epic_children ORDER BY child") == [
        {"child": 2, "phase": 1, "is_listed": True, "is_sub_issue": True},
        {"child": 3, "phase": 2, "is_listed": True, "is_sub_issue": False},
        {"child": 4, "phase": 2, "is_listed": False, "is_sub_issue": True},
    ]
    assert rows(con, "SELECT count_children, count_phases FROM epics") == [{"count_children": 3, "count_phases": 2}]


def test_an_audit_with_sub_issues_is_not_an_epic(con):
    add_snapshot(con)
    add_issue(con, 5, "[Audit] Security review", body="- one")
    add_issue(con, 6)
    add_sub_issue(con, 5, 6)
    assert rows(con, "SELECT count(*) AS n FROM epics") == [{"n": 0}]


# ── link_child: the comment and the native sub-issue ──────────────────────────


@pytest.mark.parametrize(
    ("comment", "sub_issue", "ledger_reason", "planned"),
    [
        (False, False, None, True),  # nothing yet
        (True, False, None, True),  # commented by an earlier version: add the native link once
        (True, True, None, False),  # both there
        (True, False, "sub-issues not supported here", False),  # tried: the server has none
        (True, False, "sub-issue added", False),  # added, then a person unlinked it: their call
        (False, True, "sub-issue added", True),  # the comment is missing (deleted): written again
    ],
)
def test_link_child_is_planned_while_the_comment_or_one_native_try_is_missing(
    con, comment, sub_issue, ledger_reason, planned
):
    add_snapshot(con)
    add_issue(con, 1, "Epic", body=checklist("- [ ] #2"))
    add_issue(con, 2)
    if comment:
        add_comment(con, 2, "Parent: #1")
    if sub_issue:
        add_sub_issue(con, 1, 2)
    if ledger_reason:
        add_action(con, "link_child", "2", cost=0, reason=ledger_reason)
    links = [a for a in plan(con) if a.action == "link_child"]
    assert [(a.target, a.payload["epic"]) for a in links] == ([("2", 1)] if planned else [])


# ── dependencies ──────────────────────────────────────────────────────────────


def dependency_org(con, blocker_state: str) -> None:
    add_snapshot(con)
    add_issue(con, 1, "Epic", body=checklist("- [ ] #2", "- [ ] #3", "- [ ] #4"))
    for number in (2, 3, 4):  # one severity: dependencies decide the order
        add_issue(con, number, labels=["severity:medium"])
    add_issue(con, 9, "Blocker elsewhere", repo="org/lib", state=blocker_state)
    add_blocked_by(con, 2, 9, blocked_by_repo="org/lib")  # a native link to another repository's issue
    add_blocked_by(con, 4, 99)  # a blocker the snapshot does not hold: not known to be open


def queue(con) -> list[dict[str, Any]]:
    return rows(con, "SELECT number, has_open_dependencies, queue_position FROM ready_queue ORDER BY queue_position")


def test_an_issue_blocked_by_an_open_issue_has_open_dependencies_and_queues_behind(con):
    dependency_org(con, "open")
    assert queue(con) == [
        {"number": 3, "has_open_dependencies": False, "queue_position": 1},
        {"number": 4, "has_open_dependencies": False, "queue_position": 2},
        {"number": 2, "has_open_dependencies": True, "queue_position": 3},
    ]


def test_a_closed_blocker_no_longer_holds_the_issue_back(con):
    dependency_org(con, "closed")
    assert queue(con)[0] == {"number": 2, "has_open_dependencies": False, "queue_position": 1}


def test_the_blocked_issue_waits_when_the_budget_runs_out(con):
    dependency_org(con, "open")
    inputs = PlanInputs(now_local=datetime(2026, 2, 4, 14), now_utc=AT, members=[Member("m", 2, ["*"])],
                        **read_frames(con))  # fmt: skip
    result = build_plan(inputs, PlanRules(agent=AGENT, daily_range=(2, 2)), {REPO})
    assert [a.target for a in result.actions if a.action == "dispatch"] == ["3", "4"]
    assert result.summary["not_dispatched"].get("dependency_open") == 1
