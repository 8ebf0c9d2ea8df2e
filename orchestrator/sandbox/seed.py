"""Demo organisation `dappcore`: the runbook's repo inventory with audits, epics, PRs and weeks of history."""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from orchestrator.sandbox.state import AGENT_BOT, DEFAULT_LOGIN, Issue, SandboxState

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

# ---------------------------------------------------------------------------------- audit bodies
AUDIT_BODIES: tuple[tuple[str, str | None], ...] = (
    (
        "[Audit] Security review of auth module",
        """## Findings

- [HIGH] SQL injection in `UserRepository::search()` — raw `$request->q` concatenated into the query
- [MEDIUM] Session cookie missing `SameSite` attribute
- [CRITICAL] Password reset tokens never expire
- [LOW] Verbose stack traces returned on 500 errors
""",
    ),
    (
        "audit: test coverage",
        """Audit checklist — test coverage

- [ ] Add unit tests for `InvoiceCalculator` (0% coverage)
- [ ] Add integration tests for webhook retries
- [x] Enable coverage reporting in CI
- [ ] Cover tenant isolation edge cases (severity: high)
""",
    ),
    (
        "[Audit] Performance review",
        """# Performance audit

### N+1 queries on the dashboard
The dashboard loads each tenant's plan separately (~120 queries per page).
**Severity:** high

### Unbounded cache growth
`ArrayCache` never evicts; memory grows per request in long-running workers.
**Severity:** medium

### Slow cold start
Composer autoloader is not optimised in the Docker image.
**Severity:** low
""",
    ),
    (
        "[Audit] Secrets and configuration",
        """Reviewed `config/` and the deployment manifests.

1. **Hard-coded JWT secret** in `config/auth.php`
   Severity: critical
   Fix: read it from the environment and rotate the key.
2. **Missing CSRF protection on state-changing forms**
   Severity: high
3. **Debug mode enabled in the staging `.env.example`**
   Severity: medium
""",
    ),
    (
        "[Audit] Dependency & logging review",
        """| # | Finding | Severity | Location |
|---|---------|----------|----------|
| 1 | Secrets written to the debug log | High | `src/Log/Handler.php:88` |
| 2 | Outdated `guzzlehttp/guzzle` (CVE-2022-31090) | Critical | `composer.lock` |
| 3 | Missing input validation on `/api/v1/orders` | Medium | `OrdersController` |
| 4 | No rate limiting on the login endpoint | High | `routes/api.php` |
""",
    ),
    (
        "audit: error handling & code quality",
        """Findings:

* Error handling swallows exceptions
  * `catch (\\Throwable $e) {}` appears in 14 places
  * makes incidents impossible to debug
* Inconsistent naming between `getTenant()` and `fetch_tenant()`
  * low priority, cosmetic

Example of the problem (not findings, just code):

```php
- $total = $order->total();   // bullet-like line inside a fence
* $this->log->debug($secret); // also not a finding
1. not a numbered finding either
```

* Dead code: `LegacyBillingBridge` unused since v2
""",
    ),
    (
        "[AUDIT] Dependency licence review",
        """Dependency licence review completed.

No issues found — all 142 dependencies use MIT, BSD or Apache-2.0 licences. ✅
Nothing to action.
""",
    ),
    (
        "Audit: documentation gaps",
        """Documentation audit (Überprüfung der Doku) 📚

+ README has no installation section
+ API docs out of date for the `/v2/tenants` endpoints — ~~v1~~ only
+ No CONTRIBUTING.md
""",
    ),
    (
        "[Audit] Multi-area review",
        """## Security
- [ ] Rate limiting missing on `/login` (severity: high)
- [ ] CORS allows `*` on authenticated routes (severity: high)

## Quality
- [ ] `TenantManager` is 1,400 lines — split it (severity: low)

## Testing
- [ ] No tests for `MigrationRunner` (severity: medium)
""",
    ),
    (
        "[Audit] Input validation",
        """### Summary
Reviewed request validation across controllers.

### Findings
1. `POST /api/v1/users` accepts unbounded `name` (severity: medium)
2. File upload does not check MIME type — [HIGH]
3. Missing CSRF protection on state-changing forms — severity: high
   - affects `SettingsController` and `BillingController`
   - see OWASP A01
""",
    ),
    (
        "audit: observability",
        """- Logs are not structured (JSON) — medium
- No request id propagated to downstream services — medium
- Health endpoint leaks the database host name — high
""",
    ),
    (
        "[Audit] Docker image hardening",
        """Findings

- [ ] Image runs as root — **critical**
- [ ] `apt-get` caches left in the final layer — low
- [ ] Base image pinned to a floating tag (`php:8-fpm`) — medium
""",
    ),
    ("[audit] Follow-up of the 2025 pentest", None),
)

