"""Configuration: `orchestrator.toml`, validated with pydantic.

Every error names the key and the problem in one line (`ConfigError`), so the CLI can
print it and exit 2 instead of showing a traceback.
"""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlparse

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from common.agents import AGENT_KINDS, Agent, agent_from_section, recognition_settings

DEFAULT_CONFIG = "orchestrator.toml"
SANDBOX_TOKEN = "sandbox-token"
_REPO_NAME = re.compile(r"([A-Za-z0-9_.-]+/)?[A-Za-z0-9_.-]+")


def valid_timezone(value: str) -> str:
    """An IANA timezone name (`Europe/London`), or a ValueError saying it is unknown."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown timezone {value!r}") from exc
    return value


class ConfigError(Exception):
    """A configuration problem, already phrased for the user in one line."""


# ── the sandbox this process started ──────────────────────────────────────────
# A missing token is an error, except against a GitHub sandbox this process (or the process
# that started it: `orchestrator demo`, the test suite) started itself: the sandbox registers
# its URL here, in the environment so that child processes see it too.
SANDBOX_URL_ENV = "ORCHESTRATOR_SANDBOX_URL"


def _own_sandboxes() -> list[str]:
    return os.environ.get(SANDBOX_URL_ENV, "").split()


def register_sandbox(url: str) -> None:
    """Called by the sandbox when it starts: a missing token means its token for this URL."""
    urls = _own_sandboxes()
    if url.rstrip("/") not in urls:
        os.environ[SANDBOX_URL_ENV] = " ".join([*urls, url.rstrip("/")])


def unregister_sandbox(url: str) -> None:
    urls = [u for u in _own_sandboxes() if u != url.rstrip("/")]
    if urls:
        os.environ[SANDBOX_URL_ENV] = " ".join(urls)
    else:
        os.environ.pop(SANDBOX_URL_ENV, None)


def is_own_sandbox(api_url: str) -> bool:
    return api_url.rstrip("/") in _own_sandboxes()


class _Section(BaseModel):
    # Unknown keys are mistakes (a typo silently ignored is a budget overrun later).
    model_config = ConfigDict(extra="forbid")


class GitHubSettings(_Section):
    api_url: str = Field("https://api.github.com", description="GitHub REST API root; GHES or the sandbox URL work too")
    token_env: str = Field("GITHUB_TOKEN", description="environment variable holding the token")
    token_block: str | None = Field(None, description="name of a Prefect Secret block holding the token")
    org: str = Field(..., min_length=1, description="the organisation (or user) that owns the repositories")
    repos: list[str] = Field(default_factory=lambda: ["*"], description='repository names, or ["*"] for all')
    concurrency: int = Field(4, ge=1, le=32, description="repositories fetched at once")
    seconds_between_requests: float = Field(0.0, ge=0, description="pause between reads (PyGithub's default 0.25)")
    seconds_between_writes: float = Field(1.0, ge=0, description="pause between writes; GitHub asks for >= 1 s")
    timeout: int = Field(30, gt=0, description="seconds before a request times out")
    since_margin_minutes: int = Field(10, ge=0, description="overlap for incremental refreshes (clock skew)")
    full_refresh_every: int = Field(
        24, ge=1, description="every Nth snapshot of a repo is a full one, to notice deleted or moved items"
    )
    # execute gives up early rather than grinding through a plan while GitHub is down.
    stop_after_failures: int = Field(
        3, ge=1, description="execute stops after this many actions in a row fail to reach GitHub"
    )
    execute_deadline_minutes: float = Field(
        30.0, gt=0, description="execute starts no new action after this long; the rest wait for the next run"
    )
    # GitHub's content-creation limits (secondary rate limits): execute paces its writes under them,
    # counted across runs from the ledger's `write_log` on GitHub's clock (tasks/write_limits.py).
    writes_per_minute: int = Field(80, ge=1, description="content-creating requests in any 60 s (GitHub: 80)")
    writes_per_hour: int = Field(500, ge=1, description="content-creating requests in any hour (GitHub: 500)")
    max_write_wait: float = Field(
        120.0, ge=0, description="longest wait for a write limit inside a run; longer defers the rest to the next run"
    )
    # The trust model: only trusted people's issues and comments are instructions (audits, epics,
    # `Parent:` links, `needs-human`); everyone else's are data. Markers count only from `login`.
    trusted_authors: list[str] = Field(
        default_factory=list, description="logins trusted besides the team (e.g. the auditor's account)"
    )
    trusted_associations: list[str] = Field(
        default_factory=lambda: ["OWNER", "MEMBER", "COLLABORATOR"],
        description="author_association values whose authors are trusted",
    )
    login: str | None = Field(
        None, min_length=1, description="the orchestrator's own login; default: the App's `slug[bot]` or GET /user"
    )
    # A GitHub App instead of a personal token (README "GitHub App or personal token").
    app_id: int | None = Field(None, ge=1, description="the GitHub App's id (App settings page)")
    app_private_key_path: str | None = Field(None, min_length=1, description="the App's private key (.pem) file")
    app_private_key_block: str | None = Field(
        None, min_length=1, description="name of a Prefect Secret block holding the App's private key (PEM)"
    )
    installation_id: int | None = Field(
        None, ge=1, description="the App's installation on the org; default: GET /orgs/{org}/installation"
    )

    @model_validator(mode="after")
    def _one_kind_of_credentials(self) -> GitHubSettings:
        app_keys = [k for k in ("app_id", "app_private_key_path", "app_private_key_block", "installation_id")
                    if getattr(self, k) is not None]  # fmt: skip
        token_keys = [k for k in ("token_env", "token_block") if k in self.model_fields_set]
        if app_keys and token_keys:
            raise ValueError(
                f"github.{app_keys[0]} and github.{token_keys[0]} are two kinds of credentials (App and "
                "personal token): keep one"
            )
        if app_keys and self.app_id is None:
            raise ValueError(f"github.app_id is required with github.{app_keys[0]}")
        key_settings = (self.app_private_key_path is not None) + (self.app_private_key_block is not None)
        if self.app_id is not None and key_settings != 1:
            raise ValueError("github.app_id needs exactly one of github.app_private_key_path, app_private_key_block")
        return self

    @property
    def uses_app(self) -> bool:
        """Whether the credentials are a GitHub App's (else a personal token)."""
        return self.app_id is not None

    @field_validator("api_url")
    @classmethod
    def _url(cls, value: str) -> str:
        parsed = urlparse(value)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise ValueError("must be an http(s) URL such as https://api.github.com")
        return value.rstrip("/")

    @field_validator("repos")
    @classmethod
    def _repos(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError('must list at least one repository, or ["*"] for all')
        for name in value:
            if name != "*" and not _REPO_NAME.fullmatch(name):
                raise ValueError(f"bad repository name {name!r} (use 'name' or 'owner/name')")
        return [name.split("/")[-1] for name in value]

    @field_validator("trusted_associations")
    @classmethod
    def _associations(cls, value: list[str]) -> list[str]:
        known = {"OWNER", "MEMBER", "COLLABORATOR", "CONTRIBUTOR", "FIRST_TIME_CONTRIBUTOR", "FIRST_TIMER", "NONE"}
        upper = [name.strip().upper() for name in value]
        unknown = [name for name in upper if name not in known]
        if unknown:
            raise ValueError(f"unknown author_association {unknown[0]!r} (one of {', '.join(sorted(known))})")
        return upper


class DatabaseSettings(_Section):
    path: str = Field("orchestrator.duckdb", description="the DuckDB file")


class AgentSettings(_Section):
    """One agent back-end (`common/agents.py`): `mode` (or `kind`, its name in `[[agents]]`) is its
    kind in `AGENT_KINDS`. `[agent]` is one of these; `[[agents]]` a list of them, each building its
    back-end with `backend()`."""

    name: str | None = Field(None, description="how plans and outcomes call the agent (default: assignee, else label)")
    label: str = Field("jules", description="the label that dispatches an issue to the agent")
    mode: str = Field("label", description="how a dispatch reaches the agent: a kind of common.agents.AGENT_KINDS")
    kind: str | None = Field(None, description="the same as mode (the name [[agents]] tables use)")
    assignee: str | None = Field(None, description="the agent's login when mode = 'assignee' (e.g. Copilot)")
    repos: list[str] = Field(default_factory=lambda: ["*"], description='repos the agent may work on, or ["*"]')
    languages: list[str] = Field(default_factory=lambda: ["*"], description='repo languages it may work on, or ["*"]')
    max_in_flight: int | None = Field(None, ge=0, description="tasks running at once the agent allows")
    daily_quota: int | None = Field(None, ge=0, description="tasks per day when the agent has its own pool")
    pr_authors: list[str] = Field(default_factory=list, description="logins whose PRs are the agent's")
    branch_prefixes: list[str] = Field(default_factory=list, description="head-branch prefixes of its PRs")

    @field_validator("mode", "kind")
    @classmethod
    def _known_kind(cls, mode: str | None) -> str | None:
        if mode is not None and mode not in AGENT_KINDS:
            raise ValueError(f"Input should be {' or '.join(repr(kind) for kind in AGENT_KINDS)}")
        return mode

    @model_validator(mode="after")
    def _assignee_needed(self) -> AgentSettings:
        if self.kind is not None and "mode" in self.model_fields_set and self.kind != self.mode:
            raise ValueError(f"kind {self.kind!r} and mode {self.mode!r} disagree (set one)")
        if self.kind is not None:
            self.__dict__["mode"] = self.kind
        self.__dict__["kind"] = self.mode
        if self.mode == "assignee" and not self.assignee:
            raise ValueError("agent.assignee is required when agent.mode = 'assignee'")
        if "label" not in self.model_fields_set and self.name:
            self.__dict__["label"] = self.name  # an [[agents]] entry named `codex` is dispatched by label `codex`
        return self

    @property
    def agent_name(self) -> str:
        """The agent's name, as its back-end has it."""
        return self.name or self.assignee or self.label

    def covers(self, repo: str, language: str | None = None) -> bool:
        """Whether the agent may take an issue of `repo` (name or owner/name) in `language`."""
        short = repo.rsplit("/", 1)[-1].lower()
        repo_ok = "*" in self.repos or any(r.lower() in (repo.lower(), short) for r in self.repos)
        lang_ok = "*" in self.languages or (language or "").lower() in {x.lower() for x in self.languages}
        return repo_ok and lang_ok

    def backend(self) -> Agent:
        """The agent back-end this section describes."""
        return agent_from_section(self)


class OutcomesSettings(_Section):
    """How the `outcomes` mart judges a dispatch."""

    abandoned_after_days: float = Field(14.0, gt=0, description="no pull request this long after a dispatch: abandoned")


class TeamMember(_Section):
    login: str = Field(..., min_length=1)
    quota: int = Field(300, ge=0, description="tasks per day; unused tasks do not roll over")
    repos: list[str] = Field(default_factory=lambda: ["*"], description='repos connected by this member, or ["*"]')

    def covers(self, repo: str) -> bool:
        """Whether a dispatch in `repo` (name or owner/name) counts against this member."""
        name = repo.split("/")[-1].lower()
        return "*" in self.repos or name in (r.lower() for r in self.repos)


class TeamSettings(_Section):
    members: list[TeamMember] = Field(default_factory=list)
    timezone: str = Field("UTC", description="the day boundary for usage counting")
    window: Literal["calendar_day", "rolling_24h"] = Field("calendar_day")

    _tz = field_validator("timezone")(lambda cls, value: valid_timezone(value))

    @property
    def pool(self) -> int:
        return sum(member.quota for member in self.members)


STRATEGY_RANGES: dict[str, tuple[int, int]] = {
    "conservative": (10, 20),
    "moderate": (50, 80),
    "aggressive": (150, 200),
}


class DispatchSettings(_Section):
    strategy: Literal["conservative", "moderate", "aggressive"] = "conservative"
    max_repo_share: float = Field(0.5, gt=0, le=1, description="never the whole budget to one repo")
    auto_apply: bool = Field(False, description="cadence flows apply their plan without a person")
    daily_apply_cap: int = Field(50, ge=0, description="most tasks the cadence flows may spend unattended a day")
    stale_pr_days: float = Field(3.0, gt=0, description="a PR that has not moved for this long is stuck")
    escalate_after_nudges: int = Field(2, ge=1, description="nudges without effect before a person is asked")
    nudge_cooldown_hours: float = Field(12.0, ge=0, description="hours a nudged PR is left alone before the next")
    resolve_outdated_threads: bool = Field(
        True, description="resolve the agent's PRs' review threads whose code has changed; false leaves them to people"
    )
    morning_ends_hour: int = Field(11, ge=0, le=23, description="local hour the morning cadence ends")
    raise_below_share: float = Field(0.5, ge=0, le=1, description="less used than this by midday: raise the rate")
    throttle_above_share: float = Field(0.8, ge=0, le=1, description="more used than this by morning: throttle")
    refill_low: float = Field(2.0, ge=0, description="ready queue below this many days of dispatch: refill")
    refill_high: float = Field(3.0, ge=0, description="refill until this many days of dispatch are ready")
    epic_branch_max_behind: int = Field(20, ge=1, description="commits behind the default branch before a sync")
    max_new_issues_per_plan: int = Field(
        50, ge=0, description="most issues one plan creates (findings, frameworks, epics); 0 pauses Stage 1/2"
    )
    max_new_issues_per_audit: int = Field(
        20, ge=1,
        description="most implementation issues one plan files from one audit: about a day's dispatch at the "
        "top of the default range, so one huge audit cannot crowd out the others; the rest come next plan",
    )  # fmt: skip
    max_write_actions_per_plan: int = Field(
        200, ge=1, description="most write actions (of every kind, dispatches included) in one plan"
    )
    plans_dir: str = Field("plans", description="where each plan is also written as JSON")

    @property
    def daily_range(self) -> tuple[int, int]:
        return STRATEGY_RANGES[self.strategy]


class RoutingSettings(_Section):
    """`[routing]`: how measured success steers dispatch when several agents are configured
    (`analytics/planning/routing.py`; README "Routing")."""

    prior_strength: float = Field(
        10.0, ge=0, description="pseudo-attempts shrinking a thin cell toward the agent's rate (and it to the org's)"
    )
    min_attempts: int = Field(5, ge=0, description="an agent with fewer finished attempts is explored")
    exploration: float = Field(0.1, ge=0, le=1, description="share of issues sent to an under-measured agent")
    seed: int = Field(0, description="the plans' seed: the same inputs route the same way")


# ── [schedule]: when `orchestrator serve` runs each flow ──────────────────────

DEPLOYMENTS = ("snapshot", "morning", "midday", "evening")

DEFAULT_CRONS: dict[str, str] = {
    "snapshot": "*/30 * * * *",  # every 30 minutes
    "morning": "0 8 * * *",  # tick checklists, unstick, dispatch the current phases
    "midday": "0 13 * * *",  # conflicts and nudges, more dispatch if budget is left
    "evening": "0 18 * * *",  # the day's throughput, tomorrow's plan, ready-queue refill
}


class Cadence(_Section):
    """One deployment's schedule: a cron string or an interval in seconds."""

    cron: str | None = Field(None, description="cron expression, in [schedule].timezone")
    interval: float | None = Field(None, gt=0, description="seconds between runs (instead of cron)")
    enabled: bool = Field(True, description="false: the deployment is served without a schedule")

    @field_validator("cron")
    @classmethod
    def _cron(cls, value: str | None) -> str | None:
        if value is None:
            return value
        from prefect.schedules import validate_cron_string

        try:
            validate_cron_string(value)
        except (ValueError, TypeError):
            raise ValueError(f"not a valid cron expression: {value!r}") from None
        return value

    @model_validator(mode="after")
    def _one_of(self) -> Cadence:
        if self.cron and self.interval:
            raise ValueError("give either cron or interval, not both")
        return self

    def schedule_kwargs(self, default_cron: str, timezone: str) -> dict[str, Any]:
        """Keyword arguments for `flow.to_deployment(...)`."""
        if not self.enabled:
            return {}
        from prefect.schedules import Cron, Interval

        if self.interval:
            return {"schedule": Interval(self.interval, timezone=timezone)}
        return {"schedule": Cron(self.cron or default_cron, timezone=timezone)}


def _cadence(value: Any) -> Any:
    return {"cron": value} if isinstance(value, str) else value


class ScheduleSettings(_Section):
    """The `[schedule]` table: when serve (and the docs' prefect.yaml) runs each flow."""

    timezone: str = Field("UTC", description="time zone of the cron times")
    snapshot: Cadence = Field(default_factory=Cadence)
    morning: Cadence = Field(default_factory=Cadence)
    midday: Cadence = Field(default_factory=Cadence)
    evening: Cadence = Field(default_factory=Cadence)

    _as_table = field_validator("snapshot", "morning", "midday", "evening", mode="before")(
        lambda cls, value: _cadence(value)
    )

    _tz = field_validator("timezone")(lambda cls, value: valid_timezone(value))

    def for_deployment(self, name: str) -> dict[str, Any]:
        """`to_deployment` schedule keywords of one deployment (empty when disabled)."""
        cadence: Cadence = getattr(self, name)
        return cadence.schedule_kwargs(DEFAULT_CRONS[name], self.timezone)

    def describe(self, name: str) -> str:
        cadence: Cadence = getattr(self, name)
        if not cadence.enabled:
            return "no schedule (run it by hand)"
        if cadence.interval:
            return f"every {cadence.interval:g} s"
        return f"cron {cadence.cron or DEFAULT_CRONS[name]!r} ({self.timezone})"


class Settings(_Section):
    github: GitHubSettings
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    agent: AgentSettings = Field(default_factory=AgentSettings)
    agents: list[AgentSettings] = Field(default_factory=list, description="several agents: [[agents]] tables")
    outcomes: OutcomesSettings = Field(default_factory=OutcomesSettings)
    routing: RoutingSettings = Field(default_factory=RoutingSettings, description="routing by measured success")
    team: TeamSettings = Field(default_factory=TeamSettings)
    dispatch: DispatchSettings = Field(default_factory=DispatchSettings)
    classification: dict[str, Any] = Field(default_factory=dict, description="overrides of the classification rules")
    schedule: ScheduleSettings = Field(default_factory=ScheduleSettings, description="when serve runs each flow")

    @model_validator(mode="after")
    def _one_way_to_name_agents(self) -> Settings:
        if self.agents and "agent" in self.model_fields_set:
            raise ValueError("agent and agents: use [agent] for one agent or [[agents]] tables, not both")
        names = [entry.agent_name.lower() for entry in self.agents]
        twice = sorted({name for name in names if names.count(name) > 1})
        if twice:
            raise ValueError(f"agents: two agents are named {twice[0]!r}")
        if self.agents:
            self.__dict__["agent"] = self.agents[0]  # the first agent, for readers of one agent
        return self

    @property
    def agent_sections(self) -> list[AgentSettings]:
        """Every configured agent's section: the `[[agents]]` tables, else `[agent]` alone."""
        return list(self.agents) or [self.agent]

    def agent_backends(self) -> list[Agent]:
        """Every configured agent's back-end (`common/agents.py`), each with its `name`, in config order."""
        return [section.backend() for section in self.agent_sections]

    def agent_named(self, name: str | None) -> Agent | None:
        """The configured agent called `name` (case-insensitive); None when there is none."""
        wanted = (name or "").lower()
        return next((agent for agent in self.agent_backends() if agent.name.lower() == wanted), None)

    def token(self) -> str:
        """The GitHub token: from a Prefect Secret block or the environment; never logged."""
        if self.github.uses_app:
            raise ConfigError("github.app_id: the credentials are a GitHub App's, not a token")
        if self.github.token_block:
            from prefect.blocks.system import Secret

            try:
                return Secret.load(self.github.token_block).get()
            except ValueError as exc:
                raise ConfigError(
                    f"github.token_block: no Prefect Secret block named {self.github.token_block!r}"
                ) from exc
        token = os.environ.get(self.github.token_env, "").strip()
        if token:
            return token
        if is_own_sandbox(self.github.api_url):
            return SANDBOX_TOKEN
        # Not even for a loopback URL: a tunnel or proxy to a real GitHub must not get a made-up token.
        raise ConfigError(
            f"github.token_env: environment variable {self.github.token_env} is not set "
            "(export a token with repo scope, or set github.token_block; for `orchestrator sandbox`: "
            f"{self.github.token_env}={SANDBOX_TOKEN})"
        )

    def app_private_key(self) -> str:
        """The GitHub App's private key (PEM), from its file or a Prefect Secret block; never logged."""
        g = self.github
        if g.app_private_key_block:
            from prefect.blocks.system import Secret

            try:
                pem = str(Secret.load(g.app_private_key_block).get())
            except ValueError:
                name = g.app_private_key_block
                raise ConfigError(f"github.app_private_key_block: no Prefect Secret block named {name!r}") from None
            where = f"github.app_private_key_block: the block {g.app_private_key_block!r}"
        else:
            path = Path(str(g.app_private_key_path)).expanduser()
            try:
                pem = path.read_text(encoding="ascii")
            except (OSError, UnicodeDecodeError) as exc:
                reason = getattr(exc, "strerror", None) or exc.__class__.__name__
                raise ConfigError(f"github.app_private_key_path: cannot read {path}: {reason.lower()}") from None
            where = f"github.app_private_key_path: {path}"
        if "-----BEGIN" not in pem or "PRIVATE KEY-----" not in pem:
            raise ConfigError(f"{where} is not a PEM private key (download it from the App's settings page)")
        return pem.strip() + "\n"

    @property
    def token_source(self) -> str:
        """Where the token comes from, for error messages (never the token itself)."""
        if self.github.uses_app:
            key = self.github.app_private_key_block or self.github.app_private_key_path
            return f"github.app_id {self.github.app_id} and its private key {key}"
        if self.github.token_block:
            return f"the Prefect Secret block {self.github.token_block!r}"
        return self.github.token_env

    def full_name(self, repo: str) -> str:
        return repo if "/" in repo else f"{self.github.org}/{repo}"


def _describe(error: dict[str, Any]) -> str:
    """One line for one pydantic error: `section.key: problem`."""
    key = ".".join(str(part) for part in error["loc"]) or "(file)"
    kind = error["type"]
    if kind == "extra_forbidden":
        return f"{key}: unknown key"
    if kind == "missing":
        return f"{key}: required but missing"
    message = error["msg"].removeprefix("Value error, ")
    if not error["loc"] and kind == "value_error":
        return message  # a whole-file rule names its keys itself
    return (
        f"{key}: {message} (got {error.get('input')!r})"
        if "input" in error and kind != "value_error"
        else f"{key}: {message}"
    )


def parse_settings(data: dict[str, Any], source: str = DEFAULT_CONFIG) -> Settings:
    """Validate a parsed TOML document; raise ConfigError naming the first bad key."""
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        more = len(exc.errors()) - 1
        suffix = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
        raise ConfigError(f"{source}: {_describe(first)}{suffix}") from None


def load_settings(path: str | os.PathLike[str] | None = None) -> Settings:
    """Read and validate the configuration file."""
    path = Path(path or os.environ.get("ORCHESTRATOR_CONFIG") or DEFAULT_CONFIG)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: configuration file not found (copy orchestrator.example.toml)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc.__class__.__name__}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    return parse_settings(data, str(path))


