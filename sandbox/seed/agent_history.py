"""Several agents' dispatch history: label events, their PRs merged or closed, re-dispatches.

`seed_agent_history(state, org, repos, agents, ...)` writes `days` of past dispatches into existing
repositories through the state's back-dated methods and returns the truth, one `Dispatch` per
attempt (repo, number, agent, outcome), for tests to compare with the `outcomes` view. Each agent
has a success rate per language (`AgentSpec.rates`); the demo gives `jules` (strong on Python and
PHP) and `codex` (Go and TypeScript) different strengths. What GitHub would show, with its noise: a
label removed and added again within minutes, a re-dispatch to the other agent after a failed
attempt, work started in an agent's own interface (a PR with no label), failing CI on failed PRs,
issues closed when their PR merges.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sandbox.models import DEFAULT_LOGIN
from sandbox.state import SandboxState

ABANDONED_AFTER_DAYS = 14  # the orchestrator's default `[outcomes] abandoned_after_days`


@dataclass(frozen=True)
class AgentSpec:
    """An agent as GitHub sees it: the label that dispatches to it, who writes its PRs and on what branch."""

    name: str
    label: str
    pr_author: str
    branch_prefix: str
    rates: dict[str, float] = field(default_factory=dict)  # language -> P(merged)
    default_rate: float = 0.5

    def rate(self, language: str) -> float:
        return self.rates.get(language, self.default_rate)


@dataclass
class Dispatch:
    """One attempt, as it truly happened."""

    repo: str
    number: int
    agent: str
    outcome: str  # merged | closed_unmerged | abandoned | in_flight
    dispatched_at: datetime  # UTC, timezone-aware
    pr_number: int | None = None


DEMO_AGENTS = (
    AgentSpec("jules", "jules", "google-labs-jules[bot]", "jules-",
              {"Python": 0.85, "Go": 0.35, "TypeScript": 0.4, "PHP": 0.75}, 0.5),
    AgentSpec("codex", "codex", DEFAULT_LOGIN, "codex/",
              {"Python": 0.4, "Go": 0.85, "TypeScript": 0.8, "PHP": 0.45}, 0.5),
)  # fmt: skip


class _Writer:
    def __init__(self, state: SandboxState, rng: random.Random, now: datetime, people: list[str]) -> None:
        self.state, self.rng, self.now, self.people = state, rng, now, people
        self.truth: list[Dispatch] = []

    def issue(self, repo: str, when: datetime, kind: str) -> int:
        severity = self.rng.choice(["critical", "high", "medium", "low"])
        labels = [f"severity:{severity}", f"type:{kind}"]
        title = f"Fix {kind} finding {self.rng.randrange(10_000)}"
        issue = self.state.add_issue(repo, title, f"A {kind} problem to fix.", labels=labels,
                                     created_at=when, user=self.rng.choice(self.people))  # fmt: skip
        return issue.number

    def label(self, repo: str, number: int, agent: AgentSpec, when: datetime, actor: str) -> None:
        self.state.label_at(repo, number, [agent.label], actor, when)
        if self.rng.random() < 0.15:  # noise: taken off and put back a few minutes later
            self.state.unlabel_at(repo, number, agent.label, actor, when + timedelta(minutes=2))
            self.state.label_at(repo, number, [agent.label], actor, when + timedelta(minutes=5))

    def pull(self, repo: str, number: int, agent: AgentSpec, opened: datetime, outcome: str) -> tuple[int, datetime]:
        """The agent's PR for #number: merged (closing the issue), closed unmerged, or open; when it ended."""
        ended = min(opened + timedelta(hours=self.rng.uniform(2, 72)), self.now - timedelta(minutes=30))
        merged, closed = outcome == "merged", outcome in ("merged", "closed_unmerged")
        pull = self.state.add_pull(
            repo, f"Fix #{number}", f"{agent.branch_prefix}{number}-{self.rng.randrange(1 << 16):04x}",
            body=f"Fixes #{number}\n\nWork by {agent.name}.", user=agent.pr_author,
            state="closed" if closed else "open", merged=merged, created_at=opened,
            closed_at=ended if closed else None, merged_by=DEFAULT_LOGIN if merged else None,
            ci="success" if merged else self.rng.choice(["failure", "success"]),
        )  # fmt: skip
        if merged:
            self.state.close_at(repo, number, DEFAULT_LOGIN, ended)
        return pull.number, ended

    def attempt(self, repo: str, number: int, agent: AgentSpec, start: datetime, outcome: str,
                by_label: bool = True) -> datetime:  # fmt: skip
        """One attempt and the moment it ended (a later attempt may start after that)."""
        by_label = by_label or outcome == "abandoned"  # work with no label and no PR leaves no trace
        if by_label:
            self.label(repo, number, agent, start, self.rng.choice(self.people))
        pr_number, ended = None, start + timedelta(days=ABANDONED_AFTER_DAYS + 1)
        if outcome != "abandoned" and not (outcome == "in_flight" and by_label and self.rng.random() < 0.5):
            opened = start if not by_label else start + timedelta(hours=self.rng.uniform(0.5, 30))
            opened = min(opened, self.now - timedelta(hours=1))
            pr_number, ended = self.pull(repo, number, agent, opened, outcome)
            start = start if by_label else opened
        self.truth.append(Dispatch(repo, number, agent.name, outcome, start, pr_number))
        if by_label and outcome in ("closed_unmerged", "abandoned"):
            self.state.unlabel_at(repo, number, agent.label, DEFAULT_LOGIN, ended + timedelta(minutes=5))
        return ended + timedelta(minutes=5)


