"""The day-by-day Monte Carlo behind `analytics.forecast`: arrays of (trials, epics), no loop over trials.

One trial is one future of the pipeline. Each simulated day, in this order:

1. failed attempts whose failure became known come back to the queue (rework);
2. epics whose current phase is empty and merged move to their next phase, or finish;
3. new epics (phantom columns, not reported) arrive and queue their first phase;
4. open epics gain children (scope growth);
5. the day's capacity is shared: per-repo cap first, then priority order;
6. each dispatch succeeds (merges after a bootstrapped lead time) or fails (comes back later).

The state of the trials still running is a `TrialState` (one array per quantity, one row per
trial); finished trials are moved out now and then (`compact`). The random draws happen in a
fixed order, so a seed gives the same answer bit for bit.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, fields
from datetime import date

import numpy as np

from analytics.forecast_layout import Layout, build_layout
from analytics.forecast_params import ARRIVAL_HORIZON, NOT_DONE, QGRID, REPO_KAPPA, EpicInput, Params

COMPACT_EVERY = 8  # days between checks for finished trials to drop
COMPACT_BELOW = 0.8  # drop finished trials once fewer than this share of the rows still run
BERNOULLI_UP_TO = 8  # attempts per cell drawn one by one before falling back to a binomial


@dataclass
class SimResult:
    """Raw simulation output: completion day offsets (NOT_DONE if beyond horizon) and tasks spent."""

    epics: list[EpicInput]
    today: date
    horizon_days: int
    done_day: np.ndarray  # (trials, epics) int32, days after today
    tasks: np.ndarray  # (trials, epics) int32 dispatches spent
    thin: np.ndarray  # (epics,) bool


# ── the state of the running trials ───────────────────────────────────────────


@dataclass
class TrialState:
    """One row per trial still running, one column per epic (per repo for ``success``)."""

    active: np.ndarray  # (T, E) bool: epic open (has work or merges to wait for)
    done: np.ndarray  # (T, E) int32: completion day, NOT_DONE while open
    phase: np.ndarray  # (T, E) int16: index of the current phase
    last_merge: np.ndarray  # (T, E) int16: day the current phase's last merge lands (-1: none)
    pending: np.ndarray  # (T, E) int16: failed attempts not known yet (coming back)
    tasks: np.ndarray  # (T, E) int32: dispatches spent
    queued: np.ndarray  # (T, E) int16: children of the current phase waiting for dispatch
    next_add: np.ndarray  # (T, E) float32: day the next scope addition lands
    scope_rate: np.ndarray  # (T, E): children added per day (this trial's draw)
    success: np.ndarray  # (T, R): success rate per repo (this trial's draw)
    lead_scale: np.ndarray  # (T,) float32: multiplier on lead times (this trial's draw)
    trial_id: np.ndarray  # (T,): row in the result arrays
    arrive_day: np.ndarray  # (T, new epics) int32: day each expected new epic arrives

    def flat(self, name: str) -> np.ndarray:
        """A (T * E,) view of a (T, E) array: one index per cell is cheaper than (row, col) pairs."""
        return getattr(self, name).reshape(-1)

    def keep_rows(self, keep: np.ndarray) -> None:
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name)[keep])


def draw_trials(rng: np.random.Generator, params: Params, layout: Layout, n_trials: int) -> TrialState:
    """Per-trial parameter draws (the uncertainty) and the starting state of every trial."""
    count = n_trials
    width = layout.width
    p_org = rng.beta(params.org_alpha, params.org_beta, size=count)
    counts = np.array([params.repo_counts.get(r, (0, 0)) for r in layout.repos], dtype=float).reshape(-1, 2)
    success = rng.beta(
        REPO_KAPPA * p_org[:, None] + counts[None, :, 0], REPO_KAPPA * (1 - p_org[:, None]) + counts[None, :, 1]
    )
    success = np.clip(success, 0.02, 0.999)
    lead_scale = np.exp(rng.normal(0.0, params.lead_scale_sd, size=count)).astype(np.float32)
    trial_scope = rng.gamma(params.scope_shape, 1.0 / params.scope_rate, size=count)
    if np.isfinite(params.scope_dispersion):
        k = params.scope_dispersion
        scope_rate = trial_scope[:, None] * rng.gamma(k, 1.0 / k, size=(count, width))
    else:
        scope_rate = np.repeat(trial_scope[:, None], width, axis=1)
    next_add = rng.exponential(1.0, size=(count, width)) / np.maximum(scope_rate, 1e-12)
    active = np.repeat(((layout.n_phases > 0) & layout.real)[None, :], count, axis=0)
    arrival_rate = rng.gamma(max(params.arrival_shape, 1e-9), 1.0 / params.arrival_rate, size=count)
    gaps = rng.exponential(1.0, size=(count, layout.n_new))
    arrive = np.ceil(np.cumsum(gaps, axis=1) / np.maximum(arrival_rate, 1e-9)[:, None])
    return TrialState(
        active=active,
        done=np.where(active, NOT_DONE, 0).astype(np.int32),
        phase=np.zeros((count, width), dtype=np.int16),
        last_merge=np.full((count, width), -1, dtype=np.int16),
        pending=np.zeros((count, width), dtype=np.int16),
        tasks=np.zeros((count, width), dtype=np.int32),
        queued=np.repeat((layout.phases[:, 0] * layout.real)[None, :], count, axis=0).astype(np.int16),
        next_add=next_add.astype(np.float32),
        scope_rate=scope_rate,
        success=success,
        lead_scale=lead_scale,
        trial_id=np.arange(count),
        arrive_day=np.where(arrive <= ARRIVAL_HORIZON, arrive, NOT_DONE).astype(np.int32),
    )


class Rework:
    """Failed attempts waiting to come back: day -> [(flat cells row * E + col, counts)]."""

    def __init__(self, width: int) -> None:
        self.width = width
        self.buckets: dict[int, list[tuple[np.ndarray, np.ndarray]]] = {}

    def push(self, state: TrialState, flat: np.ndarray, count: np.ndarray, day: np.ndarray) -> None:
        """Schedule failed attempts (unique cells) to re-enter the queue on the given days."""
        state.flat("pending")[flat] += count.astype(np.int16)
        order = np.argsort(day, kind="stable")
        flat, count, day = flat[order], count[order], day[order]
        bounds = [0, *(np.flatnonzero(np.diff(day)) + 1).tolist(), len(day)]
        for start, end in zip(bounds[:-1], bounds[1:], strict=False):
            self.buckets.setdefault(int(day[start]), []).append((flat[start:end], count[start:end]))

    def pop(self, day: int) -> tuple[np.ndarray, np.ndarray] | None:
        """The cells and counts coming back on ``day`` (None when nothing does)."""
        back = self.buckets.pop(day, None)
        if not back:
            return None
        if len(back) == 1:
            return back[0]
        flat, count = (np.concatenate(x) for x in zip(*back, strict=False))
        return flat, count

    def keep_rows(self, keep: np.ndarray) -> None:
        """Renumber the cells after rows were dropped; a finished trial's failures leave with it."""
        new_row = np.cumsum(keep) - 1
        for day, entries in self.buckets.items():
            moved = []
            for flat, count in entries:
                rows, cols = np.divmod(flat, self.width)
                kept = keep[rows]
                moved.append((new_row[rows[kept]] * self.width + cols[kept], count[kept]))
            self.buckets[day] = moved


