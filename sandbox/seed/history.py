"""Finished (and half-done) epics of the last weeks, woven into the free numbers of a repo's history."""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sandbox.models import AGENT_BOT, DEFAULT_LOGIN
from sandbox.seed.texts import CHILD_TOPICS, PHASE_NAMES

if TYPE_CHECKING:
    from sandbox.seed.builder import Builder


@dataclass(frozen=True)
class HistoryEpic:
    """An epic worked through over the last weeks: children dispatched phase by phase, merged, closed.

    ``done`` None: every child merges and the epic closes; a number: the epic stays open once that
    many children merged (half done).
    """

    repo: str
    title: str
    slug: str
    start_days_ago: float
    phases: tuple[int, ...]  # children per phase when the epic is created
    added: int = 0  # children added to the last phase after the epic was created (scope growth)
    done: int | None = None


# Placed where each repo has free numbers enough (numbers and dates increase together), so that
# with seed 7 every one of them finishes (or stops half done) inside the history window.
HISTORY_EPICS: tuple[HistoryEpic, ...] = (
    HistoryEpic("core", "Epic: Tenant isolation", "tenant-isolation", 35, (1, 2, 1), done=2),
    HistoryEpic("core", "Epic: Observability", "observability", 34, (2, 2, 2), done=3),
    HistoryEpic("core", "Epic: Session management", "session-management", 64, (2, 2)),
    HistoryEpic("core", "Epic: Queue worker reliability", "queue-reliability", 55, (1, 3, 1)),
    HistoryEpic("core", "Epic: API error handling", "api-errors", 45, (2, 2), added=1),
    HistoryEpic("core", "Epic: Config loading", "config-loading", 16, (1, 2)),
    HistoryEpic("core-php", "Epic: Auth module hardening", "auth-hardening", 64, (1, 2)),
    HistoryEpic("core-claude", "Epic: Prompt pipeline cleanup", "prompt-cleanup", 61, (2, 1)),
    HistoryEpic("core-api", "Epic: Input validation", "input-validation", 60, (1, 2)),
    HistoryEpic("core-admin", "Epic: Admin audit log", "admin-audit-log", 47, (1, 2)),
    HistoryEpic("core-mcp", "Epic: Transport tests", "transport-tests", 60, (1, 2), added=1),
    HistoryEpic("core-tenant", "Epic: Tenant provisioning", "tenant-provisioning", 68, (1, 2)),
)
HISTORY_LANG = {"Go": "lang:go", "PHP": "lang:php", "TypeScript": "lang:ts"}
FAILED_ATTEMPT_RATE = 0.1


@dataclass
class _HistoryChild:
    phase: int  # 0-based
    topic: tuple
    added_after: timedelta | None = None  # scope growth: created this long after the epic
    number: int | None = None
    created: datetime | None = None
    ready: datetime | None = None  # its phase may be dispatched from then on
    labelled: bool = False
    failures: int = 0
    attempt: tuple[float, float, float] | None = None  # (lead days, share of lead before the PR, lag hours)
    closed: datetime | None = None


@dataclass
class _HistoryRun:
    spec: HistoryEpic
    start: datetime
    children: list[_HistoryChild]
    number: int | None = None
    created: datetime | None = None
    merged: int = 0
    finished: datetime | None = None

    @property
    def branch(self) -> str:
        return f"epic/{self.number}-{self.spec.slug}"

    def frozen(self) -> bool:
        """A half-done epic stops once `done` children merged."""
        return self.spec.done is not None and self.merged >= self.spec.done


