"""GraphQL objects over the sandbox state: the same issues, PRs, reviews, CI and links REST serves.

graphql-core's default resolver reads an attribute of the object, calling it with `(info, **args)`
when it is a method, so each GraphQL type here is a small class whose attributes are its fields.
Abstract types (`Node`, `Actor`, `StatusCheckRollupContext`) resolve by each object's `typename`.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from graphql import GraphQLError

from sandbox.models import Issue, Repo, ReviewThread, node_id
from sandbox.state import SandboxState

STATE_KEY = "sandbox_state"


class NotFound(GraphQLError):
    """GitHub's NOT_FOUND error (its `type` goes at the top of the error)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, extensions={"type": "NOT_FOUND"})


def ts(value: datetime | None) -> str | None:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ") if value else None


def decode_id(global_id: str) -> tuple[str, int] | None:
    """(type name, id) of a legacy global node id, None when it is not one."""
    try:
        text = base64.b64decode(global_id, validate=True).decode()
        length, _, rest = text[1:].partition(":")
        return rest[: int(length)], int(rest[int(length) :])
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return None


def _cursor(index: int) -> str:
    return base64.b64encode(f"cursor:v2:{index}".encode()).decode()


def _index(cursor: str | None) -> int | None:
    if cursor is None:
        return None
    try:
        return int(base64.b64decode(cursor).decode().rsplit(":", 1)[1])
    except (ValueError, IndexError, binascii.Error, UnicodeDecodeError):
        raise GraphQLError(f"`{cursor}` does not appear to be a valid cursor.") from None


def connection(
    items: Sequence[Any], wrap: Callable[[Any], Any], first=None, last=None, after=None, before=None
) -> dict:
    """A Relay connection over `items` (GitHub's cursor rules: after/before, then first, then last)."""
    start, end = 0, len(items)
    if (a := _index(after)) is not None:
        start = max(start, a + 1)
    if (b := _index(before)) is not None:
        end = min(end, b)
    window = list(range(start, max(start, end)))
    if first is not None:
        window = window[:first]
    if last is not None:
        window = window[-last:] if last else []
    edges = [{"cursor": _cursor(i), "node": wrap(items[i])} for i in window]
    return {
        "totalCount": len(items),
        "edges": edges,
        "nodes": [e["node"] for e in edges],
        "pageInfo": {
            "startCursor": edges[0]["cursor"] if edges else None,
            "endCursor": edges[-1]["cursor"] if edges else None,
            "hasNextPage": bool(window) and window[-1] < end - 1 or (not window and start < end and first == 0),
            "hasPreviousPage": bool(window) and window[0] > start,
        },
    }


class Obj:
    typename = "Node"

    def __init__(self, state: SandboxState) -> None:
        self.store = state  # not `state`: several GitHub types have a field of that name


class Actor(Obj):
    def __init__(self, state: SandboxState, login: str) -> None:
        super().__init__(state)
        user = state.user(login)
        self.typename = "Bot" if user.type == "Bot" else "Organization" if user.type == "Organization" else "User"
        self.login, self.databaseId = user.login.removesuffix("[bot]") if user.type == "Bot" else user.login, user.id
        self.id = node_id(self.typename, user.id)


def actor(state: SandboxState, login: str | None) -> Actor | None:
    return Actor(state, login) if login else None


class Repository(Obj):
    typename = "Repository"

    def __init__(self, state: SandboxState, repo: Repo) -> None:
        super().__init__(state)
        self.repo = repo
        self.id, self.databaseId, self.name = node_id("Repository", repo.id), repo.id, repo.name
        self.nameWithOwner = repo.full_name
        self.owner = Actor(state, repo.owner)

    def _items(self, pulls: bool, states: list[str] | None, order: dict | None, labels: list[str] | None) -> list:
        items = [i for i in self.store.repo_issues(self.repo.full_name) if i.is_pull == pulls and not i.deleted]
        if states:
            items = [i for i in items if _gql_state(i) in states]
        if labels:
            items = [i for i in items if {n.lower() for n in i.labels} & {n.lower() for n in labels}]
        if order:
            key = {
                "CREATED_AT": lambda i: i.created_at,
                "UPDATED_AT": lambda i: i.updated_at,
                "COMMENTS": self.store.comment_count,
            }[order["field"]]
            items.sort(key=lambda i: (key(i), i.number), reverse=order["direction"] == "DESC")
        return items

    def pullRequests(self, info, states=None, orderBy=None, labels=None, baseRefName=None, headRefName=None, **page):
        items = self._items(True, states, orderBy, labels)
        items = [
            i
            for i in items
            if (baseRefName is None or i.pull.base_ref == baseRefName)
            and (headRefName is None or i.pull.head_ref == headRefName)
        ]
        return connection(items, lambda i: PullRequest(self.store, i), **page)

    def issues(self, info, states=None, orderBy=None, labels=None, **page):
        items = self._items(False, states, orderBy, labels)
        return connection(items, lambda i: IssueNode(self.store, i), **page)

    def _number(self, number: int, pulls: bool) -> Any:
        issue = self.store.issues.get((self.repo.id, number))
        if issue is None or issue.deleted or (pulls and not issue.is_pull):
            kind = "PullRequest" if pulls else "Issue"
            raise NotFound(f"Could not resolve to {'a' if pulls else 'an'} {kind} with the number of {number}.")
        return PullRequest(self.store, issue) if issue.is_pull else IssueNode(self.store, issue)

    def issue(self, info, number: int):
        found = self._number(number, False)
        if isinstance(found, PullRequest):
            raise NotFound(f"Could not resolve to an Issue with the number of {number}.")
        return found

    def pullRequest(self, info, number: int):
        return self._number(number, True)