def start_in_flight(
    rng: np.random.Generator, state: TrialState, layout: Layout, rework: Rework, column: int, ages: np.ndarray
) -> None:
    """Children already with the agent merge (or fail) after a lead time conditional on their age."""
    n_trials = len(state.active)
    state.queued[:, column] -= len(ages)
    repo = layout.repo_of_column[column]
    ok = rng.random((n_trials, len(ages))) < state.success[:, repo][:, None]
    tab = layout.lead_tab[repo]
    q0 = np.searchsorted(tab, ages, side="left") / QGRID  # P(lead < age)
    u = q0 + (1 - q0) * rng.random((n_trials, len(ages)))
    lead = np.rint(tab[np.minimum((u * QGRID).astype(int), QGRID - 1)] * state.lead_scale[:, None])
    merge = np.maximum(lead - ages, 0)
    fresh = np.rint(tab[(rng.random((n_trials, len(ages))) * QGRID).astype(int)])
    merge = np.where(q0 >= 1, fresh, merge)  # older than every observed lead: a fresh draw
    state.last_merge[:, column] = np.where(ok, merge, -1).max(1)
    failures = (~ok).sum(1)
    rows = np.flatnonzero(failures)
    if len(rows):
        lag = np.rint(layout.fail_tab[(rng.random(len(rows)) * QGRID).astype(int)] * state.lead_scale[rows])
        rework.push(state, rows * layout.width + column, failures[rows].astype(np.int32), lag.astype(np.int64) + 1)


