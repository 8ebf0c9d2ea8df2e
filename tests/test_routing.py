"""Routing by measured success (analytics/planning/routing.py, routed.py): the estimator, the choice,
expected-value order, re-dispatch after a failure and `needs-human` once every agent failed. Pure:
outcomes are rows of a DuckDB table built here, read back as the plan reads the mart."""

from __future__ import annotations

from datetime import datetime, timedelta

import duckdb
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analytics.planning import Member, PlanInputs, PlanRules, build_plan
from analytics.planning.routing import AgentSpec, Issue, RoutingRules, SuccessModel, choose, shrunk
from common.agents import LabelAgent

NOW = datetime(2026, 11, 30, 13, 0)
JULES = AgentSpec("jules", LabelAgent(label="jules", name="jules"))
CODEX = AgentSpec("codex", LabelAgent(label="codex", name="codex"))
REPOS = {"org/go-api": "Go", "org/php-app": "PHP"}


def outcomes_table(records: list[tuple]) -> pd.DataFrame:
    """An `outcomes`-shaped table in DuckDB, read back as the planner reads the mart."""
    con = duckdb.connect()
    con.execute(
        "CREATE TABLE outcomes (repo VARCHAR, number INTEGER, agent VARCHAR, language VARCHAR, type VARCHAR,"
        " severity VARCHAR, epic INTEGER, phase INTEGER, outcome VARCHAR, ci_failures INTEGER, nudges INTEGER,"
        " pr_number INTEGER, dispatched_at TIMESTAMP)"
    )
    if records:
        con.executemany("INSERT INTO outcomes VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", records)
    return con.execute("SELECT * FROM outcomes ORDER BY dispatched_at").fetchdf()


def history(go: dict[str, float], php: dict[str, float], per_cell: int = 30) -> list[tuple]:
    """`per_cell` finished attempts per (agent, language) with the given success shares."""
    records, number = [], 1000
    for repo, rates in (("org/go-api", go), ("org/php-app", php)):
        for agent, rate in rates.items():
            for i in range(per_cell):
                number += 1
                outcome = "merged" if i < round(rate * per_cell) else "closed_unmerged"
                when = NOW - timedelta(days=90) + timedelta(hours=number)
                records.append((repo, number, agent, REPOS[repo], "bug", "medium", None, None, outcome, 0, 0,
                                number + 5000, when))  # fmt: skip
    return records


# ── the estimator ─────────────────────────────────────────────────────────────

counts = st.integers(min_value=0, max_value=60)


@settings(max_examples=200, deadline=None)
@given(successes=counts, extra=counts, prior=st.floats(0, 1), strength=st.floats(0.1, 50))
def test_shrunk_estimate_is_a_probability_and_rises_with_successes(successes, extra, prior, strength):
    attempts = successes + extra
    p = shrunk(successes, attempts, prior, strength)
    assert 0.0 <= p <= 1.0
    if extra:  # one failure turned into a success never lowers the estimate
        assert shrunk(successes + 1, attempts, prior, strength) >= p


def _rows(agent: str, language: str, successes: int, failures: int) -> list[dict]:
    outcome = ["merged"] * successes + ["closed_unmerged"] * failures
    return [{"agent": agent, "language": language, "repo": f"org/{language}", "type": "bug", "outcome": o}
            for o in outcome]  # fmt: skip


@settings(max_examples=150, deadline=None)
@given(s=counts, f=counts, other_s=counts, other_f=counts, k=st.floats(0.5, 30))
def test_combined_estimate_is_bounded_and_monotone_in_successes(s, f, other_s, other_f, k):
    rules = RoutingRules(prior_strength=k)
    base = _rows("codex", "go", s, f) + _rows("codex", "php", other_s, other_f) + _rows("jules", "go", 5, 5)
    issue = Issue("org/go", 1, "go", "bug")
    p = SuccessModel(base, rules).estimate("codex", issue).p
    assert 0.0 <= p <= 1.0
    if f:
        better = (
            _rows("codex", "go", s + 1, f - 1) + _rows("codex", "php", other_s, other_f) + _rows("jules", "go", 5, 5)
        )
        assert SuccessModel(better, rules).estimate("codex", issue).p >= p - 1e-12


@settings(max_examples=100, deadline=None)
@given(s=counts, f=counts, k=st.floats(0.5, 30))
def test_with_no_data_in_its_cells_the_estimate_is_the_agents_rate(s, f, k):
    model = SuccessModel(_rows("codex", "php", s, f), RoutingRules(prior_strength=k))
    unseen = Issue("org/elsewhere", 7, "haskell", "docs")
    assert model.estimate("codex", unseen).p == pytest.approx(model.agent_rate("codex"))
    # and an agent with no data at all is the organisation's rate
    assert model.estimate("nobody", unseen).p == pytest.approx(model.org_rate())


