"""Monte Carlo forecast of epic completion dates, modelled on how the pipeline dispatches work.

Method (Vacanti, "When Will It Be Done?"; Magennis): simulate many futures day by day and read
percentiles off the simulated completion dates. Unlike a plain throughput bootstrap, each
trial follows the planner's rules:

* an epic's phases run in order: phase k+1 is dispatched only once every child of phase k merged;
* each day's dispatch capacity (tasks/day) is shared across epics in priority order
  (lower ``priority`` first, then repos with most work left), and no repo gets more than
  ``max_repo_share`` of the day unless it is the only repo with dispatchable work;
* a dispatch succeeds with the repo's success rate (Beta-shrunk toward the org rate); a failed
  attempt costs a task and comes back to the queue once the failure is known (rework);
* a successful dispatch merges after a lead time bootstrapped from observed dispatch-to-merge days;
* epics gain children while open (scope growth), at a per-epic-per-day rate estimated from history.

Parameter uncertainty is part of every trial (success rates, lead-time scale and scope rate are
drawn from their posteriors per trial), so thin history widens the intervals by itself; it is also
flagged (``thin_history``) and explained (``notes``). Pure numpy/pandas: no I/O, no project imports.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np
import pandas as pd

QGRID = 128  # points in each lead-time quantile table
PRIOR_SUCCESS = (2.0, 1.0)  # Beta prior on the org success rate (mean 0.67, 3 pseudo-counts)
REPO_KAPPA = 10.0  # pseudo-count pulling a repo's success rate toward the org rate
PRIOR_LEAD_MEDIAN = 3.0  # days; wide lognormal prior on dispatch-to-merge when merges are few
PRIOR_LEAD_SIGMA = 1.0
PRIOR_LEAD_WEIGHT = 3.0  # pseudo-observations of the prior in every lead table
POOLED_LEAD_WEIGHT = 10.0  # pseudo-observations of the org-wide leads in a repo's lead table
PRIOR_SCOPE = (0.5, 25.0)  # Gamma(shape, rate in epic-days) prior on additions per epic-day
THIN_MERGES = 20  # fewer merged dispatches than this (org-wide) is thin history
THIN_REPO_RESOLVED = 5  # fewer resolved dispatches than this in a repo flags its epics
NOT_DONE = np.iinfo(np.int32).max
ARRIVAL_WINDOW = 28  # days of recent history giving the rate of new epics
ARRIVAL_HORIZON = 90  # days over which the recent rate of new epics is assumed to persist
MAX_NEW_EPICS = 40  # cap on simulated new epics (each is a column of the simulation)


@dataclass
class EpicInput:
    """One open epic: its open children per phase (in phase order) and its dispatch priority."""

    repo: str
    epic: int
    remaining_by_phase: list[int]
    priority: int = 1
    created_at: date | None = None
    in_flight_ages: list[int] = field(default_factory=list)  # days since dispatch, current phase


@dataclass
class History:
    """Observed history, as frames read from the database.

    dispatches: one row per dispatch attempt: ``repo, issue, dispatched_at, merged_at (NaT if
        not merged), failed (bool)`` and optionally ``resolved_at`` (when a failure became known;
        falls back to the lead-time distribution when missing).
    scope_additions: ``repo, epic, added_at`` for children added to an epic after its creation.
    epics: ``repo, epic, created_at, closed_at (NaT if open)``: gives the epic-days of exposure;
        with optional ``priority`` and ``initial_by_phase`` (children per phase at creation, a list)
        it also gives the arrival rate and shape of new epics that will compete for capacity.
    epic_days: exposure in epic-days, used instead of ``epics`` when that frame is not given.
    """

    dispatches: pd.DataFrame
    scope_additions: pd.DataFrame | None = None
    epics: pd.DataFrame | None = None
    epic_days: float | None = None


@dataclass
class Params:
    """Parameters estimated from history, with the counts needed to draw them per trial."""

    org_alpha: float
    org_beta: float
    repo_counts: dict[str, tuple[int, int]]  # repo -> (merged, failed)
    lead_samples: np.ndarray  # dispatch-to-merge days, all repos
    repo_lead_samples: dict[str, np.ndarray]
    fail_lag_samples: np.ndarray  # dispatch-to-known-failure days
    lead_scale_sd: float  # sd of the per-trial log multiplier on lead times
    scope_shape: float  # Gamma posterior on additions per epic-day
    scope_rate: float
    scope_dispersion: float  # Gamma shape of per-epic rate heterogeneity (inf = none)
    thin_history: bool
    notes: list[str] = field(default_factory=list)
    arrival_shape: float = 0.0  # Gamma posterior on new epics per day (shape 0: no arrivals)
    arrival_rate: float = 1.0
    arrival_templates: list[tuple[str, int, list[int]]] = field(default_factory=list)

    @property
    def org_success_rate(self) -> float:
        """Posterior mean of the org-wide success rate (merged / resolved dispatches)."""
        return self.org_alpha / (self.org_alpha + self.org_beta)

    def success_rate(self, repo: str) -> float:
        """Posterior mean success rate of one repo, shrunk toward the org rate."""
        s, f = self.repo_counts.get(repo, (0, 0))
        return (REPO_KAPPA * self.org_success_rate + s) / (REPO_KAPPA + s + f)

    @property
    def scope_rate_per_epic_day(self) -> float:
        """Posterior mean of children added per open epic per day."""
        return self.scope_shape / self.scope_rate

    def repo_thin(self, repo: str) -> bool:
        """True when the repo has too few resolved dispatches to say much on its own."""
        return sum(self.repo_counts.get(repo, (0, 0))) < THIN_REPO_RESOLVED


def _days(a: pd.Series, b: pd.Series) -> np.ndarray:
    """Whole days from a to b (dates or timestamps)."""
    return (pd.to_datetime(b).dt.normalize() - pd.to_datetime(a).dt.normalize()).dt.days.to_numpy()


def _before(col: pd.Series, today: date) -> np.ndarray:
    """Boolean mask of values strictly before ``today`` (NaT is False)."""
    return (pd.to_datetime(col) < pd.Timestamp(today)).to_numpy()


def estimate_parameters(history: History, today: date) -> Params:
    """Estimate success rates, lead times, rework lag and scope growth from history before today."""
    notes: list[str] = []
    d = history.dispatches
    if d is None or len(d) == 0:
        d = pd.DataFrame(columns=["repo", "issue", "dispatched_at", "merged_at", "failed"])
    d = d[_before(d["dispatched_at"], today)]
    merged = _before(d["merged_at"], today)
    failed = d["failed"].fillna(False).to_numpy(dtype=bool) & ~merged
    if "resolved_at" in d.columns:
        known = d["resolved_at"].isna().to_numpy() | _before(d["resolved_at"], today)
        failed &= known
    s_tot, f_tot = int(merged.sum()), int(failed.sum())
    repo_counts = {str(r): (int(merged[g].sum()), int(failed[g].sum())) for r, g in d.groupby("repo").indices.items()}
    leads = np.clip(_days(d["dispatched_at"][merged], d["merged_at"][merged]), 0, None).astype(float)
    repos_m = d["repo"].to_numpy()[merged]
    repo_leads = {str(r): leads[repos_m == r] for r in np.unique(repos_m)}
    fail_lags = np.array([], dtype=float)
    if "resolved_at" in d.columns:
        fm = failed & d["resolved_at"].notna().to_numpy()
        fail_lags = np.clip(_days(d["dispatched_at"][fm], d["resolved_at"][fm]), 0, None).astype(float)

    thin = False
    if s_tot + f_tot == 0:
        thin = True
        notes.append("no resolved dispatches yet: success rate is a wide prior (mean 0.67)")
    elif s_tot + f_tot < 2 * THIN_MERGES:
        notes.append(f"only {s_tot + f_tot} resolved dispatches: success rate shrunk toward a prior")
    if s_tot < THIN_MERGES:
        thin = True
        notes.append(
            f"only {s_tot} merged dispatches: lead times mixed with a wide prior "
            f"(median {PRIOR_LEAD_MEDIAN:g} d) and intervals widened"
        )
    if len(leads) >= 2:
        log_sd = float(np.std(np.log1p(leads), ddof=1))
        log_sd = max(log_sd, 0.2)
    else:
        log_sd = PRIOR_LEAD_SIGMA
    lead_scale_sd = log_sd / np.sqrt(len(leads) + 2.0)

    # scope growth: additions per epic-day, Gamma-Poisson with per-epic heterogeneity
    add = history.scope_additions
    n_add = 0
    per_epic_adds: dict[tuple[str, int], int] = {}
    if add is not None and len(add):
        add = add[_before(add["added_at"], today)]
        n_add = len(add)
        per_epic_adds = {(str(r), int(e)): len(g) for (r, e), g in add.groupby(["repo", "epic"])}
    exposure = 0.0
    dispersion = np.inf
    ep = history.epics
    if ep is not None and len(ep):
        ep = ep[_before(ep["created_at"], today)]
        end = pd.to_datetime(ep["closed_at"]).where(_before(ep["closed_at"], today), pd.Timestamp(today))
        x = np.clip(_days(ep["created_at"], end), 0, None).astype(float)
        exposure = float(x.sum())
        n = np.array([per_epic_adds.get((str(r), int(e)), 0) for r, e in zip(ep["repo"], ep["epic"], strict=False)])
        if exposure > 0 and len(x) >= 5 and n.sum() >= 5:
            lam = n.sum() / exposure
            excess = float(((n - lam * x) ** 2).sum() - (lam * x).sum())
            if excess > 0:
                dispersion = float(np.clip(lam**2 * (x**2).sum() / excess, 0.3, 1e6))
    elif history.epic_days:
        exposure = float(history.epic_days)
    if exposure < 30:
        thin = thin or exposure == 0
        notes.append(f"only {exposure:.0f} epic-days observed: scope growth rate is mostly a prior")
    arrival_shape, arrival_rate, templates = 0.0, 1.0, []
    if ep is not None and len(ep) and "initial_by_phase" in ep.columns:
        created = pd.to_datetime(ep["created_at"])
        window = min(ARRIVAL_WINDOW, (pd.Timestamp(today) - created.min()).days)
        n_new = int((created >= pd.Timestamp(today) - pd.Timedelta(days=window)).sum())
        if window >= 7 and n_new > 0:
            arrival_shape, arrival_rate = float(n_new), float(window)
            prio = ep["priority"] if "priority" in ep.columns else pd.Series(1, index=ep.index)
            templates = [
                (str(r), int(p), [int(x) for x in ph])
                for r, p, ph in zip(ep["repo"], prio, ep["initial_by_phase"], strict=False)
                if sum(ph) > 0
            ]
    return Params(
        org_alpha=PRIOR_SUCCESS[0] + s_tot,
        org_beta=PRIOR_SUCCESS[1] + f_tot,
        repo_counts=repo_counts,
        lead_samples=leads,
        repo_lead_samples=repo_leads,
        fail_lag_samples=fail_lags,
        lead_scale_sd=float(lead_scale_sd),
        scope_shape=PRIOR_SCOPE[0] + n_add,
        scope_rate=PRIOR_SCOPE[1] + exposure,
        scope_dispersion=dispersion,
        thin_history=thin,
        notes=notes,
        arrival_shape=arrival_shape if templates else 0.0,
        arrival_rate=arrival_rate,
        arrival_templates=templates,
    )


def _prior_leads() -> np.ndarray:
    """Deterministic quantiles of the wide lognormal lead-time prior (days)."""
    z = np.sort(np.random.default_rng(12345).standard_normal(256))
    return np.floor(PRIOR_LEAD_MEDIAN * np.exp(PRIOR_LEAD_SIGMA * z))


def _lead_table(own: np.ndarray, pooled: np.ndarray, pooled_weight: float) -> np.ndarray:
    """Quantile table mixing a repo's leads, the org's leads (fixed weight) and the wide prior."""
    prior = _prior_leads()
    parts = [(own, np.ones(len(own))), (prior, np.full(len(prior), PRIOR_LEAD_WEIGHT / len(prior)))]
    if len(pooled) and pooled_weight > 0:
        parts.append((pooled, np.full(len(pooled), pooled_weight / len(pooled))))
    v = np.concatenate([p[0] for p in parts])
    w = np.concatenate([p[1] for p in parts])
    order = np.argsort(v, kind="stable")
    cw = np.cumsum(w[order])
    q = (np.arange(QGRID) + 0.5) / QGRID * cw[-1]
    return v[order][np.minimum(np.searchsorted(cw, q), len(v) - 1)]


@dataclass
class SimResult:
    """Raw simulation output: completion day offsets (NOT_DONE if beyond horizon) and tasks spent."""

    epics: list[EpicInput]
    today: date
    horizon_days: int
    done_day: np.ndarray  # (trials, epics) int32, days after today
    tasks: np.ndarray  # (trials, epics) int32 dispatches spent
    thin: np.ndarray  # (epics,) bool


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
    T_total = int(trials)
    # columns grouped by repo (for the repo share cap); gorder = dispatch priority order
    repos = sorted({e.repo for e in epics})
    ridx = {r: i for i, r in enumerate(repos)}
    work = {r: 0 for r in repos}
    for e in epics:
        work[e.repo] += sum(max(0, n) for n in e.remaining_by_phase)
    # new epics expected to arrive (phantom columns): they take capacity but are not reported
    n_real = len(epics)
    tmpl = params.arrival_templates
    lam_arr = params.arrival_shape / params.arrival_rate if tmpl else 0.0
    M = 0
    if lam_arr > 0:
        mean = lam_arr * ARRIVAL_HORIZON
        M = min(int(mean + 3 * np.sqrt(mean)) + 1, MAX_NEW_EPICS)
    pick = np.random.default_rng([seed, 7]).integers(0, max(1, len(tmpl)), size=M)
    phantoms = [EpicInput(tmpl[i][0], -1 - j, tmpl[i][2], tmpl[i][1]) for j, i in enumerate(pick)]
    for e in phantoms:
        if e.repo not in work:
            repos.append(e.repo)
            work[e.repo] = 0
    repos_sorted = sorted(repos)
    ridx = {r: i for i, r in enumerate(repos_sorted)}
    repos = repos_sorted
    allep = list(epics) + phantoms
    cols = sorted(range(len(allep)), key=lambda i: (allep[i].repo, allep[i].priority, allep[i].epic))
    ep = [allep[i] for i in cols]
    E = len(ep)
    real = np.array([c < n_real for c in cols], dtype=bool)
    pcols = np.flatnonzero(~real)
    group = np.array([ridx[e.repo] for e in ep], dtype=np.int64)
    starts = np.searchsorted(group, np.arange(len(repos)))
    gorder = np.array(
        sorted(range(E), key=lambda i: (ep[i].priority, -work[ep[i].repo], ep[i].repo, ep[i].epic)),
        dtype=np.int64,
    )
    plist = [[int(n) for n in e.remaining_by_phase if n > 0] for e in ep]
    nph = np.array([len(p) for p in plist], dtype=np.int32)
    phases = np.zeros((E, int(nph.max(initial=0)) + 1), dtype=np.int32)
    for i, p in enumerate(plist):
        phases[i, : len(p)] = p

    lead_tab = (
        np.stack(
            [
                _lead_table(params.repo_lead_samples.get(r, np.array([])), params.lead_samples, POOLED_LEAD_WEIGHT)
                for r in repos
            ]
        )
        if repos
        else np.zeros((0, QGRID))
    )
    fail_src = params.fail_lag_samples if len(params.fail_lag_samples) else params.lead_samples
    fail_tab = _lead_table(fail_src, np.array([]), 0.0)
    lead_flat = lead_tab.reshape(-1)
    R = len(repos)

    def run(rng: np.random.Generator, T: int) -> tuple[np.ndarray, np.ndarray]:
        """Simulate T trials with their own random stream; returns (done_day, tasks)."""
        # per-trial parameter draws (uncertainty), shapes (T,), (T, R)
        p_org = rng.beta(params.org_alpha, params.org_beta, size=T)
        cnt = np.array([params.repo_counts.get(r, (0, 0)) for r in repos], dtype=float).reshape(-1, 2)
        p_rt = rng.beta(
            REPO_KAPPA * p_org[:, None] + cnt[None, :, 0], REPO_KAPPA * (1 - p_org[:, None]) + cnt[None, :, 1]
        )
        p_rt = np.clip(p_rt, 0.02, 0.999)
        scale = np.exp(rng.normal(0.0, params.lead_scale_sd, size=T)).astype(np.float32)
        lam_t = rng.gamma(params.scope_shape, 1.0 / params.scope_rate, size=T)
        if np.isfinite(params.scope_dispersion):
            k = params.scope_dispersion
            lam = lam_t[:, None] * rng.gamma(k, 1.0 / k, size=(T, E))
        else:
            lam = np.repeat(lam_t[:, None], E, axis=1)
        next_add = rng.exponential(1.0, size=(T, E)) / np.maximum(lam, 1e-12)

        # state: S holds the (rows, ...) arrays of trials still running; finished trials are dropped
        done_all = np.zeros((T, E), dtype=np.int32)
        tasks_all = np.zeros((T, E), dtype=np.int32)
        active = np.repeat(((nph > 0) & real)[None, :], T, axis=0)
        lam_arr_t = rng.gamma(max(params.arrival_shape, 1e-9), 1.0 / params.arrival_rate, size=T)
        arrive = np.ceil(np.cumsum(rng.exponential(1.0, size=(T, M)), axis=1) / np.maximum(lam_arr_t, 1e-9)[:, None])
        arrive = np.where(arrive <= ARRIVAL_HORIZON, arrive, NOT_DONE).astype(np.int32)
        S = {
            "active": active,
            "done": np.where(active, NOT_DONE, 0).astype(np.int32),
            "k": np.zeros((T, E), dtype=np.int16),
            "last": np.full((T, E), -1, dtype=np.int16),
            "pending": np.zeros((T, E), dtype=np.int16),
            "tasks": np.zeros((T, E), dtype=np.int32),
            "queued": np.repeat((phases[:, 0] * real)[None, :], T, axis=0).astype(np.int16),
            "next_add": next_add.astype(np.float32),
            "lam": lam,
            "p": p_rt,
            "scale": scale,
            "id": np.arange(T),
            "arrive": arrive,
        }
        # failed attempts waiting to come back: day -> [(flat cell index row * E + col, count)]
        buckets: dict[int, list[tuple[np.ndarray, np.ndarray]]] = {}

        def push_failures(flat: np.ndarray, n: np.ndarray, day: np.ndarray) -> None:
            """Schedule failed attempts (unique cells) to re-enter the queue on the given days."""
            S["pending"].reshape(-1)[flat] += n.astype(np.int16)
            order = np.argsort(day, kind="stable")
            flat, n, day = flat[order], n[order], day[order]
            bounds = [0, *(np.flatnonzero(np.diff(day)) + 1).tolist(), len(day)]
            for a_, b_ in zip(bounds[:-1], bounds[1:], strict=False):
                buckets.setdefault(int(day[a_]), []).append((flat[a_:b_], n[a_:b_]))

        def compact() -> None:
            """Store finished trials' results and drop them from the working arrays."""
            keep = S["active"][:, real].any(1)
            gone = S["id"][~keep]
            done_all[gone] = S["done"][~keep]
            tasks_all[gone] = S["tasks"][~keep]
            newpos = np.cumsum(keep) - 1
            for key in S:
                S[key] = S[key][keep]
            for day_, lst in buckets.items():
                moved = []
                for fl, n_ in lst:
                    r_, c_ = np.divmod(fl, E)
                    k_ = keep[r_]  # a finished trial's phantom failures leave with it
                    moved.append((newpos[r_[k_]] * E + c_[k_], n_[k_]))
                buckets[day_] = moved

        # children already in flight: merge (or fail) after a lead time conditional on their age
        for j, e in enumerate(ep):
            ages = np.array([a for a in e.in_flight_ages if a >= 0][: phases[j, 0]], dtype=float)
            if nph[j] == 0 or len(ages) == 0:
                continue
            S["queued"][:, j] -= len(ages)
            g = group[j]
            ok = rng.random((T, len(ages))) < p_rt[:, g][:, None]
            tab = lead_tab[g]
            q0 = np.searchsorted(tab, ages, side="left") / QGRID  # P(lead < age)
            u = q0 + (1 - q0) * rng.random((T, len(ages)))
            lead = np.rint(tab[np.minimum((u * QGRID).astype(int), QGRID - 1)] * scale[:, None])
            merge = np.maximum(lead - ages, 0)
            merge = np.where(q0 >= 1, np.rint(tab[(rng.random((T, len(ages))) * QGRID).astype(int)]), merge)
            S["last"][:, j] = np.where(ok, merge, -1).max(1)
            nfail = (~ok).sum(1)
            rows = np.flatnonzero(nfail)
            if len(rows):
                lag = np.rint(fail_tab[(rng.random(len(rows)) * QGRID).astype(int)] * scale[rows])
                push_failures(rows * E + j, nfail[rows].astype(np.int32), lag.astype(np.int64) + 1)

        cap_float = max(0.0, float(capacity_per_day))
        share_frac = float(max_repo_share)
        n_alive = T
        for t in range(int(horizon_days)):
            active, queued, last, pending = S["active"], S["queued"], S["last"], S["pending"]
            alive = int(active[:, real].any(1).sum()) if t % 8 == 0 else n_alive
            if alive == 0:
                break
            if t % 8 == 0 and alive < 0.8 * n_alive:
                compact()
                active, queued, last, pending = S["active"], S["queued"], S["last"], S["pending"]
            n_alive = len(active)
            cap = int(np.floor(cap_float * (t + 1)) - np.floor(cap_float * t))
            share_cap = max(1, int(np.floor(share_frac * cap)))
            # flat views of the (rows, E) state: one index per cell is cheaper than (row, col) pairs
            qf, pf, lf, af = (x.reshape(-1) for x in (queued, pending, last, active))
            back = buckets.pop(t, None)
            if back:
                fl, n_ = (np.concatenate(x) for x in zip(*back, strict=False)) if len(back) > 1 else back[0]
                np.add.at(qf, fl, n_.astype(np.int16))
                np.add.at(pf, fl, -n_.astype(np.int16))
            idx = np.flatnonzero(active & ((queued | pending) == 0) & (last < t))
            if len(idx):
                c_ = idx % E
                kf = S["k"].reshape(-1)
                kn = kf[idx] + 1
                kf[idx] = kn
                fin = kn >= nph[c_]
                fi = idx[fin]
                S["done"].reshape(-1)[fi] = np.maximum(lf[fi], 0)
                af[fi] = False
                qf[idx[~fin]] = phases[c_[~fin], kn[~fin]]
            if M and t <= ARRIVAL_HORIZON:
                idx = np.flatnonzero(S["arrive"] == t)
                if len(idx):
                    r_, j_ = np.divmod(idx, M)
                    fl = r_ * E + pcols[j_]
                    af[fl] = True
                    qf[fl] = phases[pcols[j_], 0]
            idx = np.flatnonzero(active & (S["next_add"] <= t))
            if len(idx):
                qf[idx] += 1
                S["next_add"].reshape(-1)[idx] += rng.exponential(1.0, size=len(idx)) / np.maximum(
                    S["lam"].reshape(-1)[idx], 1e-12
                )
            if cap <= 0:
                continue
            # rows whose whole queue fits under the repo share dispatch all of it; others may bind
            alloc = queued
            cand = np.flatnonzero(queued.sum(1, dtype=np.int32) > share_cap)
            if len(cand):
                per_repo = np.add.reduceat(queued[cand], starts, axis=1).astype(np.int32)
                nrep = (per_repo > 0).sum(1)
                binds = (per_repo.sum(1) > cap) | ((nrep > 1) & (per_repo.max(1) > share_cap))
                if binds.any():
                    rb = cand[binds]
                    cs = np.cumsum(queued[rb], axis=1, dtype=np.int32)
                    alloc = queued.copy()
                    alloc[rb] = _allocate(cs, per_repo[binds], nrep[binds], cap, share_cap, starts, group, gorder)
            idx = np.flatnonzero(alloc > 0)
            if len(idx) == 0:
                continue
            n = alloc.reshape(-1)[idx]
            S["tasks"].reshape(-1)[idx] += n
            qf[idx] -= n
            r_ = idx // E
            g = group[idx - r_ * E]
            q_fail = 1.0 - S["p"].reshape(-1)[r_ * R + g]
            # failures among n attempts: one uniform when n == 1 (most cells), a binomial otherwise
            nf = (rng.random(len(n)) < q_fail).astype(np.int32)
            many = np.flatnonzero(n > 1)
            for k_ in range(1, 8):  # small n: a few more Bernoulli draws are cheaper than a binomial
                if len(many) == 0:
                    break
                nf[many] += rng.random(len(many)) < q_fail[many]
                many = many[n[many] > k_ + 1]
            if len(many):
                nf[many] += rng.binomial(n[many] - 8, q_fail[many])
            ns = n - nf
            s = np.flatnonzero(ns > 0)
            if len(s):
                u = rng.random(len(s))
                m_ = ns[s] > 1
                u[m_] **= 1.0 / ns[s][m_]  # the last of ns merges: max of ns uniform draws
                qi = np.minimum((u * QGRID).astype(np.int64), QGRID - 1)
                lead = np.rint(lead_flat[g[s] * QGRID + qi] * S["scale"][r_[s]])
                fs = idx[s]
                lf[fs] = np.maximum(lf[fs], np.minimum(t + lead, 32000).astype(np.int16))
            f = np.flatnonzero(nf)
            if len(f):
                lag = np.rint(fail_tab[(rng.random(len(f)) * QGRID).astype(int)] * S["scale"][r_[f]])
                push_failures(idx[f], nf[f], t + lag.astype(np.int64) + 1)

        done_all[S["id"]] = S["done"]
        tasks_all[S["id"]] = S["tasks"]
        return done_all, tasks_all

    # two independent streams, one per core (numpy releases the GIL in array operations)
    n_chunks = 2 if T_total >= 2000 else 1
    sizes = [T_total // n_chunks + (i < T_total % n_chunks) for i in range(n_chunks)]
    rngs = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(n_chunks)]
    if n_chunks == 1:
        parts = [run(rngs[0], sizes[0])]
    else:
        with ThreadPoolExecutor(n_chunks) as pool:
            parts = list(pool.map(run, rngs, sizes))
    done_day = np.concatenate([p[0] for p in parts])
    tasks = np.concatenate([p[1] for p in parts])
    inv = np.argsort(np.array(cols))[:n_real]
    thin = np.array([params.thin_history or params.repo_thin(e.repo) for e in epics])
    return SimResult(epics, today, int(horizon_days), done_day[:, inv], tasks[:, inv], thin)


