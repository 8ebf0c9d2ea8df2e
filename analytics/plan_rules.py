"""The planner's rules from the settings: pure (settings in, `PlanRules` out)."""

from __future__ import annotations

from analytics.plan_bounds import Bounds
from analytics.planning import PlanRules
from analytics.planning.routing import AgentSpec, RoutingRules
from common.config import AgentSettings, Settings


def plan_rules(settings: Settings) -> PlanRules:
    """`[dispatch]`, `[agent]` (or `[[agents]]`) and `[routing]` as the planner reads them."""
    dispatch, agent = settings.dispatch, settings.agent
    return PlanRules(
        daily_range=dispatch.daily_range,
        max_repo_share=dispatch.max_repo_share,
        agent=agent.backend(),  # the back-end dispatches go to (common/agents.py)
        agent_mode=agent.mode,
        agent_label=agent.label,
        agent_assignee=agent.assignee,
        max_in_flight=None if settings.agents else agent.max_in_flight,  # several agents: each its own cap
        escalate_after_nudges=dispatch.escalate_after_nudges,
        morning_ends_hour=dispatch.morning_ends_hour,
        raise_below_share=dispatch.raise_below_share,
        throttle_above_share=dispatch.throttle_above_share,
        refill_low=dispatch.refill_low,
        refill_high=dispatch.refill_high,
        epic_branch_max_behind=dispatch.epic_branch_max_behind,
        nudge_cooldown_hours=dispatch.nudge_cooldown_hours,
        resolve_outdated_threads=dispatch.resolve_outdated_threads,
        bounds=Bounds(
            dispatch.max_new_issues_per_plan, dispatch.max_new_issues_per_audit, dispatch.max_write_actions_per_plan
        ),
        agents=tuple(agent_spec(section) for section in settings.agents),
        routing=RoutingRules(**settings.routing.model_dump()),
    )


def agent_spec(section: AgentSettings) -> AgentSpec:
    """One `[[agents]]` table as the router reads it (`*` in repos or languages: no restriction)."""
    return AgentSpec(
        name=section.agent_name,
        backend=section.backend(),
        repos=tuple(r for r in section.repos if r != "*"),
        languages=tuple(x for x in section.languages if x != "*"),
        daily_quota=section.daily_quota,
        max_in_flight=section.max_in_flight,
    )
