"""The epics of `core` (children in phases, dispatched work, agent PRs) and core-mcp's epic."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sandbox.models import AGENT_BOT, DEFAULT_LOGIN
from sandbox.seed.builder import Builder, open_pr_of_kind
from sandbox.seed.history import history_open_count
from sandbox.seed.plans import free_after, stale_slot
from sandbox.seed.texts import CHILD_TOPICS, PHASE_NAMES


@dataclass
class EpicSpec:
    number: int
    title: str
    slug: str
    # One string per phase; one letter per child: T closed+ticked, C closed not ticked,
    # O open, D dispatched (jules label) with an open PR, d dispatched without a PR yet.
    phases: tuple[str, ...]
    children: tuple[int, ...]
    has_branch: bool = True
    pr_kinds: tuple[str, ...] = ()  # kind of each D child's PR, in order


CORE_EPICS: tuple[EpicSpec, ...] = (
    EpicSpec(
        101,
        "Epic: Security hardening",
        "security-hardening",
        ("TTC", "DdO", "OO"),
        (60, 63, 67, 71, 75, 80, 88, 95),
        pr_kinds=("clean",),
    ),
    EpicSpec(118, "Epic: Code quality cleanup", "quality-cleanup", ("TO", "OO", "O"), (103, 105, 108, 111, 114)),
    EpicSpec(127, "Epic: Test coverage", "test-coverage", ("T", "TT", "C"), (119, 121, 123, 125)),
    EpicSpec(
        133,
        "Epic: Documentation",
        "documentation",
        ("D", "O", "O"),
        (128, 130, 131),
        has_branch=False,
        pr_kinds=("behind",),
    ),
    EpicSpec(
        299,
        "Epic: MCP transport security",
        "mcp-transport-security",
        ("DD", "OO", "OO"),
        (210, 214, 218, 222, 226, 230),
        pr_kinds=("dirty", "failing"),
    ),
    EpicSpec(300, "Epic: CLI ergonomics", "cli-ergonomics", ("d", "OO", "O"), (240, 244, 248, 252)),
    EpicSpec(
        301,
        "Epic: Storage layer performance",
        "storage-performance",
        ("TC", "DO", "O"),
        (260, 263, 266, 270, 274),
        pr_kinds=("changes-requested",),
    ),
    EpicSpec(
        302, "Epic: Release pipeline", "release-pipeline", ("OO", "O", "O"), (280, 284, 288, 292), has_branch=False
    ),
)


def plan_core(b: Builder) -> None:
    """core: eight epics with children in phases, dispatched work, open PRs and a long history."""
    topic_i = 0
    for epic in CORE_EPICS:
        letters = "".join(epic.phases)
        assert len(letters) == len(epic.children), epic
        pr_kinds = list(epic.pr_kinds)
        for child, letter in zip(epic.children, letters, strict=True):
            b.plan[child] = _core_child(b, epic, letter, topic_i)
            topic_i += 1
        b.plan[epic.number] = _core_epic(b, epic)
        # D children get their agent PR right after the epic's number range fills up
        for child, letter in zip(epic.children, letters, strict=True):
            if letter == "D":
                kind = pr_kinds.pop(0) if pr_kinds else "clean"
                b.plan[free_after(b, 303)] = _core_child_pr(b, epic, child, kind)
    # plain open issues to reach "40+" and a few standalone open PRs
    open_children = sum(ch in "ODd" for e in CORE_EPICS for ch in "".join(e.phases))
    extra = b.spec.open_issues - open_children - len(CORE_EPICS) - history_open_count(b.spec.name)
    for i in range(extra):
        b.plan[free_after(b, 135 + i * 17)] = b.open_feature(i)
    for i, kind in enumerate(("draft", "status-failure", "stale", "pending", "clean-fixes")):
        b.plan[stale_slot(b) if kind == "stale" else free_after(b, 315)] = b.open_pr(kind, i)
    b.plan[free_after(b, 320)] = _closed_unmerged(b)


def _core_child(b: Builder, epic: EpicSpec, letter: str, topic_i: int) -> Callable[[int, datetime], None]:
    def make(number: int, when: datetime) -> None:
        area, title, labels = CHILD_TOPICS[topic_i % len(CHILD_TOPICS)]
        body = (
            f"From the audit of `core`.\n\n**Area:** {area}\n\n"
            f"Acceptance: tests cover the fix; no regression in `go test ./...`."
        )
        b.state.add_issue(
            b.full, f"{area}: {title}", body, labels=("audit", *labels, "lang:go"), created_at=when, user=DEFAULT_LOGIN
        )

    return make


def _core_epic(b: Builder, epic: EpicSpec) -> Callable[[int, datetime], None]:
    def make(number: int, when: datetime) -> None:
        state = b.state
        state.add_issue(
            b.full,
            epic.title,
            _core_epic_body(b, epic),
            labels=("epic", "agentic", "complexity:large"),
            created_at=when,
            user=DEFAULT_LOGIN,
        )
        branch = f"epic/{epic.number}-{epic.slug}"
        if epic.has_branch:
            state.add_branch(b.full, branch)
        target = branch if epic.has_branch else state.repo(b.full).default_branch
        for i, (child, letter) in enumerate(zip(epic.children, "".join(epic.phases), strict=True)):
            state.add_comment(b.full, child, f"Parent: #{epic.number}", DEFAULT_LOGIN, when + timedelta(minutes=1 + i))
            if letter in "TCDd":
                dispatched = when + timedelta(hours=2 + i)
                state.label_at(b.full, child, ["jules"], DEFAULT_LOGIN, dispatched)
                state.add_comment(
                    b.full, child, f"Target branch: `{branch}` (epic #{epic.number})", DEFAULT_LOGIN, dispatched
                )
            if letter in "TC":  # its merged PR takes the next free number (numbers follow time)
                b.deferred.append(lambda n, at, child=child: _merge_child(b, child, target, at))
        state.bump_updated_at(b.full, number, when)

    return make


def _core_epic_body(b: Builder, epic: EpicSpec) -> str:
    """The epic's checklist: a heading per phase, a ticked or open box per child."""
    lines = [
        f"## {epic.title.removeprefix('Epic: ')}",
        "",
        "Tracking epic created by the orchestrator. Children are dispatched phase by phase.",
        "",
    ]
    pos = 0
    for p, phase in enumerate(epic.phases):
        lines.append(f"## Phase {p + 1}: {PHASE_NAMES[p]}")
        for letter in phase:
            child = epic.children[pos]
            suffix = f" {b.state.issue(b.full, child).title}" if epic.number == 118 else ""
            lines.append(f"- [{'x' if letter == 'T' else ' '}] #{child}{suffix}")
            pos += 1
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def _merge_child(b: Builder, child: int, target: str, when: datetime) -> None:
    """The agent's PR into the epic branch is merged, then the child is closed by hand.

    A PR into a non-default branch does not auto-close `Fixes #N` issues on GitHub.
    """
    state = b.state
    closed = min(when + timedelta(hours=b.rng.randint(6, 72)), b.now - timedelta(hours=2))
    state.add_pull(
        b.full,
        f"fix: {state.issue(b.full, child).title}",
        head=f"jules/{child}-fix",
        base=target,
        body=f"Fixes #{child}",
        user=AGENT_BOT,
        merged=True,
        created_at=when,
        closed_at=closed,
        merged_by=DEFAULT_LOGIN,
        reviews=[(DEFAULT_LOGIN, "APPROVED")],
    )
    state.delete_ref(b.full, f"jules/{child}-fix")
    state.close_at(b.full, child, DEFAULT_LOGIN, closed + timedelta(minutes=10))