FEATURES = (
    ("Add pagination to the tenant list", ("enhancement",)),
    ("Support retries for outgoing webhooks", ("enhancement", "area: billing")),
    ("CLI: `core dev budget` shows the wrong total", ("bug",)),
    ("Handle UTF-8 names like “Zoë Ångström” in invoices", ("bug", "area: billing")),
    ("Émoji in branch names break the sync 🐛", ("bug", "needs triage")),
    ("Expose health metrics for Prometheus", ("enhancement",)),
    ("Dark mode for the admin panel", ("enhancement", "good first issue")),
    ("OAuth device flow login", ("enhancement", "area: auth")),
    ("Rotate API keys without downtime", ("enhancement", "area: auth", "priority: P1")),
    ("Document the release process", ("documentation", "🚀 release")),
    ("Import tenants from CSV", ("enhancement",)),
    ("Flaky test: `TestQueueDrain` times out on CI", ("bug",)),
    ("Support PHP 8.4", ("enhancement", "lang:php")),
    ("Cache compiled templates between requests", ("enhancement",)),
    ("Crash when the config file is empty", ("bug", "priority: P1")),
    ("Add `--json` output to every command", ("enhancement",)),
    ("Translate onboarding emails (日本語, Deutsch)", ("enhancement",)),
    ("Webhook signature uses SHA-1", ("bug", "area: auth")),
    ("Improve error message when the token is missing", ("good first issue",)),
    ("Audit log export", ("enhancement",)),  # a feature that merely mentions audits: not an audit issue
)

CHILD_TOPICS = (
    ("Security", "Fix SQL injection in user search", ("severity:critical", "type:security", "complexity:small")),
    ("Security", "Expire password reset tokens", ("severity:high", "type:security", "complexity:small")),
    (
        "Security",
        "Add CSRF protection to state-changing forms",
        ("severity:high", "type:security", "complexity:medium"),
    ),
    ("Security", "Rate-limit the login endpoint", ("severity:high", "type:security", "complexity:small")),
    (
        "Quality",
        "Stop swallowing exceptions in the queue worker",
        ("severity:medium", "type:quality", "complexity:medium"),
    ),
    ("Quality", "Split `TenantManager` into smaller services", ("severity:low", "type:quality", "complexity:large")),
    ("Testing", "Unit tests for `InvoiceCalculator`", ("severity:medium", "type:testing", "complexity:small")),
    ("Testing", "Integration tests for webhook retries", ("severity:medium", "type:testing", "complexity:medium")),
    ("Docs", "Write the installation section of the README", ("severity:low", "type:docs", "complexity:small")),
    (
        "Performance",
        "Remove the N+1 queries on the dashboard",
        ("severity:high", "type:performance", "complexity:medium"),
    ),
    ("Quality", "Remove `LegacyBillingBridge` dead code", ("severity:low", "type:quality", "complexity:small")),
    ("Security", "Move the JWT secret to the environment", ("severity:critical", "type:security", "complexity:small")),
)


# ---------------------------------------------------------------------------------- epics of core
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
PHASE_NAMES = ("Blockers", "Parallel", "Cleanup")


