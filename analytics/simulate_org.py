"""Synthetic organisations with a KNOWN generating process, for calibrating and benchmarking the forecast.

The process mirrors the pipeline: epics with 1-3 phases of children are created over a window;
each day the planner dispatches ready children of the current phase of each open epic, in
priority order (priority, then repos with most open work), never more than ``max_repo_share``
of the day's capacity to one repo unless only one repo has ready work. A dispatch merges with the
repo's success probability after a lognormal lead time, or fails after a lognormal lag and the
child is re-dispatched later. Open epics gain children at a per-epic Poisson rate (scope growth).
The next phase is dispatched the day after the last child of the current phase merged.

Two parameter families: ``"dev"`` (used while tuning) and ``"test"`` (wider ranges, used by tests).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np
import pandas as pd

FAMILIES = {
    "dev": dict(
        repos=(3, 6),
        success=(0.6, 0.9),
        lead_median=(1.0, 4.0),
        lead_sigma=(0.5, 0.9),
        fail_median=(1.0, 3.0),
        scope_rate=(0.0, 0.05),
        scope_k=2.0,
        capacity=(6, 14),
        phases=(1, 3),
        children=(1, 7),
        window=60,
    ),
    "test": dict(
        repos=(2, 8),
        success=(0.45, 0.95),
        lead_median=(0.7, 6.0),
        lead_sigma=(0.3, 1.1),
        fail_median=(0.5, 4.0),
        scope_rate=(0.0, 0.08),
        scope_k=1.0,
        capacity=(4, 20),
        phases=(1, 3),
        children=(1, 9),
        window=80,
    ),
}


@dataclass
class SyntheticOrg:
    """Frames shaped like real history, plus the truth that generated them."""

    children: pd.DataFrame  # repo, epic, child, phase, created_at, dispatched_at, closed_at
    dispatches: pd.DataFrame  # repo, issue, dispatched_at, merged_at, failed, resolved_at
    epics: pd.DataFrame  # repo, epic, created_at, priority, closed_at (true completion)
    capacity: pd.DataFrame  # date, capacity
    start: date
    end: date
    truth: dict = field(default_factory=dict)

    def day(self, n: int) -> date:
        """The date ``n`` days after the start."""
        return self.start + timedelta(days=int(n))


@dataclass
class _Truth:
    """The generating process's parameters, drawn once per organisation."""

    n_repos: int
    repos: list[str]
    success: np.ndarray
    lead_mu: np.ndarray
    lead_sd: np.ndarray
    fail_mu: float
    capacity: int
    scope_rate: float


@dataclass
class _Epics:
    repo: np.ndarray
    created: np.ndarray
    priority: np.ndarray
    scope_rate: np.ndarray
    n_phases: np.ndarray


@dataclass
class _Children:
    """One entry per child, by index; grows with scope additions."""

    epic: list[int] = field(default_factory=list)
    phase: list[int] = field(default_factory=list)
    created: list[int] = field(default_factory=list)
    ready_from: list[int | None] = field(default_factory=list)
    first_dispatch: list[int | None] = field(default_factory=list)
    closed: list[int | None] = field(default_factory=list)
    inflight: list[bool] = field(default_factory=list)

    def add(self, epic: int, phase: int, created: int, ready_from: int | None = None) -> int:
        self.epic.append(epic)
        self.phase.append(phase)
        self.created.append(created)
        self.ready_from.append(ready_from)
        self.first_dispatch.append(None)
        self.closed.append(None)
        self.inflight.append(False)
        return len(self.epic) - 1


@dataclass
class _World:
    """The organisation being simulated: its truth, epics, children, phases and dispatches so far."""

    truth: _Truth
    epics: _Epics
    children: _Children
    by_epic: dict[int, list[int]]
    current_phase: np.ndarray  # -1 = not started
    closed: list[int | None]  # epic completion day
    dispatches: list[tuple] = field(default_factory=list)


def _draw_truth(rng: np.random.Generator, f: dict) -> _Truth:
    n_repos = int(rng.integers(f["repos"][0], f["repos"][1] + 1))
    return _Truth(
        n_repos=n_repos,
        repos=[f"repo-{i}" for i in range(n_repos)],
        success=rng.uniform(*f["success"], size=n_repos),
        lead_mu=np.log(rng.uniform(*f["lead_median"], size=n_repos)),
        lead_sd=rng.uniform(*f["lead_sigma"], size=n_repos),
        fail_mu=np.log(rng.uniform(*f["fail_median"])),
        capacity=int(rng.integers(f["capacity"][0], f["capacity"][1] + 1)),
        scope_rate=float(rng.uniform(*f["scope_rate"])),
    )


