"""Plans explain themselves: why ready work was not dispatched, and dispatches onto a branch the same plan creates."""

from __future__ import annotations

import json
from datetime import datetime

import pandas as pd
import pytest

from analytics.plan_bounds import Bounds, held_back_note
from analytics.planning import Member, PlanInputs, PlanRules, build_plan
from common.not_dispatched import NOT_DISPATCHED, not_dispatched_lines

NOON = datetime(2026, 3, 2, 13, 0)


def epic_inputs(branch_present: bool, members: list[Member], ready: list[tuple[str, int, int | None]],
                **extra) -> PlanInputs:  # fmt: skip
    """Open epic acme/a#1 (branch as given); `ready` rows (repo, number, epic) in queue order."""
    repos = sorted({repo for repo, _, _ in ready} | {"acme/a"})
    return PlanInputs(
        now_local=NOON,
        now_utc=NOON,
        members=members,
        repositories=pd.DataFrame({"repo": repos, "default_branch": "main"}),
        epics=pd.DataFrame(
            [
                {
                    "repo": "acme/a",
                    "epic": 1,
                    "title": "epic: Security fixes",
                    "is_open": True,
                    "is_branch_present": branch_present,
                    "branch": "epic/1-security-fixes" if branch_present else None,
                }
            ]
        ),  # fmt: skip
        ready=pd.DataFrame(
            [
                {"repo": r, "number": n, "epic": e, "phase": 1 if e else None, "severity": "high", "queue_position": i}
                for i, (r, n, e) in enumerate(ready, 1)
            ]  # fmt: skip
        ),
        **extra,
    )


def plan(inputs: PlanInputs, **rules):
    return build_plan(inputs, PlanRules(**rules), set(inputs.repositories["repo"]))


def test_children_of_an_epic_without_a_branch_are_dispatched_after_the_branch_is_created():
    made = plan(epic_inputs(False, [Member("m", 10, ["*"])], [("acme/a", 5, 1), ("acme/a", 6, 1)]))
    kinds = [(a.action, a.target) for a in made.actions]
    assert kinds == [("create_branch", "epic/1-security-fixes"), ("dispatch", "5"), ("dispatch", "6")]
    for dispatch in made.actions[1:]:
        assert dispatch.precondition[0] == {"check": "branch_present", "branch": "epic/1-security-fixes"}
        assert dispatch.payload["branch"] == "epic/1-security-fixes"
    assert made.summary["not_dispatched"] == {}


def test_a_dispatch_onto_an_existing_branch_has_no_branch_check():
    made = plan(epic_inputs(True, [Member("m", 10, ["*"])], [("acme/a", 5, 1)]))
    (dispatch,) = made.actions
    assert all(c["check"] != "branch_present" for c in dispatch.precondition)


def test_a_held_back_branch_keeps_its_dispatches_back_too():
    inputs = epic_inputs(False, [Member("m", 10, ["*"])], [("acme/a", 5, 1), ("acme/b", 7, None)])
    made = plan(inputs, bounds=Bounds(50, 20, 1))  # one write: the direct dispatch first, the branch waits
    assert [(a.action, a.target) for a in made.actions] == [("dispatch", "7")]
    assert made.summary["not_dispatched"] == {"held_back": 1}
    two = plan(inputs, bounds=Bounds(50, 20, 2))  # the branch, but not its child's dispatch
    assert [(a.action, a.target) for a in two.actions] == [
        ("create_branch", "epic/1-security-fixes"),
        ("dispatch", "7"),
    ]
    assert two.summary["not_dispatched"] == {"held_back": 1}


def test_a_dispatch_never_outlives_its_held_back_branch():
    from analytics.plan_bounds import apply_bounds
    from analytics.planning import Action

    branch = Action("create_branch", "acme/a", "epic/1-x", "", payload={"branch": "epic/1-x"})
    child = Action("dispatch", "acme/a", "5", "", payload={"branch": "epic/1-x"}, cost=1)  # no branch_present
    kept, held = apply_bounds([branch, child], Bounds(50, 20, 1))
    assert kept == [] and held["dispatches_waiting_for_branch"] == 1
    assert "1 dispatches (their epic branch is held back)" in (held_back_note(held) or "")


def test_every_ready_issue_left_out_is_counted_under_one_reason():
    ready = [("acme/a", n, None) for n in range(1, 7)] + [("acme/b", 10, None), ("acme/c", 20, None)]
    members = [Member("m", 5, ["a", "b"], used=0)]
    made = plan(epic_inputs(True, members, ready), daily_range=(5, 5), max_repo_share=0.6)
    # cap 3 per repo: a gets 3 (3 more hit repo_share), b 1, nobody covers c; then the budget of 5 is spent
    assert made.summary["dispatched"] == 4
    assert made.summary["not_dispatched"] == {"repo_share": 3, "no_member": 1}
    later = plan(epic_inputs(True, members, ready + [("acme/b", 11, None), ("acme/b", 12, None)]),
                 daily_range=(5, 5), max_repo_share=0.6)  # fmt: skip
    assert later.summary["not_dispatched"] == {"repo_share": 3, "no_member": 1, "budget_spent": 1}
    assert sum(later.summary["not_dispatched"].values()) + later.summary["dispatched"] == later.summary["ready"]


