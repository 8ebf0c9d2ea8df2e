"""The forecast's inputs and parameters: open epics, observed history, and what is estimated from it.

`estimate_parameters` turns history into success rates (Beta-shrunk per repo toward the org),
lead times, rework lag, scope growth (Gamma-Poisson with per-epic heterogeneity) and the arrival
of new epics, with the counts needed to draw each per trial. Pure numpy/pandas.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

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


def days_between(a: pd.Series, b: pd.Series) -> np.ndarray:
    """Whole days from a to b (dates or timestamps)."""
    return (pd.to_datetime(b).dt.normalize() - pd.to_datetime(a).dt.normalize()).dt.days.to_numpy()


def before(col: pd.Series, today: date) -> np.ndarray:
    """Boolean mask of values strictly before ``today`` (NaT is False)."""
    return (pd.to_datetime(col) < pd.Timestamp(today)).to_numpy()


def _resolved_dispatches(history: History, today: date) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Dispatches before today, with masks of those merged and those known to have failed."""
    d = history.dispatches
    if d is None or len(d) == 0:
        d = pd.DataFrame(columns=["repo", "issue", "dispatched_at", "merged_at", "failed"])
    d = d[before(d["dispatched_at"], today)]
    merged = before(d["merged_at"], today)
    failed = d["failed"].fillna(False).to_numpy(dtype=bool) & ~merged
    if "resolved_at" in d.columns:
        known = d["resolved_at"].isna().to_numpy() | before(d["resolved_at"], today)
        failed &= known
    return d, merged, failed


def _lead_samples(d: pd.DataFrame, merged: np.ndarray) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Dispatch-to-merge days, org-wide and per repo."""
    leads = np.clip(days_between(d["dispatched_at"][merged], d["merged_at"][merged]), 0, None).astype(float)
    repos_merged = d["repo"].to_numpy()[merged]
    return leads, {str(r): leads[repos_merged == r] for r in np.unique(repos_merged)}


def _fail_lags(d: pd.DataFrame, failed: np.ndarray) -> np.ndarray:
    """Dispatch-to-known-failure days (empty without ``resolved_at``)."""
    if "resolved_at" not in d.columns:
        return np.array([], dtype=float)
    known = failed & d["resolved_at"].notna().to_numpy()
    return np.clip(days_between(d["dispatched_at"][known], d["resolved_at"][known]), 0, None).astype(float)


def _dispatch_notes(merged: int, failed: int) -> tuple[bool, list[str]]:
    """(thin history, notes) from the counts of merged and failed dispatches."""
    notes: list[str] = []
    thin = False
    if merged + failed == 0:
        thin = True
        notes.append("no resolved dispatches yet: success rate is a wide prior (mean 0.67)")
    elif merged + failed < 2 * THIN_MERGES:
        notes.append(f"only {merged + failed} resolved dispatches: success rate shrunk toward a prior")
    if merged < THIN_MERGES:
        thin = True
        notes.append(
            f"only {merged} merged dispatches: lead times mixed with a wide prior "
            f"(median {PRIOR_LEAD_MEDIAN:g} d) and intervals widened"
        )
    return thin, notes


def _lead_scale_sd(leads: np.ndarray) -> float:
    """Sd of the per-trial log multiplier on lead times: the log-lead spread over sqrt(n)."""
    log_sd = max(float(np.std(np.log1p(leads), ddof=1)), 0.2) if len(leads) >= 2 else PRIOR_LEAD_SIGMA
    return float(log_sd / np.sqrt(len(leads) + 2.0))


@dataclass
class ScopeGrowth:
    """Children added after an epic's creation, over the epic-days the epics were open."""

    additions: int
    exposure: float  # epic-days
    dispersion: float  # Gamma shape of per-epic heterogeneity (inf = none)
    epics: pd.DataFrame | None  # the epics created before today (None when not given)


def _additions_per_epic(history: History, today: date) -> tuple[int, dict[tuple[str, int], int]]:
    add = history.scope_additions
    if add is None or not len(add):
        return 0, {}
    add = add[before(add["added_at"], today)]
    return len(add), {(str(r), int(e)): len(g) for (r, e), g in add.groupby(["repo", "epic"])}


