"""Routing by measured success: which agent gets a ready issue, and how sure we are it will merge.

Pure. The estimate comes from the `outcomes` mart's finished attempts (`merged` is a success,
`closed_unmerged` and `abandoned` are failures; `in_flight` tells nothing yet):

1. the organisation's rate, Laplace-smoothed: (S + 1) / (N + 2);
2. each agent's overall rate, shrunk toward the organisation's with `prior_strength` k pseudo-attempts:
   p_agent = (s + k·p_org) / (n + k) (a Beta prior: empirical Bayes);
3. then from the broadest evidence to the most specific, each level shrunk toward the one before:
   p_type = (s_t + k·p_agent) / (n_t + k)   (the agent on the finding type, every language),
   p_lang = (s_l + k·p_type) / (n_l + k)    (the agent on the repository's language),
   p      = (s_r + k·p_lang) / (n_r + k)    (the agent on the repository itself).
   The type cell, which mixes languages and often holds the most data, only sets the prior of the
   language cell: where the agent has language data, that data decides, and the repository's own
   record refines it. A level the issue has no value for, or with no data, passes its prior through,
   so with no data at all p is the agent's rate. Each step is increasing in its successes and in its
   prior, so p never falls when a failure becomes a success.

Agents with fewer than `min_attempts` finished attempts are explored: a deterministic share
(`exploration`) of the issues, drawn from the plan's seed and the issue's key, goes to one of them
even when another agent looks better, so every agent keeps being measured.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from common.agents import Agent

SUCCESS = "merged"
FAILURES = ("closed_unmerged", "abandoned")
FINISHED = (SUCCESS, *FAILURES)
DIMENSIONS = ("type", "language", "repo")  # broadest first: each is the next one's prior
# How much each severity is worth when the plan orders dispatches by expected value (priority × p).
SEVERITY_WEIGHT = {"critical": 8, "high": 4, "medium": 2, "low": 1}


@dataclass(frozen=True)
class RoutingRules:
    """`[routing]`: how measured success steers dispatch."""

    prior_strength: float = 10.0  # k: pseudo-attempts of the prior (the agent's rate, the org's rate)
    min_attempts: int = 5  # an agent with fewer finished attempts is explored
    exploration: float = 0.1  # share of issues that go to an under-measured agent
    seed: int = 0  # the plan's seed: the same inputs choose the same agents


@dataclass(frozen=True)
class AgentSpec:
    """One agent of `[[agents]]` as the planner uses it: its back-end and its limits."""

    name: str
    backend: Agent
    repos: tuple[str, ...] = ()  # empty: every repository
    languages: tuple[str, ...] = ()  # empty: every language
    daily_quota: int | None = None  # its own pool of tasks a day
    max_in_flight: int | None = None

    def eligible(self, repo: str, language: str | None) -> bool:
        """Whether this agent may take work in `repo` (written in `language`)."""
        name = repo.split("/")[-1].lower()
        if self.repos and name not in {r.split("/")[-1].lower() for r in self.repos} and "*" not in self.repos:
            return False
        wanted = {lang.lower() for lang in self.languages}
        return not wanted or (language or "").lower() in wanted


@dataclass
class Tally:
    successes: int = 0
    attempts: int = 0

    def add(self, success: bool) -> None:
        self.successes += int(success)
        self.attempts += 1


def shrunk(successes: float, attempts: float, prior: float, strength: float) -> float:
    """The Beta posterior mean with `strength` pseudo-attempts at rate `prior`."""
    return (successes + strength * prior) / (attempts + strength)


@dataclass(frozen=True)
class Cell:
    dimension: str
    value: str
    p: float
    attempts: int


@dataclass(frozen=True)
class Estimate:
    """The expected success of one agent on one issue, with what it rests on."""

    agent: str
    p: float
    attempts: int  # the agent's finished attempts
    cells: tuple[Cell, ...] = ()

    def evidence(self) -> str:
        """`78% on Go (32 attempts)`: the most specific measured cell (repo, language, type), else the
        agent's overall record."""
        measured = [c for c in self.cells if c.attempts > 0]
        if not measured:
            return f"{self.p:.0%} overall ({self.attempts} attempts)"
        # the language names the evidence best; the repo when it is all there is beyond the type
        best = next((c for c in measured if c.dimension == "language"), measured[-1])
        return f"{self.p:.0%} on {best.value} ({best.attempts} attempts)"


@dataclass(frozen=True)
class Issue:
    """What routing needs to know about an issue."""

    repo: str
    number: int
    language: str | None = None
    type: str | None = None

    def features(self) -> dict[str, str | None]:
        return {"language": self.language, "repo": self.repo, "type": self.type}


