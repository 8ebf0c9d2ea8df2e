"""Frames read from the database -> the forecast's inputs (``EpicInput`` list and ``History``).

Pure: pandas in, pandas/dataclasses out; no DuckDB, no Prefect. The flow
(``tasks/forecast_store.py``) reads the frames from the forecast views and hands them here;
``state_at`` rebuilds the picture at any cutoff (the present, or a past one for the backtest).

Frames (column names are the contract with the flow's SQL):

* ``children``: ``repo, epic, child, phase, child_state ('open'|'closed'|'missing'), severity,
  created_at, closed_at`` — one row per epic child (``epic_children`` joined to issue dates).
* ``epics``: ``repo, epic, state ('open'|'closed'), created_at, closed_at`` (``epics`` view).
* ``agent_events``: ``repo, number, at`` — when an issue was handed to the agent (agent label added).
* ``ledger``: ``repo, number, at`` — ``dispatch`` actions with status done in ``action_log``.
* ``issues``: ``repo, number, state, state_reason, closed_at``.
* ``pr_links``: ``repo, issue, pr_number, created_at, merged_at, closed_at, merged`` — PRs working
  on an issue (``int_pr_issue_links``).
"""

from __future__ import annotations

from datetime import date, datetime

import numpy as np
import pandas as pd

from analytics.forecast_params import EpicInput, History, before

URGENT_SEVERITIES = ("critical", "high")
DISPATCH_COLUMNS = ["repo", "issue", "dispatched_at", "merged_at", "failed", "resolved_at"]


def _ts(value) -> pd.Timestamp:
    return pd.NaT if value is None or pd.isna(value) else pd.Timestamp(value)


def capacity_per_day(pool: int | None, strategy_upper: int, rate: float | None = None) -> float:
    """The planner's daily dispatch rate: the strategy's upper bound capped by the team pool.

    ``pool`` None means no team is configured (no cap). ``rate`` (``--rate N``) overrides it;
    a negative rate is treated as zero.
    """
    if rate is not None:
        return max(0.0, float(rate))
    if pool is None:  # no team configured: the strategy alone
        return float(max(0, int(strategy_upper)))
    return float(max(0, min(int(pool), int(strategy_upper))))


def _first_dispatch(agent_events: pd.DataFrame, ledger: pd.DataFrame) -> pd.Series | None:
    """(repo, number) -> when the issue was first handed to the agent (label/assignee or ledger)."""
    given = [f[["repo", "number", "at"]] for f in (agent_events, ledger) if f is not None and len(f)]
    if not given:
        return None
    starts = pd.concat(given, ignore_index=True)
    starts["at"] = pd.to_datetime(starts["at"])
    return starts.groupby(["repo", "number"])["at"].min()


def _issue_states(issues: pd.DataFrame) -> dict[tuple[str, int], tuple]:
    """(repo, number) -> (state, state_reason, closed_at)."""
    columns = (issues["repo"], issues["number"], issues["state"], issues["state_reason"], issues["closed_at"])
    return {(r, int(n)): (s, sr, _ts(c)) for r, n, s, sr, c in zip(*columns, strict=False)}


def _linked_prs(pr_links: pd.DataFrame) -> dict[tuple[str, int], list[tuple]]:
    """(repo, issue) -> [(merged, merged_at, closed_at)] of the PRs working on it."""
    prs: dict[tuple[str, int], list[tuple]] = {}
    if pr_links is None or not len(pr_links):
        return prs
    columns = (pr_links["repo"], pr_links["issue"], pr_links["merged"], pr_links["merged_at"], pr_links["closed_at"])
    for r, i, m, ma, ca in zip(*columns, strict=False):
        prs.setdefault((r, int(i)), []).append((bool(m) if not pd.isna(m) else False, _ts(ma), _ts(ca)))
    return prs