def _gql_state(issue: Issue) -> str:
    if issue.pull and issue.pull.merged:
        return "MERGED"
    return issue.state.upper()


class _IssueLike(Obj):
    def __init__(self, state: SandboxState, issue: Issue, kind: str, ident: int) -> None:
        super().__init__(state)
        self.issue = issue
        self.id, self.databaseId, self.number, self.title = node_id(kind, ident), issue.id, issue.number, issue.title
        self.state = _gql_state(issue)
        repo = state.repos[issue.repo_id]
        self.url = f"https://github.com/{repo.full_name}/{'pull' if issue.is_pull else 'issues'}/{issue.number}"
        self.createdAt, self.updatedAt, self.closedAt = ts(issue.created_at), ts(issue.updated_at), ts(issue.closed_at)
        self.author = actor(state, issue.user)

    def repository(self, info):
        return Repository(self.store, self.store.repos[self.issue.repo_id])


class IssueNode(_IssueLike):
    typename = "Issue"

    def __init__(self, state: SandboxState, issue: Issue) -> None:
        super().__init__(state, issue, "Issue", issue.id)
        self.storeReason = issue.state_reason.upper() if issue.state_reason else None

    def subIssues(self, info, **page):
        return connection(self.store.sub_issues_of(self.issue), lambda i: IssueNode(self.store, i), **page)

    def parent(self, info):
        found = self.store.parent_of(self.issue)
        return IssueNode(self.store, found) if found else None

    def subIssuesSummary(self, info):
        summary = self.store.sub_issues_summary(self.issue)
        return {
            "total": summary["total"],
            "completed": summary["completed"],
            "percentCompleted": summary["percent_completed"],
        }


class PullRequest(_IssueLike):
    typename = "PullRequest"

    def __init__(self, state: SandboxState, issue: Issue) -> None:
        assert issue.pull is not None
        super().__init__(state, issue, "PullRequest", issue.pull.id)
        pull = issue.pull
        head, base = state.pull_shas(issue)
        self.headRefName, self.headRefOid, self.baseRefName, self.baseRefOid = pull.head_ref, head, pull.base_ref, base
        self.isDraft, self.mergedAt = pull.draft, ts(pull.merged_at)
        self.additions, self.deletions, self.changedFiles = pull.additions, pull.deletions, pull.changed_files
        self.reviewDecision = state.review_decision(issue) if issue.state == "open" else None
        known = pull.mergeable_known and issue.state == "open"
        self.mergeable = (
            "UNKNOWN" if not known or pull.mergeable is None else ("MERGEABLE" if pull.mergeable else "CONFLICTING")
        )
        self.mergeStateStatus = pull.mergeable_state.upper() if known else "UNKNOWN"
        pull.mergeable_known = True  # computed from now on, as GitHub does after the first ask

    def _reviews(self) -> list:
        return [v for v in self.store.reviews if v.repo_id == self.issue.repo_id and v.number == self.issue.number]

    def reviews(self, info, states=None, author=None, **page):
        items = [
            v
            for v in self._reviews()
            if (not states or v.state in states) and (author is None or v.user.lower() == author.lower())
        ]
        return connection(items, lambda v: Review(self.store, v), **page)

    def latestReviews(self, info, **page):
        latest: dict[str, Any] = {}
        for review in sorted(self._reviews(), key=lambda v: (v.submitted_at, v.id)):
            if review.state != "PENDING":
                latest[review.user.lower()] = review
        return connection(list(latest.values()), lambda v: Review(self.store, v), **page)

    def reviewThreads(self, info, **page):
        return connection(self.store.threads_of(self.issue), lambda t: Thread(self.store, t), **page)

    def commits(self, info, **page):
        repo = self.store.repos[self.issue.repo_id]
        head, base = self.store.pull_shas(self.issue)
        _, _, commits = self.store.compare(repo, base, head)
        return connection(commits or [repo.commits[head]], lambda c: PullCommit(self.store, repo, c), **page)


