"""What-if: the forecast engine run forward under each routing choice (`orchestrator simulate`).

Pure. For each choice (`best`: the planner's routing, exploration included; `single:NAME`: every
issue to one agent; `round-robin`: the eligible agents in turn) each repository's success rate is
the mean, over its open issues, of the chosen agent's measured success on that issue
(`analytics/planning/routing.py`, from `outcomes`); the Monte Carlo of `analytics/forecast_sim.py`
then runs `days` days forward with the plan's rules (the strategy's daily rate capped by the pool,
phases in order, `max_repo_share`, rework of failed attempts), the same seed for every choice.
Per choice: expected merged PRs (attempts × their success rate), tasks spent, merged PRs per task,
epics done within the window and the date all open epics are done (P50).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from typing import Any

import numpy as np

from analytics.forecast import EpicInput, Params, simulate, summarize_org
from analytics.planning.routing import AgentSpec, Issue, SuccessModel, choose, eligible

PINNED = 10_000  # pseudo-attempts that pin a repo's success rate in the simulation to the routed one


def routing_choices(agents: list[AgentSpec], asked: list[str] | None = None) -> list[str]:
    """`best`, `single:NAME` per agent, `round-robin`; or the ones asked (ValueError naming a bad one)."""
    every = ["best", *(f"single:{a.name}" for a in agents), "round-robin"]
    if not asked:
        return every
    known = {c.lower(): c for c in every}
    chosen = []
    for name in asked:
        if name.lower() not in known:
            raise ValueError(f"--routing {name!r}: one of {', '.join(every)}")
        chosen.append(known[name.lower()])
    return list(dict.fromkeys(chosen))


def success_under(choice: str, model: SuccessModel, agents: list[AgentSpec], issue: Issue) -> float:
    """Probability that `issue` merges when routed by `choice`."""
    if choice.startswith("single:"):
        return model.estimate(choice.split(":", 1)[1], issue).p
    if choice == "round-robin":
        able = eligible(agents, issue) or agents
        return float(np.mean([model.estimate(a.name, issue).p for a in able]))
    picked = choose(model, agents, issue)
    return picked.estimate.p if picked else model.org_rate()


def repo_rates(
    choice: str, model: SuccessModel, agents: list[AgentSpec], issues: dict[str, list[Issue]]
) -> dict[str, float]:
    """Each repository's success rate under `choice`: the mean over its open issues."""
    return {
        repo: float(np.mean([success_under(choice, model, agents, issue) for issue in found]))
        for repo, found in issues.items() if found
    }  # fmt: skip


def pinned_params(params: Params, rates: dict[str, float], epics: list[EpicInput]) -> Params:
    """`params` with every repository's success rate fixed at `rates` (the org's at their mean)."""
    work = {e.repo: sum(e.remaining_by_phase) for e in epics}
    weights = np.array([work.get(repo, 0) + 1 for repo in rates], dtype=float)
    mean = float(np.average(list(rates.values()), weights=weights)) if rates else params.org_success_rate
    counts = {repo: (p * PINNED, (1 - p) * PINNED) for repo, p in rates.items()}
    return replace(params, org_alpha=mean * PINNED, org_beta=(1 - mean) * PINNED, repo_counts=counts)


def simulate_choice(
    choice: str, rates: dict[str, float], epics: list[EpicInput], params: Params, run: dict[str, Any]
) -> dict[str, Any]:
    """One choice's row: the engine run forward `days` days with the routed success rates."""
    days, today = int(run["days"]), run["today"]
    pinned = pinned_params(params, rates, epics)
    sim = simulate(epics, pinned, run["capacity"], today, int(run["trials"]), int(run["seed"]),
                   float(run["max_repo_share"]), horizon_days=days)  # fmt: skip
    per_epic_tasks = sim.tasks.mean(0) if sim.tasks.size else np.zeros(len(epics))
    rate_of = [pinned.success_rate(e.repo) for e in epics]
    tasks = float(per_epic_tasks.sum())
    merged = float(np.dot(per_epic_tasks, rate_of)) if len(epics) else 0.0
    done = float((sim.done_day < days).sum(1).mean()) if len(epics) else 0.0
    org = summarize_org(sim)
    return {
        "routing": choice,
        "success_rate": round(merged / tasks, 4) if tasks else None,
        "merged_prs": round(merged, 1),
        "tasks": round(tasks, 1),
        "merged_per_task": round(merged / tasks, 3) if tasks else None,
        "epics_done": round(done, 1),
        "open_epics": len(epics),
        "by_date": today + timedelta(days=days),
        "all_done_p50": None if org["beyond_horizon"] and org["p50"] is None else org["p50"],
    }


def compare_routings(
    choices: list[str],
    model: SuccessModel,
    agents: list[AgentSpec],
    issues: dict[str, list[Issue]],
    epics: list[EpicInput],
    params: Params,
    run: dict[str, Any],
) -> list[dict[str, Any]]:
    """One row per routing choice, all simulated with the same seed, rules and epics.

    `run`: `today` (date), `days`, `capacity` (tasks a day), `trials`, `seed`, `max_repo_share`,
    optionally `languages` (repo -> language)."""
    languages = run.get("languages") or {}
    fallback = {e.repo: [Issue(e.repo, 0, languages.get(e.repo))] for e in epics}  # a repo with no open issue
    issues = {**fallback, **{r: i for r, i in issues.items() if i}}
    rows = []
    for choice in choices:
        rates = repo_rates(choice, model, agents, issues)
        rows.append(simulate_choice(choice, rates, epics, params, run))
    return rows


def best_single(rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The single-agent row with the most merged PRs per task."""
    singles = [r for r in rows if r["routing"].startswith("single:") and r["merged_per_task"] is not None]
    return max(singles, key=lambda r: r["merged_per_task"], default=None)


def today_of(value: Any) -> date:
    return value.date() if hasattr(value, "date") else value