def _pct_dates(days: np.ndarray, today: date, horizon: int, qs=(50, 85, 95)) -> list[date | None]:
    """Percentile completion dates along axis 0; None when beyond the horizon."""
    out = []
    for q in qs:
        v = np.percentile(days, q, axis=0, method="inverted_cdf")
        out.append([None if x >= horizon else today + timedelta(days=int(x)) for x in np.atleast_1d(v)])
    return out


def summarize(sim: SimResult, by_date: date | None = None) -> pd.DataFrame:
    """One row per epic: P50/P85/P95 dates, probability done by ``by_date``, expected tasks."""
    p50, p85, p95 = _pct_dates(sim.done_day, sim.today, sim.horizon_days)
    prob = [None] * len(sim.epics)
    if by_date is not None:
        lim = (by_date - sim.today).days
        prob = list((sim.done_day <= lim).mean(0).astype(float))
    never = (sim.done_day == NOT_DONE).mean(0)
    return pd.DataFrame(
        {
            "repo": [e.repo for e in sim.epics],
            "epic": [e.epic for e in sim.epics],
            "remaining_children": [int(sum(max(0, n) for n in e.remaining_by_phase)) for e in sim.epics],
            "p50": p50,
            "p85": p85,
            "p95": p95,
            "prob_done_by": prob,
            "prob_beyond_horizon": never.astype(float),
            "beyond_horizon": [x is None for x in p95],
            "expected_tasks": sim.tasks.mean(0).astype(float),
            "thin_history": sim.thin.astype(bool),
        }
    )


