"""Native sub-issues and "blocked by" links end to end against the sandbox over real HTTP: the plan's
`link_child` adds the child as a native sub-issue (keeping the `Parent: #N` comment), once; an
issue with only native sub-issues is an epic with those children; an issue blocked by an open
issue has open dependencies."""

from __future__ import annotations

import pytest

from common.config import Settings
from flows.execute import execute
from flows.plan import plan_flow
from flows.snapshot import snapshot
from tasks import store
from tests.conftest import SANDBOX_NOW, make_settings

pytestmark = pytest.mark.usefixtures("prefect_harness")

REPO = "dappcore/core-devops"  # the demo's smallest repository: a quick snapshot
NOW = SANDBOX_NOW.replace(hour=13)


def repo_settings(sandbox, tmp_path) -> Settings:
    return make_settings(sandbox.url, tmp_path / "orchestrator.duckdb", repos=["core-devops"])


def query(settings: Settings, sql: str, params: list | None = None) -> list[tuple]:
    with store.reader(settings.database.path) as con:
        return con.execute(sql, params or []).fetchall()


def comments_on(state, issue) -> list[str]:
    return [c.body for c in state.comments if c.repo_id == issue.repo_id and c.issue_number == issue.number]


def test_link_child_adds_the_native_sub_issue_and_keeps_the_parent_comment(sandbox, tmp_path):
    state = sandbox.state
    child = state.add_issue(REPO, "Harden the deploy script")
    epic = state.add_issue(REPO, "Epic: deploy hardening", body=f"## Phase 1\n- [ ] #{child.number}\n")
    settings = repo_settings(sandbox, tmp_path)
    snapshot(settings)
    plan_id = plan_flow(settings=settings, now=NOW)["plan_id"]
    links = query(settings, "SELECT target FROM plan_actions WHERE plan_id = ? AND action = 'link_child'", [plan_id])
    assert (str(child.number),) in links
    execute(settings, plan_id=plan_id, apply=True)
    assert child.number in [i.number for i in state.sub_issues_of(epic)]
    assert any(body.startswith(f"Parent: #{epic.number}") for body in comments_on(state, child))
    reason = query(settings, "SELECT reason FROM action_log WHERE action = 'link_child' AND target = ?",
                   [str(child.number)])  # fmt: skip
    assert reason == [("sub-issue added",)]

    # Next snapshot: the child is both, nothing more to link; a second apply writes nothing.
    writes = len(state.writes())
    snapshot(settings)
    sql = "SELECT is_listed, is_sub_issue, has_parent_comment, needs_link FROM epic_children "
    sql += "WHERE epic = ? AND child = ?"
    assert query(settings, sql, [epic.number, child.number]) == [(True, True, True, False)]
    again = plan_flow(settings=settings, now=NOW)["plan_id"]
    assert (str(child.number),) not in query(
        settings, "SELECT target FROM plan_actions WHERE plan_id = ? AND action = 'link_child'", [again]
    )
    execute(settings, plan_id=plan_id, apply=True)
    assert [i.number for i in state.sub_issues_of(epic)].count(child.number) == 1
    assert len([w for w in state.writes()[writes:] if "sub_issues" in w["path"]]) == 0


def test_native_sub_issues_make_an_epic_and_blocked_by_links_hold_issues_back(sandbox, tmp_path):
    state = sandbox.state
    parent = state.add_issue(REPO, "Observability", body="Tracked as sub-issues.")  # no checklist
    kids = [state.add_issue(REPO, f"Observability part {n}", labels=["severity:medium"]) for n in (1, 2)]
    for kid in kids:
        state.add_sub_issue(parent, kid)
    blocker = state.add_issue(REPO, "Pick a metrics backend")
    state.add_blocked_by(kids[1], blocker)
    settings = repo_settings(sandbox, tmp_path)
    snapshot(settings)
    assert query(settings, "SELECT child, is_listed, is_sub_issue, phase FROM epic_children WHERE epic = ? "
                           "ORDER BY child", [parent.number]) == [(k.number, False, True, 1) for k in kids]  # fmt: skip
    assert query(settings, "SELECT count_children, count_open FROM epics WHERE epic = ?", [parent.number]) == [(2, 2)]
    ready = dict(query(settings, "SELECT number, has_open_dependencies FROM ready_queue WHERE epic = ?",
                       [parent.number]))  # fmt: skip
    assert ready == {kids[0].number: False, kids[1].number: True}
    positions = dict(query(settings, "SELECT number, queue_position FROM ready_queue WHERE epic = ?", [parent.number]))
    assert positions[kids[0].number] < positions[kids[1].number]
