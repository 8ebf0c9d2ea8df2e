"""The dispatch plan: the runbook's Stage 1-3 decisions, computed from the views.

Pure: frames in, actions out, the same actions for the same inputs. `build_plan` reads
what the snapshot says is missing (an implementation issue for a finding, a `Parent:`
comment, an epic branch, a tick, a nudge) and what the budget allows, and returns the
actions in the order the executor should take them. See docs/actions.md.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

import pandas as pd

from analytics.frameworks import framework_issue_body, framework_issue_title
from analytics.plan_bounds import Bounds, apply_bounds, held_back_note

ACTION_TYPES = (
    "create_issue", "create_framework_issue", "close_audit", "create_epic", "link_child", "create_branch",
    "sync_epic_branch", "tick_checklist", "update_branch", "nudge_pr", "escalate_pr", "dispatch",
    "open_epic_pr", "close_epic",
)  # fmt: skip
SEVERITY_RANK = {"critical": 0, "high": 1, "medium": 2, "low": 3}
NUDGES = {
    "fix the merge conflict": ("conflicting", "fix the merge conflict"),
    "fix the code reviews": ("changes_requested", "fix the code reviews"),
    "re-run CI": ("ci_failing", "the checks are failing: please fix them"),
    "ping": ("stale", "is this still moving? please push your progress or say what blocks you"),
}


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
    bounds: Bounds = field(default_factory=Bounds)


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
    tiers: pd.DataFrame = field(default_factory=pd.DataFrame)  # repo_tiers
    open_pr_heads: pd.DataFrame = field(default_factory=pd.DataFrame)  # repo, head_ref, number, merged, state
    recently_planned: set[tuple[str, int]] = field(default_factory=set)  # dispatches of plans not yet carried out
    used_by_repo: dict[str, int] = field(default_factory=dict)  # tasks already spent today, per repo


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


def marker(kind: str, key: Any) -> str:
    return f"<!-- orchestrator:{kind} {key} -->"


def target_branch_comment(branch: str, epic: int | None) -> str:
    if epic is None:
        return f"Target branch: `{branch}`"
    return f"Target branch: `{branch}` (epic #{epic})"


def epic_body(children: list[dict[str, Any]], title: str) -> str:
    """The epic's checklist grouped under phase headings, as the runbook writes it."""
    names = {1: "Phase 1: Blockers", 2: "Phase 2: Parallel", 3: "Phase 3: Cleanup"}
    lines = [
        f"Epic: {title}",
        "",
        "Children are dispatched one phase at a time; a phase starts when the one before it is closed.",
    ]
    for phase in sorted({c["phase"] for c in children}):
        lines += ["", f"## {names.get(phase, f'Phase {phase}')}"]
        lines += [f"- [ ] #{c['number']}" for c in sorted(children, key=lambda c: c["number"]) if c["phase"] == phase]
    return "\n".join(lines)


# ── Stage 1: audits → implementation issues ──────────────────────────────────


