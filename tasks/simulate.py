"""`orchestrator simulate`'s reads: the forecast's frames, the outcomes and the open issues, then
`analytics.simulate_routing.compare_routings` over them (no Prefect, no writes)."""

from __future__ import annotations

from typing import Any

from analytics import forecast as model
from analytics.forecast_inputs import build_inputs, dispatches_from
from analytics.forecast_report import planner_rate
from analytics.plan_rules import agent_spec
from analytics.planning.routing import Issue, RoutingRules, SuccessModel
from analytics.simulate_routing import compare_routings, routing_choices, today_of
from common.config import Settings
from tasks import store
from tasks.forecast_store import load_frames

OPEN_ISSUES = (
    "SELECT s.repo, s.number, s.type, r.language FROM int_issue_state s LEFT JOIN repositories r USING (repo)"
    " WHERE s.is_open AND NOT s.is_audit_issue"
)
LANGUAGES = "SELECT repo, language FROM repositories"


def _read(settings: Settings) -> tuple[dict[str, Any], list[dict[str, Any]], dict[str, list[Issue]], dict]:
    with store.reader(settings.database.path) as con:
        frames = load_frames(con, settings)
        outcomes = con.execute("SELECT * FROM outcomes").fetchdf().to_dict("records")
        issues: dict[str, list[Issue]] = {}
        for repo, number, kind, language in con.execute(OPEN_ISSUES).fetchall():
            issues.setdefault(repo, []).append(Issue(repo, int(number), language, kind))
        languages = dict(con.execute(LANGUAGES).fetchall())
    return frames, outcomes, issues, languages


def run_simulation(
    settings: Settings,
    strategy: str | None = None,
    routings: list[str] | None = None,
    days: int = 30,
    trials: int = 2000,
    seed: int = 0,
) -> dict[str, Any]:
    """Every routing choice (or those asked) simulated `days` days forward under `strategy`."""
    if strategy:
        settings = settings.model_copy(update={"dispatch": settings.dispatch.model_copy(update={"strategy": strategy})})
    agents = [agent_spec(section) for section in settings.agent_sections]
    choices = routing_choices(agents, routings)
    frames, outcomes, issues, languages = _read(settings)
    dispatches = dispatches_from(frames["agent_events"], frames["ledger"], frames["issues"], frames["pr_links"])
    epics, history = build_inputs(frames["children"], frames["epics"], dispatches, frames["as_of"])
    params = model.estimate_parameters(history, frames["as_of"])
    success = SuccessModel(outcomes, RoutingRules(**settings.routing.model_dump()))
    run = {"today": today_of(frames["as_of"]), "days": int(days), "capacity": planner_rate(settings),
           "trials": int(trials), "seed": int(seed), "max_repo_share": settings.dispatch.max_repo_share,
           "languages": languages}  # fmt: skip
    rows = compare_routings(choices, success, agents, issues, epics, params, run)
    return {"strategy": settings.dispatch.strategy, "capacity": run["capacity"], "days": int(days),
            "as_of": run["today"], "finished_attempts": success.org.attempts, "rows": rows}  # fmt: skip
