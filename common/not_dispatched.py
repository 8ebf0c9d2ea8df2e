"""Why ready work was not dispatched: one list of reason codes, with their English text.

The planner (`analytics/planning/dispatch.py`) gives every ready issue it leaves out one code and
stores the counts with the plan (`summary["not_dispatched"]`); `orchestrator plan` and
`orchestrator budget --plan` print each code's text with its count. A new reason: a row here and
the planner's decision that names it. Pure: imported by analytics/ and orchestrator/ alike.
"""

from __future__ import annotations

NOT_DISPATCHED: dict[str, str] = {
    "throttled": "morning, most of the pool used: unsticking only",
    "budget_spent": "today's task budget is spent",
    "in_flight_cap": "the agent's in-flight cap is reached",
    "dependency_open": "behind an open dependency when the budget ran out",
    "member_quota": "its repo's members have used their quota",
    "no_member": "no member's repos cover its repo",
    "repo_share": "its repo has its share of today's tasks",
    "already_planned": "an earlier plan not carried out yet has it",
    "waiting_for_branch": "its epic's branch is neither there nor created",
    "held_back": "held back by max_write_actions_per_plan",
    "phase_not_reached": "in a later phase of its epic (not ready yet)",
    "agent_quota": "its agents are at their quota or in-flight cap",
    "no_agent": "no configured agent takes its repo or language",
}


def not_dispatched_lines(counts: dict[str, int]) -> list[str]:
    """`  12  budget_spent       today's task budget is spent`: one line per reason, in this list's
    order, under 80 columns (a code not in the list shows as itself)."""
    ordered = [code for code in NOT_DISPATCHED if counts.get(code)] + sorted(set(counts) - set(NOT_DISPATCHED))
    lines = (f"{counts[code]:>4}  {code:<18} {NOT_DISPATCHED.get(code, '')}" for code in ordered if counts[code])
    return [line.rstrip() for line in lines]