def summarize_org(sim: SimResult, by_date: date | None = None) -> dict:
    """Organisation level: the date by which all epics are done (P50/P85/P95)."""
    if sim.done_day.shape[1] == 0:
        return {
            "p50": sim.today,
            "p85": sim.today,
            "p95": sim.today,
            "prob_done_by": 1.0,
            "beyond_horizon": False,
            "expected_tasks": 0.0,
            "thin_history": False,
        }
    all_done = sim.done_day.max(1)
    p50, p85, p95 = (x[0] for x in _pct_dates(all_done[:, None], sim.today, sim.horizon_days))
    prob = None if by_date is None else float((all_done <= (by_date - sim.today).days).mean())
    return {
        "p50": p50,
        "p85": p85,
        "p95": p95,
        "prob_done_by": prob,
        "beyond_horizon": p95 is None,
        "expected_tasks": float(sim.tasks.sum(1).mean()),
        "thin_history": bool(sim.thin.any()),
    }


def forecast_epics(
    epics: list[EpicInput],
    params: Params,
    capacity_per_day: float,
    today: date,
    trials: int = 10_000,
    seed: int = 0,
    max_repo_share: float = 0.5,
    horizon_days: int = 730,
    by_date: date | None = None,
) -> pd.DataFrame:
    """Per-epic forecast frame (see ``summarize``); reproducible for a given seed."""
    sim = simulate(epics, params, capacity_per_day, today, trials, seed, max_repo_share, horizon_days)
    return summarize(sim, by_date)