def test_estimate_converges_to_the_measured_rate_with_much_data():
    model = SuccessModel(_rows("codex", "go", 800, 200), RoutingRules(prior_strength=10))
    assert model.estimate("codex", Issue("org/go", 1, "go", "bug")).p == pytest.approx(0.8, abs=0.01)


def test_in_flight_attempts_teach_nothing():
    rows = _rows("codex", "go", 3, 1) + [{"agent": "codex", "language": "go", "outcome": "in_flight"}] * 9
    assert SuccessModel(rows).attempts("codex") == 4


# ── the choice ────────────────────────────────────────────────────────────────


def test_the_better_agent_on_a_language_gets_it_and_the_reason_says_why():
    model = SuccessModel(
        outcomes_table(history({"codex": 0.8, "jules": 0.4}, {"codex": 0.3, "jules": 0.7})).to_dict("records")
    )
    go = choose(model, (JULES, CODEX), Issue("org/go-api", 1, "Go", "bug"))
    php = choose(model, (JULES, CODEX), Issue("org/php-app", 2, "PHP", "bug"))
    assert go.agent.name == "codex" and php.agent.name == "jules"
    assert go.reason().startswith("codex: ") and "attempts" in go.reason() and "vs jules" in go.reason()


def test_an_agent_outside_its_languages_or_repos_is_never_chosen():
    go_only = AgentSpec("gopher", LabelAgent(label="gopher", name="gopher"), languages=("Go",))
    model = SuccessModel([])
    assert choose(model, (go_only,), Issue("org/php-app", 1, "PHP")) is None
    assert choose(model, (go_only, JULES), Issue("org/php-app", 1, "PHP")).agent.name == "jules"
    pinned = AgentSpec("pinned", LabelAgent(label="pinned", name="pinned"), repos=("go-api",))
    assert choose(model, (pinned,), Issue("org/go-api", 1, "Go")).agent.name == "pinned"
    assert choose(model, (pinned,), Issue("org/php-app", 1, "PHP")) is None


def test_exploration_sends_a_share_to_the_unmeasured_agent_and_is_reproducible():
    measured = _rows("jules", "go", 40, 10)
    newcomer = AgentSpec("newbie", LabelAgent(label="newbie", name="newbie"))
    model = SuccessModel(measured, RoutingRules(exploration=0.2, seed=3, prior_strength=2))
    issues = [Issue("org/go", n, "go") for n in range(1, 1001)]
    picks = [choose(model, (JULES, newcomer), issue) for issue in issues]
    explored = sum(p.explored for p in picks)
    assert all(p.agent.name == "newbie" for p in picks if p.explored)
    assert 150 <= explored <= 250  # about 20%
    again = [choose(model, (JULES, newcomer), issue).agent.name for issue in issues]
    assert again == [p.agent.name for p in picks]
    reseeded = SuccessModel(measured, RoutingRules(exploration=0.2, seed=4, prior_strength=2))
    assert [choose(reseeded, (JULES, newcomer), i).agent.name for i in issues] != again


# ── the planner with two agents ───────────────────────────────────────────────


def ready_frame(count_per_repo: int, severity: str = "medium") -> pd.DataFrame:
    rows, position = [], 0
    for repo in REPOS:
        for n in range(1, count_per_repo + 1):
            position += 1
            rows.append({"repo": repo, "number": n, "epic": None, "phase": None, "severity": severity,
                         "queue_position": position, "has_open_dependencies": False})  # fmt: skip
    return pd.DataFrame(rows)


def inputs_with(outcomes: pd.DataFrame, ready: pd.DataFrame, facts: list[dict] | None = None, **extra) -> PlanInputs:
    repos = pd.DataFrame([{"repo": r, "default_branch": "main", "language": lang} for r, lang in REPOS.items()])
    return PlanInputs(
        now_local=NOW, now_utc=NOW, members=[Member("lead", 300, ["*"])], repositories=repos,
        ready=ready, outcomes=outcomes, issue_facts=pd.DataFrame(facts or []), **extra,
    )  # fmt: skip


def rules(**overrides) -> PlanRules:
    return PlanRules(daily_range=(20, 20), max_repo_share=1.0, agents=(JULES, CODEX),
                     routing=RoutingRules(**overrides))  # fmt: skip