def start_all_in_flight(rng: np.random.Generator, state: TrialState, layout: Layout, rework: Rework) -> None:
    for column, epic in enumerate(layout.epics):
        ages = np.array([a for a in epic.in_flight_ages if a >= 0][: layout.phases[column, 0]], dtype=float)
        if layout.n_phases[column] == 0 or len(ages) == 0:
            continue
        start_in_flight(rng, state, layout, rework, column, ages)


# ── one simulated day ─────────────────────────────────────────────────────────


def return_failures(state: TrialState, rework: Rework, day: int) -> None:
    """Failed attempts whose failure is known by ``day`` are queued again."""
    back = rework.pop(day)
    if back is None:
        return
    flat, count = back
    np.add.at(state.flat("queued"), flat, count.astype(np.int16))
    np.add.at(state.flat("pending"), flat, -count.astype(np.int16))


def advance_phases(state: TrialState, layout: Layout, day: int) -> None:
    """Epics whose current phase is dispatched and merged move on to the next phase, or finish."""
    ready = state.active & ((state.queued | state.pending) == 0) & (state.last_merge < day)
    idx = np.flatnonzero(ready)
    if not len(idx):
        return
    column = idx % layout.width
    phase = state.flat("phase")
    next_phase = phase[idx] + 1
    phase[idx] = next_phase
    finished = next_phase >= layout.n_phases[column]
    done_cells = idx[finished]
    last_merge = state.flat("last_merge")
    state.flat("done")[done_cells] = np.maximum(last_merge[done_cells], 0)
    state.flat("active")[done_cells] = False
    state.flat("queued")[idx[~finished]] = layout.phases[column[~finished], next_phase[~finished]]


def arrive_new_epics(state: TrialState, layout: Layout, day: int) -> None:
    """Expected new epics arriving today open and queue their first phase."""
    if not layout.n_new or day > ARRIVAL_HORIZON:
        return
    idx = np.flatnonzero(state.arrive_day == day)
    if not len(idx):
        return
    rows, nth = np.divmod(idx, layout.n_new)
    columns = layout.phantom_columns[nth]
    cells = rows * layout.width + columns
    state.flat("active")[cells] = True
    state.flat("queued")[cells] = layout.phases[columns, 0]


def grow_scope(rng: np.random.Generator, state: TrialState, day: int) -> None:
    """Open epics whose next addition is due gain a child in the current phase."""
    idx = np.flatnonzero(state.active & (state.next_add <= day))
    if not len(idx):
        return
    state.flat("queued")[idx] += 1
    gaps = rng.exponential(1.0, size=len(idx)) / np.maximum(state.flat("scope_rate")[idx], 1e-12)
    state.flat("next_add")[idx] += gaps


def _allocate(
    cs: np.ndarray,
    per_repo: np.ndarray,
    nrep: np.ndarray,
    cap: int,
    share_cap: int,
    starts: np.ndarray,
    group: np.ndarray,
    gorder: np.ndarray,
) -> np.ndarray:
    """Share one day's capacity: per-repo cap first, then priority order; returns tasks per cell.

    ``cs`` is the running total of queued tasks along the columns (grouped by repo), ``per_repo``
    the queued tasks per repo and ``nrep`` how many repos have work, all for the rows to allocate.
    For a queue ``q`` with running total ``c``, ``min(max(C - (c - q), 0), q) == min(c, C) - min(c - q, C)``,
    so each cap is a clipped running total followed by a difference (no other temporaries).
    """
    base = np.cumsum(per_repo, axis=1, dtype=np.int32) - per_repo  # queued before each repo's first column
    m = cs - np.take(base, group, axis=1)  # running total within the repo
    rcap = np.where(nrep <= 1, cap, share_cap).astype(np.int32)[:, None]
    np.minimum(m, rcap, out=m)
    d1 = np.empty_like(m)
    d1[:, 0] = m[:, 0]
    np.subtract(m[:, 1:], m[:, :-1], out=d1[:, 1:])
    d1[:, starts] = m[:, starts]
    g = np.cumsum(np.take(d1, gorder, axis=1), axis=1, dtype=np.int32)
    np.minimum(g, cap, out=g)
    a = np.empty_like(g)
    a[:, 0] = g[:, 0]
    np.subtract(g[:, 1:], g[:, :-1], out=a[:, 1:])
    return np.take(a, np.argsort(gorder), axis=1)