def stage1_actions(inputs: PlanInputs, repos: set[str]) -> list[Action]:
    actions: list[Action] = []
    findings = [f for f in rows(inputs.findings) if f["repo"] in repos]
    filed: set[tuple[str, str]] = set()
    for f in findings:
        # The same finding in two audits of a repo (same fingerprint) needs one issue, not two.
        if f.get("implemented_by") is not None or (f["repo"], f["fingerprint"]) in filed:
            continue
        filed.add((f["repo"], f["fingerprint"]))
        key = f"{f['repo']}#{f['audit_number']}/{f['finding_index']}"
        body = (
            f"{f.get('text') or f['title']}\n\n"
            f"From audit #{f['audit_number']} (finding {f['finding_index']}): severity {f['severity']}, "
            f"type {f['type']}, scope {f.get('scope')}, complexity {f.get('complexity')}."
        )
        actions.append(
            Action(
                "create_issue",
                f["repo"],
                str(f["audit_number"]),
                f"Finding {f['finding_index']} of audit #{f['audit_number']} has no implementation issue yet.",
                payload={
                    "title": f["title"],
                    "body": body,
                    "labels": list(f.get("labels") or ["audit"]),
                    "audit_number": int(f["audit_number"]),
                    "finding_index": int(f["finding_index"]),
                    "fingerprint": f["fingerprint"],
                    "marker": marker("finding", f["fingerprint"]),
                    "key": key,
                },
                precondition=[{"check": "no_marker", "marker": marker("finding", f["fingerprint"])}],
                priority=10 + SEVERITY_RANK.get(f["severity"], 2),
            )  # fmt: skip
        )
    by_audit: dict[tuple[str, int], list[dict[str, Any]]] = {}
    for f in findings:
        by_audit.setdefault((f["repo"], int(f["audit_number"])), []).append(f)
    for audit in rows(inputs.audits):
        if audit["repo"] not in repos:
            continue
        key = (audit["repo"], int(audit["number"]))
        members = by_audit.get(key, [])
        if not members and not audit.get("count_parse_warnings"):
            actions.append(_close_audit(audit, [], not_applicable=True))
        elif members and all(f.get("implemented_by") is not None for f in members):
            actions.append(_close_audit(audit, sorted({int(f["implemented_by"]) for f in members}), False))
    actions += _framework_actions(inputs, repos)
    return actions


def _close_audit(audit: dict[str, Any], children: list[int], not_applicable: bool) -> Action:
    number = int(audit["number"])
    if not_applicable:
        comment, reason_text = (
            "No actionable finding in this audit: closing as not applicable.",
            "has no actionable finding",
        )
    else:
        comment = "Every finding now has its own issue: " + ", ".join(f"#{n}" for n in children) + "."
        reason_text = f"has all {len(children)} findings filed as issues"
    return Action(
        "close_audit", audit["repo"], str(number), f"Audit #{number} {reason_text}.",
        payload={"comment": comment, "state_reason": "not_planned" if not_applicable else "completed",
                 "children": children, "marker": marker("close-audit", number)},
        precondition=[{"check": "issue_open", "number": number}],
        priority=20,
    )  # fmt: skip


def _framework_actions(inputs: PlanInputs, repos: set[str]) -> list[Action]:
    actions = []
    for candidate_id, members in grouped(rows(inputs.frameworks), "candidate_id"):
        members.sort(key=lambda m: (m["repo"], m["audit_number"], m["finding_index"]))
        if any(m.get("implemented_by") is not None for m in members):
            continue
        home = max(sorted({m["repo"] for m in members}), key=lambda r: sum(m["repo"] == r for m in members))
        if home not in repos:
            continue
        actions.append(
            Action(
                "create_framework_issue",
                home,
                str(candidate_id),
                f"{len(members)} similar {members[0]['type']} findings across "
                f"{len({m['repo'] for m in members})} repos call for one framework fix.",
                payload={
                    "title": framework_issue_title(members[0]["title"]),
                    "body": framework_issue_body(members),
                    "labels": ["framework", f"type:{members[0]['type']}"],
                    "members": [{k: m[k] for k in ("repo", "audit_number", "finding_index")} for m in members],
                    "marker": marker("framework", candidate_id),
                },
                precondition=[{"check": "no_marker", "marker": marker("framework", candidate_id)}],
                priority=15,
            )  # fmt: skip
        )
    return actions


# ── Stage 2: issues → epics ───────────────────────────────────────────────────


