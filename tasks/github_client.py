"""One way to talk to GitHub: PyGithub's requester, counted, with conditional GETs.

Rows are built from list payloads (`raw` JSON), never from PyGithub's lazy objects: reading
an attribute a list payload lacks makes PyGithub fetch the whole item, one request each.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

import github
from github import Auth, Github, GithubException

from common.config import ConfigError, Settings
from common.text import clean_text
from tasks.github_auth import RenewingInstallationAuth, app_identity, github_auth

_LINK = re.compile(r'<([^>]+)>;\s*rel="([^"]+)"')


def parse_link_header(value: str | None) -> dict[str, str]:
    """`<url>; rel="next", ...` -> {"next": url, ...}."""
    return {rel: url for url, rel in _LINK.findall(value or "")}


@dataclass
class Page:
    """One answer: status 200 with data, or 304 (not modified, data None)."""

    status: int
    data: Any
    etag: str | None
    links: dict[str, str]
    headers: dict[str, Any] = field(default_factory=dict)  # the answer's headers (GraphQL's rate limit)

    @property
    def not_modified(self) -> bool:
        return self.status == 304


def utcnow() -> datetime:
    """The host's clock, naive UTC (the last resort when GitHub never said what time it is)."""
    return datetime.now(UTC).replace(tzinfo=None, microsecond=0)


def parse_http_date(value: str | None) -> datetime | None:
    """An HTTP `Date` header (RFC 7231, `Tue, 01 Dec 2026 15:48:24 GMT`) as naive UTC; None if unusable."""
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(str(value))
    except (TypeError, ValueError, IndexError):
        return None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(UTC).replace(tzinfo=None)
    return parsed


def _header(headers: dict[str, Any], name: str) -> Any:
    """PyGithub lower-cases response header names, but not every path does: look up both."""
    return headers.get(name.lower(), headers.get(name.title()))


def _newest_updated_at(data: Any) -> str | None:
    """The newest `updated_at` of an item or a list of items (ISO strings compare as times)."""
    items = data if isinstance(data, list) else [data]
    stamps = [item.get("updated_at") for item in items if isinstance(item, dict)]
    return max((stamp for stamp in stamps if isinstance(stamp, str)), default=None)


@dataclass
class RequestCounter:
    """Requests made through one client, the rate limit and GitHub's clock last seen (thread-safe).

    GitHub's clock is the `Date` header of the latest answer (200, 304 or an error) with the
    monotonic time it arrived, so `github_now()` never depends on the host's wall clock.
    """

    requests: int = 0
    not_modified: int = 0
    rate_remaining: int | None = None
    rate_limit: int | None = None
    github_date: datetime | None = None  # `Date` of the latest answer that had one (naive UTC)
    github_date_seen: float | None = None  # time.monotonic() when it arrived
    newest_updated_at: datetime | None = None  # newest `updated_at` in any payload (fallback clock)
    unauthorized: int = 0  # 401 answers: the credentials stopped working (execute stops at once)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def record(self, status: int, headers: dict[str, Any], data: Any = None) -> None:
        date = parse_http_date(_header(headers, "Date"))
        updated = _newest_updated_at(data) if data is not None else None
        with self._lock:
            if date is not None:
                self.github_date, self.github_date_seen = date, time.monotonic()
            if updated is not None:
                self._see_updated_at(updated)
            self.requests += 1
            self.not_modified += status == 304
            self.unauthorized += status == 401
            remaining = headers.get("x-ratelimit-remaining")
            if remaining is not None and str(remaining).isdigit():
                self.rate_remaining = int(remaining)
                limit = headers.get("x-ratelimit-limit")
                self.rate_limit = int(limit) if limit and str(limit).isdigit() else self.rate_limit

    def _see_updated_at(self, value: str) -> None:
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC).replace(tzinfo=None)
        except ValueError:
            return
        if self.newest_updated_at is None or parsed > self.newest_updated_at:
            self.newest_updated_at = parsed

    def github_now(self) -> datetime:
        """GitHub's clock now (naive UTC, whole seconds): the latest `Date` plus the time since it came.

        Without any `Date` seen: the newest `updated_at` seen (a lower bound of GitHub's time), and
        without that the host's clock, the only case where the host's clock is used.
        """
        with self._lock:
            date, seen, updated = self.github_date, self.github_date_seen, self.newest_updated_at
        if date is not None and seen is not None:
            return date + timedelta(seconds=int(time.monotonic() - seen))
        return updated if updated is not None else utcnow()

    @property
    def clock_source(self) -> str:
        """Where `github_now()` comes from: `date`, `updated_at` or `host`."""
        if self.github_date is not None:
            return "date"
        return "updated_at" if self.newest_updated_at is not None else "host"

    def add(self, other: RequestCounter) -> None:
        with self._lock:
            self.requests += other.requests
            self.not_modified += other.not_modified
            self.unauthorized += other.unauthorized
            if other.github_date_seen is not None and (
                self.github_date_seen is None or other.github_date_seen > self.github_date_seen
            ):
                self.github_date, self.github_date_seen = other.github_date, other.github_date_seen
            if other.newest_updated_at is not None and (
                self.newest_updated_at is None or other.newest_updated_at > self.newest_updated_at
            ):
                self.newest_updated_at = other.newest_updated_at
            if other.rate_remaining is not None:
                self.rate_remaining = (
                    other.rate_remaining
                    if self.rate_remaining is None
                    else min(self.rate_remaining, other.rate_remaining)
                )
                self.rate_limit = other.rate_limit or self.rate_limit


