"""The demo's native links and review conversations, laid over the finished organisation.

Deterministic in the state alone (no random draws, so the rest of the demo is unchanged):
- sub-issues: of the open epics (a body checklist of `#N`), every third keeps its checklist only,
  the others also get their children as native sub-issues; and in each repo with epics one plain
  open issue becomes a parent of two others by sub-issues only (no checklist);
- dependencies: inside an epic with sub-issues, each child is blocked by the one before it (some
  of those blockers are closed), and one issue of every other repo is blocked by an open issue of
  the next repo (cross-repo);
- review threads on open PRs, in turn resolved, unresolved on the current head, unresolved and
  outdated (written on the commit before the head), or none; the agent's PRs get all three states.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from sandbox.models import AGENT_BOT, Issue
from sandbox.state import SandboxState

CHILD_RE = re.compile(r"^- \[[ xX]\] #(\d+)\s*$", re.MULTILINE)
AUDIT_RE = re.compile(r"^\s*(\[audit\]|audit:)", re.IGNORECASE)
REVIEWERS = ("bodane", "mira-k", "tomasz-w")
THREAD_STATES = ("resolved", "current", "outdated", None)


def seed_links(state: SandboxState) -> None:
    """Add the sub-issues, dependencies and review threads described above."""
    with state.lock:
        epics = [i for i in _issues(state) if i.state == "open" and CHILD_RE.search(i.body or "")]
        for index, epic in enumerate(epics):
            if index % 3 != 0:
                _link_checklist(state, epic)
        for repo_id in sorted({e.repo_id for e in epics}):
            _sub_issues_only(state, repo_id)
        _cross_repo_dependencies(state)
        _review_threads(state)


def _issues(state: SandboxState) -> list[Issue]:
    return [i for i in state.every_issue() if not i.is_pull]


def _when(*issues: Issue) -> datetime:
    """When the seed links issues: after both exist, never later than either's `updated_at` (so the
    demo's activity dates, which stale and stuck rules read, stay as they were)."""
    return max(max(i.created_at for i in issues), min(i.updated_at for i in issues))


def _link_checklist(state: SandboxState, epic: Issue) -> None:
    """The epic's checklist children as native sub-issues; each blocked by the one before."""
    previous: Issue | None = None
    for number in CHILD_RE.findall(epic.body or ""):
        child = state.issue_at(epic.repo_id, int(number))
        if child is None or child.is_pull or state.parent_of(child) is not None:
            continue
        state.add_sub_issue(epic, child, when=_when(epic, child))
        if previous is not None:
            state.add_blocked_by(child, previous, when=_when(child, previous))
        previous = child


def _free(state: SandboxState, repo_id: int) -> list[Issue]:
    """Open plain issues of the repo: no epic, no audit, no parent, no checklist child of anyone."""
    listed = {(i.repo_id, int(n)) for i in state.every_issue() for n in CHILD_RE.findall(i.body or "")}
    return [
        i
        for i in _issues(state)
        if i.repo_id == repo_id
        and i.state == "open"
        and not CHILD_RE.search(i.body or "")
        and not AUDIT_RE.match(i.title)
        and (i.repo_id, i.number) not in listed
        and state.parent_of(i) is None
        and not i.sub_issues
    ]


def _sub_issues_only(state: SandboxState, repo_id: int) -> None:
    free = _free(state, repo_id)
    if len(free) >= 3:
        parent, *children = free[:3]
        for child in children:
            state.add_sub_issue(parent, child, when=_when(parent, child))


def _cross_repo_dependencies(state: SandboxState) -> None:
    repo_ids = sorted({i.repo_id for i in state.every_issue()})
    for here, there in zip(repo_ids[::2], repo_ids[1::2], strict=False):
        blocked, blockers = _free(state, here), _free(state, there)
        if blocked and blockers:
            state.add_blocked_by(blocked[-1], blockers[-1], when=_when(blocked[-1], blockers[-1]))


def _review_threads(state: SandboxState) -> None:
    pulls = sorted(
        (i for i in state.every_issue() if i.is_pull and i.state == "open"), key=lambda i: (i.repo_id, i.number)
    )
    agent = [p for p in pulls if p.user == AGENT_BOT]
    for index, pull in enumerate(p for p in pulls if p.user != AGENT_BOT):
        kind = THREAD_STATES[index % len(THREAD_STATES)]
        if kind:
            _thread(state, pull, kind, REVIEWERS[index % len(REVIEWERS)])
    for index, pull in enumerate(agent):
        for offset, kind in enumerate(THREAD_STATES[:3]):
            if index == 0 or (index + offset) % 3 == 0:
                _thread(state, pull, kind, REVIEWERS[(index + offset) % len(REVIEWERS)])


def _thread(state: SandboxState, pull: Issue, kind: str, reviewer: str) -> None:
    """One review thread in the given state ("resolved", "current" or "outdated")."""
    repo = state.repo_of(pull)
    on = state.head_parent(pull) if kind == "outdated" else None
    state.add_review_thread(
        pull,
        reviewer,
        f"src/{repo.name}/{'handler' if kind == 'current' else 'service'}.py",
        f"{'This no longer matches the interface.' if kind == 'outdated' else 'Please handle the error case.'}",
        line=12,
        when=max(pull.created_at, min(pull.created_at + timedelta(hours=2), pull.updated_at)),
        resolved_by=pull.user if kind == "resolved" else None,
        commit_id=on,
    )
