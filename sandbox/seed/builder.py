"""The builder that creates one demo repo's numbered history in order, and its everyday items."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from sandbox.models import AGENT_BOT, DEFAULT_LOGIN, Issue
from sandbox.seed.agent_history import DEMO_AGENTS
from sandbox.seed.inventory import CONTRIBUTORS, HISTORY_DAYS, MEMBERS, ORG, RepoSpec
from sandbox.seed.texts import AUDIT_BODIES, CHILD_TOPICS, FEATURES
from sandbox.state import SandboxState

if TYPE_CHECKING:
    from sandbox.seed.history import EpicHistory


@dataclass
class Builder:
    """Creates one repo's numbered history in order, so numbers and dates increase together."""

    state: SandboxState
    rng: random.Random
    now: datetime
    repo: str
    spec: RepoSpec
    plan: dict[int, Callable[[int, datetime], None]] = field(default_factory=dict)
    pending_fix: list[tuple[int, datetime]] = field(default_factory=list)  # closed jules issues awaiting a PR
    # Work that must happen after some number (e.g. a child's merged PR): run in the next history slot.
    deferred: list[Callable[[int, datetime], None]] = field(default_factory=list)
    history: EpicHistory | None = None  # finished epics woven into the free numbers
    # With two agents (`reset_demo(agents=True)`): whether the old jules fix PR merges, drawn from
    # jules's seeded rate on the repo's language with its own random stream (None: always merges).
    jules_outcomes: random.Random | None = None

    @property
    def full(self) -> str:
        """owner/name."""
        return f"{ORG}/{self.repo}"

    def created_at(self, number: int) -> datetime:
        """60% of the numbers over the older year, 40% over the last 90 days."""
        split = int(self.spec.numbers * 0.6)
        if number <= split:
            start, span, pos = self.now - timedelta(days=420), timedelta(days=330), number / max(split, 1)
        else:
            start, span = self.now - timedelta(days=90), timedelta(days=89)
            pos = (number - split) / max(self.spec.numbers - split, 1)
        return (start + span * pos).replace(microsecond=0, second=0)

    def build(self) -> None:
        """Create every number from 1 to spec.numbers: planned items, deferred work, or history."""
        repo = self.state.repo(self.full)
        planned = sorted(self.plan)
        for number in range(1, self.spec.numbers + 1):
            assert repo.next_number == number, (self.full, number, repo.next_number)
            when = self.created_at(number)
            if number in self.plan:
                self.plan[number](number, when)
                continue
            # an unplanned number may be created any time between the previous number and the next
            # planned one (which keeps its date), a minute apart each
            after = self._after(number - 1)
            when = max(when, after)
            nxt = next((n for n in planned if n > number), None)
            until = (self.created_at(nxt) if nxt else self.now - timedelta(hours=3)) - timedelta(
                minutes=(nxt or number + 1) - number
            )
            if self.deferred:
                self.deferred.pop(0)(number, when)
            elif not (
                self.history and self.history.take(number, after, until, lambda k, n=number: self._burst_end(n, k))
            ):
                self.filler(number, when)
        if self.history:
            self.history.finish()
        while self.deferred:  # anything left takes the next numbers
            self.deferred.pop(0)(repo.next_number, self.now - timedelta(hours=3))

    def _after(self, number: int) -> datetime:
        """A minute after `number` was created (numbers and dates increase together)."""
        found = self.state.find_issue(self.full, number)
        return (found.created_at if found else self.now - timedelta(days=430)) + timedelta(minutes=1)

    def _burst_end(self, number: int, count: int) -> datetime | None:
        """The date of the last planned item among the numbers it takes to find `count` free ones from
        `number` on (None: none in between; the far future: not enough numbers left)."""
        free, end = 0, None
        for n in range(number, self.spec.numbers + 1):
            if n in self.plan:
                end = self.created_at(n)
            else:
                free += 1
                if free == count:
                    return end
        return datetime.max.replace(tzinfo=UTC)

    def filler(self, number: int, when: datetime) -> None:
        """Closed history: recent numbers are agent work (jules issue + bot PR), older ones ordinary."""
        recent = when >= self.now - timedelta(days=HISTORY_DAYS + 10)
        if recent:
            if self.pending_fix and self.rng.random() < 0.6:
                self.fix_pr(number, when)
            else:
                self.jules_issue(number, when)
            return
        roll = self.rng.random()
        if roll < 0.6:
            title, labels = self.rng.choice(FEATURES)
            closed = min(when + timedelta(hours=self.rng.randint(4, 24 * 20)), self.now - timedelta(hours=1))
            self.state.add_issue(
                self.full,
                title,
                self._body(),
                labels=labels,
                state="closed",
                created_at=when,
                closed_at=closed,
                user=self.rng.choice(MEMBERS + CONTRIBUTORS[:3]),
                state_reason=self.rng.choice(("completed", "completed", "not_planned")),
            )
        else:
            merged = roll < 0.9
            closed = min(when + timedelta(hours=self.rng.randint(2, 24 * 7)), self.now - timedelta(hours=1))
            self.state.add_pull(
                self.full,
                f"{'Refactor' if merged else 'Experiment:'} {self.rng.choice(FEATURES)[0]}",
                head=f"feature/{number}-work",
                body=self._body(),
                user=self.rng.choice(MEMBERS),
                merged=merged,
                state="closed",
                created_at=when,
                closed_at=closed,
                merged_by=DEFAULT_LOGIN if merged else None,
                reviews=[("bodane", "APPROVED")],
            )
            self.state.delete_ref(self.full, f"feature/{number}-work")  # merged branches get deleted

    def _body(self) -> str | None:
        return self.rng.choice(
            (
                None,
                "See title.",
                "Steps to reproduce:\n\n1. run it\n2. watch it fail",
                "Détails dans la discussion — merci ! 🙏",
            )
        )

    def jules_issue(self, number: int, when: datetime) -> None:
        """An issue dispatched to the agent and closed within the history window."""
        topic = self.rng.choice(CHILD_TOPICS)
        start = max(when, self.now - timedelta(days=HISTORY_DAYS))
        closed = min(start + timedelta(hours=self.rng.randint(6, 24 * 5)), self.now - timedelta(hours=1))
        closed = max(closed, when + timedelta(hours=3))
        self.state.add_issue(
            self.full,
            f"{topic[0]}: {topic[1]}",
            "Found by an audit.",
            labels=("audit", *topic[2], "jules"),
            state="closed",
            created_at=when,
            closed_at=closed,
            user=DEFAULT_LOGIN,
            labeled_by=DEFAULT_LOGIN,
            labeled_at=when + timedelta(hours=2),
            closed_by=DEFAULT_LOGIN,
        )
        self.pending_fix.append((number, closed))

    def fix_pr(self, number: int, when: datetime) -> None:
        """The agent's merged PR for a closed jules issue (`Fixes #N`); the issue closes when it merges."""
        issue_number, _ = self.pending_fix.pop(0)
        merged = min(when + timedelta(hours=self.rng.randint(1, 30)), self.now - timedelta(hours=1))
        merges = self.jules_outcomes is None or self.jules_outcomes.random() < jules_rate(self.spec.language)
        self.state.add_pull(
            self.full,
            f"fix: resolve #{issue_number}",
            head=f"jules/{issue_number}-fix",
            body=f"Fixes #{issue_number}\n\nAutomated change by Jules.",
            user=AGENT_BOT,
            merged=merges,
            state="closed",
            created_at=when,
            closed_at=merged,
            merged_by=DEFAULT_LOGIN if merges else None,
            reviews=[(DEFAULT_LOGIN, "APPROVED")],
        )
        self.state.delete_ref(self.full, f"jules/{issue_number}-fix")
        if not merges:  # closed unmerged: the issue stays closed as it was
            return
        merge_sha = self.state.issue(self.full, number).pull.merge_commit_sha  # type: ignore[union-attr]
        self.state.redate_close(self.full, issue_number, merged, merge_sha)

    # ------------------------------------------------------------------ planned items
    def open_feature(self, index: int) -> Callable[[int, datetime], None]:
        """An open feature or bug issue (some assigned, some with comments)."""

        def make(number: int, when: datetime) -> None:
            title, labels = FEATURES[index % len(FEATURES)]
            issue = self.state.add_issue(
                self.full,
                title,
                self._body(),
                labels=labels,
                created_at=when,
                user=self.rng.choice(MEMBERS + CONTRIBUTORS[:3]),
                assignees=(DEFAULT_LOGIN,) if index % 5 == 0 else (),
            )
            if index % 4 == 1:
                self.state.add_comment(
                    self.full,
                    issue.number,
                    "Reproduced on dev — looking into it.",
                    self.rng.choice(MEMBERS),
                    when + timedelta(days=1),
                )

        return make

    def audit(self, index: int) -> Callable[[int, datetime], None]:
        """An open audit issue (title and body cycle through the varied formats)."""

        def make(number: int, when: datetime) -> None:
            title, body = AUDIT_BODIES[index % len(AUDIT_BODIES)]
            if index >= len(AUDIT_BODIES):
                title = f"{title} ({index // len(AUDIT_BODIES) + 1})"
            labels = ("audit",) if index % 3 else ("audit", "needs triage")
            self.state.add_issue(self.full, title, body, labels=labels, created_at=when, user="bodane")

        return make

    def open_pr(self, kind: str, index: int) -> Callable[[int, datetime], None]:
        """An open PR of the given kind (clean, dirty, failing, ...)."""

        def make(number: int, when: datetime) -> None:
            open_pr_of_kind(
                self,
                kind,
                f"feature/{number}-{kind}",
                self.state.repo(self.full).default_branch,
                f"{FEATURES[(index * 3) % len(FEATURES)][0]}",
                None,
                when,
            )

        return make