@dataclass
class Builder:
    """Creates one repo's numbered history in order, so numbers and dates increase together."""

    state: SandboxState
    rng: random.Random
    now: datetime
    repo: str
    spec: RepoSpec
    plan: dict[int, Callable[[int, datetime], None]] = field(default_factory=dict)
    pending_fix: list[tuple[int, datetime]] = field(default_factory=list)  # closed jules issues awaiting a PR
    # Work that must happen after some number (e.g. a child's merged PR): run in the next history slot.
    deferred: list[Callable[[int, datetime], None]] = field(default_factory=list)
    history: EpicHistory | None = None  # finished epics woven into the free numbers

    @property
    def full(self) -> str:
        """owner/name."""
        return f"{ORG}/{self.repo}"

    def created_at(self, number: int) -> datetime:
        """60% of the numbers over the older year, 40% over the last 90 days."""
        split = int(self.spec.numbers * 0.6)
        if number <= split:
            start, span, pos = self.now - timedelta(days=420), timedelta(days=330), number / max(split, 1)
        else:
            start, span = self.now - timedelta(days=90), timedelta(days=89)
            pos = (number - split) / max(self.spec.numbers - split, 1)
        return (start + span * pos).replace(microsecond=0, second=0)

    def build(self) -> None:
        """Create every number from 1 to spec.numbers: planned items, deferred work, or history."""
        repo = self.state.repo(self.full)
        planned = sorted(self.plan)
        for number in range(1, self.spec.numbers + 1):
            assert repo.next_number == number, (self.full, number, repo.next_number)
            when = self.created_at(number)
            if number in self.plan:
                self.plan[number](number, when)
                continue
            # an unplanned number may be created any time between the previous number and the next
            # planned one (which keeps its date), a minute apart each
            after = self._after(number - 1)
            when = max(when, after)
            nxt = next((n for n in planned if n > number), None)
            until = (self.created_at(nxt) if nxt else self.now - timedelta(hours=3)) - timedelta(
                minutes=(nxt or number + 1) - number
            )
            if self.deferred:
                self.deferred.pop(0)(number, when)
            elif not (
                self.history and self.history.take(number, after, until, lambda k, n=number: self._burst_end(n, k))
            ):
                self.filler(number, when)
        if self.history:
            self.history.finish()
        while self.deferred:  # anything left takes the next numbers
            self.deferred.pop(0)(repo.next_number, self.now - timedelta(hours=3))

    def _after(self, number: int) -> datetime:
        """A minute after `number` was created (numbers and dates increase together)."""
        found = self.state.issues.get((self.state.repo(self.full).id, number))
        return (found.created_at if found else self.now - timedelta(days=430)) + timedelta(minutes=1)

    def _burst_end(self, number: int, count: int) -> datetime | None:
        """The date of the last planned item among the numbers it takes to find `count` free ones from
        `number` on (None: none in between; the far future: not enough numbers left)."""
        free, end = 0, None
        for n in range(number, self.spec.numbers + 1):
            if n in self.plan:
                end = self.created_at(n)
            else:
                free += 1
                if free == count:
                    return end
        return datetime.max.replace(tzinfo=UTC)

    def filler(self, number: int, when: datetime) -> None:
        """Closed history: recent numbers are agent work (jules issue + bot PR), older ones ordinary."""
        recent = when >= self.now - timedelta(days=HISTORY_DAYS + 10)
        if recent:
            if self.pending_fix and self.rng.random() < 0.6:
                self.fix_pr(number, when)
            else:
                self.jules_issue(number, when)
            return
        roll = self.rng.random()
        if roll < 0.6:
            title, labels = self.rng.choice(FEATURES)
            closed = min(when + timedelta(hours=self.rng.randint(4, 24 * 20)), self.now - timedelta(hours=1))
            self.state.add_issue(
                self.full,
                title,
                self._body(),
                labels=labels,
                state="closed",
                created_at=when,
                closed_at=closed,
                user=self.rng.choice(MEMBERS + CONTRIBUTORS[:3]),
                state_reason=self.rng.choice(("completed", "completed", "not_planned")),
            )
        else:
            merged = roll < 0.9
            closed = min(when + timedelta(hours=self.rng.randint(2, 24 * 7)), self.now - timedelta(hours=1))
            self.state.add_pull(
                self.full,
                f"{'Refactor' if merged else 'Experiment:'} {self.rng.choice(FEATURES)[0]}",
                head=f"feature/{number}-work",
                body=self._body(),
                user=self.rng.choice(MEMBERS),
                merged=merged,
                state="closed",
                created_at=when,
                closed_at=closed,
                merged_by=DEFAULT_LOGIN if merged else None,
                reviews=[("bodane", "APPROVED")],
            )
            self.state.delete_ref(self.full, f"feature/{number}-work")  # merged branches get deleted

    def _body(self) -> str | None:
        return self.rng.choice(
            (
                None,
                "See title.",
                "Steps to reproduce:\n\n1. run it\n2. watch it fail",
                "Détails dans la discussion — merci ! 🙏",
            )
        )

    def jules_issue(self, number: int, when: datetime) -> None:
        """An issue dispatched to the agent and closed within the history window."""
        topic = self.rng.choice(CHILD_TOPICS)
        start = max(when, self.now - timedelta(days=HISTORY_DAYS))
        closed = min(start + timedelta(hours=self.rng.randint(6, 24 * 5)), self.now - timedelta(hours=1))
        closed = max(closed, when + timedelta(hours=3))
        self.state.add_issue(
            self.full,
            f"{topic[0]}: {topic[1]}",
            "Found by an audit.",
            labels=("audit", *topic[2], "jules"),
            state="closed",
            created_at=when,
            closed_at=closed,
            user=DEFAULT_LOGIN,
            labeled_by=DEFAULT_LOGIN,
            labeled_at=when + timedelta(hours=2),
            closed_by=DEFAULT_LOGIN,
        )
        self.pending_fix.append((number, closed))

    def fix_pr(self, number: int, when: datetime) -> None:
        """The agent's merged PR for a closed jules issue (`Fixes #N`); the issue closes when it merges."""
        issue_number, _ = self.pending_fix.pop(0)
        merged = min(when + timedelta(hours=self.rng.randint(1, 30)), self.now - timedelta(hours=1))
        self.state.add_pull(
            self.full,
            f"fix: resolve #{issue_number}",
            head=f"jules/{issue_number}-fix",
            body=f"Fixes #{issue_number}\n\nAutomated change by Jules.",
            user=AGENT_BOT,
            merged=True,
            created_at=when,
            closed_at=merged,
            merged_by=DEFAULT_LOGIN,
            reviews=[(DEFAULT_LOGIN, "APPROVED")],
        )
        self.state.delete_ref(self.full, f"jules/{issue_number}-fix")
        issue = self.state.issue(self.full, issue_number)
        issue.closed_at = issue.updated_at = merged
        for event in self.state.events:
            if event.repo_id == issue.repo_id and event.issue_number == issue_number and event.event == "closed":
                event.created_at = merged
                event.commit_id = self.state.issue(self.full, number).pull.merge_commit_sha  # type: ignore[union-attr]

    # ------------------------------------------------------------------ planned items
    def open_feature(self, index: int) -> Callable[[int, datetime], None]:
        """An open feature or bug issue (some assigned, some with comments)."""

        def make(number: int, when: datetime) -> None:
            title, labels = FEATURES[index % len(FEATURES)]
            issue = self.state.add_issue(
                self.full,
                title,
                self._body(),
                labels=labels,
                created_at=when,
                user=self.rng.choice(MEMBERS + CONTRIBUTORS[:3]),
                assignees=(DEFAULT_LOGIN,) if index % 5 == 0 else (),
            )
            if index % 4 == 1:
                self.state.add_comment(
                    self.full,
                    issue.number,
                    "Reproduced on dev — looking into it.",
                    self.rng.choice(MEMBERS),
                    when + timedelta(days=1),
                )

        return make

    def audit(self, index: int) -> Callable[[int, datetime], None]:
        """An open audit issue (title and body cycle through the varied formats)."""

        def make(number: int, when: datetime) -> None:
            title, body = AUDIT_BODIES[index % len(AUDIT_BODIES)]
            if index >= len(AUDIT_BODIES):
                title = f"{title} ({index // len(AUDIT_BODIES) + 1})"
            labels = ("audit",) if index % 3 else ("audit", "needs triage")
            self.state.add_issue(self.full, title, body, labels=labels, created_at=when, user="bodane")

        return make

    def open_pr(self, kind: str, index: int) -> Callable[[int, datetime], None]:
        """An open PR of the given kind (clean, dirty, failing, ...)."""

        def make(number: int, when: datetime) -> None:
            _open_pr(
                self,
                kind,
                f"feature/{number}-{kind}",
                self.state.repo(self.full).default_branch,
                f"{FEATURES[(index * 3) % len(FEATURES)][0]}",
                None,
                when,
            )

        return make


