"""`resolve_threads` end to end against the sandbox over real HTTP: snapshot (GraphQL review threads)
-> plan -> `execute --apply` resolves the agent's outdated, unresolved threads with one
`resolveReviewThread` each, a second run does nothing, a person's PR is left alone, and
`resolve_outdated_threads = false` plans nothing. Also: a PR blocked only by unresolved threads
is nudged "fix the code reviews" after a live re-check."""

from __future__ import annotations

import json

import pytest

from common.config import Settings
from flows.execute import execute
from flows.plan import plan_flow
from flows.snapshot import snapshot
from sandbox.models import AGENT_BOT
from tasks import store
from tests.conftest import SANDBOX_NOW, make_settings

pytestmark = pytest.mark.usefixtures("prefect_harness")

REPO = "dappcore/core-devops"  # the demo's smallest repository: a quick snapshot
OLD_COMMIT = "0" * 40  # a commit the PR's head has moved past: threads on it are outdated
NOW = SANDBOX_NOW.replace(hour=13)


def repo_settings(sandbox, tmp_path, **dispatch) -> Settings:
    base = make_settings(sandbox.url, tmp_path / "orchestrator.duckdb", repos=["core-devops"])
    return Settings.model_validate({**base.model_dump(), "dispatch": {**base.dispatch.model_dump(), **dispatch}})


def pr_with_threads(state, user: str, head: str) -> tuple[int, dict[str, int]]:
    """An open PR by `user` with threads in every state, by name -> thread id."""
    pull = state.add_pull(REPO, f"Work by {user}", head, user=user)
    threads = {
        "outdated": state.add_review_thread(pull, "bodane", "src/a.py", "rename this", commit_id=OLD_COMMIT),
        "outdated_2": state.add_review_thread(pull, "bodane", "src/b.py", "and this", commit_id=OLD_COMMIT),
        "current": state.add_review_thread(pull, "bodane", "src/c.py", "still wrong"),
        "resolved": state.add_review_thread(
            pull, "bodane", "src/d.py", "done", commit_id=OLD_COMMIT, resolved_by="bodane"
        ),
    }
    return pull.number, {name: thread.id for name, thread in threads.items()}


def resolved(state, ids: dict[str, int]) -> dict[str, bool]:
    return {name: state.find_thread(thread_id).is_resolved for name, thread_id in ids.items()}


def planned(settings: Settings, plan_id: str, action: str) -> list[tuple[str, list]]:
    with store.reader(settings.database.path) as con:
        rows = con.execute(
            "SELECT target, payload FROM plan_actions WHERE plan_id = ? AND action = ? ORDER BY seq", [plan_id, action]
        ).fetchall()
    return [(target, json.loads(payload)) for target, payload in rows]


def mutations(state) -> list[dict]:
    return [r for r in state.writes() if r["path"].endswith("/graphql") and r["status"] < 400]


def test_the_agents_outdated_threads_are_resolved_once_and_a_persons_are_left(sandbox, tmp_path):
    state = sandbox.state
    agent_pr, agent_threads = pr_with_threads(state, AGENT_BOT, "jules/threads")
    person_pr, person_threads = pr_with_threads(state, "mira-k", "mira/threads")
    settings = repo_settings(sandbox, tmp_path)
    snapshot(settings)
    with store.reader(settings.database.path) as con:
        counts = dict(con.execute(
            "SELECT number, unresolved_threads FROM pull_requests WHERE number IN (?, ?)", [agent_pr, person_pr]
        ).fetchall())  # fmt: skip
    assert counts == {agent_pr: 3, person_pr: 3}

    first = plan_flow(settings=settings, now=NOW)["plan_id"]
    resolving = planned(settings, first, "resolve_threads")
    assert [target for target, _ in resolving] == [str(agent_pr)]  # never the person's PR
    assert len(resolving[0][1]["threads"]) == 2
    before = len(mutations(state))
    summary = execute(settings, plan_id=first, apply=True)
    outcome = next(o for o in summary["outcomes"] if o["action"] == "resolve_threads")
    assert outcome["status"] == "done" and outcome["reason"] == "resolved 2 of 2 outdated threads"
    assert resolved(state, agent_threads) == {"outdated": True, "outdated_2": True, "current": False, "resolved": True}
    assert resolved(state, person_threads) == {"outdated": False, "outdated_2": False, "current": False,
                                               "resolved": True}  # fmt: skip
    assert len(mutations(state)) - before == 2  # one resolveReviewThread per thread
    with store.reader(settings.database.path) as con:
        cost = con.execute("SELECT cost FROM action_log WHERE action = 'resolve_threads'").fetchall()
        used = con.execute("SELECT count(*) FROM usage_events WHERE usage_id LIKE 'ledger:%'").fetchone()[0]
    assert cost == [(0,)] and used == len([o for o in summary["outcomes"] if o["action"] == "dispatch"
                                           and o["status"] in ("done", "pending")])  # fmt: skip

    # The same plan again: the ledger has it. A new snapshot and plan: nothing left to resolve.
    again = len(mutations(state))
    execute(settings, plan_id=first, apply=True)
    snapshot(settings)
    second = plan_flow(settings=settings, now=NOW)["plan_id"]
    assert planned(settings, second, "resolve_threads") == []
    execute(settings, plan_id=second, apply=True)
    assert len(mutations(state)) == again


