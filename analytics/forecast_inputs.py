"""Frames read from the database -> the forecast's inputs (``EpicInput`` list and ``History``).

Pure: pandas in, pandas/dataclasses out; no DuckDB, no Prefect. The flow
(``flows/forecast.py``) reads the frames with small SQL queries and hands them here.

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

from analytics.forecast import EpicInput, History, state_at

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
    given = [f[["repo", "number", "at"]] for f in (agent_events, ledger) if f is not None and len(f)]
    if not given:
        return pd.DataFrame(columns=DISPATCH_COLUMNS).astype({"failed": bool})
    starts = pd.concat(given, ignore_index=True)
    starts["at"] = pd.to_datetime(starts["at"])
    first = starts.groupby(["repo", "number"])["at"].min()
    iss = {
        (r, int(n)): (s, sr, _ts(c))
        for r, n, s, sr, c in zip(
            issues["repo"], issues["number"], issues["state"], issues["state_reason"], issues["closed_at"], strict=False
        )
    }
    prs: dict[tuple[str, int], list[tuple]] = {}
    if pr_links is not None and len(pr_links):
        for r, i, m, ma, ca in zip(
            pr_links["repo"],
            pr_links["issue"],
            pr_links["merged"],
            pr_links["merged_at"],
            pr_links["closed_at"],
            strict=False,
        ):
            prs.setdefault((r, int(i)), []).append((bool(m) if not pd.isna(m) else False, _ts(ma), _ts(ca)))
    rows = []
    for (repo, number), t0 in first.items():
        key = (repo, int(number))
        links = prs.get(key, [])
        merged_at = min((ma for m, ma, _ in links if m and not pd.isna(ma)), default=pd.NaT)
        state, reason, closed = iss.get(key, (None, None, pd.NaT))
        if state == "closed" and not pd.isna(closed) and str(reason or "completed").lower() != "not_planned":
            merged_at = closed if pd.isna(merged_at) else min(merged_at, closed)
        failed_prs = sorted(
            ca
            for m, _, ca in links
            if not m and not pd.isna(ca) and ca >= t0 and (pd.isna(merged_at) or ca <= merged_at)
        )
        start = t0
        for ca in failed_prs:
            rows.append((repo, int(number), start, pd.NaT, True, ca))
            start = ca
        if not pd.isna(merged_at):
            rows.append((repo, int(number), start, max(merged_at, start), False, max(merged_at, start)))
        elif state == "closed" and not pd.isna(closed):  # closed as not planned: a failed attempt
            rows.append((repo, int(number), start, pd.NaT, True, max(closed, start)))
        else:
            rows.append((repo, int(number), start, pd.NaT, False, pd.NaT))
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
