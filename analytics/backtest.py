"""Replay the forecast at past cutoffs from the data before each one, and compare with what happened.

`backtest_epics` forecasts every epic open at each cutoff; `calibration` says how often the
epics were done by their P50 / P85 / P95 dates; `backtest_report` does the whole check on the
frames the forecast reads (weekly cutoffs, the dispatch rate actually observed). Pure pandas.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from analytics.forecast import THIN_MERGES, estimate_parameters, forecast_epics
from analytics.forecast_inputs import dispatches_from, history_frames, state_at
from analytics.forecast_params import before

BACKTEST_TRIALS = 2_000
RATE_WINDOW_DAYS = 28  # the capacity at a cutoff: dispatches per day over this many days before it


def _actual_completion(children: pd.DataFrame) -> pd.Series:
    """(repo, epic) -> the last child's ``closed_at`` when every child is closed, else NaT."""
    ch_closed = pd.to_datetime(children["closed_at"])
    return (
        children.assign(closed_at=ch_closed)
        .groupby(["repo", "epic"])["closed_at"]
        .agg(lambda s: s.max() if s.notna().all() else pd.NaT)
    )


def _capacity_at(capacity: pd.DataFrame, cutoff: date) -> float:
    """The last capacity value before the cutoff (0 when none)."""
    cap_before = capacity[before(capacity["date"], cutoff)]
    return float(cap_before.sort_values("date")["capacity"].iloc[-1]) if len(cap_before) else 0.0


def _score(bt: pd.DataFrame, data_end: pd.Timestamp) -> pd.DataFrame:
    """``done_by_pXX`` (1 hit, 0 miss, NaN unknown yet) and the P50 error in days."""
    act = pd.to_datetime(bt["actual"])
    for q in ("p50", "p85", "p95"):
        pq = pd.to_datetime(bt[q])
        hit = (act <= pq) & act.notna() & pq.notna()
        miss = (act > pq) | (act.isna() & pq.notna() & (pq < data_end))
        bt[f"done_by_{q}"] = np.where(hit, 1.0, np.where(miss, 0.0, np.nan))
    bt["p50_error_days"] = (act - pd.to_datetime(bt["p50"])).dt.days
    return bt


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
    actual = _actual_completion(children)
    data_end = max(pd.to_datetime(children["closed_at"]).max(), pd.to_datetime(dispatches["dispatched_at"]).max())
    rows = []
    for i, cut in enumerate(cutoffs):
        open_epics, hist = state_at(children, dispatches, epics, cut)
        if not open_epics:
            continue
        params = estimate_parameters(hist, cut)
        cap = _capacity_at(capacity, cut)
        fc = forecast_epics(open_epics, params, cap, cut, trials, seed + i, max_repo_share, horizon_days)
        fc.insert(0, "cutoff", cut)
        fc["actual"] = [actual.get((e.repo, e.epic), pd.NaT) for e in open_epics]
        rows.append(fc)
    if not rows:
        return pd.DataFrame()
    return _score(pd.concat(rows, ignore_index=True), data_end)


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


# ── the check on the forecast's own frames ────────────────────────────────────


def backtest_cutoffs(
    children: pd.DataFrame, epics: pd.DataFrame, as_of: pd.Timestamp, step_days: int = 7, max_cutoffs: int = 8
) -> list[date]:
    """Weekly cutoffs over the recent past: from two weeks after the first epic to one week ago."""
    created = pd.to_datetime(epics["created_at"]).dropna()
    if created.empty:
        return []
    first = created.min().normalize() + pd.Timedelta(days=14)
    last = as_of.normalize() - pd.Timedelta(days=step_days)
    cuts = []
    day = last
    while day >= first and len(cuts) < max_cutoffs:
        cuts.append(day.date())
        day -= pd.Timedelta(days=step_days)
    return sorted(cuts)