def stage2_actions(
    inputs: PlanInputs, rules: PlanRules, repos: set[str], default_branch: dict[str, str]
) -> list[Action]:
    actions: list[Action] = []
    for proposal_id, children in grouped(rows(inputs.proposals), "proposal_id"):
        repo = children[0]["repo"]
        if proposal_id is None or repo not in repos:  # no id: too few issues, dispatched directly
            continue
        title = children[0]["proposed_title"]
        kids = [{"number": int(c["number"]), "phase": int(c["phase"])} for c in children]
        actions.append(
            Action(
                "create_epic",
                repo,
                str(proposal_id),
                f"{len(kids)} open {children[0]['theme']} issues in {repo} are in no epic yet.",
                payload={
                    "title": title,
                    "body": epic_body(kids, title),
                    "labels": ["agentic", "complexity:large"],
                    "children": kids,
                    "slug": slugify(title),
                    "marker": marker("epic", proposal_id),
                },
                precondition=[{"check": "no_marker", "marker": marker("epic", proposal_id)}],
                priority=30,
            )  # fmt: skip
        )
    open_epics = {(e["repo"], int(e["epic"])): e for e in rows(inputs.epics) if e.get("is_open") and e["repo"] in repos}
    for child in rows(inputs.children):
        epic = open_epics.get((child["repo"], int(child["epic"])))
        if epic is None or child.get("has_parent_comment") or child.get("child_state") in (None, "missing"):
            continue
        actions.append(
            Action(
                "link_child",
                child["repo"],
                str(int(child["child"])),
                f"#{child['child']} is in epic #{epic['epic']}'s checklist but has no `Parent:` comment.",
                payload={
                    "epic": int(epic["epic"]),
                    "comment": f"Parent: #{int(epic['epic'])}",
                    "marker": marker("parent", int(epic["epic"])),
                },
                precondition=[],
                priority=35,
            )  # fmt: skip
        )
    for (repo, number), epic in sorted(open_epics.items()):
        base = default_branch.get(repo) or "main"
        branch = epic.get("branch")
        if not epic.get("is_branch_present"):
            branch = f"epic/{number}-{slugify(epic.get('title') or '')}"
            actions.append(
                Action(
                    "create_branch",
                    repo,
                    branch,
                    f"Epic #{number} has no branch yet.",
                    payload={"epic": number, "branch": branch, "from_branch": base},
                    precondition=[{"check": "branch_absent", "branch": branch}],
                    priority=36,
                )  # fmt: skip
            )
        elif (epic.get("behind_by") or 0) >= rules.epic_branch_max_behind:
            actions.append(
                Action(
                    "sync_epic_branch",
                    repo,
                    branch,
                    f"{branch} is {int(epic['behind_by'])} commits behind {base}: "
                    f"merge {base} in before it diverges further.",
                    payload={"epic": number, "branch": branch, "from_branch": base},
                    precondition=[{"check": "branch_present", "branch": branch}],
                    priority=37,
                )  # fmt: skip
            )
    return actions


# ── Stage 3: monitor and dispatch ─────────────────────────────────────────────


def monitor_actions(
    inputs: PlanInputs, rules: PlanRules, repos: set[str], default_branch: dict[str, str]
) -> list[Action]:
    actions: list[Action] = []
    for child in rows(inputs.children):
        if child["repo"] in repos and child.get("is_closed_not_ticked"):
            epic, number = int(child["epic"]), int(child["child"])
            actions.append(
                Action(
                    "tick_checklist",
                    child["repo"],
                    str(epic),
                    f"#{number} is closed but not ticked in epic #{epic}.",
                    payload={"epic": epic, "child": number},
                    precondition=[
                        {"check": "checkbox_unticked", "number": epic, "child": number},
                        {"check": "issue_closed", "number": number},
                    ],
                    priority=5,
                )  # fmt: skip
            )
    actions += _stuck_pr_actions(inputs, rules, repos)
    heads = rows(inputs.open_pr_heads)
    for epic in rows(inputs.epics):
        if epic["repo"] not in repos or not epic.get("is_open") or not epic.get("is_complete"):
            continue
        repo, number, branch = epic["repo"], int(epic["epic"]), epic.get("branch")
        base = default_branch.get(repo) or "main"
        from_branch = [h for h in heads if h["repo"] == repo and h.get("head_ref") == branch] if branch else []
        if branch and epic.get("is_branch_present") and not any(h.get("merged") for h in from_branch):
            if not any(h.get("state") == "open" for h in from_branch):
                actions.append(
                    Action(
                        "open_epic_pr",
                        repo,
                        str(number),
                        f"Every child of epic #{number} is done: merge {branch} into {base}.",
                        payload={
                            "epic": number,
                            "head": branch,
                            "base": base,
                            "title": f"Merge epic #{number}: {epic.get('title')}",
                            "body": f"All children of epic #{number} are closed.",
                            "marker": marker("epic-pr", number),
                        },
                        precondition=[
                            {"check": "no_open_pr_from", "head": branch},
                            {"check": "branch_present", "branch": branch},
                        ],
                        priority=40,
                    )  # fmt: skip
                )
            continue
        actions.append(
            Action(
                "close_epic",
                repo,
                str(number),
                f"Epic #{number} is complete" + (f" and {branch} is merged." if branch else "."),
                payload={
                    "comment": f"All children are done{' and the epic branch is merged' if branch else ''}: closing.",
                    "marker": marker("close-epic", number),
                },
                precondition=[{"check": "issue_open", "number": number}],
                priority=41,
            )  # fmt: skip
        )
    return actions