class EpicHistory:
    """Finished (and half-done) epics woven into a repo's free history numbers.

    The builder offers every free number with the window its creation time must fall in (after the
    previous number, before the next); the item due earliest takes it: a child, the epic, an added
    child or an agent PR. Dispatch, merge and close times follow from when each PR could be opened,
    so numbers and dates still increase together.
    """

    def __init__(self, b: Builder, specs: list[HistoryEpic], rng: random.Random) -> None:
        self.b, self.rng = b, rng
        self.runs: list[_HistoryRun] = []
        for spec in specs:
            start = (b.now - timedelta(days=spec.start_days_ago, hours=rng.uniform(0, 20))).replace(second=0)
            kids = [_HistoryChild(p, rng.choice(CHILD_TOPICS)) for p, n in enumerate(spec.phases) for _ in range(n)]
            kids += [
                _HistoryChild(
                    len(spec.phases) - 1, rng.choice(CHILD_TOPICS), added_after=timedelta(hours=rng.uniform(20, 70))
                )
                for _ in range(spec.added)
            ]
            self.runs.append(_HistoryRun(spec, start, kids))

    # ------------------------------------------------------------------ slots
    def take(self, number: int, lo: datetime, hi: datetime, burst_end: Callable[[int], datetime | None]) -> bool:
        """Create the earliest due item at `number` if one fits in [lo, hi]; False leaves it to the filler.

        An epic and its first children are created together: they start only where the numbers they
        need are free within three days (`burst_end(k)`: the date of the last planned number
        among the next k free ones).
        """
        for run in self.runs:  # an epic being created finishes first
            if run.number is None and any(c.number is not None for c in run.children):
                when, make = next(self._due(run, lo))
                make(number, when)
                return True
        best: tuple[datetime, int, Callable[[int, datetime], None]] | None = None
        for i, run in enumerate(self.runs):
            if run.number is None:
                end = burst_end(1 + sum(c.added_after is None for c in run.children))
                if end is not None and end > max(lo, run.start) + timedelta(hours=72):
                    continue
            for when, make in self._due(run, lo):
                if when <= hi and (best is None or when < best[0]):
                    best = (when, i, make)
        if best is None:
            return False
        best[2](number, best[0])
        return True

    def _due(self, run: _HistoryRun, lo: datetime):
        initial = [c for c in run.children if c.added_after is None]
        waiting = [c for c in initial if c.number is None]
        if waiting:
            k = len(initial) - len(waiting)
            yield max(run.start + timedelta(minutes=3 * k), lo), lambda n, t, c=waiting[0]: self._child(run, c, n, t)
            return
        if run.number is None:
            last = max(c.created for c in initial)  # type: ignore[type-var]
            yield max(last + timedelta(minutes=6), lo), lambda n, t: self._epic(run, n, t)
            return
        for c in run.children:
            if c.number is None:
                yield max(run.created + c.added_after, lo), lambda n, t, c=c: self._child(run, c, n, t)  # type: ignore[operator]
        if run.frozen():
            return
        for c in run.children:
            if c.number is None or c.ready is None or c.closed is not None:
                continue
            if c.attempt is None:
                lead = min(6.0, max(0.5, self.rng.lognormvariate(math.log(1.5), 0.6)))
                c.attempt = (lead, self.rng.uniform(0.2, 0.6), self.rng.uniform(0.5, 9))
            lead, share, lag = c.attempt
            opened = max(c.ready + timedelta(hours=lag) + timedelta(days=lead * share), lo)
            if opened + timedelta(days=lead * (1 - share)) < self.b.now - timedelta(hours=3):
                yield opened, lambda n, t, c=c: self._pr(run, c, n, t)

    # ------------------------------------------------------------------ items
    def _child(self, run: _HistoryRun, c: _HistoryChild, number: int, when: datetime) -> None:
        b = self.b
        area, title, labels = c.topic
        lang = HISTORY_LANG.get(b.spec.language)
        body = (
            f"From the audit of `{b.repo}`.\n\n**Area:** {area}\n\n"
            "Acceptance: tests cover the fix; no regression in CI."
        )
        b.state.add_issue(
            b.full,
            f"{area}: {title}",
            body,
            labels=("audit", *labels, *((lang,) if lang else ())),
            created_at=when,
            user=DEFAULT_LOGIN,
        )
        c.number, c.created = number, when
        if run.number is not None:  # scope growth: listed in the epic from now on
            b.state.add_comment(b.full, number, f"Parent: #{run.number}", DEFAULT_LOGIN, when + timedelta(minutes=2))
            self._maybe_ready(run, c.phase)

    def _epic(self, run: _HistoryRun, number: int, when: datetime) -> None:
        b = self.b
        b.state.add_issue(
            b.full, run.spec.title, self._body(run), labels=("epic", "agentic"), created_at=when, user=DEFAULT_LOGIN
        )
        run.number, run.created = number, when
        b.state.add_branch(b.full, run.branch)
        for i, c in enumerate(c for c in run.children if c.number is not None):
            b.state.add_comment(b.full, c.number, f"Parent: #{number}", DEFAULT_LOGIN, when + timedelta(minutes=1 + i))
        self._set_ready(run, 0, when + timedelta(hours=self.rng.uniform(1, 6)))

    def _set_ready(self, run: _HistoryRun, phase: int, when: datetime) -> None:
        for c in run.children:
            if c.phase == phase and c.ready is None and c.number is not None:
                c.ready = max(when, c.created + timedelta(minutes=30))  # type: ignore[operator]

    def _maybe_ready(self, run: _HistoryRun, phase: int) -> None:
        """An added child of a phase already under way is ready at once."""
        if any(c.ready is not None for c in run.children if c.phase == phase):
            self._set_ready(run, phase, max(c.ready for c in run.children if c.phase == phase and c.ready is not None))

    def _pr(self, run: _HistoryRun, c: _HistoryChild, number: int, opened: datetime) -> None:
        """The agent's PR for child c at `number`: dispatched first if needed, then failed once or merged."""
        lead, share, _ = c.attempt  # type: ignore[misc]
        c.attempt = None
        dispatched = (opened - timedelta(days=lead * share)).replace(second=0, microsecond=0)
        dispatched = max(dispatched, c.ready)  # type: ignore[type-var]
        if not c.labelled:
            self._dispatch(run, c, dispatched)
        if c.failures == 0 and self.rng.random() < FAILED_ATTEMPT_RATE:
            self._failed_attempt(run, c, opened)
            return
        merged = max(dispatched + timedelta(days=lead), opened + timedelta(hours=1)).replace(second=0, microsecond=0)
        self._merged_attempt(run, c, opened, merged)

    def _dispatch(self, run: _HistoryRun, c: _HistoryChild, when: datetime) -> None:
        """The child gets the agent's label (and, the first time, the epic branch to target)."""
        b = self.b
        b.state.label_at(b.full, c.number, ["jules"], DEFAULT_LOGIN, when)  # type: ignore[arg-type]
        if c.failures == 0:
            b.state.add_comment(
                b.full,
                c.number,  # type: ignore[arg-type]
                f"Target branch: `{run.branch}` (epic #{run.number})",
                DEFAULT_LOGIN,
                when + timedelta(minutes=1),
            )
        c.labelled = True

    def _agent_pull(self, run: _HistoryRun, c: _HistoryChild, opened: datetime, closed: datetime, **outcome) -> None:
        """The agent's PR for the child into the epic branch, closed at `closed`; its branch deleted."""
        b = self.b
        issue = b.state.issue(b.full, c.number)  # type: ignore[arg-type]
        head = f"jules/{issue.number}-{'retry' if c.failures else 'fix'}"
        b.state.add_pull(
            b.full,
            f"fix: {issue.title}",
            head=head,
            base=run.branch,
            body=f"Fixes #{issue.number}\n\nAutomated change by Jules.",
            user=AGENT_BOT,
            created_at=opened,
            closed_at=closed,
            **outcome,
        )
        b.state.delete_ref(b.full, head)

    def _failed_attempt(self, run: _HistoryRun, c: _HistoryChild, opened: datetime) -> None:
        """The first PR fails CI and is closed; the child is un-labelled, to be dispatched again."""
        b, number = self.b, c.number
        closed = opened + timedelta(hours=self.rng.uniform(5, 30))
        self._agent_pull(run, c, opened, closed, state="closed", ci="failure")
        b.state.add_comment(
            b.full,
            number,  # type: ignore[arg-type]
            "The agent's PR failed CI twice; closed it, re-dispatching.",
            DEFAULT_LOGIN,
            closed + timedelta(minutes=5),
        )
        b.state.unlabel_at(b.full, number, "jules", DEFAULT_LOGIN, closed + timedelta(minutes=6))  # type: ignore[arg-type]
        c.failures, c.labelled, c.ready = 1, False, closed + timedelta(minutes=10)
        b.state.bump_updated_at(b.full, number, closed + timedelta(minutes=10))  # type: ignore[arg-type]

    def _merged_attempt(self, run: _HistoryRun, c: _HistoryChild, opened: datetime, merged: datetime) -> None:
        """The PR merges into the epic branch and the child is closed; a finished phase readies the next."""
        b, rng = self.b, self.rng
        self._agent_pull(
            run, c, opened, merged, merged=True, merged_by=DEFAULT_LOGIN, reviews=[(DEFAULT_LOGIN, "APPROVED")]
        )
        c.closed = merged + timedelta(minutes=10)
        b.state.close_at(b.full, c.number, DEFAULT_LOGIN, c.closed)  # type: ignore[arg-type]
        run.merged += 1
        phase = [x for x in run.children if x.phase == c.phase]
        if all(x.closed is not None for x in phase):
            end = max(x.closed for x in phase)  # type: ignore[type-var]
            if c.phase + 1 < len(run.spec.phases):
                self._set_ready(run, c.phase + 1, end + timedelta(hours=rng.uniform(1, 8)))
            elif all(x.closed is not None for x in run.children) and run.spec.done is None:
                run.finished = min(end + timedelta(hours=rng.uniform(2, 18)), b.now - timedelta(hours=1))

    # ------------------------------------------------------------------ the end
    def _body(self, run: _HistoryRun) -> str:
        lines = [
            f"## {run.spec.title.removeprefix('Epic: ')}",
            "",
            "Tracking epic created by the orchestrator. Children are dispatched phase by phase.",
            "",
        ]
        for p in range(len(run.spec.phases)):
            lines.append(f"## Phase {p + 1}: {PHASE_NAMES[p]}")
            for c in run.children:
                if c.phase == p and c.number is not None:
                    lines.append(f"- [{'x' if c.closed else ' '}] #{c.number}")
            lines.append("")
        return "\n".join(lines).rstrip() + "\n"

    def finish(self) -> None:
        """Final epic bodies (ticks, added children); finished epics closed and their branch merged away."""
        state, b = self.b.state, self.b
        for run in self.runs:
            if run.number is None:
                continue
            state.rewrite_body(b.full, run.number, self._body(run))
            if run.spec.done is not None:  # half done: the next child of the open phase is with the agent
                self._dispatch_next(run)
                continue
            if run.finished is None:
                continue  # ran out of history: it stays open
            state.close_at(b.full, run.number, DEFAULT_LOGIN, run.finished)
            state.delete_ref(b.full, run.branch)

    def _dispatch_next(self, run: _HistoryRun) -> None:
        """A half-done epic ends with its next ready child dispatched to the agent."""
        b = self.b
        nxt = next((c for c in run.children if c.ready and not c.closed and c.number and not c.labelled), None)
        if nxt is None or nxt.ready >= b.now:  # type: ignore[operator]
            return
        b.state.label_at(b.full, nxt.number, ["jules"], DEFAULT_LOGIN, nxt.ready)  # type: ignore[arg-type]
        b.state.add_comment(
            b.full,
            nxt.number,  # type: ignore[arg-type]
            f"Target branch: `{run.branch}` (epic #{run.number})",
            DEFAULT_LOGIN,
            nxt.ready + timedelta(minutes=1),  # type: ignore[operator]
        )


def history_open_count(repo: str) -> int:
    """Open issues the half-done history epics of a repo leave: each epic and its children not merged."""
    return sum(1 + sum(e.phases) + e.added - e.done for e in HISTORY_EPICS if e.repo == repo and e.done is not None)