def _open_pr(b: Builder, kind: str, head: str, base: str, title: str, fixes: int | None, when: datetime) -> Issue:
    """Open PRs in each state GitHub can report."""
    body = f"Fixes #{fixes}\n\nAutomated change by Jules." if fixes else "Work in progress, see commits."
    user = AGENT_BOT if fixes else b.rng.choice(MEMBERS)
    kwargs: dict = {"ci": "success", "reviews": [("bodane", "APPROVED")]}
    if kind == "dirty":
        kwargs = {"mergeable": False, "ci": "success"}
    elif kind == "failing":
        kwargs = {"ci": "failure"}
    elif kind == "status-failure":
        kwargs = {"ci": None, "status": "failure"}
    elif kind == "changes-requested":
        kwargs = {"reviews": [("bodane", "CHANGES_REQUESTED")]}
    elif kind == "behind":
        kwargs = {"behind": True}
    elif kind == "draft":
        kwargs = {"draft": True, "ci": "pending"}
    elif kind == "pending":
        kwargs = {"ci": "pending", "status": "pending"}
    elif kind == "stale":  # placed at an old enough number (see _stale_slot): nothing happened since
        kwargs = {"ci": "success"}
    elif kind == "clean-fixes":  # merging it would close the repo's oldest open issue
        repo = b.state.repo(b.full)
        target = min(
            (
                i.number
                for (rid, _), i in b.state.issues.items()
                if rid == repo.id and i.state == "open" and not i.is_pull
            ),
            default=1,
        )
        body = f"Fixes #{target}\n\nAlso tidies the docs."
    pr = b.state.add_pull(b.full, title, head=head, base=base, body=body, user=user, created_at=when, **kwargs)
    if kind == "dirty":
        b.state.add_comment(
            b.full, pr.number, "@jules fix the merge conflict", DEFAULT_LOGIN, when + timedelta(hours=5)
        )
    return pr


# ---------------------------------------------------------------------------------- builders per repo
def _plan_generic(b: Builder, reserved_open: int = 0) -> None:
    """Spread the repo's open issues, audits and open PRs over its free numbers."""
    spec, rng = b.spec, b.rng
    numbers = spec.numbers
    prs = list(range(numbers - len(spec.open_prs) + 1, numbers + 1))
    for i, number in enumerate(prs):
        kind = spec.open_prs[i]
        b.plan[_stale_slot(b) if kind == "stale" else number] = b.open_pr(kind, i)
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


def _single_audit(b: Builder) -> None:
    """Small repos with one open audit; their audit uses a format chosen per repo."""
    index = {
        "ansible-coolify": 11,
        "docker-server-php": 6,
        "docker-server-blockchain": 12,
        "core-devops": 10,
        "core-template": 3,
        "build": 4,
    }.get(b.spec.name, 0)
    numbers = b.spec.numbers
    prs = list(range(numbers - len(b.spec.open_prs) + 1, numbers + 1))
    for i, number in enumerate(prs):
        kind = b.spec.open_prs[i]
        b.plan[_stale_slot(b) if kind == "stale" else number] = b.open_pr(kind, i)
    first_open = numbers - len(prs) - b.spec.open_issues + 1
    b.plan[first_open] = b.audit(index)
    for i, number in enumerate(range(first_open + 1, first_open + b.spec.open_issues)):
        b.plan[number] = b.open_feature(i + len(b.spec.name))


def _plan_core(b: Builder) -> None:
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
                b.plan[_free_after(b, 303)] = _core_child_pr(b, epic, child, kind)
    # plain open issues to reach "40+" and a few standalone open PRs
    open_children = sum(ch in "ODd" for e in CORE_EPICS for ch in "".join(e.phases))
    extra = b.spec.open_issues - open_children - len(CORE_EPICS) - _history_open(b.spec.name)
    for i in range(extra):
        b.plan[_free_after(b, 135 + i * 17)] = b.open_feature(i)
    for i, kind in enumerate(("draft", "status-failure", "stale", "pending", "clean-fixes")):
        b.plan[_stale_slot(b) if kind == "stale" else _free_after(b, 315)] = b.open_pr(kind, i)
    b.plan[_free_after(b, 320)] = _closed_unmerged(b)


def _stale_slot(b: Builder, days: int = 16) -> int:
    """The newest unplanned number created at least `days` ago (a PR there has not moved since)."""
    cutoff = b.now - timedelta(days=days)
    return max(n for n in range(1, b.spec.numbers + 1) if n not in b.plan and b.created_at(n) <= cutoff)