def _stuck_pr_actions(inputs: PlanInputs, rules: PlanRules, repos: set[str]) -> list[Action]:
    """Nudge, escalate or update stuck PRs; conflicting PRs of one epic branch one at a time."""
    actions: list[Action] = []
    nudged_conflict_bases: set[tuple[str, str]] = set()
    for pr in sorted(rows(inputs.stuck), key=lambda p: (p["repo"], int(p["number"]))):
        intervention = pr.get("intervention")
        if pr["repo"] not in repos or not intervention or not pr.get("is_stuck", True):
            continue
        number = int(pr["number"])
        if pr.get("is_escalated"):
            continue  # a person has it (`needs-human`): no more nudges from us
        nudges = int(pr.get("count_nudges") or 0)
        last = pr.get("last_nudged_at")
        if last is not None and inputs.now_utc is not None:
            if (
                inputs.now_utc - pd.Timestamp(last).to_pydatetime()
            ).total_seconds() < rules.nudge_cooldown_hours * 3600:
                continue  # give the agent time to act on the last nudge
        if intervention == "escalate" or nudges >= rules.escalate_after_nudges:
            actions.append(
                Action(
                    "escalate_pr",
                    pr["repo"],
                    str(number),
                    f"PR #{number} is still stuck after {nudges} nudges: a person should take it over.",
                    payload={
                        "comment": "This PR is still stuck after repeated nudges; handing it to a person.",
                        "assignee": None,
                        "label": "needs-human",
                    },
                    precondition=[
                        {"check": "issue_open", "number": number},
                        {"check": "lacks_label", "number": number, "label": "needs-human"},
                    ],
                    priority=8,
                )  # fmt: skip
            )
            continue
        if intervention == "update branch":
            actions.append(
                Action(
                    "update_branch",
                    pr["repo"],
                    str(number),
                    f"PR #{number} is behind its base branch.",
                    precondition=[{"check": "pr_still_stuck", "number": number, "reason": "behind"}],
                    priority=9,
                )  # fmt: skip
            )
            continue
        if intervention not in NUDGES:
            continue
        reason_key, comment = NUDGES[intervention]
        base = pr.get("base_ref") or ""
        if reason_key == "conflicting" and base.startswith("epic/"):
            if (pr["repo"], base) in nudged_conflict_bases:
                continue  # cascade conflicts: serialise, one PR per epic branch at a time
            nudged_conflict_bases.add((pr["repo"], base))
        actions.append(
            Action(
                "nudge_pr",
                pr["repo"],
                str(number),
                f"PR #{number}: {reason_key.replace('_', ' ')} (nudge {nudges + 1}).",
                payload={"comment": comment},
                precondition=[{"check": "pr_still_stuck", "number": number, "reason": reason_key}],
                priority=9,
            )  # fmt: skip
        )
    return actions


