"""Benchmark: 10,000 Monte Carlo trials for 100 open epics (median of a few runs)."""

from __future__ import annotations

import os
import statistics
import time
from datetime import date

from analytics.forecast import EpicInput, estimate_parameters, forecast
from analytics.forecast_inputs import state_at
from analytics.simulate_org import generate_org


def workload(n_epics: int = 100, seed: int = 7) -> tuple[list[EpicInput], object, float, date]:
    """A synthetic org's history and 100 open epics of 1-3 phases at a mid-history cutoff."""

    org = generate_org(seed, n_epics=n_epics * 2, family="dev")
    cutoff = org.day(45)
    epics, hist = state_at(org.children, org.dispatches, org.epics, cutoff)
    params = estimate_parameters(hist, cutoff)
    # top up to exactly n_epics open epics with fresh ones, as a planner would see them
    k = 0
    while len(epics) < n_epics:
        epics.append(EpicInput(f"repo-{k % 5}", 90_000 + k, [1 + k % 4, 2 + k % 6, 1 + k % 3], k % 2))
        k += 1
    return epics[:n_epics], params, float(org.truth["capacity"] * 4), cutoff


def main(runs: int = 5, trials: int = 10_000) -> None:
    """Print the median wall time of ``runs`` forecasts."""
    epics, params, cap, today = workload()
    times, cpu = [], []
    for i in range(runs):
        t0, c0 = time.perf_counter(), time.process_time()
        df, org = forecast(epics, params, cap, today, trials=trials, seed=i)
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"forecast: {len(epics)} epics x {trials} trials: {statistics.median(times):.2f} s "
        f"(min {min(times):.2f} s, CPU {statistics.median(cpu):.2f} s on {os.cpu_count()} cores, "
        f"load {load:.1f}; capacity {cap:g}/day, org P85 {org['p85']})"
    )


if __name__ == "__main__":
    main()
