"""Stage 3's dispatching: how many tasks today, which ready issues, to whom, and when to refill the queue.

Pure. The agent back-end (`PlanRules.backend()`, common/agents.py) says what a dispatch's payload
carries and how execute checks the issue is not with the agent yet; nothing here knows its kind.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from analytics.planning.model import SEVERITY_RANK, Action, Member, PlanInputs, PlanRules, rows, target_branch_comment


def daily_target(rules: PlanRules, members: list[Member], now_local: datetime) -> tuple[int, list[str]]:
    """Tasks to spend today under the strategy and the time-of-day throttles, with why."""
    low, high = rules.daily_range
    pool = sum(m.quota for m in members)
    used = sum(m.used for m in members)
    share = used / pool if pool else 1.0
    notes = [f"strategy range {low}-{high} tasks a day; pool {pool}, used today {used}"]
    target = low
    if now_local.hour >= rules.morning_ends_hour and used < rules.raise_below_share * high:
        target = high
        notes.append(f"less than {rules.raise_below_share:.0%} of the day's rate used by midday: raised to {high}")
    if now_local.hour < rules.morning_ends_hour and share > rules.throttle_above_share:
        notes.append(
            f"more than {rules.throttle_above_share:.0%} of the pool used by morning: throttled, unsticking only"
        )
        return 0, notes
    return max(min(target - used, pool - used), 0), notes


@dataclass
class DispatchRound:
    """What one plan's dispatching has decided so far: the budget it works within and what it spent."""

    members: list[Member]
    cap: int
    epic_branch: dict[tuple[str, int], str | None]
    per_repo: dict[str, int]  # today's tasks per repo, this plan's included
    planned: dict[str, int] = field(default_factory=dict)  # this plan's tasks per repo
    actions: list[Action] = field(default_factory=list)

    def member_for(self, repo: str) -> Member | None:
        """The member covering `repo` with the most tasks left (ties by login)."""
        covering = (m for m in self.members if m.covers(repo) and m.left > 0)
        return max(covering, key=lambda m: (m.left, m.login), default=None)

    def spend(self, member: Member, repo: str) -> None:
        member.used += 1
        self.per_repo[repo] = self.per_repo.get(repo, 0) + 1
        self.planned[repo] = self.planned.get(repo, 0) + 1


def dispatch_actions(
    inputs: PlanInputs, rules: PlanRules, repos: set[str], default_branch: dict[str, str]
) -> tuple[list[Action], dict[str, Any]]:
    """Dispatch the ready queue in order, within the budget, the repo share and the in-flight cap."""
    members = [Member(m.login, m.quota, list(m.repos), m.used) for m in inputs.members]
    target, notes = _in_flight_target(rules, inputs, *daily_target(rules, members, inputs.now_local))
    queue = _ready_queue(inputs, repos)
    cap = _repo_cap(rules, members, target, {q["repo"] for q in queue}, notes)
    epic_branch = {
        (e["repo"], int(e["epic"])): e.get("branch") for e in rows(inputs.epics) if e.get("is_branch_present")
    }
    round_ = DispatchRound(members, cap, epic_branch, dict(inputs.used_by_repo))
    for ready in queue:
        if len(round_.actions) >= target:
            break
        action = _dispatch_one(round_, rules, ready, default_branch)
        if action is not None:
            round_.actions.append(action)
    summary = {
        "daily_target": target,
        "ready": len(queue),
        "dispatched": len(round_.actions),
        "per_repo": round_.planned,
        "repo_cap": cap,
        "notes": notes,
        "quota_exhausted": all(m.left == 0 for m in members),
    }
    return round_.actions, summary


def _in_flight_target(rules: PlanRules, inputs: PlanInputs, target: int, notes: list[str]) -> tuple[int, list[str]]:
    """The day's target, lowered to the room the agent's in-flight cap leaves."""
    if rules.max_in_flight is not None:
        room = max(rules.max_in_flight - inputs.in_flight, 0)
        if room < target:
            notes.append(f"agent allows {rules.max_in_flight} tasks in flight, {inputs.in_flight} running: {room} more")
        target = min(target, room)
    return target, notes


