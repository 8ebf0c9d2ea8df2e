"""The planner's vocabulary: its settings, inputs and actions, and the small helpers every stage uses.

Pure: no I/O. The stages (`issues`, `epics`, `unstick`, `dispatch` in this package) build
`Action`s from `PlanInputs` under `PlanRules`; `analytics.planning.build_plan` orders and bounds them.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

import pandas as pd

from analytics.plan_bounds import Bounds
from analytics.planning.routing import AgentSpec, RoutingRules
from common.agents import Agent, build_agent

ACTION_TYPES = (
    "create_issue", "create_framework_issue", "close_audit", "create_epic", "link_child", "create_branch",
    "sync_epic_branch", "tick_checklist", "resolve_threads", "update_branch", "nudge_pr", "escalate_pr", "dispatch",
    "open_epic_pr", "close_epic",
)  # fmt: skip
SEVERITY_RANK = {"critical": 0, "high": 1, "medium": 2, "low": 3}


@dataclass
class Member:
    login: str
    quota: int
    repos: list[str]
    used: int = 0

    def covers(self, repo: str) -> bool:
        name = repo.split("/")[-1].lower()  # GitHub names are case-insensitive
        return "*" in self.repos or name in (r.lower() for r in self.repos)

    @property
    def left(self) -> int:
        return max(self.quota - self.used, 0)


@dataclass
class PlanRules:
    """The planner's settings (from `[dispatch]`, `[agent]` and `[team]`)."""

    daily_range: tuple[int, int] = (10, 20)
    max_repo_share: float = 0.5
    # The agent back-end dispatches go to (common/agents.py). `agent` wins; without it the three
    # `[agent]` fields below build one, as callers written before back-ends pass them.
    agent: Agent | None = None
    agent_mode: str = "label"
    agent_label: str = "jules"
    agent_assignee: str | None = None
    max_in_flight: int | None = None
    escalate_after_nudges: int = 2
    morning_ends_hour: int = 11
    raise_below_share: float = 0.5
    throttle_above_share: float = 0.8
    refill_low: float = 2.0
    refill_high: float = 3.0
    epic_branch_max_behind: int = 20
    nudge_cooldown_hours: float = 12.0
    resolve_outdated_threads: bool = True
    bounds: Bounds = field(default_factory=Bounds)
    # `[[agents]]`: several agents, routed by measured success (analytics/planning/routing.py).
    # Empty (`[agent]` alone): every dispatch goes to `backend()`, in queue order, as always.
    agents: tuple[AgentSpec, ...] = ()
    routing: RoutingRules = field(default_factory=RoutingRules)

    def backend(self) -> Agent:
        """The agent back-end of this plan's dispatches."""
        if self.agent is not None:
            return self.agent
        values = {"label": self.agent_label, "assignee": self.agent_assignee}
        return build_agent(self.agent_mode, values)


@dataclass
class PlanInputs:
    """Frames read from the views of the latest complete snapshot (empty frames are fine)."""

    now_local: datetime
    members: list[Member]
    now_utc: datetime | None = None
    in_flight: int = 0
    repositories: pd.DataFrame = field(default_factory=pd.DataFrame)  # repo, default_branch
    findings: pd.DataFrame = field(default_factory=pd.DataFrame)  # audit_findings
    audits: pd.DataFrame = field(default_factory=pd.DataFrame)  # audit_issues
    frameworks: pd.DataFrame = field(default_factory=pd.DataFrame)  # framework_candidates
    proposals: pd.DataFrame = field(default_factory=pd.DataFrame)  # epic_proposals
    epics: pd.DataFrame = field(default_factory=pd.DataFrame)  # epics (+ behind_by of their branch)
    children: pd.DataFrame = field(default_factory=pd.DataFrame)  # epic_children
    ready: pd.DataFrame = field(default_factory=pd.DataFrame)  # ready_queue
    stuck: pd.DataFrame = field(default_factory=pd.DataFrame)  # stuck_prs
    threads: pd.DataFrame = field(default_factory=pd.DataFrame)  # plan_review_threads
    tiers: pd.DataFrame = field(default_factory=pd.DataFrame)  # repo_tiers
    open_pr_heads: pd.DataFrame = field(default_factory=pd.DataFrame)  # repo, head_ref, number, merged, state
    recently_planned: set[tuple[str, int]] = field(default_factory=set)  # dispatches of plans not yet carried out
    used_by_repo: dict[str, int] = field(default_factory=dict)  # tasks already spent today, per repo
    # read only when several agents are configured (routing):
    outcomes: pd.DataFrame = field(default_factory=pd.DataFrame)  # the outcomes mart: one row per attempt
    issue_facts: pd.DataFrame = field(default_factory=pd.DataFrame)  # repo, number, type, labels, is_open
    used_by_agent: dict[str, int] = field(default_factory=dict)  # tasks already spent today, per agent name
    in_flight_by_agent: dict[str, int] = field(default_factory=dict)  # open issues with each agent now


@dataclass
class Action:
    action: str
    repo: str
    target: str
    reason: str
    payload: dict[str, Any] = field(default_factory=dict)
    precondition: list[dict[str, Any]] = field(default_factory=list)
    priority: int = 50
    cost: int = 0
    member: str | None = None

    def as_row(self, seq: int) -> dict[str, Any]:
        return {"seq": seq, **asdict(self)}


@dataclass
class Plan:
    actions: list[Action]
    summary: dict[str, Any]


# ── helpers ───────────────────────────────────────────────────────────────────


def rows(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Records with pandas' missing values as None and list columns as lists (vectorised)."""
    if frame is None or frame.empty:
        return []
    clean = frame.astype(object).where(frame.notna(), None)
    for column in clean.columns:
        first = next((v for v in clean[column] if v is not None), None)
        if hasattr(first, "tolist") and not isinstance(first, str):
            clean[column] = [None if v is None else v.tolist() for v in clean[column]]
    return clean.to_dict("records")


def grouped(records: list[dict[str, Any]], key: str) -> list[tuple[Any, list[dict[str, Any]]]]:
    """Records grouped by one key, groups in key order (None last), records in input order."""
    groups: dict[Any, list[dict[str, Any]]] = {}
    for record in records:
        groups.setdefault(record[key], []).append(record)
    return sorted(groups.items(), key=lambda item: (item[0] is None, str(item[0])))


def slugify(title: str, limit: int = 40) -> str:
    """`epic(audit): Security fixes!` -> `security-fixes` (for `epic/<n>-<slug>`)."""
    title = re.sub(r"^\s*epic(\([^)]*\))?\s*:\s*", "", title or "", flags=re.IGNORECASE)
    slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")
    return slug[:limit].rstrip("-") or "epic"


def epic_branch_name(number: int, title: str | None) -> str:
    """The branch a plan creates for an epic without one: `epic/<n>-<slug>`."""
    return f"epic/{number}-{slugify(title or '')}"


def new_epic_branches(epics: pd.DataFrame, repos: set[str]) -> dict[tuple[str, int], str]:
    """The branches this plan creates: one per open epic of `repos` without a branch."""
    return {
        (e["repo"], int(e["epic"])): epic_branch_name(int(e["epic"]), e.get("title"))
        for e in rows(epics) if e.get("is_open") and e["repo"] in repos and not e.get("is_branch_present")
    }  # fmt: skip


def marker(kind: str, key: Any) -> str:
    return f"<!-- orchestrator:{kind} {key} -->"


def target_branch_comment(branch: str, epic: int | None) -> str:
    if epic is None:
        return f"Target branch: `{branch}`"
    return f"Target branch: `{branch}` (epic #{epic})"