def dispatches(plan) -> list:
    return [a for a in plan.actions if a.action == "dispatch"]


def test_plan_routes_each_language_to_its_better_agent_and_names_it():
    outcomes = outcomes_table(history({"codex": 0.8, "jules": 0.4}, {"codex": 0.3, "jules": 0.7}))
    plan = build_plan(inputs_with(outcomes, ready_frame(10)), rules(), set(REPOS))
    sent = dispatches(plan)
    assert len(sent) == 20
    go = [a for a in sent if a.repo == "org/go-api"]
    php = [a for a in sent if a.repo == "org/php-app"]
    assert sum(a.payload["agent"] == "codex" for a in go) >= 0.8 * len(go)
    assert sum(a.payload["agent"] == "jules" for a in php) >= 0.8 * len(php)
    for action in sent:
        agent = action.payload["agent"]
        assert action.payload["label"] == agent and f"Routed to {agent}: " in action.reason
        assert {"check": "lacks_label", "number": int(action.target), "label": agent} in action.precondition


def test_plan_orders_dispatches_by_priority_times_success_within_the_budget():
    outcomes = outcomes_table(history({"codex": 0.9, "jules": 0.9}, {"codex": 0.2, "jules": 0.2}))
    ready = ready_frame(10)  # the PHP issues first in queue order
    ready["queue_position"] = [11 + i if r == "org/go-api" else 1 + i % 10 for i, r in enumerate(ready["repo"])]
    plan = build_plan(inputs_with(outcomes, ready), PlanRules(daily_range=(10, 10), max_repo_share=1.0,
                      agents=(JULES, CODEX)), set(REPOS))  # fmt: skip
    sent = dispatches(plan)
    assert len(sent) == 10 and all(a.repo == "org/go-api" for a in sent)  # 0.9 beats 0.2 at equal priority
    assert "expected value" in sent[0].reason and "× " in sent[0].reason
    # a critical PHP issue (priority 8 × 20%) outranks a medium Go one (2 × 90%)
    ready.loc[(ready["repo"] == "org/php-app") & (ready["number"] == 1), "severity"] = "critical"
    plan = build_plan(inputs_with(outcomes, ready), PlanRules(daily_range=(10, 10), max_repo_share=1.0,
                      agents=(JULES, CODEX)), set(REPOS))  # fmt: skip
    assert ("org/php-app", "1") in {(a.repo, a.target) for a in dispatches(plan)}


def test_an_agents_daily_quota_sends_the_rest_to_the_other():
    outcomes = outcomes_table(history({"codex": 0.8, "jules": 0.4}, {"codex": 0.8, "jules": 0.4}))
    capped = AgentSpec("codex", LabelAgent(label="codex", name="codex"), daily_quota=5)
    two = PlanRules(daily_range=(20, 20), max_repo_share=1.0, agents=(JULES, capped))
    plan = build_plan(inputs_with(outcomes, ready_frame(10), used_by_agent={"codex": 2}), two, set(REPOS))
    agents = [a.payload["agent"] for a in dispatches(plan)]
    assert agents.count("codex") == 3 and agents.count("jules") == 17


def test_a_failed_attempt_goes_to_the_other_agent_and_then_to_a_person():
    past = history({"codex": 0.8, "jules": 0.4}, {"codex": 0.3, "jules": 0.7})
    when = NOW - timedelta(days=2)
    failed_once = ("org/go-api", 7, "codex", "Go", "bug", "high", None, None, "closed_unmerged", 2, 0, 9001, when)
    fact = {"repo": "org/go-api", "number": 7, "type": "bug", "labels": ["codex"], "is_open": True}
    plan = build_plan(inputs_with(outcomes_table([*past, failed_once]), ready_frame(0), [fact]), rules(), set(REPOS))
    (again,) = dispatches(plan)
    assert (again.repo, again.target, again.payload["agent"]) == ("org/go-api", "7", "jules")
    assert "re-dispatch" in again.reason and "codex failed it before" in again.reason
    failed_twice = (*failed_once[:2], "jules", *failed_once[3:12], NOW - timedelta(days=1))
    plan = build_plan(inputs_with(outcomes_table([*past, failed_once, failed_twice]), ready_frame(0), [fact]),
                      rules(), set(REPOS))  # fmt: skip
    assert not dispatches(plan)
    (person,) = [a for a in plan.actions if a.action == "escalate_pr"]
    assert person.target == "7" and person.payload["label"] == "needs-human" and "codex, jules" in person.reason
    escalated = {**fact, "labels": ["codex", "jules", "needs-human"]}
    plan = build_plan(inputs_with(outcomes_table([*past, failed_once, failed_twice]), ready_frame(0), [escalated]),
                      rules(), set(REPOS))  # fmt: skip
    assert not plan.actions