def _ready_queue(inputs: PlanInputs, repos: set[str]) -> list[dict[str, Any]]:
    """The ready queue of the configured repos, minus what a plan not yet carried out dispatches."""
    queue = [
        q for q in rows(inputs.ready)
        if q["repo"] in repos and (q["repo"], int(q["number"])) not in inputs.recently_planned
    ]  # fmt: skip
    queue.sort(
        key=lambda q: (q.get("queue_position") is None, q.get("queue_position") or 0, q["repo"], int(q["number"]))
    )
    return queue


def _repo_cap(rules: PlanRules, members: list[Member], target: int, repos_with_work: set[str], notes: list[str]) -> int:
    """Tasks one repo may take today (`max_repo_share` of the day's total)."""
    # The share is of the day, not of this plan: today's earlier dispatches count against it.
    day_total = sum(m.used for m in members) + target
    cap = day_total if len(repos_with_work) <= 1 else max(1, math.floor(rules.max_repo_share * day_total))
    if len(repos_with_work) > 1 and target:
        notes.append(f"at most {cap} tasks to one repo today ({rules.max_repo_share:.0%} of {day_total})")
    return cap


def _dispatch_one(
    round_: DispatchRound, rules: PlanRules, ready: dict[str, Any], default_branch: dict[str, str]
) -> Action | None:
    """The dispatch of one ready issue, or None when its repo is at its cap, nobody's quota covers
    it, or its epic's branch does not exist yet (created first; its children go in the next plan)."""
    repo, number = ready["repo"], int(ready["number"])
    if round_.per_repo.get(repo, 0) >= round_.cap:
        return None
    member = round_.member_for(repo)
    if member is None:
        return None
    epic = None if ready.get("epic") is None else int(ready["epic"])
    branch = default_branch.get(repo) or "main" if epic is None else round_.epic_branch.get((repo, epic))
    if branch is None:
        return None
    round_.spend(member, repo)
    agent = rules.backend()
    severity = ready.get("severity") or "medium"
    reason = (
        f"#{number} ({severity}) is ready in phase {ready.get('phase')} of epic #{epic}."
        if epic is not None
        else f"#{number} ({severity}) is ready for direct dispatch (too few issues for an epic)."
    )
    return Action(
        "dispatch",
        repo,
        str(number),
        reason,
        payload={"epic": epic, "branch": branch, **agent.payload(), "comment": target_branch_comment(branch, epic)},
        precondition=[
            {"check": "issue_open", "number": number},
            agent.not_dispatched_check(number),
            {"check": "no_open_pr_for", "number": number},
            {"check": "budget", "member": member.login},
        ],
        priority=60 + SEVERITY_RANK.get(severity, 2),
        cost=1,
        member=member.login,
    )  # fmt: skip


def refill_repos(inputs: PlanInputs, rules: PlanRules, ready_count: int, rate: int) -> tuple[set[str], str]:
    """Repos whose Stage 1/2 work runs now: when the ready queue is short, the next ones by tier."""
    tiers = rows(inputs.tiers)
    ordered = [t["repo"] for t in sorted(tiers, key=lambda t: (t.get("rank") or 999, t["repo"]))]
    if rate <= 0 or ready_count >= rules.refill_low * rate:
        return set(), f"ready queue {ready_count} >= {rules.refill_low:g}x the daily rate {rate}: no refill needed"
    potential: dict[str, int] = {}
    for frame in (inputs.findings, inputs.proposals):
        for r in rows(frame):
            potential[r["repo"]] = potential.get(r["repo"], 0) + 1
    chosen, expected = [], ready_count
    for repo in ordered:
        if expected >= rules.refill_high * rate:
            break
        if potential.get(repo):
            chosen.append(repo)
            expected += potential[repo]
    return set(chosen), (
        f"ready queue {ready_count} < {rules.refill_low:g}x the daily rate {rate}: Stage 1/2 on "
        + (", ".join(chosen) if chosen else "no repo with work left")
    )