class GitHubError(Exception):
    """A GitHub answer we cannot use, phrased without the token."""

    def __init__(self, status: int, message: str, url: str):
        # GitHub's message is a stranger's text (it may quote an issue): clean it before it reaches the ledger.
        super().__init__(f"GitHub answered {status} for {clean_text(url)}: {clean_text(str(message))[:300]}")
        self.status = status
        self.url = url


class ListingCutShort(GitHubError):
    """A paginated listing that ended before the last page its first answer announced."""

    def __init__(self, read: int, promised: int, url: str):
        Exception.__init__(self, f"GitHub's listing of {url} ended after {read} of the {promised} pages it announced")
        self.status = 0
        self.url = url


class CredentialsRefused(GitHubError, ConfigError):
    """GitHub refused the token (401): a setup problem, so reported at once, never retried, exit 2."""

    def __init__(self, message: str, verb: str, url: str, token_source: str):
        # GitHub's message is untrusted text: only a short plain phrase ("Bad credentials") is repeated.
        said = message if re.fullmatch(r"[A-Za-z ,.'-]{1,60}", message or "") else "refused"
        Exception.__init__(
            self, f"GitHub refused the credentials (401 {said}) for {verb} {url}: check {token_source}"
        )
        self.status = 401
        self.url = url


class RateLimited(GitHubError):
    """GitHub's "not now" (403 or 429): a secondary (content-creation) limit or a spent primary limit.

    `retry_after` is the `retry-after` header in seconds, `reset_at` the `x-ratelimit-reset` epoch
    when `x-ratelimit-remaining` is 0; without either GitHub asks for at least a minute. The request
    was refused, not done: sending it again later is safe.
    """

    def __init__(self, status: int, message: str, url: str, retry_after: float | None, reset_at: int | None):
        super().__init__(status, message, url)
        self.retry_after = retry_after
        self.reset_at = reset_at
        self.secondary = "secondary rate limit" in (message or "").lower() or retry_after is not None


def _seconds(value: Any) -> float | None:
    """A `retry-after` header: seconds, or an HTTP date (None when unreadable)."""
    text = str(value).strip() if value is not None else ""
    if text.isdigit():
        return float(text)
    when = parse_http_date(text)
    if when is None:
        return None
    return max((when - utcnow()).total_seconds(), 0.0)


def rate_limited(status: int, headers: dict[str, Any], message: str | None, url: str) -> RateLimited | None:
    """GitHub's documented rate-limit answers: 403 or 429 with a `retry-after` header, with
    `x-ratelimit-remaining: 0`, or whose message says rate limit (None for any other answer)."""
    if status not in (403, 429):
        return None
    lowered = {str(k).lower(): v for k, v in headers.items()}
    retry_after = _seconds(lowered.get("retry-after"))
    reset = str(lowered.get("x-ratelimit-reset") or "")
    spent = str(lowered.get("x-ratelimit-remaining") or "").strip() == "0"
    text = (message or "").lower()
    if retry_after is None and not spent and "rate limit" not in text and status != 429:
        return None
    reset_at = int(reset) if spent and reset.isdigit() else None
    return RateLimited(status, message or "rate limited", url, retry_after, reset_at)


