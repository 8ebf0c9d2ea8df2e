"""The simulation's columns: which epics (real, then expected new ones), in which order, and their tables.

Columns are grouped by repo (for the repo share cap); the dispatch order is priority, then repos
with most work left. The lead-time tables mix a repo's observed leads, the org's and a wide prior.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from analytics.forecast_params import (
    ARRIVAL_HORIZON,
    MAX_NEW_EPICS,
    POOLED_LEAD_WEIGHT,
    PRIOR_LEAD_MEDIAN,
    PRIOR_LEAD_SIGMA,
    PRIOR_LEAD_WEIGHT,
    QGRID,
    EpicInput,
    Params,
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
    values = np.concatenate([p[0] for p in parts])
    weights = np.concatenate([p[1] for p in parts])
    order = np.argsort(values, kind="stable")
    cumulative = np.cumsum(weights[order])
    q = (np.arange(QGRID) + 0.5) / QGRID * cumulative[-1]
    return values[order][np.minimum(np.searchsorted(cumulative, q), len(values) - 1)]


@dataclass
class Layout:
    """The simulation's columns (real epics, then expected new ones) and the tables they index.

    Columns are grouped by repo (for the repo share cap); ``priority_order`` is the dispatch order.
    """

    epics: list[EpicInput]  # one per column
    column_of_input: list[int]  # for each column, its index in real epics + phantoms
    n_real: int  # the caller's epics; the others are phantoms
    n_new: int  # phantom columns (expected new epics)
    repos: list[str]
    real: np.ndarray  # (E,) bool
    phantom_columns: np.ndarray
    repo_of_column: np.ndarray  # (E,) repo index
    repo_starts: np.ndarray  # first column of each repo
    priority_order: np.ndarray  # columns in dispatch priority order
    n_phases: np.ndarray  # (E,) phases with work
    phases: np.ndarray  # (E, max phases + 1) children per phase
    lead_tab: np.ndarray  # (repos, QGRID) dispatch-to-merge quantiles
    lead_flat: np.ndarray
    fail_tab: np.ndarray  # (QGRID,) dispatch-to-known-failure quantiles

    @property
    def width(self) -> int:
        return len(self.epics)


def _expected_new_epics(params: Params, seed: int) -> list[EpicInput]:
    """Phantom epics shaped like recent ones: they take capacity but are not reported."""
    templates = params.arrival_templates
    rate = params.arrival_shape / params.arrival_rate if templates else 0.0
    count = 0
    if rate > 0:
        mean = rate * ARRIVAL_HORIZON
        count = min(int(mean + 3 * np.sqrt(mean)) + 1, MAX_NEW_EPICS)
    pick = np.random.default_rng([seed, 7]).integers(0, max(1, len(templates)), size=count)
    return [EpicInput(templates[i][0], -1 - j, templates[i][2], templates[i][1]) for j, i in enumerate(pick)]


def _work_per_repo(epics: list[EpicInput], phantoms: list[EpicInput]) -> dict[str, int]:
    """Children left per repo (real epics only): repos with most work left go first."""
    work = {e.repo: 0 for e in epics}
    for e in epics:
        work[e.repo] += sum(max(0, n) for n in e.remaining_by_phase)
    for e in phantoms:
        work.setdefault(e.repo, 0)
    return work


def _phase_table(epics: list[EpicInput]) -> tuple[np.ndarray, np.ndarray]:
    """(phases with work per column, children per phase padded with a trailing zero)."""
    plist = [[int(n) for n in e.remaining_by_phase if n > 0] for e in epics]
    n_phases = np.array([len(p) for p in plist], dtype=np.int32)
    phases = np.zeros((len(epics), int(n_phases.max(initial=0)) + 1), dtype=np.int32)
    for i, p in enumerate(plist):
        phases[i, : len(p)] = p
    return n_phases, phases


def _lead_tables(params: Params, repos: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """(per-repo lead-time tables, the failure-lag table)."""
    if repos:
        tables = [
            _lead_table(params.repo_lead_samples.get(r, np.array([])), params.lead_samples, POOLED_LEAD_WEIGHT)
            for r in repos
        ]
        lead_tab = np.stack(tables)
    else:
        lead_tab = np.zeros((0, QGRID))
    fail_src = params.fail_lag_samples if len(params.fail_lag_samples) else params.lead_samples
    return lead_tab, _lead_table(fail_src, np.array([]), 0.0)


def build_layout(epics: list[EpicInput], params: Params, seed: int) -> Layout:
    """Order the columns by repo, priority and epic; tabulate phases and lead times."""
    phantoms = _expected_new_epics(params, seed)
    work = _work_per_repo(epics, phantoms)
    repos = sorted(work)
    repo_index = {r: i for i, r in enumerate(repos)}
    every = list(epics) + phantoms
    cols = sorted(range(len(every)), key=lambda i: (every[i].repo, every[i].priority, every[i].epic))
    ordered = [every[i] for i in cols]
    real = np.array([c < len(epics) for c in cols], dtype=bool)
    repo_of_column = np.array([repo_index[e.repo] for e in ordered], dtype=np.int64)
    priority_order = np.array(
        sorted(
            range(len(ordered)),
            key=lambda i: (ordered[i].priority, -work[ordered[i].repo], ordered[i].repo, ordered[i].epic),
        ),
        dtype=np.int64,
    )
    n_phases, phases = _phase_table(ordered)
    lead_tab, fail_tab = _lead_tables(params, repos)
    return Layout(
        epics=ordered,
        column_of_input=cols,
        n_real=len(epics),
        n_new=len(phantoms),
        repos=repos,
        real=real,
        phantom_columns=np.flatnonzero(~real),
        repo_of_column=repo_of_column,
        repo_starts=np.searchsorted(repo_of_column, np.arange(len(repos))),
        priority_order=priority_order,
        n_phases=n_phases,
        phases=phases,
        lead_tab=lead_tab,
        lead_flat=lead_tab.reshape(-1),
        fail_tab=fail_tab,
    )
