"""Credentials for every GitHub client: a personal token, or a GitHub App's renewing installation token.

An App signs a JWT with its private key (PyGithub's `Auth.AppAuth`, RS256) to learn who it is
(`GET /app`), where it is installed (`GET /orgs/{org}/installation`, else the user's) and to mint
installation tokens (`Auth.AppInstallationAuth`). PyGithub asks the auth for its token before every
request, so a token is renewed between any two requests, also in the middle of a long snapshot,
an execute or a GraphQL query. Two things PyGithub leaves to the host's clock are done on GitHub's
here: a token is renewed after a share of the lifetime GitHub gave it (its `expires_at` minus the
answer's `Date`, measured on the monotonic clock), and the JWT's `iat`/`exp` follow GitHub's clock
once an answer has said what time it is there. One auth per App and installation serves the whole
process (all threads), so a snapshot mints one token, not one per repository.

The private key, the JWT and the tokens live only in these objects: never in a message, a log,
the database or a Prefect result (tasks holding a client are `persist_result=False`).
"""

from __future__ import annotations

import hashlib
import re
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import github
import jwt
from github import Auth, GithubException, GithubIntegration

from common.config import ConfigError, Settings

_PLAIN = re.compile(r"[A-Za-z ,.'()-]{1,120}")
RENEW_SHARE = 0.2  # renew when a fifth of the token's life is left …
RENEW_AT_MOST = 300.0  # … but no earlier than 5 minutes before it expires


@dataclass(frozen=True)
class AppIdentity:
    """Who the App credentials are: the App and its installation (no secret in here)."""

    app_id: int
    app_slug: str
    installation_id: int
    permissions: dict[str, str]

    @property
    def login(self) -> str:
        return f"{self.app_slug}[bot]"


class _ClockedSigner:
    """Signs PyGithub's JWT payload with RS256, its `iat`/`exp` moved onto GitHub's clock."""

    def __init__(self, private_key: str) -> None:
        self._key = private_key
        self.offset = 0  # GitHub's clock minus the host's, in seconds

    def __call__(self, payload: dict[str, Any]) -> str:
        moved = {**payload, "iat": payload["iat"] + self.offset, "exp": payload["exp"] + self.offset}
        return jwt.encode(moved, self._key, algorithm="RS256")

    def learn(self, headers: dict[str, Any] | None) -> bool:
        """Take GitHub's clock from an answer's `Date`; whether the offset changed."""
        from tasks.github_client import parse_http_date

        date = parse_http_date((headers or {}).get("date") or (headers or {}).get("Date"))
        if date is None:
            return False
        offset = int(date.timestamp() - _host_naive_utc_timestamp())
        changed, self.offset = abs(offset - self.offset) > 5, offset
        return changed


def _host_naive_utc_timestamp() -> float:
    """The host's time as the timestamp of a naive UTC datetime (as `Date` headers are parsed)."""
    return datetime.now(UTC).replace(tzinfo=None).timestamp()


class RenewingInstallationAuth(Auth.AppInstallationAuth):
    """PyGithub's installation auth, renewed on GitHub's clock, thread-safe, shared by every client."""

    def __init__(self, app_auth: Auth.AppAuth, installation_id: int, signer: _ClockedSigner) -> None:
        super().__init__(app_auth, installation_id)
        self._lock = threading.RLock()
        self._signer = signer
        self._current: str | None = None
        self._renew_at = 0.0  # time.monotonic() after which the token is renewed
        self.renewals = 0  # tokens minted (a figure for tests and the doctor)

    def withRequester(self, requester: Any) -> RenewingInstallationAuth:  # noqa: N802 - PyGithub's name
        with self._lock:
            super().withRequester(requester)
        return self

    @property
    def token(self) -> str:
        with self._lock:
            if self._current is None or time.monotonic() >= self._renew_at:
                self._renew()
            assert self._current is not None
            return self._current

    def invalidate(self) -> None:
        """Forget the token (GitHub refused it): the next request mints a new one."""
        with self._lock:
            self._current = None

    def _renew(self) -> None:
        minted = with_github_clock(self._signer, self._get_installation_authorization)
        headers = minted.raw_headers or {}
        from tasks.github_client import parse_http_date

        now = parse_http_date(headers.get("date")) or datetime.now(UTC).replace(tzinfo=None)
        expires = minted.expires_at.astimezone(UTC).replace(tzinfo=None) if minted.expires_at else now
        lifetime = max((expires - now).total_seconds(), 1.0)
        self._current = minted.token
        self._renew_at = time.monotonic() + lifetime - min(lifetime * RENEW_SHARE, RENEW_AT_MOST)
        self.renewals += 1