def _attempts(repo: str, number: int, first: pd.Timestamp, links: list[tuple], issue: tuple) -> list[tuple]:
    """The dispatch attempts of one issue (see ``dispatches_from``), as ``DISPATCH_COLUMNS`` tuples."""
    merged_at = min((ma for m, ma, _ in links if m and not pd.isna(ma)), default=pd.NaT)
    state, reason, closed = issue
    if state == "closed" and not pd.isna(closed) and str(reason or "completed").lower() != "not_planned":
        merged_at = closed if pd.isna(merged_at) else min(merged_at, closed)
    failed_prs = sorted(
        ca
        for m, _, ca in links
        if not m and not pd.isna(ca) and ca >= first and (pd.isna(merged_at) or ca <= merged_at)
    )
    rows = []
    start = first
    for ca in failed_prs:
        rows.append((repo, number, start, pd.NaT, True, ca))
        start = ca
    if not pd.isna(merged_at):
        rows.append((repo, number, start, max(merged_at, start), False, max(merged_at, start)))
    elif state == "closed" and not pd.isna(closed):  # closed as not planned: a failed attempt
        rows.append((repo, number, start, pd.NaT, True, max(closed, start)))
    else:
        rows.append((repo, number, start, pd.NaT, False, pd.NaT))
    return rows


def dispatches_from(
    agent_events: pd.DataFrame,
    ledger: pd.DataFrame,
    issues: pd.DataFrame,
    pr_links: pd.DataFrame,
) -> pd.DataFrame:
    """One row per dispatch attempt: ``repo, issue, dispatched_at, merged_at, failed, resolved_at``.

    An issue is dispatched when it first got the agent label (or a done ``dispatch`` in the ledger).
    Each PR linked to it that was closed unmerged after that is a failed attempt (the next attempt
    starts when it was closed). The last attempt merged when a linked PR merged or the issue was
    closed as completed (the earlier of the two); it failed when the issue was closed as not
    planned; otherwise it is still in flight.
    """
    first = _first_dispatch(agent_events, ledger)
    if first is None:
        return pd.DataFrame(columns=DISPATCH_COLUMNS).astype({"failed": bool})
    states, prs = _issue_states(issues), _linked_prs(pr_links)
    rows = []
    for (repo, number), t0 in first.items():
        key = (repo, int(number))
        rows.extend(_attempts(repo, int(number), t0, prs.get(key, []), states.get(key, (None, None, pd.NaT))))
    out = pd.DataFrame(rows, columns=DISPATCH_COLUMNS)
    for col in ("dispatched_at", "merged_at", "resolved_at"):
        out[col] = pd.to_datetime(out[col])
    out["failed"] = out["failed"].astype(bool)
    return out.sort_values(["dispatched_at", "repo", "issue"], ignore_index=True)


def epic_priorities(children: pd.DataFrame) -> pd.DataFrame:
    """``repo, epic, priority``: 0 when the epic has a critical/high child, else 1."""
    if children.empty:
        return pd.DataFrame(columns=["repo", "epic", "priority"])
    sev = children["severity"].fillna("").astype(str).str.lower() if "severity" in children else ""
    urgent = children.assign(urgent=np.asarray(sev.isin(URGENT_SEVERITIES)) if len(children) else False)
    g = urgent.groupby(["repo", "epic"], as_index=False)["urgent"].any()
    g["priority"] = np.where(g["urgent"], 0, 1)
    return g[["repo", "epic", "priority"]]


