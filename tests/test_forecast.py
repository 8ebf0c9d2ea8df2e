"""Tests for the Monte Carlo epic forecast (analytics.forecast) on known synthetic organisations."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from analytics.backtest import backtest_epics, calibration
from analytics.forecast import (
    NOT_DONE,
    EpicInput,
    History,
    estimate_parameters,
    forecast,
    forecast_epics,
    forecast_org,
    simulate,
)
from analytics.simulate_org import FAMILIES, generate_org

TODAY = date(2025, 6, 2)


def rich_history(n: int = 400, lead: int = 3, success: float = 0.8, seed: int = 1) -> History:
    """A long, clean history: n dispatches over 100 days in two repos."""
    rng = np.random.default_rng(seed)
    start = pd.Timestamp(TODAY) - pd.Timedelta(days=100)
    disp = start + pd.to_timedelta(rng.integers(0, 90, n), unit="D")
    ok = rng.random(n) < success
    merged = pd.Series(disp + pd.to_timedelta(np.full(n, lead), unit="D")).where(ok, pd.NaT)
    d = pd.DataFrame(
        {
            "repo": np.where(rng.random(n) < 0.5, "a", "b"),
            "issue": np.arange(n),
            "dispatched_at": disp,
            "merged_at": merged,
            "failed": ~ok,
            "resolved_at": disp + pd.Timedelta(days=2),
        }
    )
    epics = pd.DataFrame(
        {"repo": ["a"] * 10, "epic": range(10), "created_at": [start] * 10, "closed_at": [pd.NaT] * 10}
    )
    return History(d, pd.DataFrame(columns=["repo", "epic", "added_at"]), epics)


def some_epics() -> list[EpicInput]:
    """A handful of open epics in two repos."""
    return [EpicInput("a", 1, [3, 4], 0), EpicInput("a", 2, [5], 1), EpicInput("b", 3, [2, 2, 2], 1)]


def test_same_seed_same_output() -> None:
    params = estimate_parameters(rich_history(), TODAY)
    a = forecast_epics(some_epics(), params, 5, TODAY, trials=3000, seed=11)
    b = forecast_epics(some_epics(), params, 5, TODAY, trials=3000, seed=11)
    pd.testing.assert_frame_equal(a, b)
    c = forecast_epics(some_epics(), params, 5, TODAY, trials=3000, seed=12)
    assert not c["expected_tasks"].equals(a["expected_tasks"])


def test_output_shape_and_order() -> None:
    params = estimate_parameters(rich_history(), TODAY)
    df, org = forecast(some_epics(), params, 5, TODAY, trials=2000, by_date=TODAY + timedelta(days=20))
    assert list(df["epic"]) == [1, 2, 3]
    for _, r in df.iterrows():
        assert TODAY <= r["p50"] <= r["p85"] <= r["p95"]
        assert 0.0 <= r["prob_done_by"] <= 1.0
        assert r["expected_tasks"] >= r["remaining_children"]  # rework only adds tasks
    assert org["p50"] <= org["p85"] <= org["p95"]
    assert org["p50"] >= max(df["p50"])  # all done is no earlier than any one epic
    assert org == forecast_org(some_epics(), params, 5, TODAY, trials=2000, by_date=TODAY + timedelta(days=20))


def test_phases_run_in_order() -> None:
    """Three phases of 2 need at least three lead times; one phase of 6 does not."""
    params = estimate_parameters(rich_history(lead=4, success=0.95), TODAY)
    epics = [EpicInput("a", 1, [2, 2, 2], 1), EpicInput("b", 2, [6], 1)]
    sim = simulate(epics, params, 1000, TODAY, trials=4000, seed=3)
    phased, flat = sim.done_day[:, 0], sim.done_day[:, 1]
    assert (phased >= 2).all()  # each later phase starts the day after the previous one merged
    assert np.median(phased) >= 2 * np.median(flat)
    assert np.median(phased) >= 3 * 3  # three sequential lead times of about 4 days


def test_in_flight_children_finish_sooner() -> None:
    params = estimate_parameters(rich_history(lead=6, success=0.95), TODAY)
    fresh = [EpicInput("a", 1, [3], 1)]
    started = [EpicInput("a", 1, [3], 1, in_flight_ages=[5, 5, 5])]
    a = simulate(fresh, params, 10, TODAY, trials=3000).done_day[:, 0]
    b = simulate(started, params, 10, TODAY, trials=3000).done_day[:, 0]
    assert np.median(b) < np.median(a)


def test_thin_history_is_flagged_and_wider() -> None:
    empty = History(pd.DataFrame(columns=["repo", "issue", "dispatched_at", "merged_at", "failed"]))
    thin = estimate_parameters(empty, TODAY)
    assert thin.thin_history and thin.notes
    assert 0 < thin.org_success_rate < 1 and np.isfinite(thin.scope_rate_per_epic_day)
    rich = estimate_parameters(rich_history(), TODAY)
    assert not rich.thin_history
    epics = some_epics()
    wide = forecast_epics(epics, thin, 5, TODAY, trials=3000)
    narrow = forecast_epics(epics, rich, 5, TODAY, trials=3000)
    assert wide["thin_history"].all() and not narrow["thin_history"].any()
    spread = lambda df: (pd.to_datetime(df["p95"]) - pd.to_datetime(df["p50"])).dt.days  # noqa: E731
    assert (spread(wide) > spread(narrow)).all()
    assert not wide[["expected_tasks"]].isna().any().any()


def test_few_merges_is_thin() -> None:
    h = rich_history(n=6)
    p = estimate_parameters(h, TODAY)
    assert p.thin_history and any("merged" in n for n in p.notes)


def test_no_epics_and_zero_capacity() -> None:
    params = estimate_parameters(rich_history(), TODAY)
    df, org = forecast([], params, 5, TODAY, trials=100)
    assert len(df) == 0 and org["p50"] == TODAY
    df = forecast_epics(some_epics(), params, 0, TODAY, trials=500, horizon_days=60, by_date=TODAY + timedelta(days=59))
    assert df["p50"].isna().all() and df["beyond_horizon"].all()
    assert (df["prob_done_by"] == 0).all() and (df["prob_beyond_horizon"] == 1).all()
    assert (df["expected_tasks"] == 0).all()
    sim = simulate(some_epics(), params, 0, TODAY, trials=200, horizon_days=60)
    assert (sim.done_day == NOT_DONE).all()


def test_repo_share_cap_slows_a_single_busy_repo_only_when_others_have_work() -> None:
    params = estimate_parameters(rich_history(success=0.95), TODAY)
    alone = [EpicInput("a", 1, [20], 0)]
    shared = alone + [EpicInput("b", 2, [1], 1)]
    a = simulate(alone, params, 4, TODAY, trials=2000).done_day[:, 0]
    b = simulate(shared, params, 4, TODAY, trials=2000).done_day[:, 0]
    assert np.median(b) >= np.median(a)  # while repo b has work, repo a gets at most half


def test_success_rate_is_shrunk() -> None:
    h = rich_history(success=0.5, n=200)
    extra = pd.DataFrame(
        {
            "repo": ["c", "c"],
            "issue": [900, 901],
            "dispatched_at": [pd.Timestamp("2025-05-01")] * 2,
            "merged_at": [pd.Timestamp("2025-05-03")] * 2,
            "failed": [False, False],
            "resolved_at": [pd.Timestamp("2025-05-03")] * 2,
        }
    )
    h.dispatches = pd.concat([h.dispatches, extra], ignore_index=True)
    p = estimate_parameters(h, TODAY)
    assert p.org_success_rate < p.success_rate("c") < 0.75  # 2/2 is not taken at face value
    assert p.repo_thin("c") and not p.repo_thin("a")


def test_calibration_on_unseen_synthetic_orgs() -> None:
    """P85 covers 75-95% and P50 35-65% of actual completions, on the 'test' family (not used for tuning)."""
    frames = []
    for seed in range(2000, 2006):
        org = generate_org(seed, n_epics=30, family="test")
        w = FAMILIES["test"]["window"]
        cutoffs = [org.day(int(w * x)) for x in (0.4, 0.7, 1.0)]
        frames.append(
            backtest_epics(org.children, org.dispatches, org.epics, org.capacity, cutoffs, trials=2000, seed=seed)
        )
    bt = pd.concat(frames, ignore_index=True)
    overall = calibration(bt).iloc[-1]
    print(
        f"calibration: n={overall.n_epics} P50 {overall.cover_p50:.2f} P85 {overall.cover_p85:.2f} "
        f"P95 {overall.cover_p95:.2f} P50 MAE {overall.p50_mae_days:.1f} d bias {overall.p50_bias_days:+.1f} d"
    )
    assert overall.n_epics >= 100
    assert 0.75 <= overall.cover_p85 <= 0.95
    assert 0.35 <= overall.cover_p50 <= 0.65
    assert overall.cover_p95 >= 0.85


@pytest.mark.parametrize("seed", [5, 6])
def test_generator_is_reproducible_and_complete(seed: int) -> None:
    a, b = generate_org(seed, 10), generate_org(seed, 10)
    pd.testing.assert_frame_equal(a.children, b.children)
    assert a.epics["closed_at"].notna().all()
    assert set(a.dispatches["issue"]) <= set(a.children["child"])


# ── the simulation's named steps (analytics.forecast_sim) ─────────────────────


def _one_trial(epics: list[EpicInput], seed: int = 0):
    from analytics.forecast_layout import build_layout
    from analytics.forecast_sim import Rework, draw_trials

    params = estimate_parameters(rich_history(), TODAY)
    layout = build_layout(epics, params, seed)
    state = draw_trials(np.random.default_rng(seed), params, layout, 2)
    return params, layout, state, Rework(layout.width)


def test_a_phase_advances_only_when_queue_pending_and_merges_are_done() -> None:
    from analytics.forecast_sim import advance_phases

    _, layout, state, _ = _one_trial([EpicInput("a", 1, [1, 2])])
    advance_phases(state, layout, 0)
    assert state.phase.tolist() == [[0], [0]]  # one child still queued
    state.queued[:] = 0
    state.last_merge[:] = 3
    advance_phases(state, layout, 3)
    assert state.phase.tolist() == [[0], [0]]  # the last merge lands on day 3
    advance_phases(state, layout, 4)
    assert state.phase.tolist() == [[1], [1]] and state.queued.tolist() == [[2], [2]]
    state.queued[:] = 0
    advance_phases(state, layout, 5)
    assert not state.active.any() and state.done.tolist() == [[3], [3]]


def test_capacity_is_shared_under_the_repo_cap_then_by_priority() -> None:
    from analytics.forecast_sim import daily_capacity, share_capacity

    epics = [EpicInput("a", 1, [5], 1), EpicInput("a", 2, [5], 0), EpicInput("b", 3, [5], 1)]
    _, layout, state, _ = _one_trial(epics)
    cap, share_cap = daily_capacity(4, 0, 0.5)
    assert (cap, share_cap) == (4, 2)
    alloc = share_capacity(state.queued, layout, cap, share_cap)
    by_epic = dict(zip([e.epic for e in layout.epics], alloc[0].tolist(), strict=True))
    assert by_epic == {2: 2, 1: 0, 3: 2}  # repo a capped at 2, its priority-0 epic first
    assert [daily_capacity(2.5, day, 0.5)[0] for day in range(4)] == [2, 3, 2, 3]


def test_failed_attempts_come_back_on_their_day_and_follow_compaction() -> None:
    from analytics.forecast_sim import return_failures

    _, layout, state, rework = _one_trial([EpicInput("a", 1, [2])])
    state.queued[:] = 0
    rework.push(state, np.array([0, 1]), np.array([1, 2]), np.array([3, 5]))
    assert state.pending.tolist() == [[1], [2]]
    return_failures(state, rework, 3)
    assert state.queued.tolist() == [[1], [0]] and state.pending.tolist() == [[0], [2]]
    keep = np.array([False, True])
    state.keep_rows(keep)
    rework.keep_rows(keep)
    return_failures(state, rework, 5)
    assert state.queued.tolist() == [[2]] and state.pending.tolist() == [[0]]
