"""In-memory state of the GitHub sandbox: repos, issues, PRs, git refs, CI and a request log.

`SandboxState` is assembled from one mixin per resource (`state_git`, `state_issues`, `state_pulls`)
plus the back-dated writes the seed uses (`state_history`); the objects it holds are the dataclasses
of `sandbox.models`, re-exported here. The demo organisation is written by `sandbox.seed.seed_demo`
through the public methods; the state does not know it (`reset()` only empties).
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta

from sandbox.apps import AppMixin
from sandbox.models import (
    AGENT_BOT,
    CLOSING_RE,
    DEFAULT_LABELS,
    DEFAULT_LOGIN,
    DEFAULT_TOKEN,
    CheckRun,
    Comment,
    Commit,
    Event,
    Faults,
    Issue,
    Label,
    Pull,
    RateBucket,
    Repo,
    Review,
    ReviewComment,
    ReviewThread,
    SandboxError,
    Status,
    User,
    node_id,
    utcnow,
)
from sandbox.state_git import RepoMixin
from sandbox.state_history import HistoryMixin
from sandbox.state_issues import IssueMixin
from sandbox.state_links import LinkMixin
from sandbox.state_pulls import PullMixin
from sandbox.write_limits import validate as validate_write_limits

__all__ = [
    "AGENT_BOT",
    "CLOSING_RE",
    "DEFAULT_LABELS",
    "DEFAULT_LOGIN",
    "DEFAULT_TOKEN",
    "CheckRun",
    "Comment",
    "Commit",
    "Event",
    "Faults",
    "Issue",
    "Label",
    "Pull",
    "RateBucket",
    "Repo",
    "Review",
    "ReviewComment",
    "ReviewThread",
    "SandboxError",
    "SandboxState",
    "Status",
    "User",
    "node_id",
    "utcnow",
]


class SandboxState(RepoMixin, IssueMixin, PullMixin, LinkMixin, HistoryMixin, AppMixin):
    """Everything the sandbox knows; every public method takes the lock."""

    def __init__(
        self,
        accepted_tokens: Iterable[str] = (DEFAULT_TOKEN,),
        rate_limit: int = 5000,
        anonymous_rate_limit: int = 60,
    ) -> None:
        self.lock = threading.RLock()
        self.accepted_tokens: set[str] = set(accepted_tokens)
        self.token_users: dict[str, str] = {}  # token -> login; default DEFAULT_LOGIN
        self.rate_limit = rate_limit
        self.anonymous_rate_limit = anonymous_rate_limit
        self.clock: Callable[[], datetime] = self._server_clock
        self.on_stop: Callable[[], None] | None = None  # set by SandboxServer: really stop listening
        self._init_apps()  # GitHub Apps outlive reset(), like tokens (sandbox/apps.py)
        self._clear()

    # ------------------------------------------------------------------ lifecycle
    def _clear(self) -> None:
        """Forget all data (keeps tokens and limits)."""
        self._ids = 1000
        self._sha_counter = 0
        self.users: dict[str, User] = {}
        self.orgs: dict[str, User] = {}
        self.org_members: dict[str, set[str]] = {}
        self.collaborators: dict[str, set[str]] = {}  # repo full name (lower) -> invited logins (lower)
        self.repos: dict[int, Repo] = {}
        self.issues: dict[tuple[int, int], Issue] = {}
        self.comments: list[Comment] = []
        self.events: list[Event] = []
        self.reviews: list[Review] = []
        self.check_runs: list[CheckRun] = []
        self.statuses: list[Status] = []
        self.review_threads: list[ReviewThread] = []
        self.review_comments: list[ReviewComment] = []
        self.request_log: list[dict] = []
        self.rate_buckets: dict[str, RateBucket] = {}
        self.faults = Faults()
        self.fault_counter = 0
        self.stopped = False
        self.content_writes: dict[str, list[float]] = {}  # login -> monotonic times (sandbox/write_limits.py)

    def reset(self) -> None:
        """Empty the state but for the default user (`sandbox.seed.reset_demo` then seeds the demo)."""
        with self.lock:
            self._clear()
            self.user(DEFAULT_LOGIN)

    def set_faults(self, faults: Faults | None = None, **changes: object) -> Faults:
        """Replace the faults (or change some fields); restarts the request count for stop_after."""
        with self.lock:
            base = faults or Faults()
            for key, value in changes.items():
                if not hasattr(base, key):
                    raise ValueError(f"unknown fault {key!r}")
                setattr(base, key, value)
            base.write_limits = validate_write_limits(base.write_limits)
            self.faults = base
            self.fault_counter = 0
            return base

    def _server_clock(self) -> datetime:
        """The sandbox's own time: the host's plus `Faults.clock_offset_seconds`."""
        return utcnow() + timedelta(seconds=self.faults.clock_offset_seconds)

    # ------------------------------------------------------------------ ids
    def next_id(self) -> int:
        """A fresh object id (deterministic: one counter for all kinds)."""
        with self.lock:
            self._ids += 1
            return self._ids

    def _new_sha(self, salt: str) -> str:
        self._sha_counter += 1
        return hashlib.sha1(f"{salt}:{self._sha_counter}".encode()).hexdigest()

    # ------------------------------------------------------------------ users and orgs
    def user(self, login: str, type: str = "User", name: str | None = None) -> User:
        """The user with this login, created on first use."""
        with self.lock:
            key = login.lower()
            if key not in self.users:
                self.users[key] = User(self.next_id(), login, type=type, name=name, created_at=self.clock())
            return self.users[key]

    def add_org(self, login: str, name: str | None = None, members: Iterable[str] = ()) -> User:
        """Create an organisation (also a user of type Organization)."""
        with self.lock:
            org = self.user(login, type="Organization", name=name)
            self.orgs[login.lower()] = org
            self.org_members.setdefault(login.lower(), set()).update(m.lower() for m in members)
            for member in members:
                self.user(member)
            return org

    def add_collaborator(self, full_name: str, login: str) -> None:
        """Invite an outside collaborator to one repo (author_association COLLABORATOR there)."""
        with self.lock:
            self.user(login)
            self.collaborators.setdefault(self.repo(full_name).full_name.lower(), set()).add(login.lower())

    def login_for_token(self, token: str) -> str | None:
        """The login a token authenticates as (an installation token: the App's bot; a JWT: none)."""
        caller = self.app_caller(token)
        if caller is not None:
            return caller.login
        return self.token_users.get(token, DEFAULT_LOGIN)

    def author_association(self, repo: Repo, login: str) -> str:
        """OWNER, MEMBER, COLLABORATOR, CONTRIBUTOR or NONE, as GitHub reports it."""
        if login.lower() == repo.owner.lower():
            return "OWNER"
        if login.lower() in self.org_members.get(repo.owner.lower(), set()):
            return "MEMBER"
        if login.lower() in self.collaborators.get(repo.full_name.lower(), set()):
            return "COLLABORATOR"
        if any(c.author.lower() == login.lower() for c in repo.commits.values()):
            return "CONTRIBUTOR"
        return "NONE"

    # ------------------------------------------------------------------ rate limit and log
    def rate_bucket(self, key: str, limit: int) -> RateBucket:
        """The rate-limit bucket of a token (or 'anonymous'), starting a new hour when due."""
        with self.lock:
            now = int(time.time())
            bucket = self.rate_buckets.get(key)
            if bucket is None or now >= bucket.reset:
                bucket = RateBucket(limit=limit, used=0, reset=now + 3600)
                self.rate_buckets[key] = bucket
            bucket.limit = limit
            return bucket

    def log_request(
        self, method: str, path: str, query: str, status: int, login: str | None, body: object = None
    ) -> None:
        """Append one answered request to the log."""
        with self.lock:
            self.request_log.append(
                {
                    "method": method,
                    "path": path,
                    "query": query,
                    "status": status,
                    "time": datetime.now(UTC).isoformat(),
                    "login": login,
                    "body": body,
                }
            )

    def writes(self) -> list[dict]:
        """Logged mutating requests (everything but GET/HEAD/OPTIONS and GraphQL queries)."""
        with self.lock:
            reads = ("GET", "HEAD", "OPTIONS")
            return [r for r in self.request_log if r["method"] not in reads and not _graphql_read(r)]


def _graphql_read(entry: dict) -> bool:
    """A POST /graphql that is a query, not a mutation (it writes nothing)."""
    body = entry.get("body")
    query = body.get("query") if isinstance(body, dict) else None
    return entry["path"] == "/graphql" and isinstance(query, str) and not query.lstrip().startswith("mutation")