def forecast_org(
    epics: list[EpicInput],
    params: Params,
    capacity_per_day: float,
    today: date,
    trials: int = 10_000,
    seed: int = 0,
    max_repo_share: float = 0.5,
    horizon_days: int = 730,
    by_date: date | None = None,
) -> dict:
    """ "All epics done by" P50/P85/P95 for the organisation (same simulation as ``forecast_epics``)."""
    sim = simulate(epics, params, capacity_per_day, today, trials, seed, max_repo_share, horizon_days)
    return summarize_org(sim, by_date)


def forecast(
    epics: list[EpicInput],
    params: Params,
    capacity_per_day: float,
    today: date,
    trials: int = 10_000,
    seed: int = 0,
    max_repo_share: float = 0.5,
    horizon_days: int = 730,
    by_date: date | None = None,
) -> tuple[pd.DataFrame, dict]:
    """Per-epic frame and org summary from a single simulation."""
    sim = simulate(epics, params, capacity_per_day, today, trials, seed, max_repo_share, horizon_days)
    return summarize(sim, by_date), summarize_org(sim, by_date)


# ---------------------------------------------------------------- backtest


def state_at(
    children: pd.DataFrame, dispatches: pd.DataFrame, epics: pd.DataFrame, cutoff: date
) -> tuple[list[EpicInput], History]:
    """Rebuild open epics and the history visible just before ``cutoff`` (data from earlier days only).

    children: ``repo, epic, child, phase, created_at (added to the epic), closed_at`` (phase 1-based).
    dispatches: as in ``History`` (``issue`` is the child number).
    epics: ``repo, epic, created_at, priority``.
    """
    ch = children[_before(children["created_at"], cutoff)].copy()
    ch["open"] = ~_before(ch["closed_at"], cutoff)
    d = dispatches[_before(dispatches["dispatched_at"], cutoff)]
    resolved = _before(d["merged_at"], cutoff)
    if "resolved_at" in d.columns:
        resolved = resolved | (d["failed"].to_numpy(dtype=bool) & _before(d["resolved_at"], cutoff))
    last = d.assign(resolved=resolved).sort_values("dispatched_at").groupby(["repo", "issue"]).tail(1)
    inflight = last[~last["resolved"]]
    age = {
        (r, i): (pd.Timestamp(cutoff) - pd.Timestamp(x)).days
        for r, i, x in zip(inflight["repo"], inflight["issue"], inflight["dispatched_at"], strict=False)
    }
    ep = epics[_before(epics["created_at"], cutoff)]
    prio = {(r, e): p for r, e, p in zip(ep["repo"], ep["epic"], ep["priority"], strict=False)}
    created = {(r, e): c for r, e, c in zip(ep["repo"], ep["epic"], ep["created_at"], strict=False)}
    out: list[EpicInput] = []
    closed_at: dict[tuple, pd.Timestamp] = {}
    for (r, e), g in ch.groupby(["repo", "epic"]):
        if (r, e) not in prio:
            continue
        if not g["open"].any():
            closed_at[(r, e)] = pd.to_datetime(g["closed_at"]).max()
            continue
        og = g[g["open"]]
        nphase = int(og["phase"].max())
        rem = [int((og["phase"] == k).sum()) for k in range(1, nphase + 1)]
        first = int(og["phase"].min())
        ages = [age[(r, c)] for c in og.loc[og["phase"] == first, "child"] if (r, c) in age]
        out.append(EpicInput(str(r), int(e), rem, int(prio[(r, e)]), pd.Timestamp(created[(r, e)]).date(), ages))
    ec = pd.to_datetime(
        pd.Series(
            [created.get((r, e), pd.NaT) for r, e in zip(ch["repo"], ch["epic"], strict=False)],
            index=ch.index,
            dtype="object",
        )
    )
    sa = ch[pd.to_datetime(ch["created_at"]).dt.normalize() > ec.dt.normalize()]
    init = ch[pd.to_datetime(ch["created_at"]).dt.normalize() <= ec.dt.normalize()]
    initial = {
        (r, e): [int((g["phase"] == k).sum()) for k in range(1, int(g["phase"].max()) + 1)]
        for (r, e), g in init.groupby(["repo", "epic"])
    }
    scope = pd.DataFrame({"repo": sa["repo"], "epic": sa["epic"], "added_at": sa["created_at"]})
    hist_epics = pd.DataFrame(
        {
            "repo": ep["repo"],
            "epic": ep["epic"],
            "created_at": ep["created_at"],
            "closed_at": [closed_at.get((r, e), pd.NaT) for r, e in zip(ep["repo"], ep["epic"], strict=False)],
            "priority": ep["priority"].to_numpy(),
            "initial_by_phase": [initial.get((r, e), []) for r, e in zip(ep["repo"], ep["epic"], strict=False)],
        }
    )
    return out, History(dispatches=d, scope_additions=scope, epics=hist_epics)


