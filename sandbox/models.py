"""The sandbox's data model: GitHub's objects as dataclasses, its constants and its error answer."""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime

DEFAULT_TOKEN = "sandbox-token"
DEFAULT_LOGIN = "Snider"
AGENT_BOT = "google-labs-jules[bot]"

# GitHub's "closing keywords": a merged PR whose body says `Fixes #N` closes issue N.
CLOSING_RE = re.compile(r"\b(?:close[sd]?|fix(?:e[sd])?|resolve[sd]?)\s*:?\s+#(\d+)\b", re.IGNORECASE)

DEFAULT_LABELS = (
    ("bug", "d73a4a", "Something isn't working"),
    ("documentation", "0075ca", "Improvements or additions to documentation"),
    ("duplicate", "cfd3d7", "This issue or pull request already exists"),
    ("enhancement", "a2eeef", "New feature or request"),
    ("good first issue", "7057ff", "Good for newcomers"),
    ("help wanted", "008672", "Extra attention is needed"),
    ("invalid", "e4e669", "This doesn't seem right"),
    ("question", "d876e3", "Further information is requested"),
    ("wontfix", "ffffff", "This will not be worked on"),
)


class SandboxError(Exception):
    """A GitHub-style error answer raised by a state method (status + JSON body)."""

    def __init__(self, status: int, message: str, errors: list[dict] | None = None, **extra: object):
        super().__init__(message)
        self.status = status
        self.body: dict = {"message": message, **extra}
        if errors is not None:
            self.body["errors"] = errors


def utcnow() -> datetime:
    """Current UTC time at whole seconds (GitHub timestamps have no fractions)."""
    return datetime.now(UTC).replace(microsecond=0)


def node_id(kind: str, ident: int) -> str:
    """GitHub's legacy global node id: base64 of '0<len>:<Type><id>'."""
    return base64.b64encode(f"0{len(kind)}:{kind}{ident}".encode()).decode()


@dataclass
class User:
    id: int
    login: str
    type: str = "User"  # "User", "Bot" or "Organization"
    name: str | None = None
    site_admin: bool = False
    created_at: datetime = field(default_factory=utcnow)


@dataclass
class Label:
    id: int
    name: str
    color: str = "ededed"
    description: str | None = None
    default: bool = False


@dataclass
class Commit:
    sha: str
    parents: tuple[str, ...]
    message: str
    author: str
    date: datetime


@dataclass
class Repo:
    id: int
    owner: str
    name: str
    default_branch: str = "main"
    private: bool = False
    archived: bool = False
    description: str | None = None
    language: str | None = None
    topics: list[str] = field(default_factory=list)
    created_at: datetime = field(default_factory=utcnow)
    updated_at: datetime = field(default_factory=utcnow)
    pushed_at: datetime = field(default_factory=utcnow)
    labels: dict[str, Label] = field(default_factory=dict)  # lower-cased name -> label
    branches: dict[str, str] = field(default_factory=dict)  # branch -> sha
    commits: dict[str, Commit] = field(default_factory=dict)
    next_number: int = 1
    old_names: list[str] = field(default_factory=list)  # earlier "owner/name"s (renames answer 301)

    @property
    def full_name(self) -> str:
        """owner/name."""
        return f"{self.owner}/{self.name}"


@dataclass
class Pull:
    id: int
    head_ref: str
    base_ref: str
    head_sha: str
    base_sha: str
    draft: bool = False
    merged: bool = False
    merged_at: datetime | None = None
    merged_by: str | None = None
    merge_commit_sha: str | None = None
    mergeable: bool | None = True
    mergeable_state: str = "clean"
    # GitHub computes mergeability in the background: a new PR answers null first.
    mergeable_known: bool = True
    requested_reviewers: list[str] = field(default_factory=list)
    additions: int = 10
    deletions: int = 2
    changed_files: int = 1
    maintainer_can_modify: bool = False