def _free_after(b: Builder, start: int) -> int:
    number = start
    while number in b.plan:
        number += 1
    assert number <= b.spec.numbers, "core numbering overflow"
    return number


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
        state, rng = b.state, b.rng
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
                suffix = f" {state.issue(b.full, child).title}" if epic.number == 118 else ""
                lines.append(f"- [{'x' if letter == 'T' else ' '}] #{child}{suffix}")
                pos += 1
            lines.append("")
        state.add_issue(
            b.full,
            epic.title,
            "\n".join(lines).rstrip() + "\n",
            labels=("epic", "agentic", "complexity:large"),
            created_at=when,
            user=DEFAULT_LOGIN,
        )
        branch = f"epic/{epic.number}-{epic.slug}"
        repo = state.repo(b.full)
        if epic.has_branch:
            repo.branches[branch] = repo.branches[repo.default_branch]
        target = branch if epic.has_branch else repo.default_branch
        for i, (child, letter) in enumerate(zip(epic.children, "".join(epic.phases), strict=True)):
            state.add_comment(b.full, child, f"Parent: #{epic.number}", DEFAULT_LOGIN, when + timedelta(minutes=1 + i))
            if letter in "TCDd":
                dispatched = when + timedelta(hours=2 + i)
                state.add_labels(b.full, child, ["jules"], DEFAULT_LOGIN)
                _retime_last_event(state, dispatched)
                state.add_comment(
                    b.full, child, f"Target branch: `{branch}` (epic #{epic.number})", DEFAULT_LOGIN, dispatched
                )
            if letter in "TC":
                _close_child_via_pr(b, child, target, when, rng)
        state.issue(b.full, number).updated_at = max(state.issue(b.full, number).updated_at, when)

    return make


def _retime_last_event(state: SandboxState, when: datetime) -> None:
    """Seeded events happen in the past, not at the moment the seed runs."""
    event = state.events[-1]
    event.created_at = when
    issue = state.issues[(event.repo_id, event.issue_number)]
    issue.updated_at = when


def _close_child_via_pr(b: Builder, child: int, target: str, epic_created: datetime, rng: random.Random) -> None:
    """Defer the agent's merged PR for a done child to the next free number (numbers follow time)."""
    b.deferred.append(lambda number, when: _merge_child(b, child, target, when))


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
    issue = state.issue(b.full, child)
    state.update_issue(b.full, child, DEFAULT_LOGIN, state="closed", state_reason="completed")
    issue.closed_at = issue.updated_at = closed + timedelta(minutes=10)
    state.events[-1].created_at = issue.closed_at


def _core_child_pr(b: Builder, epic: EpicSpec, child: int, kind: str) -> Callable[[int, datetime], None]:
    def make(number: int, when: datetime) -> None:
        repo = b.state.repo(b.full)
        branch = f"epic/{epic.number}-{epic.slug}"
        base = branch if branch in repo.branches else repo.default_branch
        title = f"fix: {b.state.issue(b.full, child).title}"
        _open_pr(b, kind, f"jules/{child}-fix", base, title, child, when)

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
def _plan_mcp_epic(b: Builder) -> None:
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
        repo = b.state.repo(b.full)
        repo.branches["epic/40-tool-registry"] = repo.branches[repo.default_branch]
        for i, child in enumerate(children):
            b.state.add_comment(b.full, child, f"Parent: #{n}", DEFAULT_LOGIN, when + timedelta(minutes=i + 1))

    b.plan[40] = epic


# ---------------------------------------------------------------------------------- finished epics
@dataclass(frozen=True)
class HistoryEpic:
    """An epic worked through over the last weeks: children dispatched phase by phase, merged, closed.

    ``done`` None: every child merges and the epic closes; a number: the epic stays open once that
    many children merged (half done).
    """

    repo: str
    title: str
    slug: str
    start_days_ago: float
    phases: tuple[int, ...]  # children per phase when the epic is created
    added: int = 0  # children added to the last phase after the epic was created (scope growth)
    done: int | None = None


# Placed where each repo has free numbers enough (numbers and dates increase together), so that
# with seed 7 every one of them finishes (or stops half done) inside the history window.
HISTORY_EPICS: tuple[HistoryEpic, ...] = (
    HistoryEpic("core", "Epic: Tenant isolation", "tenant-isolation", 35, (1, 2, 1), done=2),
    HistoryEpic("core", "Epic: Observability", "observability", 34, (2, 2, 2), done=3),
    HistoryEpic("core", "Epic: Session management", "session-management", 64, (2, 2)),
    HistoryEpic("core", "Epic: Queue worker reliability", "queue-reliability", 55, (1, 3, 1)),
    HistoryEpic("core", "Epic: API error handling", "api-errors", 45, (2, 2), added=1),
    HistoryEpic("core", "Epic: Config loading", "config-loading", 16, (1, 2)),
    HistoryEpic("core-php", "Epic: Auth module hardening", "auth-hardening", 64, (1, 2)),
    HistoryEpic("core-claude", "Epic: Prompt pipeline cleanup", "prompt-cleanup", 61, (2, 1)),
    HistoryEpic("core-api", "Epic: Input validation", "input-validation", 60, (1, 2)),
    HistoryEpic("core-admin", "Epic: Admin audit log", "admin-audit-log", 47, (1, 2)),
    HistoryEpic("core-mcp", "Epic: Transport tests", "transport-tests", 60, (1, 2), added=1),
    HistoryEpic("core-tenant", "Epic: Tenant provisioning", "tenant-provisioning", 68, (1, 2)),
)
HISTORY_LANG = {"Go": "lang:go", "PHP": "lang:php", "TypeScript": "lang:ts"}
FAILED_ATTEMPT_RATE = 0.1


