"""Stage 3's dispatching: how many tasks today, which ready issues, to whom, and when to refill the queue.

Pure. The agent back-end (`PlanRules.backend()`, common/agents.py) says what a dispatch's payload
carries and how execute checks the issue is not with the agent yet; nothing here knows its kind.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from analytics.planning.model import (
    SEVERITY_RANK,
    Action,
    Member,
    PlanInputs,
    PlanRules,
    new_epic_branches,
    rows,
    target_branch_comment,
)
from analytics.planning.routed import Router, routed_reason
from common.agents import Agent


def daily_target(rules: PlanRules, members: list[Member], now_local: datetime) -> tuple[int, list[str]]:
    """Tasks to spend today under the strategy and the time-of-day throttles, with why."""
    low, high = rules.daily_range
    pool = sum(m.quota for m in members)
    used = sum(m.used for m in members)
    notes = [f"strategy range {low}-{high} tasks a day; pool {pool}, used today {used}"]
    target = low
    if now_local.hour >= rules.morning_ends_hour and used < rules.raise_below_share * high:
        target = high
        notes.append(f"less than {rules.raise_below_share:.0%} of the day's rate used by midday: raised to {high}")
    if _throttled(rules, members, now_local):
        notes.append(
            f"more than {rules.throttle_above_share:.0%} of the pool used by morning: throttled, unsticking only"
        )
        return 0, notes
    return max(min(target - used, pool - used), 0), notes


def _throttled(rules: PlanRules, members: list[Member], now_local: datetime) -> bool:
    """Morning, and more than `throttle_above_share` of the pool already used: unsticking only."""
    pool = sum(m.quota for m in members)
    share = sum(m.used for m in members) / pool if pool else 1.0
    return now_local.hour < rules.morning_ends_hour and share > rules.throttle_above_share


@dataclass
class DispatchRound:
    """What one plan's dispatching has decided so far: the budget it works within and what it spent."""

    members: list[Member]
    cap: int
    epic_branch: dict[tuple[str, int], str | None]
    per_repo: dict[str, int]  # today's tasks per repo, this plan's included
    planned: dict[str, int] = field(default_factory=dict)  # this plan's tasks per repo
    actions: list[Action] = field(default_factory=list)
    new_branches: dict[tuple[str, int], str] = field(default_factory=dict)  # created by this plan
    skipped: dict[str, int] = field(default_factory=dict)  # ready issues left out, per NOT_DISPATCHED code

    def member_for(self, repo: str) -> Member | None:
        """The member covering `repo` with the most tasks left (ties by login)."""
        covering = (m for m in self.members if m.covers(repo) and m.left > 0)
        return max(covering, key=lambda m: (m.left, m.login), default=None)

    def spend(self, member: Member, repo: str) -> None:
        member.used += 1
        self.per_repo[repo] = self.per_repo.get(repo, 0) + 1
        self.planned[repo] = self.planned.get(repo, 0) + 1

    def skip(self, code: str, count: int = 1) -> None:
        if count:
            self.skipped[code] = self.skipped.get(code, 0) + count