def backtest_epics(
    children: pd.DataFrame,
    dispatches: pd.DataFrame,
    epics: pd.DataFrame,
    capacity: pd.DataFrame,
    cutoffs: list[date],
    trials: int = 2_000,
    seed: int = 0,
    max_repo_share: float = 0.5,
    horizon_days: int = 730,
) -> pd.DataFrame:
    """Forecast at each past cutoff from earlier data only; one row per (cutoff, open epic) with the actual.

    capacity: ``date, capacity`` (tasks/day); the last value before the cutoff is used.
    The actual completion is the last child's ``closed_at`` when every child is closed, else NaT.
    """
    ch_closed = pd.to_datetime(children["closed_at"])
    actual = (
        children.assign(closed_at=ch_closed)
        .groupby(["repo", "epic"])["closed_at"]
        .agg(lambda s: s.max() if s.notna().all() else pd.NaT)
    )
    data_end = max(pd.to_datetime(children["closed_at"]).max(), pd.to_datetime(dispatches["dispatched_at"]).max())
    rows = []
    for i, cut in enumerate(cutoffs):
        open_epics, hist = state_at(children, dispatches, epics, cut)
        if not open_epics:
            continue
        params = estimate_parameters(hist, cut)
        cap_before = capacity[_before(capacity["date"], cut)]
        cap = float(cap_before.sort_values("date")["capacity"].iloc[-1]) if len(cap_before) else 0.0
        fc = forecast_epics(open_epics, params, cap, cut, trials, seed + i, max_repo_share, horizon_days)
        fc.insert(0, "cutoff", cut)
        fc["actual"] = [actual.get((e.repo, e.epic), pd.NaT) for e in open_epics]
        rows.append(fc)
    if not rows:
        return pd.DataFrame()
    bt = pd.concat(rows, ignore_index=True)
    act = pd.to_datetime(bt["actual"])
    for q in ("p50", "p85", "p95"):
        pq = pd.to_datetime(bt[q])
        hit = (act <= pq) & act.notna() & pq.notna()
        miss = (act > pq) | (act.isna() & pq.notna() & (pq < data_end))
        bt[f"done_by_{q}"] = np.where(hit, 1.0, np.where(miss, 0.0, np.nan))
    bt["p50_error_days"] = (act - pd.to_datetime(bt["p50"])).dt.days
    return bt


