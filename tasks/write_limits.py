"""GitHub's content-creation limits for execute: pace writes, wait out short refusals, defer the rest.

GitHub allows about 80 content-creating requests a minute and 500 an hour, and answers more with
403 (or 429) and `retry-after` (README "Running on a real organisation"). `PacedClient` is the
execute client: before each content-creating request (any POST/PATCH/PUT/DELETE, and GraphQL
mutations) `WriteGate` counts the writes in `write_log` (every run's, on GitHub's clock) and waits
until one more keeps under `github.writes_per_minute` / `writes_per_hour`, reserving its row under
the ledger's lock (two executes at once share the limits). A rate-limit answer (`RateLimited`) is
waited out and the request sent again when the wait is at most `github.max_write_wait`; a longer
wait raises `Deferred`, and execute leaves the action and the rest for the next run.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from analytics.write_pacing import Limit, binding_limit, wait_before_write
from common.config import Settings
from tasks import ledger
from tasks.github_client import GitHubClient, Page, RateLimited, graphql_rate_limited

log = logging.getLogger("orchestrator.write_limits")

READS = ("GET", "HEAD", "OPTIONS")
MINUTE, HOUR = 60.0, 3600.0
DEFAULT_WAIT = 60.0  # GitHub: with neither retry-after nor a reset, wait at least a minute
REFUSALS_IN_A_ROW = 3  # a limit that refuses again after as many waits defers instead


class Deferred(Exception):  # noqa: N818 - an outcome, not a failure
    """GitHub's limits allow no further write until `until` (GitHub's clock): stop, carry on next run."""

    def __init__(self, until: datetime, why: str):
        super().__init__(f"{why}; writes resume at {until:%H:%M} UTC")
        self.until = until
        self.why = why


def creates_content(verb: str, url: str, body: Any) -> bool:
    """A request GitHub counts against its content-creation limits: every write, and GraphQL
    mutations (a GraphQL query is a read even though it is a POST)."""
    if verb.upper() in READS:
        return False
    if url.split("?")[0].rstrip("/").endswith("/graphql"):
        query = str((body or {}).get("query") or "") if isinstance(body, dict) else ""
        return query.lstrip().lower().startswith("mutation")
    return True


@dataclass
class WriteGate:
    """Counts content-creating requests in `write_log` and decides: go now, wait, or defer."""

    db: str
    limits: list[Limit]
    max_wait: float
    sleep: Callable[[float], None] = time.sleep
    step: tuple[str | None, int | None] = (None, None)  # the action whose writes are being sent
    login: str | None = None
    sent: int = 0  # content-creating requests sent by this run
    landed: int = 0  # ... of the current action, answered without a limit
    waits: int = 0  # pauses this run made for a limit (pacing or a refusal)
    refused: int = 0  # rate-limit answers this run received
    waited_seconds: float = field(default=0.0)

    @classmethod
    def for_settings(cls, settings: Settings) -> WriteGate:
        github = settings.github
        limits = [(github.writes_per_minute, MINUTE), (github.writes_per_hour, HOUR)]
        return cls(str(settings.database.path), limits, github.max_write_wait)

    def start_action(self, plan_id: str | None, seq: int | None) -> None:
        self.step, self.landed = (plan_id, seq), 0

    def reserve(self, clock: Callable[[], datetime], verb: str, path: str) -> None:
        """Wait until one more write keeps within the limits, then record it as sent (under the
        ledger's lock, so a concurrent execute counts it); `Deferred` when the wait is too long."""
        while True:
            now = clock()
            with ledger.locked(self.db) as con:
                sent = recent_writes(con, now - timedelta(seconds=max(w for _, w in self.limits)))
                wait = wait_before_write(sent, now, self.limits)
                if wait <= 0:
                    con.execute(
                        "INSERT INTO write_log VALUES (?, ?, ?, ?, ?, ?)",
                        [now, verb.upper(), path[:300], self.step[0], self.step[1], self.login],
                    )
                    self.sent += 1
                    return
            count, window = binding_limit(sent, now, self.limits) or self.limits[0]
            name = "writes_per_minute" if window == MINUTE else "writes_per_hour"
            self.pause(wait, now, f"{count} writes in {window:g} s (github.{name})")

    def pause(self, wait: float, now: datetime, why: str) -> None:
        """Sleep `wait` seconds when it is short enough, else raise `Deferred`."""
        if wait > self.max_wait:
            raise Deferred(now + timedelta(seconds=wait), why)
        log.info("waiting %.0f s for GitHub's write limit: %s", wait, why)
        self.waits += 1
        self.waited_seconds += wait
        self.sleep(wait)

    def stats(self) -> dict[str, Any]:
        return {"writes_sent": self.sent, "waits": self.waits, "refused": self.refused,
                "waited_seconds": round(self.waited_seconds, 1)}  # fmt: skip


def recent_writes(con: Any, since: datetime) -> list[datetime]:
    """Send times (GitHub's clock) of the content-creating requests since `since`, every run's."""
    rows = con.execute("SELECT sent_at FROM write_log WHERE sent_at > ? ORDER BY sent_at", [since]).fetchall()
    return [row[0] for row in rows]


def refusal_wait(limited: RateLimited, now: datetime) -> float:
    """How long GitHub asked us to wait: `retry-after`, else until `x-ratelimit-reset`, else a minute."""
    if limited.retry_after is not None:
        return max(limited.retry_after, 0.0)
    if limited.reset_at is not None:
        reset = datetime.fromtimestamp(limited.reset_at, UTC).replace(tzinfo=None)  # naive UTC, as github_now()
        return max((reset - now).total_seconds(), 0.0) + 1
    return DEFAULT_WAIT


class PacedClient(GitHubClient):
    """The execute client: GitHubClient whose content-creating requests go through a `WriteGate`,
    and whose rate-limited answers (any request) are waited out or turned into `Deferred`."""

    gate: WriteGate | None = None

    def request(
        self, verb: str, url: str, params: dict[str, Any] | None = None, body: Any = None, etag: str | None = None
    ) -> Page:
        writes = self.gate is not None and creates_content(verb, url, body)
        for _ in range(REFUSALS_IN_A_ROW):
            if writes:
                self.gate.reserve(self.github_now, verb, url.split("?")[0])
            try:
                page = super().request(verb, url, params, body, etag)
                limited = graphql_rate_limited(page.data, {}, url) if url.rstrip("/").endswith("/graphql") else None
            except RateLimited as exc:
                limited = exc
            if limited is None:
                if writes and self.gate is not None:
                    self.gate.landed += 1
                return page
            self._refused(limited)
        now = self.github_now()
        raise Deferred(now + timedelta(seconds=DEFAULT_WAIT), f"GitHub refused {REFUSALS_IN_A_ROW} times in a row")

    def _refused(self, limited: RateLimited) -> None:
        """A rate-limit answer: wait what GitHub asked (if short), else defer."""
        now = self.github_now()
        wait = refusal_wait(limited, now)
        kind = "secondary rate limit" if limited.secondary else "rate limit"
        why = f"GitHub's {kind} ({limited.status}" + (
            f", retry-after {limited.retry_after:g} s)" if limited.retry_after is not None else ")"
        )
        if self.gate is None:
            raise Deferred(now + timedelta(seconds=wait), why)
        self.gate.refused += 1
        self.gate.pause(wait, now, why)


def paced(client: GitHubClient, settings: Settings) -> PacedClient:
    """`client` as a PacedClient with a gate for `settings` (same requester, counter and token source)."""
    out = PacedClient(client.gh, client.counter, client.token_source)
    out.gate = WriteGate.for_settings(settings)
    return out