@dataclass
class _HistoryChild:
    phase: int  # 0-based
    topic: tuple
    added_after: timedelta | None = None  # scope growth: created this long after the epic
    number: int | None = None
    created: datetime | None = None
    ready: datetime | None = None  # its phase may be dispatched from then on
    labelled: bool = False
    failures: int = 0
    attempt: tuple[float, float, float] | None = None  # (lead days, share of lead before the PR, lag hours)
    closed: datetime | None = None


@dataclass
class _HistoryRun:
    spec: HistoryEpic
    start: datetime
    children: list[_HistoryChild]
    number: int | None = None
    created: datetime | None = None
    merged: int = 0
    finished: datetime | None = None

    @property
    def branch(self) -> str:
        return f"epic/{self.number}-{self.spec.slug}"

    def frozen(self) -> bool:
        """A half-done epic stops once `done` children merged."""
        return self.spec.done is not None and self.merged >= self.spec.done


class EpicHistory:
    """Finished (and half-done) epics woven into a repo's free history numbers.

    The builder offers every free number with the window its creation time must fall in (after the
    previous number, before the next); the item due earliest takes it: a child, the epic, an added
    child or an agent PR. Dispatch, merge and close times follow from when each PR could be opened,
    so numbers and dates still increase together.
    """

    def __init__(self, b: Builder, specs: list[HistoryEpic], rng: random.Random) -> None:
        self.b, self.rng = b, rng
        self.runs: list[_HistoryRun] = []
        for spec in specs:
            start = (b.now - timedelta(days=spec.start_days_ago, hours=rng.uniform(0, 20))).replace(second=0)
            kids = [_HistoryChild(p, rng.choice(CHILD_TOPICS)) for p, n in enumerate(spec.phases) for _ in range(n)]
            kids += [
                _HistoryChild(
                    len(spec.phases) - 1, rng.choice(CHILD_TOPICS), added_after=timedelta(hours=rng.uniform(20, 70))
                )
                for _ in range(spec.added)
            ]
            self.runs.append(_HistoryRun(spec, start, kids))

    # ------------------------------------------------------------------ slots
    def take(self, number: int, lo: datetime, hi: datetime, burst_end: Callable[[int], datetime | None]) -> bool:
        """Create the earliest due item at `number` if one fits in [lo, hi]; False leaves it to the filler.

        An epic and its first children are created together: they start only where the numbers they
        need are free within three days (`burst_end(k)`: the date of the last planned number
        among the next k free ones).
        """
        for run in self.runs:  # an epic being created finishes first
            if run.number is None and any(c.number is not None for c in run.children):
                when, make = next(self._due(run, lo))
                make(number, when)
                return True
        best: tuple[datetime, int, Callable[[int, datetime], None]] | None = None
        for i, run in enumerate(self.runs):
            if run.number is None:
                end = burst_end(1 + sum(c.added_after is None for c in run.children))
                if end is not None and end > max(lo, run.start) + timedelta(hours=72):
                    continue
            for when, make in self._due(run, lo):
                if when <= hi and (best is None or when < best[0]):
                    best = (when, i, make)
        if best is None:
            return False
        best[2](number, best[0])
        return True

    def _due(self, run: _HistoryRun, lo: datetime):
        initial = [c for c in run.children if c.added_after is None]
        waiting = [c for c in initial if c.number is None]
        if waiting:
            k = len(initial) - len(waiting)
            yield max(run.start + timedelta(minutes=3 * k), lo), lambda n, t, c=waiting[0]: self._child(run, c, n, t)
            return
        if run.number is None:
            last = max(c.created for c in initial)  # type: ignore[type-var]
            yield max(last + timedelta(minutes=6), lo), lambda n, t: self._epic(run, n, t)
            return
        for c in run.children:
            if c.number is None:
                yield max(run.created + c.added_after, lo), lambda n, t, c=c: self._child(run, c, n, t)  # type: ignore[operator]
        if run.frozen():
            return
        for c in run.children:
            if c.number is None or c.ready is None or c.closed is not None:
                continue
            if c.attempt is None:
                lead = min(6.0, max(0.5, self.rng.lognormvariate(math.log(1.5), 0.6)))
                c.attempt = (lead, self.rng.uniform(0.2, 0.6), self.rng.uniform(0.5, 9))
            lead, share, lag = c.attempt
            opened = max(c.ready + timedelta(hours=lag) + timedelta(days=lead * share), lo)
            if opened + timedelta(days=lead * (1 - share)) < self.b.now - timedelta(hours=3):
                yield opened, lambda n, t, c=c: self._pr(run, c, n, t)

    # ------------------------------------------------------------------ items
    def _child(self, run: _HistoryRun, c: _HistoryChild, number: int, when: datetime) -> None:
        b = self.b
        area, title, labels = c.topic
        lang = HISTORY_LANG.get(b.spec.language)
        body = (
            f"From the audit of `{b.repo}`.\n\n**Area:** {area}\n\n"
            "Acceptance: tests cover the fix; no regression in CI."
        )
        b.state.add_issue(
            b.full,
            f"{area}: {title}",
            body,
            labels=("audit", *labels, *((lang,) if lang else ())),
            created_at=when,
            user=DEFAULT_LOGIN,
        )
        c.number, c.created = number, when
        if run.number is not None:  # scope growth: listed in the epic from now on
            b.state.add_comment(b.full, number, f"Parent: #{run.number}", DEFAULT_LOGIN, when + timedelta(minutes=2))
            self._maybe_ready(run, c.phase)

    def _epic(self, run: _HistoryRun, number: int, when: datetime) -> None:
        b = self.b
        b.state.add_issue(
            b.full, run.spec.title, self._body(run), labels=("epic", "agentic"), created_at=when, user=DEFAULT_LOGIN
        )
        run.number, run.created = number, when
        repo = b.state.repo(b.full)
        repo.branches[run.branch] = repo.branches[repo.default_branch]
        for i, c in enumerate(c for c in run.children if c.number is not None):
            b.state.add_comment(b.full, c.number, f"Parent: #{number}", DEFAULT_LOGIN, when + timedelta(minutes=1 + i))
        self._set_ready(run, 0, when + timedelta(hours=self.rng.uniform(1, 6)))

    def _set_ready(self, run: _HistoryRun, phase: int, when: datetime) -> None:
        for c in run.children:
            if c.phase == phase and c.ready is None and c.number is not None:
                c.ready = max(when, c.created + timedelta(minutes=30))  # type: ignore[operator]

    def _maybe_ready(self, run: _HistoryRun, phase: int) -> None:
        """An added child of a phase already under way is ready at once."""
        if any(c.ready is not None for c in run.children if c.phase == phase):
            self._set_ready(run, phase, max(c.ready for c in run.children if c.phase == phase and c.ready is not None))

    def _pr(self, run: _HistoryRun, c: _HistoryChild, number: int, opened: datetime) -> None:
        b, state, rng = self.b, self.b.state, self.rng
        lead, share, _ = c.attempt  # type: ignore[misc]
        c.attempt = None
        dispatched = (opened - timedelta(days=lead * share)).replace(second=0, microsecond=0)
        dispatched = max(dispatched, c.ready)  # type: ignore[type-var]
        repo, issue = state.repo(b.full), state.issue(b.full, c.number)  # type: ignore[arg-type]
        if not c.labelled:
            state._add_labels(repo, issue, ["jules"], DEFAULT_LOGIN, dispatched)
            if c.failures == 0:
                state.add_comment(
                    b.full,
                    issue.number,
                    f"Target branch: `{run.branch}` (epic #{run.number})",
                    DEFAULT_LOGIN,
                    dispatched + timedelta(minutes=1),
                )
            c.labelled = True
        title = f"fix: {issue.title}"
        head = f"jules/{issue.number}-{'retry' if c.failures else 'fix'}"
        body = f"Fixes #{issue.number}\n\nAutomated change by Jules."
        if c.failures == 0 and rng.random() < FAILED_ATTEMPT_RATE:
            closed = opened + timedelta(hours=rng.uniform(5, 30))
            state.add_pull(
                b.full,
                title,
                head=head,
                base=run.branch,
                body=body,
                user=AGENT_BOT,
                state="closed",
                created_at=opened,
                closed_at=closed,
                ci="failure",
            )
            state.delete_ref(b.full, head)
            state.add_comment(
                b.full,
                issue.number,
                "The agent's PR failed CI twice; closed it, re-dispatching.",
                DEFAULT_LOGIN,
                closed + timedelta(minutes=5),
            )
            state._remove_label(repo, issue, "jules", DEFAULT_LOGIN, closed + timedelta(minutes=6))
            c.failures, c.labelled, c.ready = 1, False, closed + timedelta(minutes=10)
            issue.updated_at = max(issue.updated_at, closed + timedelta(minutes=10))
            return
        merged = max(dispatched + timedelta(days=lead), opened + timedelta(hours=1)).replace(second=0, microsecond=0)
        state.add_pull(
            b.full,
            title,
            head=head,
            base=run.branch,
            body=body,
            user=AGENT_BOT,
            merged=True,
            created_at=opened,
            closed_at=merged,
            merged_by=DEFAULT_LOGIN,
            reviews=[(DEFAULT_LOGIN, "APPROVED")],
        )
        state.delete_ref(b.full, head)
        c.closed = merged + timedelta(minutes=10)
        state._close(issue, DEFAULT_LOGIN, c.closed, "completed")
        issue.updated_at = max(issue.updated_at, c.closed)
        run.merged += 1
        phase = [x for x in run.children if x.phase == c.phase]
        if all(x.closed is not None for x in phase):
            end = max(x.closed for x in phase)  # type: ignore[type-var]
            if c.phase + 1 < len(run.spec.phases):
                self._set_ready(run, c.phase + 1, end + timedelta(hours=rng.uniform(1, 8)))
            elif all(x.closed is not None for x in run.children) and run.spec.done is None:
                run.finished = min(end + timedelta(hours=rng.uniform(2, 18)), b.now - timedelta(hours=1))

    # ------------------------------------------------------------------ the end
    def _body(self, run: _HistoryRun) -> str:
        lines = [
            f"## {run.spec.title.removeprefix('Epic: ')}",
            "",
            "Tracking epic created by the orchestrator. Children are dispatched phase by phase.",
            "",
        ]
        for p in range(len(run.spec.phases)):
            lines.append(f"## Phase {p + 1}: {PHASE_NAMES[p]}")
            for c in run.children:
                if c.phase == p and c.number is not None:
                    lines.append(f"- [{'x' if c.closed else ' '}] #{c.number}")
            lines.append("")
        return "\n".join(lines).rstrip() + "\n"

    def finish(self) -> None:
        """Final epic bodies (ticks, added children); finished epics closed and their branch merged away."""
        state, b = self.b.state, self.b
        for run in self.runs:
            if run.number is None:
                continue
            epic = state.issue(b.full, run.number)
            epic.body = self._body(run)
            if run.spec.done is not None:  # half done: the next child of the open phase is with the agent
                nxt = next((c for c in run.children if c.ready and not c.closed and c.number and not c.labelled), None)
                if nxt is not None and nxt.ready < b.now:  # type: ignore[operator]
                    state._add_labels(
                        state.repo(b.full), state.issue(b.full, nxt.number), ["jules"], DEFAULT_LOGIN, nxt.ready
                    )
                    state.add_comment(
                        b.full,
                        nxt.number,
                        f"Target branch: `{run.branch}` (epic #{run.number})",
                        DEFAULT_LOGIN,
                        nxt.ready + timedelta(minutes=1),
                    )  # type: ignore[operator]
                    state.issue(b.full, nxt.number).updated_at = max(
                        state.issue(b.full, nxt.number).updated_at, nxt.ready
                    )
                continue
            if run.finished is None:
                continue  # ran out of history: it stays open
            state._close(epic, DEFAULT_LOGIN, run.finished, "completed")
            epic.updated_at = max(epic.updated_at, run.finished)
            state.delete_ref(b.full, run.branch)


