"""GitHub's content-creation limits in the sandbox (a secondary rate limit), with windows of any length.

`Faults.write_limits` is a list of [count, window_seconds]: GitHub's are [[80, 60], [500, 3600]];
tests scale them to seconds ([[5, 2], [12, 30]]). Content-creating requests (every POST, PATCH,
PUT and DELETE, GraphQL mutations but not GraphQL queries) are counted per user (the token's
login, an App's bot), in sliding windows; one beyond a limit is answered as GitHub does: 403, the
secondary-rate-limit message, its documentation_url and `retry-after` (whole seconds until the
oldest counted write leaves the window). A refused request is not counted.
"""

from __future__ import annotations

import json
import math
import random
import time
import uuid
from typing import Any

READS = ("GET", "HEAD", "OPTIONS")
MESSAGE = (
    "You have exceeded a secondary rate limit and have been temporarily blocked from content creation. "
    "Please retry your request again later. If you reach out to GitHub Support for help, please include "
    "the request ID {request_id}."
)
DOCS_URL = "https://docs.github.com/rest/using-the-rest-api/rate-limits-for-the-rest-api#about-secondary-rate-limits"


def validate(limits: Any) -> list[list[float]]:
    """[[count, window_seconds], ...] with count >= 1 and window > 0 (ValueError otherwise)."""
    if not isinstance(limits, list) or not all(isinstance(pair, list | tuple) and len(pair) == 2 for pair in limits):
        raise ValueError("write_limits must be a list of [count, window_seconds] pairs")
    out = [[int(count), float(window)] for count, window in limits]
    if any(count < 1 or window <= 0 for count, window in out):
        raise ValueError("write_limits: each count must be >= 1 and each window > 0 seconds")
    return out


def creates_content(method: str, path: str, body: Any) -> bool:
    """A request GitHub counts against its content-creation limits."""
    if method.upper() in READS:
        return False
    if path.rstrip("/").endswith("/graphql"):
        if isinstance(body, str):
            try:
                body = json.loads(body)
            except ValueError:
                return False
        query = body.get("query") if isinstance(body, dict) else None
        return str(query or "").lstrip().lower().startswith("mutation")
    return True


def admit(state: Any, who: str, clock: Any = time.monotonic) -> float | None:
    """Count one content-creating request of `who`; None when it may go, else the seconds until it
    may (and it is not counted)."""
    limits = state.faults.write_limits
    if not limits:
        return None
    with state.lock:
        now = clock()
        longest = max(window for _, window in limits)
        sent = [t for t in state.content_writes.get(who, []) if t > now - longest]
        wait = 0.0
        for count, window in limits:
            recent = [t for t in sent if t > now - window]
            if len(recent) >= count:
                wait = max(wait, recent[len(recent) - int(count)] + window - now)
        if wait > 0:
            state.content_writes[who] = sent
            return wait
        state.content_writes[who] = [*sent, now]
        return None


def refusal(wait: float, count: int) -> Any:
    """GitHub's answer to a content-creating request beyond the limit (`count`: the request number,
    which the middleware's X-GitHub-Request-Id is made from)."""
    from sandbox.context import error_response  # the state imports this module: no cycle at import time

    request_id = uuid.UUID(int=random.Random(count).getrandbits(128)).hex[:20].upper()
    return error_response(
        403,
        MESSAGE.format(request_id=request_id),
        headers={"Retry-After": str(max(math.ceil(wait), 1))},
        documentation_url=DOCS_URL,
    )


def parse_option(text: str) -> list[list[float]]:
    """`orchestrator sandbox --write-limits 80/60,500/3600`: COUNT/SECONDS pairs, comma separated."""
    pairs = []
    for part in text.split(","):
        count, slash, window = part.strip().partition("/")
        try:
            pairs.append([int(count), float(window)])
        except ValueError:
            raise ValueError(f"--write-limits: {part.strip()!r} is not COUNT/SECONDS (e.g. 80/60,500/3600)") from None
        if not slash:
            raise ValueError(f"--write-limits: {part.strip()!r} is not COUNT/SECONDS (e.g. 80/60,500/3600)")
    return validate(pairs)