def graphql_rate_limited(data: Any, headers: dict[str, Any], url: str) -> RateLimited | None:
    """A GraphQL answer (HTTP 200) whose errors include `"type": "RATE_LIMITED"`: the same "not now"."""
    errors = data.get("errors") if isinstance(data, dict) else None
    for error in errors or []:
        if isinstance(error, dict) and error.get("type") == "RATE_LIMITED":
            lowered = {str(k).lower(): v for k, v in headers.items()}
            reset = str(lowered.get("x-ratelimit-reset") or "")
            message = str(error.get("message") or "GraphQL rate limit")
            reset_at = int(reset) if reset.isdigit() else None
            return RateLimited(200, message, url, _seconds(lowered.get("retry-after")), reset_at)
    return None


# Answers that waiting will not change: a task that got one fails at once instead of retrying.
NOT_WORTH_RETRYING = frozenset({400, 401, 404, 410, 422})


def worth_retrying(task: Any, task_run: Any, state: Any) -> bool:
    """Prefect's `retry_condition_fn` for network tasks: retry what time may fix (5xx, rate limits,
    dropped connections), never a refused token, a missing repository or a configuration error."""
    exc = state.data
    if isinstance(exc, ConfigError):
        return False
    return not (isinstance(exc, GitHubError) and exc.status in NOT_WORTH_RETRYING)


# time.perf_counter() of this process's first request to GitHub, per phase ("preflight", "flow"),
# for `orchestrator --verbose snapshot`
FIRST_REQUEST: dict[str, float] = {}


def check_credentials(settings: Settings, token: str | None = None) -> None:

    """One request before a command starts its flow (and Prefect's ~15 s start-up): a refused token is
    reported in seconds, and so is a GitHub that cannot be reached at all (refused, or silent for 10 s,
    twice). `/rate_limit` is free; any other answer is left to the flow to retry and handle."""
    import requests

    retry = github.GithubRetry(total=1, connect=1, read=0, backoff_factor=0.5)
    auth = Auth.Token(token) if token else github_auth(settings)  # an App: its JWT and installation, checked here
    gh = Github(base_url=settings.github.api_url, auth=auth, timeout=min(settings.github.timeout, 10), retry=retry)
    try:
        GitHubClient(gh, token_source=settings.token_source, phase="preflight").get("/rate_limit")
    except CredentialsRefused:
        raise
    except requests.exceptions.ConnectionError:
        raise  # the command's one line: "cannot reach the GitHub API: ..."
    except requests.exceptions.Timeout:
        raise requests.exceptions.ConnectionError("timed out") from None
    except Exception:  # noqa: BLE001, S110 - a network or server problem is the flow's to retry and report
        pass


def make_github(settings: Settings, token: str | None = None, retry: github.GithubRetry | None = None) -> Github:
    """A PyGithub client with deliberate pacing (see README, `orchestrator snapshot`), authenticated by
    the configured credentials (`tasks.github_auth`: a token, or an App's renewing installation token)."""
    return Github(
        base_url=settings.github.api_url,
        auth=Auth.Token(token) if token else github_auth(settings),
        per_page=100,
        timeout=int(settings.github.timeout),  # PyGithub insists on an int
        # Reads are paced by the rate limit, not by a fixed sleep; GitHub asks for >= 1 s
        # between mutating requests, so writes keep that unless configured otherwise.
        seconds_between_requests=settings.github.seconds_between_requests or None,
        seconds_between_writes=settings.github.seconds_between_writes or None,
        # 5xx and secondary limits are worth waiting for; a refused connection is not.
        retry=retry or github.GithubRetry(total=5, connect=2, backoff_factor=0.5, secondary_rate_wait=10),
    )


