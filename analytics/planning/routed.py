"""Dispatching to several agents: who gets each issue, in what order, and what comes back.

Pure. Used by `analytics/planning/dispatch.py` when `[[agents]]` is configured (`PlanRules.agents`):

* order: expected value first, priority (severity weight) × probability of success of the best
  eligible agent, then the ready queue's own order; the ready queue holds only the current phase
  of each epic, so phase order is kept, and the repo share is applied by the caller as before;
* choice: the best agent with room today (its `daily_quota`, its `max_in_flight`), or an
  under-measured one on the exploration draw (`routing.choose`);
* failed attempts: an open issue whose latest attempt failed goes back out to the next-best agent
  that has not failed it yet; once every eligible agent has, to a person (`needs-human`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from analytics.planning.model import Action, PlanInputs, PlanRules, rows
from analytics.planning.routing import (
    AgentSpec,
    Choice,
    History,
    Issue,
    SuccessModel,
    choose,
    eligible,
    expected_value,
    has_failed,
    histories,
    ranked,
)
from analytics.planning.unstick import HUMAN_LABEL, hand_to_a_person


@dataclass
class Router:
    """The agents, what each may still take today, and the success model."""

    agents: tuple[AgentSpec, ...]
    model: SuccessModel
    language: dict[str, str | None]
    facts: dict[tuple[str, int], dict[str, Any]]
    used: dict[str, int] = field(default_factory=dict)
    in_flight: dict[str, int] = field(default_factory=dict)
    history: dict[tuple[str, int], History] = field(default_factory=dict)
    escalate_after_nudges: int = 2

    @classmethod
    def build(cls, inputs: PlanInputs, rules: PlanRules) -> Router:
        outcome_rows = rows(inputs.outcomes)
        language = {r["repo"]: r.get("language") for r in rows(inputs.repositories)}
        for r in outcome_rows:  # the outcomes mart knows a repo's language even when the frame lacks it
            language.setdefault(r["repo"], r.get("language"))
        facts = {(f["repo"], int(f["number"])): f for f in rows(inputs.issue_facts)}
        return cls(
            rules.agents, SuccessModel(outcome_rows, rules.routing), language, facts,
            used={k.lower(): int(v) for k, v in inputs.used_by_agent.items()},
            in_flight={k.lower(): int(v) for k, v in inputs.in_flight_by_agent.items()},
            history=histories(outcome_rows), escalate_after_nudges=rules.escalate_after_nudges,
        )  # fmt: skip

    def issue(self, ready: dict[str, Any]) -> Issue:
        key = (ready["repo"], int(ready["number"]))
        kind = ready.get("type") or self.facts.get(key, {}).get("type")
        return Issue(ready["repo"], int(ready["number"]), self.language.get(ready["repo"]), kind)

    def has_room(self, agent: AgentSpec) -> bool:
        name = agent.name.lower()
        if agent.daily_quota is not None and self.used.get(name, 0) >= agent.daily_quota:
            return False
        return agent.max_in_flight is None or self.in_flight.get(name, 0) < agent.max_in_flight

    def spend(self, agent: AgentSpec) -> None:
        name = agent.name.lower()
        self.used[name] = self.used.get(name, 0) + 1
        self.in_flight[name] = self.in_flight.get(name, 0) + 1

    def choose(self, ready: dict[str, Any]) -> Choice | None:
        return choose(self.model, self.agents, self.issue(ready), ready.get("tried") or (), self.has_room)

    def value(self, ready: dict[str, Any]) -> float:
        """Priority × the best eligible agent's probability of success (0 when no agent may take it)."""
        issue = self.issue(ready)
        best = ranked(self.model, eligible(self.agents, issue, ready.get("tried") or ()), issue)
        return expected_value(ready.get("severity"), best[0][1].p) if best else 0.0

    def order(self, queue: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Expected value first, then the ready queue's order (re-dispatches after the queue at equal value)."""
        position = {id(q): i for i, q in enumerate(queue)}
        return sorted(queue, key=lambda q: (-round(self.value(q), 9), position[id(q)]))

    def why_skipped(self, ready: dict[str, Any]) -> str:
        """`no_agent` when no configured agent takes its repo and language, else `agent_quota`."""
        return "agent_quota" if eligible(self.agents, self.issue(ready), ready.get("tried") or ()) else "no_agent"

    # ── failed attempts ─────────────────────────────────────────────────────

    def failed_issues(self, repos: set[str], recently_planned: set[tuple[str, int]]) -> list[tuple[dict, History]]:
        """Open, not escalated issues of `repos` whose latest attempt failed, with their history."""
        found = []
        for key, past in sorted(self.history.items()):
            fact, latest = self.facts.get(key), past.latest()
            if key[0] not in repos or key in recently_planned or fact is None or not fact.get("is_open"):
                continue
            if _escalated(fact) or latest is None or not has_failed(latest, self.escalate_after_nudges):
                continue
            found.append((latest, past))
        return found

    def retries(self, repos: set[str], recently_planned: set[tuple[str, int]]) -> tuple[list[dict], list[Action]]:
        """Ready-like rows for issues an untried eligible agent can take; escalations for the rest."""
        again, people = [], []
        for latest, past in self.failed_issues(repos, recently_planned):
            issue = self.issue(latest)
            if eligible(self.agents, issue, past.tried()):
                again.append({**_ready_row(latest), "tried": past.tried(), "failed_pr": latest.get("pr_number")})
            else:
                people.append(_to_a_person(latest, past.tried()))
        return again, people


def _escalated(fact: dict[str, Any]) -> bool:
    return HUMAN_LABEL in {str(label).lower() for label in fact.get("labels") or []}


def _ready_row(attempt: dict[str, Any]) -> dict[str, Any]:
    """An attempt's issue, shaped like a `ready_queue` row (it queues after the ready issues)."""
    keys = ("repo", "number", "epic", "phase", "severity", "type")
    return {**{k: attempt.get(k) for k in keys}, "number": int(attempt["number"]), "queue_position": None}


def _to_a_person(attempt: dict[str, Any], tried: tuple[str, ...]) -> Action:
    """Every eligible agent has failed the issue: label it `needs-human` with a comment."""
    number, agents = int(attempt["number"]), ", ".join(tried)
    reason = f"#{number} failed with every agent able to take it ({agents}): a person should take it over."
    why = f"Every agent able to take this issue has tried and failed ({agents})"
    return hand_to_a_person(attempt["repo"], number, reason, why)


def routed_reason(choice: Choice, ready: dict[str, Any]) -> str:
    """What the dispatch's reason adds: why this agent, and the expected value that ordered it."""
    severity = ready.get("severity") or "medium"
    value = expected_value(severity, choice.estimate.p)
    again = " (re-dispatch)" if ready.get("tried") else ""
    return (
        f" Routed{again} to {choice.reason()}; expected value {value:.2f} = priority "
        f"{expected_value(severity, 1.0):g} ({severity}) × {choice.estimate.p:.0%}."
    )
