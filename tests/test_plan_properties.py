"""Property tests: random organisations and ledgers through the real views and the planner."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

import duckdb
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from analytics.plan_rules import plan_rules
from analytics.planning import build_plan
from common.config import Settings
from flows.plan import plan_id_for, save_plan
from tasks.plan_inputs import configured_repos, read_plan_inputs
from tests.conftest import examples, schema_database

NOW = datetime(2026, 3, 2, 14, 0)
ORG = "acme"


@st.composite
def organisations(draw):
    """A random org: repos with phased epics, loose issues, a team and today's ledger."""
    repos = [f"r{i}" for i in range(draw(st.integers(1, 4)))]
    issues, number_of = [], {}
    for repo in repos:
        n = 0
        for _ in range(draw(st.integers(0, 3))):  # epics
            phases = [draw(st.lists(st.sampled_from(["open", "closed", "open-jules"]), min_size=1, max_size=4))
                      for _ in range(draw(st.integers(1, 3)))]  # fmt: skip
            n += 1
            epic = n
            body, kids = [], []
            for p, states in enumerate(phases, 1):
                body.append(f"## Phase {p}")
                for state in states:
                    n += 1
                    ticked = "x" if state == "closed" and draw(st.booleans()) else " "
                    body.append(f"- [{ticked}] #{n}")
                    kids.append((n, state, p))
            issues.append((repo, epic, f"epic: work {epic}", "\n".join(body), "open", []))
            for child, state, _ in kids:
                labels = (
                    ["jules"]
                    if state == "open-jules"
                    else [draw(st.sampled_from(["severity:high", "severity:low", "bug"]))]
                )
                issues.append(
                    (repo, child, f"child {child}", "do it", "closed" if state == "closed" else "open", labels)
                )
        for _ in range(draw(st.integers(0, 4))):  # loose issues
            n += 1
            issues.append(
                (repo, n, f"loose {n}", None, draw(st.sampled_from(["open", "closed"])), ["audit", "type:quality"])
            )
        number_of[repo] = n
    members = []
    for i in range(draw(st.integers(1, 3))):
        members.append({"login": f"m{i}", "quota": draw(st.integers(0, 30)),
                        "repos": draw(st.sampled_from([["*"], repos[:1], repos[1:] or repos]))})  # fmt: skip
    used = {m["login"]: draw(st.integers(0, m["quota"])) for m in members}
    return {
        "repos": repos,
        "issues": issues,
        "members": members,
        "used": used,
        "strategy": draw(st.sampled_from(["conservative", "moderate", "aggressive"])),
        "share": draw(st.sampled_from([0.3, 0.5, 1.0])),
        "hour": draw(st.integers(0, 23)),
    }


def load(org) -> tuple[duckdb.DuckDBPyConnection, Settings]:
    con = schema_database()
    con.execute("INSERT INTO snapshot_runs (run_id, started_at, status) VALUES (1, ?, 'complete')", [NOW])
    for repo in org["repos"]:
        con.execute(
            "INSERT INTO repositories (repo, name, default_branch) VALUES (?, ?, 'dev')", [f"{ORG}/{repo}", repo]
        )
    for repo, number, title, body, state, labels in org["issues"]:
        con.execute(
            """INSERT INTO issue_history (repo, number, title, body, state, labels, assignees, comments,
               author, author_association, created_at, updated_at, content_hash, run_id, valid_from)
               VALUES (?, ?, ?, ?, ?, ?, [], 0, 'lead', 'MEMBER', ?, ?, 'h', 1, ?)""",
            [
                f"{ORG}/{repo}",
                number,
                title,
                body,
                state,
                labels,
                NOW - timedelta(days=9),
                NOW - timedelta(days=1),
                NOW,
            ],
        )
        if body and "Phase" in body:  # every epic has its branch, so its children can be dispatched
            con.execute(
                "INSERT INTO branches (repo, name, sha) VALUES (?, ?, 'abc')", [f"{ORG}/{repo}", f"epic/{number}-work"]
            )
    seq = 0
    for login, count in org["used"].items():
        member = next(m for m in org["members"] if m["login"] == login)
        repo = org["repos"][0] if "*" in member["repos"] else (member["repos"] or org["repos"])[0]
        for _ in range(count):
            seq += 1
            con.execute(
                "INSERT INTO action_log (plan_id, seq, action, repo, target, status, reason, github_url, cost, member,"
                " executed_at) VALUES ('old', ?, 'dispatch', ?, ?, 'done', 'r', NULL, 1, ?, ?)",
                [seq, f"{ORG}/{repo}", str(900 + seq), login, NOW - timedelta(hours=1)],
            )
    settings = Settings.model_validate(
        {
            "github": {"org": ORG, "repos": ["*"], "api_url": "http://127.0.0.1:9"},
            "team": {"members": org["members"]},
            "dispatch": {"strategy": org["strategy"], "max_repo_share": org["share"]},
        }
    )
    return con, settings