def history_frames(children: pd.DataFrame, epics: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``state_at``'s children and epics frames: missing children dropped, priorities attached.

    children -> ``repo, epic, child, phase, created_at, closed_at`` (closed_at only when closed);
    epics -> ``repo, epic, created_at, priority`` (epics with at least one known child).
    """
    ch = children[children["child_state"] != "missing"].copy()
    ch["created_at"] = pd.to_datetime(ch["created_at"])
    ch["closed_at"] = pd.to_datetime(ch["closed_at"]).where(ch["child_state"] == "closed", pd.NaT)
    # a child without a creation date is taken as created with its epic
    ec = {(r, e): c for r, e, c in zip(epics["repo"], epics["epic"], pd.to_datetime(epics["created_at"]), strict=False)}
    missing = ch["created_at"].isna()
    if missing.any():
        ch.loc[missing, "created_at"] = [
            ec.get((r, e), pd.NaT) for r, e in zip(ch.loc[missing, "repo"], ch.loc[missing, "epic"], strict=False)
        ]
    ep = epics.merge(epic_priorities(ch), on=["repo", "epic"], how="inner")
    ep = ep.assign(created_at=pd.to_datetime(ep["created_at"]))[["repo", "epic", "created_at", "priority"]]
    cols = ["repo", "epic", "child", "phase", "created_at", "closed_at"]
    return ch[cols].reset_index(drop=True), ep.reset_index(drop=True)


def build_inputs(
    children: pd.DataFrame,
    epics: pd.DataFrame,
    dispatches: pd.DataFrame,
    as_of: datetime | pd.Timestamp,
) -> tuple[list[EpicInput], History]:
    """Open epics (one per epic whose issue is open) and the history visible at ``as_of``.

    ``as_of`` is the snapshot time. The snapshot's own view of each child wins over timestamps:
    a child the snapshot saw open is open, one it saw closed is closed (even if its ``closed_at``
    is after ``as_of``), so ``remaining_children`` equals the open children of ``epic_children``.
    An open epic with no open child gets an empty phase list (done today).
    """
    cutoff = pd.Timestamp(as_of)
    ch, ep = history_frames(children, epics)
    # the snapshot's state wins: closed children count as closed before the cutoff
    late = ch["closed_at"].notna() & (ch["closed_at"] >= cutoff)
    ch.loc[late, "closed_at"] = cutoff - pd.Timedelta(microseconds=1)
    ch.loc[ch["created_at"].isna() | (ch["created_at"] >= cutoff), "created_at"] = cutoff - pd.Timedelta(microseconds=1)
    ep.loc[ep["created_at"].isna() | (ep["created_at"] >= cutoff), "created_at"] = cutoff - pd.Timedelta(microseconds=1)
    d = dispatches if dispatches is not None and len(dispatches) else pd.DataFrame(columns=DISPATCH_COLUMNS)
    found, history = state_at(ch, d, ep, cutoff)
    open_keys = [
        (r, int(e))
        for r, e, s in zip(epics["repo"], epics["epic"], epics["state"], strict=False)
        if str(s).lower() == "open"
    ]
    by_key = {(e.repo, e.epic): e for e in found}
    prio = {(r, int(e)): int(p) for r, e, p in zip(ep["repo"], ep["epic"], ep["priority"], strict=False)}
    created = {(r, int(e)): c for r, e, c in zip(epics["repo"], epics["epic"], epics["created_at"], strict=False)}
    out = []
    for key in sorted(open_keys):
        if key in by_key:
            out.append(by_key[key])
        else:
            c = created.get(key)
            out.append(
                EpicInput(
                    key[0], key[1], [], prio.get(key, 1), None if c is None or pd.isna(c) else pd.Timestamp(c).date()
                )
            )
    return out, history


def done_over_time(children: pd.DataFrame, as_of: date | datetime) -> pd.DataFrame:
    """Burn-up history per epic: ``repo, epic, date, done, total`` (one row per day with a change).

    ``total`` counts children created (listed) by that day, ``done`` those closed by then.
    """
    ch = children[children["child_state"] != "missing"]
    rows = []
    end = pd.Timestamp(as_of).normalize()
    for (r, e), g in ch.groupby(["repo", "epic"]):
        created = pd.to_datetime(g["created_at"]).dt.normalize().fillna(end)
        closed = pd.to_datetime(g["closed_at"]).where(g["child_state"] == "closed").dt.normalize()
        days = sorted(set(created) | set(closed.dropna()) | {end})
        for day in days:
            rows.append((r, int(e), day, int((closed <= day).sum()), int((created <= day).sum())))
    return pd.DataFrame(rows, columns=["repo", "epic", "date", "done", "total"])


# ── the picture at a cutoff ───────────────────────────────────────────────────


def _in_flight_ages(dispatches: pd.DataFrame, cutoff: date) -> dict[tuple, int]:
    """(repo, issue) -> days since dispatch, for issues whose last attempt is unresolved at the cutoff."""
    resolved = before(dispatches["merged_at"], cutoff)
    if "resolved_at" in dispatches.columns:
        failed = dispatches["failed"].to_numpy(dtype=bool)
        resolved = resolved | (failed & before(dispatches["resolved_at"], cutoff))
    last = dispatches.assign(resolved=resolved).sort_values("dispatched_at").groupby(["repo", "issue"]).tail(1)
    inflight = last[~last["resolved"]]
    return {
        (r, i): (pd.Timestamp(cutoff) - pd.Timestamp(x)).days
        for r, i, x in zip(inflight["repo"], inflight["issue"], inflight["dispatched_at"], strict=False)
    }


def _open_epic(key: tuple, children: pd.DataFrame, priority: int, created, ages: dict[tuple, int]) -> EpicInput:
    """One open epic: open children per phase, with the ages of the current phase's in-flight ones."""
    repo, epic = key
    open_children = children[children["open"]]
    n_phases = int(open_children["phase"].max())
    remaining = [int((open_children["phase"] == k).sum()) for k in range(1, n_phases + 1)]
    first = int(open_children["phase"].min())
    current = open_children.loc[open_children["phase"] == first, "child"]
    in_flight = [ages[(repo, c)] for c in current if (repo, c) in ages]
    return EpicInput(str(repo), int(epic), remaining, int(priority), pd.Timestamp(created).date(), in_flight)


def _open_epics(
    children: pd.DataFrame, priority: dict, created: dict, ages: dict[tuple, int]
) -> tuple[list[EpicInput], dict[tuple, pd.Timestamp]]:
    """(open epics, closing day of the epics whose children are all closed)."""
    out: list[EpicInput] = []
    closed_at: dict[tuple, pd.Timestamp] = {}
    for key, group in children.groupby(["repo", "epic"]):
        if key not in priority:
            continue
        if not group["open"].any():
            closed_at[key] = pd.to_datetime(group["closed_at"]).max()
            continue
        out.append(_open_epic(key, group, priority[key], created[key], ages))
    return out, closed_at


def _split_initial_and_added(children: pd.DataFrame, created: dict) -> tuple[pd.DataFrame, dict[tuple, list[int]]]:
    """(scope additions: children listed after their epic's day, children per phase at creation)."""
    epic_created = pd.to_datetime(
        pd.Series(
            [created.get((r, e), pd.NaT) for r, e in zip(children["repo"], children["epic"], strict=False)],
            index=children.index,
            dtype="object",
        )
    )
    child_day = pd.to_datetime(children["created_at"]).dt.normalize()
    added = children[child_day > epic_created.dt.normalize()]
    initial = children[child_day <= epic_created.dt.normalize()]
    by_phase = {
        (r, e): [int((g["phase"] == k).sum()) for k in range(1, int(g["phase"].max()) + 1)]
        for (r, e), g in initial.groupby(["repo", "epic"])
    }
    scope = pd.DataFrame({"repo": added["repo"], "epic": added["epic"], "added_at": added["created_at"]})
    return scope, by_phase


def state_at(
    children: pd.DataFrame, dispatches: pd.DataFrame, epics: pd.DataFrame, cutoff: date
) -> tuple[list[EpicInput], History]:
    """Rebuild open epics and the history visible just before ``cutoff`` (data from earlier days only).

    children: ``repo, epic, child, phase, created_at (added to the epic), closed_at`` (phase 1-based).
    dispatches: as in ``History`` (``issue`` is the child number).
    epics: ``repo, epic, created_at, priority``.
    """
    ch = children[before(children["created_at"], cutoff)].copy()
    ch["open"] = ~before(ch["closed_at"], cutoff)
    d = dispatches[before(dispatches["dispatched_at"], cutoff)]
    ep = epics[before(epics["created_at"], cutoff)]
    keys = list(zip(ep["repo"], ep["epic"], strict=False))
    priority = dict(zip(keys, ep["priority"], strict=False))
    created = dict(zip(keys, ep["created_at"], strict=False))
    out, closed_at = _open_epics(ch, priority, created, _in_flight_ages(d, cutoff))
    scope, initial = _split_initial_and_added(ch, created)
    hist_epics = pd.DataFrame(
        {
            "repo": ep["repo"],
            "epic": ep["epic"],
            "created_at": ep["created_at"],
            "closed_at": [closed_at.get(k, pd.NaT) for k in keys],
            "priority": ep["priority"].to_numpy(),
            "initial_by_phase": [initial.get(k, []) for k in keys],
        }
    )
    return out, History(dispatches=d, scope_additions=scope, epics=hist_epics)