# How each kind of open PR differs from a clean one (CI green, approved) when add_pull creates it.
CLEAN_PR: dict = {"ci": "success", "reviews": [("bodane", "APPROVED")]}
PR_KINDS: dict[str, dict] = {
    "dirty": {"mergeable": False, "ci": "success"},
    "failing": {"ci": "failure"},
    "status-failure": {"ci": None, "status": "failure"},
    "changes-requested": {"reviews": [("bodane", "CHANGES_REQUESTED")]},
    "behind": {"behind": True},
    "draft": {"draft": True, "ci": "pending"},
    "pending": {"ci": "pending", "status": "pending"},
    "stale": {"ci": "success"},  # placed at an old enough number (see stale_slot): nothing happened since
}


def open_pr_of_kind(
    b: Builder, kind: str, head: str, base: str, title: str, fixes: int | None, when: datetime
) -> Issue:
    """Open PRs in each state GitHub can report (`fixes`: the agent's PR for that issue)."""
    body = f"Fixes #{fixes}\n\nAutomated change by Jules." if fixes else "Work in progress, see commits."
    user = AGENT_BOT if fixes else b.rng.choice(MEMBERS)
    kwargs = dict(PR_KINDS.get(kind, CLEAN_PR))
    if kind == "clean-fixes":  # merging it would close the repo's oldest open issue
        target = min(
            (i.number for i in b.state.repo_issues(b.full) if i.state == "open" and not i.is_pull),
            default=1,
        )
        body = f"Fixes #{target}\n\nAlso tidies the docs."
    pr = b.state.add_pull(b.full, title, head=head, base=base, body=body, user=user, created_at=when, **kwargs)
    if kind == "dirty":
        b.state.add_comment(
            b.full, pr.number, "@jules fix the merge conflict", DEFAULT_LOGIN, when + timedelta(hours=5)
        )
    return pr


def jules_rate(language: str) -> float:
    """jules's seeded success rate on `language` (sandbox.seed.agent_history.DEMO_AGENTS)."""
    return next(agent.rate(language) for agent in DEMO_AGENTS if agent.name == "jules")
