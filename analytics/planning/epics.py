"""Stage 2 of the plan and its end: issues into epics, epic branches kept fresh, finished epics merged and closed.

Pure: reads `epic_proposals`, `epics` and `epic_children` (trusted instructions only), plus the
open PR heads, and returns the actions.
"""

from __future__ import annotations

from typing import Any

from analytics.planning.model import Action, PlanInputs, PlanRules, epic_branch_name, grouped, marker, rows, slugify

PHASE_NAMES = {1: "Phase 1: Blockers", 2: "Phase 2: Parallel", 3: "Phase 3: Cleanup"}


def epic_body(children: list[dict[str, Any]], title: str) -> str:
    """The epic's checklist grouped under phase headings, as the runbook writes it."""
    lines = [
        f"Epic: {title}",
        "",
        "Children are dispatched one phase at a time; a phase starts when the one before it is closed.",
    ]
    for phase in sorted({c["phase"] for c in children}):
        lines += ["", f"## {PHASE_NAMES.get(phase, f'Phase {phase}')}"]
        lines += [f"- [ ] #{c['number']}" for c in sorted(children, key=lambda c: c["number"]) if c["phase"] == phase]
    return "\n".join(lines)


def stage2_actions(
    inputs: PlanInputs, rules: PlanRules, repos: set[str], default_branch: dict[str, str]
) -> list[Action]:
    """New epics for proposals, `Parent:` links for their children, and branches for open epics."""
    open_epics = {(e["repo"], int(e["epic"])): e for e in rows(inputs.epics) if e.get("is_open") and e["repo"] in repos}
    return (
        _epic_proposals(inputs, repos)
        + _child_links(inputs, open_epics)
        + _epic_branches(open_epics, rules, default_branch)
    )


def _epic_proposals(inputs: PlanInputs, repos: set[str]) -> list[Action]:
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
    return actions


def _child_links(inputs: PlanInputs, open_epics: dict[tuple[str, int], dict[str, Any]]) -> list[Action]:
    actions: list[Action] = []
    for child in rows(inputs.children):
        epic = open_epics.get((child["repo"], int(child["epic"])))
        linked = not child.get("needs_link", not child.get("has_parent_comment"))
        if epic is None or linked or child.get("child_state") in (None, "missing"):
            continue
        actions.append(
            Action(
                "link_child",
                child["repo"],
                str(int(child["child"])),
                f"#{child['child']} is in epic #{epic['epic']} but has no `Parent:` comment or is not its sub-issue.",
                payload={
                    "epic": int(epic["epic"]),
                    "comment": f"Parent: #{int(epic['epic'])}",
                    "marker": marker("parent", int(epic["epic"])),
                },
                precondition=[],
                priority=35,
            )  # fmt: skip
        )
    return actions


def _epic_branches(
    open_epics: dict[tuple[str, int], dict[str, Any]], rules: PlanRules, default_branch: dict[str, str]
) -> list[Action]:
    """A branch for each open epic without one; a sync for each branch too far behind its base."""
    actions: list[Action] = []
    for (repo, number), epic in sorted(open_epics.items()):
        base = default_branch.get(repo) or "main"
        branch = epic.get("branch")
        if not epic.get("is_branch_present"):
            branch = epic_branch_name(number, epic.get("title"))
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


# ── finished epics ────────────────────────────────────────────────────────────


def epic_completion_actions(inputs: PlanInputs, repos: set[str], default_branch: dict[str, str]) -> list[Action]:
    """A complete open epic: a PR merging its branch (unless one is open or merged), else close it."""
    actions: list[Action] = []
    heads = rows(inputs.open_pr_heads)
    for epic in rows(inputs.epics):
        if epic["repo"] not in repos or not epic.get("is_open") or not epic.get("is_complete"):
            continue
        repo, branch = epic["repo"], epic.get("branch")
        from_branch = [h for h in heads if h["repo"] == repo and h.get("head_ref") == branch] if branch else []
        if branch and epic.get("is_branch_present") and not any(h.get("merged") for h in from_branch):
            if not any(h.get("state") == "open" for h in from_branch):
                actions.append(_open_epic_pr(epic, default_branch.get(repo) or "main"))
            continue
        actions.append(_close_epic(epic))
    return actions


def _open_epic_pr(epic: dict[str, Any], base: str) -> Action:
    repo, number, branch = epic["repo"], int(epic["epic"]), epic["branch"]
    return Action(
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


def _close_epic(epic: dict[str, Any]) -> Action:
    repo, number, branch = epic["repo"], int(epic["epic"]), epic.get("branch")
    return Action(
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