def share_capacity(queued: np.ndarray, layout: Layout, cap: int, share_cap: int) -> np.ndarray:
    """Tasks dispatched per cell today: the queue itself where no cap binds (the common case)."""
    candidates = np.flatnonzero(queued.sum(1, dtype=np.int32) > share_cap)
    if not len(candidates):
        return queued
    per_repo = np.add.reduceat(queued[candidates], layout.repo_starts, axis=1).astype(np.int32)
    repos_with_work = (per_repo > 0).sum(1)
    binds = (per_repo.sum(1) > cap) | ((repos_with_work > 1) & (per_repo.max(1) > share_cap))
    if not binds.any():
        return queued
    rows = candidates[binds]
    running = np.cumsum(queued[rows], axis=1, dtype=np.int32)
    alloc = queued.copy()
    alloc[rows] = _allocate(
        running,
        per_repo[binds],
        repos_with_work[binds],
        cap,
        share_cap,
        layout.repo_starts,
        layout.repo_of_column,
        layout.priority_order,
    )
    return alloc


def count_failures(rng: np.random.Generator, attempts: np.ndarray, q_fail: np.ndarray) -> np.ndarray:
    """Failures among each cell's attempts: one uniform when there is one attempt (most cells)."""
    failures = (rng.random(len(attempts)) < q_fail).astype(np.int32)
    many = np.flatnonzero(attempts > 1)
    for k in range(1, BERNOULLI_UP_TO):  # small counts: a few more draws are cheaper than a binomial
        if len(many) == 0:
            break
        failures[many] += rng.random(len(many)) < q_fail[many]
        many = many[attempts[many] > k + 1]
    if len(many):
        failures[many] += rng.binomial(attempts[many] - BERNOULLI_UP_TO, q_fail[many])
    return failures


def schedule_merges(
    rng: np.random.Generator,
    state: TrialState,
    layout: Layout,
    cells: np.ndarray,
    successes: np.ndarray,
    rows: np.ndarray,
    repos: np.ndarray,
    day: int,
) -> None:
    """The last of a cell's successful attempts sets when its phase's last merge lands."""
    u = rng.random(len(cells))
    several = successes > 1
    u[several] **= 1.0 / successes[several]  # the last of n merges: max of n uniform draws
    quantile = np.minimum((u * QGRID).astype(np.int64), QGRID - 1)
    lead = np.rint(layout.lead_flat[repos * QGRID + quantile] * state.lead_scale[rows])
    last_merge = state.flat("last_merge")
    last_merge[cells] = np.maximum(last_merge[cells], np.minimum(day + lead, 32000).astype(np.int16))


def dispatch(
    rng: np.random.Generator, state: TrialState, layout: Layout, rework: Rework, alloc: np.ndarray, day: int
) -> None:
    """Spend the allocated tasks; each attempt merges later or fails and comes back (rework)."""
    idx = np.flatnonzero(alloc > 0)
    if len(idx) == 0:
        return
    attempts = alloc.reshape(-1)[idx]
    state.flat("tasks")[idx] += attempts
    state.flat("queued")[idx] -= attempts
    rows = idx // layout.width
    repos = layout.repo_of_column[idx - rows * layout.width]
    q_fail = 1.0 - state.success.reshape(-1)[rows * len(layout.repos) + repos]
    failures = count_failures(rng, attempts, q_fail)
    successes = attempts - failures
    merged = np.flatnonzero(successes > 0)
    if len(merged):
        schedule_merges(rng, state, layout, idx[merged], successes[merged], rows[merged], repos[merged], day)
    failed = np.flatnonzero(failures)
    if len(failed):
        draw = (rng.random(len(failed)) * QGRID).astype(int)
        lag = np.rint(layout.fail_tab[draw] * state.lead_scale[rows[failed]])
        rework.push(state, idx[failed], failures[failed], day + lag.astype(np.int64) + 1)


def daily_capacity(capacity_per_day: float, day: int, max_repo_share: float) -> tuple[int, int]:
    """(tasks today, most tasks one repo may get): fractional rates accumulate over the days."""
    cap = int(np.floor(capacity_per_day * (day + 1)) - np.floor(capacity_per_day * day))
    return cap, max(1, int(np.floor(max_repo_share * cap)))


