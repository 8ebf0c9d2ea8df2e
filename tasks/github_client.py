"""One way to talk to GitHub: PyGithub's requester, counted, with conditional GETs.

Rows are built from list payloads (`raw` JSON), never from PyGithub's lazy objects: reading
an attribute a list payload lacks makes PyGithub fetch the whole item, one request each.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import github
from github import Auth, Github, GithubException

from orchestrator.config import Settings

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

    @property
    def not_modified(self) -> bool:
        return self.status == 304


@dataclass
class RequestCounter:
    """Requests made through one client, and the rate limit last seen (thread-safe)."""

    requests: int = 0
    not_modified: int = 0
    rate_remaining: int | None = None
    rate_limit: int | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def record(self, status: int, headers: dict[str, Any]) -> None:
        with self._lock:
            self.requests += 1
            self.not_modified += status == 304
            remaining = headers.get("x-ratelimit-remaining")
            if remaining is not None and str(remaining).isdigit():
                self.rate_remaining = int(remaining)
                limit = headers.get("x-ratelimit-limit")
                self.rate_limit = int(limit) if limit and str(limit).isdigit() else self.rate_limit

    def add(self, other: RequestCounter) -> None:
        with self._lock:
            self.requests += other.requests
            self.not_modified += other.not_modified
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
        super().__init__(f"GitHub answered {status} for {url}: {message}")
        self.status = status
        self.url = url


def make_github(settings: Settings, token: str, retry: github.GithubRetry | None = None) -> Github:
    """A PyGithub client with deliberate pacing (see README, `orchestrator snapshot`)."""
    return Github(
        base_url=settings.github.api_url,
        auth=Auth.Token(token),
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

    def __init__(self, gh: Github, counter: RequestCounter | None = None):
        self.gh = gh
        self.counter = counter or RequestCounter()

    def request(
        self,
        verb: str,
        url: str,
        params: dict[str, Any] | None = None,
        body: Any = None,
        etag: str | None = None,
    ) -> Page:
        headers = {"If-None-Match": etag} if etag else None
        try:
            response_headers, data = self.gh.requester.requestJsonAndCheck(
                verb, url, parameters=params, headers=headers, input=body
            )
        except GithubException as exc:
            self.counter.record(exc.status, dict(exc.headers or {}))
            message = exc.data.get("message") if isinstance(exc.data, dict) else str(exc.data)
            raise GitHubError(exc.status, message or "error", _path(url)) from None
        status = 304 if data is None and verb == "GET" and etag else 200
        self.counter.record(status, response_headers)
        return Page(status, data, response_headers.get("etag"), parse_link_header(response_headers.get("link")))

    def get(self, url: str, params: dict[str, Any] | None = None, etag: str | None = None) -> Page:
        return self.request("GET", url, params, etag=etag)

    def pages(self, url: str, params: dict[str, Any] | None = None, etag: str | None = None) -> Iterator[Page]:
        """Follow `Link: rel="next"` from the first page; a 304 first page ends at once."""
        page = self.get(url, params, etag)
        yield page
        while not page.not_modified and "next" in page.links:
            page = self.get(page.links["next"])
            yield page


def _path(url: str) -> str:
    """The URL without query string, for messages (query strings never hold the token, but stay short)."""
    return url.split("?")[0]
