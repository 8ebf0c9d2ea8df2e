"""The organisation of issue 12's measurements, built in the sandbox: 5 repositories, 337 items,
40 open PRs, with review threads in every state, native sub-issues and dependencies.

Five repositories of the demo organisation (302 items, 11 open PRs) plus 29 open PRs and 6 issues
laid over them through the sandbox's public state methods. Deterministic; no random draws.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sandbox.seed.builder import PR_KINDS
from sandbox.state import SandboxState

ORG = "dappcore"
REPOS = ("core-php", "core-mcp", "core-admin", "core-agent", "core-tenant")
ITEMS, OPEN_PULLS = 337, 40
REVIEWERS = ("bodane", "mira-k", "tomasz-w")


def repo_names() -> list[str]:
    return [f"{ORG}/{name}" for name in REPOS]


def seed_issue_shape(state: SandboxState, now: datetime) -> list[str]:
    """Lay the extra PRs, threads and links over a freshly seeded demo; returns the repositories."""
    names = repo_names()
    now = now if now.tzinfo else now.replace(tzinfo=UTC)
    with state.lock:
        opened = sum(
            1 for name in names for i in state.repo_issues(name) if i.is_pull and i.state == "open" and not i.deleted
        )
        kinds = ["clean", *PR_KINDS]
        for index in range(OPEN_PULLS - opened):
            _open_pull(state, names[index % len(names)], index, kinds[index % len(kinds)], now)
        _links(state, names, now)
    return names


def _open_pull(state: SandboxState, repo: str, index: int, kind: str, now: datetime) -> None:
    when = now - timedelta(days=3, hours=index)
    extra = dict(PR_KINDS.get(kind, {"reviews": [("bodane", "APPROVED")]}))
    pull = state.add_pull(
        repo, f"Shape PR {index}: {kind}", head=f"shape/{index}-{kind}", body="Benchmark PR.",
        user="mira-k", created_at=when, **extra,
    )  # fmt: skip
    for offset in range(index % 4):  # 0..3 threads: resolved, current, outdated
        outdated = offset == 2
        state.add_review_thread(
            pull, REVIEWERS[(index + offset) % 3], f"src/shape_{offset}.py", "Please look at this again.",
            line=3, when=when + timedelta(hours=1), resolved_by="mira-k" if offset == 0 else None,
            commit_id=state.head_parent(pull) if outdated else None,
        )  # fmt: skip


def _links(state: SandboxState, names: list[str], now: datetime) -> None:
    """Per the first three repositories: a parent issue with two open children (sub-issues), the
    second child blocked by the first; and one issue blocked across repositories."""
    when = now - timedelta(days=2)
    made = []
    for name in names[:3]:
        free = [i for i in state.repo_issues(name) if not i.is_pull and i.state == "open" and not i.sub_issues]
        free = [i for i in free if state.parent_of(i) is None][:2]
        parent = state.add_issue(name, "Shape epic: tidy the module", body="Native sub-issues only.", created_at=when)
        for child in free:
            state.add_sub_issue(parent, child, when=when)
        if len(free) == 2:
            state.add_blocked_by(free[1], free[0], when=when)
        made.append(parent)
    for name in names[3:]:  # issues blocked by another repository's epic
        blocked = state.add_issue(name, "Shape: waits for the other module", created_at=when)
        state.add_blocked_by(blocked, made[0], when=when)
    while sum(1 for n in names for i in state.repo_issues(n) if not i.deleted) < ITEMS:
        state.add_issue(names[-1], "Shape: a plain issue", created_at=when)