@dataclass
class Issue:
    id: int
    repo_id: int
    number: int
    title: str
    body: str | None
    user: str
    created_at: datetime
    updated_at: datetime
    state: str = "open"
    state_reason: str | None = None
    labels: list[str] = field(default_factory=list)  # label names as the repo spells them
    assignees: list[str] = field(default_factory=list)
    closed_at: datetime | None = None
    closed_by: str | None = None
    locked: bool = False
    deleted: bool = False
    moved_to: tuple[int, int] | None = None  # (repo id, number) after a transfer
    pull: Pull | None = None
    sub_issues: list[tuple[int, int]] = field(default_factory=list)  # (repo id, number), in priority order
    blocked_by: list[tuple[int, int]] = field(default_factory=list)  # (repo id, number) of the blocking issues

    @property
    def is_pull(self) -> bool:
        """True for pull requests (which are issues too)."""
        return self.pull is not None


@dataclass
class Comment:
    id: int
    repo_id: int
    issue_number: int
    user: str
    body: str
    created_at: datetime
    updated_at: datetime


@dataclass
class Event:
    id: int
    repo_id: int
    issue_number: int
    event: str
    actor: str
    created_at: datetime
    commit_id: str | None = None
    extra: dict = field(default_factory=dict)  # label / assignee / rename / state_reason ...


@dataclass
class Review:
    id: int
    repo_id: int
    number: int
    user: str
    state: str  # APPROVED, CHANGES_REQUESTED, COMMENTED, DISMISSED
    body: str
    submitted_at: datetime
    commit_id: str


@dataclass
class ReviewThread:
    """A review conversation on a PR: outdated once the PR's head has moved past `commit_id`."""

    id: int
    repo_id: int
    number: int
    path: str
    line: int
    commit_id: str  # the PR head the thread was written on
    is_resolved: bool = False
    resolved_by: str | None = None


@dataclass
class ReviewComment:
    """A comment in a review thread (GET /pulls/{n}/comments)."""

    id: int
    repo_id: int
    number: int
    thread_id: int
    user: str
    body: str
    path: str
    line: int
    commit_id: str
    created_at: datetime
    updated_at: datetime


@dataclass
class CheckRun:
    id: int
    repo_id: int
    head_sha: str
    name: str
    status: str  # queued, in_progress, completed
    conclusion: str | None
    started_at: datetime
    completed_at: datetime | None


@dataclass
class Status:
    id: int
    repo_id: int
    sha: str
    state: str  # error, failure, pending, success
    context: str
    description: str | None
    target_url: str | None
    creator: str
    created_at: datetime
    updated_at: datetime


@dataclass
class Faults:
    """Injected failures; decisions are a pure function of (seed, request number)."""

    error_rate: float = 0.0  # share of requests answered 502
    secondary_rate_limit_rate: float = 0.0  # share answered 403 secondary rate limit
    retry_after: int = 60  # seconds, sent as Retry-After with secondary limits
    latency_ms: int = 0  # added to every answer
    stop_after: int | None = None  # after N requests the server stops answering
    seed: int = 0
    # The server's clock minus the host's (e.g. -11 days): every timestamp the sandbox writes and
    # its `Date` header use it, as a GitHub whose clock disagrees with ours would.
    clock_offset_seconds: float = 0.0
    # GitHub's content-creation limits, scaled at will: [[count, window_seconds], ...], e.g.
    # [[80, 60], [500, 3600]] as GitHub; content-creating requests beyond one are answered 403 with
    # the secondary-rate-limit message and `retry-after` (sandbox/write_limits.py). Empty: no limit.
    write_limits: list[list[float]] = field(default_factory=list)
    graphql_errors: bool = False  # POST /graphql answers every query with errors (data null)
    graphql_missing: bool = False  # POST /graphql answers 404, as a server without GraphQL


@dataclass
class RateBucket:
    limit: int
    used: int = 0
    reset: int = 0  # epoch seconds