def _draw_world(rng: np.random.Generator, f: dict, n_epics: int) -> _World:
    """Epics (repo, created day, priority, scope rate, phases) and their initial children."""
    truth = _draw_truth(rng, f)
    epics = _Epics(
        repo=rng.integers(0, truth.n_repos, size=n_epics),
        created=np.sort(rng.integers(0, f["window"], size=n_epics)),
        priority=np.where(rng.random(n_epics) < 0.35, 0, 1),
        scope_rate=truth.scope_rate * rng.gamma(f["scope_k"], 1.0 / f["scope_k"], size=n_epics),
        n_phases=rng.integers(f["phases"][0], f["phases"][1] + 1, size=n_epics),
    )
    children = _Children()
    for e in range(n_epics):
        for p in range(epics.n_phases[e]):
            for _ in range(int(rng.integers(f["children"][0], f["children"][1] + 1))):
                children.add(e, p, int(epics.created[e]))
    by_epic = {e: [i for i, x in enumerate(children.epic) if x == e] for e in range(n_epics)}
    return _World(truth, epics, children, by_epic, np.full(n_epics, -1), [None] * n_epics)


def _advance_epic(world: _World, e: int, day: int) -> None:
    """Start the epic's next phase once its current one is merged; close it after the last."""
    kids, ch = world.by_epic[e], world.children
    while True:
        if world.current_phase[e] >= 0:
            cur = [i for i in kids if ch.phase[i] == world.current_phase[e]]
            if any(ch.closed[i] is None or ch.closed[i] >= day for i in cur):
                return
        later = sorted({ch.phase[i] for i in kids if ch.phase[i] > world.current_phase[e]})
        if not later:
            world.closed[e] = max((ch.closed[i] for i in kids), default=day)
            return
        world.current_phase[e] = later[0]
        for i in kids:
            if ch.phase[i] == world.current_phase[e] and ch.ready_from[i] is None:
                ch.ready_from[i] = day


def _grow_epic(rng: np.random.Generator, world: _World, e: int, day: int) -> None:
    """Scope growth: new children today, in the current phase or a later one."""
    kids, ch, current = world.by_epic[e], world.children, world.current_phase[e]
    for _ in range(int(rng.poisson(world.epics.scope_rate[e]))):
        phase = int(rng.integers(current, max(ch.phase[i] for i in kids) + 1))
        kids.append(ch.add(e, phase, day, day if phase == current else None))


def _update_epics(rng: np.random.Generator, world: _World, day: int) -> None:
    """Open epics: start, advance phases, close, grow."""
    for e in range(len(world.closed)):
        if world.epics.created[e] > day or world.closed[e] is not None:
            continue
        _advance_epic(world, e, day)
        if world.closed[e] is None and world.current_phase[e] >= 0:
            _grow_epic(rng, world, e, day)


def _ready_children(world: _World, day: int) -> list[int]:
    """Children of open epics' current phases, not closed, not with the agent, ready by today."""
    ch = world.children
    return [
        i
        for e in range(len(world.closed))
        if world.closed[e] is None and world.current_phase[e] >= 0
        for i in world.by_epic[e]
        if ch.phase[i] == world.current_phase[e]
        and ch.closed[i] is None
        and not ch.inflight[i]
        and ch.ready_from[i] is not None
        and ch.ready_from[i] <= day
    ]


def _priority_order(world: _World, ready: list[int], day: int) -> list[int]:
    """The planner's order: priority, then repos with most open work, then repo, epic, child."""
    ep, ch = world.epics, world.children
    open_work = np.zeros(world.truth.n_repos)
    for e in range(len(world.closed)):
        if world.closed[e] is None and ep.created[e] <= day:
            open_work[ep.repo[e]] += sum(1 for i in world.by_epic[e] if ch.closed[i] is None)
    return sorted(
        ready,
        key=lambda i: (ep.priority[ch.epic[i]], -open_work[ep.repo[ch.epic[i]]], ep.repo[ch.epic[i]], ch.epic[i], i),
    )