def test_in_flight_cap_quota_and_earlier_plans_have_their_own_reasons():
    ready = [("acme/a", n, None) for n in range(1, 5)]
    capped = plan(epic_inputs(True, [Member("m", 10, ["*"])], ready, in_flight=3), max_in_flight=4)
    assert capped.summary["not_dispatched"] == {"in_flight_cap": 3}
    spent = plan(epic_inputs(True, [Member("m", 2, ["*"]), Member("n", 5, ["b"])], ready))
    assert spent.summary["not_dispatched"] == {"member_quota": 2}  # m has spent its 2; n does not cover acme/a
    earlier = plan(epic_inputs(True, [Member("m", 10, ["*"])], ready, recently_planned={("acme/a", 1)}))
    assert earlier.summary["not_dispatched"] == {"already_planned": 1}


def test_later_phases_count_as_phase_not_reached():
    children = pd.DataFrame(
        [{"repo": "acme/a", "epic": 1, "child": c, "phase": p, "child_state": s, "is_dispatched": False,
          "has_open_pr": False, "has_parent_comment": True, "is_closed_not_ticked": False}
         for c, p, s in ((5, 1, "open"), (6, 2, "open"), (7, 2, "open"), (8, 3, "open"), (4, 1, "closed"))]
    )  # fmt: skip
    made = plan(epic_inputs(True, [Member("m", 10, ["*"])], [("acme/a", 5, 1)], children=children))
    assert made.summary["not_dispatched"] == {"phase_not_reached": 3}


def test_reason_lines_read_as_english_in_one_order_within_80_columns():
    assert not_dispatched_lines({"repo_share": 3, "budget_spent": 12, "member_quota": 0}) == [
        f"  12  budget_spent       {NOT_DISPATCHED['budget_spent']}",
        f"   3  repo_share         {NOT_DISPATCHED['repo_share']}",
    ]
    longest = not_dispatched_lines({code: 9999 for code in NOT_DISPATCHED})
    assert len(longest) == len(NOT_DISPATCHED) and max(len(f"  {line}") for line in longest) <= 80


# ── through the sandbox: an org whose only ready issues wait for their epic's branch ──


def _branchless_epic(state) -> list[int]:
    """dappcore/branchless: an open epic (no branch) over two phase-1 children and one phase-2 child."""
    repo = "dappcore/branchless"
    state.add_repo("dappcore", "branchless")
    kids = [state.add_issue(repo, f"Fix the {name} handler", "It leaks.", labels=["security"], user="bodane").number
            for name in ("login", "upload", "export")]  # fmt: skip
    body = f"## Phase 1: Blockers\n- [ ] #{kids[0]}\n- [ ] #{kids[1]}\n\n## Phase 2: Parallel\n- [ ] #{kids[2]}\n"
    state.add_issue(repo, "epic(security): Harden the handlers", body, labels=["agentic"], user="bodane")
    return kids


@pytest.mark.usefixtures("prefect_harness")
def test_a_plan_creates_the_branch_and_dispatches_its_children_in_the_same_run(sandbox, tmp_path, monkeypatch):
    from flows.execute import execute
    from flows.plan import plan_flow
    from flows.snapshot import snapshot
    from tasks import store
    from tests.conftest import SANDBOX_NOW, make_settings

    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    kids = _branchless_epic(sandbox.state)
    settings = make_settings(sandbox.url, tmp_path / "orchestrator.duckdb", repos=["branchless"])
    settings.dispatch.plans_dir = str(tmp_path / "plans")
    snapshot(settings)
    made = plan_flow(settings=settings, now=SANDBOX_NOW.replace(hour=13))
    with store.reader(settings.database.path) as con:
        rows = con.execute("SELECT action, target, precondition FROM plan_actions WHERE plan_id = ? ORDER BY seq",
                           [made["plan_id"]]).fetchall()  # fmt: skip
        (stored,) = con.execute("SELECT summary FROM dispatch_plans WHERE plan_id = ?", [made["plan_id"]]).fetchone()
    order = [(a, t) for a, t, _ in rows if a in ("create_branch", "dispatch")]
    branch = order[0][1]
    assert order == [("create_branch", branch), ("dispatch", str(kids[0])), ("dispatch", str(kids[1]))]
    assert branch.startswith("epic/")
    for _, _, precondition in (r for r in rows if r[0] == "dispatch"):
        assert {"check": "branch_present", "branch": branch} in json.loads(precondition)
    assert json.loads(stored)["not_dispatched"] == {"phase_not_reached": 1} == made["summary"]["not_dispatched"]
    document = json.loads((tmp_path / "plans" / f"{made['plan_id']}.json").read_text())
    assert document["summary"]["not_dispatched"] == {"phase_not_reached": 1}

    outcome = execute(settings, made["plan_id"], apply=True)
    assert outcome["by_status"] == {"done": len(rows)}, outcome["by_status"]
    assert sandbox.state.resolve_ref(sandbox.state.repo("dappcore/branchless"), branch) is not None
    for kid in kids[:2]:
        labels = set(sandbox.state.issue("dappcore/branchless", kid).labels)
        assert "jules" in labels
