"""`orchestrator doctor`: everything a run needs, checked at once, each problem with its fix.

Read-only by design: only GET requests (never a write to GitHub), the database opened read-only
(an old one is reported, not upgraded), and the token never in a check's text.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import github
import requests

from common.config import ConfigError, Settings
from tasks.github_client import GitHubClient, GitHubError, make_github, whoami

# What the plan writes, and the repository access that allows it (README "Running on a real organisation").
USER_PERMISSIONS = {"push": "create epic branches and PRs (contents write)", "triage": "label and assign issues"}
APP_PERMISSIONS = {"issues": "write", "pull_requests": "write", "contents": "write"}


@dataclass
class Check:
    """One line of the doctor's table: what was checked, whether it passed, and the fix when not."""

    check: str
    ok: bool
    detail: str
    fix: str = ""
    repo: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Identity:
    """Who the credentials act as: a user's token or a GitHub App's installation."""

    kind: str  # "user" or "app"
    login: str
    permissions: dict[str, str] | None = None  # an App installation's permissions, when known


def _client(settings: Settings) -> GitHubClient:
    """One try per request, a short timeout: the doctor reports, it does not wait."""
    quick = settings.model_copy(deep=True)
    quick.github.timeout = min(quick.github.timeout, 10)
    retry = github.GithubRetry(total=1, connect=1, read=0, backoff_factor=0.5)
    return GitHubClient(make_github(quick, retry=retry), token_source=settings.token_source)


def _reason(exc: Exception) -> str:
    """A short reason: GitHub's status and message (its text already cleaned), or the error's first line."""
    if isinstance(exc, GitHubError):
        return f"{exc.status} {str(exc).split(': ', 1)[-1]}"  # "404 Not Found"
    return str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__


# ── credentials and limits ────────────────────────────────────────────────────


def check_credentials(settings: Settings) -> tuple[Check, GitHubClient | None, Identity | None]:
    """Who the credentials act as (`whoami`: a user's token, or an App's installation)."""
    fix = f"check {settings.token_source}"
    try:
        client = _client(settings)
        who = whoami(settings, client)
    except (GitHubError, github.GithubException, requests.exceptions.RequestException) as exc:  # 401 included
        return Check("credentials", False, f"refused or unreachable ({_reason(exc)})", fix), None, None
    except ConfigError as exc:  # no token, an unreadable key: the message says what to set
        return Check("credentials", False, "not usable", str(exc)), None, None
    identity = Identity(str(who["kind"]), str(who["login"]), who.get("installation_permissions"))
    return Check("credentials", True, f"{identity.kind} {identity.login}"), client, identity


def check_rate_limits(client: GitHubClient) -> list[Check]:
    """`GET /rate_limit` (free): the core (REST) and graphql resources."""
    try:
        resources = (client.get("/rate_limit").data or {}).get("resources") or {}
    except (GitHubError, requests.exceptions.RequestException) as exc:
        return [Check("rate limits", False, f"GET /rate_limit failed ({_reason(exc)})", "retry later")]
    checks = []
    for name, label in (("core", "REST rate limit"), ("graphql", "GraphQL rate limit")):
        left = resources.get(name)
        if not isinstance(left, dict):
            checks.append(Check(label, True, "not reported by this server"))
            continue
        remaining, limit = left.get("remaining"), left.get("limit")
        ok = not isinstance(remaining, int) or remaining > 0
        fix = "" if ok else f"wait for the reset (epoch {left.get('reset')}) or use a GitHub App (higher limits)"
        checks.append(Check(label, ok, f"{remaining} of {limit} left", fix))
    return checks


# ── repositories ──────────────────────────────────────────────────────────────


def configured_repositories(settings: Settings, client: GitHubClient) -> tuple[list[dict[str, Any]], list[Check]]:
    """Each configured repository's JSON (`*`: the org's listing), and a failing check per missing one."""
    org = settings.github.org
    if "*" in settings.github.repos:
        try:
            return [
                raw for page in client.pages(f"/orgs/{org}/repos", {"per_page": 100}) for raw in page.data or []
            ], []
        except GitHubError as exc:
            fix = "check github.org (an organisation the credentials can see)"
            return [], [Check("repository", False, f"organisation {org} not listed ({_reason(exc)})", fix, org)]
    found, failing = [], []
    for name in settings.github.repos:
        full = settings.full_name(name)
        try:
            found.append(client.get(f"/repos/{full}").data)
        except GitHubError as exc:
            fix = "fix or remove it in github.repos, or give the credentials access to it"
            failing.append(Check("repository", False, f"{full} not reachable ({_reason(exc)})", fix, full))
    return found, failing


def _missing_permissions(repo: dict[str, Any], who: Identity | None) -> list[str]:
    if who is not None and who.kind == "app":
        granted = who.permissions or {}
        return [
            f"{name}: {want}" for name, want in APP_PERMISSIONS.items() if granted.get(name) not in ("write", "admin")
        ]
    permissions = repo.get("permissions")
    if not isinstance(permissions, dict):
        return []  # GitHub did not say (not every token is shown its permissions)
    return [f"{name} ({why})" for name, why in USER_PERMISSIONS.items() if not permissions.get(name)]


