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


def generate_org(
    seed: int,
    n_epics: int = 30,
    family: str = "dev",
    max_repo_share: float = 0.5,
    max_days: int = 1000,
    start: date = date(2025, 1, 6),
) -> SyntheticOrg:
    """Simulate one organisation day by day until every epic is done (or ``max_days``)."""
    f = FAMILIES[family]
    rng = np.random.default_rng(seed)
    n_repos = int(rng.integers(f["repos"][0], f["repos"][1] + 1))
    repos = [f"repo-{i}" for i in range(n_repos)]
    succ = rng.uniform(*f["success"], size=n_repos)
    lead_mu = np.log(rng.uniform(*f["lead_median"], size=n_repos))
    lead_sd = rng.uniform(*f["lead_sigma"], size=n_repos)
    fail_mu = np.log(rng.uniform(*f["fail_median"]))
    capacity = int(rng.integers(f["capacity"][0], f["capacity"][1] + 1))
    scope_rate = float(rng.uniform(*f["scope_rate"]))

    # epics: repo, created day, priority, per-epic scope rate, children per phase
    e_repo = rng.integers(0, n_repos, size=n_epics)
    e_created = np.sort(rng.integers(0, f["window"], size=n_epics))
    e_prio = np.where(rng.random(n_epics) < 0.35, 0, 1)
    e_lam = scope_rate * rng.gamma(f["scope_k"], 1.0 / f["scope_k"], size=n_epics)
    e_nph = rng.integers(f["phases"][0], f["phases"][1] + 1, size=n_epics)
    # children: [epic, phase, created, state, ready_from, first_dispatch, closed]
    ch_epic, ch_phase, ch_created = [], [], []
    for e in range(n_epics):
        for p in range(e_nph[e]):
            for _ in range(int(rng.integers(f["children"][0], f["children"][1] + 1))):
                ch_epic.append(e)
                ch_phase.append(p)
                ch_created.append(int(e_created[e]))
    ch_epic_l, ch_phase_l, ch_created_l = ch_epic, ch_phase, ch_created
    ready_from: list[int | None] = [None] * len(ch_epic_l)
    first_dispatch: list[int | None] = [None] * len(ch_epic_l)
    closed: list[int | None] = [None] * len(ch_epic_l)
    inflight: list[bool] = [False] * len(ch_epic_l)
    cur_phase = np.full(n_epics, -1)  # -1 = not started
    e_closed: list[int | None] = [None] * n_epics
    disp_rows: list[tuple] = []

    def children_of(e: int) -> list[int]:
        return [i for i, x in enumerate(ch_epic_l) if x == e]

    by_epic: dict[int, list[int]] = {e: children_of(e) for e in range(n_epics)}
    day = 0
    while day < max_days and any(c is None for c in e_closed):
        # open epics: start, advance phases, close
        for e in range(n_epics):
            if e_created[e] > day or e_closed[e] is not None:
                continue
            kids = by_epic[e]
            while True:
                if cur_phase[e] >= 0:
                    cur = [i for i in kids if ch_phase_l[i] == cur_phase[e]]
                    if any(closed[i] is None or closed[i] >= day for i in cur):
                        break
                later = sorted({ch_phase_l[i] for i in kids if ch_phase_l[i] > cur_phase[e]})
                if not later:
                    e_closed[e] = max((closed[i] for i in kids), default=day)
                    break
                cur_phase[e] = later[0]
                for i in kids:
                    if ch_phase_l[i] == cur_phase[e] and ready_from[i] is None:
                        ready_from[i] = day
            if e_closed[e] is not None or cur_phase[e] < 0:
                continue
            # scope growth: new children today, in the current phase or a later one
            for _ in range(int(rng.poisson(e_lam[e]))):
                ph = int(rng.integers(cur_phase[e], max(ch_phase_l[i] for i in kids) + 1))
                ch_epic_l.append(e)
                ch_phase_l.append(ph)
                ch_created_l.append(day)
                ready_from.append(day if ph == cur_phase[e] else None)
                first_dispatch.append(None)
                closed.append(None)
                inflight.append(False)
                kids.append(len(ch_epic_l) - 1)
        # planner
        ready = [
            i
            for e in range(n_epics)
            if e_closed[e] is None and cur_phase[e] >= 0
            for i in by_epic[e]
            if ch_phase_l[i] == cur_phase[e]
            and closed[i] is None
            and not inflight[i]
            and ready_from[i] is not None
            and ready_from[i] <= day
        ]
        if ready:
            open_work = np.zeros(n_repos)
            for e in range(n_epics):
                if e_closed[e] is None and e_created[e] <= day:
                    open_work[e_repo[e]] += sum(1 for i in by_epic[e] if closed[i] is None)
            ready.sort(
                key=lambda i: (
                    e_prio[ch_epic_l[i]],
                    -open_work[e_repo[ch_epic_l[i]]],
                    e_repo[ch_epic_l[i]],
                    ch_epic_l[i],
                    i,
                )
            )
            n_ready_repos = len({e_repo[ch_epic_l[i]] for i in ready})
            rcap = capacity if n_ready_repos <= 1 else max(1, int(np.floor(max_repo_share * capacity)))
            used, per_repo = 0, np.zeros(n_repos, dtype=int)
            for i in ready:
                r = e_repo[ch_epic_l[i]]
                if used >= capacity:
                    break
                if per_repo[r] >= rcap:
                    continue
                used += 1
                per_repo[r] += 1
                inflight[i] = True
                if first_dispatch[i] is None:
                    first_dispatch[i] = day
                if rng.random() < succ[r]:
                    lead = int(np.floor(rng.lognormal(lead_mu[r], lead_sd[r])))
                    closed[i] = day + lead
                    disp_rows.append((repos[r], i, day, day + lead, False, day + lead))
                else:
                    lag = int(np.floor(rng.lognormal(fail_mu, 0.7)))
                    ready_from[i] = day + lag + 1
                    disp_rows.append((repos[r], i, day, None, True, day + lag))
        # failures become known: child leaves flight (ready again from ready_from)
        for i in range(len(inflight)):
            if inflight[i] and closed[i] is None and ready_from[i] is not None and ready_from[i] <= day + 1:
                inflight[i] = False
        day += 1

    def d(n: int | None):
        return pd.NaT if n is None else pd.Timestamp(start + timedelta(days=int(n)))

    children = pd.DataFrame(
        {
            "repo": [repos[e_repo[e]] for e in ch_epic_l],
            "epic": [1000 + e for e in ch_epic_l],
            "child": list(range(len(ch_epic_l))),
            "phase": [p + 1 for p in ch_phase_l],
            "created_at": [d(x) for x in ch_created_l],
            "dispatched_at": [d(x) for x in first_dispatch],
            "closed_at": [d(x) for x in closed],
        }
    )
    dispatches = pd.DataFrame(
        {
            "repo": [r[0] for r in disp_rows],
            "issue": [r[1] for r in disp_rows],
            "dispatched_at": [d(r[2]) for r in disp_rows],
            "merged_at": [d(r[3]) for r in disp_rows],
            "failed": [r[4] for r in disp_rows],
            "resolved_at": [d(r[5]) for r in disp_rows],
        }
    )
    epics = pd.DataFrame(
        {
            "repo": [repos[r] for r in e_repo],
            "epic": [1000 + e for e in range(n_epics)],
            "created_at": [d(x) for x in e_created],
            "priority": e_prio,
            "closed_at": [d(x) for x in e_closed],
        }
    )
    cap = pd.DataFrame({"date": [d(x) for x in range(day + 1)], "capacity": capacity})
    truth = dict(
        repos=repos,
        success=succ,
        lead_median=np.exp(lead_mu),
        lead_sigma=lead_sd,
        capacity=capacity,
        scope_rate=scope_rate,
        days=day,
    )
    return SyntheticOrg(children, dispatches, epics, cap, start, start + timedelta(days=day), truth)