def _core_child_pr(b: Builder, epic: EpicSpec, child: int, kind: str) -> Callable[[int, datetime], None]:
    def make(number: int, when: datetime) -> None:
        repo = b.state.repo(b.full)
        branch = f"epic/{epic.number}-{epic.slug}"
        base = branch if branch in repo.branches else repo.default_branch
        title = f"fix: {b.state.issue(b.full, child).title}"
        open_pr_of_kind(b, kind, f"jules/{child}-fix", base, title, child, when)

    return make


def _closed_unmerged(b: Builder) -> Callable[[int, datetime], None]:
    def make(number: int, when: datetime) -> None:
        b.state.add_pull(
            b.full,
            "Try a different storage engine",
            head="spike/badger",
            body=None,
            user="bodane",
            state="closed",
            created_at=when,
            closed_at=when + timedelta(days=2),
        )

    return make


# ---------------------------------------------------------------------------------- core-mcp's epic
def plan_mcp_epic(b: Builder) -> None:
    """core-mcp also has one epic (#40) with three children, one of them done."""
    children = (34, 36, 38)
    for i, number in enumerate(children):
        # Replace planned open features at these numbers so the open count stays 24.
        topic = CHILD_TOPICS[(i + 2) % len(CHILD_TOPICS)]

        def make(n: int, when: datetime, topic: tuple = topic, done: bool = i == 0) -> None:
            b.state.add_issue(
                b.full,
                f"{topic[0]}: {topic[1]}",
                "Split out of the tool registry audit.",
                labels=("audit", *topic[2], "lang:go", *(("jules",) if done else ())),
                created_at=when,
                user=DEFAULT_LOGIN,
                state="closed" if done else "open",
                closed_at=b.now - timedelta(days=9) if done else None,
            )

        b.plan[number] = make

    def epic(n: int, when: datetime) -> None:
        body = "## Phase 1: Blockers\n- [x] #34\n\n### Phase 2 — Parallel\n- [ ] #36\n- [ ] #38\n"
        b.state.add_issue(
            b.full,
            "Epic: Tool registry hardening",
            body,
            labels=("epic", "agentic"),
            created_at=when,
            user=DEFAULT_LOGIN,
        )
        b.state.add_branch(b.full, "epic/40-tool-registry")
        for i, child in enumerate(children):
            b.state.add_comment(b.full, child, f"Parent: #{n}", DEFAULT_LOGIN, when + timedelta(minutes=i + 1))

    b.plan[40] = epic
