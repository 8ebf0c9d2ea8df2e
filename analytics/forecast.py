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
flagged (``thin_history``) and explained (``notes``). Pure numpy/pandas: no I/O.

This module is the model's public face: the inputs and parameters are
`analytics.forecast_params`, the simulation `analytics.forecast_sim`, the replay of past
cutoffs `analytics.backtest`.
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd

from analytics.forecast_params import (
    NOT_DONE,
    PRIOR_SUCCESS,
    THIN_MERGES,
    EpicInput,
    History,
    Params,
    estimate_parameters,
)
from analytics.forecast_sim import SimResult, simulate

__all__ = [
    "NOT_DONE",
    "PRIOR_SUCCESS",
    "THIN_MERGES",
    "EpicInput",
    "History",
    "Params",
    "SimResult",
    "estimate_parameters",
    "forecast",
    "forecast_epics",
    "forecast_org",
    "simulate",
    "summarize",
    "summarize_org",
]


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
