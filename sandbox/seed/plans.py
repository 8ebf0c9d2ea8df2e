"""Where a repo's open issues, audits and open PRs go among its numbers (the layout of one repo)."""

from __future__ import annotations

from datetime import timedelta

from sandbox.seed.builder import Builder
from sandbox.seed.texts import AUDIT_BODIES


def plan_generic(b: Builder, reserved_open: int = 0) -> None:
    """Spread the repo's open issues, audits and open PRs over its free numbers."""
    spec, rng = b.spec, b.rng
    numbers = spec.numbers
    plan_open_prs(b)
    free = [n for n in range(max(2, numbers // 5), numbers - len(spec.open_prs) + 1) if n not in b.plan]
    open_features = spec.open_issues - spec.audits - reserved_open
    chosen = sorted(rng.sample(free, spec.open_issues - reserved_open))
    audit_numbers = set(chosen[len(chosen) // 3 :][: spec.audits]) if spec.audits else set()
    offset = sum(ord(c) for c in spec.name)  # each repo starts its audits at a different format
    audit_i = feature_i = 0
    for number in chosen:
        if number in audit_numbers:
            b.plan[number] = b.audit(audit_i + offset % len(AUDIT_BODIES) if spec.audits > 1 else audit_i)
            audit_i += 1
        else:
            b.plan[number] = b.open_feature(feature_i + offset)
            feature_i += 1
    assert audit_i == spec.audits and feature_i == open_features


def plan_single_audit(b: Builder) -> None:
    """Small repos with one open audit; their audit uses a format chosen per repo."""
    index = {
        "ansible-coolify": 11,
        "docker-server-php": 6,
        "docker-server-blockchain": 12,
        "core-devops": 10,
        "core-template": 3,
        "build": 4,
    }.get(b.spec.name, 0)
    plan_open_prs(b)
    first_open = b.spec.numbers - len(b.spec.open_prs) - b.spec.open_issues + 1
    b.plan[first_open] = b.audit(index)
    for i, number in enumerate(range(first_open + 1, first_open + b.spec.open_issues)):
        b.plan[number] = b.open_feature(i + len(b.spec.name))


def plan_open_prs(b: Builder) -> None:
    """The repo's open PRs take its last numbers, but a stale one an old enough number."""
    numbers = b.spec.numbers
    for i, kind in enumerate(b.spec.open_prs):
        number = numbers - len(b.spec.open_prs) + 1 + i
        b.plan[stale_slot(b) if kind == "stale" else number] = b.open_pr(kind, i)


def stale_slot(b: Builder, days: int = 16) -> int:
    """The newest unplanned number created at least `days` ago (a PR there has not moved since)."""
    cutoff = b.now - timedelta(days=days)
    return max(n for n in range(1, b.spec.numbers + 1) if n not in b.plan and b.created_at(n) <= cutoff)


def free_after(b: Builder, start: int) -> int:
    """The first unplanned number from `start` on."""
    number = start
    while number in b.plan:
        number += 1
    assert number <= b.spec.numbers, "core numbering overflow"
    return number