# ── trials ────────────────────────────────────────────────────────────────────


@dataclass
class RunSettings:
    """What every chunk of trials shares."""

    params: Params
    layout: Layout
    capacity_per_day: float
    max_repo_share: float
    horizon_days: int


class TrialRun:
    """A chunk of trials with its own random stream; finished trials are stored and dropped."""

    def __init__(self, rng: np.random.Generator, n_trials: int, run: RunSettings) -> None:
        self.rng, self.run, self.layout = rng, run, run.layout
        self.state = draw_trials(rng, run.params, run.layout, n_trials)
        self.done = np.zeros((n_trials, run.layout.width), dtype=np.int32)
        self.tasks = np.zeros((n_trials, run.layout.width), dtype=np.int32)
        self.rework = Rework(run.layout.width)
        start_all_in_flight(rng, self.state, self.layout, self.rework)

    def running(self) -> int:
        """Trials with a real epic still open."""
        return int(self.state.active[:, self.layout.real].any(1).sum())

    def compact(self) -> None:
        """Store finished trials' results and drop them from the working arrays."""
        state = self.state
        keep = state.active[:, self.layout.real].any(1)
        gone = state.trial_id[~keep]
        self.done[gone] = state.done[~keep]
        self.tasks[gone] = state.tasks[~keep]
        state.keep_rows(keep)
        self.rework.keep_rows(keep)

    def step(self, day: int) -> None:
        """One simulated day (see the module docstring for the order)."""
        state, layout, rng = self.state, self.layout, self.rng
        return_failures(state, self.rework, day)
        advance_phases(state, layout, day)
        arrive_new_epics(state, layout, day)
        grow_scope(rng, state, day)
        cap, share_cap = daily_capacity(self.run.capacity_per_day, day, self.run.max_repo_share)
        if cap <= 0:
            return
        alloc = share_capacity(state.queued, layout, cap, share_cap)
        dispatch(rng, state, layout, self.rework, alloc, day)

    def simulate(self) -> tuple[np.ndarray, np.ndarray]:
        """Run every day to the horizon (or until every trial finished); returns (done_day, tasks)."""
        rows = len(self.state.active)
        for day in range(int(self.run.horizon_days)):
            check = day % COMPACT_EVERY == 0
            alive = self.running() if check else rows
            if alive == 0:
                break
            if check and alive < COMPACT_BELOW * rows:
                self.compact()
            rows = len(self.state.active)
            self.step(day)
        self.done[self.state.trial_id] = self.state.done
        self.tasks[self.state.trial_id] = self.state.tasks
        return self.done, self.tasks


def _chunk_sizes(trials: int) -> list[int]:
    """Two independent streams, one per core (numpy releases the GIL in array operations)."""
    n_chunks = 2 if trials >= 2000 else 1
    return [trials // n_chunks + (i < trials % n_chunks) for i in range(n_chunks)]


def simulate(
    epics: list[EpicInput],
    params: Params,
    capacity_per_day: float,
    today: date,
    trials: int = 10_000,
    seed: int = 0,
    max_repo_share: float = 0.5,
    horizon_days: int = 730,
) -> SimResult:
    """Run the day-by-day Monte Carlo; arrays are (trials, epics), no loop over trials."""
    layout = build_layout(epics, params, seed)
    run = RunSettings(params, layout, max(0.0, float(capacity_per_day)), float(max_repo_share), int(horizon_days))
    sizes = _chunk_sizes(int(trials))
    rngs = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(len(sizes))]

    def one(rng: np.random.Generator, size: int) -> tuple[np.ndarray, np.ndarray]:
        return TrialRun(rng, size, run).simulate()

    if len(sizes) == 1:
        parts = [one(rngs[0], sizes[0])]
    else:
        with ThreadPoolExecutor(len(sizes)) as pool:
            parts = list(pool.map(one, rngs, sizes))
    done_day = np.concatenate([p[0] for p in parts])
    tasks = np.concatenate([p[1] for p in parts])
    real_columns = np.argsort(np.array(layout.column_of_input))[: layout.n_real]
    thin = np.array([params.thin_history or params.repo_thin(e.repo) for e in epics])
    return SimResult(epics, today, int(horizon_days), done_day[:, real_columns], tasks[:, real_columns], thin)