class SuccessModel:
    """Success tallies from finished attempts, and the shrunk estimates built on them."""

    def __init__(self, attempts: Iterable[dict[str, Any]], rules: RoutingRules | None = None) -> None:
        self.rules = rules or RoutingRules()
        self.org = Tally()
        self.agents: dict[str, Tally] = {}
        self.cells: dict[tuple[str, str, str], Tally] = {}
        for row in attempts:
            if row.get("outcome") not in FINISHED or not row.get("agent"):
                continue
            agent, success = str(row["agent"]).lower(), row["outcome"] == SUCCESS
            self.org.add(success)
            self.agents.setdefault(agent, Tally()).add(success)
            for dimension in DIMENSIONS:
                if row.get(dimension):
                    self.cells.setdefault((agent, dimension, str(row[dimension]).lower()), Tally()).add(success)

    def org_rate(self) -> float:
        return shrunk(self.org.successes, self.org.attempts, 0.5, 2.0)

    def attempts(self, agent: str) -> int:
        return self.agents.get(agent.lower(), Tally()).attempts

    def agent_rate(self, agent: str) -> float:
        tally = self.agents.get(agent.lower(), Tally())
        return shrunk(tally.successes, tally.attempts, self.org_rate(), self.rules.prior_strength)

    def estimate(self, agent: str, issue: Issue) -> Estimate:
        """Expected success of `agent` on `issue`: type, then language, then repo, each shrunk toward the
        one before (see the module docstring)."""
        k, p = self.rules.prior_strength, self.agent_rate(agent)
        cells = []
        features = issue.features()
        for dimension in DIMENSIONS:
            value = features.get(dimension)
            if not value:
                continue
            tally = self.cells.get((agent.lower(), dimension, str(value).lower()), Tally())
            p = shrunk(tally.successes, tally.attempts, p, k)
            cells.append(Cell(dimension, str(value).split("/")[-1], p, tally.attempts))
        return Estimate(agent, min(max(p, 0.0), 1.0), self.attempts(agent), tuple(cells))


def draw(seed: int, issue: Issue, salt: str = "") -> float:
    """A uniform number in [0, 1) fixed by the seed and the issue: reproducible exploration."""
    digest = hashlib.sha256(f"{seed}:{issue.repo}#{issue.number}:{salt}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


@dataclass(frozen=True)
class Choice:
    """The agent chosen for an issue, and why."""

    agent: AgentSpec
    estimate: Estimate
    runner_up: Estimate | None = None
    explored: bool = False
    tried: tuple[str, ...] = ()

    def reason(self) -> str:
        """`codex: 78% on Go (32 attempts) vs jules 41%`."""
        text = f"{self.agent.name}: {self.estimate.evidence()}"
        if self.explored:
            text = (f"{self.agent.name}: exploring, {self.estimate.attempts} finished attempts so far "
                    f"({self.estimate.p:.0%} expected)")  # fmt: skip
        if self.runner_up is not None:
            text += f" vs {'best ' if self.explored else ''}{self.runner_up.agent} {self.runner_up.p:.0%}"
        if self.tried:
            text += f"; {', '.join(self.tried)} failed it before"
        return text


def ranked(model: SuccessModel, agents: Iterable[AgentSpec], issue: Issue) -> list[tuple[AgentSpec, Estimate]]:
    """Agents by expected success on `issue`, best first (ties by name)."""
    scored = [(agent, model.estimate(agent.name, issue)) for agent in agents]
    return sorted(scored, key=lambda pair: (-pair[1].p, pair[0].name))


def eligible(agents: Iterable[AgentSpec], issue: Issue, tried: Iterable[str] = ()) -> list[AgentSpec]:
    """Agents allowed on the issue's repo and language that have not failed it yet."""
    done = {name.lower() for name in tried}
    return [a for a in agents if a.eligible(issue.repo, issue.language) and a.name.lower() not in done]


def choose(
    model: SuccessModel,
    agents: Iterable[AgentSpec],
    issue: Issue,
    tried: Iterable[str] = (),
    has_room: Callable[[AgentSpec], bool] = lambda agent: True,
) -> Choice | None:
    """The best agent with room for `issue` (or, on the exploration draw, an under-measured one);
    None when no eligible, untried agent has room."""
    tried = tuple(tried)
    candidates = [a for a in eligible(agents, issue, tried) if has_room(a)]
    if not candidates:
        return None
    order = ranked(model, candidates, issue)
    rules = model.rules
    novices = [pair for pair in order if model.attempts(pair[0].name) < rules.min_attempts]
    if novices and novices[0] is not order[0] and draw(rules.seed, issue) < rules.exploration:
        pick = novices[int(draw(rules.seed, issue, "which") * len(novices))]
        return Choice(pick[0], pick[1], order[0][1], explored=True, tried=tried)
    runner_up = order[1][1] if len(order) > 1 else None
    return Choice(order[0][0], order[0][1], runner_up, tried=tried)


def expected_value(severity: str | None, p: float) -> float:
    """Priority × probability of success: what a dispatch is worth."""
    return SEVERITY_WEIGHT.get(severity or "medium", 2) * p


# ── failed attempts: who tried, and whether the issue goes back out ───────────


@dataclass
class History:
    """One issue's attempts, oldest first."""

    attempts: list[dict[str, Any]] = field(default_factory=list)

    def tried(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(str(a["agent"]).lower() for a in self.attempts if a.get("agent")))

    def latest(self) -> dict[str, Any] | None:
        return self.attempts[-1] if self.attempts else None


def has_failed(attempt: dict[str, Any], escalate_after_nudges: int) -> bool:
    """A PR closed unmerged, no PR long after dispatch, or CI still failing after the nudges."""
    if attempt.get("outcome") in FAILURES:
        return True
    stuck_on_ci = int(attempt.get("ci_failures") or 0) > 0 and int(attempt.get("nudges") or 0) >= escalate_after_nudges
    return attempt.get("outcome") == "in_flight" and stuck_on_ci


def histories(outcomes: Iterable[dict[str, Any]]) -> dict[tuple[str, int], History]:
    """Every dispatched issue's attempts, oldest first."""
    found: dict[tuple[str, int], History] = {}
    ordered = sorted(outcomes, key=lambda r: (str(r.get("dispatched_at") or ""), str(r.get("agent") or "")))
    for row in ordered:
        found.setdefault((row["repo"], int(row["number"])), History()).attempts.append(row)
    return found