def check_repositories(settings: Settings, client: GitHubClient, who: Identity | None) -> list[Check]:
    repos, checks = configured_repositories(settings, client)
    if repos and not checks:
        checks.append(Check("repositories", True, f"{len(repos)} reachable"))
    lacking = [(raw.get("full_name"), _missing_permissions(raw, who)) for raw in repos]
    lacking = [(name, missing) for name, missing in lacking if missing]
    for name, missing in lacking:
        fix = "grant the App these permissions" if who and who.kind == "app" else "give the token's user write access"
        checks.append(Check("permissions", False, f"{name} lacks {', '.join(missing)}", fix, name))
    if repos and not lacking:
        checks.append(Check("permissions", True, "write access to issues, pull requests and contents"))
    checks += check_labels(settings, client, [str(raw.get("full_name")) for raw in repos])
    return checks


def check_labels(settings: Settings, client: GitHubClient, repos: list[str]) -> list[Check]:
    """The agent's label in every repository (the agent watches it; execute adds it to dispatch)."""
    label = settings.agent.label
    checks = []
    for repo in repos:
        try:
            client.get(f"/repos/{repo}/labels/{requests.utils.quote(label, safe='')}")
        except GitHubError as exc:
            if exc.status != 404:
                checks.append(Check("agent label", False, f"{repo}: cannot read labels ({_reason(exc)})", "", repo))
                continue
            fix = f"create the label: gh label create {label} -R {repo}"
            checks.append(Check("agent label", False, f"{repo} has no label {label!r}", fix, repo))
    if repos and not checks:
        checks.append(Check("agent label", True, f"{label!r} in all {len(repos)} repositories"))
    return checks


def check_agent_accounts(settings: Settings, client: GitHubClient) -> list[Check]:
    """For an agent dispatched by assignment, its account must exist."""
    login = settings.agent.assignee
    if settings.agent.mode != "assignee" or not login:
        return []
    try:
        client.get(f"/users/{requests.utils.quote(login, safe='')}")
    except GitHubError as exc:
        fix = "set agent.assignee to the agent's GitHub login"
        return [Check("agent account", False, f"{login} not found ({_reason(exc)})", fix)]
    return [Check("agent account", True, login)]


# ── the database, Prefect, the schedule ───────────────────────────────────────


def check_database(settings: Settings) -> list[Check]:
    """Writable, and its schema version against this release (an old one is reported, not upgraded)."""
    import duckdb

    from tasks import schema_upgrade, store
    from tasks.preflight import DatabaseUnwritable, check_database_path

    path = Path(settings.database.path)
    try:
        check_database_path(path)
    except DatabaseUnwritable as exc:
        return [Check("database", False, str(exc), "set database.path to a file in a writable folder")]
    if not path.exists():
        return [Check("database", True, f"{path} will be created by the first `orchestrator snapshot`")]
    try:
        con = store.connect(path, read_only=True)
    except duckdb.Error as exc:
        return [Check("database", False, f"{path}: cannot open ({_reason(exc)})", "is it a DuckDB file?")]
    try:
        state = schema_upgrade.inspect(con)
    finally:
        con.close()
    current = schema_upgrade.SCHEMA_VERSION
    if state.is_newer:
        fix = f"upgrade the orchestrator to {state.release or 'the release that wrote it'}"
        return [Check("database", False, f"{path}: {state.describe()}, newer than this release", fix)]
    if state.needs_upgrade:
        detail = f"{path}: {state.describe()}, upgraded to schema {current} by the next command (copy kept)"
        return [Check("database", True, detail)]
    return [Check("database", True, f"{path}: writable, schema {current} (current)")]


def check_prefect(url: str | None) -> list[Check]:
    if not url:
        return [Check("Prefect API", True, "not configured: each command starts a temporary server")]
    try:
        answer = requests.get(f"{url.rstrip('/')}/health", timeout=5)
        ok = answer.status_code == 200
        detail = f"{url} answers" if ok else f"{url} answered {answer.status_code}"
    except requests.exceptions.RequestException as exc:
        ok, detail = False, f"{url} unreachable ({exc.__class__.__name__})"
    return [Check("Prefect API", ok, detail, "" if ok else "start the Prefect server or unset PREFECT_API_URL")]


def check_schedule(settings: Settings) -> list[Check]:
    from common.config import DEFAULT_CRONS, valid_timezone

    schedule = settings.schedule
    try:
        valid_timezone(schedule.timezone)
        for name in DEFAULT_CRONS:
            schedule.for_deployment(name)  # builds Prefect's Cron: a bad expression fails here
    except (ValueError, KeyError, TypeError) as exc:
        return [Check("schedule", False, _reason(exc), "fix [schedule] (an IANA timezone, cron strings)")]
    return [Check("schedule", True, f"timezone {schedule.timezone}, team day in {settings.team.timezone}")]


# ── all of it ─────────────────────────────────────────────────────────────────


def github_checks(settings: Settings) -> list[Check]:
    credentials, client, who = check_credentials(settings)
    if client is None:
        return [credentials]
    steps: list[Callable[[], list[Check]]] = [
        lambda: check_rate_limits(client),
        lambda: check_repositories(settings, client, who),
        lambda: check_agent_accounts(settings, client),
    ]
    checks = [credentials]
    for step in steps:
        checks += step()
    return checks


def run_checks(settings: Settings, prefect_api_url: str | None) -> list[Check]:
    """Every check, in the order a first run meets them; never raises for what it finds."""
    return (
        github_checks(settings) + check_database(settings) + check_prefect(prefect_api_url) + check_schedule(settings)
    )