def with_github_clock(signer: _ClockedSigner, call: Any) -> Any:
    """`call()` with a JWT; when GitHub refuses the JWT and its clock differs from ours, once more on its clock."""
    try:
        return call()
    except GithubException as exc:
        if exc.status == 401 and signer.learn(dict(exc.headers or {})):
            return call()
        raise


_AUTHS: dict[tuple[str, int, str, str], tuple[RenewingInstallationAuth, AppIdentity]] = {}
_AUTHS_LOCK = threading.Lock()


def github_auth(settings: Settings) -> Auth.Auth:
    """The auth every client of these settings uses: `Auth.Token`, or the App's renewing installation auth."""
    if not settings.github.uses_app:
        return Auth.Token(settings.token())
    return app_credentials(settings)[0]


def app_identity(settings: Settings) -> AppIdentity:
    """The App's slug, installation and its permissions (asked once per process)."""
    return app_credentials(settings)[1]


def app_credentials(settings: Settings) -> tuple[RenewingInstallationAuth, AppIdentity]:
    """The process's one installation auth for these App settings, set up on first use."""
    g = settings.github
    pem = settings.app_private_key()
    key = (g.api_url, int(g.app_id or 0), g.org.lower(), hashlib.sha256(pem.encode()).hexdigest())
    with _AUTHS_LOCK:
        if key not in _AUTHS:
            _AUTHS[key] = _set_up(settings, pem)
        return _AUTHS[key]


def _set_up(settings: Settings, pem: str) -> tuple[RenewingInstallationAuth, AppIdentity]:
    """Ask GitHub (with the JWT) who the App is and where it is installed; one line when it refuses."""
    g = settings.github
    signer = _ClockedSigner(pem)
    app_auth = Auth.AppAuth(int(g.app_id or 0), sign_func=signer)
    retry = github.GithubRetry(total=3, connect=2, backoff_factor=0.5)
    integration = GithubIntegration(auth=app_auth, base_url=g.api_url, timeout=int(g.timeout), retry=retry)
    try:
        slug = with_github_clock(signer, lambda: integration.get_app().slug)
        installation = with_github_clock(signer, lambda: _installation(integration, settings))
    except GithubException as exc:
        raise _refusal(exc, settings) from None
    identity = AppIdentity(int(g.app_id or 0), str(slug), int(installation.id), dict(installation.permissions or {}))
    auth = RenewingInstallationAuth(app_auth, identity.installation_id, signer)
    return auth, identity


def _installation(integration: GithubIntegration, settings: Settings) -> Any:
    """`installation_id` when set, else the App's installation on the org, else on the user who owns the repos."""
    g = settings.github
    if g.installation_id:
        return integration.get_app_installation(g.installation_id)
    try:
        return integration.get_org_installation(g.org)
    except GithubException as exc:
        if exc.status != 404:
            raise
    named = next((name for name in g.repos if name != "*"), None)
    if named:
        return integration.get_repo_installation(g.org, named)
    return integration.get_user_installation(g.org)


def _refusal(exc: GithubException, settings: Settings) -> ConfigError:
    """GitHub's refusal of the App's setup, in one line without any secret."""
    g = settings.github
    data = exc.data if isinstance(exc.data, dict) else {}
    said = str(data.get("message") or "")
    said = said if _PLAIN.fullmatch(said) else ""  # GitHub's words only when they are a short plain phrase
    if exc.status == 404:
        where = f"installation {g.installation_id}" if g.installation_id else f"installation on {g.org}"
        return ConfigError(
            f"github.app_id {g.app_id}: GitHub has no {where} of this App (404); install the App on {g.org} "
            "or set github.installation_id"
        )
    if exc.status == 401:
        return ConfigError(
            f"GitHub refused the App's credentials (401 {said or 'Bad credentials'}): check github.app_id "
            "and its private key"
        )
    return ConfigError(f"github.app_id {g.app_id}: GitHub answered {exc.status} setting up the App {said}".rstrip())