def _dispersion(additions: np.ndarray, exposure: np.ndarray) -> float:
    """Method-of-moments Gamma shape of per-epic rates (inf: no excess variance, or too few)."""
    total = float(exposure.sum())
    if not (total > 0 and len(exposure) >= 5 and additions.sum() >= 5):
        return np.inf
    lam = additions.sum() / total
    excess = float(((additions - lam * exposure) ** 2).sum() - (lam * exposure).sum())
    if excess <= 0:
        return np.inf
    return float(np.clip(lam**2 * (exposure**2).sum() / excess, 0.3, 1e6))


def _scope_growth(history: History, today: date) -> ScopeGrowth:
    """Additions, exposure and dispersion of scope growth before today."""
    n_add, per_epic = _additions_per_epic(history, today)
    ep = history.epics
    if ep is None or not len(ep):
        return ScopeGrowth(n_add, float(history.epic_days) if history.epic_days else 0.0, np.inf, ep)
    ep = ep[before(ep["created_at"], today)]
    end = pd.to_datetime(ep["closed_at"]).where(before(ep["closed_at"], today), pd.Timestamp(today))
    exposure = np.clip(days_between(ep["created_at"], end), 0, None).astype(float)
    additions = np.array([per_epic.get((str(r), int(e)), 0) for r, e in zip(ep["repo"], ep["epic"], strict=False)])
    return ScopeGrowth(n_add, float(exposure.sum()), _dispersion(additions, exposure), ep)


def _arrivals(ep: pd.DataFrame | None, today: date) -> tuple[float, float, list[tuple[str, int, list[int]]]]:
    """Gamma posterior (shape, rate) of new epics per day and the shapes they take (recent epics)."""
    if ep is None or not len(ep) or "initial_by_phase" not in ep.columns:
        return 0.0, 1.0, []
    created = pd.to_datetime(ep["created_at"])
    window = min(ARRIVAL_WINDOW, (pd.Timestamp(today) - created.min()).days)
    n_new = int((created >= pd.Timestamp(today) - pd.Timedelta(days=window)).sum())
    if window < 7 or n_new <= 0:
        return 0.0, 1.0, []
    prio = ep["priority"] if "priority" in ep.columns else pd.Series(1, index=ep.index)
    templates = [
        (str(r), int(p), [int(x) for x in ph])
        for r, p, ph in zip(ep["repo"], prio, ep["initial_by_phase"], strict=False)
        if sum(ph) > 0
    ]
    return float(n_new), float(window), templates


def estimate_parameters(history: History, today: date) -> Params:
    """Estimate success rates, lead times, rework lag and scope growth from history before today."""
    d, merged, failed = _resolved_dispatches(history, today)
    n_merged, n_failed = int(merged.sum()), int(failed.sum())
    repo_counts = {str(r): (int(merged[g].sum()), int(failed[g].sum())) for r, g in d.groupby("repo").indices.items()}
    leads, repo_leads = _lead_samples(d, merged)
    thin, notes = _dispatch_notes(n_merged, n_failed)
    scope = _scope_growth(history, today)
    if scope.exposure < 30:
        thin = thin or scope.exposure == 0
        notes.append(f"only {scope.exposure:.0f} epic-days observed: scope growth rate is mostly a prior")
    arrival_shape, arrival_rate, templates = _arrivals(scope.epics, today)
    return Params(
        org_alpha=PRIOR_SUCCESS[0] + n_merged,
        org_beta=PRIOR_SUCCESS[1] + n_failed,
        repo_counts=repo_counts,
        lead_samples=leads,
        repo_lead_samples=repo_leads,
        fail_lag_samples=_fail_lags(d, failed),
        lead_scale_sd=_lead_scale_sd(leads),
        scope_shape=PRIOR_SCOPE[0] + scope.additions,
        scope_rate=PRIOR_SCOPE[1] + scope.exposure,
        scope_dispersion=scope.dispersion,
        thin_history=thin,
        notes=notes,
        arrival_shape=arrival_shape if templates else 0.0,
        arrival_rate=arrival_rate,
        arrival_templates=templates,
    )