def truth(org):
    """Which children belong to which phase of which epic, and their states."""
    phases, states = {}, {}
    for repo, number, _, body, state, labels in org["issues"]:
        states[(f"{ORG}/{repo}", number)] = (state, labels)
        if body and "Phase" in body:
            phase = 0
            for line in body.splitlines():
                if line.startswith("## Phase"):
                    phase += 1
                elif line.startswith("- ["):
                    phases[(f"{ORG}/{repo}", int(line.split("#")[1]))] = (number, phase)
    return phases, states


def plan_for(con, settings, now=NOW):
    inputs = read_plan_inputs(con, settings, now)
    return inputs, build_plan(inputs, plan_rules(settings), configured_repos(con, settings))


@hsettings(max_examples=examples(15), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(organisations())
def test_plan_respects_budget_share_phases_and_labels(org):
    org["hour"] = org["hour"]
    con, settings = load(org)
    now = NOW.replace(hour=org["hour"])
    inputs, plan = plan_for(con, settings, now)
    dispatches = [a for a in plan.actions if a.action == "dispatch"]
    pool = sum(m["quota"] for m in org["members"])
    used = sum(org["used"].values())
    # never more than the remaining pool, nor a member's remaining quota, nor the strategy's top rate
    assert sum(a.cost for a in plan.actions) == len(dispatches) <= pool - used
    assert len(dispatches) <= settings.dispatch.daily_range[1]
    for member in org["members"]:
        mine = [a for a in dispatches if a.member == member["login"]]
        assert len(mine) <= member["quota"] - org["used"][member["login"]]
        assert all("*" in member["repos"] or a.repo.split("/")[1] in member["repos"] for a in mine)
    # never the whole budget to one repo (unless only one repo has work): the share is of the day
    ready_repos = set(inputs.ready["repo"]) if not inputs.ready.empty else set()
    if len(ready_repos) > 1:
        day_total = used + plan.summary["daily_target"]
        cap = max(1, math.floor(settings.dispatch.max_repo_share * day_total))
        assert plan.summary["repo_cap"] == cap
        for repo in ready_repos:
            assert inputs.used_by_repo.get(repo, 0) + sum(a.repo == repo for a in dispatches) <= max(
                cap, inputs.used_by_repo.get(repo, 0)
            )
    # only open, not yet dispatched issues; never a later phase before the current one is closed
    phases, states = truth(org)
    for a in dispatches:
        key = (a.repo, int(a.target))
        state, labels = states[key]
        assert state == "open" and "jules" not in labels
        if key in phases:
            epic, phase = phases[key]
            earlier = [k for k, (e, p) in phases.items() if k[0] == a.repo and e == epic and p < phase]
            assert all(states[k][0] == "closed" for k in earlier)
    assert len({(a.repo, a.target) for a in dispatches}) == len(dispatches)
    # deterministic for the same inputs
    _, again = plan_for(con, settings, now)
    assert [x.as_row(i) for i, x in enumerate(again.actions)] == [x.as_row(i) for i, x in enumerate(plan.actions)]


@hsettings(max_examples=examples(15), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(organisations())
def test_consecutive_plans_never_dispatch_an_issue_twice(org):
    con, settings = load(org)
    inputs, first = plan_for(con, settings)
    save_plan(con, plan_id_for(first, NOW), first, NOW, 1, settings, 0, 0)
    _, second = plan_for(con, settings, NOW + timedelta(minutes=30))
    first_targets = {(a.repo, a.target) for a in first.actions if a.action == "dispatch"}
    second_targets = {(a.repo, a.target) for a in second.actions if a.action == "dispatch"}
    assert not first_targets & second_targets


def test_quota_exhausted_means_nothing_dispatched_but_unsticking_goes_on():
    org = {
        "repos": ["a", "b"],
        "issues": [("a", 1, "epic: x", "## Phase 1\n- [ ] #2\n- [ ] #3", "open", []),
                   ("a", 2, "c2", "x", "open", ["severity:high"]), ("a", 3, "c3", "x", "closed", []),
                   ("b", 1, "loose", None, "open", ["audit"])],
        "members": [{"login": "m0", "quota": 5, "repos": ["*"]}],
        "used": {"m0": 5},
        "strategy": "conservative", "share": 0.5, "hour": 9,
    }  # fmt: skip
    con, settings = load(org)
    _, plan = plan_for(con, settings)
    assert [a for a in plan.actions if a.action == "dispatch"] == []
    assert plan.summary["quota_exhausted"] is True
    ticks = [(a.action, a.repo, a.target, a.payload["child"]) for a in plan.actions if a.action == "tick_checklist"]
    assert ticks == [("tick_checklist", "acme/a", "1", 3)]


@pytest.mark.parametrize(("hour", "used", "expected"), [(9, 0, 10), (13, 0, 20), (13, 15, 0), (13, 8, 12), (9, 17, 0)])
def test_time_of_day_throttles(hour, used, expected):
    from analytics.planning import Member, PlanRules, daily_target

    target, notes = daily_target(
        PlanRules(daily_range=(10, 20)), [Member("m", 20, ["*"], used)], NOW.replace(hour=hour)
    )
    assert target == expected, notes


@st.composite
def bounded_inputs(draw):
    """Audits with random severities (some already filed), a ready queue, and random caps."""
    import pandas as pd

    from tests.test_plan_bounds import findings

    frames = []
    for number in range(1, draw(st.integers(1, 5)) + 1):
        repo = draw(st.sampled_from(["acme/a", "acme/b"]))
        severities = draw(st.lists(st.sampled_from(["critical", "high", "medium", "low"]), min_size=1, max_size=40))
        frames.append(findings({(repo, number): severities}, implemented=draw(st.booleans())))
    ready = [draw(st.integers(500, 520)) for _ in range(draw(st.integers(0, 6)))]
    caps = (draw(st.integers(0, 60)), draw(st.integers(1, 30)), draw(st.integers(1, 80)))
    return pd.concat(frames, ignore_index=True), sorted(set(ready)), caps


@hsettings(max_examples=examples(60), deadline=None)
@given(bounded_inputs())
def test_a_plan_never_exceeds_its_caps(case):
    import pandas as pd

    from analytics.plan_bounds import NEW_ISSUE_ACTIONS, Bounds
    from analytics.planning import PlanRules
    from tests.test_plan_bounds import inputs

    found, ready, caps = case
    frame = pd.DataFrame({"repo": "acme/a", "number": ready, "epic": None, "phase": None, "severity": "high",
                          "queue_position": range(len(ready))})  # fmt: skip
    made = inputs(found, ready=frame)
    repos = set(made.repositories["repo"])
    plan = build_plan(made, PlanRules(refill_high=1000.0, bounds=Bounds(*caps)), repos)
    free = build_plan(made, PlanRules(refill_high=1000.0, bounds=Bounds(10**6, 10**6, 10**6)), repos)
    per_plan, per_audit, writes = caps
    issues = [a for a in plan.actions if a.action == "create_issue"]
    assert sum(a.action in NEW_ISSUE_ACTIONS for a in plan.actions) <= per_plan
    assert len(plan.actions) <= writes
    for audit in {(a.repo, a.target) for a in issues}:
        assert sum((a.repo, a.target) == audit for a in issues) <= per_audit
    # nothing lost: what is not planned is counted as held back
    held = plan.summary["held_back"]
    counted = sum(held.get(k, {}).get("issues", 0) for k in ("max_new_issues_per_audit", "max_new_issues_per_plan"))
    counted += held.get("max_write_actions_per_plan", {}).get("actions", 0) + len(held.get("audits_left_open", []))
    assert len(plan.actions) + counted == len(free.actions)
    # within an audit, a finding is filed only once every more severe one is
    for audit in {(a.repo, a.target) for a in free.actions if a.action == "create_issue"}:
        kept = [a.priority for a in issues if (a.repo, a.target) == audit]
        waiting = [a.priority for a in free.actions if a.action == "create_issue" and (a.repo, a.target) == audit
                   and a not in issues]  # fmt: skip
        assert not kept or not waiting or max(kept) <= min(waiting)
    # an audit is closed only when none of its findings waits; dispatches come before new issues
    open_audits = {(a.repo, a.target) for a in free.actions if a.action == "create_issue"}
    assert not any(a.action == "close_audit" and (a.repo, a.target) in open_audits for a in plan.actions)
    dispatches = [a for a in free.actions if a.action == "dispatch"]
    if writes >= len(dispatches):
        assert [a for a in plan.actions if a.action == "dispatch"] == dispatches