class Review(Obj):
    typename = "PullRequestReview"

    def __init__(self, state: SandboxState, review: Any) -> None:
        super().__init__(state)
        self.id, self.databaseId = node_id("PullRequestReview", review.id), review.id
        self.author, self.state, self.body = actor(state, review.user), review.state, review.body
        self.submittedAt = ts(review.submitted_at)
        repo = state.repos[review.repo_id]
        self.commit = Commit(state, repo, review.commit_id)


class Thread(Obj):
    typename = "PullRequestReviewThread"

    def __init__(self, state: SandboxState, thread: ReviewThread) -> None:
        super().__init__(state)
        self.thread = thread
        self.id = node_id("PullRequestReviewThread", thread.id)
        self.isResolved, self.isOutdated = thread.is_resolved, state.thread_is_outdated(thread)
        self.path, self.resolvedBy, self.viewerCanResolve = thread.path, actor(state, thread.resolved_by), True

    def comments(self, info, **page):
        outdated = self.isOutdated
        return connection(
            self.store.thread_comments(self.thread), lambda c: ReviewComment(self.store, c, outdated), **page
        )

    def pullRequest(self, info):
        return PullRequest(self.store, self.store.issues[(self.thread.repo_id, self.thread.number)])

    def repository(self, info):
        return Repository(self.store, self.store.repos[self.thread.repo_id])


class ReviewComment(Obj):
    typename = "PullRequestReviewComment"

    def __init__(self, state: SandboxState, comment: Any, outdated: bool) -> None:
        super().__init__(state)
        self.comment = comment
        self.id, self.databaseId = node_id("PullRequestReviewComment", comment.id), comment.id
        self.author, self.body, self.path = actor(state, comment.user), comment.body, comment.path
        self.createdAt, self.outdated = ts(comment.created_at), outdated

    def pullRequest(self, info):
        return PullRequest(self.store, self.store.issues[(self.comment.repo_id, self.comment.number)])


class PullCommit(Obj):
    typename = "PullRequestCommit"

    def __init__(self, state: SandboxState, repo: Repo, commit: Any) -> None:
        super().__init__(state)
        self.id = node_id("PullRequestCommit", int(commit.sha[:8], 16))
        self.commit = Commit(state, repo, commit.sha)


class Commit(Obj):
    typename = "Commit"

    def __init__(self, state: SandboxState, repo: Repo, sha: str) -> None:
        super().__init__(state)
        self.repo, self.oid, self.id = repo, sha, node_id("Commit", int(sha[:8], 16))

    def statusCheckRollup(self, info):
        runs = [r for r in self.store.check_runs if r.repo_id == self.repo.id and r.head_sha == self.oid]
        latest: dict[str, Any] = {}
        for status in self.store.statuses:
            if status.repo_id == self.repo.id and status.sha == self.oid:
                latest[status.context] = status
        contexts = [CheckRunNode(self.store, r) for r in runs] + [StatusNode(self.store, s) for s in latest.values()]
        return Rollup(self.store, self.oid, contexts) if contexts else None


ROLLUP_ORDER = ("ERROR", "FAILURE", "PENDING", "EXPECTED", "SUCCESS")


class Rollup(Obj):
    typename = "StatusCheckRollup"

    def __init__(self, state: SandboxState, sha: str, contexts: list) -> None:
        super().__init__(state)
        self.id, self.contexts_ = node_id("StatusCheckRollup", int(sha[:8], 16)), contexts
        states = {c.rollup for c in contexts}
        self.state = next(s for s in ROLLUP_ORDER if s in states or s == "SUCCESS")

    def contexts(self, info, **page):
        return connection(self.contexts_, lambda c: c, **page)


class CheckRunNode(Obj):
    typename = "CheckRun"

    def __init__(self, state: SandboxState, run: Any) -> None:
        super().__init__(state)
        self.id, self.databaseId, self.name = node_id("CheckRun", run.id), run.id, run.name
        self.status = run.status.upper()
        self.conclusion = run.conclusion.upper() if run.conclusion else None
        bad = ("FAILURE", "TIMED_OUT", "CANCELLED", "ACTION_REQUIRED", "STARTUP_FAILURE")
        self.rollup = "PENDING" if self.conclusion is None else "FAILURE" if self.conclusion in bad else "SUCCESS"


class StatusNode(Obj):
    typename = "StatusContext"

    def __init__(self, state: SandboxState, status: Any) -> None:
        super().__init__(state)
        self.id, self.context = node_id("StatusContext", status.id), status.context
        self.description = status.description
        self.state = self.rollup = status.state.upper()