def test_a_thread_resolved_or_changed_since_the_plan_is_left_alone(sandbox, tmp_path):
    state = sandbox.state
    _, threads = pr_with_threads(state, AGENT_BOT, "jules/recheck")
    settings = repo_settings(sandbox, tmp_path)
    snapshot(settings)
    plan_id = plan_flow(settings=settings, now=NOW)["plan_id"]
    state.resolve_thread(state.find_thread(threads["outdated"]), "bodane")  # a person got there first
    before = len(mutations(state))
    summary = execute(settings, plan_id=plan_id, apply=True)
    outcome = next(o for o in summary["outcomes"] if o["action"] == "resolve_threads")
    assert outcome["reason"] == "resolved 1 of 2 outdated threads (1 already resolved, no longer outdated or gone)"
    assert len(mutations(state)) - before == 1


def test_resolve_outdated_threads_false_leaves_threads_to_people(sandbox, tmp_path):
    state = sandbox.state
    _, threads = pr_with_threads(state, AGENT_BOT, "jules/off")
    settings = repo_settings(sandbox, tmp_path, resolve_outdated_threads=False)
    snapshot(settings)
    plan_id = plan_flow(settings=settings, now=NOW)["plan_id"]
    assert planned(settings, plan_id, "resolve_threads") == []
    execute(settings, plan_id=plan_id, apply=True)
    assert resolved(state, threads)["outdated"] is False


def test_a_pr_blocked_only_by_unresolved_threads_is_nudged_to_fix_the_code_reviews(sandbox, tmp_path):
    state = sandbox.state
    pull = state.add_pull(REPO, "Only threads hold it", "jules/only-threads", user=AGENT_BOT)
    state.add_review_thread(pull, "bodane", "src/a.py", "please handle the error")  # current, unresolved
    settings = repo_settings(sandbox, tmp_path)
    snapshot(settings)
    with store.reader(settings.database.path) as con:
        row = con.execute(
            "SELECT is_stuck, intervention_code, intervention FROM stuck_prs WHERE number = ?", [pull.number]
        ).fetchone()
    assert row == (True, "unresolved_threads", "fix the code reviews (unresolved threads)")
    plan_id = plan_flow(settings=settings, now=NOW)["plan_id"]
    nudges = [payload for target, payload in planned(settings, plan_id, "nudge_pr") if target == str(pull.number)]
    assert nudges == [{"comment": "fix the code reviews"}]
    execute(settings, plan_id=plan_id, apply=True)  # the live re-check asks GraphQL: still unresolved
    with store.reader(settings.database.path) as con:
        status = con.execute(
            "SELECT status FROM action_log WHERE action = 'nudge_pr' AND target = ?", [str(pull.number)]
        ).fetchone()
    assert status == ("done",)
    bodies = [c.body for c in state.comments if c.repo_id == pull.repo_id and c.issue_number == pull.number]
    assert [b.splitlines()[0] for b in bodies] == ["fix the code reviews"]
