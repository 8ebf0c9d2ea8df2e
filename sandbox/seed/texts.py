"""What the demo's issues say: audit reports in their many formats, features and bugs, audit findings."""

from __future__ import annotations

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

# The phases of an epic, in order (an epic body has a "## Phase N: <name>" heading per phase).
PHASE_NAMES = ("Blockers", "Parallel", "Cleanup")