def observed_rate(dispatches: pd.DataFrame, as_of: pd.Timestamp, window: int = RATE_WINDOW_DAYS) -> pd.DataFrame:
    """``date, capacity``: dispatches per day over the trailing ``window`` days (the rate actually used)."""
    start = pd.to_datetime(dispatches["dispatched_at"]).min() if len(dispatches) else as_of
    days = pd.date_range(start.normalize(), as_of.normalize(), freq="D")
    counts = pd.Series(dtype=float)
    if len(dispatches):
        counts = pd.to_datetime(dispatches["dispatched_at"]).dt.normalize().value_counts()
    daily = pd.Series(0.0, index=days).add(counts, fill_value=0).loc[days]
    rate = daily.rolling(window, min_periods=1).sum() / window
    # the rate known on a day is the one of the days before it
    return pd.DataFrame({"date": days + pd.Timedelta(days=1), "capacity": rate.to_numpy()})


def _capacity_frame(dispatches: pd.DataFrame, as_of: pd.Timestamp, rate: float | None) -> pd.DataFrame:
    """The what-if ``rate`` at every cutoff, or the observed dispatch rate."""
    if rate is not None:
        return pd.DataFrame({"date": [pd.Timestamp("1970-01-01")], "capacity": [max(0.0, float(rate))]})
    return observed_rate(dispatches, as_of)


def backtest_notes(bt: pd.DataFrame, cutoffs: list[date], merged: int) -> list[str]:
    """What a reader should know before trusting the calibration table."""
    notes = []
    if not len(bt):
        notes.append("no epic was open at any past cutoff with dispatch history: nothing to check yet")
    else:
        known = int(bt["done_by_p50"].notna().sum())
        distinct = bt[["repo", "epic"]].drop_duplicates()
        finished = bt.loc[bt["actual"].notna(), ["repo", "epic"]].drop_duplicates()
        if len(distinct) < 10:
            notes.append(
                f"thin history: only {len(distinct)} distinct epics (re-forecast at each of "
                f"{len(cutoffs)} cutoffs, so the rows are not independent) and {known} known outcomes; "
                "these shares are rough"
            )
        if len(finished) == 0:
            notes.append(
                "none of these epics has finished since: the P50 error in days cannot be measured, and "
                "every forecast date already passed counts as a miss (the epics stalled, or their "
                "children were not dispatched at the rate the model assumes)"
            )
    if merged < THIN_MERGES:
        notes.append(f"only {merged} merged dispatches in the whole history")
    return notes


def backtest_report(
    frames: dict[str, Any],
    max_repo_share: float,
    rate: float | None = None,
    trials: int = BACKTEST_TRIALS,
    seed: int = 0,
) -> dict[str, Any]:
    """Forecast at weekly past cutoffs from data before each cutoff; compare with what happened.

    Capacity at a cutoff is the dispatch rate observed over the 28 days before it (what the team
    actually spent), unless ``rate`` is given. Children and their dates come from the current
    snapshot (``closed_at`` / ``created_at`` say when each was done or listed).
    """
    as_of = frames["as_of"]
    children, epics = history_frames(frames["children"], frames["epics"])
    dispatches = dispatches_from(frames["agent_events"], frames["ledger"], frames["issues"], frames["pr_links"])
    cutoffs = backtest_cutoffs(children, epics, as_of)
    capacity = _capacity_frame(dispatches, as_of, rate)
    bt = pd.DataFrame()
    if cutoffs and len(children) and len(dispatches):
        bt = backtest_epics(
            children, dispatches, epics, capacity, cutoffs, trials=trials, seed=seed, max_repo_share=max_repo_share
        )
    merged = int(dispatches["merged_at"].notna().sum()) if len(dispatches) else 0
    return {
        "as_of": as_of.date(),
        "cutoffs": cutoffs,
        "calibration": calibration(bt) if len(bt) else pd.DataFrame(),
        "detail": bt,
        "dispatches": len(dispatches),
        "merged": merged,
        "outcomes_known": int(bt["done_by_p50"].notna().sum()) if len(bt) else 0,
        "notes": backtest_notes(bt, cutoffs, merged),
        "capacity": "observed 28-day dispatch rate" if rate is None else f"{float(rate):g} tasks/day",
    }
