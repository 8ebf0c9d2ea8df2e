"""Bounded plans: caps on the issues one plan creates and on all its write actions.

Pure: the planner's actions (in execution order) in, the kept actions and what was held
back out. Nothing held back is recorded anywhere: the snapshot still shows the work as
missing, so a later plan proposes it again, most important first as here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

NEW_ISSUE_ACTIONS = frozenset({"create_issue", "create_framework_issue", "create_epic"})

# When the write cap bites, actions are kept tier by tier, then in plan order. Unsticking and
# housekeeping first (few, and they free agents that are already paid for); then dispatches,
# which spend the team's daily agent capacity (lost if unspent, and already bounded by it);
# then closing finished work; then epic structure; new issues last: they cost nothing to
# defer, the snapshot keeps them waiting for the next plan.
WRITE_PRECEDENCE = {
    "tick_checklist": 0, "escalate_pr": 0, "update_branch": 0, "nudge_pr": 0, "resolve_threads": 0,
    "dispatch": 1,
    "close_audit": 2, "open_epic_pr": 2, "close_epic": 2,
    "link_child": 3, "create_branch": 3, "sync_epic_branch": 3,
    "create_issue": 4, "create_framework_issue": 4, "create_epic": 4,
}  # fmt: skip


class PlannedAction(Protocol):
    action: str
    repo: str
    target: str
    payload: dict[str, Any]


@dataclass(frozen=True)
class Bounds:
    """`[dispatch]` max_new_issues_per_plan, max_new_issues_per_audit, max_write_actions_per_plan."""

    new_issues_per_plan: int = 50
    new_issues_per_audit: int = 20
    write_actions_per_plan: int = 200


def _audit_of(action: PlannedAction) -> str:
    return f"{action.repo}#{action.payload.get('audit_number', action.target)}"


def _cap_per_audit(actions: list, limit: int) -> tuple[list, list]:
    """The first `limit` implementation issues of each audit (in plan order); the rest held back."""
    kept, held, seen = [], [], {}
    for a in actions:
        if a.action == "create_issue":
            audit = _audit_of(a)
            seen[audit] = seen.get(audit, 0) + 1
            if seen[audit] > limit:
                held.append(a)
                continue
        kept.append(a)
    return kept, held


def _cap_new_issues(actions: list, limit: int) -> tuple[list, list]:
    """The first `limit` issue-creating actions of the plan (in plan order); the rest held back."""
    kept, held, count = [], [], 0
    for a in actions:
        if a.action in NEW_ISSUE_ACTIONS:
            count += 1
            if count > limit:
                held.append(a)
                continue
        kept.append(a)
    return kept, held


def _precedence(action: PlannedAction) -> int:
    """An action's WRITE_PRECEDENCE; a dispatch onto a branch this plan creates ranks with the branch."""
    waits = any(c.get("check") == "branch_present" for c in getattr(action, "precondition", []))
    kind = "create_branch" if action.action == "dispatch" and waits else action.action
    return WRITE_PRECEDENCE.get(kind, 5)


def _cap_writes(actions: list, limit: int) -> tuple[list, list]:
    """`limit` actions by `_precedence` (ties in plan order), returned in plan order."""
    ranked = sorted(range(len(actions)), key=lambda i: (_precedence(actions[i]), i))
    chosen = set(ranked[:limit])
    return [a for i, a in enumerate(actions) if i in chosen], [a for i, a in enumerate(actions) if i not in chosen]


def _keep_audits_open(actions: list, held: list) -> tuple[list, list]:
    """No close_audit for an audit with a finding held back: it closes once every finding has its issue."""
    waiting = {_audit_of(a) for a in held if a.action == "create_issue"}
    kept = [a for a in actions if a.action != "close_audit" or f"{a.repo}#{a.target}" not in waiting]
    return kept, [a for a in actions if a.action == "close_audit" and f"{a.repo}#{a.target}" in waiting]


def _keep_dispatches_with_branch(actions: list, held: list) -> tuple[list, list]:
    """No dispatch onto an epic branch whose `create_branch` was held back: it waits with it."""
    waiting = {(a.repo, a.target) for a in held if a.action == "create_branch"}
    stays = [a.action != "dispatch" or (a.repo, a.payload.get("branch")) not in waiting for a in actions]
    return [a for a, ok in zip(actions, stays, strict=True) if ok], [
        a for a, ok in zip(actions, stays, strict=True) if not ok
    ]


def apply_bounds(actions: list, bounds: Bounds) -> tuple[list, dict[str, Any]]:
    """The actions within the caps (same order), and what was held back by which cap."""
    kept, by_audit = _cap_per_audit(actions, bounds.new_issues_per_audit)
    kept, by_plan = _cap_new_issues(kept, bounds.new_issues_per_plan)
    kept, by_writes = _cap_writes(kept, bounds.write_actions_per_plan)
    kept, closes = _keep_audits_open(kept, by_audit + by_plan + by_writes)
    kept, branchless = _keep_dispatches_with_branch(kept, by_writes)
    held: dict[str, Any] = {}
    if by_audit:
        audits = list(dict.fromkeys(_audit_of(a) for a in by_audit))
        held["max_new_issues_per_audit"] = {"limit": bounds.new_issues_per_audit, "issues": len(by_audit),
                                            "audits": audits}  # fmt: skip
    if by_plan:
        held["max_new_issues_per_plan"] = {"limit": bounds.new_issues_per_plan, "issues": len(by_plan)}
    if by_writes:
        counts: dict[str, int] = {}
        for a in by_writes:
            counts[a.action] = counts.get(a.action, 0) + 1
        held["max_write_actions_per_plan"] = {"limit": bounds.write_actions_per_plan, "actions": len(by_writes),
                                              "by_action": counts}  # fmt: skip
    if branchless:
        held["dispatches_waiting_for_branch"] = len(branchless)
    if closes:
        held["audits_left_open"] = [f"{a.repo}#{a.target}" for a in closes]
    return kept, held


def _listed(items: list[str], most: int = 3) -> str:
    shown = ", ".join(items[:most])
    return shown + (f" and {len(items) - most} more" if len(items) > most else "")


def held_back_note(held: dict[str, Any]) -> str | None:
    """One line for the plan's summary, e.g. `held back for the next plan: 250 issues (max_new_issues_per_plan 50)`."""
    parts = []
    if audit := held.get("max_new_issues_per_audit"):
        parts.append(f"{audit['issues']} issues (max_new_issues_per_audit {audit['limit']}: "
                     f"{_listed(audit['audits'])})")  # fmt: skip
    if plan := held.get("max_new_issues_per_plan"):
        parts.append(f"{plan['issues']} issues (max_new_issues_per_plan {plan['limit']})")
    if writes := held.get("max_write_actions_per_plan"):
        kinds = _listed([f"{n} {kind}" for kind, n in writes["by_action"].items()], most=4)
        parts.append(f"{writes['actions']} actions (max_write_actions_per_plan {writes['limit']}: {kinds})")
    if waiting := held.get("dispatches_waiting_for_branch"):
        parts.append(f"{waiting} dispatches (their epic branch is held back)")
    if not parts:
        return None
    note = "held back for the next plan: " + ", ".join(parts)
    if opened := held.get("audits_left_open"):
        note += f"; audits {_listed(opened)} stay open until every finding has its issue"
    return note