def _history_open(repo: str) -> int:
    """Open issues the half-done history epics of a repo leave: each epic and its children not merged."""
    return sum(1 + sum(e.phases) + e.added - e.done for e in HISTORY_EPICS if e.repo == repo and e.done is not None)


# ---------------------------------------------------------------------------------- entry point
def seed_demo(state: SandboxState, seed: int = 7, now: datetime | None = None) -> None:
    """Fill state with the dappcore demo organisation (deterministic in seed and now)."""
    now = (now or datetime.now(UTC)).astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    rng = random.Random(seed)
    with state.lock:
        for login, kind, name in (
            (DEFAULT_LOGIN, "User", "Snider"),
            ("bodane", "User", "Bodane"),
            (AGENT_BOT, "Bot", "Jules"),
            ("mira-k", "User", "Mira Kovač"),
            ("tomasz-w", "User", "Tomasz Wiśniewski"),
            ("aiko-t", "User", "相子 田中"),
            ("dependabot[bot]", "Bot", None),
            ("github", "Organization", "GitHub"),
        ):
            user = state.user(login, type=kind, name=name)
            user.created_at = now - timedelta(days=2000)
        org = state.add_org(ORG, name="dAppCore", members=MEMBERS)
        org.created_at = now - timedelta(days=1500)
        for spec in INVENTORY:
            before = rng.getstate()
            _seed_repo(state, spec, rng, now, seed)
            if any(e.repo == spec.name for e in HISTORY_EPICS):
                rng.setstate(_rng_without_history(spec, before, now, seed))