class GitHubClient:
    """Counted GET/POST/PATCH through PyGithub's requester."""

    def __init__(
        self, gh: Github, counter: RequestCounter | None = None, token_source: str = "the token", phase: str = "flow"
    ):
        self._gh = gh
        self._owner = threading.get_ident()
        self._local = threading.local()
        self.phase = phase
        self.counter = counter or RequestCounter()
        self.token_source = token_source  # named in a 401's message (e.g. GITHUB_TOKEN)

    @property
    def gh(self) -> Github:
        """PyGithub's connection keeps one request's verb, URL and body between sending it and
        reading the answer, so threads sharing it can swap requests (a GraphQL body sent as another
        thread's GET): each other thread gets its own Github, same settings and auth."""
        if threading.get_ident() == self._owner:
            return self._gh
        gh = getattr(self._local, "gh", None)
        if gh is None:
            gh = self._local.gh = Github(**self._gh.requester.kwargs)
        return gh

    def request(
        self,
        verb: str,
        url: str,
        params: dict[str, Any] | None = None,
        body: Any = None,
        etag: str | None = None,
    ) -> Page:
        headers = {"If-None-Match": etag} if etag else None
        FIRST_REQUEST.setdefault(self.phase, time.perf_counter())  # `orchestrator --verbose snapshot` says when
        try:
            response_headers, data = self._send(verb, url, params, headers, body)
        except GithubException as exc:
            self.counter.record(exc.status, dict(exc.headers or {}))
            message = exc.data.get("message") if isinstance(exc.data, dict) else str(exc.data)
            if exc.status == 401:
                raise CredentialsRefused(message, verb, _path(url), self.token_source) from None
            limited = rate_limited(exc.status, dict(exc.headers or {}), message, _path(url))
            if limited is not None:
                raise limited from None
            raise GitHubError(exc.status, message or "error", _path(url)) from None
        status = 304 if data is None and verb == "GET" and etag else 200
        self.counter.record(status, response_headers, data)
        links = parse_link_header(response_headers.get("link"))
        return Page(status, data, response_headers.get("etag"), links, response_headers)

    def _send(self, verb: str, url: str, params: Any, headers: Any, body: Any) -> tuple[dict[str, Any], Any]:
        """PyGithub's request; an installation token GitHub refused (expired early, revoked) is renewed
        once and the request sent again (a refused request was not done, so this never writes twice)."""
        requester = self.gh.requester
        try:
            return requester.requestJsonAndCheck(verb, url, parameters=params, headers=headers, input=body)
        except GithubException as exc:
            if exc.status != 401 or not isinstance(requester.auth, RenewingInstallationAuth):
                raise
            requester.auth.invalidate()
            return requester.requestJsonAndCheck(verb, url, parameters=params, headers=headers, input=body)

    def github_now(self) -> datetime:
        """GitHub's clock now (see `RequestCounter.github_now`); compare GitHub timestamps with this."""
        return self.counter.github_now()

    def get(self, url: str, params: dict[str, Any] | None = None, etag: str | None = None) -> Page:
        return self.request("GET", url, params, etag=etag)

    def pages(self, url: str, params: dict[str, Any] | None = None, etag: str | None = None) -> Iterator[Page]:
        """Follow `Link: rel="next"` from the first page; a 304 first page ends at once.

        A chain that ends before the page the first answer called `last` is an error, never a
        short listing taken as whole (the snapshot would be marked complete while missing items).
        """
        page = self.get(url, params, etag)
        yield page
        promised, read = _page_number(page.links.get("last")), 1
        while not page.not_modified and "next" in page.links:
            page = self.get(page.links["next"])
            read += 1
            yield page
        if promised is not None and read < promised:
            raise ListingCutShort(read, promised, _path(url))


def _page_number(url: str | None) -> int | None:
    """The `page` parameter of a Link URL (None when absent)."""
    match = re.search(r"[?&]page=(\d+)", url or "")
    return int(match.group(1)) if match else None


def _path(url: str) -> str:
    """The URL without query string, for messages (query strings never hold the token, but stay short)."""
    return url.split("?")[0]


def whoami(settings: Settings, client: GitHubClient | None = None) -> dict[str, Any]:
    """Who the configured credentials are (never the secret): `kind` user|app, `login` (an App's
    `slug[bot]`), `app_slug`, `installation_id` and the installation's `installation_permissions`.
    An installation token cannot read GET /user (403), so an App is asked `GET /app` with its JWT."""
    if settings.github.uses_app:
        app = app_identity(settings)
        return {"kind": "app", "login": app.login, "app_slug": app.app_slug, "installation_id": app.installation_id,
                "installation_permissions": dict(app.permissions)}  # fmt: skip
    client = client or GitHubClient(make_github(settings), token_source=settings.token_source)
    login = str(client.get("/user").data["login"])
    return {"kind": "user", "login": login, "app_slug": None, "installation_id": None, "installation_permissions": None}


def own_login(settings: Settings, client: GitHubClient | None = None) -> str:
    """The orchestrator's own login: `github.login` when set, else who the credentials are (`whoami`)."""
    return settings.github.login or str(whoami(settings, client)["login"])
