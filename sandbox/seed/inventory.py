"""The runbook's repo inventory for the demo organisation `dappcore`: repos, people and labels."""

from __future__ import annotations

from dataclasses import dataclass

from sandbox.models import DEFAULT_LOGIN

ORG = "dappcore"
MEMBERS = (DEFAULT_LOGIN, "bodane")
CONTRIBUTORS = ("mira-k", "tomasz-w", "aiko-t", "dependabot[bot]")
HISTORY_DAYS = 56


@dataclass(frozen=True)
class RepoSpec:
    name: str
    default_branch: str
    open_issues: int  # open issues (not PRs), audits and epics included
    audits: int
    language: str
    numbers: int  # how many issue/PR numbers of history the repo has
    open_prs: tuple[str, ...] = ()  # kinds of open PRs (see _open_pr)


# The runbook's "Repo Inventory" (2026-02-04); core's open count is "40+" (45, and the 7 open
# issues of its two half-done history epics, see HISTORY_EPICS).
INVENTORY: tuple[RepoSpec, ...] = (
    RepoSpec("core", "dev", 52, 0, "Go", 330),
    RepoSpec("core-php", "dev", 28, 15, "PHP", 96, ("clean", "dirty", "failing", "status-failure")),
    RepoSpec("core-claude", "dev", 30, 0, "TypeScript", 84, ("clean", "clean-fixes")),
    RepoSpec("core-api", "dev", 22, 3, "PHP", 70, ("behind", "changes-requested")),
    RepoSpec("core-admin", "dev", 14, 2, "PHP", 44, ("draft",)),
    RepoSpec("core-mcp", "dev", 24, 5, "Go", 80, ("draft", "changes-requested", "clean")),
    RepoSpec("core-tenant", "dev", 14, 2, "PHP", 40, ("stale",)),
    RepoSpec("core-developer", "dev", 19, 2, "PHP", 52, ("pending",)),
    RepoSpec("core-service-commerce", "dev", 30, 2, "PHP", 75, ("failing", "clean")),
    RepoSpec("core-devops", "dev", 3, 1, "Shell", 14),
    RepoSpec("core-agent", "dev", 14, 0, "Go", 42, ("stale", "clean")),
    RepoSpec("core-template", "dev", 12, 1, "PHP", 30),
    RepoSpec("build", "dev", 9, 1, "Go", 26, ("dirty",)),
    RepoSpec("ansible-coolify", "main", 1, 1, "Jinja", 8),
    RepoSpec("docker-server-php", "main", 1, 1, "Dockerfile", 9),
    RepoSpec("docker-server-blockchain", "main", 1, 1, "Dockerfile", 7),
)

LABELS = (
    ("audit", "fbca04", "Found by an audit"),
    ("severity:critical", "b60205", None),
    ("severity:high", "d93f0b", None),
    ("severity:medium", "fbca04", None),
    ("severity:low", "0e8a16", None),
    ("type:security", "ee0701", None),
    ("type:quality", "c5def5", None),
    ("type:testing", "bfd4f2", None),
    ("type:docs", "0075ca", None),
    ("type:performance", "5319e7", None),
    ("complexity:small", "c2e0c6", None),
    ("complexity:medium", "fef2c0", None),
    ("complexity:large", "f9d0c4", None),
    ("jules", "6f42c1", "Dispatched to the Jules agent"),
    ("agentic", "1d76db", "Managed by the orchestrator"),
    ("epic", "3e4b9e", "Groups child issues in phases"),
    ("area: auth", "bfdadc", "Authentication & sessions"),
    ("area: billing", "bfdadc", None),
    ("priority: P1", "b60205", None),
    ("needs triage", "ededed", None),
    ("🚀 release", "0e8a16", "Release work"),
    ("lang:php", "4f5d95", None),
    ("lang:go", "00add8", None),
    ("lang:ts", "3178c6", None),
)