def _rng_without_history(spec: RepoSpec, before: tuple, now: datetime, seed: int) -> tuple:
    """The shared random state after building the repo without its history epics (on a scratch state).

    The history epics take numbers the filler would have used, so the filler draws less; the repos
    built after this one must still be laid out (open issues, audits, PRs at their numbers) as before.
    """
    scratch = SandboxState()
    scratch.add_org(ORG, name="dAppCore", members=MEMBERS)
    plain = random.Random()
    plain.setstate(before)
    _seed_repo(scratch, spec, plain, now, seed, history=False)
    return plain.getstate()


def _seed_repo(
    state: SandboxState, spec: RepoSpec, rng: random.Random, now: datetime, seed: int = 7, history: bool = True
) -> None:
    created = now - timedelta(days=430)
    repo = state.add_repo(
        ORG,
        spec.name,
        default_branch=spec.default_branch,
        language=spec.language,
        description=f"{spec.name} — part of the dAppCore platform",
        created_at=created,
    )
    for name, color, desc in LABELS:
        state.add_label(repo.full_name, name, color, desc)
    for i in range(3):  # some history on the default branch
        state.add_commit(
            repo.full_name,
            spec.default_branch,
            f"chore: bootstrap ({i + 1})",
            DEFAULT_LOGIN,
            created + timedelta(days=i),
        )
    b = Builder(state, rng, now, spec.name, spec)
    epics = [e for e in HISTORY_EPICS if e.repo == spec.name] if history else []
    if epics:  # its own random stream (see _rng_without_history): the rest of the demo stays as it was
        b.history = EpicHistory(b, epics, random.Random(f"{seed}/{spec.name}/history"))
    if spec.name == "core":
        _plan_core(b)
    elif spec.audits <= 1 and spec.open_issues <= 12:
        _single_audit(b)
    elif spec.name == "core-mcp":
        _plan_mcp_epic(b)
        _plan_generic(b, reserved_open=3)
    else:
        _plan_generic(b)
    b.build()
    times = [i.updated_at for (rid, _), i in state.issues.items() if rid == repo.id]
    repo.updated_at = max([created, *times])