def daily_target(rules: PlanRules, members: list[Member], now_local: datetime) -> tuple[int, list[str]]:
    """Tasks to spend today under the strategy and the time-of-day throttles, with why."""
    low, high = rules.daily_range
    pool = sum(m.quota for m in members)
    used = sum(m.used for m in members)
    share = used / pool if pool else 1.0
    notes = [f"strategy range {low}-{high} tasks a day; pool {pool}, used today {used}"]
    target = low
    if now_local.hour >= rules.morning_ends_hour and used < rules.raise_below_share * high:
        target = high
        notes.append(f"less than {rules.raise_below_share:.0%} of the day's rate used by midday: raised to {high}")
    if now_local.hour < rules.morning_ends_hour and share > rules.throttle_above_share:
        notes.append(
            f"more than {rules.throttle_above_share:.0%} of the pool used by morning: throttled, unsticking only"
        )
        return 0, notes
    return max(min(target - used, pool - used), 0), notes


def dispatch_actions(
    inputs: PlanInputs, rules: PlanRules, repos: set[str], default_branch: dict[str, str]
) -> tuple[list[Action], dict[str, Any]]:
    """Dispatch the ready queue in order, within the budget, the repo share and the in-flight cap."""
    members = [Member(m.login, m.quota, list(m.repos), m.used) for m in inputs.members]
    target, notes = daily_target(rules, members, inputs.now_local)
    if rules.max_in_flight is not None:
        room = max(rules.max_in_flight - inputs.in_flight, 0)
        if room < target:
            notes.append(f"agent allows {rules.max_in_flight} tasks in flight, {inputs.in_flight} running: {room} more")
        target = min(target, room)
    queue = [
        q for q in rows(inputs.ready)
        if q["repo"] in repos and (q["repo"], int(q["number"])) not in inputs.recently_planned
    ]  # fmt: skip
    queue.sort(
        key=lambda q: (q.get("queue_position") is None, q.get("queue_position") or 0, q["repo"], int(q["number"]))
    )
    repos_with_work = {q["repo"] for q in queue}
    # The share is of the day, not of this plan: today's earlier dispatches count against it.
    day_total = sum(m.used for m in members) + target
    cap = day_total if len(repos_with_work) <= 1 else max(1, math.floor(rules.max_repo_share * day_total))
    if len(repos_with_work) > 1 and target:
        notes.append(f"at most {cap} tasks to one repo today ({rules.max_repo_share:.0%} of {day_total})")
    epic_branch = {
        (e["repo"], int(e["epic"])): e.get("branch") for e in rows(inputs.epics) if e.get("is_branch_present")
    }
    per_repo: dict[str, int] = dict(inputs.used_by_repo)
    planned: dict[str, int] = {}
    actions: list[Action] = []
    for q in queue:
        if len(actions) >= target:
            break
        repo, number = q["repo"], int(q["number"])
        if per_repo.get(repo, 0) >= cap:
            continue
        member = max(
            (m for m in members if m.covers(repo) and m.left > 0), key=lambda m: (m.left, m.login), default=None
        )
        if member is None:
            continue
        epic = None if q.get("epic") is None else int(q["epic"])
        branch = default_branch.get(repo) or "main" if epic is None else epic_branch.get((repo, epic))
        if branch is None:
            continue  # the epic's branch is created first; its children go in the next plan
        member.used += 1
        per_repo[repo] = per_repo.get(repo, 0) + 1
        planned[repo] = planned.get(repo, 0) + 1
        check = (
            {"check": "lacks_label", "number": number, "label": rules.agent_label}
            if rules.agent_mode == "label"
            else {"check": "not_assigned", "number": number, "login": rules.agent_assignee}
        )
        severity = q.get("severity") or "medium"
        actions.append(
            Action(
                "dispatch",
                repo,
                str(number),
                (
                    f"#{number} ({severity}) is ready in phase {q.get('phase')} of epic #{epic}."
                    if epic is not None
                    else f"#{number} ({severity}) is ready for direct dispatch (too few issues for an epic)."
                ),
                payload={
                    "epic": epic,
                    "branch": branch,
                    "mode": rules.agent_mode,
                    "label": rules.agent_label,
                    "assignee": rules.agent_assignee,
                    "comment": target_branch_comment(branch, epic),
                },
                precondition=[
                    {"check": "issue_open", "number": number},
                    check,
                    {"check": "no_open_pr_for", "number": number},
                    {"check": "budget", "member": member.login},
                ],
                priority=60 + SEVERITY_RANK.get(severity, 2),
                cost=1,
                member=member.login,
            )  # fmt: skip
        )
    summary = {
        "daily_target": target,
        "ready": len(queue),
        "dispatched": len(actions),
        "per_repo": planned,
        "repo_cap": cap,
        "notes": notes,
        "quota_exhausted": all(m.left == 0 for m in members),
    }
    return actions, summary


