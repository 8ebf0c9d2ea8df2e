"""In-memory state of the GitHub sandbox: repos, issues, PRs, git refs, CI and a request log."""

from __future__ import annotations

import base64
import hashlib
import re
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

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


@dataclass
class RateBucket:
    limit: int
    used: int = 0
    reset: int = 0  # epoch seconds


class SandboxState:
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
        self.request_log: list[dict] = []
        self.rate_buckets: dict[str, RateBucket] = {}
        self.faults = Faults()
        self.fault_counter = 0
        self.stopped = False

    def reset(self, seed: int = 7, demo: bool = True, now: datetime | None = None) -> None:
        """Empty the state, then (with demo) seed the demo organisation."""
        with self.lock:
            self._clear()
            self.user(DEFAULT_LOGIN)
            if demo:
                from orchestrator.sandbox.seed import seed_demo

                seed_demo(self, seed=seed, now=now)

    def set_faults(self, faults: Faults | None = None, **changes: object) -> Faults:
        """Replace the faults (or change some fields); restarts the request count for stop_after."""
        with self.lock:
            base = faults or Faults()
            for key, value in changes.items():
                if not hasattr(base, key):
                    raise ValueError(f"unknown fault {key!r}")
                setattr(base, key, value)
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

    def login_for_token(self, token: str) -> str:
        """The login a token authenticates as."""
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

    # ------------------------------------------------------------------ repos
    def add_repo(
        self,
        owner: str,
        name: str,
        default_branch: str = "main",
        private: bool = False,
        archived: bool = False,
        description: str | None = None,
        language: str | None = None,
        created_at: datetime | None = None,
        default_labels: bool = True,
    ) -> Repo:
        """Create a repo with one initial commit on its default branch."""
        with self.lock:
            if self.find_repo(f"{owner}/{name}"):
                raise ValueError(f"repo {owner}/{name} exists")
            if owner.lower() not in self.orgs:
                self.user(owner)
            when = created_at or self.clock()
            repo = Repo(
                self.next_id(),
                owner,
                name,
                default_branch,
                private,
                archived,
                description,
                language,
                created_at=when,
                updated_at=when,
                pushed_at=when,
            )
            self.repos[repo.id] = repo
            sha = self._new_sha(repo.full_name)
            repo.commits[sha] = Commit(sha, (), "Initial commit", DEFAULT_LOGIN, when)
            repo.branches[default_branch] = sha
            if default_labels:
                for label_name, color, desc in DEFAULT_LABELS:
                    repo.labels[label_name] = Label(self.next_id(), label_name, color, desc, default=True)
            return repo

    def find_repo(self, full_name: str) -> Repo | None:
        """The repo by current name (case-insensitive, like GitHub)."""
        key = full_name.lower()
        for repo in self.repos.values():
            if repo.full_name.lower() == key:
                return repo
        return None

    def renamed_repo(self, full_name: str) -> Repo | None:
        """The repo that used to be called full_name, if it was renamed or transferred."""
        key = full_name.lower()
        for repo in self.repos.values():
            if key in (n.lower() for n in repo.old_names):
                return repo
        return None

    def repo(self, full_name: str) -> Repo:
        """The repo or SandboxError 404."""
        repo = self.find_repo(full_name)
        if repo is None:
            raise SandboxError(404, "Not Found")
        return repo

    def rename_repo(self, full_name: str, new_name: str) -> Repo:
        """Rename a repo; the old name then answers 301 to /repositories/{id}."""
        with self.lock:
            repo = self.repo(full_name)
            repo.old_names.append(repo.full_name)
            if "/" in new_name:
                repo.owner, repo.name = new_name.split("/", 1)
            else:
                repo.name = new_name
            repo.updated_at = self.clock()
            return repo

    def add_label(self, full_name: str, name: str, color: str = "ededed", description: str | None = None) -> Label:
        """Create a label in a repo (or return the existing one)."""
        with self.lock:
            repo = self.repo(full_name)
            existing = repo.labels.get(name.lower())
            if existing:
                return existing
            label = Label(self.next_id(), name, color.lstrip("#").lower(), description)
            repo.labels[name.lower()] = label
            return label

    # ------------------------------------------------------------------ git
    def add_commit(
        self,
        full_name: str,
        branch: str,
        message: str = "Update",
        author: str = DEFAULT_LOGIN,
        when: datetime | None = None,
        parents: tuple[str, ...] | None = None,
    ) -> str:
        """Add a commit on top of a branch (creating the branch from the default one if needed)."""
        with self.lock:
            repo = self.repo(full_name)
            if branch not in repo.branches:
                repo.branches[branch] = repo.branches[repo.default_branch]
            when = when or self.clock()
            sha = self._new_sha(f"{repo.full_name}:{branch}:{message}")
            repo.commits[sha] = Commit(sha, parents or (repo.branches[branch],), message, author, when)
            repo.branches[branch] = sha
            repo.pushed_at = max(repo.pushed_at, when)
            return sha

    def resolve_ref(self, repo: Repo, ref: str) -> str | None:
        """A sha for a branch name, 'heads/x', 'refs/heads/x', a sha or a sha prefix."""
        for prefix in ("refs/heads/", "heads/"):
            if ref.startswith(prefix) and ref[len(prefix) :] in repo.branches:
                return repo.branches[ref[len(prefix) :]]
        if ref in repo.branches:
            return repo.branches[ref]
        if ref in repo.commits:
            return ref
        if len(ref) >= 7 and re.fullmatch(r"[0-9a-f]+", ref):
            hits = [sha for sha in repo.commits if sha.startswith(ref)]
            if len(hits) == 1:
                return hits[0]
        return None

    def ancestors(self, repo: Repo, sha: str) -> set[str]:
        """All commits reachable from sha, itself included."""
        seen: set[str] = set()
        stack = [sha]
        while stack:
            current = stack.pop()
            if current in seen or current not in repo.commits:
                continue
            seen.add(current)
            stack.extend(repo.commits[current].parents)
        return seen

    def compare(self, repo: Repo, base_sha: str, head_sha: str) -> tuple[int, int, list[Commit]]:
        """(ahead_by, behind_by, commits in head not in base, oldest first)."""
        base_set = self.ancestors(repo, base_sha)
        head_set = self.ancestors(repo, head_sha)
        ahead = sorted((repo.commits[s] for s in head_set - base_set), key=lambda c: (c.date, c.sha))
        return len(ahead), len(base_set - head_set), ahead

    def create_ref(self, full_name: str, ref: str, sha: str) -> str:
        """POST /git/refs: create refs/heads/<name> at sha."""
        with self.lock:
            repo = self.repo(full_name)
            if not ref.startswith("refs/") or ref.count("/") < 2:
                raise SandboxError(422, "Reference name must start with 'refs/' and have at least two slashes.")
            if sha not in repo.commits:
                raise SandboxError(422, "Object does not exist")
            name = ref.removeprefix("refs/heads/")
            if not ref.startswith("refs/heads/"):
                raise SandboxError(422, "Only branch refs (refs/heads/...) are supported by the sandbox")
            if name in repo.branches:
                raise SandboxError(422, "Reference already exists")
            repo.branches[name] = sha
            repo.pushed_at = self.clock()
            return name

    def delete_ref(self, full_name: str, branch: str) -> None:
        """Delete a branch (422 if it does not exist, like GitHub)."""
        with self.lock:
            repo = self.repo(full_name)
            if branch not in repo.branches:
                raise SandboxError(422, "Reference does not exist")
            del repo.branches[branch]

    def merge_branches(
        self, full_name: str, base: str, head: str, message: str | None = None, actor: str = DEFAULT_LOGIN
    ) -> str | None:
        """POST /merges: merge head into base; None when there is nothing to merge."""
        with self.lock:
            repo = self.repo(full_name)
            if base not in repo.branches:
                raise SandboxError(404, "Base does not exist")
            head_sha = self.resolve_ref(repo, head)
            if head_sha is None:
                raise SandboxError(404, "Head does not exist")
            base_sha = repo.branches[base]
            if head_sha in self.ancestors(repo, base_sha):
                return None
            for issue in self._repo_issues(repo):
                if (
                    issue.pull
                    and issue.state == "open"
                    and issue.pull.base_ref == base
                    and issue.pull.head_ref == head
                    and issue.pull.mergeable is False
                ):
                    raise SandboxError(409, "Merge conflict")
            return self.add_commit(
                repo.full_name, base, message or f"Merge {head} into {base}", actor, parents=(base_sha, head_sha)
            )

    # ------------------------------------------------------------------ issues
    def _repo_issues(self, repo: Repo) -> list[Issue]:
        return [i for (rid, _), i in self.issues.items() if rid == repo.id]

    def issue(self, full_name: str, number: int) -> Issue:
        """The issue or PR by number (SandboxError 404 if absent)."""
        repo = self.repo(full_name)
        found = self.issues.get((repo.id, number))
        if found is None:
            raise SandboxError(404, "Not Found")
        return found

    def _event(
        self, issue: Issue, event: str, actor: str, when: datetime, commit_id: str | None = None, **extra: object
    ) -> Event:
        ev = Event(self.next_id(), issue.repo_id, issue.number, event, actor, when, commit_id, dict(extra))
        self.events.append(ev)
        return ev

    def _label_obj(self, repo: Repo, name: str) -> Label:
        """The repo's label, created (grey) if missing, as adding a label to an issue does on GitHub."""
        label = repo.labels.get(name.lower())
        if label is None:
            label = Label(self.next_id(), name)
            repo.labels[name.lower()] = label
        return label

    def add_issue(
        self,
        repo_full_name: str,
        title: str,
        body: str | None = None,
        labels: Iterable[str] = (),
        state: str = "open",
        created_at: datetime | None = None,
        closed_at: datetime | None = None,
        user: str = DEFAULT_LOGIN,
        assignees: Iterable[str] = (),
        state_reason: str | None = None,
        closed_by: str | None = None,
        labeled_by: str | None = None,
        labeled_at: datetime | None = None,
        number: int | None = None,
        _pull: Pull | None = None,
    ) -> Issue:
        """Create an issue directly (with its labeled/assigned/closed events); returns it."""
        with self.lock:
            repo = self.repo(repo_full_name)
            when = created_at or self.clock()
            if number is None:
                number = repo.next_number
            if (repo.id, number) in self.issues:
                raise ValueError(f"{repo.full_name}#{number} exists")
            repo.next_number = max(repo.next_number, number + 1)
            self.user(user)
            issue = Issue(self.next_id(), repo.id, number, title, body, user, when, when, pull=_pull)
            self.issues[(repo.id, number)] = issue
            label_time = labeled_at or when
            for name in labels:
                label = self._label_obj(repo, name)
                issue.labels.append(label.name)
                self._event(
                    issue, "labeled", labeled_by or user, label_time, label={"name": label.name, "color": label.color}
                )
            issue.updated_at = max(issue.updated_at, label_time if issue.labels else when)
            for login in assignees:
                self.user(login)
                issue.assignees.append(login)
                self._event(issue, "assigned", login, when, assignee=login, assigner=user)
            if state == "closed":
                closed = closed_at or when
                issue.state = "closed"
                issue.state_reason = None if _pull else (state_reason or "completed")
                issue.closed_at = closed
                issue.closed_by = closed_by or user
                if not (_pull and _pull.merged):
                    self._event(issue, "closed", issue.closed_by, closed, state_reason=issue.state_reason)
                issue.updated_at = max(issue.updated_at, closed)
            repo.updated_at = max(repo.updated_at, issue.updated_at)
            return issue

    def create_issue(
        self,
        full_name: str,
        actor: str,
        title: str,
        body: str | None = None,
        labels: Iterable[str] = (),
        assignees: Iterable[str] = (),
    ) -> Issue:
        """POST /issues: a new open issue by actor."""
        with self.lock:
            return self.add_issue(
                full_name, title, body, labels=labels, user=actor, assignees=assignees, created_at=self.clock()
            )

    def delete_issue(self, full_name: str, number: int) -> None:
        """Delete an issue: it then answers 410 Gone."""
        with self.lock:
            self.issue(full_name, number).deleted = True

    def transfer_issue(self, full_name: str, number: int, new_full_name: str) -> Issue:
        """Move an issue to another repo: the old URL then answers 301 to the new one."""
        with self.lock:
            old = self.issue(full_name, number)
            target = self.repo(new_full_name)
            new = self.add_issue(
                target.full_name,
                old.title,
                old.body,
                labels=old.labels,
                user=old.user,
                created_at=old.created_at,
                assignees=old.assignees,
            )
            new.updated_at = self.clock()
            old.moved_to = (target.id, new.number)
            return new

    def update_issue(self, full_name: str, number: int, actor: str, **changes: object) -> Issue:
        """PATCH an issue: title, body, state, state_reason, labels, assignees (events recorded)."""
        with self.lock:
            repo = self.repo(full_name)
            issue = self.issue(full_name, number)
            now = self.clock()
            touched = False
            if "title" in changes and changes["title"] is not None and changes["title"] != issue.title:
                self._event(issue, "renamed", actor, now, rename={"from": issue.title, "to": changes["title"]})
                issue.title = str(changes["title"])
                touched = True
            if "body" in changes and changes["body"] != issue.body:
                issue.body = changes["body"]  # type: ignore[assignment]
                touched = True
            if changes.get("labels") is not None:
                self._set_labels(repo, issue, list(changes["labels"]), actor, now)  # type: ignore[arg-type]
                touched = True
            if changes.get("assignees") is not None:
                self._set_assignees(issue, list(changes["assignees"]), actor, now)  # type: ignore[arg-type]
                touched = True
            state = changes.get("state")
            reason = changes.get("state_reason")
            if state == "closed" and issue.state == "open":
                self._close(issue, actor, now, str(reason or "completed"))
                touched = True
            elif state == "open" and issue.state == "closed":
                if issue.pull and issue.pull.merged:
                    raise SandboxError(
                        422,
                        "Validation Failed",
                        [
                            {
                                "resource": "PullRequest",
                                "code": "custom",
                                "message": "state cannot be changed. The pull request is merged.",
                            }
                        ],
                    )
                issue.state, issue.closed_at, issue.closed_by = "open", None, None
                issue.state_reason = None if issue.pull else "reopened"
                self._event(issue, "reopened", actor, now)
                touched = True
            elif reason and issue.state == "closed" and not issue.pull:
                issue.state_reason = str(reason)
                touched = True
            if touched:
                self._touch(repo, issue, now)
            return issue

    def _touch(self, repo: Repo, issue: Issue, now: datetime) -> None:
        issue.updated_at = now
        repo.updated_at = now

    def _close(self, issue: Issue, actor: str, now: datetime, reason: str | None) -> None:
        issue.state = "closed"
        issue.closed_at = now
        issue.closed_by = actor
        issue.state_reason = None if issue.pull else reason
        if issue.pull:
            issue.pull.head_sha = self._pull_head_sha(issue)
        self._event(issue, "closed", actor, now, state_reason=issue.state_reason)

    def _set_labels(self, repo: Repo, issue: Issue, names: list[str], actor: str, now: datetime) -> None:
        wanted = [self._label_obj(repo, n).name for n in names]
        for name in list(issue.labels):
            if name.lower() not in {w.lower() for w in wanted}:
                self._remove_label(repo, issue, name, actor, now)
        self._add_labels(repo, issue, wanted, actor, now)

    def _add_labels(self, repo: Repo, issue: Issue, names: list[str], actor: str, now: datetime) -> bool:
        changed = False
        for name in names:
            label = self._label_obj(repo, name)
            if label.name.lower() in (n.lower() for n in issue.labels):
                continue
            issue.labels.append(label.name)
            self._event(issue, "labeled", actor, now, label={"name": label.name, "color": label.color})
            changed = True
        return changed

    def _remove_label(self, repo: Repo, issue: Issue, name: str, actor: str, now: datetime) -> None:
        for existing in list(issue.labels):
            if existing.lower() == name.lower():
                issue.labels.remove(existing)
                color = repo.labels[existing.lower()].color if existing.lower() in repo.labels else "ededed"
                self._event(issue, "unlabeled", actor, now, label={"name": existing, "color": color})
                return
        raise SandboxError(404, "Label does not exist")

    def _set_assignees(self, issue: Issue, logins: list[str], actor: str, now: datetime) -> None:
        for login in list(issue.assignees):
            if login.lower() not in {x.lower() for x in logins}:
                issue.assignees.remove(login)
                self._event(issue, "unassigned", actor, now, assignee=login, assigner=actor)
        self._add_assignees(issue, logins, actor, now)

    def _add_assignees(self, issue: Issue, logins: list[str], actor: str, now: datetime) -> bool:
        changed = False
        for login in logins:
            if login.lower() not in self.users:
                continue  # GitHub silently drops people who cannot be assigned
            canonical = self.users[login.lower()].login
            if canonical.lower() in (a.lower() for a in issue.assignees):
                continue
            issue.assignees.append(canonical)
            self._event(issue, "assigned", actor, now, assignee=canonical, assigner=actor)
            changed = True
        return changed

    def add_labels(self, full_name: str, number: int, names: Iterable[str], actor: str = DEFAULT_LOGIN) -> Issue:
        """POST /issues/{n}/labels."""
        with self.lock:
            repo, issue, now = self.repo(full_name), self.issue(full_name, number), self.clock()
            if self._add_labels(repo, issue, list(names), actor, now):
                self._touch(repo, issue, now)
            return issue

    def set_labels(self, full_name: str, number: int, names: Iterable[str], actor: str = DEFAULT_LOGIN) -> Issue:
        """PUT /issues/{n}/labels."""
        return self.update_issue(full_name, number, actor, labels=list(names))

    def remove_label(self, full_name: str, number: int, name: str, actor: str = DEFAULT_LOGIN) -> Issue:
        """DELETE /issues/{n}/labels/{name}."""
        with self.lock:
            repo, issue, now = self.repo(full_name), self.issue(full_name, number), self.clock()
            self._remove_label(repo, issue, name, actor, now)
            self._touch(repo, issue, now)
            return issue

    def add_assignees(self, full_name: str, number: int, logins: Iterable[str], actor: str = DEFAULT_LOGIN) -> Issue:
        """POST /issues/{n}/assignees."""
        with self.lock:
            repo, issue, now = self.repo(full_name), self.issue(full_name, number), self.clock()
            if self._add_assignees(issue, list(logins), actor, now):
                self._touch(repo, issue, now)
            return issue

    def remove_assignees(self, full_name: str, number: int, logins: Iterable[str], actor: str = DEFAULT_LOGIN) -> Issue:
        """DELETE /issues/{n}/assignees."""
        with self.lock:
            repo, issue, now = self.repo(full_name), self.issue(full_name, number), self.clock()
            gone = {x.lower() for x in logins}
            keep = [a for a in issue.assignees if a.lower() not in gone]
            if keep != issue.assignees:
                self._set_assignees(issue, keep, actor, now)
                self._touch(repo, issue, now)
            return issue

    # ------------------------------------------------------------------ comments
    def add_comment(
        self, repo_full_name: str, number: int, body: str, user: str = DEFAULT_LOGIN, created_at: datetime | None = None
    ) -> Comment:
        """Comment on an issue or PR; bumps the issue's updated_at like GitHub."""
        with self.lock:
            repo = self.repo(repo_full_name)
            issue = self.issue(repo_full_name, number)
            when = created_at or self.clock()
            self.user(user)
            comment = Comment(self.next_id(), repo.id, number, user, body, when, when)
            self.comments.append(comment)
            issue.updated_at = max(issue.updated_at, when)
            repo.updated_at = max(repo.updated_at, when)
            return comment

    def find_comment(self, full_name: str, comment_id: int) -> Comment:
        """A comment of the repo by id (404 otherwise)."""
        repo = self.repo(full_name)
        for comment in self.comments:
            if comment.id == comment_id and comment.repo_id == repo.id:
                return comment
        raise SandboxError(404, "Not Found")

    def edit_comment(self, full_name: str, comment_id: int, body: str) -> Comment:
        """PATCH /issues/comments/{id}."""
        with self.lock:
            comment = self.find_comment(full_name, comment_id)
            comment.body = body
            comment.updated_at = self.clock()
            return comment

    def delete_comment(self, full_name: str, comment_id: int) -> None:
        """DELETE /issues/comments/{id}."""
        with self.lock:
            self.comments.remove(self.find_comment(full_name, comment_id))

    def comment_count(self, issue: Issue) -> int:
        """Number of issue comments on this issue or PR."""
        return sum(1 for c in self.comments if c.repo_id == issue.repo_id and c.issue_number == issue.number)

    # ------------------------------------------------------------------ pulls
    def add_pull(
        self,
        repo_full_name: str,
        title: str,
        head: str,
        base: str | None = None,
        body: str | None = None,
        user: str = DEFAULT_LOGIN,
        state: str = "open",
        draft: bool = False,
        merged: bool = False,
        mergeable: bool | None = True,
        mergeable_state: str | None = None,
        behind: bool = False,
        ci: str | None = "success",
        status: str | None = None,
        reviews: Iterable[tuple[str, str]] = (),
        labels: Iterable[str] = (),
        assignees: Iterable[str] = (),
        requested_reviewers: Iterable[str] = (),
        created_at: datetime | None = None,
        closed_at: datetime | None = None,
        merged_by: str | None = None,
        commits: int = 1,
        additions: int = 10,
        deletions: int = 2,
        changed_files: int = 1,
    ) -> Issue:
        """Create a PR with its head branch and commits, CI (check run `ci` / status), reviews and merge."""
        with self.lock:
            repo = self.repo(repo_full_name)
            base = base or repo.default_branch
            when = created_at or self.clock()
            if base not in repo.branches:
                repo.branches[base] = repo.branches[repo.default_branch]
            if head not in repo.branches:
                repo.branches[head] = repo.branches[base]
                for i in range(commits):
                    self.add_commit(repo.full_name, head, f"{title} ({i + 1})", user, when)
            if behind:  # base moves on after the branch was cut
                self.add_commit(repo.full_name, base, f"Unrelated change on {base}", DEFAULT_LOGIN, when)
            head_sha, base_sha = repo.branches[head], repo.branches[base]
            pull = Pull(
                self.next_id(),
                head,
                base,
                head_sha,
                base_sha,
                draft=draft,
                mergeable=mergeable,
                requested_reviewers=list(requested_reviewers),
                additions=additions,
                deletions=deletions,
                changed_files=changed_files,
            )
            closed = state == "closed" or merged
            issue = self.add_issue(
                repo.full_name,
                title,
                body,
                labels=labels,
                user=user,
                created_at=when,
                assignees=assignees,
                _pull=pull,
                state="closed" if closed else "open",
                closed_at=closed_at,
                closed_by=merged_by if merged else None,
            )
            for reviewer, review_state in reviews:
                self.add_review(repo.full_name, issue.number, reviewer, review_state, when=when)
            if ci:
                self.add_check_run(repo.full_name, head_sha, "ci", ci, when=when)
            if status:
                self.add_status(repo.full_name, head_sha, status, "ci/jenkins", when=when)
            if merged:
                done = closed_at or when
                merge_sha = self.add_commit(
                    repo.full_name,
                    base,
                    f"Merge pull request #{issue.number}",
                    merged_by or DEFAULT_LOGIN,
                    done,
                    parents=(repo.branches[base], head_sha),
                )
                pull.merged, pull.merged_at, pull.merged_by = True, done, merged_by or DEFAULT_LOGIN
                pull.merge_commit_sha = merge_sha
                self._event(issue, "merged", pull.merged_by, done, commit_id=merge_sha)
                self._event(issue, "closed", pull.merged_by, done, commit_id=merge_sha)
            if closed:
                pull.mergeable, pull.mergeable_state = None, "unknown"
            else:
                pull.mergeable_state = mergeable_state or self._derive_mergeable_state(issue, behind, ci, status)
            return issue

    def _derive_mergeable_state(self, issue: Issue, behind: bool, ci: str | None, status: str | None) -> str:
        """GitHub's mergeable_state from the PR's situation."""
        pull = issue.pull
        assert pull is not None
        if pull.draft:
            return "draft"
        if pull.mergeable is False:
            return "dirty"
        if behind:
            return "behind"
        if self.review_decision(issue) == "CHANGES_REQUESTED":
            return "blocked"
        if ci in ("failure", "timed_out", "cancelled", "pending") or status in ("failure", "error", "pending"):
            return "unstable"  # failing or unfinished checks that are not required
        return "clean"

    def review_decision(self, issue: Issue) -> str | None:
        """APPROVED / CHANGES_REQUESTED from each reviewer's latest review."""
        latest: dict[str, str] = {}
        for review in self.reviews:
            if review.repo_id == issue.repo_id and review.number == issue.number and review.state != "COMMENTED":
                latest[review.user.lower()] = review.state
        if "CHANGES_REQUESTED" in latest.values():
            return "CHANGES_REQUESTED"
        if "APPROVED" in latest.values():
            return "APPROVED"
        return None

    def _pull_head_sha(self, issue: Issue) -> str:
        """The PR's head sha: the branch tip while open, frozen once closed."""
        assert issue.pull is not None
        repo = self.repos[issue.repo_id]
        if issue.state == "open" and issue.pull.head_ref in repo.branches:
            return repo.branches[issue.pull.head_ref]
        return issue.pull.head_sha

    def pull_shas(self, issue: Issue) -> tuple[str, str]:
        """(head sha, base sha) as the PR answers them now."""
        assert issue.pull is not None
        repo = self.repos[issue.repo_id]
        base = (
            repo.branches.get(issue.pull.base_ref, issue.pull.base_sha)
            if issue.state == "open"
            else issue.pull.base_sha
        )
        return self._pull_head_sha(issue), base

    def create_pull(
        self, full_name: str, actor: str, title: str, head: str, base: str, body: str | None = None, draft: bool = False
    ) -> Issue:
        """POST /pulls with GitHub's validation (422 for missing branches, duplicates, no commits)."""
        with self.lock:
            repo = self.repo(full_name)
            head_branch = head.split(":", 1)[1] if ":" in head else head
            errors = []
            if base not in repo.branches:
                errors.append({"resource": "PullRequest", "field": "base", "code": "invalid"})
            if head_branch not in repo.branches:
                errors.append({"resource": "PullRequest", "field": "head", "code": "invalid"})
            if errors:
                raise SandboxError(
                    422,
                    "Validation Failed",
                    errors,
                    documentation_url="https://docs.github.com/rest/pulls/pulls#create-a-pull-request",
                )
            for other in self._repo_issues(repo):
                if (
                    other.pull
                    and other.state == "open"
                    and other.pull.head_ref == head_branch
                    and other.pull.base_ref == base
                ):
                    raise SandboxError(
                        422,
                        "Validation Failed",
                        [
                            {
                                "resource": "PullRequest",
                                "code": "custom",
                                "message": f"A pull request already exists for {repo.owner}:{head_branch}.",
                            }
                        ],
                    )
            ahead, _, _ = self.compare(repo, repo.branches[base], repo.branches[head_branch])
            if ahead == 0:
                raise SandboxError(
                    422,
                    "Validation Failed",
                    [
                        {
                            "resource": "PullRequest",
                            "code": "custom",
                            "message": f"No commits between {base} and {head_branch}",
                        }
                    ],
                )
            now = self.clock()
            pull = Pull(
                self.next_id(),
                head_branch,
                base,
                repo.branches[head_branch],
                repo.branches[base],
                draft=draft,
                mergeable=True,
                mergeable_known=False,
                changed_files=ahead,
            )
            issue = self.add_issue(repo.full_name, title, body, user=actor, created_at=now, _pull=pull)
            pull.mergeable_state = "draft" if draft else "clean"
            return issue

    def update_pull(self, full_name: str, number: int, actor: str, **changes: object) -> Issue:
        """PATCH /pulls/{n}: title, body, state, base, draft-less fields."""
        with self.lock:
            issue = self._pull(full_name, number)
            assert issue.pull is not None
            if changes.get("base") and changes["base"] != issue.pull.base_ref:
                repo = self.repo(full_name)
                if changes["base"] not in repo.branches:
                    raise SandboxError(
                        422, "Validation Failed", [{"resource": "PullRequest", "field": "base", "code": "invalid"}]
                    )
                self._event(issue, "base_ref_changed", actor, self.clock())
                issue.pull.base_ref = str(changes["base"])
                self._touch(repo, issue, self.clock())
            if "maintainer_can_modify" in changes and changes["maintainer_can_modify"] is not None:
                issue.pull.maintainer_can_modify = bool(changes["maintainer_can_modify"])
            fields = {k: changes[k] for k in ("title", "body", "state") if k in changes}
            return self.update_issue(full_name, number, actor, **fields)

    def _pull(self, full_name: str, number: int) -> Issue:
        issue = self.issue(full_name, number)
        if not issue.is_pull:
            raise SandboxError(404, "Not Found")
        return issue

    def merge_pull(
        self, full_name: str, number: int, actor: str, sha: str | None = None, commit_title: str | None = None
    ) -> str:
        """PUT /pulls/{n}/merge: merge, close, and close the issues its body says it fixes."""
        with self.lock:
            repo = self.repo(full_name)
            issue = self._pull(full_name, number)
            pull = issue.pull
            assert pull is not None
            if issue.state != "open" or pull.merged:
                raise SandboxError(405, "Pull Request is not mergeable")
            if pull.draft or pull.mergeable is False:
                raise SandboxError(405, "Pull Request is not mergeable")
            head_sha, _ = self.pull_shas(issue)
            if sha and sha != head_sha:
                raise SandboxError(409, "Head branch was modified. Review and try the merge again.")
            now = self.clock()
            merge_sha = self.add_commit(
                repo.full_name,
                pull.base_ref,
                commit_title or f"Merge pull request #{number} from {pull.head_ref}",
                actor,
                now,
                parents=(repo.branches[pull.base_ref], head_sha),
            )
            pull.head_sha, pull.base_sha = head_sha, repo.branches[pull.base_ref]
            pull.merged, pull.merged_at, pull.merged_by, pull.merge_commit_sha = True, now, actor, merge_sha
            self._event(issue, "merged", actor, now, commit_id=merge_sha)
            issue.state, issue.closed_at, issue.closed_by = "closed", now, actor
            self._event(issue, "closed", actor, now, commit_id=merge_sha)
            pull.mergeable, pull.mergeable_state = None, "unknown"
            self._touch(repo, issue, now)
            if pull.base_ref == repo.default_branch:
                for ref in CLOSING_RE.findall(f"{issue.title}\n{issue.body or ''}"):
                    target = self.issues.get((repo.id, int(ref)))
                    if target and not target.is_pull and target.state == "open":
                        target.state, target.closed_at, target.closed_by = "closed", now, actor
                        target.state_reason = "completed"
                        self._event(target, "closed", actor, now, commit_id=merge_sha, state_reason="completed")
                        self._touch(repo, target, now)
            return merge_sha

    def update_pull_branch(self, full_name: str, number: int, actor: str) -> None:
        """PUT /pulls/{n}/update-branch: merge the base into the head branch."""
        with self.lock:
            repo = self.repo(full_name)
            issue = self._pull(full_name, number)
            pull = issue.pull
            assert pull is not None
            if pull.mergeable is False:
                raise SandboxError(422, "merge conflict between base and head")
            head_sha, base_sha = self.pull_shas(issue)
            if base_sha in self.ancestors(repo, head_sha):
                raise SandboxError(422, "There are no new commits on the base branch.")
            self.add_commit(
                repo.full_name,
                pull.head_ref,
                f"Merge branch '{pull.base_ref}' into {pull.head_ref}",
                actor,
                parents=(head_sha, base_sha),
            )
            if pull.mergeable_state == "behind":
                pull.mergeable_state = "clean"
            self._touch(repo, issue, self.clock())

    def add_review(
        self, full_name: str, number: int, user: str, state: str, body: str = "", when: datetime | None = None
    ) -> Review:
        """A review on a PR (state APPROVED, CHANGES_REQUESTED or COMMENTED)."""
        with self.lock:
            repo = self.repo(full_name)
            issue = self._pull(full_name, number)
            self.user(user)
            head_sha, _ = self.pull_shas(issue)
            review = Review(
                self.next_id(),
                repo.id,
                number,
                user,
                state.upper(),
                body or ("Please fix the failing cases." if state.upper() == "CHANGES_REQUESTED" else ""),
                when or self.clock(),
                head_sha,
            )
            self.reviews.append(review)
            return review

    # ------------------------------------------------------------------ CI
    def add_check_run(
        self, full_name: str, sha: str, name: str, conclusion: str | None, when: datetime | None = None
    ) -> CheckRun:
        """A check run on a commit; conclusion None or 'pending' means still in progress."""
        with self.lock:
            repo = self.repo(full_name)
            when = when or self.clock()
            done = conclusion not in (None, "pending", "in_progress", "queued")
            run = CheckRun(
                self.next_id(),
                repo.id,
                sha,
                name,
                "completed" if done else "in_progress",
                conclusion if done else None,
                when,
                when + timedelta(minutes=4) if done else None,
            )
            self.check_runs.append(run)
            return run

    def add_status(
        self,
        full_name: str,
        sha: str,
        state: str,
        context: str = "default",
        description: str | None = None,
        target_url: str | None = None,
        creator: str = DEFAULT_LOGIN,
        when: datetime | None = None,
    ) -> Status:
        """A commit status (error, failure, pending, success)."""
        with self.lock:
            repo = self.repo(full_name)
            if state not in ("error", "failure", "pending", "success"):
                raise SandboxError(
                    422,
                    "Validation Failed",
                    [
                        {
                            "resource": "Status",
                            "field": "state",
                            "code": "custom",
                            "message": "state is not included in the list",
                        }
                    ],
                )
            when = when or self.clock()
            self.user(creator)
            status = Status(
                self.next_id(),
                repo.id,
                sha,
                state,
                context,
                description or f"The build {'passed' if state == 'success' else state}",
                target_url,
                creator,
                when,
                when,
            )
            self.statuses.append(status)
            return status

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
        """Logged mutating requests (everything but GET/HEAD/OPTIONS)."""
        with self.lock:
            return [r for r in self.request_log if r["method"] not in ("GET", "HEAD", "OPTIONS")]