def _dispatch_child(rng: np.random.Generator, world: _World, i: int, r: int, day: int) -> None:
    """One dispatch: merges after a lognormal lead time, or fails and is ready again after a lag."""
    ch, truth = world.children, world.truth
    ch.inflight[i] = True
    if ch.first_dispatch[i] is None:
        ch.first_dispatch[i] = day
    if rng.random() < truth.success[r]:
        lead = int(np.floor(rng.lognormal(truth.lead_mu[r], truth.lead_sd[r])))
        ch.closed[i] = day + lead
        world.dispatches.append((truth.repos[r], i, day, day + lead, False, day + lead))
    else:
        lag = int(np.floor(rng.lognormal(truth.fail_mu, 0.7)))
        ch.ready_from[i] = day + lag + 1
        world.dispatches.append((truth.repos[r], i, day, None, True, day + lag))


def _plan_day(rng: np.random.Generator, world: _World, day: int, max_repo_share: float) -> None:
    """Dispatch ready children in priority order under the day's capacity and the repo share cap."""
    ready = _ready_children(world, day)
    if not ready:
        return
    ready = _priority_order(world, ready, day)
    capacity, repo_of_epic, epic_of = world.truth.capacity, world.epics.repo, world.children.epic
    n_ready_repos = len({repo_of_epic[epic_of[i]] for i in ready})
    rcap = capacity if n_ready_repos <= 1 else max(1, int(np.floor(max_repo_share * capacity)))
    used, per_repo = 0, np.zeros(world.truth.n_repos, dtype=int)
    for i in ready:
        r = repo_of_epic[epic_of[i]]
        if used >= capacity:
            break
        if per_repo[r] >= rcap:
            continue
        used += 1
        per_repo[r] += 1
        _dispatch_child(rng, world, i, r, day)


def _release_failures(world: _World, day: int) -> None:
    """Failures become known: the child leaves flight (ready again from ready_from)."""
    ch = world.children
    for i in range(len(ch.inflight)):
        if ch.inflight[i] and ch.closed[i] is None and ch.ready_from[i] is not None and ch.ready_from[i] <= day + 1:
            ch.inflight[i] = False


def _frames(world: _World, start: date, days: int) -> SyntheticOrg:
    """The simulated history as frames shaped like real history, plus the truth."""

    def d(n: int | None):
        return pd.NaT if n is None else pd.Timestamp(start + timedelta(days=int(n)))

    truth, ep, ch, rows = world.truth, world.epics, world.children, world.dispatches
    children = pd.DataFrame(
        {
            "repo": [truth.repos[ep.repo[e]] for e in ch.epic],
            "epic": [1000 + e for e in ch.epic],
            "child": list(range(len(ch.epic))),
            "phase": [p + 1 for p in ch.phase],
            "created_at": [d(x) for x in ch.created],
            "dispatched_at": [d(x) for x in ch.first_dispatch],
            "closed_at": [d(x) for x in ch.closed],
        }
    )
    dispatches = pd.DataFrame(
        {
            "repo": [r[0] for r in rows],
            "issue": [r[1] for r in rows],
            "dispatched_at": [d(r[2]) for r in rows],
            "merged_at": [d(r[3]) for r in rows],
            "failed": [r[4] for r in rows],
            "resolved_at": [d(r[5]) for r in rows],
        }
    )
    epics = pd.DataFrame(
        {
            "repo": [truth.repos[r] for r in ep.repo],
            "epic": [1000 + e for e in range(len(ep.repo))],
            "created_at": [d(x) for x in ep.created],
            "priority": ep.priority,
            "closed_at": [d(x) for x in world.closed],
        }
    )
    cap = pd.DataFrame({"date": [d(x) for x in range(days + 1)], "capacity": truth.capacity})
    facts = dict(
        repos=truth.repos,
        success=truth.success,
        lead_median=np.exp(truth.lead_mu),
        lead_sigma=truth.lead_sd,
        capacity=truth.capacity,
        scope_rate=truth.scope_rate,
        days=days,
    )
    return SyntheticOrg(children, dispatches, epics, cap, start, start + timedelta(days=days), facts)


def generate_org(
    seed: int,
    n_epics: int = 30,
    family: str = "dev",
    max_repo_share: float = 0.5,
    max_days: int = 1000,
    start: date = date(2025, 1, 6),
) -> SyntheticOrg:
    """Simulate one organisation day by day until every epic is done (or ``max_days``)."""
    rng = np.random.default_rng(seed)
    world = _draw_world(rng, FAMILIES[family], n_epics)
    day = 0
    while day < max_days and any(c is None for c in world.closed):
        _update_epics(rng, world, day)
        _plan_day(rng, world, day, max_repo_share)
        _release_failures(world, day)
        day += 1
    return _frames(world, start, day)