def view_settings(settings: Settings) -> dict[str, Any]:
    """The settings SQL views need, stored in `run_settings` so any DuckDB client sees them."""
    return {
        "org": settings.github.org,
        **recognition_settings(settings.agent_backends()),  # how the views recognise every agent
        "stale_pr_days": settings.dispatch.stale_pr_days,
        "abandoned_after_days": settings.outcomes.abandoned_after_days,
        "escalate_after_nudges": settings.dispatch.escalate_after_nudges,
        "strategy": settings.dispatch.strategy,
        "max_repo_share": settings.dispatch.max_repo_share,
        "timezone": settings.team.timezone,
        "epic_branch_max_behind": settings.dispatch.epic_branch_max_behind,
        "trusted_logins": ",".join(sorted(trusted_logins(settings))),
        "trusted_associations": ",".join(settings.github.trusted_associations),
        # The own identity when configured; otherwise the snapshot (GET /user) writes `token_login`.
        **({"token_login": settings.github.login} if settings.github.login else {}),
    }


def trusted_logins(settings: Settings) -> set[str]:
    """Lower-cased logins trusted by name: the team and `github.trusted_authors` (the own login aside)."""
    names = [m.login for m in settings.team.members] + list(settings.github.trusted_authors)
    return {name.strip().lower() for name in names if name.strip()}


def is_trusted_author(settings: Settings, login: str | None, association: str | None, own_login: str) -> bool:
    """Whether an issue or comment by `login` (with GitHub's `author_association`) may instruct us."""
    who = (login or "").lower()
    if not who:
        return False
    if who == own_login.lower() or who in trusted_logins(settings):
        return True
    return (association or "").upper() in settings.github.trusted_associations