def calibration(bt: pd.DataFrame) -> pd.DataFrame:
    """Share of epics done by their P50/P85/P95 and P50 error (days), per cutoff and overall."""

    def one(g: pd.DataFrame) -> dict:
        err = g["p50_error_days"].dropna()
        return {
            "n_epics": len(g),
            "cover_p50": g["done_by_p50"].mean(),
            "cover_p85": g["done_by_p85"].mean(),
            "cover_p95": g["done_by_p95"].mean(),
            "p50_mae_days": float(err.abs().mean()) if len(err) else np.nan,
            "p50_bias_days": float(err.mean()) if len(err) else np.nan,
        }

    rows = [{"cutoff": c, **one(g)} for c, g in bt.groupby("cutoff")]
    rows.append({"cutoff": "all", **one(bt)})
    return pd.DataFrame(rows)


def backtest(
    children: pd.DataFrame,
    dispatches: pd.DataFrame,
    epics: pd.DataFrame,
    capacity: pd.DataFrame,
    cutoffs: list[date],
    trials: int = 2_000,
    seed: int = 0,
    max_repo_share: float = 0.5,
    horizon_days: int = 730,
) -> pd.DataFrame:
    """Replay history at past cutoffs and report calibration (see ``calibration``)."""
    bt = backtest_epics(children, dispatches, epics, capacity, cutoffs, trials, seed, max_repo_share, horizon_days)
    return calibration(bt) if len(bt) else bt
