"""The dispatch plan: the runbook's Stage 1-3 decisions, computed from the views.

Pure: frames in, actions out, the same actions for the same inputs. `build_plan` reads
what the snapshot says is missing (an implementation issue for a finding, a `Parent:`
comment, an epic branch, a tick, a nudge) and what the budget allows, and returns the
actions in the order the executor should take them. See docs/actions.md.

The stages live in this package's modules: `issues` (Stage 1: audits -> issues), `epics`
(Stage 2: epics, their branches and their end), `unstick` (ticks, stuck PRs), `dispatch` (the
day's budget and the dispatches); `model` holds the shared types and `analytics.plan_bounds` the
caps. The names callers use are re-exported here.
"""

from __future__ import annotations

from typing import Any

from analytics.plan_bounds import apply_bounds, held_back_note
from analytics.planning.dispatch import daily_target, dispatch_actions, refill_repos
from analytics.planning.epics import epic_body, stage2_actions
from analytics.planning.issues import stage1_actions
from analytics.planning.model import (
    ACTION_TYPES,
    SEVERITY_RANK,
    Action,
    Member,
    Plan,
    PlanInputs,
    PlanRules,
    grouped,
    marker,
    rows,
    slugify,
    target_branch_comment,
)
from analytics.planning.unstick import monitor_actions

__all__ = [
    "ACTION_TYPES", "SEVERITY_RANK", "Action", "Member", "Plan", "PlanInputs", "PlanRules", "build_plan",
    "daily_target", "dispatch_actions", "epic_body", "grouped", "marker", "monitor_actions", "refill_repos",
    "rows", "slugify", "stage1_actions", "stage2_actions", "target_branch_comment",
]  # fmt: skip


def build_plan(inputs: PlanInputs, rules: PlanRules, repos: set[str]) -> Plan:
    """All actions, in execution order: housekeeping, unsticking, Stage 1/2 refill, dispatch, epic completion."""
    default_branch = {r["repo"]: r.get("default_branch") for r in rows(inputs.repositories)}
    dispatches, dispatch_summary = dispatch_actions(inputs, rules, repos, default_branch)
    rate = rules.daily_range[1]
    refill, refill_note = refill_repos(inputs, rules, dispatch_summary["ready"], rate)
    actions = monitor_actions(inputs, rules, repos, default_branch)
    actions += stage1_actions(inputs, refill & repos)
    actions += stage2_actions(inputs, rules, repos, default_branch)
    # Stage 2 proposals only for refill repos; links, branches and syncs for every repo.
    actions = [a for a in actions if a.action != "create_epic" or a.repo in refill]
    actions += dispatches
    order = {name: i for i, name in enumerate(ACTION_TYPES)}
    # finding_index last: one audit's findings of one severity keep the audit's order, whatever the view's
    actions.sort(key=lambda a: (a.priority, order[a.action], a.repo, _natural(a.target),
                                int(a.payload.get("finding_index") or 0)))  # fmt: skip
    actions, held = apply_bounds(actions, rules.bounds)
    dispatch_summary = _bounded_dispatch_summary(dispatch_summary, actions, held)
    summary = {**dispatch_summary, "refill_repos": sorted(refill), "refill": refill_note, "held_back": held,
               "count_actions": len(actions), "cost": sum(a.cost for a in actions),
               "by_action": {a: n for a in ACTION_TYPES if (n := sum(x.action == a for x in actions))}}  # fmt: skip
    return Plan(actions, summary)


def _bounded_dispatch_summary(summary: dict[str, Any], actions: list[Action], held: dict[str, Any]) -> dict[str, Any]:
    """The dispatch figures of the actions kept, and a note on what the caps held back."""
    dispatched = [a for a in actions if a.action == "dispatch"]
    per_repo: dict[str, int] = {}
    for a in dispatched:
        per_repo[a.repo] = per_repo.get(a.repo, 0) + 1
    note = held_back_note(held)
    notes = [*summary["notes"], note] if note else summary["notes"]
    skipped = dict(summary["not_dispatched"])
    for code, count in (
        ("held_back", held.get("max_write_actions_per_plan", {}).get("by_action", {}).get("dispatch", 0)),
        ("waiting_for_branch", held.get("dispatches_waiting_for_branch", 0)),
    ):
        if count:
            skipped[code] = skipped.get(code, 0) + count
    return {**summary, "dispatched": len(dispatched), "per_repo": per_repo, "notes": notes, "not_dispatched": skipped}


def _natural(target: str) -> tuple[int, str]:
    return (int(target), "") if str(target).isdigit() else (0, str(target))