def refill_repos(inputs: PlanInputs, rules: PlanRules, ready_count: int, rate: int) -> tuple[set[str], str]:
    """Repos whose Stage 1/2 work runs now: when the ready queue is short, the next ones by tier."""
    tiers = rows(inputs.tiers)
    ordered = [t["repo"] for t in sorted(tiers, key=lambda t: (t.get("rank") or 999, t["repo"]))]
    if rate <= 0 or ready_count >= rules.refill_low * rate:
        return set(), f"ready queue {ready_count} >= {rules.refill_low:g}x the daily rate {rate}: no refill needed"
    potential: dict[str, int] = {}
    for frame in (inputs.findings, inputs.proposals):
        for r in rows(frame):
            potential[r["repo"]] = potential.get(r["repo"], 0) + 1
    chosen, expected = [], ready_count
    for repo in ordered:
        if expected >= rules.refill_high * rate:
            break
        if potential.get(repo):
            chosen.append(repo)
            expected += potential[repo]
    return set(chosen), (
        f"ready queue {ready_count} < {rules.refill_low:g}x the daily rate {rate}: Stage 1/2 on "
        + (", ".join(chosen) if chosen else "no repo with work left")
    )


def build_plan(inputs: PlanInputs, rules: PlanRules, repos: set[str]) -> Plan:
    """All actions, in execution order: housekeeping, unsticking, Stage 1/2 refill, dispatch, epic completion."""
    default_branch = {r["repo"]: r.get("default_branch") for r in rows(inputs.repositories)}
    dispatches, dispatch_summary = dispatch_actions(inputs, rules, repos, default_branch)
    rate = rules.daily_range[1]
    refill, refill_note = refill_repos(inputs, rules, dispatch_summary["ready"], rate)
    actions = monitor_actions(inputs, rules, repos, default_branch)
    actions += stage1_actions(inputs, refill & repos)
    actions += stage2_actions(inputs, rules, repos, default_branch)
    # Stage 2 proposals only for refill repos; links, branches and syncs for every repo.
    actions = [a for a in actions if a.action != "create_epic" or a.repo in refill]
    actions += dispatches
    order = {name: i for i, name in enumerate(ACTION_TYPES)}
    # finding_index last: one audit's findings of one severity keep the audit's order, whatever the view's
    actions.sort(key=lambda a: (a.priority, order[a.action], a.repo, _natural(a.target),
                                int(a.payload.get("finding_index") or 0)))  # fmt: skip
    actions, held = apply_bounds(actions, rules.bounds)
    dispatch_summary = _bounded_dispatch_summary(dispatch_summary, actions, held)
    summary = {**dispatch_summary, "refill_repos": sorted(refill), "refill": refill_note, "held_back": held,
               "count_actions": len(actions), "cost": sum(a.cost for a in actions),
               "by_action": {a: n for a in ACTION_TYPES if (n := sum(x.action == a for x in actions))}}  # fmt: skip
    return Plan(actions, summary)


def _bounded_dispatch_summary(summary: dict[str, Any], actions: list[Action], held: dict[str, Any]) -> dict[str, Any]:
    """The dispatch figures of the actions kept, and a note on what the caps held back."""
    dispatched = [a for a in actions if a.action == "dispatch"]
    per_repo: dict[str, int] = {}
    for a in dispatched:
        per_repo[a.repo] = per_repo.get(a.repo, 0) + 1
    note = held_back_note(held)
    notes = [*summary["notes"], note] if note else summary["notes"]
    return {**summary, "dispatched": len(dispatched), "per_repo": per_repo, "notes": notes}


def _natural(target: str) -> tuple[int, str]:
    return (int(target), "") if str(target).isdigit() else (0, str(target))