def test_ci_failing_after_the_nudges_counts_as_a_failure():
    stuck = ("org/php-app", 9, "jules", "PHP", "bug", "medium", None, None, "in_flight", 3, 2, 9100, NOW)
    fact = {"repo": "org/php-app", "number": 9, "type": "bug", "labels": ["jules"], "is_open": True}
    plan = build_plan(inputs_with(outcomes_table([stuck]), ready_frame(0), [fact]), rules(), set(REPOS))
    (again,) = dispatches(plan)
    assert again.payload["agent"] == "codex"
    assert not any(c["check"] == "no_open_pr_for" for c in again.precondition)  # jules' PR is still open
    calm = (*stuck[:10], 1, *stuck[11:])  # one nudge: not yet
    assert not build_plan(inputs_with(outcomes_table([calm]), ready_frame(0), [fact]), rules(), set(REPOS)).actions


def test_one_agent_alone_plans_exactly_as_before():
    outcomes = outcomes_table(history({"codex": 0.8, "jules": 0.4}, {"codex": 0.3, "jules": 0.7}))
    single = PlanRules(daily_range=(20, 20), max_repo_share=1.0)
    with_outcomes = build_plan(inputs_with(outcomes, ready_frame(10)), single, set(REPOS))
    without = build_plan(inputs_with(pd.DataFrame(), ready_frame(10)), single, set(REPOS))
    assert [a.as_row(0) for a in with_outcomes.actions] == [a.as_row(0) for a in without.actions]
    assert [int(a.target) for a in dispatches(without)][:3] == [1, 2, 3]
    assert "Routed" not in dispatches(without)[0].reason


# ── what-if (analytics/simulate_routing.py over the forecast engine) ──────────


def test_simulated_routing_merges_more_per_task_than_either_agent_alone():
    from datetime import date

    from analytics.forecast import EpicInput, History, estimate_parameters
    from analytics.simulate_routing import best_single, compare_routings, routing_choices

    outcomes = outcomes_table(history({"codex": 0.8, "jules": 0.4}, {"codex": 0.3, "jules": 0.7}))
    model = SuccessModel(outcomes.to_dict("records"))
    empty = pd.DataFrame(columns=["repo", "issue", "dispatched_at", "merged_at", "failed"])
    params = estimate_parameters(History(dispatches=empty, epic_days=100.0), date(2026, 11, 30))
    epics = [EpicInput("org/go-api", 1, [6, 6]), EpicInput("org/php-app", 2, [6, 6])]
    issues = {repo: [Issue(repo, n, lang, "bug") for n in range(1, 13)] for repo, lang in REPOS.items()}
    agents = [JULES, CODEX]
    choices = routing_choices(agents)
    assert choices == ["best", "single:jules", "single:codex", "round-robin"]
    run = {"today": date(2026, 11, 30), "days": 30, "capacity": 4.0, "trials": 400, "seed": 1, "max_repo_share": 0.5}
    rows = compare_routings(choices, model, agents, issues, epics, params, run)
    by = {r["routing"]: r for r in rows}
    assert by["best"]["merged_per_task"] > best_single(rows)["merged_per_task"] + 0.05
    assert by["best"]["merged_per_task"] > by["round-robin"]["merged_per_task"]
    assert all(r["tasks"] > 0 and 0 < r["merged_prs"] <= r["tasks"] for r in rows)
    assert compare_routings(choices, model, agents, issues, epics, params, run) == rows  # seeded
    with pytest.raises(ValueError, match="single:jules"):
        routing_choices(agents, ["single:nobody"])


def test_a_well_measured_finding_type_does_not_drown_the_language_signal():
    # codex: 20 Go attempts at 85%, 200 PHP attempts at 30%, all `bug`: the `bug` cell (220 attempts,
    # ~35%) only sets the prior of the Go cell, so codex still beats jules' 50% on Go
    rows = _rows("codex", "go", 17, 3) + _rows("codex", "php", 60, 140) + _rows("jules", "go", 10, 10)
    model = SuccessModel(rows, RoutingRules(prior_strength=10))
    issue = Issue("org/go", 1, "go", "bug")
    codex, jules = model.estimate("codex", issue), model.estimate("jules", issue)
    assert codex.p > 0.65 > 0.55 > jules.p
    assert choose(model, (JULES, CODEX), issue).agent.name == "codex"
    assert "on go (20 attempts)" in codex.evidence()