def _outcome(rng: random.Random, rate: float, start: datetime, now: datetime) -> str:
    if now - start < timedelta(days=3):
        return "in_flight"
    if rng.random() < rate:
        return "merged"
    if now - start > timedelta(days=ABANDONED_AFTER_DAYS + 1) and rng.random() < 0.3:
        return "abandoned"
    return "closed_unmerged"


def seed_agent_history(
    state: SandboxState,
    repos: dict[str, str],
    agents: tuple[AgentSpec, ...] = DEMO_AGENTS,
    now: datetime | None = None,
    days: int = 90,
    per_repo: int = 30,
    seed: int = 7,
    people: tuple[str, ...] = (DEFAULT_LOGIN,),
) -> list[Dispatch]:
    """Write `per_repo` dispatched issues into each repo (full name -> language) over `days`; the truth."""
    now = now or state.clock()
    now = now.replace(tzinfo=UTC) if now.tzinfo is None else now.astimezone(UTC)  # GitHub's times are UTC
    rng = random.Random(seed)
    writer = _Writer(state, rng, now, list(people))
    with state.lock:
        for repo, language in repos.items():
            for _ in range(per_repo):
                _one_issue(writer, repo, language, agents, now - timedelta(days=rng.uniform(0.5, days)))
    return writer.truth


def _one_issue(writer: _Writer, repo: str, language: str, agents: tuple[AgentSpec, ...], start: datetime) -> None:
    rng, now = writer.rng, writer.now
    number = writer.issue(repo, start - timedelta(hours=rng.uniform(1, 48)), rng.choice(["security", "bug", "docs"]))
    first = rng.choice(agents)
    by_label = rng.random() > 0.08  # some work is started in the agent's own interface: a PR, no label
    outcome = _outcome(rng, first.rate(language), start, now)
    ended = writer.attempt(repo, number, first, start, outcome, by_label)
    if outcome in ("closed_unmerged", "abandoned") and rng.random() < 0.5:
        retry_at = ended + timedelta(hours=rng.uniform(1, 48))
        if retry_at < now - timedelta(hours=2):
            second = rng.choice([a for a in agents if a.name != first.name] or [first])
            writer.attempt(repo, number, second, retry_at, _outcome(rng, second.rate(language), retry_at, now))