def dispatch_actions(
    inputs: PlanInputs, rules: PlanRules, repos: set[str], default_branch: dict[str, str]
) -> tuple[list[Action], dict[str, Any]]:
    """Dispatch the ready queue in order, within the budget, the repo share and the in-flight cap;
    count why each ready issue left out was (`summary["not_dispatched"]`, common/not_dispatched.py)."""
    members = [Member(m.login, m.quota, list(m.repos), m.used) for m in inputs.members]
    day_target, notes = daily_target(rules, members, inputs.now_local)
    target, notes = _in_flight_target(rules, inputs, day_target, notes)
    stop = "throttled" if _throttled(rules, members, inputs.now_local) else (
        "in_flight_cap" if target < day_target else "budget_spent"
    )  # fmt: skip
    queue, router, to_people = _ready_queue(inputs, repos), None, []
    if rules.agents:  # several agents: re-dispatch failed attempts, expected value first
        router = Router.build(inputs, rules)
        retries, to_people = router.retries(repos, inputs.recently_planned)
        queue = router.order(queue + retries)
    cap = _repo_cap(rules, members, target, {q["repo"] for q in queue}, notes)
    epic_branch = {
        (e["repo"], int(e["epic"])): e.get("branch") for e in rows(inputs.epics) if e.get("is_branch_present")
    }
    round_ = DispatchRound(members, cap, epic_branch, dict(inputs.used_by_repo),
                           new_branches=new_epic_branches(inputs.epics, repos))  # fmt: skip
    round_.skip("already_planned", _count_already_planned(inputs, repos))
    round_.skip("phase_not_reached", _count_later_phases(inputs, repos))
    for ready in queue:
        if len(round_.actions) >= target:
            late = stop == "budget_spent" and ready.get("has_open_dependencies")
            round_.skip("dependency_open" if late else stop)
            continue
        action = _dispatch_one(round_, rules, ready, default_branch, router)
        if action is not None:
            round_.actions.append(action)
    round_.actions += to_people
    summary = {
        "daily_target": target,
        "ready": len(queue),
        "dispatched": sum(a.action == "dispatch" for a in round_.actions),
        "per_repo": round_.planned,
        "repo_cap": cap,
        "notes": notes,
        "quota_exhausted": all(m.left == 0 for m in members),
        "not_dispatched": round_.skipped,
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


def _count_already_planned(inputs: PlanInputs, repos: set[str]) -> int:
    """Ready issues of `repos` that a plan not yet carried out dispatches."""
    return sum(q["repo"] in repos and (q["repo"], int(q["number"])) in inputs.recently_planned
               for q in rows(inputs.ready))  # fmt: skip


def _count_later_phases(inputs: PlanInputs, repos: set[str]) -> int:
    """Open children of open epics of `repos`, not with an agent, in a phase after the epic's current one."""
    open_epics = {(e["repo"], int(e["epic"])) for e in rows(inputs.epics) if e.get("is_open")}
    waiting: dict[tuple[str, int], list[int]] = {}
    current: dict[tuple[str, int], int] = {}
    for child in rows(inputs.children):
        key = (child["repo"], int(child["epic"]))
        if child.get("phase") is None or child.get("child_state") != "open" or key not in open_epics:
            continue
        current[key] = min(current.get(key, int(child["phase"])), int(child["phase"]))
        if child["repo"] in repos and not child.get("is_dispatched") and not child.get("has_open_pr"):
            waiting.setdefault(key, []).append(int(child["phase"]))
    return sum(phase > current[key] for key, phases in waiting.items() for phase in phases)


def _repo_cap(rules: PlanRules, members: list[Member], target: int, repos_with_work: set[str], notes: list[str]) -> int:
    """Tasks one repo may take today (`max_repo_share` of the day's total)."""
    # The share is of the day, not of this plan: today's earlier dispatches count against it.
    day_total = sum(m.used for m in members) + target
    cap = day_total if len(repos_with_work) <= 1 else max(1, math.floor(rules.max_repo_share * day_total))
    if len(repos_with_work) > 1 and target:
        notes.append(f"at most {cap} tasks to one repo today ({rules.max_repo_share:.0%} of {day_total})")
    return cap


def _target_branch(round_: DispatchRound, ready: dict[str, Any], default_branch: dict[str, str]) -> str | None:
    """The branch a ready issue's work goes to: its repo's default branch, else its epic's branch
    (existing, or created earlier in this plan); None while the epic has neither."""
    repo, epic = ready["repo"], ready.get("epic")
    if epic is None:
        return default_branch.get(repo) or "main"
    key = (repo, int(epic))
    return round_.epic_branch.get(key) or round_.new_branches.get(key)


def _dispatch_one(
    round_: DispatchRound,
    rules: PlanRules,
    ready: dict[str, Any],
    default_branch: dict[str, str],
    router: Router | None = None,
) -> Action | None:
    """The dispatch of one ready issue, or None (its reason counted) when its repo is at its cap,
    nobody's quota covers it, or its epic's branch neither exists nor is created by this plan."""
    repo = ready["repo"]
    if round_.per_repo.get(repo, 0) >= round_.cap:
        return round_.skip("repo_share")
    member = round_.member_for(repo)
    if member is None:
        covered = any(m.covers(repo) for m in round_.members)
        return round_.skip("member_quota" if covered else "no_member")
    branch = _target_branch(round_, ready, default_branch)
    if branch is None:
        return round_.skip("waiting_for_branch")
    choice = router.choose(ready) if router is not None else None
    if router is not None and choice is None:
        return round_.skip(router.why_skipped(ready))
    round_.spend(member, repo)
    epic = None if ready.get("epic") is None else int(ready["epic"])
    new_branch = epic is not None and round_.epic_branch.get((repo, epic)) is None
    action = _dispatch(rules, ready, member, branch, new_branch, choice.agent.backend if choice else None)
    if choice is not None:
        router.spend(choice.agent)
        action.reason += routed_reason(choice, ready)
        action.payload["expected_success"] = round(choice.estimate.p, 4)
    return action


def _dispatch(
    rules: PlanRules, ready: dict[str, Any], member: Member, branch: str, new_branch: bool, agent: Agent | None = None
) -> Action:
    """The dispatch action; onto a branch this plan creates, it waits for the branch (`branch_present`)."""
    repo, number = ready["repo"], int(ready["number"])
    epic = None if ready.get("epic") is None else int(ready["epic"])
    agent = agent or rules.backend()
    severity = ready.get("severity") or "medium"
    reason = (
        f"#{number} ({severity}) is ready in phase {ready.get('phase')} of epic #{epic}."
        if epic is not None
        else f"#{number} ({severity}) is ready for direct dispatch (too few issues for an epic)."
    )
    if new_branch:
        reason += f" Its branch {branch} is created earlier in this plan."
    waits = [{"check": "branch_present", "branch": branch}] if new_branch else []
    return Action(
        "dispatch",
        repo,
        str(number),
        reason,
        payload={"epic": epic, "branch": branch, **agent.payload(), "comment": target_branch_comment(branch, epic)},
        precondition=[
            *waits,
            {"check": "issue_open", "number": number},
            agent.not_dispatched_check(number),
            # a re-dispatch after CI kept failing leaves the failed agent's PR open
            *([] if ready.get("tried") else [{"check": "no_open_pr_for", "number": number}]),
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
