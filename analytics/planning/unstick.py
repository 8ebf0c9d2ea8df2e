"""Stage 3's monitoring: tick closed children in their epics and unstick PRs (nudge, update, escalate).

Pure. A stuck PR's reason is a code of `common.stuck.STUCK_REASONS` (`stuck_prs.intervention_code`),
which says the action and the nudge's comment; the English `intervention` is for people.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from analytics.planning.epics import epic_completion_actions
from analytics.planning.model import Action, PlanInputs, PlanRules, rows
from analytics.planning.threads import resolve_thread_actions
from common.stuck import ESCALATE, StuckReason, reason_of

HUMAN_LABEL = "needs-human"


def monitor_actions(
    inputs: PlanInputs, rules: PlanRules, repos: set[str], default_branch: dict[str, str]
) -> list[Action]:
    """Ticks, then outdated review threads, then unsticking, then finished epics (merge PR or close)."""
    actions = tick_actions(inputs, repos)
    actions += resolve_thread_actions(inputs, rules, repos)  # before the nudges: their re-check sees it
    actions += stuck_pr_actions(inputs, rules, repos)
    actions += epic_completion_actions(inputs, repos, default_branch)
    return actions


def tick_actions(inputs: PlanInputs, repos: set[str]) -> list[Action]:
    """`- [x] #child` in the epic for every closed child still unticked."""
    actions: list[Action] = []
    for child in rows(inputs.children):
        if child["repo"] in repos and child.get("is_closed_not_ticked"):
            epic, number = int(child["epic"]), int(child["child"])
            actions.append(
                Action(
                    "tick_checklist",
                    child["repo"],
                    str(epic),
                    f"#{number} is closed but not ticked in epic #{epic}.",
                    payload={"epic": epic, "child": number},
                    precondition=[
                        {"check": "checkbox_unticked", "number": epic, "child": number},
                        {"check": "issue_closed", "number": number},
                    ],
                    priority=5,
                )  # fmt: skip
            )
    return actions


def stuck_pr_actions(inputs: PlanInputs, rules: PlanRules, repos: set[str]) -> list[Action]:
    """Nudge, escalate or update stuck PRs; conflicting PRs of one epic branch one at a time."""
    actions: list[Action] = []
    nudged_conflict_bases: set[tuple[str, str]] = set()
    for pr in sorted(rows(inputs.stuck), key=lambda p: (p["repo"], int(p["number"]))):
        reason = reason_of(pr.get("intervention_code"), pr.get("intervention"))
        if pr["repo"] not in repos or reason is None or not pr.get("is_stuck", True):
            continue
        if pr.get("is_escalated") or _cooling_down(pr, inputs, rules):
            continue  # a person has it (`needs-human`), or the agent has time to act on the last nudge
        nudges = int(pr.get("count_nudges") or 0)
        if reason.code == ESCALATE or nudges >= rules.escalate_after_nudges:
            actions.append(_escalate(pr, nudges))
        elif reason.action == "update_branch":
            actions.append(_update_branch(pr, reason))
        elif reason.action == "nudge_pr":
            base = pr.get("base_ref") or ""
            if reason.code == "conflicting" and base.startswith("epic/"):
                if (pr["repo"], base) in nudged_conflict_bases:
                    continue  # cascade conflicts: serialise, one PR per epic branch at a time
                nudged_conflict_bases.add((pr["repo"], base))
            actions.append(_nudge(pr, reason, nudges))
    return actions


def _cooling_down(pr: dict[str, Any], inputs: PlanInputs, rules: PlanRules) -> bool:
    """Nudged less than `nudge_cooldown_hours` ago (on GitHub's clock)."""
    last = pr.get("last_nudged_at")
    if last is None or inputs.now_utc is None:
        return False
    age = inputs.now_utc - pd.Timestamp(last).to_pydatetime()
    return age.total_seconds() < rules.nudge_cooldown_hours * 3600


def _escalate(pr: dict[str, Any], nudges: int) -> Action:
    number = int(pr["number"])
    reason = f"PR #{number} is still stuck after {nudges} nudges: a person should take it over."
    return hand_to_a_person(pr["repo"], number, reason, "This PR is still stuck after repeated nudges")


def hand_to_a_person(repo: str, number: int, reason: str, why: str) -> Action:
    """`escalate_pr`: label #number `needs-human` with a comment saying `why`; "handing it to a person"."""
    return Action(
        "escalate_pr",
        repo,
        str(number),
        reason,
        payload={"comment": f"{why}; handing it to a person.", "assignee": None, "label": HUMAN_LABEL},
        precondition=[
            {"check": "issue_open", "number": number},
            {"check": "lacks_label", "number": number, "label": HUMAN_LABEL},
        ],
        priority=8,
    )


def _update_branch(pr: dict[str, Any], reason: StuckReason) -> Action:
    number = int(pr["number"])
    return Action(
        "update_branch",
        pr["repo"],
        str(number),
        f"PR #{number} is behind its base branch.",
        precondition=[{"check": "pr_still_stuck", "number": number, "reason": reason.code}],
        priority=9,
    )  # fmt: skip


def _nudge(pr: dict[str, Any], reason: StuckReason, nudges: int) -> Action:
    number = int(pr["number"])
    return Action(
        "nudge_pr",
        pr["repo"],
        str(number),
        f"PR #{number}: {reason.code.replace('_', ' ')} (nudge {nudges + 1}).",
        payload={"comment": reason.comment},
        precondition=[{"check": "pr_still_stuck", "number": number, "reason": reason.code}],
        priority=9,
    )  # fmt: skip
